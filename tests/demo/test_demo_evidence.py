"""The demo's claims from per-metric changes: trend, ranking, headline sentences; the simulated
changes' means, CIs and statuses from the same stated test as ``tailguard simulate``."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from tailguard.demo.evidence import (
    SEVERITY,
    Change,
    PolicyEvidence,
    headline,
    metric_change,
    pct,
    simulation_changes,
    stated_test,
)
from tailguard.simulate.results import SimulationResults
from tailguard.simulate.stats import METHOD
from tailguard.simulate.theory import COLLAPSE_CHANGE, Theory


def _ev(policy: str, *changes: Change, verdict: str = "ok") -> PolicyEvidence:
    return PolicyEvidence("fam", policy, tuple(changes), audit_verdict=verdict)


def _status(change: float | None) -> str:
    """A status for hand-made audit changes (the audit judges its own; these only feed the ranking)."""
    if change is None:
        return "insufficient"
    return "collapse" if change <= -0.25 else "warn" if change <= -0.10 else "ok"


def _c(metric: str, change: float | None, status: str | None = None, source: str = "audit") -> Change:
    return Change(metric, source, 1.0, None if change is None else 1.0 + change, change,
                  status or _status(change), True)


def _results(last: list[float], *, first: float | list[float] = 1.0, higher: bool = True,
             theory: Theory | None = None) -> SimulationResults:
    """One policy, one tail metric ``m``: every seed at ``first`` in generation 0, ``last`` per seed at generation 2."""
    seeds = len(last)
    gen0 = np.full(seeds, first) if np.isscalar(first) else np.asarray(first, dtype=float)
    values = np.column_stack([gen0, (gen0 + np.asarray(last)) / 2, np.asarray(last, dtype=float)])
    extra = {"theory": {"replace": {"m": theory.to_dict()}}} if theory is not None else {}
    return SimulationResults("toy", {"generations": 2, "seeds": seeds}, {"replace": {"m": values}},
                             {"m": {"higher_is_better": higher, "tail": True, "description": ""}}, extra=extra)


def test_trend_is_the_worst_status_and_never_ok_without_measurements() -> None:
    assert _ev("p", _c("a", 0.0), _c("b", -0.3)).trend == "collapse"
    assert _ev("p", _c("a", 0.0), verdict="warn").trend == "warn"  # the audit verdict counts too
    assert _ev("p").trend == "insufficient"
    assert _ev("p", _c("a", None)).trend == "insufficient"
    assert _ev("p", _c("a", 0.01), verdict="insufficient").trend == "insufficient"


def test_worst_change_is_the_most_severe_then_the_largest_fall() -> None:
    ev = _ev("p", _c("small_collapse", -0.05, "collapse"), _c("big_warn", -0.6, "warn"), _c("ok", -0.09))
    assert ev.worst.metric == "small_collapse"
    assert [c.metric for c in ev.flagged()] == ["small_collapse", "big_warn"]


def test_best_is_ranked_first_and_only_named_when_it_protects() -> None:
    a = _ev("a", _c("m", -0.02))
    b = _ev("b", _c("m", -0.08))
    c = _ev("c", _c("m", -0.40))
    h = headline("fam", [c, b, a])
    assert (h.best, h.protects, h.most_damage) == ("a", ["a", "b"], "c")
    assert h.sentences[0].startswith("Best protection from a:")
    assert [n["policy"] for n in h.not_protected] == ["c"]
    assert "m fell from 1 to 0.6 (-40%, collapse)" in " ".join(h.sentences)

    none_ok = headline("fam", [c, _ev("d", _c("m", -0.12))])
    assert none_ok.best is None and none_ok.protects == []
    assert none_ok.least_damage == "d"
    assert none_ok.sentences[0] == "No policy protected fam; least damage under d."
    assert not any("Best protection" in s for s in none_ok.sentences)


def test_an_insufficient_policy_is_never_said_to_protect() -> None:
    h = headline("fam", [_ev("p", _c("m", 0.0), verdict="insufficient")])
    assert h.best is None and h.protects == []
    assert h.not_protected == [{"policy": "p", "status": "insufficient", "metric": None, "change": None}]
    assert "too little was measured" in h.sentences[-1]


def test_averages_trap_is_named_only_when_the_average_held() -> None:
    ev = _ev("replace", _c("rare_recall", -0.3, source="simulation"))
    held = Change("accuracy", "simulation", 0.9, 0.89, -0.011, "ok")
    fell = Change("accuracy", "simulation", 0.9, 0.86, -0.044, "ok")  # judged ok, but its mean did not hold
    trap = headline("fam", [ev], {"replace": held})
    assert trap.averages_trap and trap.averages_trap[0]["fell"][0]["metric"] == "rare_recall"
    assert "accuracy held (its mean moved -1.1%, no fall of 2% or more) while rare_recall fell -30% (collapse)" \
        in trap.sentences[-1]
    assert headline("fam", [ev], {"replace": fell}).averages_trap == []
    rose = Change("accuracy", "simulation", 0.9, 0.95, 0.0556, "ok")
    assert "accuracy held (its mean moved +5.6%, no fall of 2% or more)" in headline("fam", [ev], {"replace": rose}).sentences[-1]


@pytest.mark.parametrize(("x", "text"), [(-0.534, "-53%"), (0.2, "+20%"), (float("nan"), "n/a")])
def test_pct(x: float, text: str) -> None:
    assert pct(x) == text


def test_a_fall_whose_ci_excludes_generation_0_is_judged_and_one_whose_ci_holds_it_is_ok() -> None:
    collapse = metric_change(_results([0.50, 0.52, 0.48, 0.51, 0.49, 0.50]), "replace", "m")
    warn = metric_change(_results([0.96, 0.95, 0.97, 0.96, 0.95, 0.97]), "replace", "m")  # excluded, by < 10%
    noisy = metric_change(_results([0.40, 1.60, 0.70, 1.20, 0.50, 1.10]), "replace", "m")  # mean 0.917, CI holds 1
    assert (collapse.status, warn.status, noisy.status) == ("collapse", "warn", "ok")
    assert collapse.ci_high < 1.0 and warn.ci_high < 1.0 and noisy.ci_low <= 1.0 <= noisy.ci_high
    # a 8% fall of the mean is ok when the CI reaches generation 0, and a 4% one is judged when it does not
    assert noisy.change == pytest.approx(-0.0833, abs=1e-3) and warn.change == pytest.approx(-0.04)
    assert collapse.first == 1.0 and collapse.last == pytest.approx(0.5) and collapse.seeds == 6
    assert collapse.against == "generation 0" and "best end is 49% worse" in collapse.reason  # 0.51 vs 1
    # even the best end of the CI must be >= COLLAPSE_CHANGE worse for collapse
    edge = metric_change(_results([1 - COLLAPSE_CHANGE * 0.9] * 3 + [1 - COLLAPSE_CHANGE * 0.8] * 3), "replace", "m")
    assert edge.status == "warn"


def test_lower_is_better_metrics_fall_when_they_rise() -> None:
    rose = metric_change(_results([1.5, 1.6, 1.55, 1.45], higher=False), "replace", "m")
    assert rose.status == "collapse" and rose.change == pytest.approx(-0.525) and rose.last > rose.first
    assert "rose from 1 to 1.52" in rose.describe()


def test_status_is_the_simulate_judgement_for_the_same_results() -> None:
    cases = [_results(last, higher=h) for h in (True, False) for last in
             ([0.5, 0.52, 0.48], [0.96, 0.95, 0.97], [0.4, 1.6, 0.9], [1.2, 1.3, 1.25], [0.9])]
    law = Theory("m", "replace", "mean", (1.0, 0.9, 0.8), bounded=False, source="toy law")
    cases += [_results([0.79, 0.81, 0.80], theory=law), _results([0.5, 0.52, 0.51], theory=law)]
    statuses = set()
    for res in cases:
        (c,) = simulation_changes(res, "replace")
        j = res.judgement("replace", "m")
        assert (c.status, c.against, c.reason) == (j.status, j.against, j.reason)
        s = res.summary("replace", "m")
        assert (c.first, c.last, c.ci_low, c.ci_high) == (s["mean"][0], s["mean"][-1], s["ci_low"][-1], s["ci_high"][-1])
        statuses.add(c.status)
    assert statuses == {"ok", "warn", "collapse", "insufficient", "departs"}  # every branch of the test was met


def test_one_seed_is_insufficient_and_never_protects() -> None:
    (c,) = simulation_changes(_results([1.0]), "replace")  # no fall, but no interval either
    assert c.status == "insufficient" and c.ci_text == ""
    ev = PolicyEvidence("toy", "replace", (c, _c("audit_row", 0.0)), audit_verdict="ok")
    h = headline("toy", [ev])
    assert ev.trend == "insufficient" and h.protects == [] and h.best is None
    assert "too little was measured" in h.sentences[-1] and "m (simulation)" in h.sentences[-1]


def test_departing_from_theory_is_never_protection() -> None:
    ev = _ev("p", _c("m", 0.0, "departs", "simulation"), _c("a", 0.0))
    assert ev.trend == "departs" and headline("fam", [ev]).protects == []
    assert SEVERITY["ok"] < SEVERITY["insufficient"] < SEVERITY["departs"] < SEVERITY["warn"] < SEVERITY["collapse"]


@pytest.mark.parametrize("statuses", list(itertools.product(["ok", "warn", "collapse", "insufficient"], repeat=3)))
def test_the_headline_never_claims_protection_beside_a_judged_fall(statuses) -> None:
    changes = [Change(f"m{k}", "simulation", 1.0, 0.9, -0.1, s, True) for k, s in enumerate(statuses)]
    h = headline("fam", [_ev("p", *changes), _ev("q", _c("m", 0.0))])
    text = " ".join(h.sentences)
    protected = all(s == "ok" for s in statuses)
    assert ("p" in h.protects) == protected
    assert ("p does not protect fam" in text or "p: too little was measured" in text) == (not protected)
    if not protected and h.best == "q":
        assert h.sentences[0].startswith("Best protection from q:")


def test_stated_test_is_written_from_the_constants_and_the_changes() -> None:
    law = Theory("m", "replace", "mean", (1.0, 0.9, 0.8), bounded=True, source="toy law")
    changes = [metric_change(r, "replace", "m") for r in
               (_results([0.5, 0.52, 0.48]), _results([0.9, 0.95]), _results([0.79, 0.81], theory=law), _results([1.0]))]
    text = stated_test(changes)
    assert text[0].startswith("Simulation metrics are means over 1 to 3 seeds")
    assert METHOD["ci"] in text[0] and str(METHOD["n_boot"]) in text[0]
    assert any(s.startswith("2 of the 4 (family, policy, metric) results have no theory") for s in text)
    assert any(f"at least {COLLAPSE_CHANGE:.0%} worse" in s for s in text)
    assert any(s.startswith("1 of the 4 (family, policy, metric) results are judged against the family's theory")
               for s in text)
    assert any(s.startswith("1 of the 4 could not be judged (insufficient: no confidence interval") for s in text)
    assert not any("bound" in s for s in text[1:] if "bounded" not in s)  # no bound was used, none is described
    assert stated_test([_c("a", -0.3)]) == []  # audit rows are not the simulation test
