"""What ``filter`` drops by features: synthetic near-duplicates and off-support samples.

Both tests compare an item's features with a human reference:

* **off-support** — the item lies inside no reference point's k-NN ball (the
  PRDC precision manifold, Naeem et al. 2020, ``nearest_k = k``). With the exact
  search, the ``k`` nearest reference points settle most items and the rest are
  checked against their ``max(10k, 50)`` nearest, which agrees with the
  exhaustive test except for items whose only covering ball belongs to a far
  outlier (the tests hold it to ``prdc``'s precision within 0.01). With the
  approximate search (faiss, :mod:`tailguard.policy.neighbors`) every item is
  checked against the ``max(10k, 50)`` nearest it finds.
* **near-duplicate** — another kept item that comes first (human items first,
  then pool order) is an exact copy of it, or lies within ``r_dup``: the
  ``duplicate_quantile`` quantile of the nearest-neighbour distances between
  distinct reference points, rescaled to the number of items compared (see
  :func:`duplicate_radius`); 0 makes it exact duplicates only.

Human items are never dropped. Text items are first checked for degenerate
output (:mod:`tailguard.policy.degenerate`) by the composer.

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

from tailguard.policy.neighbors import NeighborIndex, knn_radii, nearest

#: How many nearest items are checked for a duplicate that comes first.
DUPLICATE_NEIGHBOURS = 8
#: Lists the approximate search probes for near-duplicates (they lie within a tiny radius).
DUPLICATE_NPROBE = 2
#: Rows the approximate search finds off support are searched again with this many times the probed lists.
RECHECK_PROBES = 4
#: Synthetic rows checked for support at a time.
SUPPORT_BLOCK = 65_536
#: The intrinsic dimension is estimated on at most this many distinct reference points (seeded).
DIMENSION_SAMPLE = 5000


@dataclass(frozen=True)
class FilterOutcome:
    """Masks over the items given to :func:`filter_masks`, and the thresholds used."""

    off_support: np.ndarray
    duplicate: np.ndarray
    duplicate_radius: float
    k: int
    method: str = "exact"


def support_mask(
    features: np.ndarray, reference: np.ndarray, k: int, *, index: NeighborIndex | None = None
) -> np.ndarray:
    """True where an item lies inside some reference point's k-NN ball.

    ``index`` is a :class:`NeighborIndex` over ``reference`` (built when not given).
    Exact search: two passes, the ``k`` nearest reference points settle most
    items and the rest are checked against their ``max(10k, 50)`` nearest.
    Approximate search: one pass over the ``max(10k, 50)`` nearest found.
    """
    index = index if index is not None else NeighborIndex(reference)
    radii = knn_radii(reference, k, index=index)
    wide = max(10 * k, 50)
    if index.approximate:
        dist, idx = index.search(features, wide)
        inside = np.any(dist <= radii[np.maximum(idx, 0)], axis=1)
        rest = np.flatnonzero(~inside)  # a miss is mostly a covering ball in a list not probed: look wider
        if rest.size:
            dist, idx = index.search(features[rest], wide, nprobe=RECHECK_PROBES * index.nprobe)
            inside[rest] = np.any(dist <= radii[np.maximum(idx, 0)], axis=1)
        return inside
    dist, idx = index.search(features, k)
    inside = np.any(dist <= radii[idx], axis=1)
    rest = np.flatnonzero(~inside)
    if rest.size and reference.shape[0] > k:
        dist, idx = index.search(features[rest], wide)
        inside[rest] = np.any(dist <= radii[np.maximum(idx, 0)], axis=1)
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


def _row_groups(features: np.ndarray) -> np.ndarray:
    """Group id per row: equal ids for identical rows (a seeded 64-bit hash of the row's bytes)."""
    n = features.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    width = features.dtype.itemsize * features.shape[1]
    words = width // 8 if width % 8 == 0 else None
    weights = np.random.default_rng(0x5EED).integers(1, 2**63, size=(words or width), dtype=np.uint64) | np.uint64(1)
    keys = np.empty(n, dtype=np.uint64)
    step = 16_384
    with np.errstate(over="ignore"):
        for lo in range(0, n, step):
            block = np.ascontiguousarray(features[lo : lo + step])
            raw = block.view(np.uint64 if words else np.uint8).reshape(block.shape[0], -1).astype(np.uint64)
            h = raw * weights
            h ^= h >> np.uint64(29)
            keys[lo : lo + block.shape[0]] = h.sum(axis=1, dtype=np.uint64)
    _, inverse = np.unique(keys, return_inverse=True)
    return inverse.reshape(-1).astype(np.int64)


def _nearest_distinct(index: NeighborIndex, groups: np.ndarray, k: int) -> np.ndarray:
    """Per distinct reference row (its first copy): the distance to its nearest other distinct row,
    from the cached self search (NaN for a row whose copies fill all ``k`` neighbours found; copies are
    told by value, since a search may put them a round-off apart)."""
    dist, idx = index.self_search(max(k, 2))
    other = (idx >= 0) & (groups[np.maximum(idx, 0)] != groups[:, None])  # copies are not neighbours
    positive = np.where(other, dist, np.inf).min(axis=1)
    _, first = np.unique(groups, return_index=True)
    out = positive[first]
    return np.where(np.isfinite(out), out, np.nan)


def duplicate_radius(
    reference: np.ndarray,
    quantile: float,
    n_compare: int | None = None,
    *,
    index: NeighborIndex | None = None,
    k: int = 1,
    seed: int = 0,
) -> float:
    """The distance below which about ``quantile`` of genuine samples would find a neighbour.

    It is the ``quantile`` quantile of the nearest-neighbour distances between
    distinct reference points, rescaled to a set of ``n_compare`` points by
    ``(n_reference / n_compare) ** (1 / d)`` with ``d`` the reference's intrinsic
    dimension (estimated on at most :data:`DIMENSION_SAMPLE` distinct points):
    nearest-neighbour distances shrink that way as a sample grows, so an
    accumulated pool 100 times the reference's size is not read as duplicates.
    Exact copies inside the reference count once. ``index`` (over ``reference``)
    shares its self search, of ``max(k + 1, 2)`` neighbours, with the k-NN radii.
    """
    groups = _row_groups(reference)
    n_distinct = int(groups.max()) + 1 if groups.size else 0
    if n_distinct < 2:
        return 0.0
    index = index if index is not None else NeighborIndex(reference)
    nn = _nearest_distinct(index, groups, k + 1)
    nn = nn[np.isfinite(nn)]
    if nn.size == 0:
        return 0.0
    base = float(np.quantile(nn, quantile))
    if n_compare is None or n_compare < 2:
        return base
    _, first = np.unique(groups, return_index=True)
    if first.size > DIMENSION_SAMPLE:
        first = np.sort(np.random.default_rng([seed, 0xD1]).choice(first, DIMENSION_SAMPLE, replace=False))
    dim = intrinsic_dimension(reference[first])
    return base * (n_distinct / n_compare) ** (1.0 / dim)


def duplicate_mask(
    features: np.ndarray,
    rank: np.ndarray,
    candidate: np.ndarray,
    radius: float,
    *,
    method: str = "auto",
    like: NeighborIndex | None = None,
) -> np.ndarray:
    """True for ``candidate`` items with an item of lower ``rank`` that is a copy or lies within ``radius``.

    Copies are found by value (however many there are); near ones among each
    item's :data:`DUPLICATE_NEIGHBOURS` nearest. ``like`` lends its faiss lists.
    """
    out = np.zeros(features.shape[0], dtype=bool)
    rows = np.flatnonzero(candidate)
    if rows.size == 0:
        return out
    groups = _row_groups(features)
    best = np.full(int(groups.max()) + 1, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(best, groups, rank)
    out[rows] = best[groups[rows]] < rank[rows]  # an identical item comes first
    index = NeighborIndex(features, method=method, like=like)
    dist, idx = index.search(features[rows], min(DUPLICATE_NEIGHBOURS, features.shape[0]), nprobe=DUPLICATE_NPROBE)
    own = rows[:, None]
    found = np.maximum(idx, 0)
    earlier = (idx >= 0) & (found != own) & (rank[found] < rank[own]) & (dist <= radius)
    out[rows] |= earlier.any(axis=1)
    return out


def filter_masks(
    features: np.ndarray,
    is_human: np.ndarray,
    reference: np.ndarray,
    *,
    k: int,
    duplicate_quantile: float,
    knn: str = "auto",
    seed: int = 0,
) -> FilterOutcome:
    """Decide, for each item, whether ``filter`` drops it as off-support or as a near-duplicate.

    ``is_human`` items are never dropped, but they count as the first copy of a
    duplicate. Near-duplicates are looked for among the items that are on support.
    ``knn`` is the search method (``auto``, ``exact``, ``faiss``; see
    :mod:`tailguard.policy.neighbors`); one index over the reference serves the
    radii, the support test and the duplicate radius.
    """
    n = features.shape[0]
    synthetic = ~is_human
    ref_index = NeighborIndex(reference, method=knn, seed=seed)
    off = np.zeros(n, dtype=bool)
    rows = np.flatnonzero(synthetic)
    for lo in range(0, rows.size, SUPPORT_BLOCK):  # in blocks: no copy of every synthetic row at once
        part = rows[lo : lo + SUPPORT_BLOCK]
        off[part] = ~support_mask(features[part], reference, k, index=ref_index)
    keep = ~off
    radius = duplicate_radius(reference, duplicate_quantile, int(keep.sum()), index=ref_index, k=k, seed=seed)
    dup = np.zeros(n, dtype=bool)
    if keep.sum() > 1:
        kept = np.flatnonzero(keep)
        # rank: human items first, then pool order
        rank = np.argsort(np.lexsort((kept, ~is_human[kept])), kind="stable")
        dup[kept] = duplicate_mask(
            features[kept], rank, synthetic[kept], radius, method=knn,
            like=ref_index if ref_index.approximate else None,
        )
    return FilterOutcome(off_support=off, duplicate=dup, duplicate_radius=radius, k=k, method=ref_index.method)
