"""Fidelity and coverage of a candidate against the reference manifold (PRDC).

Precision and recall (Kynkäänniemi et al. 2019), density and coverage (Naeem
et al. 2020) on k-NN balls, with ``<=`` so that ties count: identical sets
(even with duplicated points, where radii are 0) get coverage 1, where the
``prdc`` package's strict ``<`` gives 0.

>>> import numpy as np
>>> from tailguard.metrics.fidelity import PRDC
>>> x = np.repeat(np.random.default_rng(0).normal(size=(50, 3)), 6, axis=0)
>>> r = PRDC(k=5).update_reference(x).update(x).result()
>>> r.value("coverage").value, r.value("precision").value
(1.0, 1.0)
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, ClassVar

import numpy as np

from tailguard.metrics.base import MetricValue, register_metric
from tailguard.metrics.bootstrap import mean_ci, wilson_ci, z_value
from tailguard.metrics.knn import build_index, choose_backend, exact_cross_stats, kth_neighbour_sq_radii
from tailguard.metrics.prdc_bounded import bounded_prdc_stats
from tailguard.metrics.prdc_check import checked_prdc_stats
from tailguard.metrics.tails import KNN_DEFAULTS, KNN_PARAMS
from tailguard.metrics.vectors import (
    COMMON_DEFAULTS,
    COMMON_PARAMS,
    VECTOR_MODALITIES,
    VectorMetric,
    equal_n,
    require_rows,
)
from tailguard.validation import Bool, Float, Int, OneOf


@register_metric
class PRDC(VectorMetric):
    """Precision, recall, density and coverage with k-NN balls (``<=`` ties count).

    - precision: share of candidates inside at least one reference ball;
    - recall: share of reference points inside at least one candidate ball;
    - density: mean number of reference balls holding a candidate, divided by k;
    - coverage: share of reference points whose nearest candidate is inside their ball.

    Radii are the distance to the k-th nearest other point of the same set, as
    in ``prdc``. Radii, and so all four values, depend on N: with ``equal_n``
    (default) the larger side is brought to the smaller side's size (seeded hash
    subsample; the CIs are those of the sample used). ``equal_n=False`` uses both
    sides whole, like ``prdc``.

    With ``knn="auto"`` search is exact in float64 up to ``exact_max`` points per
    side, exact in float32 (faiss flat index, BLAS blocks) up to ``flat_max``
    (by default also 5000, so ``"flat"`` is opt-in), and beyond that exact in
    float32 on k-means lists pruned by the triangle inequality (``"bounded"``:
    :func:`~tailguard.metrics.prdc_bounded.bounded_prdc_stats`; on data with no
    cluster structure the bounds rule out nothing and it searches flat).
    ``"faiss"`` is the approximate kernel
    (:func:`~tailguard.metrics.prdc_kernels.cluster_prdc_stats`, each list searched
    against its ``nprobe`` nearest lists), checked at run time to ``knn_tolerance``. CIs are analytic: Wilson for the three shares,
    a normal interval over per-candidate counts for density. Expected values for
    two samples of one distribution: precision and recall near 1 − 2^-k-ish,
    coverage ≈ 1 − 2^-k, density ≈ 1.

    With ``baseline`` (default, needs ``equal_n``) every value gets a
    ``reference_value``: the same statistic of one half of the reference against
    the other (disjoint seeded halves of size h = min(n, n_reference // 2)), i.e.
    what an independent human sample achieves, so the values can be judged.
    For equal-size samples of one distribution the four statistics barely depend
    on N (measured on digits, wine and a 16-d Gaussian: the values at N and the
    half-size baseline agree within 1.5% on average), so the baseline's smaller N
    is a fair footing; ``details["n_baseline"]`` is h.
    """

    name: ClassVar[str] = "prdc"
    family: ClassVar[str] = "fidelity"
    modalities: ClassVar[tuple[str, ...]] = VECTOR_MODALITIES
    order: ClassVar[int] = 20
    value_names: ClassVar[tuple[str, ...]] = ("precision", "recall", "density", "coverage")
    default_rules: ClassVar[tuple[tuple[str, dict[str, Any]], ...]] = (
        # Density is a mean of ball counts that share reference balls (its normal interval
        # is too narrow), judged against a half-size reference split: at n = 89 (wine) two
        # halves differ by up to 30%, so it gets wider limits than the shares.
        ("fidelity/prdc/density", {"kind": "ratio", "warn": 0.4, "collapse": 0.7}),
    )
    higher_is_better: ClassVar[bool] = True
    params = {**COMMON_PARAMS, **KNN_PARAMS, "knn": OneOf(("auto", "exact", "flat", "faiss", "bounded")),
              "k": Int(min=1), "equal_n": Bool(), "baseline": Bool(),
              "ci_subsamples": Int(min=0), "knn_tolerance": Float(min=0.0, max=1.0)}
    defaults = {**COMMON_DEFAULTS, **KNN_DEFAULTS, "flat_max": 5000, "k": 5, "equal_n": True, "baseline": True,
                "ci_subsamples": 8, "knn_tolerance": 0.01}
    min_rows = 3

    def _stats(self, ref: np.ndarray, cand: np.ndarray) -> tuple[list[MetricValue], str, dict[str, Any]]:
        """The four values of ``cand`` against ``ref`` (no reference values yet), the backend
        chosen, and what the approximate backend's self-check did (empty for the exact ones)."""
        p = self._params
        k, level = p["k"], p["ci_level"]
        backend = choose_backend(p["knn"], max(len(ref), len(cand)), p["exact_max"], p["flat_max"])
        if backend == "faiss" and p["knn"] == "auto":  # exact, and cheaper than checking an approximation
            backend = "bounded"
        check: dict[str, Any] = {}
        if backend in ("bounded", "faiss"):
            s, report = (bounded_prdc_stats(ref, cand, k, seed=p["seed"]) if backend == "bounded" else
                         checked_prdc_stats(ref, cand, k, n_probe=p["nprobe"], seed=p["seed"],
                                            tolerance=p["knn_tolerance"]))
            inside, recalled, covered = s.inside, s.recalled, s.nearest <= s.ref_sq_radii
            check = report.details()
        else:
            ref_index = build_index(ref, backend=backend)
            ref_r2 = kth_neighbour_sq_radii(ref_index, ref, k)
            cand_r2 = kth_neighbour_sq_radii(build_index(cand, backend=backend), cand, k)
            inside, recalled, nearest = exact_cross_stats(ref_index, ref_r2, cand, cand_r2)
            covered = nearest <= ref_r2

        n_prec, n_rec, n_cov = int((inside > 0).sum()), int((recalled > 0).sum()), int(covered.sum())
        per_cand_density = inside / k
        values = [
            MetricValue("precision", n_prec / len(cand), True, None, wilson_ci(n_prec, len(cand), level), "analytic"),
            MetricValue("recall", n_rec / len(ref), True, None, wilson_ci(n_rec, len(ref), level), "analytic"),
            MetricValue(
                "density", float(per_cand_density.mean()), True, None, mean_ci(per_cand_density, level), "analytic"
            ),
            MetricValue("coverage", n_cov / len(ref), True, None, wilson_ci(n_cov, len(ref), level), "analytic"),
        ]
        return values, backend, check

    def _widen_by_subsamples(self, values: list[MetricValue], ref: np.ndarray, cand: np.ndarray) -> list[MetricValue]:
        """Recall and coverage intervals that also carry the candidate's sampling noise.

        Their Wilson intervals treat the reference points as independent trials, but one
        candidate ball recalls or covers many of them, so on clustered data (hashed text
        embeddings: 10x on Python-docs sentences) the interval is far too narrow. The spread
        of the statistic over ``ci_subsamples`` seeded half-size draws of both sides (without
        replacement: a half drawn from n points varies about as much as a fresh sample of n,
        sigma^2 (1/h - 1/n) = sigma^2 / n) gives a second interval; the wider of the two is kept.
        """
        b = self._params["ci_subsamples"]
        h = min(len(ref), len(cand)) // 2
        if b < 2 or h < self._params["k"] + 2:
            return values
        rng = np.random.default_rng([self._params["seed"], 0x5B5])
        draws = []
        for _ in range(b):
            r = ref[np.sort(rng.choice(len(ref), h, replace=False))]
            c = cand[np.sort(rng.choice(len(cand), h, replace=False))]
            draws.append({v.name: v.value for v in self._stats(r, c)[0]})
        z = z_value(self._params["ci_level"])
        out = []
        for v in values:
            if v.name in ("recall", "coverage") and v.ci is not None:
                half = z * float(np.std([d[v.name] for d in draws], ddof=1))
                lo, hi = min(v.ci[0], max(0.0, v.value - half)), max(v.ci[1], min(1.0, v.value + half))
                v = replace(v, ci=(lo, hi), ci_method="analytic+subsample")
            out.append(v)
        return out

    def _compute(self, cand: np.ndarray, ref: np.ndarray | None) -> tuple[list[MetricValue], dict[str, Any]]:
        assert ref is not None
        p = self._params
        k = p["k"]
        whole_ref = ref
        if p["equal_n"]:
            m = min(len(cand), len(ref))
            ref, cand = equal_n(ref, m), equal_n(cand, m)
        require_rows(self.name, k + 2, min(len(ref), len(cand)))
        values, backend, check = self._stats(ref, cand)
        values = self._widen_by_subsamples(values, ref, cand)
        details: dict[str, Any] = {"backend": backend, "n_reference_used": len(ref), "n_candidate_used": len(cand),
                                   **check}
        h = min(len(cand), len(whole_ref) // 2)
        if p["equal_n"] and p["baseline"] and h >= k + 2:
            # Reference against reference: two disjoint halves of the (hash-ordered) reference.
            base, _, base_check = self._stats(whole_ref[:h], whole_ref[h : 2 * h])
            details.update({f"baseline_{key}": v for key, v in base_check.items()})
            values = [replace(v, reference_value=b.value) for v, b in zip(values, base, strict=True)]
            details["n_baseline"] = h
        return values, details
