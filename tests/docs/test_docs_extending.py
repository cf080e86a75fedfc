"""docs/extending.md runs as written: the plug-in modules, the CLI walkthroughs with --plugin, the Python usage."""

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


def test_ingest_format_walkthrough_reads_a_tsv_through_the_plugin(tmp_path):
    (tmp_path / "tsv_plugin.py").write_text(code_block(DOC, "python", "tsv_plugin.py"))
    proc = run_bash(bash_block(DOC, "ingest-format walkthrough"), tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "ingested notes.tsv: 3 samples; 3 new" in proc.stdout and "1 skipped" in proc.stdout, proc.stdout
    assert "skipped notes.tsv:4: Unknown origin 'synthetc'. Did you mean 'synthetic'?" in proc.stdout
    assert "by origin: human 1, synthetic 1, unknown 1" in proc.stdout
    assert "exit code 2" in proc.stdout
    errors = [line for line in proc.stderr.splitlines() if line.strip()]
    assert errors == ["error: Unknown format 'tvs'. Did you mean 'tsv'? Valid choices: auto, csv, hf, images, jsonl, "
                      "npy, parquet, tsv, ultralytics-ndjson, yolo."], proc.stderr


def test_export_format_walkthrough_writes_a_tsv_through_the_plugin(tmp_path):
    (tmp_path / "tsv_export.py").write_text(code_block(DOC, "python", "tsv_export.py"))
    (tmp_path / "tsv_plugin.py").write_text(code_block(DOC, "python", "tsv_plugin.py"))
    proc = run_bash(bash_block(DOC, "export-format walkthrough"), tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "exported 'notes-v1' as tsv: exported/samples.tsv" in proc.stdout
    lines = (tmp_path / "exported" / "samples.tsv").read_text().splitlines()  # in sample id order
    assert sorted(lines) == ["a model wrote this line\tsynthetic", "the cat sat on the mat\thuman"]
    assert "ingested exported/samples.tsv: 2 samples; 0 new, 2 already in the ledger" in proc.stdout
    assert proc.stdout.count("exit code 2") == 3
    errors = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(errors) == 3, proc.stderr
    assert re.fullmatch(r"error: weather-v1: --format tsv exports text samples; sample [0-9a-f]+ is tabular "
                        r"\(formats that take tabular: croissant, csv, hf, jsonl, parquet\)", errors[0]), errors[0]
    assert errors[1] == ("error: The 'val_fraction' parameter of export_version applies to format 'yolo' only. "
                         "Got format 'tsv'.")
    assert errors[2] == ("error: Unknown export format 'tvs'. Did you mean 'tsv'? Valid choices: croissant, csv, hf, "
                         "jsonl, parquet, tsv, ultralytics-ndjson, yolo.")
    assert not (tmp_path / "w" / "samples.tsv").exists() and not (tmp_path / "v").exists()
