"""``tailguard audit``: exit codes 0/2/3, --json, --thresholds, extra inputs, ledger versions."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tailguard.cli.app import main

FAST = ["-m", "tail_mass"]


@pytest.fixture()
def files(tmp_path):
    rng = np.random.default_rng(0)
    np.save(tmp_path / "ref.npy", rng.normal(size=(1500, 6)))
    np.save(tmp_path / "same.npy", rng.normal(size=(1500, 6)))
    np.save(tmp_path / "shrunk.npy", 0.75 * rng.normal(size=(1500, 6)))
    return tmp_path


def run(argv, capsys):
    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


def test_ok_audit_writes_reports(files, capsys):
    code, out, err = run(["audit", str(files / "same.npy"), "--reference", str(files / "ref.npy"),
                          "--out", str(files / "rep"), "--fail-on", "warn", *FAST], capsys)
    assert code == 0, err
    assert "verdict: ok" in out and "report.html" in out
    assert (files / "rep" / "report.json").is_file() and (files / "rep" / "report.html").is_file()


def test_fail_on_gives_exit_3(files, capsys):
    args = ["audit", str(files / "shrunk.npy"), "--reference", str(files / "ref.npy"), "--out", str(files / "r"), *FAST]
    code, out, _ = run([*args, "--fail-on", "collapse"], capsys)
    assert code == 3 and "verdict: collapse" in out
    code, _, _ = run([*args, "--fail-on", "warn"], capsys)
    assert code == 3
    code, _, _ = run(args, capsys)  # no --fail-on: the verdict is reported, not enforced
    assert code == 0


def test_json_output_is_the_report(files, capsys):
    code, out, _ = run(["audit", str(files / "shrunk.npy"), "--reference", str(files / "ref.npy"), "--json",
                        "--out", str(files / "j"), *FAST], capsys)
    assert code == 0
    data = json.loads(out)
    assert data["verdict"] == "collapse"
    assert data == json.loads((files / "j" / "report.json").read_text())


def test_thresholds_file_relaxes_the_verdict(files, capsys):
    t = files / "t.yaml"
    t.write_text("rules:\n  'tails/*': {kind: ratio, warn: 0.95, collapse: 0.99}\n")
    code, out, _ = run(["audit", str(files / "shrunk.npy"), "--reference", str(files / "ref.npy"),
                        "--thresholds", str(t), "--fail-on", "warn", "--out", str(files / "t"), *FAST], capsys)
    assert code == 0 and "verdict: ok" in out


def test_train_and_old_task_metrics(files, capsys):
    tm = files / "train.json"
    tm.write_text(json.dumps({"train": {"loss": [0.8, 0.1]}, "val": {"loss": [0.9, 0.9]}}))
    code, out, _ = run(["audit", str(files / "same.npy"), "--reference", str(files / "ref.npy"),
                        "--train-metrics", str(tm), "--json", "--out", str(files / "o"), *FAST], capsys)
    assert code == 0 and json.loads(out)["diagnosis"]["mode"] == "overfitting"
    old = files / "old.json"
    old.write_text(json.dumps({"before": {"acc": 0.9}, "after": {"acc": 0.4}}))
    code, out, _ = run(["audit", str(files / "same.npy"), "--reference", str(files / "ref.npy"),
                        "--old-task-metrics", str(old), "--json", "--out", str(files / "o"), *FAST], capsys)
    assert json.loads(out)["diagnosis"]["mode"] == "catastrophic_forgetting"


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--thresholds", "missing.yaml"], "missing.yaml"),
        (["--train-metrics", "missing.json"], "missing.json"),
        (["-m", "tail_mas"], "Did you mean 'tail_mass'"),
    ],
)
def test_bad_input_is_one_line_exit_2(files, capsys, extra, needle, monkeypatch):
    monkeypatch.chdir(files)
    code, _, err = run(["audit", "same.npy", "--reference", "ref.npy", "--out", "x", *extra], capsys)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0]


def test_missing_candidate_and_bad_json(files, capsys, monkeypatch):
    monkeypatch.chdir(files)
    code, _, err = run(["audit", "nope.npy", "--reference", "ref.npy"], capsys)
    assert code == 2 and "nope.npy" in err and len(err.strip().splitlines()) == 1
    (files / "bad.json").write_text("{oops")
    code, _, err = run(["audit", "same.npy", "--reference", "ref.npy", "--train-metrics", "bad.json"], capsys)
    assert code == 2 and "bad.json" in err


def test_unknown_version_is_exit_2(files, capsys, monkeypatch):
    monkeypatch.chdir(files)
    url = f"sqlite:///{files / 'ledger.db'}"
    code, _, err = run(["--ledger", url, "audit", "no-such-version", "--reference", "ref.npy"], capsys)
    assert code == 2 and err.startswith(f"error: no ledger at {files / 'ledger.db'};")  # and none is created
    assert not (files / "ledger.db").exists()
    assert main(["--ledger", url, "init"]) == 0
    code, _, err = run(["--ledger", url, "audit", "no-such-version", "--reference", "ref.npy"], capsys)
    assert code == 2 and "no-such-version" in err


def test_audit_of_ledger_versions(files, capsys, monkeypatch):
    """Versions ingested with the ledger's own CLI are audited by name."""
    monkeypatch.chdir(files)
    url = f"sqlite:///{files / 'ledger.db'}"
    assert main(["--ledger", url, "init"]) == 0
    for name in ("ref", "shrunk"):
        assert main(["--ledger", url, "ingest", f"{name}.npy", "--origin", "human", "--as-version", name]) == 0
    capsys.readouterr()
    code, out, err = run(["--ledger", url, "audit", "shrunk", "--reference", "ref", "--json", "--out", "v", *FAST],
                         capsys)
    assert code == 0, err
    data = json.loads(out)
    assert data["verdict"] == "collapse" and data["n_candidate"] == 1500
