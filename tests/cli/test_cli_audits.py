"""``audit --record``, ``audits list`` and ``audits show``: recorded audits read back from the ledger,
tables at 80 columns, JSON, report.html re-rendered from the stored result, one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tailguard.cli.app import main


def run(argv, capsys):
    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def recorded(tmp_path, capsys, monkeypatch):
    """A ledger with two recorded audits of .npy files (a narrowed candidate, and the reference itself)."""
    monkeypatch.setenv("COLUMNS", "80")
    rng = np.random.default_rng(0)
    np.save(tmp_path / "ref.npy", rng.normal(size=(500, 6)))
    np.save(tmp_path / "narrow_candidate_with_a_long_name.npy", 0.7 * rng.normal(size=(500, 6)))
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    cand, ref = tmp_path / "narrow_candidate_with_a_long_name.npy", tmp_path / "ref.npy"
    code, out, err = run(["--ledger", url, "audit", str(cand), "--reference", str(ref), "--quick", "--record",
                          "--out", str(tmp_path / "a1")], capsys)
    assert code == 0, err
    assert "recorded as audit 1 ('tailguard audits show 1')" in out
    code, out, err = run(["--ledger", url, "audit", str(ref), "--reference", str(ref), "--quick", "--record",
                          "--json", "--out", str(tmp_path / "a2")], capsys)
    assert code == 0 and json.loads(out)["verdict"] == "ok"
    return url, tmp_path, str(cand), str(ref)


def test_audits_list_shows_each_recorded_audit_at_80_columns_and_filters(recorded, capsys):
    url, _, cand, ref = recorded
    code, out, err = run(["--ledger", url, "audits", "list"], capsys)
    assert code == 0, err
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 80
    body = [line for line in lines if line.split()[:1] in (["1"], ["2"])]  # a long path wraps onto more lines
    assert [line.split()[0] for line in body] == ["1", "2"]
    assert "collapse" in body[0] and "model_collapse" in body[0] and "ok" in body[1]
    listed = json.loads(run(["--ledger", url, "audits", "list", "--json"], capsys)[1])
    assert [(a["id"], a["candidate"], a["reference"]) for a in listed] == [(1, cand, ref), (2, ref, ref)]
    report = json.loads((recorded[1] / "a1" / "report.json").read_text())
    assert listed[0]["config_id"] == report["config"]["config_id"] and listed[0]["source"] == "audit"
    flagged = sum(1 for r in report["metrics"] if r["status"] in ("warn", "collapse"))
    assert f"{flagged}/{len(report['metrics'])}" in body[0]
    only = json.loads(run(["--ledger", url, "audits", "list", "--candidate", ref, "--json"], capsys)[1])
    assert [a["id"] for a in only] == [2]
    assert [a["id"] for a in json.loads(run(["--ledger", url, "audits", "list", "--reference", ref, "--json"],
                                             capsys)[1])] == [1, 2]
    last = json.loads(run(["--ledger", url, "audits", "list", "--last", "1", "--json"], capsys)[1])
    assert [a["id"] for a in last] == [2]
    code, out, _ = run(["--ledger", url, "audits", "list", "--reference", "nope"], capsys)
    assert code == 0 and "no recorded audits matching the filters" in out


def test_audits_show_prints_the_stored_table_and_re_renders_the_same_report(recorded, capsys):
    url, tmp_path, _, _ = recorded
    code, out, err = run(["--ledger", url, "audits", "show", "1", "--html", str(tmp_path / "again")], capsys)
    assert code == 0, err
    report = json.loads((tmp_path / "a1" / "report.json").read_text())
    lines = [line for line in out.splitlines() if not line.startswith("report: ")]  # (the paths' line)
    assert max(len(line) for line in lines) <= 80
    first_cells = [line.split()[0] for line in lines if line.strip()]
    assert f"verdict: {report['verdict']}" in out and report["diagnosis"]["mode"] in out
    for row in report["metrics"]:
        assert row["name"] in first_cells  # every name whole
    for name in ("report.json", "report.html"):  # rendered from the ledger, nothing recomputed
        assert (tmp_path / "a1" / name).read_bytes() == (tmp_path / "again" / name).read_bytes()
    code, out, _ = run(["--ledger", url, "audits", "show", "audit:1", "--json"], capsys)
    assert code == 0 and json.loads(out) == report


@pytest.mark.parametrize(("args", "message"), [
    (["audits", "show", "9"], "error: audit 9 is not in the ledger (2 recorded; see 'tailguard audits list')"),
    (["audits", "show", "one"], "error: an audit id is a number >= 1 as 'tailguard audits list' shows it. "
                                "Got 'one'."),
])
def test_bad_audit_ids_get_one_line(recorded, capsys, args, message):
    code, _, err = run(["--ledger", recorded[0], *args], capsys)
    assert code == 2 and err.strip() == message


def test_reading_audits_of_a_missing_ledger_creates_nothing(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'none' / 'ledger.db'}"
    for args in (["audits", "list"], ["audits", "show", "1"]):
        code, _, err = run(["--ledger", url, *args], capsys)
        assert code == 2 and len(err.strip().splitlines()) == 1 and "no ledger at" in err
    assert not (tmp_path / "none").exists()
    code, _, err = run(["--ledger", url, "audits", "list", "--colour"], capsys)
    assert code == 2 and "No such option: --colour" in err
