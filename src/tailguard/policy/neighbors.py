"""Nearest-neighbour queries shared by ``filter`` and ``tail-preserve`` (scikit-learn).

>>> import numpy as np
>>> ref = np.array([[0.0], [1.0], [2.0], [4.0]])
>>> knn_radii(ref, k=1).tolist()
[1.0, 1.0, 1.0, 2.0]
>>> nearest(ref, np.array([[3.9]]), k=2)[1].tolist()
[[3, 2]]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tailguard.errors import EmptyDatasetError


def _index(points: np.ndarray) -> Any:
    from sklearn.neighbors import NearestNeighbors  # imported on first use: plain policies never need it

    return NearestNeighbors(algorithm="auto").fit(points)


def knn_radii(reference: np.ndarray, k: int) -> np.ndarray:
    """Distance from each reference point to its ``k``-th nearest *other* reference point.

    This is PRDC's ``nearest_k`` radius (Naeem et al. 2020).
    """
    n = reference.shape[0]
    if n <= k:
        raise EmptyDatasetError(f"the reference has {n} points; k-NN radii with k={k} need at least {k + 1}")
    dist, _ = _index(reference).kneighbors(reference, n_neighbors=k + 1)
    return dist[:, k]


def nearest(reference: np.ndarray, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` nearest reference points of each query: ``(distances, indices)``, each ``(m, k)``."""
    k = min(k, reference.shape[0])
    if queries.shape[0] == 0:
        return np.zeros((0, k)), np.zeros((0, k), dtype=np.int64)
    dist, idx = _index(reference).kneighbors(queries, n_neighbors=k)
    return dist, idx
