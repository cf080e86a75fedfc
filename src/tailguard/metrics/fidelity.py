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

from typing import Any, ClassVar

import numpy as np

from tailguard.metrics.base import MetricValue, register_metric
from tailguard.metrics.bootstrap import mean_ci, wilson_ci
from tailguard.metrics.knn import (
    ExactIndex,
    ball_counts,
    build_index,
    choose_backend,
    exact_cross_stats,
    kth_neighbour_sq_radii,
    nearest_sq_distance,
)
from tailguard.metrics.tails import KNN_DEFAULTS, KNN_PARAMS
from tailguard.metrics.vectors import COMMON_DEFAULTS, COMMON_PARAMS, VectorMetric, equal_n, require_rows
from tailguard.validation import Bool, Int


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
    side, exact in float32 (faiss flat index, BLAS blocks) up to ``flat_max``,
    and approximate beyond (faiss IVF, ``nprobe``; ball membership then checks
    the ``n_search`` nearest centres plus the largest 1% of balls by brute force). CIs are analytic: Wilson for the three shares,
    a normal interval over per-candidate counts for density. Expected values for
    two samples of one distribution: precision and recall near 1 − 2^-k-ish,
    coverage ≈ 1 − 2^-k, density ≈ 1.
    """

    name: ClassVar[str] = "prdc"
    family: ClassVar[str] = "fidelity"
    higher_is_better: ClassVar[bool] = True
    params = {**COMMON_PARAMS, **KNN_PARAMS, "k": Int(min=1), "equal_n": Bool(), "n_search": Int(min=1)}
    defaults = {**COMMON_DEFAULTS, **KNN_DEFAULTS, "k": 5, "equal_n": True, "n_search": 64}
    min_rows = 3

    def _compute(self, cand: np.ndarray, ref: np.ndarray | None) -> tuple[list[MetricValue], dict[str, Any]]:
        assert ref is not None
        p = self._params
        k, level = p["k"], p["ci_level"]
        if p["equal_n"]:
            m = min(len(cand), len(ref))
            ref, cand = equal_n(ref, m), equal_n(cand, m)
        require_rows(self.name, k + 2, min(len(ref), len(cand)))
        backend = choose_backend(p["knn"], max(len(ref), len(cand)), p["exact_max"], p["flat_max"])
        kw = {"backend": backend, "nprobe": p["nprobe"], "seed": p["seed"]}
        ref_index = build_index(ref, **kw)
        ref_r2 = kth_neighbour_sq_radii(ref_index, ref, k)
        cand_index = build_index(cand, **kw)
        cand_r2 = kth_neighbour_sq_radii(cand_index, cand, k)

        if isinstance(ref_index, ExactIndex):
            inside, recalled_any, nearest = exact_cross_stats(ref_index, ref_r2, cand, cand_r2)
            recalled = recalled_any.astype(np.int64)
            covered = nearest <= ref_r2
        else:
            ns = max(p["n_search"], k + 1)
            inside = ball_counts(ref_index, ref_r2, cand, backend=backend, n_search=ns, centres=ref)
            recalled = ball_counts(cand_index, cand_r2, ref, backend=backend, n_search=ns, centres=cand)
            covered = nearest_sq_distance(cand_index, ref) <= ref_r2

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
        details = {"backend": backend, "n_reference_used": len(ref), "n_candidate_used": len(cand)}
        return values, details
