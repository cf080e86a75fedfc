"""docs/mlflow.md runs as written: the Python usage and the CLI walkthrough, read back from the file store."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from walkthroughs import bash_block, code_block, run_bash

pytest.importorskip("mlflow", reason="needs the mlflow extra: pip install 'tailguard[mlflow]'")

DOC = Path(__file__).resolve().parents[2] / "docs" / "mlflow.md"


def test_python_usage_logs_what_the_objects_hold(tmp_path):
    proc = subprocess.run([sys.executable, "-c", code_block(DOC, "python", "mlflow usage")], cwd=tmp_path,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    verdicts, values, logged, summary = proc.stdout.splitlines()[:4]
    a, b = verdicts.split()
    assert a == b and a in ("ok", "warn", "collapse"), verdicts
    x, y = values.split()
    assert float(x) == float(y), values
    assert json.loads(logged) == json.loads(summary) and len(json.loads(logged)) == 4, (logged, summary)


def test_cli_walkthrough_logs_an_audit_a_recorded_audit_and_a_simulation(tmp_path):
    proc = run_bash(bash_block(DOC, "mlflow walkthrough"), tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    verdict = json.loads((tmp_path / "audit" / "report.json").read_text())["verdict"]
    printed = [line.rsplit(" ", 1) for line in proc.stdout.splitlines() if line.startswith(("audits ", "sims "))]
    assert [v for head, v in printed if head.startswith("audits")] == [verdict, verdict], proc.stdout
    sims = [head.split(" ", 1)[1] for head, v in printed if head.startswith("sims")]
    assert sorted(sims) == ["accumulate", "replace", "simulate gaussian"], proc.stdout
    assert "logged recorded audit audit:1" in proc.stdout
