"""The demo's claims from per-metric changes: trend, ranking, headline sentences."""

from __future__ import annotations

import pytest

from tailguard.demo.evidence import Change, PolicyEvidence, change_status, headline, pct


def _ev(policy: str, *changes: Change, verdict: str = "ok") -> PolicyEvidence:
    return PolicyEvidence("fam", policy, tuple(changes), audit_verdict=verdict)


def _c(metric: str, change: float | None, status: str | None = None, source: str = "audit") -> Change:
    return Change(metric, source, 1.0, None if change is None else 1.0 + change, change,
                  status or change_status(change), True)


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
    fell = Change("accuracy", "simulation", 0.9, 0.86, -0.044, "ok")  # within the warn threshold, but not held
    trap = headline("fam", [ev], {"replace": held})
    assert trap.averages_trap and trap.averages_trap[0]["fell"][0]["metric"] == "rare_recall"
    assert "accuracy held (-1%) while rare_recall fell -30%" in trap.sentences[-1]
    assert headline("fam", [ev], {"replace": fell}).averages_trap == []


@pytest.mark.parametrize(("x", "text"), [(-0.534, "-53%"), (0.2, "+20%"), (float("nan"), "n/a")])
def test_pct(x: float, text: str) -> None:
    assert pct(x) == text
