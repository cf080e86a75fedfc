"""Distance to the reference's support, as a k-NN radius ratio.

For a point ``x``, the ratio is ``min_j d(x, r_j) / ρ_k(r_j)`` over reference
points ``r_j``, where ``ρ_k(r_j)`` is the distance from ``r_j`` to its ``k``-th
nearest other reference point (the ball PRDC's precision uses, Naeem et al.
2020). A ratio ``<= 1`` means ``x`` lies inside some reference ball; the larger
it is, the further ``x`` is from anything the reference holds. A reference point
is measured leaving itself out (and its ball), so reference and candidate
ratios are comparable: for a candidate drawn like the reference, the two
distributions agree.

The ``wide`` nearest reference points of each point are searched (exactly for
small sets, with faiss for large ones; :class:`tailguard.policy.neighbors.NeighborIndex`):
a ball further away than those could only give a smaller ratio if its radius
were far larger than its neighbours', which this misses.

>>> import numpy as np
>>> ref = np.random.default_rng(0).normal(size=(400, 2))
>>> ratios = radius_ratios(ref, np.array([[0.0, 0.0], [8.0, 8.0]]), k=5)
>>> bool(ratios.candidate[0] <= 1.0), bool(ratios.candidate[1] > 3.0)
(True, True)
>>> float(np.mean(ratios.reference <= 1.0)) > 0.9
True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tailguard.errors import EmptyDatasetError
from tailguard.policy.neighbors import NeighborIndex

#: Reference neighbours searched per point.
WIDE = 50
#: With faiss, points found outside every ball are searched again with this many times the probed lists.
RECHECK_PROBES = 4


@dataclass(frozen=True)
class RadiusRatios:
    """Ratios of the reference points (each leaving itself out) and of the candidate points."""

    reference: np.ndarray
    candidate: np.ndarray
    k: int
    method: str


def radius_ratios(
    reference: np.ndarray, candidate: np.ndarray, *, k: int = 5, method: str = "auto", seed: int = 0
) -> RadiusRatios:
    """k-NN radius ratios of both sides against the reference (see the module docstring)."""
    n = reference.shape[0]
    if n <= k + 1:
        raise EmptyDatasetError(f"the reference has {n} points; radius ratios with k={k} need at least {k + 2}")
    index = NeighborIndex(reference, method=method, seed=seed)
    wide = min(max(WIDE, 2 * k + 2), n)
    dist, idx = index.self_search(wide)
    # the self search lists each point (or a copy) first: ρ_k leaves the point itself out
    radii = dist[:, k]
    nd, ni = dist[:, 1:], np.maximum(idx[:, 1:], 0)
    # a neighbour j whose own k nearest include the query i has, without i, its (k+1)-th distance as radius
    loo = np.where(nd <= radii[ni], dist[ni, k + 1], radii[ni])
    ref_ratio = _ratio(nd, idx[:, 1:], loo)
    cdist, cidx = index.search(candidate, wide)
    cand_ratio = _ratio(cdist, cidx, radii[np.maximum(cidx, 0)])
    if index.approximate:  # a ratio above 1 is mostly a covering ball in a list not probed: look wider
        rest = np.flatnonzero(cand_ratio > 1.0)
        if rest.size:
            d, i = index.search(candidate[rest], wide, nprobe=RECHECK_PROBES * index.nprobe)
            cand_ratio[rest] = np.minimum(cand_ratio[rest], _ratio(d, i, radii[np.maximum(i, 0)]))
    return RadiusRatios(ref_ratio, cand_ratio, k, index.method)


def _ratio(dist: np.ndarray, idx: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Smallest distance / radius over each row's neighbours (missing neighbours: -1 indices)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(idx >= 0, np.where(r > 0, dist / r, np.where(dist > 0, np.inf, 0.0)), np.inf)
    return ratio.min(axis=1)
