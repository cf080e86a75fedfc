"""End-to-end audits on in-memory data: verdicts, streaming, footing, serialisation."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tailguard.audit import AuditConfig, AuditReport, Thresholds, audit, suite_for
from tailguard.audit.inputs import as_input
from tailguard.audit.runner import run_suite
from tailguard.errors import BadInputError, UnknownChoiceError

FAST = AuditConfig(metrics=["tail_mass", "rare_mode_coverage"])


@pytest.fixture(scope="module")
def gaussians():
    rng = np.random.default_rng(42)
    return rng.normal(size=(2000, 8)), rng.normal(size=(2000, 8)), rng.normal(size=(2000, 8))


def test_same_distribution_is_ok_and_shrunk_is_flagged(gaussians):
    ref, same, other = gaussians
    ok = audit(same, ref, config=FAST)
    assert ok.verdict == "ok", [(r.name, r.status, r.reason) for r in ok.metrics]
    assert ok.diagnosis.mode == "none"
    shrunk = audit(0.8 * other, ref, config=FAST)
    assert shrunk.verdict == "collapse"
    assert shrunk.row("tail_mass_0.01").status == "collapse"
    assert shrunk.row("tail_mass_0.01").ratio < 0.5
    assert shrunk.diagnosis.mode == "model_collapse"


def test_streaming_batches_do_not_change_results(gaussians):
    ref, same, _ = gaussians
    cand, reference = as_input(same), as_input(ref, name="reference")
    entries = suite_for("vectors", metrics=["tail_mass", "rare_mode_coverage"])
    big, _ = run_suite(cand, reference, entries, batch_size=4096, seed=3)
    small, _ = run_suite(cand, reference, entries, batch_size=97, seed=3)
    assert [r.result.to_dict() for r in big] == [r.result.to_dict() for r in small]


def test_seeded_determinism(gaussians):
    ref, same, _ = gaussians
    a = audit(same, ref, config=FAST, seed=5).to_dict()
    b = audit(same, ref, config=FAST, seed=5).to_dict()
    a.pop("elapsed_s"), b.pop("elapsed_s")
    assert a == b


def test_same_size_subsamples_the_larger_side(gaussians):
    ref, same, _ = gaussians
    r = audit(same[:500], ref, config=AuditConfig(metrics=["tail_mass"], same_size=True))
    assert r.n_candidate == 500 and r.n_reference == 500
    r = audit(same[:500], ref, config=AuditConfig(metrics=["tail_mass"], max_samples=300))
    assert r.n_candidate == 300 and r.n_reference == 300


def test_json_round_trip_and_schema(gaussians):
    ref, _, other = gaussians
    report = audit(0.8 * other, ref, config=FAST)
    data = json.loads(report.to_json())
    assert data["verdict"] in ("ok", "warn", "collapse")
    for row in data["metrics"]:
        for key in ("name", "family", "value", "reference_value", "ratio", "higher_is_better", "status", "ci"):
            assert key in row
    assert {"mode", "confidence", "evidence"} <= set(data["diagnosis"])
    back = AuditReport.from_json(report.to_json())
    assert back.metrics == report.metrics and back.verdict == report.verdict
    assert back.diagnosis == report.diagnosis and back.averages_trap == report.averages_trap


def test_figure_data_is_stored(gaussians):
    ref, _, other = gaussians
    report = audit(0.8 * other, ref, config=FAST, candidate_labels=np.arange(2000) % 3,
                   reference_labels=np.arange(2000) % 4)
    figs = report.figures
    assert figs["tail_histograms"] and figs["tail_histograms"][0]["candidate_tail_mass"] < 0.02
    assert len(figs["coverage_by_decile"]["coverage"]) == 10
    assert figs["class_shares"]["lost"] == ["3"]


def test_thresholds_override_changes_status(gaussians):
    ref, _, other = gaussians
    lenient = Thresholds.default().with_overrides({"tails/*": {"kind": "ratio", "warn": 0.9, "collapse": 0.95}})
    r = audit(0.9 * other, ref, config=AuditConfig(metrics=["tail_mass"], thresholds=lenient))
    assert r.verdict == "ok"
    assert r.thresholds["rules"][0]["pattern"] == "tails/*"


def test_unknown_metric_and_mismatched_inputs():
    rng = np.random.default_rng(0)
    with pytest.raises(UnknownChoiceError, match="tail_mas"):
        audit(rng.normal(size=(50, 2)), rng.normal(size=(50, 2)), config=AuditConfig(metrics=["tail_mas"]))
    with pytest.raises(BadInputError, match="3 features"):
        audit(rng.normal(size=(50, 3)), rng.normal(size=(50, 2)), config=FAST)
    with pytest.raises(BadInputError, match="text"):
        audit(["a b c", "d e f"], rng.normal(size=(50, 2)))


def test_extra_inputs_reach_the_diagnosis(gaussians):
    ref, same, _ = gaussians
    r = audit(same, ref, config=FAST, train_metrics={"train": {"loss": [0.9, 0.2]}, "val": {"loss": [1.0, 0.9]}})
    assert r.diagnosis.mode == "overfitting"
    assert r.verdict == "warn"  # a failure found from the extra inputs is not an ok
    r = audit(same, ref, config=FAST, old_task_metrics={"before": {"acc": 0.9}, "after": {"acc": 0.3}})
    assert r.diagnosis.mode == "catastrophic_forgetting"


def test_full_vector_suite_runs_quick(gaussians):
    ref, same, _ = gaussians
    r = audit(same, ref, config=AuditConfig(quick=True, strict=True))
    names = {row.metric for row in r.metrics}
    assert {"tail_mass", "rare_mode_coverage"} <= names
    assert all(s.endswith("not registered") for s in r.skipped), r.skipped


def test_knn_distance_tail_runs_in_the_data_units():
    """Entries marked ``standardized=False`` get the vectors before per-feature scaling."""
    from tailguard.metrics.tails import NNDistanceTail

    rng = np.random.default_rng(5)
    scale = np.array([1.0, 10.0, 100.0])
    ref, cand = rng.normal(size=(300, 3)) * scale, rng.normal(size=(300, 3)) * scale
    report = audit(cand, ref, config=AuditConfig(quick=True, figures=False, metrics=["nn_distance_tail"]))
    got = next(r for r in report.results if r["metric"] == "nn_distance_tail")
    direct = NNDistanceTail().update_reference(ref).update(cand).result()
    assert got["details"]["threshold_0.95"] == pytest.approx(direct.details["threshold_0.95"], rel=1e-9)
