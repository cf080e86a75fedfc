"""The in-memory gate: each rule, its message with the numbers, and the raising API."""

from __future__ import annotations

import numpy as np
import pytest

from tailguard.errors import GateRefusedError, ParameterError, UnknownChoiceError
from tailguard.policy import Gate, GateLimits, MixStats, Pool, parse_policy


def stats(n=100, human=50, unknown=0, depth=1):
    return MixStats(n=n, n_human=human, n_unknown=unknown, max_synthetic_depth=depth)


def test_each_rule_refuses_with_its_numbers():
    limits = GateLimits(min_human_fraction=0.3, max_unknown_fraction=0.05, max_synthetic_depth=2, source="anchor:0.3")
    assert limits.check(stats()).ok
    d = limits.check(stats(human=12, unknown=8, depth=4))
    assert not d.ok and not bool(d)
    assert d.reasons == (
        "human fraction 0.12 < 0.30 required by anchor:0.3",
        "unknown-origin share 0.08 > 0.05 allowed (max unknown fraction)",
        "synthetic depth 4 > 2 allowed (max synthetic depth)",
    )


def test_boundaries_pass_and_close_breaches_print_distinct_numbers():
    limits = GateLimits(min_human_fraction=0.3, max_unknown_fraction=0.05, max_synthetic_depth=2)
    assert limits.check(stats(human=30, unknown=5, depth=2)).ok
    d = limits.check(stats(n=1000, human=299))
    assert d.reasons == ("human fraction 0.299 < 0.300 required by the policy",)


def test_enforce_raises_gate_refused_naming_the_numbers():
    gate = Gate(parse_policy("replace+anchor:0.3").gate_limits())
    with pytest.raises(GateRefusedError) as info:
        gate.enforce(stats(human=12))
    assert str(info.value) == "gate refused: human fraction 0.12 < 0.30 required by anchor:0.3"
    assert info.value.reasons == ["human fraction 0.12 < 0.30 required by anchor:0.3"]
    assert gate.enforce(stats(human=30)).ok


def test_gate_judges_a_selection_and_an_unanchored_replace_mix_fails_a_human_minimum():
    pool = Pool(origin=["human"] * 10 + ["synthetic"] * 10, depth=[0] * 10 + [3] * 10, round=[0] * 10 + [3] * 10)
    sel = parse_policy("replace").compose(pool, rng=0)
    decision = Gate(GateLimits(min_human_fraction=0.2, max_synthetic_depth=2)).check(sel)
    assert decision.reasons == (
        "the mix holds no human data (0 of 10 samples are human); pass --allow-no-human (allow_no_human=True) "
        "to permit it",
        "human fraction 0.00 < 0.20 required by the policy",
        "synthetic depth 3 > 2 allowed (max synthetic depth)",
    )
    anchored = parse_policy("replace+anchor:0.2").compose(pool, rng=0)
    assert Gate(parse_policy("replace+anchor:0.2").gate_limits()).check(anchored).ok
    assert decision.to_dict()["stats"]["human_fraction"] == 0.0


def test_limits_are_validated_and_empty_mixes_are_refused():
    with pytest.raises(ParameterError, match="The 'max_unknown_fraction' parameter of GateLimits"):
        GateLimits(max_unknown_fraction=1.5)
    with pytest.raises(ParameterError, match="The 'max_synthetic_depth' parameter of GateLimits"):
        GateLimits(max_synthetic_depth=-1)
    assert GateLimits().check(stats(n=0, human=0)).reasons == ("the mix is empty (0 samples)",)


# --------------------------------------------------------------------------- no human data
def test_a_mix_without_human_data_is_refused_unless_permitted():
    no_human = stats(n=40, human=0)
    refused = GateLimits().check(no_human)
    assert not refused.ok and refused.reasons[0].startswith("the mix holds no human data (0 of 40 samples")
    permitted = GateLimits(allow_no_human=True).check(no_human)
    assert permitted.ok and permitted.notes == ("no human data (0 of 40 samples are human): permitted by --allow-no-human",)
    assert permitted.to_dict()["limits"]["allow_no_human"] is True and permitted.to_dict()["notes"]
    assert GateLimits().check(stats(n=40, human=1)).notes == ()  # one human sample: nothing to permit
    # the in-memory gate of a simulator's `replace` round
    pool = Pool(origin=["human"] * 5 + ["synthetic"] * 5, round=[0] * 5 + [1] * 5)
    sel = parse_policy("replace").compose(pool, rng=0)
    with pytest.raises(GateRefusedError, match="gate refused: the mix holds no human data"):
        Gate(parse_policy("replace").gate_limits()).enforce(sel)
    assert Gate(parse_policy("replace").gate_limits(allow_no_human=True)).enforce(sel).ok


# --------------------------------------------------------------------------- the audit
def _vectors(seed, n=400, scale=1.0):
    return np.random.default_rng(seed).normal(size=(n, 3)) * scale


def test_gate_with_a_reference_refuses_on_the_verdict_and_names_the_metrics():
    limits = GateLimits(min_human_fraction=0.2)
    mix_stats = stats(n=400, human=200)
    gate = Gate(limits, reference=_vectors(0), fail_on="collapse")
    collapsed = gate.check(mix_stats, samples=_vectors(1, scale=0.2))
    assert not collapsed.ok and collapsed.audit is not None
    assert collapsed.audit.verdict == "collapse" and collapsed.audit.refused
    assert collapsed.reasons[-1].startswith("audit against reference: verdict collapse reaches --fail-on collapse (")
    named = collapsed.reasons[-1]
    assert all(f"{m} {s}" in named for m, s in collapsed.audit.flagged[:6])
    assert all(s == "collapse" for _, s in collapsed.audit.flagged)
    assert collapsed.to_dict()["audit"]["verdict"] == "collapse"
    # the same distribution passes the same gate, and the number rules still apply
    fine = gate.check(mix_stats, samples=_vectors(2))
    assert fine.audit.verdict in ("ok", "warn") and fine.ok
    assert not gate.check(stats(n=400, human=40), samples=_vectors(2)).ok


def test_gate_audit_fails_closed_on_insufficient_and_needs_the_samples():
    gate = Gate(GateLimits(), reference=_vectors(0), fail_on="warn")
    few = gate.check(stats(n=1, human=1), samples=_vectors(3, n=1))
    assert not few.ok and few.audit.verdict == "insufficient"
    assert "a gate never passes what it did not check" in few.reasons[-1]
    with pytest.raises(ParameterError, match="pass samples="):
        gate.check(stats())
    with pytest.raises(UnknownChoiceError, match="fail_on level 'colapse'"):
        Gate(GateLimits(), reference=_vectors(0), fail_on="colapse")


def test_fail_on_warn_refuses_what_fail_on_collapse_passes():
    from tailguard.audit import audit
    from tailguard.policy.auditing import judge_report

    report = audit(_vectors(4, scale=0.85), _vectors(0), seed=0)
    assert report.verdict == "warn", report.summary()
    assert not judge_report(report, fail_on="collapse", reference_name="h").refused
    warned = judge_report(report, fail_on="warn", reference_name="h")
    assert warned.refused and warned.reasons[0].startswith("audit against h: verdict warn reaches --fail-on warn (")
