"""Statuses per row, the verdict (the worst status) and the averages trap.

>>> from tailguard.metrics.base import MetricResult, MetricValue
>>> res = MetricResult("tail_mass", "tails", "x", 100, 100,
...                    (MetricValue("tail_mass_0.01", 0.004, True, reference_value=0.02),))
>>> rows = judge_results([res], Thresholds.default())
>>> rows[0].status, verdict_of(rows)
('collapse', 'collapse')
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from tailguard.audit.results import AveragesTrap, MetricRow
from tailguard.audit.thresholds import INSUFFICIENT, Thresholds, is_flagged, worst
from tailguard.metrics.base import MetricResult

#: Families whose loss is what the averages trap is about.
TAIL_FAMILIES = ("tails", "diversity", "fidelity")


def judge_results(results: Sequence[MetricResult], thresholds: Thresholds) -> list[MetricRow]:
    """One :class:`MetricRow` per value of every result, with unique names."""
    rows: list[MetricRow] = []
    seen: dict[str, int] = {}
    for res in results:
        for v in res.values:
            name = v.name
            if name in seen:
                name = f"{res.metric}.{v.name}"
            seen[name] = seen.get(name, 0) + 1
            if seen[name] > 1:
                name = f"{name}#{seen[name]}"
            value = float(v.value) if v.value is not None else math.nan
            ref = float(v.reference_value) if v.reference_value is not None else None
            ci = (float(v.ci[0]), float(v.ci[1])) if v.ci is not None else None
            j = thresholds.judge(res.family, res.metric, v.name, value, ref, v.higher_is_better, ci,
                                 n=res.n, n_reference=res.n_reference, min_n=v.min_n)
            rows.append(
                MetricRow(
                    name=name,
                    metric=res.metric,
                    family=res.family,
                    value=value,
                    reference_value=ref,
                    ratio=v.ratio,
                    higher_is_better=v.higher_is_better,
                    status=j.status,
                    ci=ci,
                    ci_method=v.ci_method,
                    degradation=j.degradation,
                    reason=j.reason,
                    rule=thresholds.pattern_for(res.family, res.metric, v.name),
                )
            )
    return rows


#: Fewer samples than this on either side and no verdict can be more than ``insufficient``.
MIN_SAMPLES = 2


def insufficiency(rows: Sequence[MetricRow], skipped: Sequence[str], sizes: Mapping[str, int]) -> str:
    """Why too little was measured to give a verdict (empty when enough was): fail closed, never ``ok``.

    ``sizes`` maps each side (candidate, reference, baseline) to its sample count.

    >>> insufficiency([], ["tail_mass: needs 2 samples"], {"candidate": 1, "reference": 500})
    'the candidate has 1 sample(s) (at least 2 are needed); no tail or diversity metric could be computed and judged (1 skipped or unjudged: tail_mass: needs 2 samples)'
    """
    reasons = []
    for side, n in sizes.items():
        if n < MIN_SAMPLES:
            reasons.append(f"the {side} has {n} sample(s) (at least {MIN_SAMPLES} are needed)")
    if not any(r.family in TAIL_FAMILIES and is_judged(r) for r in rows):
        unjudged = [f"{r.name}: {r.reason}" for r in rows if r.family in TAIL_FAMILIES and r.status == INSUFFICIENT]
        lines = [*skipped, *unjudged]
        note = f" ({len(lines)} skipped or unjudged: {'; '.join(lines[:3])})" if lines else ""
        reasons.append(f"no tail or diversity metric could be computed and judged{note}")
    return "; ".join(reasons)


def is_judged(row: MetricRow) -> bool:
    """Whether a row's status came from its value: measured, with enough rows, and not only reported."""
    return math.isfinite(row.value) and row.status != INSUFFICIENT and row.reason != "reported only"


def verdict_of(rows: Sequence[MetricRow]) -> str:
    """The worst status of ``rows`` (``ok`` when there are none)."""
    return worst([r.status for r in rows])


def is_bulk(row: MetricRow) -> bool:
    """Means, medians and PSI: what an average-watching monitor sees (rows that are only
    reported, or not judged, do not count)."""
    if row.reason == "reported only" or row.status == INSUFFICIENT:
        return False
    name = row.name.lower()
    return row.family == "bulk" or "psi" in name or name.split("_")[0] in ("mean", "median")


def averages_trap(rows: Sequence[MetricRow]) -> AveragesTrap:
    """Triggered when every bulk row passes while tail/diversity/fidelity rows degrade.

    The message names the bulk rows that passed and the degraded rows with their change.
    """
    bulk = [r for r in rows if is_bulk(r) and r.rule != "(none)"]
    degraded = [r for r in rows if r.family in TAIL_FAMILIES and is_flagged(r.status) and not is_bulk(r)]
    bulk_ok = [r for r in bulk if r.status == "ok"]
    if not bulk or len(bulk_ok) < len(bulk) or not degraded:
        if degraded and bulk and len(bulk_ok) < len(bulk):
            msg = "No averages trap: the bulk metrics moved too, so an average-based monitor would also flag this."
        elif not degraded:
            msg = "No averages trap: tail, diversity and fidelity metrics are within tolerance."
        else:
            msg = "No bulk metrics were computed, so the averages trap could not be checked."
        return AveragesTrap(False, msg, tuple(r.name for r in bulk_ok), tuple(r.name for r in degraded))
    degraded.sort(key=lambda r: -(r.degradation or 0.0))
    changes = ", ".join(_change(r) for r in degraded[:6])
    more = f" and {len(degraded) - 6} more" if len(degraded) > 6 else ""
    msg = (
        f"Averages trap: the bulk metrics ({', '.join(r.name for r in bulk_ok[:5])}"
        f"{', ...' if len(bulk_ok) > 5 else ''}) are within tolerance, yet {len(degraded)} tail, diversity "
        f"or fidelity metrics degraded: {changes}{more}. A monitor that only watches averages would pass this data."
    )
    return AveragesTrap(True, msg, tuple(r.name for r in bulk_ok), tuple(r.name for r in degraded))


def _change(row: MetricRow) -> str:
    if row.degradation is not None and math.isfinite(row.degradation):
        against = "baseline" if row.baseline_value is not None else "reference"
        return f"{row.name} {row.degradation:.0%} worse than the {against} ({row.status})"
    return f"{row.name} {row.status} ({row.reason})"
