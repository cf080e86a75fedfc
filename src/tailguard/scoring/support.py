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

The faiss search checks itself (:func:`check_index`): on a seeded sample of
reference points and candidates it searches by brute force and counts the points
whose ratio the approximate search gets wrong (a k-NN radius or a nearest ball
missed). While an upper bound on that share (share + 2 standard errors) exceeds
``tolerance`` (0.01), the probed lists are doubled; beyond a quarter of the lists,
or when more than ten times the tolerance are wrong (isotropic 64-d, 20k points:
37% still wrong with 128 of 514 lists probed), it searches exactly. A wrong ratio moves at most its own point's rank, so the
share of points the filter treats differently stays within the bound.
``RadiusRatios.knn_check`` says what was done.

>>> import numpy as np
>>> ref = np.random.default_rng(0).normal(size=(400, 2))
>>> ratios = radius_ratios(ref, np.array([[0.0, 0.0], [8.0, 8.0]]), k=5)
>>> bool(ratios.candidate[0] <= 1.0), bool(ratios.candidate[1] > 3.0)
(True, True)
>>> float(np.mean(ratios.reference <= 1.0)) > 0.9
True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tailguard.errors import EmptyDatasetError
from tailguard.metrics.knn import pairwise_sq_distances
from tailguard.policy.neighbors import NeighborIndex

#: Reference neighbours searched per point.
WIDE = 50
#: With faiss, points found outside every ball are searched again with this many times the probed lists.
RECHECK_PROBES = 4
#: Points sampled per side by the faiss self-check, and the largest tolerated share of wrong ratios.
CHECK_SAMPLE = 400
TOLERANCE = 0.01
_REL = 1e-4  # ratios and radii within this relative difference agree (float32 search)


@dataclass(frozen=True)
class RadiusRatios:
    """Ratios of the reference points (each leaving itself out) and of the candidate points."""

    reference: np.ndarray
    candidate: np.ndarray
    k: int
    method: str
    knn_check: dict[str, Any] = field(default_factory=dict)


def radius_ratios(
    reference: np.ndarray, candidate: np.ndarray, *, k: int = 5, method: str = "auto", seed: int = 0
) -> RadiusRatios:
    """k-NN radius ratios of both sides against the reference (see the module docstring)."""
    n = reference.shape[0]
    if n <= k + 1:
        raise EmptyDatasetError(f"the reference has {n} points; radius ratios with k={k} need at least {k + 2}")
    index = NeighborIndex(reference, method=method, seed=seed)
    wide = min(max(WIDE, 2 * k + 2), n)
    check: dict[str, Any] = {}
    if index.approximate:
        index, check = check_index(index, candidate, k=k, wide=wide, seed=seed)
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
    return RadiusRatios(ref_ratio, cand_ratio, k, index.method, check)


def check_index(
    index: NeighborIndex,
    candidate: np.ndarray,
    *,
    k: int,
    wide: int,
    seed: int = 0,
    tolerance: float = TOLERANCE,
    sample: int = CHECK_SAMPLE,
) -> tuple[NeighborIndex, dict[str, Any]]:
    """The faiss ``index`` with enough probed lists that the radius ratios of a sample agree with
    brute force to ``tolerance``, or an exact index (see the module docstring); and what was done.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> ref, cand = rng.normal(size=(6000, 32)), rng.normal(size=(300, 32))
    >>> index, check = check_index(NeighborIndex(ref, method="faiss"), cand, k=5, wide=50)
    >>> index.method, check["knn_fell_back"]   # 32 isotropic dimensions: lists do not help
    ('exact', True)
    """
    ref = index.points
    rng = np.random.default_rng([seed, 0x5C4])
    sr = np.sort(rng.choice(len(ref), min(sample, len(ref)), replace=False))
    sc = np.sort(rng.choice(len(candidate), min(sample, len(candidate)), replace=False))
    true_ref = _brute(ref, ref[sr], wide)
    true_cand = _brute(ref, candidate[sc], wide)
    limit = max(1, index.n_lists // 4)
    tried: list[int] = []
    out: dict[str, Any] = {"knn_check_sample": len(sr) + len(sc), "knn_n_lists": index.n_lists}
    p = index.nprobe
    while p <= limit:
        index.set_nprobe(p)
        tried.append(p)
        dist, idx = index.self_search(wide)
        radii = dist[:, k]
        exact_r = true_ref[0][:, k]
        radius_ok = np.abs(radii[sr] - exact_r) <= _REL * exact_r + 1e-12
        # both with the approximate radii: these compare the neighbours found only
        ref_ok = _agree(_ratio_with(radii, dist[sr, 1:], idx[sr, 1:]),
                        _ratio_with(radii, true_ref[0][:, 1:], true_ref[1][:, 1:]))
        cand_ok = _agree(_ratio_with(radii, *index.search(candidate[sc], wide)), _ratio_with(radii, *true_cand))
        wrong = np.r_[~(radius_ok & ref_ok), ~cand_ok].astype(float)
        share = float(wrong.mean())
        bound = share + 2.0 * float(np.sqrt(share * (1.0 - share) / len(wrong)))
        out.update({"knn_nprobe_tried": list(tried), "knn_recall": float(radius_ok.mean()),
                    "knn_wrong_share": share, "knn_error_bound": bound})
        if bound <= tolerance:
            return index, {**out, "knn_backend_used": "faiss", "knn_nprobe_used": p, "knn_fell_back": False}
        if share > 10 * tolerance:  # doubling within a quarter of the lists will not get there: search exactly
            break
        p *= 2
    exact = NeighborIndex(ref, method="exact")
    return exact, {**out, "knn_nprobe_tried": tried, "knn_backend_used": "exact", "knn_nprobe_used": None,
                   "knn_fell_back": True}


def _ratio_with(radii: np.ndarray, dist: np.ndarray, idx: np.ndarray) -> np.ndarray:
    return _ratio(dist, idx, radii[np.maximum(idx, 0)])


def _agree(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return (a == b) | (np.abs(a - b) <= _REL * np.abs(b) + 1e-12)


def _brute(points: np.ndarray, queries: np.ndarray, wide: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact ``wide`` nearest points of each query (distances ascending, indices), by brute force."""
    d2 = pairwise_sq_distances(np.asarray(queries, dtype=np.float64), np.asarray(points, dtype=np.float64))
    part = np.argpartition(d2, wide - 1, axis=1)[:, :wide]
    pd = np.take_along_axis(d2, part, axis=1)
    order = np.argsort(pd, axis=1, kind="stable")
    return np.sqrt(np.take_along_axis(pd, order, axis=1)), np.take_along_axis(part, order, axis=1)


def _ratio(dist: np.ndarray, idx: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Smallest distance / radius over each row's neighbours (missing neighbours: -1 indices)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(idx >= 0, np.where(r > 0, dist / r, np.where(dist > 0, np.inf, 0.0)), np.inf)
    return ratio.min(axis=1)
