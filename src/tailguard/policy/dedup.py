"""What ``dedup`` drops: near-duplicates, keeping one representative of each cluster.

* **texts**: clusters of estimated word-bigram Jaccard ``>= jaccard``
  (:func:`tailguard.scoring.clusters.near_duplicate_clusters`: MinHash + LSH,
  connected components). Human rows come first, then the others in pool order:
  every human row is kept, and of the others only a cluster's first one, when
  the cluster holds no human row.
* **vectors**: an item is dropped when another kept item that comes first is an
  exact copy of it, or lies within ``r_dup``: the ``duplicate_quantile``
  quantile of the nearest-neighbour distances between distinct reference
  points, rescaled to the number of items compared (see :func:`duplicate_radius`);
  0 makes it exact duplicates only.

Human items are never dropped.

>>> texts = ["the cat sat on the mat today", "buy cheap pills now at example dot com today",
...          "buy cheap pills now at example dot com tonight", "the cat sat on the mat today"]
>>> text_duplicates(texts, np.array([True, False, False, False]), jaccard=0.3).tolist()
[False, False, True, True]
>>> ref = np.random.default_rng(0).normal(size=(200, 2))
>>> feats = np.array([[0.0, 0.0], [0.0, 0.0], [9.0, 9.0]])
>>> r = duplicate_radius(ref, 0.01, 3)
>>> duplicate_mask(feats, np.arange(3), np.ones(3, dtype=bool), r).tolist()
[False, True, False]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tailguard.policy.neighbors import NeighborIndex, nearest
from tailguard.scoring.clusters import near_duplicate_clusters

#: How many nearest items are checked for a duplicate that comes first.
DUPLICATE_NEIGHBOURS = 8
#: Lists the approximate search probes for near-duplicates (they lie within a tiny radius).
DUPLICATE_NPROBE = 2
#: The intrinsic dimension is estimated on at most this many distinct reference points (seeded).
DIMENSION_SAMPLE = 5000


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


def vector_duplicates(
    features: np.ndarray, is_human: np.ndarray, reference: np.ndarray, *, duplicate_quantile: float,
    k: int = 5, knn: str = "auto", seed: int = 0,
) -> tuple[np.ndarray, float]:
    """Mask of the non-human items ``dedup`` drops from a vector pool, and the radius used.

    Human items come first, then pool order; human items are never dropped but count as
    the first copy of a duplicate.
    """
    n = features.shape[0]
    out = np.zeros(n, dtype=bool)
    ref_index = NeighborIndex(reference, method=knn, seed=seed)
    radius = duplicate_radius(reference, duplicate_quantile, n, index=ref_index, k=k, seed=seed)
    if n > 1:
        rank = np.argsort(np.lexsort((np.arange(n), ~is_human)), kind="stable")
        out = duplicate_mask(features, rank, ~is_human, radius, method=knn,
                             like=ref_index if ref_index.approximate else None)
    return out, radius


def text_duplicates(texts: Sequence[str], is_human: np.ndarray, *, jaccard: float, seed: int = 0) -> np.ndarray:
    """Mask of the non-human texts ``dedup`` drops (see the module docstring)."""
    human = np.asarray(is_human, dtype=bool)
    order = np.r_[np.flatnonzero(human), np.flatnonzero(~human)]  # human texts first, then pool order
    clusters = near_duplicate_clusters([texts[i] for i in order], threshold=jaccard, seed=seed)
    labels = clusters.labels
    has_human = np.zeros(clusters.n_clusters, dtype=bool)
    has_human[labels[: int(human.sum())]] = True
    drop_sorted = ~human[order] & (has_human[labels] | ~clusters.representative)
    out = np.zeros(len(texts), dtype=bool)
    out[order[drop_sorted]] = True
    return out
