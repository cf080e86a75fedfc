"""k-nearest-neighbour search and k-NN ball membership, exact or with faiss.

Exact search computes squared Euclidean distances block by block
(``|a|² + |b|² − 2ab``, BLAS) so memory stays bounded; the faiss backend
uses an inverted-file index (``IndexIVFFlat``) for large sets. Squared distances
below a round-off floor (1e-12 of the block's largest squared norms in float64,
1e-6 in float32) are snapped to 0, so duplicated points are at
distance exactly 0 and ``<=`` comparisons count ties.

>>> import numpy as np
>>> x = np.array([[0.0, 0.0], [1.0, 0.0], [3.0, 0.0]])
>>> idx = build_index(x, backend="exact")
>>> kth_neighbour_sq_radii(idx, x, k=1).tolist()
[1.0, 1.0, 4.0]
>>> ball_counts(idx, np.array([1.0, 1.0, 4.0]), np.array([[2.0, 0.0]]), backend="exact").tolist()
[2]
"""

from __future__ import annotations

import math
from typing import Protocol

import numpy as np

from tailguard.dependencies import require

#: Squared distances below this fraction of ``|a|² + |b|²`` are round-off: snapped to 0.
_REL_EPS = {np.dtype(np.float64): 1e-12, np.dtype(np.float32): 1e-6}
_BLOCK = 2**24  # elements per distance block (~128 MB of float64)


def _sq_block(q: np.ndarray, qn: np.ndarray, x: np.ndarray, xn: np.ndarray) -> np.ndarray:
    d = q @ x.T
    d *= -2.0
    d += qn[:, None]
    d += xn[None, :]
    floor = _REL_EPS.get(d.dtype, 1e-6) * (float(qn.max(initial=0.0)) + float(xn.max(initial=0.0)))
    np.copyto(d, 0.0, where=d <= floor)
    return d


def pairwise_sq_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Full matrix of squared Euclidean distances (round-off snapped to 0).

    >>> import numpy as np
    >>> pairwise_sq_distances(np.array([[0.0, 0.0]]), np.array([[3.0, 4.0], [0.0, 0.0]])).tolist()
    [[25.0, 0.0]]
    """
    return _sq_block(a, np.einsum("ij,ij->i", a, a), b, np.einsum("ij,ij->i", b, b))


class Index(Protocol):
    n: int

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]: ...


class ExactIndex:
    """Brute-force k-NN over ``x`` in blocks; ``search`` returns squared distances, ascending."""

    def __init__(self, x: np.ndarray, dtype: type = np.float64):
        # float64 by default, like scikit-learn's distances; float32 ("flat") halves
        # the cost and selects neighbours with faiss's exact flat index.
        self.x = np.ascontiguousarray(x, dtype=dtype)
        self.n = len(x)
        self.xn = np.einsum("ij,ij->i", self.x, self.x)

    def _blocks(self, q: np.ndarray):
        step = max(1, _BLOCK // max(1, self.n))
        for lo in range(0, len(q), step):
            qb = q[lo : lo + step].astype(self.x.dtype, copy=False)
            yield lo, _sq_block(qb, np.einsum("ij,ij->i", qb, qb), self.x, self.xn)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        k = min(k, self.n)
        dist = np.empty((len(queries), k), dtype=np.float64)
        ids = np.empty((len(queries), k), dtype=np.int64)
        for lo, d in self._blocks(queries):
            part = np.argpartition(d, k - 1, axis=1)[:, :k] if k < self.n else np.tile(np.arange(self.n), (len(d), 1))
            pd = np.take_along_axis(d, part, axis=1)
            order = np.argsort(pd, axis=1, kind="stable")
            dist[lo : lo + len(d)] = np.take_along_axis(pd, order, axis=1)
            ids[lo : lo + len(d)] = np.take_along_axis(part, order, axis=1)
        return dist, ids

    def kth_smallest(self, queries: np.ndarray, k: int) -> np.ndarray:
        """The k-th smallest squared distance (1-based) from each query to the indexed points."""
        k = min(k, self.n)
        if self.x.dtype == np.float32:
            return self._faiss_kth(queries, k)
        out = np.empty(len(queries), dtype=np.float64)
        for lo, d in self._blocks(queries):
            out[lo : lo + len(d)] = d.min(axis=1) if k == 1 else np.partition(d, k - 1, axis=1)[:, k - 1]
        return out

    def _faiss_kth(self, queries: np.ndarray, k: int) -> np.ndarray:
        faiss = require("faiss", extra="all", feature="flat k-NN search")
        index = faiss.IndexFlatL2(self.x.shape[1])
        index.add(self.x)
        q = np.ascontiguousarray(queries, dtype=np.float32)
        qn = np.einsum("ij,ij->i", q, q)
        out = np.empty(len(q), dtype=np.float64)
        floor = _REL_EPS[np.dtype(np.float32)] * (float(qn.max(initial=0.0)) + float(self.xn.max(initial=0.0)))
        for lo in range(0, len(q), 16384):
            d, _ = index.search(q[lo : lo + 16384], k)
            kth = d[:, k - 1].astype(np.float64)
            kth[kth <= floor] = 0.0
            out[lo : lo + len(kth)] = kth
        return out

    def count_within(self, sq_radii: np.ndarray, queries: np.ndarray) -> np.ndarray:
        """Exact number of points ``i`` with ``d(query, x_i)² <= sq_radii[i]`` for each query."""
        r2 = sq_radii.astype(np.float64)
        out = np.empty(len(queries), dtype=np.int64)
        for lo, d in self._blocks(queries):
            out[lo : lo + len(d)] = (d <= r2[None, :]).sum(axis=1)
        return out


class FaissIndex:
    """Approximate k-NN with faiss ``IndexIVFFlat`` (flat when the set is small)."""

    def __init__(self, x: np.ndarray, *, nprobe: int = 16, seed: int = 0):
        faiss = require("faiss", extra="all", feature="approximate k-NN")
        self.n = len(x)
        xf = np.ascontiguousarray(x, dtype=np.float32)
        d = xf.shape[1]
        nlist = min(int(math.sqrt(self.n)), self.n // 39)  # faiss wants >= 39 training points per list
        if nlist < 16:
            self.index = faiss.IndexFlatL2(d)
        else:
            quantizer = faiss.IndexFlatL2(d)
            self.index = faiss.IndexIVFFlat(quantizer, d, nlist)
            self.index.cp.seed = int(seed)
            train = xf
            if self.n > 64 * nlist:
                pick = np.random.default_rng([seed, 0xFA155]).choice(self.n, 64 * nlist, replace=False)
                train = xf[np.sort(pick)]
            self.index.train(train)
            self.index.nprobe = min(nprobe, nlist)
            self._keep = quantizer  # keep the quantizer alive with the index
        self.index.add(xf)
        self.xn = np.einsum("ij,ij->i", xf, xf)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        k = min(k, self.n)
        qf = np.ascontiguousarray(queries, dtype=np.float32)
        dist = np.empty((len(qf), k), dtype=np.float64)
        ids = np.empty((len(qf), k), dtype=np.int64)
        step = 65536
        for lo in range(0, len(qf), step):
            d, i = self.index.search(qf[lo : lo + step], k)
            qn = np.einsum("ij,ij->i", qf[lo : lo + step], qf[lo : lo + step])
            missing = i < 0
            i[missing] = 0
            d = d.astype(np.float64)
            d[d <= 1e-6 * (qn[:, None] + self.xn[i])] = 0.0
            d[missing] = np.inf
            dist[lo : lo + step], ids[lo : lo + step] = d, i
        return dist, ids


def build_index(x: np.ndarray, *, backend: str = "exact", nprobe: int = 16, seed: int = 0) -> Index:
    """An :class:`ExactIndex` in float64 (``"exact"``) or float32 (``"flat"``, also exact
    search), or an approximate :class:`FaissIndex` (``"faiss"``, IVF)."""
    if backend == "exact":
        return ExactIndex(x)
    if backend == "flat":
        return ExactIndex(x, np.float32)
    return FaissIndex(x, nprobe=nprobe, seed=seed)


def choose_backend(knn: str, n: int, exact_max: int, flat_max: int | None = None) -> str:
    """Resolve ``knn="auto"``: float64 exact up to ``exact_max`` points, float32 exact
    (faiss flat) up to ``flat_max``, approximate faiss IVF beyond."""
    if knn != "auto":
        return knn
    if n <= exact_max:
        return "exact"
    return "flat" if flat_max is None or n <= flat_max else "faiss"


def kth_neighbour_sq_radii(index: Index, x: np.ndarray, k: int) -> np.ndarray:
    """Squared distance from each row of ``x`` (the indexed set) to its k-th nearest other point.

    As in prdc, this is the (k+1)-th smallest distance counting the point itself.
    Radii stay squared so that ``<=`` comparisons see the very same numbers.
    """
    if isinstance(index, ExactIndex):
        return index.kth_smallest(x, k + 1)
    d, _ = index.search(x, k + 1)
    return d[:, -1]


def nearest_sq_distance(index: Index, queries: np.ndarray) -> np.ndarray:
    """Squared distance from each query to its nearest indexed point."""
    if isinstance(index, ExactIndex):
        return index.kth_smallest(queries, 1)
    d, _ = index.search(queries, 1)
    return d[:, 0]


def kth_nearest_sq_distance(index: Index, queries: np.ndarray, k: int) -> np.ndarray:
    """Squared distance from each query to its k-th nearest indexed point (1-based).

    >>> import numpy as np
    >>> idx = build_index(np.array([[0.0], [1.0], [3.0]]))
    >>> kth_nearest_sq_distance(idx, np.array([[0.5], [3.0]]), 2).tolist()
    [0.25, 4.0]
    """
    if isinstance(index, ExactIndex):
        return index.kth_smallest(queries, k)
    d, _ = index.search(queries, k)
    return d[:, -1]


def exact_cross_stats(
    ref: ExactIndex, ref_sq_radii: np.ndarray, cand: np.ndarray, cand_sq_radii: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One pass over the candidate x reference distance blocks for PRDC.

    Returns, exactly: for each candidate the number of reference balls holding it;
    for each reference point whether some candidate ball holds it; and its squared
    distance to the nearest candidate (``cand_sq_radii`` are the candidates' own).
    """
    inside = np.empty(len(cand), dtype=np.int64)
    recalled = np.zeros(ref.n, dtype=bool)
    nearest = np.full(ref.n, np.inf)
    r2 = ref_sq_radii.astype(np.float64)
    c2 = cand_sq_radii.astype(np.float64)
    for lo, d in ref._blocks(cand):
        inside[lo : lo + len(d)] = (d <= r2[None, :]).sum(axis=1)
        recalled |= (d <= c2[lo : lo + len(d), None]).any(axis=0)
        np.minimum(nearest, d.min(axis=0), out=nearest)
    return inside, recalled, nearest


def ball_counts(
    index: Index,
    sq_radii: np.ndarray,
    queries: np.ndarray,
    *,
    backend: str,
    n_search: int = 64,
    max_search: int = 1024,
    centres: np.ndarray | None = None,
) -> np.ndarray:
    """For each query, the number of indexed points ``i`` whose ball holds it: ``d² <= sq_radii[i]``.

    Exact for the exact backend. With faiss, the largest 1% of balls (given
    ``centres``, the indexed rows) are checked by brute force, and the others
    among the ``n_search`` nearest centres: when the farthest of those is still
    within the largest remaining radius, the query is searched again with 4x as
    many centres, up to ``max_search``.
    """
    if isinstance(index, ExactIndex):
        return index.count_within(sq_radii, queries)
    sq_radii = sq_radii.astype(np.float64)
    big = np.zeros(len(sq_radii), dtype=bool)
    if centres is not None and len(sq_radii) >= 200:
        big = sq_radii > np.quantile(sq_radii, 0.99)
    small_max = float(sq_radii[~big].max()) if (~big).any() else 0.0
    big_index = ExactIndex(centres[big].astype(np.float32)) if centres is not None and big.any() else None
    counts = np.zeros(len(queries), dtype=np.int64)
    step = 65536
    for lo in range(0, len(queries), step):
        q = queries[lo : lo + step]
        part = np.zeros(len(q), dtype=np.int64)
        todo = np.arange(len(q))
        k = min(n_search, index.n)
        while len(todo):
            d, ids = index.search(q[todo], k)
            part[todo] = ((d <= sq_radii[ids]) & ~big[ids]).sum(axis=1)
            if k >= min(max_search, index.n):
                break
            todo = todo[d[:, -1] <= small_max]
            k = min(4 * k, max_search, index.n)
        if big_index is not None:
            part += big_index.count_within(sq_radii[big], q)
        counts[lo : lo + step] = part
    return counts
