"""The composer on array pools: each policy's defining property, the exclusion log, determinism."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tailguard.errors import BadInputError, EmptyDatasetError, ParameterError, UnknownChoiceError
from tailguard.policy import Origin, Pool, parse_policy


def generations(n_rounds: int, per_round: int, *, human_rounds: int = 1, rng=None) -> Pool:
    """Round 0 human, rounds 1.. synthetic with depth = round; 2-D features."""
    rng = np.random.default_rng(0) if rng is None else rng
    rounds = np.repeat(np.arange(n_rounds), per_round)
    origin = np.where(rounds < human_rounds, Origin.HUMAN, Origin.SYNTHETIC)
    depth = np.where(origin == Origin.HUMAN, 0, rounds)
    return Pool(origin=origin, depth=depth, round=rounds, features=rng.normal(size=(rounds.size, 2)))


def assert_partition(sel, n):
    """Every pool row is either selected or excluded, never both, and each exclusion has a reason."""
    chosen = np.unique(sel.indices)
    assert np.intersect1d(chosen, sel.excluded).size == 0
    assert np.union1d(chosen, sel.excluded).tolist() == list(range(n))
    assert sel.excluded_reason.shape == sel.excluded.shape
    assert all(0 <= c < len(sel.reasons) for c in sel.excluded_reason)
    assert sum(sel.reason_counts().values()) == len(sel.excluded) + len(sel.fresh_excluded)


def test_replace_keeps_only_the_current_round():
    pool = generations(4, 10)
    sel = parse_policy("replace").compose(pool, current_round=3, rng=0)
    assert sel.indices.tolist() == list(range(30, 40))
    assert_partition(sel, len(pool))
    assert set(sel.reason_counts()) == {"replace: from a round before the current round 3"}
    assert sel.stats.n_human == 0 and sel.stats.max_synthetic_depth == 3


def test_replace_defaults_to_the_newest_round_and_round_zero_is_human():
    pool = generations(3, 5)
    assert parse_policy("replace").compose(pool, rng=0).indices.min() == 10
    first = parse_policy("replace").compose(pool, current_round=0, rng=0)
    assert first.indices.tolist() == list(range(5))
    assert first.stats.human_fraction == 1.0
    assert set(first.reason_counts()) == {"replace: produced after the current round 0"}


def test_accumulate_keeps_everything_so_far_and_ignores_target_size():
    pool = generations(5, 8)
    sel = parse_policy("accumulate").compose(pool, current_round=3, target_size=5, rng=0)
    assert sel.indices.tolist() == list(range(32))
    assert sel.excluded.tolist() == list(range(32, 40))
    assert_partition(sel, len(pool))


def test_accumulate_subsample_fixes_the_size_and_is_seeded():
    pool = generations(6, 20)
    policy = parse_policy("accumulate-subsample")
    a = policy.compose(pool, current_round=5, target_size=25, rng=np.random.default_rng(7))
    b = policy.compose(pool, current_round=5, target_size=25, rng=np.random.default_rng(7))
    c = policy.compose(pool, current_round=5, target_size=25, rng=np.random.default_rng(8))
    assert len(a) == 25 and len(np.unique(a.indices)) == 25
    assert np.array_equal(a.indices, b.indices) and np.array_equal(a.excluded_reason, b.excluded_reason)
    assert not np.array_equal(a.indices, c.indices)
    assert_partition(a, len(pool))
    with pytest.raises(ParameterError, match="pass target_size"):
        policy.compose(pool, rng=0)


def test_accumulate_subsample_draws_uniformly_over_rounds():
    # 6 rounds of 50; a uniform draw of 60 takes 10 per round on average. Over 200 seeds the
    # per-round mean has standard error sqrt(var/200) < 0.25, so 1.0 is a > 4-sigma tolerance.
    pool = generations(6, 50)
    counts = np.zeros(6)
    for seed in range(200):
        sel = parse_policy("accumulate-subsample").compose(pool, target_size=60, rng=seed)
        counts += np.bincount(pool.round[sel.indices], minlength=6)
    assert np.allclose(counts / 200, 10.0, atol=1.0)


@pytest.mark.parametrize("frac", [0.1, 0.2, 0.5, 0.9, 1.0])
def test_anchor_on_replace_brings_back_human_rows_to_the_fraction(frac):
    pool = generations(4, 100)
    sel = parse_policy(f"replace+anchor:{frac}").compose(pool, current_round=3, target_size=100, rng=1)
    assert len(sel) == 100
    assert sel.stats.n_human == math.ceil(frac * 100 - 1e-9)
    assert sel.stats.human_fraction >= frac
    human_rows = sel.indices[pool.is_human[sel.indices]]
    assert np.all(pool.round[human_rows] == 0)  # brought back from round 0
    assert_partition(sel, len(pool))


def test_anchor_drops_synthetic_rows_when_human_rows_run_short():
    # 10 human rows, 390 synthetic ones accumulated: anchor:0.2 can keep only 40 synthetic rows.
    pool = generations(40, 10)
    sel = parse_policy("accumulate+anchor:0.2").compose(pool, rng=0)
    assert sel.stats.n_human == 10
    assert sel.stats.n == 50
    assert sel.stats.human_fraction >= 0.2
    reasons = sel.reason_counts()
    assert reasons == {"anchor:0.2: not drawn (non-human budget 40 of 390 keeps the human fraction >= 0.2)": 350}


def test_anchor_keeps_natural_human_share_when_it_already_exceeds_the_minimum():
    pool = generations(2, 50, human_rounds=1)  # 50 human, 50 synthetic
    sel = parse_policy("accumulate-subsample+anchor:0.1").compose(pool, target_size=40, rng=0)
    assert sel.stats.n == 40 and sel.stats.n_human == 20


@settings(max_examples=80, deadline=None)
@given(
    n_human=st.integers(0, 40),
    n_synth=st.integers(1, 60),
    rounds=st.integers(1, 5),
    frac=st.floats(0.01, 1.0),
    target=st.integers(1, 80),
    source=st.sampled_from(["replace", "accumulate", "accumulate-subsample"]),
    seed=st.integers(0, 2**32 - 1),
)
def test_anchor_never_yields_a_mix_below_its_fraction(n_human, n_synth, rounds, frac, target, source, seed):
    rng = np.random.default_rng(seed)
    origin = np.r_[np.zeros(n_human), np.ones(n_synth)].astype(int)
    rnd = np.r_[np.zeros(n_human, int), rng.integers(1, rounds + 1, n_synth)]
    pool = Pool(origin=origin, depth=rnd, round=rnd)
    policy = parse_policy(f"{source}+anchor:{frac}")
    try:
        sel = policy.compose(pool, current_round=int(rnd.max()), target_size=target, rng=rng)
    except EmptyDatasetError:
        return
    assert_partition(sel, len(pool))
    if len(sel):
        assert sel.stats.human_fraction >= frac - 1e-12
        assert policy.gate_limits().check(sel.stats).ok
    if source != "accumulate":
        assert len(sel) <= target


def test_fresh_adds_new_human_rows_and_holds_the_size():
    pool = generations(3, 100)
    fresh = Pool.human(500, features=np.zeros((500, 2)))
    sel = parse_policy("fresh:0.25").compose(pool, current_round=2, target_size=100, fresh_human=fresh, rng=3)
    assert sel.fresh_indices.shape == (25,) and len(np.unique(sel.fresh_indices)) == 25
    assert len(sel.indices) == 75 and np.all(pool.round[sel.indices] == 2)
    assert len(sel) == 100 and sel.stats.n_human == 25
    assert len(sel.fresh_excluded) == 475
    assert set(sel.fresh_excluded_pairs()[0][1].split(":")[:2]) == {"fresh", "0.25"}
    values = sel.gather(np.arange(len(pool)), np.arange(1000, 1500))
    assert values.shape == (100,) and np.sum(values >= 1000) == 25
    with pytest.raises(ParameterError, match="fresh_values"):
        sel.gather(np.arange(len(pool)))


def test_fresh_refuses_a_short_or_non_human_fresh_pool():
    pool = generations(2, 10)
    with pytest.raises(BadInputError, match=r"fresh:0.5 needs 5 fresh human rows this round but fresh_human has 3"):
        parse_policy("fresh:0.5").compose(pool, target_size=10, fresh_human=Pool.human(3), rng=0)
    with pytest.raises(BadInputError, match="row 1 is synthetic"):
        parse_policy("fresh:0.5").compose(
            pool, target_size=10, fresh_human=Pool(origin=["human", "synthetic"] * 5), rng=0
        )


def test_fresh_with_anchor_counts_fresh_rows_as_human():
    pool = generations(3, 100)
    sel = parse_policy("fresh:0.1+anchor:0.3").compose(
        pool, current_round=2, target_size=100, fresh_human=Pool.human(50), rng=0
    )
    assert len(sel) == 100
    assert sel.stats.n_human == 30  # 10 fresh + 20 brought back from round 0
    assert np.sum(pool.is_human[sel.indices]) == 20


@settings(max_examples=50, deadline=None)
@given(
    spec=st.sampled_from(
        [
            "replace",
            "accumulate",
            "accumulate-subsample",
            "replace+anchor:0.3",
            "accumulate+anchor:0.2+filter",
            "accumulate-subsample+tail-preserve",
            "replace+tail-preserve+anchor:0.5",
            "accumulate+filter+tail-preserve",
        ]
    ),
    seed=st.integers(0, 10_000),
    repeats=st.booleans(),
)
def test_every_row_is_kept_or_excluded_with_a_reason_and_seeds_reproduce(spec, seed, repeats):
    pool = generations(4, 30, rng=np.random.default_rng(seed))
    kwargs = {"current_round": 3, "target_size": 40, "allow_repeats": repeats}
    a = parse_policy(spec).compose(pool, rng=seed, **kwargs)
    b = parse_policy(spec).compose(pool, rng=seed, **kwargs)
    assert_partition(a, len(pool))
    assert np.array_equal(a.indices, b.indices) and a.excluded_pairs() == b.excluded_pairs()
    if not repeats:
        assert len(np.unique(a.indices)) == len(a.indices)


def test_input_errors_are_typed_and_name_the_input():
    pool = generations(2, 5)
    with pytest.raises(EmptyDatasetError, match="pool is empty"):
        parse_policy("replace").compose(Pool(origin=np.zeros(0, int)), rng=0)
    with pytest.raises(EmptyDatasetError, match="no rows from round 7"):
        parse_policy("replace").compose(pool, current_round=7, rng=0)
    with pytest.raises(
        ParameterError, match=re.escape("The 'target_size' parameter of compose must be an int >= 1. Got 0.")
    ):
        parse_policy("replace").compose(pool, target_size=0, rng=0)
    with pytest.raises(ParameterError, match="filter needs features: the reference has no features"):
        parse_policy("filter").compose(Pool(origin=["human", "synthetic"], round=[0, 1]), rng=0)
    with pytest.raises(ParameterError, match="dedup needs features: the pool has no features"):
        parse_policy("accumulate+dedup").compose(Pool(origin=["human", "synthetic"], round=[0, 1]), rng=0)
    with pytest.raises(ParameterError, match="tail-preserve needs class labels, or features"):
        parse_policy("tail-preserve").compose(Pool(origin=["human", "synthetic"], round=[0, 1]), rng=0)
    with pytest.raises(UnknownChoiceError, match="Did you mean 'synthetic'"):
        Pool(origin=["human", "synthtic"])
    with pytest.raises(BadInputError, match=r"Pool\.depth has 1 entries but origin has 2"):
        Pool(origin=["human", "human"], depth=[0])


def test_tail_preserve_with_anchor_keeps_class_shares_within_each_origin():
    ref = Pool.human(100, classes=np.repeat([0, 1], [75, 25]))
    classes = np.r_[np.repeat([0, 1], [95, 5]), np.repeat([0, 1], [396, 4])]
    pool = Pool(
        origin=np.r_[np.zeros(100, int), np.ones(400, int)],
        round=np.r_[np.zeros(100, int), np.ones(400, int)],
        classes=classes,
    )
    sel = parse_policy("accumulate-subsample+anchor:0.5+tail-preserve").compose(
        pool, target_size=40, reference=ref, rng=0, allow_repeats=False
    )
    human = sel.indices[pool.is_human[sel.indices]]
    other = sel.indices[~pool.is_human[sel.indices]]
    assert len(human) == 20 and len(other) == 20
    assert np.bincount(classes[human]).tolist() == [15, 5]
    assert np.bincount(classes[other]).tolist() == [16, 4]  # only 4 rare synthetic rows exist
    reasons = sel.reason_counts()
    assert any(r.endswith("tail-preserve chose which") for r in reasons)


def test_pool_rejects_non_finite_features_and_negative_rounds():
    from tailguard.errors import NonFiniteValueError

    with pytest.raises(NonFiniteValueError, match=r"Pool\.features"):
        Pool(origin=["human"], features=[[np.nan]])
    with pytest.raises(BadInputError, match=r"Pool\.round must be >= 0"):
        Pool(origin=["human"], round=[-1])
    with pytest.raises(BadInputError, match="features must have shape"):
        Pool(origin=["human", "human"], features=np.zeros((3, 2)))
