"""Each policy's last generation audited against held-out humans, generation 0 as the baseline."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from tailguard.errors import MissingInputError
from tailguard.simulate import simulate
from tailguard.simulate.audits import audit_last_generations
from tailguard.simulate.results import SimulationResults


@pytest.fixture(scope="module")
def results():
    return simulate("gmm", ["replace", "accumulate"], generations=3, seeds=1, sample_size=200)


def test_every_policy_is_judged_against_generation_0(results):
    reports = audit_last_generations(results, "gmm")
    assert sorted(reports) == ["accumulate", "replace"]
    for policy, report in reports.items():
        assert report.baseline == "gmm generation 0" and report.baseline_verdict is not None
        assert report.candidate == f"gmm generation 3 under {policy}"
        judged = [r for r in report.metrics if r.reason != "reported only"]
        assert judged and all(r.baseline_value is not None for r in judged)


def test_results_without_samples_are_one_line(results):
    bare = SimulationResults.from_json(results.to_json())
    with pytest.raises(MissingInputError, match="hold no samples"):
        audit_last_generations(bare, "gmm")


def test_cli_audit_writes_one_report_per_policy(tmp_path):
    from tailguard.cli.app import app

    out = tmp_path / "sim"
    res = CliRunner().invoke(app, ["simulate", "gmm", "--policy", "replace,anchor:0.5", "--generations", "2",
                                   "--seeds", "1", "--sample-size", "150", "--out", str(out), "--no-progress",
                                   "--audit"], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    for policy in ("replace", "anchor_0.5"):
        data = json.loads((out / "audits" / policy / "report.json").read_text())
        assert data["baseline"] == "gmm generation 0"
    assert "audit replace:" in res.output and "against generation 0" in res.output
