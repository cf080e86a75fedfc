"""What ``filter`` drops: synthetic near-duplicates and off-support samples.

Both tests compare an item's features with a human reference:

* **off-support** — the item lies inside no reference point's k-NN ball (the
  PRDC precision manifold, Naeem et al. 2020, ``nearest_k = k``). Only the
  ``max(10k, 50)`` nearest reference points are checked, which agrees with the
  exhaustive test except for items whose only covering ball belongs to a far
  outlier (the tests hold it to ``prdc``'s precision within 0.01).
* **near-duplicate** — another kept item that comes first (human items first,
  then pool order) lies within ``r_dup``, the ``duplicate_quantile`` quantile of
  the nearest-neighbour distances between distinct reference points (0 makes it
  exact duplicates only).

Human items are never dropped.

>>> import numpy as np
>>> ref = np.random.default_rng(0).normal(size=(200, 2))
>>> feats = np.array([[0.0, 0.0], [0.0, 0.0], [9.0, 9.0]])
>>> out = filter_masks(feats, np.array([False, False, False]), ref, k=5, duplicate_quantile=0.01)
>>> out.duplicate.tolist(), out.off_support.tolist()
([False, True, False], [False, False, True])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tailguard.policy.neighbors import knn_radii, nearest, self_neighbors

#: How many nearest items are checked for a duplicate that comes first.
DUPLICATE_NEIGHBOURS = 8


@dataclass(frozen=True)
class FilterOutcome:
    """Masks over the items given to :func:`filter_masks`, and the thresholds used."""

    off_support: np.ndarray
    duplicate: np.ndarray
    duplicate_radius: float
    k: int


def support_mask(features: np.ndarray, reference: np.ndarray, k: int) -> np.ndarray:
    """True where an item lies inside some reference point's k-NN ball."""
    radii = knn_radii(reference, k)
    dist, idx = nearest(reference, features, max(10 * k, 50))
    return np.any(dist <= radii[idx], axis=1)


def duplicate_radius(reference: np.ndarray, quantile: float) -> float:
    """The ``quantile`` quantile of the nearest-neighbour distances between distinct reference points.

    Exact copies inside the reference are collapsed first, so they cannot pull the radius to 0.
    """
    distinct = np.unique(reference, axis=0)
    if distinct.shape[0] < 2:
        return 0.0
    return float(np.quantile(knn_radii(distinct, 1), quantile))


def duplicate_mask(features: np.ndarray, rank: np.ndarray, candidate: np.ndarray, radius: float) -> np.ndarray:
    """True for ``candidate`` items with an item of lower ``rank`` within ``radius``."""
    k = min(DUPLICATE_NEIGHBOURS, features.shape[0])
    dist, idx = self_neighbors(features, k)
    own = np.arange(features.shape[0])[:, None]
    earlier = (idx != own) & (rank[idx] < rank[own]) & (dist <= radius)
    return candidate & earlier.any(axis=1)


def filter_masks(
    features: np.ndarray, is_human: np.ndarray, reference: np.ndarray, *, k: int, duplicate_quantile: float
) -> FilterOutcome:
    """Decide, for each item, whether ``filter`` drops it as off-support or as a near-duplicate.

    ``is_human`` items are never dropped, but they count as the first copy of a
    duplicate. Near-duplicates are looked for among the items that are on support.
    """
    n = features.shape[0]
    synthetic = ~is_human
    off = np.zeros(n, dtype=bool)
    if synthetic.any():
        off[synthetic] = ~support_mask(features[synthetic], reference, k)
    radius = duplicate_radius(reference, duplicate_quantile)
    dup = np.zeros(n, dtype=bool)
    keep = ~off
    if keep.sum() > 1:
        kept = np.flatnonzero(keep)
        # rank: human items first, then pool order
        rank = np.argsort(np.lexsort((kept, ~is_human[kept])), kind="stable")
        dup[kept] = duplicate_mask(features[kept], rank, synthetic[kept], radius)
    return FilterOutcome(off_support=off, duplicate=dup, duplicate_radius=radius, k=k)
