"""``export --format csv``: a tabular version back as its table, re-ingested to the same samples and audited
to the same answer as the version."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from tailguard.errors import BadInputError
from tailguard.ledger import Ledger
from tailguard.ledger.export.csv_table import cell


def _cli(capsys, url: str, *args: str) -> tuple[int, str, str]:
    from tailguard.cli.app import main

    code = main(["--ledger", url, *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _table(path: Path, rows: int, seed: int, repeat: int = 0, blank: bool = True) -> Path:
    """A CSV a user has: ints, floats with awkward representations, an empty cell, a quoted string; its
    first ``repeat`` rows occur twice (a collapsed generator repeats itself)."""
    rng = np.random.default_rng(seed)
    lines = ["count,weight,tiny,label"]
    for i in range(rows):
        tiny = "" if i == 3 and blank else repr(float(rng.normal() * 1e-12))
        lines.append(f'{int(rng.integers(0, 50))},{float(rng.normal()):.17g},{tiny},"kind {i % 3}, ""q"""')
    lines += lines[1:repeat + 1]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_mix_exports_as_its_table_and_re_ingests_to_the_same_samples(ledger: Ledger, tmp_path):
    ledger.ingest(_table(tmp_path / "human.csv", 40, 0), origin="human", verified_by="ann", as_version="h")
    ledger.ingest(_table(tmp_path / "synth.csv", 30, 1, repeat=5), origin="synthetic", generator="ctgan",
                  generation=1, as_version="s")
    ledger.create_version("twice", ["version:h", "version:s"])
    target = ledger.export("twice", "csv", tmp_path / "out")
    with open(target, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 40 + 35 == len(ledger.version_sample_ids("twice"))
    assert list(rows[0])[:4] == ["count", "label", "tiny", "weight"]
    assert list(rows[0])[4:] == ["origin", "generator", "generation", "verified_by", "parents"]
    synthetic = [r for r in rows if r["origin"] == "synthetic"]
    assert len(synthetic) == 35 and len({tuple(r.values()) for r in synthetic}) == 30 and {r["generator"] for r in synthetic} == {"ctgan"}
    assert {r["generation"] for r in synthetic} == {"1"}
    assert {r["label"] for r in rows} == {'kind 0, "q"', 'kind 1, "q"', 'kind 2, "q"'}
    assert sum(r["tiny"] == "" for r in rows) == 1 + 2  # row 3 of each file, s's twice (a repeated row)

    result = ledger.ingest(target, as_version="again")
    assert result.added == 0 and result.existing == 70 and result.duplicates == 5 and not result.skipped
    assert sorted(ledger.version_sample_ids("again")) == sorted(ledger.version_sample_ids("twice"))


def test_the_exported_csv_audits_as_the_version_does(ledger: Ledger, tmp_path):
    from tailguard.audit import AuditConfig, audit
    from tailguard.audit.sources import Source

    ledger.ingest(_table(tmp_path / "ref.csv", 120, 2, blank=False), origin="human", verified_by="ann", as_version="ref")
    ledger.ingest(_table(tmp_path / "cand.csv", 80, 3, blank=False), origin="synthetic", as_version="cand")
    exported = ledger.export("cand", "csv", tmp_path / "out")
    quick = AuditConfig(quick=True)
    ref = Source("ref", ledger_url=ledger.url)
    by_version = audit(Source("cand", ledger_url=ledger.url), ref, config=quick)
    by_file = audit(Source(str(exported)), ref, config=quick)
    assert by_file.n_candidate == by_version.n_candidate == 80
    assert by_file.verdict == by_version.verdict
    values = {m.name: m.value for m in by_version.metrics}
    assert values and {m.name: m.value for m in by_file.metrics} == pytest.approx(values, nan_ok=True)


def test_a_text_version_is_refused_in_one_line(sqlite_ledger: Ledger, sqlite_url, capsys, tmp_path):
    texts = tmp_path / "t.jsonl"
    texts.write_text('{"text": "hello"}\n{"text": "world"}\n')
    sqlite_ledger.ingest(texts, origin="human", as_version="docs")
    with pytest.raises(BadInputError, match="--format csv exports tabular samples"):
        sqlite_ledger.export("docs", "csv", tmp_path / "x")
    code, _, err = _cli(capsys, sqlite_url, "export", "docs", "--format", "csv", "--out", str(tmp_path / "y"))
    assert code != 0 and err.count("\n") == 1 and "jsonl" in err and "Traceback" not in err
    assert not (tmp_path / "y" / "samples.csv").exists()


def test_cells_read_back_as_the_same_values() -> None:
    import json

    values = [0.1, 1e-300, 2.0, 123456789012345678, -0.0, 3.141592653589793, None]
    assert [json.loads(cell(v) or "null") for v in values] == values
