"""Exact PRDC neighbour statistics on k-means lists, pruned by the triangle inequality.

Both sides are pooled and clustered as for the approximate kernel
(:func:`~tailguard.metrics.prdc_kernels.cluster_lists`). Every point of a list B lies
within ρ_B of the list's centroid c_B, so no point of B is nearer to a point q than
``||q - c_B|| - ρ_B``. A list is skipped for q only when that bound proves it holds
nothing q needs:

- pass 1 (each side's k-NN radii): each list is searched against its ``n_probe`` nearest
  lists, which gives each of its points an upper bound U on its radius (the (k+1)-th
  smallest distance among the points seen, the point itself included, as in ``prdc``);
  then every other list whose bound is below √U for some point is searched too. No list
  left out can hold a point nearer than U, so the radii are exact.
- pass 2 (cross): a candidate list is compared with a reference list when some candidate
  of it could lie in some reference ball of the other (the bound is below that list's
  largest reference radius), or some reference point in some candidate ball (the converse).
  So every pair inside a ball is computed: the ball counts (precision, density), recall
  and coverage are exact.

The distances computed are the flat backend's (float32 BLAS, round-off below 1e-6 of the
squared norms snapped to 0); the bounds carry a margin for float32 round-off.
Nothing is approximate, so nothing needs a self-check. What it costs depends on the data:
on clustered data a small share of the N² distances, on data with no cluster structure
(an isotropic Gaussian) all of them, as the flat backend; ``pair_share`` says which.

>>> import numpy as np
>>> from tailguard.metrics.prdc_check import flat_prdc_stats
>>> rng = np.random.default_rng(0)
>>> centres = rng.normal(scale=20.0, size=(20, 16))
>>> ref = centres[rng.integers(0, 20, 2000)] + rng.normal(size=(2000, 16))
>>> cand = centres[rng.integers(0, 20, 2000)] + rng.normal(size=(2000, 16))
>>> s, search = bounded_prdc_stats(ref, cand, 5)
>>> flat = flat_prdc_stats(ref, cand, 5)
>>> def values(s):
...     return np.array([(s.inside > 0).mean(), s.recalled.mean(), s.inside.mean() / 5,
...                      (s.nearest <= s.ref_sq_radii).mean()])
>>> float(np.abs(values(s) - values(flat)).max()) < 1e-3  # equal but for pairs on a ball's edge
True
>>> search.pair_share < 0.5      # the lists far apart were never compared
True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from tailguard.metrics.prdc_check import flat_prdc_stats
from tailguard.metrics.prdc_kernels import ClusterLists, PRDCStats, cluster_lists, map_over_lists, sq_distances

#: Beyond this share of the own-side pairs to compute, exact search costs less than the bounds save.
MAX_SHARE = 0.5
#: Margin on the bounds, relative to the largest squared norm: float32 distances err by less.
_MARGIN = 1e-5
_ROWS = 8192  # rows per block of point-to-centroid distances


@dataclass(frozen=True)
class BoundedSearch:
    """What the pruned exact search computed."""

    n_lists: int  #: k-means lists
    pair_share: float  #: distances computed, as a share of all own and cross pairs
    fell_back: bool = False  #: whether the bounds ruled out too little, so it searched exactly (flat)

    def details(self, prefix: str = "knn_") -> dict[str, Any]:
        """The search as flat ``details`` entries of a metric result."""
        return {f"{prefix}backend_used": "flat" if self.fell_back else "bounded", f"{prefix}n_lists": self.n_lists,
                f"{prefix}pair_share": round(self.pair_share, 6), f"{prefix}fell_back": self.fell_back}


def list_count(n: int) -> int:
    """k-means lists for ``n`` pooled points: 2√n, at most 256 (finer lists rule out more pairs,
    but cost more to cluster), at least 39 points a list (faiss's minimum).

    >>> list_count(20_000), list_count(1_000)
    (256, 25)
    """
    return max(1, min(round(2 * n**0.5), 256, n // 39))


def _centroid_distances(lists: ClusterLists, cn: np.ndarray) -> np.ndarray:
    """Distance of every pooled point to every centroid, float32 (its rounding is far inside the
    bounds' slack; float64 would double the largest array here, 100k x 256 at 50k rows a side)."""
    c = lists.centroids  # cn: their squared norms
    out = np.empty((len(lists.x), len(c)), dtype=np.float32)
    for lo in range(0, len(lists.x), _ROWS):
        d = sq_distances(lists.x[lo : lo + _ROWS], lists.xn[lo : lo + _ROWS], c, cn)
        out[lo : lo + len(d)] = np.sqrt(d)
    return out


def _spread(members: list[np.ndarray], to_centroid: np.ndarray) -> np.ndarray:
    """ρ of each list: its members' largest distance to its centroid (-inf when it has none)."""
    return np.array([to_centroid[m, c].max() if len(m) else -np.inf for c, m in enumerate(members)])


def _lower_sq(to_centroid: np.ndarray, rho: np.ndarray, slack: float) -> np.ndarray:
    """Squared lower bounds on the distance from each row's point to any member of each list;
    ``slack`` covers the float32 error of a point-to-centroid distance, twice (``to_centroid``
    and ``rho`` both carry it)."""
    return np.square(np.maximum(to_centroid - rho[None, :] - 2.0 * slack, 0.0))


def bounded_prdc_stats(
    ref: np.ndarray,
    cand: np.ndarray,
    k: int,
    *,
    n_probe: int = 4,
    seed: int = 0,
    lists: ClusterLists | None = None,
    max_share: float = MAX_SHARE,
) -> tuple[PRDCStats, BoundedSearch]:
    """Exact PRDC statistics of ``cand`` against ``ref`` by pruned list search (module docstring).

    ``n_probe`` lists are searched first for each list's radii (a cost knob: the result does
    not depend on it); ``seed`` seeds k-means into ``list_count(len(ref) + len(cand))`` lists;
    ``lists`` (from :func:`cluster_lists` on the same sides) skips the clustering. When the
    first pass would compute more than ``max_share`` of its pairs anyway, the bounds are not
    worth their cost and it searches exactly
    (:func:`~tailguard.metrics.prdc_check.flat_prdc_stats`). ``nearest`` is exact wherever a
    reference point's nearest candidate lies in its ball (all that coverage reads); beyond,
    it is the nearest among the lists searched.
    """
    if lists is None:
        lists = cluster_lists(ref, cand, n_lists=list_count(len(ref) + len(cand)), seed=seed)
    x, xn, n_r = lists.x, lists.xn, lists.n_reference
    n, n_lists = len(x), lists.n_lists
    cn = np.einsum("ij,ij->i", lists.centroids, lists.centroids)
    margin = _MARGIN * float(xn.max(initial=0.0) + cn.max())
    slack = float(np.sqrt(margin))  # a squared distance off by at most margin: its root by at most this
    to_centroid = _centroid_distances(lists, cn)
    by_centroid = np.argsort(sq_distances(lists.centroids, cn, lists.centroids, cn), axis=1, kind="stable")
    computed = 0

    def first_round(members: list[np.ndarray], a: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
        """List ``a``'s points against its nearest lists: the kk smallest distances seen, the
        radii's upper bounds, and the other lists that may hold something nearer."""
        q, kk = members[a], k + 1
        first = by_centroid[a, : min(n_probe, n_lists)]
        cols = np.concatenate([members[b] for b in first])
        d = sq_distances(x[q], xn[q], x[cols], xn[cols])
        top = d if d.shape[1] <= kk else np.partition(d, kk - 1, axis=1)[:, :kk]
        u = np.partition(top, kk - 1, axis=1)[:, kk - 1].astype(np.float64) if top.shape[1] >= kk \
            else np.full(len(q), np.inf)
        need = _lower_sq(to_centroid[q], rho[id(members)], slack) <= u[:, None] + margin
        need[:, first] = False
        return top, u, need, np.flatnonzero(need.any(axis=0)), d.size

    def second_round(members: list[np.ndarray], a: int, top: np.ndarray, u: np.ndarray, need: np.ndarray,
                     extra: np.ndarray) -> tuple[np.ndarray, int]:
        """The radii of list ``a``'s points, exact: the lists the bounds could not rule out searched too."""
        if not len(extra):
            return u, 0
        q, kk = members[a], k + 1
        rows = np.flatnonzero(need[:, extra].any(axis=1))
        cols = np.concatenate([members[b] for b in extra])
        d = sq_distances(x[q[rows]], xn[q[rows]], x[cols], xn[cols])
        both = np.concatenate([top[rows], d], axis=1)
        if both.shape[1] >= kk:
            u = u.copy()
            u[rows] = np.partition(both, kk - 1, axis=1)[:, kk - 1]
        return u, d.size

    ref_members, cand_members = lists.ref_members, lists.cand_members
    rho = {id(m): _spread(m, to_centroid) for m in (ref_members, cand_members)}
    sides = [(members, a) for members in (ref_members, cand_members) for a in range(n_lists) if len(members[a])]
    firsts = map_over_lists(lambda i: first_round(*sides[i]), range(len(sides)))

    def planned(members: list[np.ndarray], first: tuple[Any, ...]) -> int:
        """Pairs pass 1 computes for one list: its first round, and its rows that need more lists
        against the points of those lists."""
        _, _, need, extra, spent = first
        return spent + int(need[:, extra].any(axis=1).sum()) * sum(len(members[b]) for b in extra)

    to_compute = sum(planned(members, f) for (members, _), f in zip(sides, firsts, strict=True))
    n_c = n - n_r
    if to_compute > max_share * (n_r * n_r + n_c * n_c):  # the bounds rule out too little: exact search is cheaper
        return flat_prdc_stats(ref, cand, k), BoundedSearch(n_lists, 1.0, True)
    r2 = np.full(n, np.inf)
    for (members, a), f, (u, spent) in zip(
        sides, firsts, map_over_lists(lambda i: second_round(*sides[i], *firsts[i][:4]), range(len(sides))),
        strict=True,
    ):
        r2[members[a]] = u
        computed += f[4] + spent

    # Pass 2: which (candidate list, reference list) pairs can hold a pair inside a ball.
    rho_ref, rho_cand = rho[id(ref_members)], rho[id(cand_members)]
    widest_ref = np.array([r2[m].max() if len(m) else -np.inf for m in ref_members]) + margin
    widest_cand = np.array([r2[m].max() if len(m) else -np.inf for m in cand_members]) + margin
    in_ref_ball = np.zeros((n_lists, n_lists), dtype=bool)  # [candidate list, reference list]
    in_cand_ball = np.zeros((n_lists, n_lists), dtype=bool)
    for a in range(n_lists):
        if len(cand_members[a]):
            in_ref_ball[a] = (_lower_sq(to_centroid[cand_members[a]], rho_ref, slack) <= widest_ref[None, :]).any(axis=0)
        if len(ref_members[a]):  # reference list a: the candidate lists whose balls may reach it
            in_cand_ball[:, a] = (_lower_sq(to_centroid[ref_members[a]], rho_cand, slack) <= widest_cand[None, :]).any(axis=0)
    compare = in_ref_ball | in_cand_ball
    r2f = r2.astype(np.float32)
    inside = np.zeros(n, dtype=np.int64)
    recalled = np.zeros(n, dtype=bool)
    nearest = np.full(n, np.inf, dtype=np.float32)

    def cross(a: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
        q = cand_members[a]
        cols = np.concatenate([ref_members[b] for b in np.flatnonzero(compare[a])])
        d = sq_distances(x[q], xn[q], x[cols], xn[cols])
        return (q, (d <= r2f[cols][None, :]).sum(axis=1), cols, (d <= r2f[q][:, None]).any(axis=0),
                d.min(axis=0, initial=np.inf), d.size)

    todo = [a for a in range(n_lists) if len(cand_members[a]) and compare[a].any()]
    for q, held, cols, rec, low, s in map_over_lists(cross, todo):
        inside[q] += held
        recalled[cols] |= rec  # cols are distinct within a candidate list
        nearest[cols] = np.minimum(nearest[cols], low)
        computed += s
    stats = PRDCStats(ref_sq_radii=r2[:n_r], cand_sq_radii=r2[n_r:], inside=inside[n_r:], recalled=recalled[:n_r],
                      nearest=nearest[:n_r].astype(np.float64))
    return stats, BoundedSearch(n_lists, computed / float(n_r * n_r + n_c * n_c + n_r * n_c))
