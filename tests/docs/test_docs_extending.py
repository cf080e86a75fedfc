"""docs/extending.md runs as written: the plug-in module, the CLI walkthrough with --plugin, the Python usage."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
from walkthroughs import bash_block, code_block, run_bash

DOC = Path(__file__).resolve().parents[2] / "docs" / "extending.md"


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("extending")
    (cwd / "laplace_plugin.py").write_text(code_block(DOC, "python", "laplace_plugin.py"))
    return cwd


def test_cli_walkthrough_runs_the_plugins_family_step_and_metric(folder):
    proc = run_bash(bash_block(DOC, "extending walkthrough"), folder)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    lines = dict(re.findall(r"^(\S+): scale ratio at generation 6 (.*)$", proc.stdout, flags=re.M))
    assert set(lines) == {"replace", "window:2", "accumulate"}, proc.stdout
    assert "far-tail share measured: True" in proc.stdout
    for policy, text in lines.items():
        mean, low, high, n = re.fullmatch(r"(\S+) \[(\S+), (\S+)\] over (\d+) seeds", text).groups()
        assert float(low) <= float(mean) <= float(high) and n == "8", (policy, text)
    assert (folder / "sim" / "laplace" / "per_seed.parquet").exists()


def test_python_usage_block_runs(folder):
    proc = subprocess.run([sys.executable, "-c", code_block(DOC, "python", "laplace usage")], cwd=folder,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    first = proc.stdout.splitlines()[0]
    indices = [int(i) for i in re.match(r"\[([\d, ]+)\]", first).group(1).split(",")]
    assert len(indices) == 4 and all(4 <= i <= 9 for i in indices), first  # rows of rounds 1 and 2 only
    assert "window:2: older than the last 2 rounds" in first
