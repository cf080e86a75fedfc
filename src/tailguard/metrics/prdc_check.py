"""Approximate PRDC that checks its own accuracy at run time, widening its probes or falling back.

:func:`~tailguard.metrics.prdc_kernels.cluster_prdc_stats` searches each k-means list
against its ``nprobe`` nearest lists only. On data of low intrinsic dimension that loses
nothing; on data of high intrinsic dimension (an isotropic 64-d Gaussian) the k nearest
neighbours are spread over most lists and density falls from 1.0 to 0.68.
:func:`checked_prdc_stats` therefore measures, on a seeded sample of ``sample`` points
per side, against brute force over the whole of both sides:

1. *before* searching, how many lists must be probed so that 99% of the sampled points
   have their k+1 own-side neighbours and their cross-side neighbours within their own
   exact k-NN radius in probed lists (their list ranks by centroid distance); when that is
   more than ``max_probe_share`` of the lists (a quarter: the kernel then costs about as
   much as exact float32 search), it searches exactly (``flat``) straight away;
2. *after* searching, the four statistics of each sampled point exactly, with the exact
   k-NN radii of every ball that could hold it (approximate radii are never smaller than
   exact ones, so the balls holding a point exactly are among those holding it with the
   approximate radii), and so the error of each of the four values: the mean
   approximate-minus-exact difference over the sample, plus two standard errors. When
   the largest of those bounds exceeds ``tolerance`` (0.01) the probes are doubled and
   the check repeated; beyond ``max_probe_share`` of the lists it falls back to exact
   float32 search.

The sampled points' exact values cost about ``2 sample · N · d`` for the distances
plus the exact radii of the balls that hold them (about ``2 k sample`` more points):
a few per cent of exact search at N = 50k, sample = 500. With no differing point in
a sample of 500, a share's error is below 0.006 (rule of three).

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> ref, cand = rng.normal(size=(3000, 32)), rng.normal(size=(3000, 32))
>>> stats, check = checked_prdc_stats(ref, cand, 5)
>>> check.backend, check.fell_back     # 32 isotropic dimensions: lists do not help
('flat', True)
>>> bool((stats.inside == flat_prdc_stats(ref, cand, 5).inside).all())
True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tailguard.metrics.knn import ExactIndex, exact_cross_stats, kth_neighbour_sq_radii
from tailguard.metrics.prdc_kernels import (
    ClusterLists,
    PRDCStats,
    cluster_lists,
    cluster_prdc_stats,
    sq_distances,
)

#: Largest tolerated bound on the error of each of the four values.
TOLERANCE = 0.01
#: Sampled points per side.
SAMPLE = 500
#: Beyond this share of the lists probed, exact float32 search is as cheap: fall back to it.
MAX_PROBE_SHARE = 0.25
#: The probes chosen before searching must capture every relation of this share of sampled points.
PREDICT_SHARE = 0.99
_SLACK = 1.0 + 1e-5  # float32 products of one pair differ in the last bits between block shapes
_ROWS = 256  # sampled rows per distance block

NAMES = ("precision", "recall", "density", "coverage")


@dataclass(frozen=True)
class KnnCheck:
    """What the self-check did: the backend used, the probes tried and the measured errors."""

    backend: str  #: ``"faiss"`` (checked approximate search) or ``"flat"`` (exact float32 search)
    nprobe: tuple[int, ...]  #: the probes tried, in order (empty when it searched exactly at once)
    predicted_nprobe: int  #: the probes the list ranks of the sampled neighbours asked for
    n_lists: int  #: k-means lists
    sample: int  #: sampled points per side
    recall: float | None  #: share of sampled points whose approximate k-NN radius is exact (last try)
    errors: dict[str, float] = field(default_factory=dict)  #: sampled mean error of each value (last try)
    error_bound: float | None = None  #: the largest error bound of the last try
    fell_back: bool = False  #: whether it searched exactly after all

    def details(self, prefix: str = "knn_") -> dict[str, Any]:
        """The check as flat ``details`` entries of a metric result."""
        out: dict[str, Any] = {
            f"{prefix}backend_used": self.backend,
            f"{prefix}nprobe_tried": list(self.nprobe),
            f"{prefix}nprobe_used": self.nprobe[-1] if self.backend == "faiss" else None,
            f"{prefix}nprobe_predicted": self.predicted_nprobe,
            f"{prefix}n_lists": self.n_lists,
            f"{prefix}check_sample": self.sample,
            f"{prefix}recall": self.recall,
            f"{prefix}error_bound": self.error_bound,
            f"{prefix}fell_back": self.fell_back,
        }
        out.update({f"{prefix}error_{n}": v for n, v in self.errors.items()})
        return out


def flat_prdc_stats(ref: np.ndarray, cand: np.ndarray, k: int) -> PRDCStats:
    """PRDC statistics by exact float32 search (faiss flat radii, BLAS cross blocks)."""
    ref_index = ExactIndex(ref, np.float32)
    ref_r2 = kth_neighbour_sq_radii(ref_index, ref, k)
    cand_r2 = kth_neighbour_sq_radii(ExactIndex(cand, np.float32), cand, k)
    inside, recalled, nearest = exact_cross_stats(ref_index, ref_r2, cand, cand_r2)
    return PRDCStats(ref_r2, cand_r2, inside, recalled, nearest)


def checked_prdc_stats(
    ref: np.ndarray,
    cand: np.ndarray,
    k: int,
    *,
    n_probe: int = 16,
    seed: int = 0,
    tolerance: float = TOLERANCE,
    sample: int = SAMPLE,
    max_probe_share: float = MAX_PROBE_SHARE,
) -> tuple[PRDCStats, KnnCheck]:
    """PRDC statistics by the cluster kernel, checked to ``tolerance`` (see the module docstring)."""
    lists = cluster_lists(ref, cand, seed=seed)
    n_r, n_c = len(ref), len(cand)
    rng = np.random.default_rng([seed, 0xC4EC])
    sr = np.sort(rng.choice(n_r, min(sample, n_r), replace=False))
    sc = n_r + np.sort(rng.choice(n_c, min(sample, n_c), replace=False))
    limit = max(1, int(max_probe_share * lists.n_lists))
    exact = _SampleTruth(lists, sr, sc, k)
    predicted = exact.needed_probes(PREDICT_SHARE)
    p = max(n_probe, 1)
    while p < predicted:
        p *= 2
    tried: list[int] = []
    check = KnnCheck("flat", (), predicted, lists.n_lists, len(sr), None)
    while p <= limit:
        stats = cluster_prdc_stats(ref, cand, k, n_probe=p, lists=lists)
        tried.append(p)
        errors, bounds, recall = exact.errors(stats)
        check = KnnCheck("faiss", tuple(tried), predicted, lists.n_lists, len(sr), recall, errors, float(max(bounds.values())))
        if check.error_bound is not None and check.error_bound <= tolerance:
            return stats, check
        p *= 2
    stats = flat_prdc_stats(ref, cand, k)
    return stats, KnnCheck(
        "flat", tuple(tried), predicted, lists.n_lists, len(sr), check.recall, check.errors, check.error_bound, True
    )


class _SampleTruth:
    """Exact neighbour facts of the sampled reference rows ``sr`` and candidate rows ``sc`` (pooled row numbers)."""

    def __init__(self, lists: ClusterLists, sr: np.ndarray, sc: np.ndarray, k: int):
        self.lists, self.sr, self.sc, self.k = lists, sr, sc, k
        n_r = lists.n_reference
        self.ref_side, self.cand_side = np.arange(n_r), np.arange(n_r, len(lists.x))
        # exact own radii ((k+1)-th smallest, the point itself included) and nearest cross distances
        self.ref_r2, self.ref_nn = self._own(sr, self.ref_side)
        self.cand_r2, self.cand_nn = self._own(sc, self.cand_side)
        self.nearest = np.concatenate([d.min(axis=1) for d in self._blocks(sr, self.cand_side)]).astype(np.float64)

    def _blocks(self, rows: np.ndarray, side: np.ndarray):
        x, xn = self.lists.x, self.lists.xn
        # the two sides are contiguous in the pooled rows (reference first): views, not a copy of
        # the whole side for every block
        if side is self.ref_side or side is self.cand_side:
            whole = slice(int(side[0]), int(side[-1]) + 1) if len(side) else slice(0, 0)
            sx, sxn = x[whole], xn[whole]
        else:
            sx, sxn = x[side], xn[side]
        for lo in range(0, len(rows), _ROWS):
            q = rows[lo : lo + _ROWS]
            yield sq_distances(x[q], xn[q], sx, sxn)

    def _own(self, rows: np.ndarray, side: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        kk = min(self.k + 1, len(side))
        r2, nn = [], []
        for d in self._blocks(rows, side):
            part = np.argpartition(d, kk - 1, axis=1)[:, :kk]
            r2.append(np.take_along_axis(d, part, axis=1).max(axis=1))
            nn.append(side[part])
        return np.concatenate(r2).astype(np.float64), np.concatenate(nn)

    def _radii(self, points: np.ndarray, side: np.ndarray) -> np.ndarray:
        """Exact squared k-NN radii of the pooled rows ``points`` within ``side``."""
        out = np.empty(len(points))
        for lo, d in zip(range(0, len(points), _ROWS), self._blocks(points, side), strict=True):
            out[lo : lo + len(d)] = np.partition(d, self.k, axis=1)[:, self.k]
        return out

    def needed_probes(self, share: float) -> int:
        """Probes that put every relation of ``share`` of the sampled points in searched lists."""
        ranks, lab, n_r = self.lists.list_ranks(), self.lists.label, self.lists.n_reference
        need = []
        for rows, nn, r2, side in ((self.sr, self.ref_nn, self.ref_r2, self.cand_side),
                                   (self.sc, self.cand_nn, self.cand_r2, self.ref_side)):
            a = lab[rows][:, None]
            own = np.minimum(ranks[a, lab[nn]], ranks[lab[nn], a]).max(axis=1)  # pass 1: either direction
            cross = np.zeros(len(rows), dtype=np.int64)
            for lo, d in zip(range(0, len(rows), _ROWS), self._blocks(rows, side), strict=True):
                for i, row in enumerate(d):
                    near = side[row <= r2[lo + i]]
                    if len(near) == 0:
                        near = side[[int(row.argmin())]]
                    a_i = lab[rows[lo + i]]
                    # pass 2 searches each candidate list against the reference points of its probed lists
                    r = ranks[lab[near], a_i] if rows[lo + i] < n_r else ranks[a_i, lab[near]]
                    cross[lo + i] = r.max()
            need.append(np.maximum(own, cross) + 1)
        return int(np.quantile(np.concatenate(need), share, method="higher"))

    def errors(self, s: PRDCStats) -> tuple[dict[str, float], dict[str, float], float]:
        """Sampled mean error of each value, its bound (|mean| + 2 standard errors), and the radius recall."""
        k, n_r = self.k, self.lists.n_reference
        # candidates: reference balls holding them, exactly
        inside = self._holding(self.sc, self.ref_side, s.ref_sq_radii, lambda d, r: (d <= r).sum(axis=1))
        # reference points: held by some candidate ball, exactly
        held = self._holding(self.sr, self.cand_side, s.cand_sq_radii, lambda d, r: (d <= r).any(axis=1))
        ci, ri = self.sc - n_r, self.sr
        diffs = {
            "precision": (s.inside[ci] > 0).astype(float) - (inside > 0),
            "recall": s.recalled[ri].astype(float) - held,
            "density": (s.inside[ci] - inside) / k,
            "coverage": (s.nearest[ri] <= s.ref_sq_radii[ri]).astype(float) - (self.nearest <= self.ref_r2),
        }
        means = {n: float(diffs[n].mean()) for n in NAMES}
        bounds = {
            n: abs(means[n]) + 2.0 * (float(diffs[n].std(ddof=1)) / np.sqrt(len(diffs[n])) if len(diffs[n]) > 1 else 1.0)
            for n in NAMES
        }
        same = np.r_[np.abs(s.ref_sq_radii[ri] - self.ref_r2) <= 1e-5 * self.ref_r2 + 1e-12,
                     np.abs(s.cand_sq_radii[ci] - self.cand_r2) <= 1e-5 * self.cand_r2 + 1e-12]
        return means, bounds, float(same.mean())

    def _holding(self, rows: np.ndarray, side: np.ndarray, approx_r2: np.ndarray, reduce) -> np.ndarray:
        """``reduce(distances, exact radii)`` over the balls of ``side`` that hold each sampled row.

        ``approx_r2`` are the side's approximate radii (indexed by position in ``side``):
        an exact radius is never larger, so only balls holding the row with them need exact radii.
        """
        blocks = list(self._blocks(rows, side))
        cand = np.unique(np.concatenate([np.flatnonzero((d <= approx_r2[None, :] * _SLACK).any(axis=0))
                                         for d in blocks]))
        exact = np.full(len(side), -1.0)
        exact[cand] = self._radii(side[cand], side)
        return np.concatenate([reduce(d, exact[None, :]) for d in blocks])
