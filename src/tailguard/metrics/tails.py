"""Tail metrics: per-feature tail mass and rare-mode coverage.

Tails go first because they are what recursive training loses first: a 2%
shrink of the standard deviation barely moves means, medians or PSI, but it
empties the regions beyond the reference's 1%/99% quantiles.

>>> import numpy as np
>>> from tailguard.metrics.tails import TailMass
>>> rng = np.random.default_rng(0)
>>> ref, cand = rng.normal(size=(5000, 3)), 0.8 * rng.normal(size=(5000, 3))
>>> r = TailMass(n_boot=50).update_reference(ref).update(cand).result()
>>> v = r.value("tail_mass_0.01")
>>> round(v.reference_value, 3), v.ratio < 0.5
(0.02, True)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from statistics import NormalDist
from typing import Any, ClassVar

import numpy as np

from tailguard.metrics.base import MetricValue, register_metric
from tailguard.metrics.bootstrap import bootstrap_ci, wilson_ci
from tailguard.metrics.knn import (
    build_index,
    choose_backend,
    kth_nearest_sq_distance,
    kth_neighbour_sq_radii,
    nearest_sq_distance,
)
from tailguard.metrics.vectors import (
    COMMON_DEFAULTS,
    COMMON_PARAMS,
    VECTOR_MODALITIES,
    VectorMetric,
    equal_n,
    require_rows,
)
from tailguard.validation import Bool, Float, FloatTuple, Int, OneOf

KNN_PARAMS = {
    "knn": OneOf(("auto", "exact", "flat", "faiss")),
    "exact_max": Int(min=1),
    "flat_max": Int(min=1, optional=True),
    "nprobe": Int(min=1),
}
#: ``flat_max`` None: ``auto`` searches exactly (faiss flat, float32) at any size. The tail
#: scores are k-th neighbour distances, which an IVF index overestimates on data of high
#: intrinsic dimension (the PRDC figures in docs/metrics.md), and nothing checks it here: an
#: approximate search is an explicit choice (``flat_max``, or ``knn="faiss"``).
KNN_DEFAULTS = {"knn": "auto", "exact_max": 5000, "flat_max": None, "nprobe": 16}


@register_metric
class TailMass(VectorMetric):
    """Mass of the candidate beyond the reference's α and 1−α quantiles, per feature.

    For each α and feature j, the reference's exact quantiles ``q_j(α)`` and
    ``q_j(1−α)`` (``numpy.quantile``, linear) are taken from the stored reference
    rows, and a row is in the tail when ``x_j < q_j(α)`` or ``x_j > q_j(1−α)``.
    The value ``tail_mass_<α>`` is the candidate's tail mass pooled over features
    (tail cells / (rows x features), over the features whose reference tail mass
    is not zero); ``reference_value`` is the reference's own pooled tail mass by
    the same rule (about 2α), so ``ratio`` is the pooled tail-mass ratio: 1 for a
    sample of the same distribution, below 1 when tails are lost. The CI is a
    seeded percentile bootstrap over candidate rows (reference quantiles held
    fixed). Tail mass does not depend on N, so no subsampling is needed.

    ``details`` has, per α, the per-feature masses of both sides, and histogram
    data of the ``n_hist_features`` features with the lowest ratio at the
    smallest α (for the report's tail figure).
    """

    name: ClassVar[str] = "tail_mass"
    family: ClassVar[str] = "tails"
    modalities: ClassVar[tuple[str, ...]] = (*VECTOR_MODALITIES, "detection")
    order: ClassVar[int] = 10
    order_in: ClassVar[dict[str, int]] = {"detection": 90}  # after the label and category metrics
    value_names: ClassVar[tuple[str, ...]] = ("tail_mass_0.01", "tail_mass_0.05")

    @classmethod
    def output_names(cls, params: Mapping[str, Any] | None = None) -> tuple[str, ...]:
        alphas = sorted(float(a) for a in {**cls.defaults, **(params or {})}["alphas"])
        return tuple(f"tail_mass_{a:g}" for a in alphas)
    higher_is_better: ClassVar[bool] = True
    params = {
        **COMMON_PARAMS,
        "alphas": FloatTuple(min=0.0, max=0.5),
        "n_boot": Int(min=10),
        "n_hist_features": Int(min=0),
        "hist_bins": Int(min=2),
    }
    defaults = {
        **COMMON_DEFAULTS,
        "max_samples": 200_000,
        "alphas": (0.01, 0.05),
        "n_boot": 200,
        "n_hist_features": 4,
        "hist_bins": 40,
    }

    def _compute(self, cand: np.ndarray, ref: np.ndarray | None) -> tuple[list[MetricValue], dict[str, Any]]:
        assert ref is not None
        p = self._params
        values: list[MetricValue] = []
        details: dict[str, Any] = {"alphas": [float(a) for a in p["alphas"]]}
        worst_ratio: np.ndarray | None = None
        for alpha in sorted(float(a) for a in p["alphas"]):
            lo, hi = np.quantile(ref, [alpha, 1 - alpha], axis=0)
            ref_counts = ((ref < lo) | (ref > hi)).sum(axis=0)
            cand_tail = (cand < lo) | (cand > hi)
            informative = ref_counts > 0
            n_inf = int(informative.sum())
            cand_mass = cand_tail.mean(axis=0)
            ref_mass = ref_counts / len(ref)
            key = f"{alpha:g}"
            details[f"candidate_mass_{key}"] = cand_mass.tolist()
            details[f"reference_mass_{key}"] = ref_mass.tolist()
            if n_inf == 0:
                continue
            per_row = cand_tail[:, informative].sum(axis=1).astype(np.float64) / n_inf
            value = float(per_row.mean())
            ref_value = float(ref_counts[informative].sum() / (len(ref) * n_inf))
            ci = bootstrap_ci(
                lambda idx, pr=per_row: float(pr[idx].mean()),
                len(per_row),
                n_boot=p["n_boot"],
                seed=p["seed"],
                level=p["ci_level"],
                value=value,
            )
            # Judged only where about 5 rows per feature are expected beyond the two quantiles.
            values.append(MetricValue(f"tail_mass_{key}", value, True, ref_value, ci, "bootstrap",
                                      min_n=math.ceil(2.5 / alpha)))
            if worst_ratio is None:
                ratio = np.where(informative, cand_mass / np.where(informative, ref_mass, 1.0), np.inf)
                worst_ratio = ratio
        details.update(self._histograms(cand, ref, worst_ratio))
        return values, details

    def _histograms(self, cand: np.ndarray, ref: np.ndarray, ratio: np.ndarray | None) -> dict[str, Any]:
        p = self._params
        if ratio is None or p["n_hist_features"] == 0:
            return {"worst_features": []}
        worst = [int(j) for j in np.argsort(ratio, kind="stable")[: p["n_hist_features"]] if np.isfinite(ratio[j])]
        out: dict[str, Any] = {"worst_features": worst}
        for rank, j in enumerate(worst):
            lo = float(min(ref[:, j].min(), cand[:, j].min()))
            hi = float(max(ref[:, j].max(), cand[:, j].max()))
            edges = np.linspace(lo, hi if hi > lo else lo + 1.0, p["hist_bins"] + 1)
            out[f"hist_{rank}_feature"] = j
            out[f"hist_{rank}_ratio"] = float(ratio[j])
            out[f"hist_{rank}_edges"] = edges.tolist()
            out[f"hist_{rank}_reference"] = np.histogram(ref[:, j], edges, density=True)[0].tolist()
            out[f"hist_{rank}_candidate"] = np.histogram(cand[:, j], edges, density=True)[0].tolist()
            q = np.quantile(ref[:, j], [min(p["alphas"]), 1 - min(p["alphas"])])
            out[f"hist_{rank}_quantiles"] = [float(q[0]), float(q[1])]
        return out


@register_metric
class RareModeCoverage(VectorMetric):
    """Share of the reference's sparsest points that have a candidate within their k-NN radius.

    The k-NN radius of a reference point is the distance to its k-th nearest
    other reference point; the rarest ``rare_fraction`` of reference points
    (largest radii) are the rare modes. A rare point is covered when some
    candidate lies within its radius (``<=``, so ties count). Coverage depends
    on N, so both sides are brought to the same size m with the seeded hash
    subsample. With ``baseline`` (default) the reference is split in two halves
    A and B of size m: radii and rare points come from A, ``value`` is the
    candidate's coverage and ``reference_value`` is B's, i.e. what an independent
    human sample of the same size achieves; ``ratio`` compares the two. The CI is
    the Wilson interval. ``details`` has the coverage by rarity decile (decile 1 =
    densest, 10 = rarest) for both sides.
    """

    name: ClassVar[str] = "rare_mode_coverage"
    family: ClassVar[str] = "tails"
    modalities: ClassVar[tuple[str, ...]] = (*VECTOR_MODALITIES, "detection")
    order: ClassVar[int] = 11
    order_in: ClassVar[dict[str, int]] = {"detection": 91}
    value_names: ClassVar[tuple[str, ...]] = ("rare_mode_coverage",)
    default_rules: ClassVar[tuple[tuple[str, dict[str, Any]], ...]] = (
        # Rests on the rarest 10% of half the reference: 5 points at n = 89.
        ("tails/rare_mode_coverage/*", {"kind": "ratio", "warn": 0.2, "collapse": 0.5}),
    )
    higher_is_better: ClassVar[bool] = True
    params = {
        **COMMON_PARAMS,
        **KNN_PARAMS,
        "k": Int(min=1),
        "rare_fraction": Float(min=0.0, max=1.0, min_open=True),
        "baseline": Bool(),
    }
    defaults = {**COMMON_DEFAULTS, **KNN_DEFAULTS, "k": 5, "rare_fraction": 0.1, "baseline": True}
    min_rows = 3

    def _coverage(self, ref_a: np.ndarray, sq_r: np.ndarray, other: np.ndarray, backend: str) -> np.ndarray:
        p = self._params
        index = build_index(other, backend=backend, nprobe=p["nprobe"], seed=p["seed"])
        return nearest_sq_distance(index, ref_a) <= sq_r

    def _compute(self, cand: np.ndarray, ref: np.ndarray | None) -> tuple[list[MetricValue], dict[str, Any]]:
        assert ref is not None
        p = self._params
        k = p["k"]
        split = p["baseline"] and len(ref) >= 2 * (k + 2)
        m = min(len(cand), len(ref) // 2) if split else min(len(cand), len(ref))
        require_rows(self.name, k + 2, m)
        ref_a, cand_m = equal_n(ref, m), equal_n(cand, m)
        backend = choose_backend(p["knn"], m, p["exact_max"], p["flat_max"])
        index_a = build_index(ref_a, backend=backend, nprobe=p["nprobe"], seed=p["seed"])
        sq_r = kth_neighbour_sq_radii(index_a, ref_a, k)
        order = np.argsort(sq_r, kind="stable")  # densest first
        decile = np.empty(m, dtype=np.int64)
        decile[order] = np.minimum(np.arange(m) * 10 // m, 9)
        covered = self._coverage(ref_a, sq_r, cand_m, backend)
        base = self._coverage(ref_a, sq_r, ref[m : 2 * m], backend) if split else None
        details: dict[str, Any] = {"m": m}
        if m >= 10:  # fewer points leave deciles empty: no figure rather than NaN bars
            details["coverage_by_decile"] = [float(covered[decile == d].mean()) for d in range(10)]
            if base is not None:
                details["reference_coverage_by_decile"] = [float(base[decile == d].mean()) for d in range(10)]
        n_rare = max(1, math.ceil(p["rare_fraction"] * m))
        rare = order[m - n_rare :]
        hits = int(covered[rare].sum())
        ref_value = float(base[rare].mean()) if base is not None else None
        ci = wilson_ci(hits, n_rare, p["ci_level"])
        details["n_rare"] = n_rare
        return [MetricValue("rare_mode_coverage", hits / n_rare, True, ref_value, ci, "analytic")], details


def tail_rows(q: float, expected: int = 5) -> int:
    """Fewest rows for ``expected`` of them to lie beyond a ``q`` quantile: below it a
    tail share is mostly zeros and is not judged.

    >>> tail_rows(0.95)
    100
    """
    return math.ceil(expected / max(1.0 - q, 1e-12) - 1e-9)


def band_thresholds(sq: np.ndarray, q: float, smooth: bool = True) -> tuple[float, float]:
    """The ends of the band over which a tail share counts a point gradually: the ``q -+ (1 - q)/2``
    quantiles of ``sq`` (equal ends, a hard threshold at the ``q`` quantile, without ``smooth``).

    >>> [round(t, 6) for t in band_thresholds(np.arange(101.0), 0.9)]
    [85.0, 95.0]
    """
    if not smooth:
        t = float(np.quantile(sq, q))
        return t, t
    h = (1.0 - q) / 2.0
    lo, hi = np.quantile(sq, [q - h, q + h])
    return float(lo), float(hi)


def band_scores(sq: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """How far each value is into the tail: 0 up to ``lo``, 1 beyond ``hi``, linear in between
    (strictly beyond ``lo`` when the ends are equal, so ties are never in the tail).

    >>> band_scores(np.array([0.0, 1.0, 1.5, 3.0]), 1.0, 2.0).tolist()
    [0.0, 0.0, 0.5, 1.0]
    """
    if hi <= lo:
        return (sq > lo).astype(np.float64)
    return np.clip((sq - lo) / (hi - lo), 0.0, 1.0)


def score_ci(scores: np.ndarray, level: float) -> tuple[float, float]:
    """Wilson interval of the mean of scores in [0, 1], at the effective size their own spread gives.

    A score's variance is at most a coin's with the same mean, ``p (1 - p)``, so the
    interval is Wilson's for ``n_eff = n / r`` trials, with ``r`` the ratio of the two
    variances. For small ``p``, ``r`` is about ``sum(s**2) / sum(s)``; it is taken as
    ``(sum(s**2) + 1) / (sum(s) + 1)`` (one more score of 1), so that a few small scores
    cannot make the interval narrow (the upper end stays at its level down to ~3 nonzero
    scores; see tests/metrics/test_metrics_tails.py). For 0/1 scores ``r = 1``: the plain
    Wilson interval of a share.

    >>> from tailguard.metrics.bootstrap import wilson_ci
    >>> np.allclose(score_ci(np.array([0.0, 1.0, 1.0, 0.0]), 0.95), wilson_ci(2, 4, 0.95))
    True
    """
    n, s1, s2 = len(scores), float(scores.sum()), float((scores * scores).sum())
    if n == 0:
        return (0.0, 1.0)
    r = min(1.0, (s2 + 1.0) / (s1 + 1.0)) if s1 > 0 else 1.0
    n_eff, p = n / r, s1 / n
    z = NormalDist().inv_cdf(0.5 + level / 2.0)
    denom = 1.0 + z * z / n_eff
    centre = (p + z * z / (2.0 * n_eff)) / denom
    half = z * math.sqrt(p * (1.0 - p) / n_eff + z * z / (4.0 * n_eff * n_eff)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


@register_metric
class NNDistanceTail(VectorMetric):
    """Share of the candidate beyond the reference's own k-NN distance quantiles.

    Two rarity scores, each compared with the reference's own (so the baseline is
    reference against reference), for each ``q`` in ``levels``:

    - ``nn_tail_share_<q>`` (cross): the distance from a candidate point to its k-th
      nearest reference point. For the reference itself it is the leave-one-out
      distance (to its k-th nearest *other* reference point), whose ``q`` quantile
      ``t_q`` marks the reference's outskirts. The value is the share of candidate
      points beyond ``t_q``; ``reference_value`` is the share of reference points
      beyond it (about ``1 - q``). Both sides are measured against the whole
      reference (n vs n - 1 points), so the candidate's N does not matter.
    - ``radius_tail_share_<q>`` (own): a point's k-NN radius within its own set.
      Radii depend on N, so both sides are first brought to the same size m with
      the seeded hash subsample; the value is the share of candidate radii beyond
      the ``q`` quantile of the reference's radii, ``reference_value`` the
      reference's own share. It sees a candidate that no longer has sparse regions
      of its own even where its points stay near reference points.

    A ratio of 1 is what a second sample of the same distribution gives; it drops
    when the candidate's rarest points are gone. This sees what per-feature tails
    miss: removing the rarest 5% of 64-d images (largest k-NN radius) barely moves
    any pixel's quantiles but empties the far end of the k-NN distances. Higher is
    better: a candidate with *more* far-out points (noise, drift) is not a loss of
    tails and shows as a ratio above 1.

    With ``smooth`` (default) a share is smoothed over a band of the reference's quantiles
    (``band_thresholds``): a point counts 0 up to the ``q - (1-q)/2`` quantile, 1 beyond the
    ``q + (1-q)/2`` one and linearly in between (squared distances), so the value is about
    ``1 - q`` for a sample of the reference's distribution (a little below where the density
    falls across the band). One noisy quantile no longer decides the value: on digits thirds
    (599 rows) the hard share's baseline sat anywhere in 0.03-0.07 with its threshold, and
    the smoothed share loses less to it. ``smooth=False`` is the plain share beyond the ``q``
    quantile. Points below the band's low end never count (strict ``>`` when the ends are
    equal), so ties (exact copies) are never in the tail. CIs are Wilson intervals at the
    effective size the scores' own spread gives (``score_ci``; the plain Wilson interval for a
    hard share); the radius share's is scaled by the square root of its design effect on this
    data (see ``_design_effects``; ``details["design_effect_<q>"]``, ``ci_subsamples=0`` turns
    it off), since radii within one set are not independent trials.
    ``details`` has the thresholds and the candidate's share per decile of the
    reference's leave-one-out distances (decile 10 = rarest).

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> ref, cand = rng.normal(size=(2000, 8)), rng.normal(size=(2000, 8))
    >>> kept = cand[np.linalg.norm(cand, axis=1) < np.quantile(np.linalg.norm(cand, axis=1), 0.95)]
    >>> same = NNDistanceTail().update_reference(ref).update(cand).result().value("nn_tail_share_0.95")
    >>> lost = NNDistanceTail().update_reference(ref).update(kept).result().value("nn_tail_share_0.95")
    >>> 0.04 < same.reference_value <= 0.05, 0.8 < same.ratio < 1.25, lost.ratio < 0.6
    (True, True, True)
    """

    name: ClassVar[str] = "nn_distance_tail"
    family: ClassVar[str] = "tails"
    modalities: ClassVar[tuple[str, ...]] = VECTOR_MODALITIES
    order: ClassVar[int] = 12
    # Point-to-point rarity in the data's own units: per-feature scaling blows up
    # near-constant columns (edge pixels), whose stray values would then decide
    # which points count as rare. See docs/audit.md.
    standardized: ClassVar[bool] = False
    value_names: ClassVar[tuple[str, ...]] = ("nn_tail_share_0.95", "radius_tail_share_0.95")

    @classmethod
    def output_names(cls, params: Mapping[str, Any] | None = None) -> tuple[str, ...]:
        p = {**cls.defaults, **(params or {})}
        levels = sorted(float(q) for q in p["levels"])
        names = [f"nn_tail_share_{q:g}" for q in levels]
        if p["own_radius"]:
            names += [f"radius_tail_share_{q:g}" for q in levels]
        return tuple(names)
    higher_is_better: ClassVar[bool] = True
    params = {
        **COMMON_PARAMS,
        **KNN_PARAMS,
        "k": Int(min=1),
        "levels": FloatTuple(min=0.0, max=1.0),
        "own_radius": Bool(),
        "ci_subsamples": Int(min=0),
        "ci_max_rows": Int(min=8),
        "smooth": Bool(),
    }
    defaults = {
        **COMMON_DEFAULTS,
        **KNN_DEFAULTS,
        "max_samples": 200_000,
        "k": 5,
        "levels": (0.95,),
        "own_radius": True,
        "ci_subsamples": 64,
        "ci_max_rows": 8_000,
        "smooth": True,
    }
    min_rows = 3

    def _index(self, x: np.ndarray) -> Any:
        p = self._params
        backend = choose_backend(p["knn"], len(x), p["exact_max"], p["flat_max"])
        return build_index(x, backend=backend, nprobe=p["nprobe"], seed=p["seed"]), backend

    def _compute(self, cand: np.ndarray, ref: np.ndarray | None) -> tuple[list[MetricValue], dict[str, Any]]:
        assert ref is not None
        p = self._params
        level, levels = p["ci_level"], sorted(float(v) for v in p["levels"])
        k = min(p["k"], len(ref) - 1)
        index, backend = self._index(ref)
        ref_d2 = kth_neighbour_sq_radii(index, ref, k)  # leave-one-out: k-th nearest other point
        cand_d2 = kth_nearest_sq_distance(index, cand, k)
        details: dict[str, Any] = {"backend": backend, "k": k, "n_reference_used": len(ref), "n_candidate_used": len(cand)}
        values: list[MetricValue] = []
        smooth = p["smooth"]
        for q in levels:
            lo, hi = band_thresholds(ref_d2, q, smooth)
            scores = band_scores(cand_d2, lo, hi)
            details[f"threshold_{q:g}"] = math.sqrt(float(np.quantile(ref_d2, q)))
            values.append(MetricValue(f"nn_tail_share_{q:g}", float(scores.mean()), True,
                                      float(band_scores(ref_d2, lo, hi).mean()), score_ci(scores, level), "analytic",
                                      min_n=tail_rows(q)))
        edges = np.quantile(ref_d2, np.linspace(0.0, 1.0, 11)[1:-1])
        decile = np.searchsorted(edges, cand_d2, side="left")
        details["candidate_share_by_reference_decile"] = (np.bincount(decile, minlength=10) / len(cand)).tolist()
        m = min(len(cand), len(ref))
        if p["own_radius"] and m >= k + 2:
            ref_m, cand_m = equal_n(ref, m), equal_n(cand, m)
            ref_r2 = ref_d2 if m == len(ref) else kth_neighbour_sq_radii(self._index(ref_m)[0], ref_m, k)
            cand_r2 = kth_neighbour_sq_radii(self._index(cand_m)[0], cand_m, k)
            details["m"] = m
            effects = self._design_effects(ref_m, levels, k)
            for q in levels:
                lo, hi = band_thresholds(ref_r2, q, smooth)
                scores = band_scores(cand_r2, lo, hi)
                share, ci, how = float(scores.mean()), score_ci(scores, level), "analytic"
                if q in effects:
                    details[f"design_effect_{q:g}"] = effects[q]
                    if effects[q] > 1.0:  # below 1 is noise: radii that share neighbours vary together
                        w = math.sqrt(effects[q])
                        ci = (max(0.0, share - w * (share - ci[0])), min(1.0, share + w * (ci[1] - share)))
                        how = "analytic x design effect"
                values.append(MetricValue(f"radius_tail_share_{q:g}", share, True,
                                          float(band_scores(ref_r2, lo, hi).mean()), ci, how, min_n=tail_rows(q)))
        return values, details

    def _design_effects(self, ref_m: np.ndarray, levels: list[float], k: int) -> dict[float, float]:
        """Per level, how many times its independent-rows variance the radius share has on
        this data (its design effect), measured on the reference, where the null holds.

        The Wilson interval treats a set's radii as independent trials, but a point's k-NN
        radius depends on its neighbours in the same set: on clustered data (near-duplicate
        sentences in hashed text embeddings) the share varies about twice as much as a binomial
        count. Each of ``ci_subsamples`` seeded partitions of the reference into 4 disjoint
        quarters takes its threshold from the first quarter and the shares of the other three
        (radii within each quarter): three independent replicates of the statistic, whose sample
        variance is unbiased for its variance at that size. The effect is the mean variance over
        the independent-rows one, ``s^2 / g`` with ``s^2`` the scores' mean variance within a
        quarter (``p (1 - p)`` for a hard share) and g the quarter size. Disjoint
        quarters, not overlapping subsamples: radii are recomputed in every subsample, so
        overlapping subsamples vary more than the finite-population rule allows. It comes from
        the reference, not the candidate, so a candidate that lost its sparse points does not
        widen its own interval, and a candidate and a baseline measured against the same
        reference get the same effect. Empty when there are fewer than 2 partitions, too few
        rows, or no share to scale. At most ``ci_max_rows`` rows of the reference take part (a seeded
        subsample), so 64 partitions stay cheap on a large reference: each partition's three
        replicates give a noisy variance, and the mean over 64 has about half the spread of one over 16
        (on digits thirds: 1.03 +- 0.14 against +- 0.28), which matters because only effects above 1 widen.
        """
        if len(ref_m) > self._params["ci_max_rows"]:  # a local property: a seeded part of a big reference shows it
            ref_m = equal_n(ref_m, self._params["ci_max_rows"])
        b, g = self._params["ci_subsamples"], len(ref_m) // 4
        if b < 2 or g < k + 2:
            return {}
        rng = np.random.default_rng([self._params["seed"], 0x7A1])
        _, group = np.unique(ref_m, axis=0, return_inverse=True)
        group = group.ravel()
        variances: dict[float, list[float]] = {q: [] for q in levels}
        spreads: dict[float, list[float]] = {q: [] for q in levels}
        for _ in range(b):
            # Copies stay together: groups in random order, cut into 4 runs of about g rows.
            order = np.argsort(rng.permutation(group.max() + 1)[group], kind="stable")
            quarters = np.array_split(order, 4)
            if min(len(part) for part in quarters) < k + 2:
                continue
            radii = [kth_neighbour_sq_radii(self._index(ref_m[i])[0], ref_m[i], k) for i in map(np.sort, quarters)]
            for q in levels:
                lo, hi = band_thresholds(radii[0], q, self._params["smooth"])
                scores = [band_scores(r2, lo, hi) for r2 in radii[1:]]
                variances[q].append(float(np.var([sc.mean() for sc in scores], ddof=1)))
                spreads[q].append(float(np.mean([np.var(sc, ddof=1) for sc in scores])))
        out = {}
        for q in levels:
            if len(spreads[q]) < 2:
                continue
            within = float(np.mean(spreads[q]))  # a score's variance: the replicate variance if rows were independent
            if within > 0.0:
                out[q] = float(np.mean(variances[q])) * g / within
        return out
