"""Core simulator behaviour: registry, validation, determinism, results JSON, report, doctests."""

from __future__ import annotations

import doctest
import importlib
import json
import pickle

import numpy as np
import pytest

from tailguard.errors import CorruptFileError, ParameterError, UnknownChoiceError
from tailguard.origins import Origin
from tailguard.simulate import FAMILIES, SimulationResults, get_family, run_chain, simulate, write_report

BUILTIN = ["categorical", "digits", "gaussian", "gmm", "kde", "linreg", "ngram", "pseudolabel", "recsys"]

MODULES = [
    "tailguard.simulate",
    "tailguard.simulate.family",
    "tailguard.simulate.seeding",
    "tailguard.simulate.loop",
    "tailguard.simulate.executor",
    "tailguard.simulate.results",
    "tailguard.simulate.stats",
    "tailguard.simulate.perseed",
    "tailguard.simulate.report",
    *[f"tailguard.simulate.families.{f}" for f in BUILTIN],
]


@pytest.mark.parametrize("module", MODULES)
def test_doctests(module: str) -> None:
    mod = importlib.import_module(module)
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0


def test_registry_lists_every_family_and_yolo_lazily() -> None:
    assert set(BUILTIN) | {"yolo"} <= set(FAMILIES.names())
    with pytest.raises(UnknownChoiceError, match="Did you mean 'gmm'"):
        FAMILIES.get("gmn")


@pytest.mark.parametrize("name", BUILTIN)
def test_family_contract(name: str) -> None:
    """fit/sample/evaluate shapes, finite metrics named as declared, pickling, seeded determinism."""
    fam = get_family(name)
    assert pickle.loads(pickle.dumps(fam)).get_params() == fam.get_params()
    res_a = run_chain(fam, "replace", seed=3, generations=2, sample_size=300)
    res_b = run_chain(fam, "replace", seed=3, generations=2, sample_size=300)
    own = [m.name for m in fam.metrics]
    declared = list(res_a.metrics)
    assert declared[: len(own)] == own  # the family's metrics, then its audit-suite metrics
    assert {m.split("_")[0] for m in declared[len(own) :]} <= {"audit"}
    assert len(declared) > len(own) or not fam.audit_metrics
    optional = {spec.name for spec in fam.metrics if spec.optional}
    for m in declared:
        assert res_a.metrics[m].shape == (3,)
        assert m in optional or np.all(np.isfinite(res_a.metrics[m])), m
        np.testing.assert_array_equal(res_a.metrics[m], res_b.metrics[m])
    assert len(res_a.first) == 300 and len(res_a.last) == 300
    assert np.asarray(res_a.first).dtype.kind in "iuf"  # numeric rows: checkpoints need no pickle
    other = run_chain(fam, "replace", seed=4, generations=2, sample_size=300)
    assert any(not np.array_equal(other.metrics[m], res_a.metrics[m]) for m in declared)


def test_parameter_errors_name_the_parameter() -> None:
    with pytest.raises(ParameterError, match="'seeds' parameter of simulate must be an int >= 1"):
        simulate("gaussian", "replace", seeds=0)
    with pytest.raises(ParameterError, match="'variance' parameter of GaussianFamily"):
        get_family("gaussian", variance="biased")
    with pytest.raises(UnknownChoiceError, match="Did you mean 'accumulate'"):
        simulate("gaussian", "acumulate", generations=1, seeds=1)
    with pytest.raises(ParameterError, match="'resume' parameter of simulate needs an 'out'"):
        simulate("gaussian", "replace", resume=True)
    with pytest.raises(ParameterError, match="sample_size"):
        simulate("ngram", "replace", generations=1, seeds=1, sample_size=10_000)


def test_workers_do_not_change_the_numbers() -> None:
    kw = dict(generations=3, seeds=3, sample_size=60, vectorised=False)
    one = simulate("gmm", "replace,accumulate", workers=1, **kw)
    two = simulate("gmm", "replace,accumulate", workers=2, **kw)
    for p in one.policies:
        for m in one.metric_names:
            np.testing.assert_array_equal(one.per_seed(p, m), two.per_seed(p, m))


def test_policies_share_human_data_and_model0() -> None:
    res = simulate("categorical", "replace,accumulate,anchor:0.5", generations=2, seeds=4, sample_size=200)
    base = res.per_seed("replace", "tv_error")[:, 0]
    for p in res.policies:
        np.testing.assert_array_equal(res.per_seed(p, "tv_error")[:, 0], base)


def test_results_json_shape_and_round_trip(tmp_path) -> None:
    res = simulate("gaussian", "replace,accumulate", generations=4, seeds=6, sample_size=40)
    d = json.loads(res.to_json())
    assert set(d) >= {"family", "config", "policies"}
    assert d["family"] == "gaussian"
    for policy in ("replace", "accumulate"):
        stats = d["policies"][policy]["variance_ratio"]
        assert set(stats) == {"n", "mean", "median", "p10", "p90", "se", "ci_low", "ci_high"}
        assert all(len(v) == 5 for v in stats.values())
        vals = res.per_seed(policy, "variance_ratio")
        assert stats["median"][3] == pytest.approx(float(np.median(vals[:, 3])))
        assert stats["p10"][4] <= stats["median"][4] <= stats["p90"][4]
    spelled = simulate("gaussian", "replace+anchor:0.3+filter", generations=1, seeds=2, sample_size=40)
    assert spelled.policies == ["replace+filter+anchor:0.3"]  # stored under the canonical spec
    assert spelled.summary("replace+anchor:0.3+filter", "variance_ratio")["median"][0] == 1.0
    back = SimulationResults.load(res.save(tmp_path / "r.json"))
    assert back.summary("replace", "variance_ratio") == res.summary("replace", "variance_ratio")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(CorruptFileError, match=r"bad\.json"):
        SimulationResults.load(tmp_path / "bad.json")


def test_growing_pool_and_human_fraction_follow_the_policy() -> None:
    res = simulate(
        "gaussian", "replace,accumulate,anchor:0.3", generations=4, seeds=2, sample_size=50, vectorised=False
    )
    assert res.extra["train_size"]["accumulate"] == [50, 100, 150, 200, 250]
    assert res.extra["human_fraction"]["replace"][1:] == [0.0] * 4
    assert int(Origin.HUMAN) == 0  # the loop counts a training set's human rows as its origin's zeros
    assert min(res.extra["human_fraction"]["anchor:0.3"]) >= 0.3


def test_fresh_policy_draws_new_human_rows() -> None:
    res = run_chain(
        get_family("gaussian"), "replace+fresh:0.5", seed=0, generations=3, sample_size=40, record_lineage=True
    )
    lin = res.lineage
    human_rows = np.flatnonzero(lin["origin"] == 0)
    assert len(human_rows) == 40 + 3 * 20  # the human set plus 20 fresh rows per later generation
    assert np.all(res.human_fraction[1:] == pytest.approx(0.5))


def test_report_is_self_contained(tmp_path) -> None:
    res = simulate("digits", "replace,accumulate", generations=2, seeds=2, sample_size=200)
    path = write_report(res, str(tmp_path))
    text = (tmp_path / "report.html").read_text()
    assert path.endswith("report.html")
    assert text.count("data:image/png;base64,") >= len(res.metric_names) + 2  # metrics + one picture per policy
    assert 'src="http' not in text and "<script" not in text
    assert "class_coverage" in text
    ngram = simulate("ngram", "replace", generations=1, seeds=1, sample_size=200)
    write_report(ngram, str(tmp_path / "ngram"))
    sentences = ngram.extra["sample_text"]["replace"]["first"]
    assert sentences and sentences[0] in (tmp_path / "ngram" / "report.html").read_text().replace("&#34;", '"')


def test_audit_suite_metrics_match_the_metric_library() -> None:
    import tailguard.metrics  # noqa: F401
    from tailguard.metrics.base import METRICS
    from tailguard.simulate.seeding import stream

    fam = get_family("gmm", eval_size=500)
    res = run_chain(fam, "replace", seed=2, generations=1, sample_size=200, audit_metrics=("rare_mode_coverage",))
    setup = fam.setup(200, stream(0, seed=2, generation=0, purpose="setup"))
    direct = METRICS.get("rare_mode_coverage")(seed=2).update(res.first).update_reference(setup.heldout).result()
    assert res.metrics["audit_rare_mode_coverage"][0] == pytest.approx(direct.value("rare_mode_coverage").value)
    sim = simulate(fam, "replace", generations=1, seeds=1, sample_size=200, audit_metrics=())
    assert not [m for m in sim.metric_names if m.startswith("audit_")]


def test_progress_callback_counts_every_generation() -> None:
    calls: list[tuple[int, int]] = []
    simulate(
        "categorical",
        "replace,accumulate",
        generations=4,
        seeds=2,
        sample_size=100,
        progress=lambda advance, total: calls.append((advance, total)),
    )
    assert sum(a for a, _ in calls) == 2 * 2 * 5
    assert {t for _, t in calls} == {20}


@pytest.mark.parametrize("policy", ["replace", "replace+anchor:0.3", "replace+fresh:0.2"])
def test_dropping_rows_no_source_can_select_changes_nothing(policy: str) -> None:
    """The chain drops synthetic rows older than the policy's oldest_round (whenever the pool has grown
    4-fold: several times in 20 generations); a recorded chain keeps every row."""
    fam = get_family("gaussian")
    lean = run_chain(fam, policy, seed=2, generations=20, sample_size=10)
    full = run_chain(fam, policy, seed=2, generations=20, sample_size=10, record_lineage=True)
    for m in lean.metrics:
        np.testing.assert_array_equal(lean.metrics[m], full.metrics[m])
    np.testing.assert_array_equal(lean.train_size, full.train_size)
    np.testing.assert_array_equal(lean.last, full.last)
    assert len(full.lineage["rows"]) == 10 + 21 * 10 + (20 * 2 if "fresh" in policy else 0)


@pytest.mark.parametrize(("family", "policy"), [("gaussian", "replace"), ("gaussian", "accumulate"),
                                                ("linreg", "accumulate-subsample"), ("gmm", "replace")])
def test_the_compiled_plan_gives_the_composers_chain(family: str, policy: str, monkeypatch) -> None:
    """A source-only policy runs on its compiled plan (tailguard.policy.plan); without it, through the
    composer: the same streams, so the same numbers, bit for bit."""
    from tailguard.policy import Policy

    fam = get_family(family)
    fast = run_chain(fam, policy, seed=3, generations=8, sample_size=24)
    monkeypatch.setattr(Policy, "compile", lambda self: None)
    slow = run_chain(fam, policy, seed=3, generations=8, sample_size=24)
    for m in fast.metrics:
        np.testing.assert_array_equal(fast.metrics[m], slow.metrics[m])
    np.testing.assert_array_equal(fast.train_size, slow.train_size)
    np.testing.assert_array_equal(fast.human_fraction, slow.human_fraction)
    np.testing.assert_array_equal(fast.last, slow.last)
