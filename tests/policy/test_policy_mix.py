"""mix / check_gate / enforce_gate over a real SQLite ledger."""

from __future__ import annotations

import numpy as np
import pytest

from tailguard.errors import (
    BadInputError,
    GateRefusedError,
    ParameterError,
    UnknownChoiceError,
    VersionExistsError,
)
from tailguard.ledger import Box, Ledger, NewSample
from tailguard.policy import GateLimits, check_gate, enforce_gate, mix


@pytest.fixture
def ledger(tmp_path):
    with Ledger.open(f"sqlite:///{tmp_path}/ledger.db") as led:
        yield led


def add_text(ledger, name, origin, generation, n, *, prefix=None):
    prefix = prefix or f"{name}-{origin}"
    samples = [NewSample(f"{prefix} {i}".encode(), None, "text", origin, generation=generation) for i in range(n)]
    ledger.add_samples(samples, as_version=name)


def add_vectors(ledger, name, origin, generation, matrix):
    samples = [
        NewSample(
            np.ascontiguousarray(row, dtype=np.float64).tobytes(),
            None,
            "vector",
            origin,
            generation=generation,
            extra={"dtype": "<f8", "dim": matrix.shape[1]},
        )
        for i, row in enumerate(matrix)
    ]
    ledger.add_samples(samples, as_version=name)


def test_mix_writes_the_version_and_records_every_exclusion(ledger):
    add_text(ledger, "h0", "human", 0, 30)
    add_text(ledger, "g1", "synthetic", 1, 30)
    add_text(ledger, "g2", "synthetic", 2, 30)
    report = mix(
        ledger, "replace+anchor:0.2", human="h0", synthetic=["g1", "g2"], as_version="train", target_size=30, seed=4
    )
    summary = ledger.version_summary("train")
    assert summary.n == report.stats.n == 30
    assert summary.by_origin == {"human": 6, "synthetic": 24}
    assert summary.by_generation == {0: 6, 2: 24}
    members = set(ledger.version_sample_ids("train"))
    excluded = ledger.exclusions("train")
    assert len(excluded) == report.n_excluded == 60
    all_ids = {r.id for v in ("h0", "g1", "g2") for r in ledger.iter_samples(v)}
    assert members.isdisjoint(s for s, _ in excluded)
    assert members | {s for s, _ in excluded} == all_ids
    reasons = {r for _, r in excluded}
    assert reasons == {
        "replace: from a round before the current round 2",
        "anchor:0.2: not drawn (non-human budget 24 of 30 keeps the human fraction >= 0.2)",
    }
    info = ledger.get_version("train")
    assert info.extra["policy"] == "replace+anchor:0.2" and info.extra["seed"] == 4
    assert info.extra["gate"]["ok"] is True
    assert check_gate(ledger, "train").ok  # uses the recorded policy


def test_mix_is_seeded(ledger):
    add_text(ledger, "h0", "human", 0, 20)
    add_text(ledger, "g1", "synthetic", 1, 40)
    for name in ("a", "b"):
        mix(ledger, "accumulate-subsample", human="h0", synthetic="g1", as_version=name, target_size=25, seed=9)
    mix(ledger, "accumulate-subsample", human="h0", synthetic="g1", as_version="c", target_size=25, seed=10)
    assert ledger.version_sample_ids("a") == ledger.version_sample_ids("b")
    assert ledger.version_sample_ids("a") != ledger.version_sample_ids("c")
    assert ledger.exclusions("a") == ledger.exclusions("b")


def test_a_refused_mix_names_the_numbers_and_writes_nothing(ledger):
    add_text(ledger, "h0", "human", 0, 10)
    add_text(ledger, "web", "unknown", None, 10)
    add_text(ledger, "g5", "synthetic", 5, 10)
    before = len(ledger.list_versions())
    with pytest.raises(GateRefusedError) as info:
        mix(
            ledger,
            "accumulate",
            human="h0",
            synthetic=["web", "g5"],
            as_version="bad",
            max_unknown_fraction=0.05,
            max_synthetic_depth=3,
        )
    message = str(info.value)
    assert message == (
        "bad: gate refused: unknown-origin share 0.33 > 0.05 allowed (max unknown fraction); "
        "synthetic depth 5 > 3 allowed (max synthetic depth)"
    )
    assert len(ledger.list_versions()) == before
    with pytest.raises(UnknownChoiceError):
        ledger.get_version("bad")


def test_an_anchor_with_no_human_rows_is_refused_not_written(ledger):
    add_text(ledger, "h0", "synthetic", 1, 10)  # mislabelled "human" version: no human rows at all
    with pytest.raises(GateRefusedError, match="the mix is empty"):
        mix(ledger, "accumulate+anchor:0.5", human="h0", as_version="x")
    assert not any(v.name == "x" for v in ledger.list_versions())


def test_gate_on_an_existing_version_uses_the_given_policy(ledger):
    add_text(ledger, "h0", "human", 0, 12)
    add_text(ledger, "g1", "synthetic", 1, 88)
    ledger.create_version("all", ["version:h0", "version:g1"])
    decision = check_gate(ledger, "all", policy="accumulate+anchor:0.3")
    assert not decision.ok
    assert decision.reasons == ("human fraction 0.12 < 0.30 required by anchor:0.3",)
    with pytest.raises(
        GateRefusedError, match=r"all: gate refused: human fraction 0\.12 < 0\.30 required by anchor:0\.3"
    ):
        enforce_gate(ledger, "all", policy="anchor:0.3")
    assert enforce_gate(ledger, "all", limits=GateLimits(min_human_fraction=0.1)).ok
    assert check_gate(ledger, "all").ok  # no recorded policy and no limits: nothing to break
    with pytest.raises(ParameterError, match="either policy= or limits="):
        check_gate(ledger, "all", policy="anchor:0.3", limits=GateLimits())


def test_fresh_draws_new_human_samples_from_the_fresh_version(ledger):
    add_text(ledger, "h0", "human", 0, 20)
    add_text(ledger, "g1", "synthetic", 1, 20)
    add_text(ledger, "new", "human", 0, 50, prefix="fresh")
    report = mix(ledger, "fresh:0.25", human="h0", synthetic="g1", fresh="new", as_version="t", target_size=20, seed=0)
    fresh_ids = {r.id for r in ledger.iter_samples("new")}
    members = set(ledger.version_sample_ids("t"))
    assert len(members & fresh_ids) == 5 and len(members) == 20
    assert report.stats.n_human == 5
    not_drawn = [s for s, r in ledger.exclusions("t") if r.startswith("fresh:0.25: not drawn")]
    assert len(not_drawn) == 45 and set(not_drawn) <= fresh_ids
    with pytest.raises(ParameterError, match="pass fresh=VERSION"):
        mix(ledger, "fresh:0.25", human="h0", synthetic="g1", as_version="t2", target_size=20)
    with pytest.raises(ParameterError, match="has no fresh:F step"):
        mix(ledger, "replace", human="h0", synthetic="g1", fresh="new", as_version="t2")
    with pytest.raises(BadInputError, match="fresh data must be human"):
        mix(ledger, "fresh:0.25", human="h0", synthetic="g1", fresh="g1", as_version="t2", target_size=20)


def test_filter_and_dedup_on_vector_versions_record_duplicates_and_outliers_with_scores(ledger):
    rng = np.random.default_rng(0)
    add_vectors(ledger, "h0", "human", 0, rng.normal(size=(200, 3)))
    synth = rng.normal(size=(60, 3))
    synth[50:55] = synth[0] + np.arange(1, 6)[:, None] * 1e-9  # five near-copies of one synthetic row
    synth[55:] = 40.0 + rng.normal(size=(5, 3))
    add_vectors(ledger, "g1", "synthetic", 1, synth)
    report = mix(ledger, "accumulate+filter+dedup", human="h0", synthetic="g1", as_version="f")
    counts = report.reason_counts
    dup = sum(v for k, v in counts.items() if k.startswith("dedup: near-duplicate"))
    machine = next(v for k, v in counts.items() if k.startswith("filter: machine-made score"))
    kept = [np.frombuffer(data, dtype=np.float64) for rec, data in ledger.iter_bytes("f") if rec.origin == "synthetic"]
    kept_rows = {i for i, row in enumerate(synth) if any(np.array_equal(row, k) for k in kept)}
    # Planted: a row with 5 near-copies, and 5 far outliers. At most one of the six copies stays (the
    # filter may take some first: a point mass of machine output looks machine-made), no outlier stays,
    # and the filter keeps 95% of human-like rows, so of the 49 genuine rows a few go too (binomial: at
    # most 8 with 99% probability).
    assert len(kept_rows & ({0} | set(range(50, 55)))) <= 1
    assert not kept_rows & set(range(55, 60))
    assert dup >= 1 and machine >= 5 and dup + machine <= 10 + 8
    scored = {sid: score for sid, reason, score in ledger.exclusions("f", scores=True) if reason.startswith("filter")}
    assert len(scored) == machine and all(s is not None and 0 <= s <= 1 for s in scored.values())
    assert ledger.version_summary("f").by_origin["human"] == 200


def test_tail_preserve_on_detection_uses_the_rarest_class_per_image(ledger):
    def images(name, origin, gen, classes):
        samples = [
            NewSample(
                f"{name}-{i}".encode(),
                None,
                "detection",
                origin,
                generation=gen,
                labels=(Box(int(c), 0.5, 0.5, 0.1, 0.1, origin),),
            )
            for i, c in enumerate(classes)
        ]
        ledger.add_samples(samples, as_version=name)

    images("h0", "human", 0, [0] * 80 + [1] * 20)
    images("g1", "pseudo_label", 1, [0] * 390 + [1] * 10)
    mix(ledger, "accumulate-subsample+tail-preserve", human="h0", synthetic="g1", as_version="t", target_size=100)
    by_class = ledger.version_summary("t").by_class
    assert by_class == {0: 80, 1: 20}


def test_mix_input_errors(ledger):
    add_text(ledger, "h0", "human", 0, 5)
    with pytest.raises(UnknownChoiceError, match="Did you mean 'h0'"):
        mix(ledger, "accumulate", human="h1", as_version="x")
    mix(ledger, "accumulate", human="h0", as_version="x")
    with pytest.raises(VersionExistsError):
        mix(ledger, "accumulate", human="h0", as_version="x")
    add_vectors(ledger, "v", "synthetic", 1, np.zeros((2, 2)))
    with pytest.raises(BadInputError, match="several modalities"):
        mix(ledger, "accumulate+filter", human="h0", synthetic="v", as_version="y")
