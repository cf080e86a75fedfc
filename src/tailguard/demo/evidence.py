"""One set of numbers per (family, policy), from which the demo's every claim is derived.

A policy's *evidence* is the list of its per-metric changes from generation 0 to the
last generation:

- ``simulation`` changes: each tail metric of the family, the **mean over seeds** at
  generation 0 and at the last generation with the last mean's 95% bootstrap CI, the
  relative change of the mean ``(last - first) / |first|`` signed so that a fall is
  negative, and the status of the stated test on that CI, the one ``tailguard simulate``
  shows (:meth:`SimulationResults.judgement <tailguard.simulate.results.SimulationResults.judgement>`,
  :func:`tailguard.simulate.theory.judge`): against the family's theory where it declares
  one, else against generation 0's mean. So the demo and ``tailguard simulate`` cannot
  disagree about the same run;
- ``audit`` changes: each row of the last generation's audit (seed 0) against held-out
  human data *with generation 0 as the baseline*: the audit's own degradation from the
  baseline (negated, so a loss is negative) and its own status, which judges that change
  with its confidence interval.

The *trend* is the worst status among them (and the audit's verdict); ``ok`` only when
something was measured and every test passed. The *worst* change is the most severe one,
then the largest fall. Policies rank by (trend, worst change), and the headline
(:func:`headline`) is written from that ranking and those changes alone, so the verdict
table, the trend and the headline cannot disagree. :func:`stated_test` writes what the
simulation test is, from the constants it uses.

>>> c = [Change("recall", "audit", 0.5, 0.2, -0.6, "collapse", True), Change("vendi", "audit", 9, 9, 0.0, "ok", True)]
>>> ev = PolicyEvidence("ngram", "accumulate", tuple(c), audit_verdict="collapse")
>>> ev.trend, ev.worst.metric
('collapse', 'recall')
>>> ok = PolicyEvidence("ngram", "anchor:0.2", (Change("recall", "audit", 0.5, 0.5, 0.0, "ok", True),), "ok")
>>> h = headline("ngram", [ev, ok])
>>> h.best, h.protects, [n["metric"] for n in h.not_protected]
('anchor:0.2', ['anchor:0.2'], ['recall'])
>>> print(h.sentences[1])
accumulate does not protect ngram: recall fell from 0.5 to 0.2 (-60%, collapse).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from tailguard.simulate.stats import CI_LEVEL, METHOD
from tailguard.simulate.theory import COLLAPSE_CHANGE

#: severities, least to most severe; ``insufficient`` (nothing to judge) and ``departs`` (the run
#: disagrees with the family's theory) are never ``ok``
SEVERITY = {"ok": 0, "insufficient": 1, "departs": 2, "warn": 3, "collapse": 4}
#: flagged metrics a "does not protect" sentence describes (the rest are counted)
NAMED = 2
#: an average score "held" when its mean over seeds moved by less than this (relative)
AVERAGE_HELD = 0.02


def _finite(x: Any) -> bool:
    return isinstance(x, int | float) and math.isfinite(x)


def pct(x: float | None) -> str:
    """``-0.53`` -> ``"-53%"``; ``"n/a"`` when not a finite number.

    >>> pct(-0.534), pct(0.0), pct(-0.004), pct(-0.0004), pct(None)
    ('-53%', '+0%', '-0.4%', '-0.04%', 'n/a')
    """
    if not _finite(x):
        return "n/a"
    assert x is not None
    return f"{x * 100:+.1g}%" if 0 < abs(x) < 0.01 else f"{x * 100:+.0f}%"


def num(x: float | None) -> str:
    """A value as the report prints it: three significant digits, ``"n/a"`` when not finite.

    >>> num(0.98765), num(None)
    ('0.988', 'n/a')
    """
    return f"{x:.3g}" if _finite(x) else "n/a"


@dataclass(frozen=True)
class Change:
    """One metric from generation 0 (``first``) to the last generation (``last``).

    A ``simulation`` change holds means over seeds, the last mean's 95% bootstrap CI
    (``ci_low``, ``ci_high``), the number of seeds behind it (``seeds``), and the stated
    test's status with what it was judged against (``against``) and why (``reason``).

    >>> c = Change("tail_coverage", "simulation", 0.98, 0.5, -0.49, "collapse", True, 0.41, 0.6, 6, "generation 0")
    >>> c.describe()
    'tail_coverage fell from 0.98 to 0.5 (-49%, 95% CI [0.41, 0.6], collapse)'
    """

    metric: str
    source: str  # "simulation" (mean over seeds, CI test) or "audit" (seed 0, generation 0 as baseline)
    first: float | None
    last: float | None
    change: float | None  # negative: worse
    status: str
    higher_is_better: bool = True
    ci_low: float | None = None
    ci_high: float | None = None
    seeds: int | None = None
    against: str = ""
    reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in d.items()}

    @property
    def ci_text(self) -> str:
        """``95% CI [0.41, 0.6]`` of the last value (``""`` when there is none)."""
        if not (_finite(self.ci_low) and _finite(self.ci_high)):
            return ""
        return f"{CI_LEVEL:.0%} CI [{num(self.ci_low)}, {num(self.ci_high)}]"

    def describe(self) -> str:
        """``recall fell from 0.5 to 0.2 (-60%, collapse)``, from the numbers alone.

        The verb follows the values (``fell``, ``rose``); the percentage is the change
        signed so that negative is worse, as in the verdict table; a simulation change
        names the CI its status was judged on.
        """
        moved = "went"
        if _finite(self.first) and _finite(self.last) and self.first != self.last:
            moved = "fell" if self.last < self.first else "rose"  # type: ignore[operator]
        parts = [pct(self.change)] if _finite(self.change) else []
        parts += [self.ci_text] if self.ci_text else []
        parts.append(self.status)
        return f"{self.metric} {moved} from {num(self.first)} to {num(self.last)} ({', '.join(parts)})"


def _relative(first: float | None, last: float | None, higher_is_better: bool) -> float | None:
    if not (_finite(first) and _finite(last)) or first == 0:
        return None
    assert first is not None and last is not None
    rel = (last - first) / abs(first)
    return rel if higher_is_better else -rel


def _value(values: Sequence[Any] | None, g: int) -> float | None:
    if values is None or not -len(values) <= g < len(values) or values[g] is None:
        return None
    v = float(values[g])
    return v if math.isfinite(v) else None


def metric_change(results: Any, policy: str, metric: str) -> Change | None:
    """A simulated metric's change: the mean over seeds at generation 0 and at the last one, the
    last mean's CI, and the status :meth:`results.judgement(policy, metric) <tailguard.simulate.
    results.SimulationResults.judgement>` gives it (None when the results lack the metric).

    >>> from tailguard.simulate import simulate
    >>> res = simulate("gaussian", "replace", generations=2, seeds=3, sample_size=20)
    >>> c = metric_change(res, "replace", "variance_ratio")
    >>> c.status == res.judgement("replace", "variance_ratio").status, c.seeds
    (True, 3)
    """
    if metric not in results.metrics:
        return None
    s = results.summary(policy, metric)
    mean = s["mean"]
    higher = bool(results.metrics[metric].get("higher_is_better", True))
    first, last = _value(mean, 0), _value(mean, -1)
    n = _value(s.get("n"), -1)
    j = results.judgement(policy, metric)
    return Change(metric, "simulation", first, last, _relative(first, last, higher), j.status, higher,
                  _value(s.get("ci_low"), -1), _value(s.get("ci_high"), -1), None if n is None else int(n),
                  j.against, j.reason)


def simulation_changes(results: Any, policy: str) -> list[Change]:
    """The family's tail metrics (see :func:`metric_change`), generation 0 -> last."""
    changes = [metric_change(results, policy, m) for m in results.tail_metrics()]
    return [c for c in changes if c is not None]


def stated_test(changes: Sequence[Change]) -> list[str]:
    """What the simulation test behind ``changes`` is, from the constants it uses and the
    number of seeds and kinds of reference in ``changes`` (one sentence per kind).

    >>> c = Change("m", "simulation", 1.0, 0.5, -0.5, "collapse", True, 0.4, 0.6, 6, "generation 0")
    >>> print(stated_test([c])[0])  # doctest: +NORMALIZE_WHITESPACE
    Simulation metrics are means over 6 seeds; the interval is the 95% percentile bootstrap of the mean over
    seeds (2000 resamples of the seeds).
    """
    sims = [c for c in changes if c.source == "simulation"]
    if not sims:
        return []
    counts = sorted({c.seeds for c in sims if c.seeds is not None})
    seeds = "an unknown number of" if not counts else str(counts[0]) if len(counts) == 1 else \
        f"{counts[0]} to {counts[-1]}"
    out = [f"Simulation metrics are means over {seeds} seeds; the interval is the {METHOD['ci']} "
           f"({METHOD['n_boot']} resamples of the seeds)."]
    rules = {
        "generation 0": (f"have no theory and are judged at the last generation against generation 0's mean: "
                         f"collapse when even the CI's best end is at least {COLLAPSE_CHANGE:.0%} worse than it, warn "
                         "when the whole CI is worse by less, ok when the CI reaches it or is better"),
        "theory": ("are judged against the family's theory: the run matches it when the theory's value lies in the "
                   "CI, and then takes the theory's own status (collapse for an unbounded law, ok for a bounded "
                   "one); departs when the CI excludes it"),
        "bound": "are judged against a bound from theory: ok when the CI reaches the bound's side, departs otherwise",
    }
    judged = [c for c in sims if c.status != "insufficient"]
    for against, rule in rules.items():
        n = sum(c.against == against for c in judged)
        if n:
            out.append(f"{n} of the {len(sims)} (family, policy, metric) results {rule}.")
    lacking = [c for c in sims if c.status == "insufficient"]
    if lacking:
        reasons = "; ".join(sorted({c.reason for c in lacking if c.reason})) or "no reason given"
        out.append(f"{len(lacking)} of the {len(sims)} could not be judged (insufficient: {reasons}).")
    return out


def audit_changes(report: Any) -> list[Change]:
    """Every row of an audit run with a baseline: the audit's own change and status.

    The change is the row's degradation from the baseline, negated (the audit's
    ``degradation`` is positive when the candidate is worse). Rows the audit judges by
    their value alone (drift statistics, p-values) have no degradation and no change:
    they count by their status only.
    """
    out = []
    for row in report.metrics:
        first = row.baseline_value
        change = -float(row.degradation) if _finite(row.degradation) else None
        out.append(Change(row.name, "audit", first, row.value, change, row.status, bool(row.higher_is_better)))
    return out


@dataclass(frozen=True)
class PolicyEvidence:
    """The changes of one (family, policy) and the verdicts of its audits."""

    family: str
    policy: str
    changes: tuple[Change, ...]
    audit_verdict: str = "insufficient"  # last generation vs held-out human data, baseline generation 0
    baseline_verdict: str = "insufficient"  # generation 0 vs held-out human data
    diagnosis: str = "n/a"
    insufficient_reason: str = ""

    @property
    def trend(self) -> str:
        """The worst status of the changes and the audit verdict; ``insufficient`` when none was measured."""
        measured = [c for c in self.changes if c.status != "insufficient"]
        if not measured:
            return "insufficient"
        statuses = [c.status for c in self.changes] + [self.audit_verdict]
        return max(statuses, key=lambda s: SEVERITY.get(s, SEVERITY["insufficient"]))

    @property
    def worst(self) -> Change | None:
        """The most severe change, then the largest fall (unmeasured changes last)."""
        if not self.changes:
            return None
        return max(self.changes, key=_badness)

    def flagged(self) -> list[Change]:
        """Changes judged worse than ``ok``, most severe first."""
        return sorted((c for c in self.changes if c.status != "ok"), key=_badness, reverse=True)

    def rank_key(self) -> tuple[int, float]:
        """Sort key, best policy first: (trend severity, minus the worst change)."""
        worst = self.worst
        value = worst.change if worst is not None and _finite(worst.change) else -math.inf
        return SEVERITY.get(self.trend, SEVERITY["insufficient"]), -float(value)  # type: ignore[arg-type]

    def to_dict(self) -> dict[str, Any]:
        worst = self.worst
        return {
            "family": self.family,
            "policy": self.policy,
            "trend": self.trend,
            "worst": worst.to_dict() if worst is not None else None,
            "audit_verdict": self.audit_verdict,
            "baseline_verdict": self.baseline_verdict,
            "diagnosis": self.diagnosis,
            "insufficient_reason": self.insufficient_reason,
            "changes": [c.to_dict() for c in self.changes],
        }


def _badness(c: Change) -> tuple[int, float]:
    fall = -c.change if _finite(c.change) else -math.inf  # type: ignore[operator]
    return SEVERITY.get(c.status, SEVERITY["insufficient"]), fall


@dataclass
class Headline:
    """What the report claims about one family, and the sentences that say it."""

    family: str
    best: str | None  # the best ranked policy under which every metric was judged ok
    least_damage: str | None
    most_damage: str | None
    protects: list[str] = field(default_factory=list)
    not_protected: list[dict[str, Any]] = field(default_factory=list)
    averages_trap: list[dict[str, Any]] = field(default_factory=list)
    sentences: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def headline(
    family: str, evidence: Sequence[PolicyEvidence], averages: Mapping[str, Change | None] | None = None
) -> Headline:
    """The family's claims, ranked from ``evidence`` (see the module docstring).

    ``averages`` maps a policy to the change of the family's average score (accuracy,
    fidelity...): where it held (its mean moved by less than ``AVERAGE_HELD``) while a metric
    that fell was judged ``warn`` or ``collapse``, a sentence names the averages trap.
    """
    ranked = sorted(evidence, key=lambda e: e.rank_key())
    protects = [e.policy for e in ranked if e.trend == "ok"]
    h = Headline(
        family,
        best=protects[0] if protects else None,
        least_damage=ranked[0].policy if ranked else None,
        most_damage=ranked[-1].policy if len(ranked) > 1 and ranked[-1].trend != "ok" else None,
        protects=protects,
    )
    if h.best is not None:
        ev = ranked[0]
        worst = ev.worst
        falls = worst is not None and _finite(worst.change) and worst.change < 0  # type: ignore[operator]
        tail = f" (its largest fall: {worst.metric} {pct(worst.change)})" if falls else ""  # type: ignore[union-attr]
        h.sentences.append(
            f"Best protection from {h.best}: every metric of {family} was judged ok from "
            f"generation 0 to the last{tail}."
        )
        if len(protects) > 1:
            h.sentences.append(f"{', '.join(protects[1:])} also kept every metric ok.")
    elif ranked:
        h.sentences.append(f"No policy protected {family}; least damage under {ranked[0].policy}.")
    for ev in ranked:
        if ev.trend == "ok":
            continue
        flagged = ev.flagged()
        if ev.trend == "insufficient" or not flagged:
            unjudged = [f"{c.metric} ({c.source})" for c in ev.changes if c.status == "insufficient"]
            why = ([f"not judged: {', '.join(unjudged)}"] if unjudged else []) + (
                [ev.insufficient_reason] if ev.insufficient_reason else [])
            reason = f" ({'; '.join(why)})" if why else ""
            h.not_protected.append({"policy": ev.policy, "status": ev.trend, "metric": None, "change": None})
            h.sentences.append(f"{ev.policy}: too little was measured to say whether it protects {family}{reason}.")
            continue
        first = flagged[0]
        h.not_protected.append({"policy": ev.policy, "status": first.status, "metric": first.metric,
                                "source": first.source, "change": first.change})
        named = flagged[:NAMED]
        more = len(flagged) - len(named)
        extra = f"; {more} more metric{'s' if more > 1 else ''} flagged" if more else ""
        h.sentences.append(f"{ev.policy} does not protect {family}: {', '.join(c.describe() for c in named)}{extra}.")
        avg = (averages or {}).get(ev.policy)
        falling = [c for c in flagged if c.status in ("warn", "collapse") and c.higher_is_better
                   and _finite(c.change) and c.change < 0][:NAMED]  # type: ignore[operator]
        held = avg is not None and _finite(avg.change) and avg.change > -AVERAGE_HELD  # type: ignore[operator]
        if held and falling:
            assert avg is not None
            h.averages_trap.append({"policy": ev.policy, "held": avg.to_dict(), "fell": [c.to_dict() for c in falling]})
            fell = " and ".join(f"{c.metric} fell {pct(c.change)} ({c.status})" for c in falling)
            h.sentences.append(f"The averages trap under {ev.policy}: {avg.metric} held (its mean moved "
                               f"{avg.change:+.1%}, no fall of {AVERAGE_HELD:.0%} or more) while {fell}.")
    if h.most_damage is not None and h.most_damage != h.least_damage:
        h.sentences.append(f"Most damage under {h.most_damage}.")
    return h
