"""Bulk metrics: where the middle of each feature sits (means and medians).

These are what an average-watching monitor sees. The audit contrasts them with
tail and diversity metrics: when the bulk is within tolerance while tails or
diversity degrade, it reports the averages trap.

>>> import numpy as np
>>> from tailguard.metrics.bulk import BulkMoments
>>> rng = np.random.default_rng(0)
>>> ref, cand = rng.normal(size=(4000, 5)), 0.9 * rng.normal(size=(4000, 5))
>>> r = BulkMoments(n_boot=20).update_reference(ref).update(cand).result()
>>> r.value("mean_shift").value < 0.1   # a 10% shrink of the SD leaves the means in place
True
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from tailguard.metrics.base import MetricValue, register_metric
from tailguard.metrics.bootstrap import bootstrap_ci
from tailguard.metrics.vectors import COMMON_DEFAULTS, COMMON_PARAMS, VECTOR_MODALITIES, VectorMetric
from tailguard.validation import Int


@register_metric
class BulkMoments(VectorMetric):
    """Shift of the per-feature means and medians, in reference standard deviations.

    ``mean_shift`` = mean over features of |mean_c − mean_r| / sd_r, and
    ``median_shift`` likewise with medians (features with sd_r = 0 use 1).
    Lower is better; 0.1 is a tenth of a reference SD. Two samples of one
    distribution give about 0.8·sqrt(1/n_c + 1/n_r). CI: seeded m-out-of-n
    bootstrap over candidate rows (m ≤ 5000).
    """

    name: ClassVar[str] = "bulk_moments"
    family: ClassVar[str] = "bulk"
    modalities: ClassVar[tuple[str, ...]] = VECTOR_MODALITIES
    order: ClassVar[int] = 40
    value_names: ClassVar[tuple[str, ...]] = ("mean_shift", "median_shift")
    default_rules: ClassVar[tuple[tuple[str, dict[str, Any]], ...]] = (
        # Shifts in reference SDs, less their two-sample floor (about 0.8 and 1.0 x
        # sqrt(1/n + 1/m)); 0.1 SD warns, 0.25 SD is a collapse-level move.
        ("bulk/*/mean_shift", {"kind": "value", "warn": 0.1, "collapse": 0.25, "noise": 0.8, "noise_power": 0.5}),
        ("bulk/*/median_shift", {"kind": "value", "warn": 0.1, "collapse": 0.25, "noise": 1.0, "noise_power": 0.5}),
    )
    higher_is_better: ClassVar[bool] = False
    params = {**COMMON_PARAMS, "n_boot": Int(min=10)}
    defaults = {**COMMON_DEFAULTS, "n_boot": 50}

    def _compute(self, cand: np.ndarray, ref: np.ndarray | None) -> tuple[list[MetricValue], dict[str, Any]]:
        assert ref is not None
        p = self._params
        sd = ref.std(axis=0, dtype=np.float64)
        sd = np.where(sd > 0, sd, 1.0)
        mu_r, med_r = ref.mean(axis=0, dtype=np.float64), np.median(ref, axis=0)
        values = []
        per_feature: dict[str, Any] = {}
        for name, fn, centre in (("mean_shift", np.mean, mu_r), ("median_shift", np.median, med_r)):

            def stat(idx: np.ndarray, fn: Any = fn, centre: np.ndarray = centre) -> float:
                return float((np.abs(fn(cand[idx], axis=0) - centre) / sd).mean())

            shifts = np.abs(fn(cand, axis=0) - centre) / sd
            value = float(shifts.mean())
            ci = bootstrap_ci(
                stat, len(cand), n_boot=p["n_boot"], seed=p["seed"], level=p["ci_level"], max_m=5000, value=value
            )
            values.append(MetricValue(name, value, False, None, ci, "bootstrap"))
            per_feature[f"{name}_per_feature"] = shifts.tolist()
        return values, per_feature
