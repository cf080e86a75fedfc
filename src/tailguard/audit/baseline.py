"""Judge a candidate against a baseline: what it lost beyond what the baseline already lacked.

An audit with a baseline measures both the candidate and the baseline against the
same human reference, on the same footing (same sample size, same scaling, same
seed). Each row then carries three values: the reference's, the baseline's and the
candidate's. Its status judges the *change from baseline to candidate* under the
row's usual rule:

``ratio``
    the degradation ``1 - candidate/baseline`` (higher is better) or
    ``candidate/baseline - 1`` (lower is better);
``abs_ratio``
    how much farther from the reference the candidate is than the baseline:
    ``|candidate/reference - 1| - |baseline/reference - 1|``;
``excess``
    the plain difference beyond the baseline;
``value``
    the candidate's status against the limits, counted only when it is worse than
    the baseline's own status.

A flag needs the change beyond the threshold *and* beyond noise: the confidence
interval of ``candidate - baseline`` (the two sides' intervals combined in
quadrature, as independent samples) must exclude zero.

The typical baseline is generation 0 of the same model (so the audit asks what
recursive training lost, not what the model never had) or last month's data.

>>> from tailguard.audit.results import MetricRow
>>> from tailguard.audit.thresholds import Thresholds
>>> cand = MetricRow("recall", "prdc", "fidelity", 0.35, 0.80, None, True, "collapse", (0.33, 0.37))
>>> base = MetricRow("recall", "prdc", "fidelity", 0.50, 0.80, None, True, "warn", (0.48, 0.52))
>>> row = judge_against_baseline([cand], [base], Thresholds.default())[0]
>>> row.status, round(row.degradation, 2), row.baseline_status
('warn', 0.3, 'warn')
>>> same = MetricRow("recall", "prdc", "fidelity", 0.49, 0.80, None, True, "warn", (0.47, 0.51))
>>> judge_against_baseline([same], [base], Thresholds.default())[0].status
'ok'
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

from tailguard.audit.results import MetricRow
from tailguard.audit.thresholds import INSUFFICIENT, STATUSES, Thresholds, degradation


def _change_ci(cand: MetricRow, base: MetricRow, widening: float) -> tuple[float, float] | None:
    """Interval of ``candidate - baseline`` from the two sides' intervals (independent samples)."""
    diff = cand.value - base.value
    c, b = cand.ci, base.ci
    if c is None and b is None:
        return None
    if c is None or b is None:  # one side's noise stands in for both (the usual sqrt(2) widening)
        lo_w, hi_w = (c or b)  # type: ignore[misc]
        centre = cand.value if c is not None else base.value
        down, up = centre - min(lo_w, hi_w), max(lo_w, hi_w) - centre
        return diff - widening * max(down, up), diff + widening * max(down, up)
    c_down, c_up = cand.value - min(c), max(c) - cand.value
    b_down, b_up = base.value - min(b), max(b) - base.value
    return diff - math.hypot(c_down, b_up), diff + math.hypot(c_up, b_down)


def _judge_value_rule(cand: MetricRow, base: MetricRow, thresholds: Thresholds, value_name: str,
                      sizes: tuple[int, int] | None) -> tuple[str, str]:
    """The candidate's status (judged at its interval's favourable end) counts only when it is worse
    than the baseline's status judged at *its* interval's unfavourable end: both ends of the noise
    must separate before a band change is a loss."""
    base_status = base.status
    if thresholds.require_significance and base.ci is not None:
        worst_end = min(base.ci) if base.higher_is_better else max(base.ci)
        n, n_ref = sizes or (None, None)
        base_status = thresholds.judge(base.family, base.metric, value_name, worst_end, None,
                                       base.higher_is_better, None, n=n, n_reference=n_ref, min_n=1).status
    if STATUSES.index(cand.status) > STATUSES.index(base_status):
        return cand.status, f"{cand.reason}; the baseline's interval stays {base_status}"
    if cand.status == "ok":
        return "ok", cand.reason
    return "ok", f"no worse than the baseline (its interval reaches {base_status}: {cand.reason})"


def _judge_one(cand: MetricRow, base: MetricRow, thresholds: Thresholds,
               sizes: tuple[int, int] | None) -> MetricRow:
    family, metric = cand.family, cand.metric
    value_name = cand.value_name
    rule = thresholds.rule_for(family, metric, value_name)
    common = {"baseline_value": base.value, "baseline_ci": base.ci, "baseline_status": base.status}
    if cand.status == INSUFFICIENT or base.status == INSUFFICIENT:  # a change needs both ends judged
        side = "the candidate" if cand.status == INSUFFICIENT else "the baseline"
        why = cand.reason if cand.status == INSUFFICIENT else base.reason
        return replace(cand, **common, status=INSUFFICIENT, degradation=None, reason=f"{side}: {why}")
    if rule.kind == "info" or not math.isfinite(cand.value) or not math.isfinite(base.value):
        if rule.kind != "info" and not math.isfinite(base.value):
            return replace(cand, **common, reason=f"{cand.reason} (the baseline has no value)")
        return replace(cand, **common, status="ok", degradation=None, reason="reported only")
    change_ci = _change_ci(cand, base, thresholds.ci_widening)
    if rule.kind == "value":
        status, reason = _judge_value_rule(cand, base, thresholds, value_name, sizes)
        return replace(cand, **common, status=status, reason=reason, change_ci=change_ci, degradation=None)
    if rule.kind == "abs_ratio":
        d_c = degradation("abs_ratio", cand.value, cand.reference_value, cand.higher_is_better)
        d_b = degradation("abs_ratio", base.value, cand.reference_value, cand.higher_is_better)
        d = None if d_c is None or d_b is None else d_c - d_b
    else:
        d = degradation(rule.kind, cand.value, base.value, cand.higher_is_better)
    if d is None:
        return replace(cand, **common, status="ok", degradation=None, change_ci=change_ci,
                       reason="no comparable baseline value")
    status = "collapse" if d >= rule.collapse else "warn" if d >= rule.warn else "ok"
    unit = f"{d:.3g}" if rule.kind == "excess" else f"{d:.1%}"
    if status == "ok":
        reason = f"{unit} worse than the baseline, within limits" if d > 0 else "no worse than the baseline"
    elif thresholds.require_significance and change_ci is not None and change_ci[0] <= 0 <= change_ci[1]:
        status = "ok"
        reason = (f"{unit} worse than the baseline but within noise: the CI of the change "
                  f"[{change_ci[0]:.4g}, {change_ci[1]:.4g}] includes 0")
    else:
        limit = rule.collapse if status == "collapse" else rule.warn
        shown = f"{limit:.3g}" if rule.kind == "excess" else f"{limit:.0%}"
        reason = f"{unit} worse than the baseline (limit {shown})"
    return replace(cand, **common, status=status, degradation=d, change_ci=change_ci, reason=reason)


def explain(rows: Sequence[MetricRow], *, candidate: str, reference: str, baseline: str,
            baseline_verdict: str | None) -> str:
    """The report's paragraph on a baseline-relative audit, counted from ``rows``.

    >>> from tailguard.audit.results import MetricRow
    >>> row = MetricRow("recall", "prdc", "fidelity", 0.5, 0.8, None, True, "ok", baseline_value=0.5,
    ...                 baseline_status="warn")
    >>> print(explain([row], candidate="gen9", reference="human", baseline="gen0", baseline_verdict="warn"))
    ... # doctest: +NORMALIZE_WHITESPACE
    Statuses judge the change from the baseline (gen0) to the candidate (gen9), both measured against the
    human reference (human) on the same footing: a row is flagged only when the candidate is worse than the
    baseline by more than the row's threshold and the confidence interval of the change excludes zero. The
    baseline itself is warn against the reference; 1 of 1 judged rows it already fell short on are shown but
    not held against the candidate, and 0 rows are worse than the baseline.
    """
    judged = [r for r in rows if r.baseline_value is not None and r.reason != "reported only"]
    already = [r for r in judged if r.baseline_status not in (None, "ok") and r.status == "ok"]
    worse = [r for r in rows if r.status in STATUSES[1:]]
    return (
        f"Statuses judge the change from the baseline ({baseline}) to the candidate ({candidate}), both measured "
        f"against the human reference ({reference}) on the same footing: a row is flagged only when the "
        f"candidate is worse than the baseline by more than the row's threshold and the confidence interval of "
        f"the change excludes zero. The baseline itself is {baseline_verdict or 'unjudged'} against the "
        f"reference; {len(already)} of {len(judged)} judged rows it already fell short on are shown but not "
        f"held against the candidate, and {len(worse)} rows are worse than the baseline."
    )


def judge_against_baseline(
    candidate_rows: Sequence[MetricRow],
    baseline_rows: Sequence[MetricRow],
    thresholds: Thresholds,
    *,
    sizes: tuple[int, int] | None = None,
) -> list[MetricRow]:
    """The candidate's rows re-judged on the change from the baseline's rows of the same name.

    ``sizes`` (baseline n, reference n) feed the sampling-floor corrections of value rules.
    A row the baseline lacks keeps its judgement against the reference, with a note.
    """
    by_name = {r.name: r for r in baseline_rows}
    out = []
    for row in candidate_rows:
        base = by_name.get(row.name)
        if base is None:
            out.append(replace(row, reason=f"{row.reason} (not measured on the baseline: judged against the "
                                           f"reference)"))
        else:
            out.append(_judge_one(row, base, thresholds, sizes))
    return out
