"""Audits judged against a baseline: what the candidate lost beyond what the baseline already lacked."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from tailguard.audit import AuditConfig, AuditReport, Source, audit
from tailguard.audit.baseline import judge_against_baseline
from tailguard.audit.results import MetricRow
from tailguard.audit.thresholds import Thresholds

QUICK = AuditConfig(quick=True)


@pytest.fixture(scope="module")
def sides():
    rng = np.random.default_rng(0)
    ref = rng.normal(size=(1500, 6))
    base = 0.7 * rng.normal(size=(1500, 6))  # generation 0: already narrower than the humans
    same = 0.7 * rng.normal(size=(1500, 6))  # a later generation that lost nothing more
    worse = 0.45 * rng.normal(size=(1500, 6))  # a later generation that lost more
    return ref, base, same, worse


def test_a_candidate_no_worse_than_its_baseline_is_ok(sides):
    ref, base, same, _ = sides
    alone = audit(same, ref, config=QUICK)
    judged = audit(same, ref, baseline=base, config=QUICK)
    assert alone.verdict == "collapse"  # against the reference alone: what the model never had
    assert judged.baseline_verdict == "collapse"
    assert judged.verdict == "ok", [(r.name, r.status, r.reason) for r in judged.metrics if r.status != "ok"]
    assert judged.diagnosis.mode == "none" and "within tolerance of the baseline" in judged.diagnosis.summary
    # Every judged row shows the three values.
    row = judged.row("tail_mass_0.01")
    assert row.baseline_value is not None and row.reference_value is not None
    assert row.baseline_status == "collapse" and row.status == "ok"


def test_a_candidate_that_lost_more_is_flagged_with_a_ci_of_the_change(sides):
    ref, base, _, worse = sides
    report = audit(worse, ref, baseline=base, config=QUICK)
    assert report.verdict == "collapse"
    row = report.row("trace")
    assert row.status == "collapse"
    assert row.degradation == pytest.approx(1 - row.value / row.baseline_value)
    lo, hi = row.change_ci
    assert lo <= row.value - row.baseline_value <= hi and hi < 0  # the change excludes zero
    assert "worse than the baseline" in row.reason
    assert report.diagnosis.mode == "model_collapse"
    assert "against the baseline" in report.diagnosis.summary
    note = report.baseline_note()
    assert f"{len(report.rows(status='collapse')) + len(report.rows(status='warn'))} rows are worse" in note


def test_baseline_rows_round_trip_through_json(sides):
    ref, base, _, worse = sides
    report = audit(worse, ref, baseline=base, config=QUICK, seed=3)
    again = AuditReport.from_json(report.to_json())
    assert again.metrics == report.metrics
    assert (again.baseline, again.n_baseline, again.baseline_verdict) == (
        report.baseline, report.n_baseline, report.baseline_verdict)


def test_noise_alone_is_not_a_loss():
    """Two draws of one distribution as baseline and candidate: nothing is worse (E[change] = 0)."""
    rng = np.random.default_rng(7)
    ref = rng.normal(size=(800, 5))
    flagged = 0
    for seed in range(4):
        r = np.random.default_rng(100 + seed)
        report = audit(0.8 * r.normal(size=(800, 5)), ref, baseline=0.8 * r.normal(size=(800, 5)),
                       config=QUICK, seed=seed)
        flagged += report.verdict != "ok"
    assert flagged <= 1


def test_value_rules_count_only_what_is_worse_than_the_baseline():
    t = Thresholds.default()
    cand = MetricRow("psi", "psi", "drift", 0.5, None, None, False, "collapse")
    base_collapse = MetricRow("psi", "psi", "drift", 0.4, None, None, False, "collapse")
    base_ok = MetricRow("psi", "psi", "drift", 0.01, None, None, False, "ok")
    assert judge_against_baseline([cand], [base_collapse], t)[0].status == "ok"
    assert judge_against_baseline([cand], [base_ok], t)[0].status == "collapse"


def test_a_row_the_baseline_lacks_keeps_its_reference_judgement():
    t = Thresholds.default()
    cand = MetricRow("x", "tail_mass", "tails", 0.1, 0.2, 0.5, True, "collapse", reason="50% worse")
    row = judge_against_baseline([cand], [], t)[0]
    assert row.status == "collapse" and "not measured on the baseline" in row.reason


def test_a_change_is_insufficient_when_either_end_is():
    t = Thresholds.default()
    cand = MetricRow("tail_mass_0.01", "tail_mass", "tails", 0.004, 0.02, None, True, "insufficient", (0.0, 0.01),
                     reason="needs at least 250 rows per side to be judged; has candidate 60")
    base = MetricRow("tail_mass_0.01", "tail_mass", "tails", 0.02, 0.02, None, True, "ok", (0.01, 0.03))
    row = judge_against_baseline([cand], [base], t)[0]
    assert row.status == "insufficient" and row.reason.startswith("the candidate: needs at least 250")
    row = judge_against_baseline([base], [cand], t)[0]
    assert row.status == "insufficient" and row.reason.startswith("the baseline: ")


def test_a_one_row_baseline_is_insufficient(sides):
    ref, _, same, _ = sides
    report = audit(same, ref, baseline=same[:1], config=QUICK)
    assert report.verdict == "insufficient"
    assert "the baseline has 1 sample" in report.insufficient_reason


def test_baseline_by_path_by_array_and_by_cli_agree(sides, tmp_path):
    from tailguard.cli.app import app

    ref, base, _, worse = sides
    for name, arr in (("ref", ref), ("base", base), ("cand", worse)):
        np.save(tmp_path / f"{name}.npy", arr)
    by_array = audit(worse, ref, baseline=base, config=QUICK)
    by_path = audit(Source(str(tmp_path / "cand.npy")), Source(str(tmp_path / "ref.npy")),
                    baseline=Source(str(tmp_path / "base.npy")), config=QUICK)
    assert [(r.name, r.status) for r in by_path.metrics] == [(r.name, r.status) for r in by_array.metrics]
    out = tmp_path / "report"
    res = CliRunner().invoke(app, ["audit", str(tmp_path / "cand.npy"), "--reference", str(tmp_path / "ref.npy"),
                                   "--baseline", str(tmp_path / "base.npy"), "--quick", "--out", str(out),
                                   "--fail-on", "collapse"], env={"COLUMNS": "200"})
    assert res.exit_code == 3, res.output
    assert "baseline" in res.output and "worse than the baseline" in res.output
    data = json.loads((out / "report.json").read_text())
    assert data["baseline"].endswith("base.npy")
    assert [(r["name"], r["status"]) for r in data["metrics"]] == [(r.name, r.status) for r in by_array.metrics]
    html = (out / "report.html").read_text()
    assert "Judged against a baseline" in html
