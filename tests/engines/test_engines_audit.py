"""The audit, the simulator, mix and gate on every engine: the same numbers wherever they run.

Ray runs for real here: a local cluster with 2 CPUs (the ``ray`` marker; ``make test`` runs it).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from tailguard.audit import AuditConfig, audit
from tailguard.engines import current_engine, get_engine, use_engine
from tailguard.errors import EngineError


@pytest.fixture(scope="module")
def digits_pair():
    from sklearn.datasets import load_digits

    x = load_digits().data.astype(np.float64)
    return x[:900] * 0.9, x[900:]


def _values(report):
    return [(m.name, m.value, m.status) for m in report.metrics]


# States that merge exactly and results computed without BLAS: equal to the bit on every engine.
_EXACT_STATE = ("distinct_", "vocabulary", "hapax", "duplicate", "near_duplicate")


def assert_same_audit(got, want):
    """Equal names and statuses; exact-state values equal to the bit, the rest within 1e-9.

    The states are the same wherever they were fed (shard for shard). Results computed by BLAS
    (covariance spectra, k-NN distances) may differ in the last bits between a driver with two
    BLAS threads and a Ray worker pinned to one, because the threads split the sums differently.
    """
    got, want = _values(got), _values(want)
    assert [(n, s) for n, _, s in got] == [(n, s) for n, _, s in want]
    for (name, a, _), (_, b, _) in zip(got, want, strict=True):
        if name.startswith(_EXACT_STATE):
            assert a == b, name
        else:
            assert a == pytest.approx(b, rel=1e-9, abs=1e-12, nan_ok=True), name


@pytest.fixture(scope="module")
def ray_engine():
    pytest.importorskip("ray")
    with get_engine("ray", num_cpus=2) as engine:
        yield engine


def test_a_sharded_audit_equals_the_unsharded_one_on_exact_state(digits_pair):
    cand, ref = digits_pair
    whole = audit(cand, ref, config=AuditConfig(quick=True, figures=False))
    sharded = audit(cand, ref, config=AuditConfig(quick=True, figures=False, shard_rows=250))
    # below each metric's reservoir size every state is exact: merged shards are the whole data
    assert _values(sharded) == _values(whole)
    assert sharded.verdict == whole.verdict


def test_the_same_audit_on_local_and_process_is_identical(digits_pair):
    cand, ref = digits_pair
    config = AuditConfig(quick=True, figures=False, shard_rows=300)
    local = audit(cand, ref, config=config, engine="local")
    with get_engine("process", workers=2) as pool:
        pooled = audit(cand, ref, config=config, engine=pool, baseline=ref[:400])
        local_b = audit(cand, ref, config=config, engine="local", baseline=ref[:400])
    assert _values(pooled) == _values(local_b)
    assert _values(local) == _values(audit(cand, ref, config=config, engine="process"))


@pytest.mark.ray
def test_a_text_audit_is_identical_on_every_engine_shard_for_shard(ray_engine):
    from tailguard.data.text import python_docs_sentences

    docs = python_docs_sentences()
    cand, ref = docs[:900], docs[900:1800]
    config = AuditConfig(quick=True, figures=False, shard_rows=200)
    local = audit(cand, ref, config=config)
    assert local.verdict != "insufficient"
    assert_same_audit(audit(cand, ref, config=config, engine=ray_engine), local)
    # vocabulary (HLL), MinHash and distinct-n states merge exactly: sharded equals one stream
    whole = {m.name: m.value for m in audit(cand, ref, config=AuditConfig(quick=True, figures=False)).metrics}
    for name, value, _ in _values(local):
        if name.startswith(("distinct_", "vocabulary", "hapax", "duplicate")):
            assert value == pytest.approx(whole[name], rel=1e-12), name


@pytest.mark.ray
def test_the_same_audit_on_a_real_ray_cluster_is_identical(digits_pair, ray_engine):
    cand, ref = digits_pair
    config = AuditConfig(quick=True, figures=False, shard_rows=300)
    assert_same_audit(audit(cand, ref, config=config, engine=ray_engine), audit(cand, ref, config=config))


@pytest.mark.ray
def test_a_simulation_is_bit_identical_on_every_engine(ray_engine):
    from tailguard.simulate import simulate

    kwargs = dict(generations=3, seeds=3, sample_size=40, vectorised=False)
    local = simulate("gmm", ["replace", "accumulate"], **kwargs)
    with get_engine("process", workers=2) as pool:
        pooled = simulate("gmm", ["replace", "accumulate"], engine=pool, **kwargs)
    rayed = simulate("gmm", ["replace", "accumulate"], engine=ray_engine, **kwargs)
    for other in (pooled, rayed):
        for policy, metrics in local.values.items():
            for name, values in metrics.items():
                assert np.array_equal(values, other.values[policy][name]), (policy, name)


@pytest.mark.ray
def test_the_vectorised_gaussian_split_over_workers_is_bit_identical(ray_engine):
    """An engine with workers gets the vectorised seeds in contiguous blocks; each seed draws its own
    streams, so every number, the first and the last samples equal the one-process run's."""
    from tailguard.simulate import simulate

    kwargs = dict(generations=5, seeds=120, sample_size=30, family_params={"dim": 2})
    whole = simulate("gaussian", ["replace", "accumulate"], **kwargs)
    assert ray_engine.parallelism == 2
    with get_engine("process", workers=2) as pool:
        assert pool.parallelism == 2
        pooled = simulate("gaussian", ["replace", "accumulate"], engine=pool, **kwargs)
    rayed = simulate("gaussian", ["replace", "accumulate"], engine=ray_engine, **kwargs)
    for other in (pooled, rayed):
        assert other.config["vectorised"] == ["accumulate", "replace"]
        for policy, metrics in whole.values.items():
            for name, values in metrics.items():
                assert np.array_equal(values, other.values[policy][name]), (policy, name)
            assert np.array_equal(whole.first_samples(policy), other.first_samples(policy))
            assert np.array_equal(whole.last_samples(policy), other.last_samples(policy))


def test_the_gaussian_runs_vectorised_by_capability_not_by_name():
    from tailguard.simulate import get_family, simulate
    from tailguard.simulate.family import Family

    assert get_family("gaussian").vectorised_policies == ("replace", "accumulate")
    assert Family.vectorised_policies == ()
    res = simulate("gaussian", ["replace", "anchor:0.2"], generations=2, seeds=2, sample_size=20)
    assert res.config["vectorised"] == ["replace"]


# -- a worker that dies ------------------------------------------------------------------
def _by_value():
    """Task functions Ray ships by value (nested functions are; a test module is not importable on its workers)."""

    def die_once(marker: str) -> int:
        """Kill this worker the first time (the marker file records it), succeed on the retry."""
        path = Path(marker)
        if not path.exists():
            path.write_text("died")
            os._exit(1)
        return 7

    def always_die(_task: object) -> int:
        os._exit(1)

    return die_once, always_die


def _always_die(_task: object) -> int:  # for the process pool: forked workers already hold this module
    os._exit(1)


@pytest.mark.ray
def test_a_ray_worker_killed_mid_task_is_retried_and_the_result_is_complete(ray_engine, tmp_path):
    die_once, _ = _by_value()
    markers = [str(tmp_path / f"m{i}") for i in range(3)]
    assert ray_engine.map(die_once, markers) == [7, 7, 7]
    assert all(Path(m).read_text() == "died" for m in markers)  # each task really lost its first worker


@pytest.mark.ray
def test_a_ray_task_lost_past_its_retries_fails_the_whole_map(ray_engine):
    from tailguard.engines.ray_engine import RayEngine

    _, always_die = _by_value()
    engine = RayEngine(max_retries=1)  # joins the module's running cluster
    with pytest.raises(EngineError, match=r"task 1 of 1 was lost on Ray after 1 retries .*no partial result"):
        engine.map(always_die, [0])


def test_a_process_worker_that_dies_fails_the_whole_map():
    with get_engine("process", workers=1) as pool, pytest.raises(EngineError, match="a worker process died"):
        pool.map(_always_die, [0, 1])


def test_use_engine_sets_what_deep_code_runs_on():
    assert current_engine().name == "local"
    with get_engine("process", workers=1) as pool, use_engine(pool):
        assert current_engine() is pool
    assert current_engine().name == "local"


# -- the CLI ---------------------------------------------------------------------------
def test_audit_engine_option_gives_the_same_report_and_names_a_typo(tmp_path, digits_pair, capsys):
    from tailguard.cli.app import main

    cand, ref = digits_pair
    np.save(tmp_path / "c.npy", cand)
    np.save(tmp_path / "r.npy", ref)
    reports = {}
    for engine in ("local", "process"):
        code = main(["audit", str(tmp_path / "c.npy"), "-r", str(tmp_path / "r.npy"), "--quick", "--engine", engine,
                     "--workers", "2", "--shard-rows", "400", "--out", str(tmp_path / engine), "--json"])
        assert code == 0
        reports[engine] = json.loads((tmp_path / engine / "report.json").read_text())
    strip = [{k: m[k] for k in ("name", "value", "status")} for m in reports["local"]["metrics"]]
    assert strip == [{k: m[k] for k in ("name", "value", "status")} for m in reports["process"]["metrics"]]
    capsys.readouterr()
    code = main(["audit", str(tmp_path / "c.npy"), "-r", str(tmp_path / "r.npy"), "--engine", "proces"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err == ["error: Unknown engine 'proces'. Did you mean 'process'? Valid choices: local, "
                                 "process, ray."]


def test_the_engine_comes_from_the_environment_in_the_library(monkeypatch, digits_pair):
    cand, ref = digits_pair
    monkeypatch.setenv("TAILGUARD_ENGINE", "nope")
    from tailguard.errors import UnknownChoiceError

    with pytest.raises(UnknownChoiceError, match="Unknown engine 'nope'"):
        audit(cand, ref, config=AuditConfig(quick=True, figures=False))
