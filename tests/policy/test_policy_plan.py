"""The compiled plan of a source-only policy selects exactly what the composer selects."""

from __future__ import annotations

import numpy as np
import pytest

from tailguard.errors import EmptyDatasetError, ParameterError
from tailguard.policy import POLICIES, Pool, Step, parse_policy, register_step, validate_step
from tailguard.policy.plan import compile_policy
from tailguard.policy.steps import Replace
from tailguard.validation import Int

SOURCES = ["replace", "accumulate", "accumulate-subsample"]


def _random_pool(rng: np.random.Generator) -> Pool:
    n = int(rng.integers(1, 60))
    rounds = np.sort(rng.integers(0, 6, n))
    origin = np.where((rounds == 0) | (rng.random(n) < 0.1), "human", "synthetic")
    return Pool(origin=origin, round=rounds)


@pytest.mark.parametrize("spec", SOURCES)
def test_the_plan_selects_the_composers_indices_on_random_pools(spec: str) -> None:
    policy = parse_policy(spec)
    plan = policy.compile()
    assert plan is not None
    rng = np.random.default_rng(11)
    checked = 0
    for case in range(300):
        pool = _random_pool(rng)
        cur = int(rng.integers(0, 7))
        target = [None, int(rng.integers(1, 80))][int(rng.integers(0, 2))]
        try:
            want = policy.compose(pool, current_round=cur, target_size=target, rng=case).indices
        except (EmptyDatasetError, ParameterError) as err:
            with pytest.raises(type(err), match=str(err)[:40].replace("(", r"\(").replace(")", r"\)")):
                plan.select(pool.round, current_round=cur, target_size=target,
                            rng=lambda case=case: np.random.default_rng(case))
            continue
        got = plan.select(pool.round, current_round=cur, target_size=target,
                          rng=lambda case=case: np.random.default_rng(case))
        np.testing.assert_array_equal(got, want)
        assert got.dtype == np.int64
        checked += 1
    assert checked > 150  # most cases select something; the rest checked the errors


def test_the_plan_makes_its_generator_only_when_it_draws() -> None:
    made = []

    def make() -> np.random.Generator:
        made.append(1)
        return np.random.default_rng(0)

    rounds = np.array([0, 0, 1, 1, 1])
    compile_policy(parse_policy("replace")).select(rounds, current_round=1, target_size=3, rng=make)
    assert made == []  # every candidate is kept: nothing to draw
    compile_policy(parse_policy("accumulate-subsample")).select(rounds, current_round=1, target_size=3, rng=make)
    assert made == [1]
    with pytest.raises(ParameterError, match="draws 3 of 5 candidates: pass rng"):
        compile_policy(parse_policy("accumulate-subsample")).select(rounds, current_round=1, target_size=3, rng=None)


@pytest.mark.parametrize("spec", ["replace+anchor:0.2", "accumulate+fresh:0.1", "accumulate+dedup",
                                  "replace+tail-preserve", "accumulate+filter"])
def test_a_policy_with_any_other_step_has_no_plan(spec: str) -> None:
    assert parse_policy(spec).compile() is None


class LastK(Step):
    """A plug-in source written with candidates(): the last K rounds."""

    name = "last-k"
    kind = "source"
    positional = "k"
    params = {"k": Int(min=1)}
    defaults = {"k": 2}
    requires_target_size = True

    def candidates(self, rounds, current_round):
        return rounds > current_round - self.get_params()["k"]


class ReplaceButOdd(Replace):
    """Overrides apply again: its choice is no longer candidates()'s, so it must not be compiled."""

    name = "replace-odd"

    def apply(self, state):
        return state.pool.round % 2 == 1, "replace-odd: even round"


@pytest.fixture
def plugins():
    register_step(LastK)
    register_step(ReplaceButOdd)
    yield
    POLICIES.unregister("last-k")
    POLICIES.unregister("replace-odd")


def test_a_plug_in_source_with_candidates_is_compiled_and_composed_alike(plugins) -> None:
    assert validate_step(LastK) is LastK
    policy = parse_policy("last-k:2")
    plan = policy.compile()
    assert plan is not None
    pool = Pool(origin=["human"] * 4 + ["synthetic"] * 12, round=np.repeat(np.arange(4), 4))
    sel = policy.compose(pool, current_round=3, target_size=5, rng=3)
    assert set(pool.round[sel.indices]) <= {2, 3}
    assert "last-k: not a candidate at round 3" in sel.reason_counts()  # k at its default: left out
    got = plan.select(pool.round, current_round=3, target_size=5, rng=lambda: np.random.default_rng(3))
    np.testing.assert_array_equal(got, sel.indices)


def test_a_source_that_overrides_apply_again_runs_through_the_composer(plugins) -> None:
    policy = parse_policy("replace-odd")
    assert policy.compile() is None
    pool = Pool(origin=["human"] * 2 + ["synthetic"] * 6, round=[0, 0, 1, 1, 2, 2, 3, 3])
    sel = policy.compose(pool, current_round=3, target_size=4, rng=0)
    assert set(pool.round[sel.indices]) == {1, 3}  # its own apply(), not Replace's candidates()
