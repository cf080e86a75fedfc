"""Nearest-neighbour queries shared by ``filter`` and ``tail-preserve``: exact or approximate.

Two methods, chosen per indexed point set:

* ``"exact"``: scikit-learn's ``NearestNeighbors`` (a tree for few dimensions,
  brute force otherwise), in float64;
* ``"faiss"``: an inverted-file index (faiss ``IndexIVFFlat``) of about
  ``4 √n`` k-means lists, none above twice the mean size (see
  :func:`balanced_centroids`), of which the ``nprobe`` nearest to each query are
  searched; queries are searched in the order of their nearest list (found once,
  and handed to faiss with ``search_preassigned``). Distances are exact float32 distances to the points it looks at
  (round-off below 1e-6 of the squared norms snapped to 0, so copies tie at 0);
  what is approximate is which points it looks at: a true neighbour in a list
  that is not probed is missed.
* ``"auto"`` (the default): exact for at most :data:`EXACT_MAX` points or at most
  :data:`EXACT_MAX_DIM` dimensions (where trees are fast), faiss above.

faiss is imported only when it is used; a missing faiss raises
:class:`~tailguard.errors.MissingDependencyError` with the install command.

>>> import numpy as np
>>> ref = np.array([[0.0], [1.0], [2.0], [4.0]])
>>> knn_radii(ref, k=1).tolist()
[1.0, 1.0, 1.0, 2.0]
>>> nearest(ref, np.array([[3.9]]), k=2)[1].tolist()
[[3, 2]]
>>> index = NeighborIndex(np.random.default_rng(0).normal(size=(3000, 8)), method="faiss")
>>> index.method, index.approximate
('faiss', True)
>>> index.search(index.points[:2], 1)[1].ravel().tolist()   # each point finds itself
[0, 1]
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tailguard.dependencies import require
from tailguard.errors import EmptyDatasetError, UnknownChoiceError

#: The methods a ``knn`` parameter may name.
KNN_METHODS = ("auto", "exact", "faiss")
#: ``auto`` searches exactly when the indexed set has at most this many points ...
EXACT_MAX = 5_000
#: ... or at most this many dimensions.
EXACT_MAX_DIM = 10
#: Lists the faiss index searches per query.
NPROBE = 8
_QUERY_BLOCK = 65_536
_ROUND_OFF = 1e-6


def resolve_method(method: str, n: int, dim: int) -> str:
    """``"exact"`` or ``"faiss"`` for ``n`` points of ``dim`` dimensions.

    >>> resolve_method("auto", 1_000_000, 2), resolve_method("auto", 100_000, 256), resolve_method("exact", 9, 9)
    ('exact', 'faiss', 'exact')
    """
    if method not in KNN_METHODS:
        raise UnknownChoiceError("k-NN method", str(method), KNN_METHODS)
    if method != "auto":
        return method
    return "exact" if n <= EXACT_MAX or dim <= EXACT_MAX_DIM else "faiss"


def balanced_centroids(points: np.ndarray, n_lists: int, *, seed: int = 0) -> np.ndarray:
    """k-means centroids of ``points`` (float32) in which no list is more than twice the mean size.

    faiss k-means (10 iterations, trained on a seeded subsample of 40 points per
    list); a list above twice the mean size is split by k-means of its own points
    (5 iterations, 20 points per part) into parts of about the mean size. Text features gather around hubs, and a
    query that falls in a hub list would otherwise scan thousands of points.

    >>> c = balanced_centroids(np.random.default_rng(0).normal(size=(4000, 4)).astype(np.float32), 40)
    >>> c.shape[1], c.shape[0] >= 40
    (4, True)
    """
    faiss = require("faiss", extra="all", feature="approximate k-NN for filter and tail-preserve")
    n, dim = points.shape
    rng = np.random.default_rng([seed, 0xFA155])

    def kmeans(x: np.ndarray, parts: int, salt: int, per_part: int, niter: int) -> np.ndarray:
        if x.shape[0] > per_part * parts:
            x = x[np.sort(rng.choice(x.shape[0], per_part * parts, replace=False))]
        km = faiss.Kmeans(dim, parts, niter=niter, seed=int(seed) + salt, min_points_per_centroid=1, verbose=False)
        km.train(np.ascontiguousarray(x, dtype=np.float32))
        return km.centroids

    centroids = kmeans(points, n_lists, 0, 40, 10)
    quantizer = faiss.IndexFlatL2(dim)
    quantizer.add(centroids)
    lists = np.empty(n, dtype=np.int64)
    for lo in range(0, n, _QUERY_BLOCK):
        lists[lo : lo + _QUERY_BLOCK] = quantizer.search(np.ascontiguousarray(points[lo : lo + _QUERY_BLOCK]), 1)[1][:, 0]
    sizes = np.bincount(lists, minlength=n_lists)
    mean = n / n_lists
    big = np.flatnonzero(sizes > 2 * mean)
    if big.size == 0:
        return np.ascontiguousarray(centroids)
    keep = np.ones(n_lists, dtype=bool)
    keep[big] = False
    parts = [centroids[keep]]
    for salt, b in enumerate(big, start=1):
        parts.append(kmeans(points[lists == b], math.ceil(sizes[b] / mean), salt, 20, 5))
    return np.ascontiguousarray(np.vstack(parts), dtype=np.float32)


class NeighborIndex:
    """k-NN over a fixed point set (see the module docstring for the methods).

    ``like=`` another faiss index reuses its k-means lists (no training). Self
    searches (:meth:`self_search`) are cached, so the radii and the nearest
    distances of one set cost one pass.
    """

    def __init__(
        self,
        points: np.ndarray,
        *,
        method: str = "auto",
        nprobe: int | None = None,
        seed: int = 0,
        like: NeighborIndex | None = None,
    ):
        self.points = np.asarray(points)
        if self.points.dtype not in (np.float32, np.float64):
            self.points = self.points.astype(np.float64)
        n, dim = self.points.shape
        self.method = resolve_method(method, n, dim) if like is None else like.method
        self.nprobe = int(nprobe if nprobe is not None else NPROBE)
        self._self: tuple[np.ndarray, np.ndarray] | None = None
        if self.method == "exact":
            from sklearn.neighbors import NearestNeighbors  # imported on first use: plain policies never need it

            self._index: Any = NearestNeighbors(algorithm="auto").fit(self.points) if n else None
            return
        faiss = require("faiss", extra="all", feature="approximate k-NN for filter and tail-preserve")
        xf = np.ascontiguousarray(self.points, dtype=np.float32)  # no copy when the points are float32
        self._norms = np.einsum("ij,ij->i", xf, xf)
        if like is not None and getattr(like, "_quantizer", None) is not None:
            self._quantizer = like._quantizer
            self._index = faiss.IndexIVFFlat(self._quantizer, dim, self._quantizer.ntotal)
        else:
            n_lists = min(4 * round(math.sqrt(n)), n // 39)  # faiss wants >= 39 training points per list
            if n_lists < 8:
                self._quantizer = None
                self._index = faiss.IndexFlatL2(dim)
            else:
                centroids = balanced_centroids(xf, n_lists, seed=seed)
                self._quantizer = faiss.IndexFlatL2(dim)
                self._quantizer.add(centroids)
                self._index = faiss.IndexIVFFlat(self._quantizer, dim, centroids.shape[0])  # trained: lists given
        for lo in range(0, n, _QUERY_BLOCK):  # faiss keeps its own float32 copy
            self._index.add(xf[lo : lo + _QUERY_BLOCK])
        del xf

    @property
    def n_lists(self) -> int:
        """Inverted lists of the faiss index (0 for an exact or flat one)."""
        return int(self._quantizer.ntotal) if self.method == "faiss" and self._quantizer is not None else 0

    @property
    def approximate(self) -> bool:
        return self.method == "faiss" and self._quantizer is not None

    def __len__(self) -> int:
        return int(self.points.shape[0])

    def set_nprobe(self, nprobe: int) -> None:
        """Search ``nprobe`` lists per query from now on (drops the cached self search)."""
        self.nprobe = int(nprobe)
        self._self = None

    def search(self, queries: np.ndarray, k: int, *, nprobe: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest points of each query: ``(distances, indices)``, each ``(m, k)``, ascending.

        Where the faiss index found fewer than ``k`` points the rest are ``inf`` / ``-1``.
        """
        k = min(int(k), len(self))
        queries = np.asarray(queries)
        if queries.shape[0] == 0 or k == 0:
            return np.zeros((queries.shape[0], k)), np.zeros((queries.shape[0], k), dtype=np.int64)
        if self.method == "exact":
            return self._index.kneighbors(queries, n_neighbors=k)
        if self._quantizer is not None:
            self._index.nprobe = min(nprobe or self.nprobe, self._quantizer.ntotal)
        m = queries.shape[0]
        dist = np.empty((m, k), dtype=np.float64)
        idx = np.empty((m, k), dtype=np.int64)
        probes = self._index.nprobe if self._quantizer is not None else 0
        for rows, q, coarse in self._by_list(queries, probes):
            if coarse is None:
                d2, i = self._index.search(q, k)
            else:  # the lists were found once, for the order: faiss does not look them up again
                d2, i = self._index.search_preassigned(q, k, coarse[1], coarse[0])
            missing = i < 0
            d2 = d2.astype(np.float64)
            floor = _ROUND_OFF * (np.einsum("ij,ij->i", q, q)[:, None] + self._norms[np.maximum(i, 0)])
            d2[d2 <= floor] = 0.0
            d2[missing] = np.inf
            dist[rows] = np.sqrt(d2)
            idx[rows] = i
        return dist, idx

    def _by_list(self, queries: np.ndarray, probes: int) -> Any:
        """Blocks ``(positions, float32 queries, (list distances, lists) or None)`` of the queries, taken in
        the order of their nearest list, so that queries sharing lists run together and the lists stay in cache."""
        m = queries.shape[0]
        if self._quantizer is None:
            for lo in range(0, m, _QUERY_BLOCK):
                yield (np.arange(lo, min(lo + _QUERY_BLOCK, m)),
                       np.ascontiguousarray(queries[lo : lo + _QUERY_BLOCK], dtype=np.float32), None)
            return
        cd = np.empty((m, probes), dtype=np.float32)
        ci = np.empty((m, probes), dtype=np.int64)
        for lo in range(0, m, _QUERY_BLOCK):
            q = np.ascontiguousarray(queries[lo : lo + _QUERY_BLOCK], dtype=np.float32)
            cd[lo : lo + len(q)], ci[lo : lo + len(q)] = self._quantizer.search(q, probes)
        order = np.argsort(ci[:, 0], kind="stable")
        for lo in range(0, m, _QUERY_BLOCK):
            rows = order[lo : lo + _QUERY_BLOCK]
            yield (rows, np.ascontiguousarray(queries[rows], dtype=np.float32),
                   (np.ascontiguousarray(cd[rows]), np.ascontiguousarray(ci[rows])))

    def self_search(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Each indexed point's ``k`` nearest indexed points, itself (or a copy) first; cached."""
        k = min(int(k), len(self))
        if self._self is None or self._self[0].shape[1] < k:
            self._self = self.search(self.points, k)
        return self._self[0][:, :k], self._self[1][:, :k]


def knn_radii(reference: np.ndarray, k: int, *, index: NeighborIndex | None = None) -> np.ndarray:
    """Distance from each reference point to its ``k``-th nearest *other* reference point.

    This is PRDC's ``nearest_k`` radius (Naeem et al. 2020). ``index`` is a
    :class:`NeighborIndex` over ``reference`` (built when not given).
    """
    n = reference.shape[0]
    if n <= k:
        raise EmptyDatasetError(f"the reference has {n} points; k-NN radii with k={k} need at least {k + 1}")
    index = index if index is not None else NeighborIndex(reference)
    dist, _ = index.self_search(k + 1)
    return dist[:, k]


def nearest(
    reference: np.ndarray, queries: np.ndarray, k: int, *, index: NeighborIndex | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest reference points of each query: ``(distances, indices)``, each ``(m, k)``."""
    k = min(k, reference.shape[0])
    if queries.shape[0] == 0:
        return np.zeros((0, k)), np.zeros((0, k), dtype=np.int64)
    index = index if index is not None else NeighborIndex(reference)
    return index.search(queries, k)
