"""``skip_bad`` / ``--skip-bad``: table rows with an empty or non-numeric cell are left out and listed,
alike by path, by version and as a DataFrame; without it they are refused, naming the row."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tailguard.audit import AuditConfig, audit
from tailguard.audit.sources import Source
from tailguard.errors import BadInputError, EmptyDatasetError
from tailguard.ledger import Ledger

HOLES = (4, 17, 40)  # data rows (0-based) with an empty cell


def _tables(tmp_path: Path) -> tuple[Path, Path, Path]:
    rng = np.random.default_rng(8)
    header = "date,b,a"

    def rows(scale: float) -> list[str]:
        return [f"2020-01-{i % 28 + 1:02d},{rng.normal(0, scale):.6f},{rng.normal():.6f}" for i in range(80)]

    cand_rows, ref_rows = rows(0.7), rows(1.0)
    holed = [r if i not in HOLES else r.rsplit(",", 2)[0] + ",," + r.rsplit(",", 1)[1]
             for i, r in enumerate(cand_rows)]
    paths = []
    for name, body in (("holed.csv", holed), ("clean.csv", [r for i, r in enumerate(cand_rows) if i not in HOLES]),
                       ("ref.csv", ref_rows)):
        path = tmp_path / name
        path.write_text("\n".join([header, *body]) + "\n")
        paths.append(path)
    return paths[0], paths[1], paths[2]


def _values(report) -> list[tuple[str, float]]:  # type: ignore[no-untyped-def]
    return [(m.name, m.value) for m in report.metrics]


def test_skip_bad_leaves_out_the_bad_rows_alike_by_path_version_and_frame(sqlite_url: str, tmp_path: Path) -> None:
    holed, clean, ref = _tables(tmp_path)
    with Ledger.open(sqlite_url) as ledger:
        ledger.ingest(holed, origin="synthetic", as_version="holed")
        ledger.ingest(ref, origin="human", as_version="ref")
    config = AuditConfig(quick=True, figures=False, skip_bad=True)
    by_path = audit(Source(str(holed)), Source(str(ref)), config=config)
    by_version = audit(Source("holed", sqlite_url), Source("ref", sqlite_url), config=config)
    by_frame = audit(pd.read_csv(holed), pd.read_csv(ref), config=config)
    cleaned = audit(Source(str(clean)), Source(str(ref)), config=AuditConfig(quick=True, figures=False))
    # the same audit as the file without those rows, whichever way the data came in
    for report in (by_path, by_version, by_frame):
        assert report.verdict == cleaned.verdict
        assert [n for n, _ in _values(report)] == [n for n, _ in _values(cleaned)]
        for (name, a), (_, b) in zip(_values(report), _values(cleaned), strict=True):
            assert a == pytest.approx(b, rel=1e-9, abs=1e-12, nan_ok=True), name
    # every row left out is listed, by file line, by sample id or by row
    lines = by_path.config["skipped_rows"]["candidate"]
    assert lines == [f"line {i + 2}: an empty or non-numeric value in column 'b'" for i in HOLES]
    assert len(by_version.config["skipped_rows"]["candidate"]) == len(HOLES)
    assert all(s.startswith("sample ") for s in by_version.config["skipped_rows"]["candidate"])
    assert by_frame.config["skipped_rows"]["candidate"][0] == "row 5: an empty or non-numeric value in column 'b'"
    assert "reference" not in by_path.config["skipped_rows"]
    assert json.loads(by_path.to_json())["config"]["skipped_rows"] == by_path.config["skipped_rows"]
    assert "skipped_rows" not in cleaned.config


def test_without_skip_bad_the_first_bad_row_is_refused(tmp_path: Path) -> None:
    holed, _, ref = _tables(tmp_path)
    with pytest.raises(BadInputError, match=r"holed\.csv:6: row 5 has an empty or non-numeric value in column 'b'; "
                                            r"--skip-bad \(AuditConfig\(skip_bad=True\)\) leaves such rows out$"):
        audit(Source(str(holed)), Source(str(ref)), config=AuditConfig(quick=True, figures=False))


def test_a_tabular_version_keeps_its_empty_cells_and_its_audit_names_the_sample(sqlite_url: str,
                                                                                 tmp_path: Path) -> None:
    holed, _, ref = _tables(tmp_path)
    with Ledger.open(sqlite_url) as ledger:
        ledger.ingest(holed, origin="synthetic", as_version="holed")  # stored as it is: empty cells are null
        assert ledger.get_version("holed").n_members == 80
    with pytest.raises(BadInputError, match=r"^holed: sample [0-9a-f]{32} has an empty or non-numeric value in "
                                            r"column 'b'; --skip-bad"):
        audit(Source("holed", sqlite_url), Source(str(ref)), config=AuditConfig(quick=True, figures=False))


def test_a_table_of_only_bad_rows_is_empty_not_audited(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,\n,2\n")
    with pytest.raises(EmptyDatasetError, match=r"every row has an empty or non-numeric value \(2 skipped\)"):
        Source(str(bad)).load(skip_bad=True)


def test_the_cli_lists_every_skipped_row_and_refuses_it_with_stream(tmp_path: Path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    from tailguard.cli.app import main

    holed, _, ref = _tables(tmp_path)
    monkeypatch.chdir(tmp_path)

    def run(*argv: str) -> tuple[int, str]:
        code = main([*argv])
        out = capsys.readouterr()
        return code, out.out + out.err

    code, out = run("audit", str(holed), "--reference", str(ref), "--quick", "--out", "r0")
    assert code == 2 and "row 5 has an empty or non-numeric value" in out
    code, out = run("audit", str(holed), "--reference", str(ref), "--quick", "--out", "r1", "--skip-bad")
    assert code == 0, out
    assert f"skipped {len(HOLES)} row(s) of the candidate ({holed})" in out
    for i in HOLES:
        assert f"line {i + 2}: an empty or non-numeric value in column 'b'" in out
    report = json.loads((tmp_path / "r1" / "report.json").read_text())
    assert report["config"]["skip_bad"] is True and len(report["config"]["skipped_rows"]["candidate"]) == len(HOLES)
    code, out = run("audit", str(holed), "--reference", str(ref), "--stream", "--skip-bad")
    assert code == 2 and "--skip-bad need the whole candidate" in out


def test_a_number_column_with_stray_text_is_not_dropped_silently(sqlite_url: str, tmp_path: Path) -> None:
    """A column of numbers with a stray 'n/a' was read as text and left out of the features; it is a
    numeric column with one bad cell (ingest refuses the same file: it mixes numbers and text)."""
    from tailguard.errors import TailguardError

    _, clean, _ = _tables(tmp_path)
    lines = clean.read_text().splitlines()
    stray = tmp_path / "stray.csv"
    stray.write_text("\n".join([*lines[:4], "2020-03-01,n/a,0.25", *lines[4:]]) + "\n")
    with pytest.raises(BadInputError, match=r"stray\.csv:5: row 4 has an empty or non-numeric value in column 'b'"):
        Source(str(stray)).load()
    side = Source(str(stray)).load(skip_bad=True)
    assert side.feature_names == ("a", "b")  # 'date' is text: left out as before; 'b' stays in
    assert side.skipped == ("line 5: an empty or non-numeric value in column 'b'",)
    assert np.array_equal(side.vectors, Source(str(clean)).load().vectors)
    with Ledger.open(sqlite_url) as ledger, pytest.raises(TailguardError, match="mixes numbers and text"):
        ledger.ingest(stray, origin="synthetic", as_version="stray")
