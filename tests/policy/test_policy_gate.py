"""The in-memory gate: each rule, its message with the numbers, and the raising API."""

from __future__ import annotations

import pytest

from tailguard.errors import GateRefusedError, ParameterError
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
