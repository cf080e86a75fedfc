"""Nearest-neighbour queries shared by ``filter`` and ``tail-preserve``: exact or approximate.

Two methods, chosen per indexed point set:

* ``"exact"``: scikit-learn's ``NearestNeighbors`` (a tree for few dimensions,
  brute force otherwise), in float64;
* ``"faiss"``: an inverted-file index (faiss ``IndexIVFFlat``) of about
  ``4 √n`` k-means lists, of which the ``nprobe`` nearest to each query are
  searched. Distances are exact float32 distances to the points it looks at
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
EXACT_MAX = 20_000
#: ... or at most this many dimensions.
EXACT_MAX_DIM = 10
#: Lists the faiss index searches per query.
NPROBE = 16
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
        nprobe: int = NPROBE,
        seed: int = 0,
        like: NeighborIndex | None = None,
    ):
        self.points = np.asarray(points, dtype=np.float64)
        n, dim = self.points.shape
        self.method = resolve_method(method, n, dim) if like is None else like.method
        self.nprobe = int(nprobe)
        self._self: tuple[np.ndarray, np.ndarray] | None = None
        if self.method == "exact":
            from sklearn.neighbors import NearestNeighbors  # imported on first use: plain policies never need it

            self._index: Any = NearestNeighbors(algorithm="auto").fit(self.points) if n else None
            return
        faiss = require("faiss", extra="all", feature="approximate k-NN for filter and tail-preserve")
        xf = np.ascontiguousarray(self.points, dtype=np.float32)
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
                self._quantizer = faiss.IndexFlatL2(dim)
                self._index = faiss.IndexIVFFlat(self._quantizer, dim, n_lists)
                self._index.cp.seed = int(seed)
                self._index.cp.niter = 10
                self._index.cp.min_points_per_centroid = 1  # a seeded subsample of 40 points per list trains it
                per_list = 40
                train = xf
                if n > per_list * n_lists:
                    pick = np.random.default_rng([seed, 0xFA155]).choice(n, per_list * n_lists, replace=False)
                    train = xf[np.sort(pick)]
                self._index.train(train)
        self._index.add(xf)

    @property
    def approximate(self) -> bool:
        return self.method == "faiss" and self._quantizer is not None

    def __len__(self) -> int:
        return int(self.points.shape[0])

    def search(self, queries: np.ndarray, k: int, *, nprobe: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` nearest points of each query: ``(distances, indices)``, each ``(m, k)``, ascending.

        Where the faiss index found fewer than ``k`` points the rest are ``inf`` / ``-1``.
        """
        k = min(int(k), len(self))
        queries = np.asarray(queries, dtype=np.float64)
        if queries.shape[0] == 0 or k == 0:
            return np.zeros((queries.shape[0], k)), np.zeros((queries.shape[0], k), dtype=np.int64)
        if self.method == "exact":
            return self._index.kneighbors(queries, n_neighbors=k)
        if self._quantizer is not None:
            self._index.nprobe = min(nprobe or self.nprobe, self._quantizer.ntotal)
        dist = np.empty((queries.shape[0], k), dtype=np.float64)
        idx = np.empty((queries.shape[0], k), dtype=np.int64)
        for lo in range(0, queries.shape[0], _QUERY_BLOCK):
            q = np.ascontiguousarray(queries[lo : lo + _QUERY_BLOCK], dtype=np.float32)
            d2, i = self._index.search(q, k)
            missing = i < 0
            d2 = d2.astype(np.float64)
            floor = _ROUND_OFF * (np.einsum("ij,ij->i", q, q)[:, None] + self._norms[np.maximum(i, 0)])
            d2[d2 <= floor] = 0.0
            d2[missing] = np.inf
            dist[lo : lo + len(q)] = np.sqrt(d2)
            idx[lo : lo + len(q)] = i
        return dist, idx

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
