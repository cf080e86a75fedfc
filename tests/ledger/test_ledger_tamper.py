"""Tamper evidence: ``verify`` catches edits of the database as well as of the files."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import create_engine, text

from tailguard.cli.app import main
from tailguard.ledger import Ledger
from tailguard.ledger.engine import normalise_url


@pytest.fixture
def versions(ledger: Ledger, make_yolo_dataset, tmp_path) -> Ledger:
    texts = ["alpha", "beta", "beta", "gamma"]
    (tmp_path / "s.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    ledger.ingest(tmp_path / "s.jsonl", origin="synthetic", generation=1, as_version="texts")
    ledger.ingest(make_yolo_dataset(n_train=3, n_val=0), origin="human", as_version="boxes")
    return ledger


def _sql(ledger: Ledger, statement: str) -> int:
    engine = create_engine(normalise_url(ledger.url))
    with engine.begin() as conn:
        n = conn.execute(text(statement)).rowcount
    engine.dispose()
    return n


def _verify(ledger: Ledger, name: str, capsys) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    capsys.readouterr()
    code = main(["--ledger", ledger.url, "version", "verify", name])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_untouched_versions_verify(versions: Ledger, capsys):
    for name in ("texts", "boxes"):
        code, out = _verify(versions, name, capsys)
        assert code == 0 and "digest ok" in out, out


@pytest.mark.parametrize("edit", [
    "UPDATE version_members SET origin = 'human' WHERE origin = 'synthetic'",
    "UPDATE version_members SET multiplicity = 1 WHERE multiplicity = 2",
    "UPDATE version_members SET generation = 0 WHERE generation = 1",
    "DELETE FROM version_members WHERE multiplicity = 2",
])
def test_edited_manifest_fails_naming_the_edit(versions: Ledger, capsys, edit: str):
    assert _sql(versions, edit) >= 1
    code, out = _verify(versions, "texts", capsys)
    assert code == 2 and "were edited" in out and "manifest digest" in out, out
    assert not versions.verify("texts").passed


def test_a_changed_box_fails(versions: Ledger, capsys):
    assert _sql(versions, "UPDATE labels SET x = x + 0.01 WHERE id = (SELECT MIN(id) FROM labels)") == 1
    code, out = _verify(versions, "boxes", capsys)
    assert code == 2 and "label rows" in out, out


def test_a_deleted_sample_row_fails(versions: Ledger, capsys):
    assert _sql(versions, "DELETE FROM samples WHERE id = (SELECT MIN(sample_id) FROM version_members "
                          "WHERE version_id = (SELECT id FROM versions WHERE name = 'texts'))") == 1
    code, out = _verify(versions, "texts", capsys)
    assert code == 2 and "sample row was deleted" in out, out
    assert "verified" not in out


def test_a_flipped_sample_origin_fails(versions: Ledger, capsys):
    assert _sql(versions, "UPDATE samples SET origin = 'human' WHERE origin = 'synthetic'") == 3
    code, out = _verify(versions, "texts", capsys)
    assert code == 2 and "origin" in out, out
