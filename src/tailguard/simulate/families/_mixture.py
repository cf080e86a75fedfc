"""Shared pieces of the 2-D mixture families (gmm, kde): the true law and its tail region.

The true law is a 2-D mixture of three Gaussians with weights 0.6 / 0.3 / 0.1,
so one mode is rare. Its *tail region* is where the true density is below the
density level that 5% of true draws fall under (estimated once from 200,000 draws
with a fixed seed), so a faithful model puts about 5% of its samples there.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import stats

WEIGHTS = np.array([0.6, 0.3, 0.1])
MEANS = np.array([[0.0, 0.0], [4.0, 1.0], [1.0, 5.0]])
COVS = np.array([[[1.0, 0.3], [0.3, 0.6]], [[0.7, -0.2], [-0.2, 1.0]], [[0.4, 0.0], [0.0, 0.4]]])
TAIL_SHARE = 0.05
RARE = 2


def true_sample(n: int, rng: np.random.Generator) -> np.ndarray:
    comp = rng.choice(len(WEIGHTS), size=n, p=WEIGHTS)
    out = np.empty((n, 2))
    for k in range(len(WEIGHTS)):
        idx = np.flatnonzero(comp == k)
        out[idx] = rng.multivariate_normal(MEANS[k], COVS[k], size=len(idx))
    return out


def component_densities(x: np.ndarray) -> np.ndarray:
    """(n, 3) weighted densities of each true component."""
    return np.column_stack(
        [w * stats.multivariate_normal(m, c).pdf(x) for w, m, c in zip(WEIGHTS, MEANS, COVS, strict=True)]
    )


def true_density(x: np.ndarray) -> np.ndarray:
    return component_densities(x).sum(axis=1)


@lru_cache(maxsize=1)
def tail_level() -> float:
    """Density level below which 5% of the true mass lies."""
    x = true_sample(200_000, np.random.default_rng(12345))
    return float(np.quantile(true_density(x), TAIL_SHARE))


def tail_share(x: np.ndarray) -> float:
    """Share of points in the true tail region."""
    return float(np.mean(true_density(x) < tail_level()))


def rare_share(x: np.ndarray) -> float:
    """Share of points the true law attributes to its rare component (MAP)."""
    return float(np.mean(np.argmax(component_densities(x), axis=1) == RARE))


def knn_radii(points: np.ndarray, k: int) -> np.ndarray:
    """Distance from each point to its k-th nearest other point."""
    from sklearn.neighbors import NearestNeighbors

    dist, _ = NearestNeighbors(n_neighbors=k + 1).fit(points).kneighbors(points)
    return dist[:, -1]


def covered(reference: np.ndarray, radii: np.ndarray, samples: np.ndarray) -> np.ndarray:
    """Boolean per reference point: some sample lies inside its k-NN ball (PRDC coverage, Naeem et al. 2020)."""
    from sklearn.neighbors import NearestNeighbors

    dist, _ = NearestNeighbors(n_neighbors=1).fit(samples).kneighbors(reference)
    return dist[:, 0] <= radii
