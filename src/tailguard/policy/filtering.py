"""What ``filter`` drops: synthetic near-duplicates and off-support samples.

Both tests compare an item's features with a human reference:

* **off-support** — the item lies inside no reference point's k-NN ball (the
  PRDC precision manifold, Naeem et al. 2020, ``nearest_k = k``). Only the
  ``max(10k, 50)`` nearest reference points are checked, which agrees with the
  exhaustive test except for items whose only covering ball belongs to a far
  outlier (the tests hold it to ``prdc``'s precision within 0.01).
* **near-duplicate** — another kept item that comes first (human items first,
  then pool order) lies within ``r_dup``: the ``duplicate_quantile`` quantile of
  the nearest-neighbour distances between distinct reference points, rescaled
  to the number of items compared (see :func:`duplicate_radius`); 0 makes it
  exact duplicates only.

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

from tailguard.policy.neighbors import knn_radii, nearest

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
    """True where an item lies inside some reference point's k-NN ball.

    Two passes: the ``k`` nearest reference points settle most items; the rest are
    checked against their ``max(10k, 50)`` nearest.
    """
    radii = knn_radii(reference, k)
    dist, idx = nearest(reference, features, k)
    inside = np.any(dist <= radii[idx], axis=1)
    rest = np.flatnonzero(~inside)
    if rest.size and reference.shape[0] > k:
        dist, idx = nearest(reference, features[rest], max(10 * k, 50))
        inside[rest] = np.any(dist <= radii[idx], axis=1)
    return inside


def intrinsic_dimension(points: np.ndarray, k: int = 10) -> float:
    """Levina-Bickel maximum-likelihood intrinsic dimension (MacKay-Ghahramani average), at least 1.

    >>> rng = np.random.default_rng(0)
    >>> round(intrinsic_dimension(rng.normal(size=(2000, 3))))
    3
    """
    n = points.shape[0]
    k = min(k, n - 1)
    if k < 2:
        return 1.0
    dist, _ = nearest(points, points, k + 1)
    dist = dist[:, 1:]
    ok = dist[:, 0] > 0
    if not ok.any():
        return 1.0
    logs = np.log(dist[ok, -1:] / dist[ok, :-1]).sum(axis=1) / (k - 1)
    mean = float(np.mean(logs))
    return max(1.0, 1.0 / mean) if mean > 0 else 1.0


def duplicate_radius(reference: np.ndarray, quantile: float, n_compare: int | None = None) -> float:
    """The distance below which about ``quantile`` of genuine samples would find a neighbour.

    It is the ``quantile`` quantile of the nearest-neighbour distances between
    distinct reference points, rescaled to a set of ``n_compare`` points by
    ``(n_reference / n_compare) ** (1 / d)`` with ``d`` the reference's intrinsic
    dimension: nearest-neighbour distances shrink that way as a sample grows, so
    an accumulated pool 100 times the reference's size is not read as duplicates.
    Exact copies inside the reference are collapsed first.
    """
    distinct = np.unique(reference, axis=0)
    if distinct.shape[0] < 2:
        return 0.0
    base = float(np.quantile(knn_radii(distinct, 1), quantile))
    if n_compare is None or n_compare < 2:
        return base
    return base * (distinct.shape[0] / n_compare) ** (1.0 / intrinsic_dimension(distinct))


def duplicate_mask(features: np.ndarray, rank: np.ndarray, candidate: np.ndarray, radius: float) -> np.ndarray:
    """True for ``candidate`` items with an item of lower ``rank`` within ``radius``."""
    out = np.zeros(features.shape[0], dtype=bool)
    rows = np.flatnonzero(candidate)
    if rows.size == 0:
        return out
    dist, idx = nearest(features, features[rows], min(DUPLICATE_NEIGHBOURS, features.shape[0]))
    own = rows[:, None]
    earlier = (idx != own) & (rank[idx] < rank[own]) & (dist <= radius)
    out[rows] = earlier.any(axis=1)
    return out


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
    keep = ~off
    radius = duplicate_radius(reference, duplicate_quantile, int(keep.sum()))
    dup = np.zeros(n, dtype=bool)
    if keep.sum() > 1:
        kept = np.flatnonzero(keep)
        # rank: human items first, then pool order
        rank = np.argsort(np.lexsort((kept, ~is_human[kept])), kind="stable")
        dup[kept] = duplicate_mask(features[kept], rank, synthetic[kept], radius)
    return FilterOutcome(off_support=off, duplicate=dup, duplicate_radius=radius, k=k)
