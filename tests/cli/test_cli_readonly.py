"""Commands that only read never create a ledger; writers still do."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tailguard.cli.app import main

READERS = [
    ["version", "list"],
    ["version", "list", "--json"],
    ["version", "show", "v1"],
    ["version", "diff", "v1", "v2"],
    ["version", "verify", "v1"],
    ["lineage", "v1"],
    ["lineage", "0123abcd"],
    ["export", "v1", "--format", "jsonl", "--out", "OUT"],
    ["audit", "v1", "--reference", "v2"],
    ["audit", "v1", "--reference", "v2", "--weights", "best.pt"],
    ["runs", "list"],
    ["runs", "show", "0123abcd"],
    ["gate", "v1", "--policy", "anchor:0.5"],
    ["serve", "--port", "0"],
    ["mlflow", "log", "audit:1"],
    ["mlflow", "log", "run:0123abcd"],
]


def tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def message(path: str) -> str:
    return f"error: no ledger at {path}; create one with 'tailguard init' or 'tailguard ingest'\n"


@pytest.mark.parametrize("command", READERS, ids=lambda c: " ".join(c[:2]))
def test_reader_on_a_missing_file_fails_in_one_line_and_creates_nothing(capsys, tmp_path, command, monkeypatch):
    monkeypatch.chdir(tmp_path)
    db = tmp_path / "missing" / "sub" / "ledger.db"
    command = [str(tmp_path / "out") if a == "OUT" else a for a in command]
    before = tree(tmp_path)
    code = main([*command, "--ledger", f"sqlite:///{db}"])
    captured = capsys.readouterr()
    assert code == 2
    assert captured.err == message(str(db))
    assert tree(tmp_path) == before == []


@pytest.mark.parametrize("command", [["version", "list"], ["lineage", "v1"], ["runs", "list"], ["gate", "v1"]],
                         ids=lambda c: " ".join(c))
def test_reader_on_the_default_ledger_creates_no_dot_folder(capsys, tmp_path, command, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TAILGUARD_LEDGER", raising=False)
    assert main(command) == 2
    assert capsys.readouterr().err == message(os.path.join(".tailguard", "ledger.db"))
    assert tree(tmp_path) == []


def test_audit_of_paths_needs_no_ledger(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TAILGUARD_LEDGER", raising=False)
    import numpy as np

    rng = np.random.default_rng(0)
    np.save(tmp_path / "ref.npy", rng.normal(size=(200, 3)))
    np.save(tmp_path / "cand.npy", rng.normal(size=(200, 3)))
    code = main(["audit", "cand.npy", "--reference", "ref.npy", "--quick", "--json", "--out", "rep"])
    assert code == 0, capsys.readouterr().err
    assert not (tmp_path / ".tailguard").exists()


def test_writers_create_the_ledger_and_its_folder(capsys, tmp_path):
    db = tmp_path / "new" / "ledger.db"
    assert main(["init", "--ledger", f"sqlite:///{db}"]) == 0
    assert capsys.readouterr().out == f"ledger ready: sqlite:///{db} (0 samples, 0 versions)\n"
    assert db.is_file()

    other = tmp_path / "other" / "ledger.db"
    texts = tmp_path / "t.jsonl"
    texts.write_text('{"text": "a"}\n')
    assert main(["ingest", str(texts), "--origin", "human", "--ledger", f"sqlite:///{other}"]) == 0
    assert other.is_file()
    # once it exists, the readers work on it
    capsys.readouterr()
    assert main(["version", "list", "--ledger", f"sqlite:///{other}"]) == 0
    assert "no versions yet" in capsys.readouterr().out


def test_mix_is_a_writer(capsys, tmp_path):
    db = tmp_path / "mix" / "ledger.db"
    code = main(["mix", "--policy", "accumulate", "--human", "h", "--as-version", "m", "--ledger", f"sqlite:///{db}"])
    assert code == 2 and "no ledger at" not in capsys.readouterr().err
    assert db.is_file()
