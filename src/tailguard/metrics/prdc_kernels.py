"""Approximate PRDC neighbour statistics: cluster-blocked exact search (faiss k-means + BLAS).

Both sets are pooled and clustered with faiss k-means into about √N lists (at most 128).
Each list is then searched, with dense float32 BLAS blocks, against the points of
its ``n_probe`` nearest lists (by centroid), so every product is a large matrix
multiply over a few per cent of the pairs instead of all N² of them:

- pass 1: k-NN radii of each set within its own points of the probed lists
  (the (k+1)-th smallest squared distance, the point itself included, as in
  ``prdc``), one product per unordered pair of lists, used for both;
- pass 2: one candidate x reference block per list gives, at once, the number of
  reference balls holding each candidate (precision, density), whether a
  candidate ball holds each reference point (recall) and each reference point's
  nearest candidate (coverage).

The balls with the largest 1% of radii on each side (where a missed neighbour
inflates a radius, and where a ball can reach beyond the probed lists) get their
radii again by brute force over their own side, and are checked against the
whole other side by brute force. The result is approximate only in which far pairs are never looked at; the
distances computed are exact float32 (round-off below 1e-6 of the squared norms
snapped to 0, so duplicates tie at 0 and ``<=`` counts them).

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> ref, cand = rng.normal(size=(400, 8)), rng.normal(size=(400, 8))
>>> s = cluster_prdc_stats(ref, cand, k=5, n_probe=64)
>>> s.inside.shape, s.recalled.shape, s.nearest.shape
((400,), (400,), (400,))
>>> bool((s.nearest <= s.ref_sq_radii).mean() > 0.9)
True
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from tailguard.dependencies import require

_FLOOR = 1e-6  # float32 round-off floor, relative to the squared norms
_BLOCK_ROWS = 8192  # query rows per brute-force block (big balls)
_T = TypeVar("_T")


def map_over_lists(fn: Callable[[int], _T], items: Iterable[int]) -> list[_T]:
    """``fn`` over the lists: on as many threads as BLAS may use, each running one-thread BLAS
    (small products scale better over lists than within one product)."""
    workers = max([i["num_threads"] for i in threadpool_info() if i.get("user_api") == "blas"] or [1])
    if workers <= 1:
        return [fn(i) for i in items]
    with threadpool_limits(1, user_api="blas"), ThreadPoolExecutor(workers) as pool:
        return list(pool.map(fn, items))


@dataclass(frozen=True)
class PRDCStats:
    """Per-point neighbour statistics from which precision, recall, density and coverage follow."""

    ref_sq_radii: np.ndarray  #: squared k-NN radius of each reference point
    cand_sq_radii: np.ndarray  #: squared k-NN radius of each candidate
    inside: np.ndarray  #: number of reference balls holding each candidate (int64)
    recalled: np.ndarray  #: whether some candidate ball holds each reference point (bool)
    #: squared distance from each reference point to its nearest candidate (from the bounded
    #: search, exact where that candidate lies in the point's ball: all that coverage reads)
    nearest: np.ndarray


def _sq_dist(q: np.ndarray, qn: np.ndarray, x: np.ndarray, xn: np.ndarray) -> np.ndarray:
    d = q @ x.T
    d *= -2.0
    d += qn[:, None]
    d += xn[None, :]
    floor = _FLOOR * (float(qn.max(initial=0.0)) + float(xn.max(initial=0.0)))
    np.copyto(d, np.float32(0.0), where=d <= floor)
    return d


def sq_distances(q: np.ndarray, qn: np.ndarray, x: np.ndarray, xn: np.ndarray) -> np.ndarray:
    """Squared distances between the rows of ``q`` and ``x`` (with their squared norms ``qn``, ``xn``),
    as the kernel computes them: float32 BLAS, round-off below 1e-6 of the squared norms snapped to 0.

    >>> import numpy as np
    >>> q, x = np.array([[0.0, 0.0]], np.float32), np.array([[3.0, 4.0]], np.float32)
    >>> sq_distances(q, (q * q).sum(1), x, (x * x).sum(1)).tolist()
    [[25.0]]
    """
    return _sq_dist(q, qn, x, xn)


def _kth(q: np.ndarray, qn: np.ndarray, x: np.ndarray, xn: np.ndarray, k: int) -> np.ndarray:
    """k-th smallest squared distance (1-based, float64) from each row of q to the rows of x."""
    if len(x) < k:
        return np.full(len(q), np.inf)
    out = np.empty(len(q))
    step = max(1, 2**24 // max(1, len(x)))
    for lo in range(0, len(q), step):
        d = _sq_dist(q[lo : lo + step], qn[lo : lo + step], x, xn)
        out[lo : lo + len(d)] = np.partition(d, k - 1, axis=1)[:, k - 1]
    return out


def _probe_lists(centroids: np.ndarray, ref_count: np.ndarray, cand_count: np.ndarray, n_probe: int, need: int):
    """For each list, its nearest lists by centroid: at least ``n_probe`` of them, and enough
    that both sides have ``need`` points there."""
    cn = np.einsum("ij,ij->i", centroids, centroids)
    order = np.argsort(_sq_dist(centroids, cn, centroids, cn), axis=1, kind="stable")
    out = []
    for row in order:
        cr, cc = np.cumsum(ref_count[row]), np.cumsum(cand_count[row])
        enough = np.flatnonzero((cr >= need) & (cc >= need))
        m = max(n_probe, int(enough[0]) + 1 if len(enough) else len(row))
        out.append(row[:m])
    return out


def _own_radii(
    x: np.ndarray, xn: np.ndarray, own: list[np.ndarray], probes: list[np.ndarray], kk: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """The kk-th smallest squared distance of each point of one side to that side's points in
    the probed lists. Each unordered pair of lists is one product, used for both lists' rows."""
    pairs = sorted({(min(c, j), max(c, j)) for c in range(len(own)) for j in probes[c] if len(own[c]) and len(own[j])})

    def block(i: int) -> tuple[np.ndarray, np.ndarray | None]:
        c, j = pairs[i]
        d = _sq_dist(x[own[c]], xn[own[c]], x[own[j]], xn[own[j]])
        # copies: a slice would keep the whole block alive
        rows = d if d.shape[1] <= kk else np.partition(d, kk - 1, axis=1)[:, :kk].copy()
        if c == j:
            return rows, None
        return rows, (d if d.shape[0] <= kk else np.partition(d, kk - 1, axis=0)[:kk]).T.copy()

    tops: list[list[np.ndarray]] = [[] for _ in own]
    for (c, j), (rows, cols) in zip(pairs, map_over_lists(block, range(len(pairs))), strict=True):
        tops[c].append(rows)
        if cols is not None:
            tops[j].append(cols)
    out = []
    for c, q in enumerate(own):
        if len(q):
            t = np.concatenate(tops[c], axis=1)
            r = np.partition(t, kk - 1, axis=1)[:, kk - 1].astype(np.float64) if t.shape[1] >= kk else np.inf
            out.append((q, np.broadcast_to(r, (len(q),))))
    return out


@dataclass(frozen=True)
class ClusterLists:
    """Both sides pooled (float32, centred, reference rows first) and split into k-means lists."""

    x: np.ndarray  #: pooled points, float32, minus their mean
    xn: np.ndarray  #: their squared norms
    n_reference: int  #: rows of ``x`` that are reference points
    centroids: np.ndarray  #: one row per list
    label: np.ndarray  #: list of each pooled point
    ref_members: list[np.ndarray]  #: pooled row numbers of the reference points of each list
    cand_members: list[np.ndarray]  #: pooled row numbers of the candidates of each list

    @property
    def n_lists(self) -> int:
        return len(self.centroids)

    def list_ranks(self) -> np.ndarray:
        """``ranks[a, b]``: position of list ``b`` among list ``a``'s lists ordered by centroid distance."""
        cn = np.einsum("ij,ij->i", self.centroids, self.centroids)
        order = np.argsort(_sq_dist(self.centroids, cn, self.centroids, cn), axis=1, kind="stable")
        ranks = np.empty_like(order)
        np.put_along_axis(ranks, order, np.arange(self.n_lists)[None, :], axis=1)
        return ranks


def cluster_lists(ref: np.ndarray, cand: np.ndarray, *, n_lists: int | None = None, seed: int = 0) -> ClusterLists:
    """Pool both sides and cluster them with faiss k-means into ``n_lists`` lists
    (default √(len(ref) + len(cand)), at most 128, at least 39 points per list)."""
    faiss = require("faiss", extra="all", feature="approximate PRDC")
    x = np.vstack([ref, cand]).astype(np.float32)
    # centred: distances are the same, and float32 products err in proportion to the norms
    x -= x.mean(axis=0, dtype=np.float64).astype(np.float32)
    n_r, n = len(ref), len(ref) + len(cand)
    xn = np.einsum("ij,ij->i", x, x)
    # At most 128 lists, so that 16 probed lists see >= 1/8 of the pairs (fewer lost near pairs).
    n_lists = min(n_lists or min(round(math.sqrt(n)), 128), n // 39)  # faiss wants >= 39 points per list
    n_lists = max(1, n_lists)
    km = faiss.Kmeans(x.shape[1], n_lists, niter=10, seed=int(seed), max_points_per_centroid=32, verbose=False)
    km.train(x)
    _, lab = km.index.search(x, 1)
    lab = lab[:, 0]
    order = np.argsort(lab, kind="stable")
    bounds = np.searchsorted(lab[order], np.arange(n_lists + 1))
    members = [order[bounds[c] : bounds[c + 1]] for c in range(n_lists)]
    return ClusterLists(
        x=x,
        xn=xn,
        n_reference=n_r,
        centroids=np.ascontiguousarray(km.centroids),
        label=lab,
        ref_members=[m[m < n_r] for m in members],
        cand_members=[m[m >= n_r] for m in members],
    )


def cluster_prdc_stats(
    ref: np.ndarray,
    cand: np.ndarray,
    k: int,
    *,
    n_probe: int = 16,
    n_lists: int | None = None,
    seed: int = 0,
    big_fraction: float = 0.01,
    lists: ClusterLists | None = None,
) -> PRDCStats:
    """Approximate PRDC statistics of ``cand`` against ``ref`` (see the module docstring).

    ``n_lists`` defaults to √(len(ref) + len(cand)), at most 128; ``n_probe`` lists (centroid
    neighbours, the list itself first) are searched per list. ``seed`` seeds k-means.
    ``lists`` (from :func:`cluster_lists` on the same ``ref`` and ``cand``) skips the clustering.
    """
    if lists is None:
        lists = cluster_lists(ref, cand, n_lists=n_lists, seed=seed)
    x, xn, n_r = lists.x, lists.xn, lists.n_reference
    n, n_lists = len(x), lists.n_lists
    ref_members, cand_members = lists.ref_members, lists.cand_members
    probes = _probe_lists(
        lists.centroids,
        np.array([len(m) for m in ref_members]),
        np.array([len(m) for m in cand_members]),
        min(n_probe, n_lists),
        k + 1,
    )

    # Pass 1: k-NN radii of each side among its own points in the probed lists.
    r2 = np.full(n, np.inf)
    for own in (ref_members, cand_members):
        for q, r in _own_radii(x, xn, own, probes, k + 1):
            r2[q] = r
    ref_r2, cand_r2 = r2[:n_r], r2[n_r:]

    # The largest balls on each side are checked against the whole other side.
    big = np.zeros(n, dtype=bool)
    for lo, hi in ((0, n_r), (n_r, n)):
        if hi - lo >= 100:
            big[lo:hi] = r2[lo:hi] > np.quantile(r2[lo:hi], 1.0 - big_fraction)
    for lo, hi in ((0, n_r), (n_r, n)):  # their radii exactly: a missed neighbour inflates a ball
        q = lo + np.flatnonzero(big[lo:hi])
        if len(q):
            r2[q] = _kth(x[q], xn[q], x[lo:hi], xn[lo:hi], k + 1)
    r2_small = np.where(big, -1.0, r2).astype(np.float32)  # -1: never <=, counted by brute force
    r2f = r2.astype(np.float32)

    # Pass 2: candidate rows of each list x reference points of its probed lists.
    inside = np.zeros(n, dtype=np.int64)
    recalled = np.zeros(n, dtype=bool)
    nearest = np.full(n, np.inf, dtype=np.float32)

    def cross(c: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        q = cand_members[c]
        cols = np.concatenate([ref_members[j] for j in probes[c]])
        d = _sq_dist(x[q], xn[q], x[cols], xn[cols])
        held = (d <= r2_small[cols][None, :]).sum(axis=1)
        return q, held, cols, (d <= r2_small[q][:, None]).any(axis=0), d.min(axis=0)

    for q, held, cols, rec, low in map_over_lists(cross, [c for c in range(n_lists) if len(cand_members[c])]):
        inside[q] += held
        recalled[cols] |= rec  # cols are distinct within a list
        nearest[cols] = np.minimum(nearest[cols], low)

    all_ref, all_cand = np.arange(n_r), np.arange(n_r, n)
    big_ref, big_cand = np.flatnonzero(big[:n_r]), n_r + np.flatnonzero(big[n_r:])
    if len(big_ref):
        for lo in range(0, len(all_cand), _BLOCK_ROWS):
            q = all_cand[lo : lo + _BLOCK_ROWS]
            d = _sq_dist(x[q], xn[q], x[big_ref], xn[big_ref])
            inside[q] += (d <= r2f[big_ref][None, :]).sum(axis=1)
    if len(big_cand):
        for lo in range(0, len(all_ref), _BLOCK_ROWS):
            q = all_ref[lo : lo + _BLOCK_ROWS]
            d = _sq_dist(x[q], xn[q], x[big_cand], xn[big_cand])
            recalled[q] |= (d <= r2f[big_cand][None, :]).any(axis=1)
    return PRDCStats(
        ref_sq_radii=ref_r2,
        cand_sq_radii=cand_r2,
        inside=inside[n_r:],
        recalled=recalled[:n_r],
        nearest=nearest[:n_r].astype(np.float64),
    )
