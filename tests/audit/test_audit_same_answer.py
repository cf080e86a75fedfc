"""Same data, same answer: a file audited by path and the same file ingested as a version get one audit.

Formats: JSONL, npy, CSV, Parquet, an image folder and a YOLO dataset.

Each case walks the user's path end to end: the file -> ``tailguard ingest --as-version`` ->
``audit VERSION --reference REF`` against ``audit FILE --reference REF_FILE``, and compares
the verdict and every metric value. Repeats are part of the data (a version keeps them).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tailguard.audit import AuditConfig, audit
from tailguard.audit.sources import Source
from tailguard.ledger import Ledger


def _jsonl(path: Path, texts: list[str]) -> Path:
    path.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    return path


def _texts(tmp_path: Path) -> tuple[Path, Path]:
    from tailguard.data import python_docs_paragraphs

    docs = python_docs_paragraphs()[:400]
    ref = _jsonl(tmp_path / "ref.jsonl", docs[:200])
    cand = _jsonl(tmp_path / "cand.jsonl", docs[200:300] + docs[200:240] * 3)  # a mode repeated
    return cand, ref


def _vectors(tmp_path: Path) -> tuple[Path, Path]:
    from sklearn.datasets import load_digits

    x = load_digits().data.astype(np.float64)
    np.save(tmp_path / "ref.npy", x[:600])
    np.save(tmp_path / "cand.npy", np.concatenate([x[600:900], x[600:700]]) * 0.9)
    return tmp_path / "cand.npy", tmp_path / "ref.npy"


def _tables(tmp_path: Path, suffix: str) -> tuple[Path, Path]:
    import pandas as pd
    from sklearn.datasets import load_wine

    frame = load_wine(as_frame=True).frame.drop(columns="target")
    ref, cand = frame.iloc[:100], pd.concat([frame.iloc[100:160], frame.iloc[100:120]])  # repeated rows
    for name, part in (("ref", ref), ("cand", cand)):
        if suffix == ".csv":
            part.to_csv(tmp_path / f"{name}.csv", index=False)
        else:
            part.to_parquet(tmp_path / f"{name}.parquet")
    return tmp_path / f"cand{suffix}", tmp_path / f"ref{suffix}"


def _csv(tmp_path: Path) -> tuple[Path, Path]:
    return _tables(tmp_path, ".csv")


def _parquet(tmp_path: Path) -> tuple[Path, Path]:
    return _tables(tmp_path, ".parquet")


def _images(tmp_path: Path) -> tuple[Path, Path]:
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits().images
    for name, rows in (("ref", range(0, 120)), ("cand", [*range(120, 200), *range(120, 140)])):
        folder = tmp_path / name
        folder.mkdir()
        for k, i in enumerate(rows):  # a repeated digit is a second file with the same bytes
            Image.fromarray((digits[i] * 15).astype(np.uint8)).save(folder / f"{k:04d}.png")
    return tmp_path / "cand", tmp_path / "ref"


def _yolo(tmp_path: Path) -> tuple[Path, Path]:
    from tailguard.data import make_detection_dataset

    ref = make_detection_dataset(tmp_path / "ref", n_images=60, seed=0, imgsz=64)
    cand = make_detection_dataset(tmp_path / "cand", n_images=40, seed=1, imgsz=64)
    return Path(cand), Path(ref)


@pytest.mark.parametrize("make", [_texts, _vectors, _csv, _parquet, _images, _yolo],
                         ids=["jsonl", "npy", "csv", "parquet", "images", "yolo"])
def test_version_and_path_get_the_same_audit(sqlite_url: str, tmp_path: Path, make) -> None:  # type: ignore[no-untyped-def]
    cand, ref = make(tmp_path)
    with Ledger.open(sqlite_url) as ledger:
        ledger.ingest(ref, origin="human", as_version="ref")
        ledger.ingest(cand, origin="synthetic", as_version="cand")
    config = AuditConfig(quick=True)
    by_path = audit(Source(str(cand)), Source(str(ref)), config=config)
    by_version = audit(Source("cand", sqlite_url), Source("ref", sqlite_url), config=config)
    assert by_version.verdict == by_path.verdict
    assert [m.name for m in by_version.metrics] == [m.name for m in by_path.metrics]
    for a, b in zip(by_version.metrics, by_path.metrics, strict=True):
        assert a.value == pytest.approx(b.value, rel=1e-9, abs=1e-12, nan_ok=True), a.name
        assert a.status == b.status, a.name


def _exported(sqlite_url: str, tmp_path: Path, make, fmt: str) -> tuple[Path, Path]:  # type: ignore[no-untyped-def]
    """``make``'s candidate ingested as version 'cand' (its reference as 'ref') and exported as ``fmt``:
    the exported file and the reference's path."""
    from tailguard.ledger.export import export_version

    cand, ref = make(tmp_path)
    with Ledger.open(sqlite_url) as ledger:
        ledger.ingest(ref, origin="human", as_version="ref")
        ledger.ingest(cand, origin="synthetic", as_version="cand")
        return export_version(ledger, "cand", fmt, tmp_path / "out"), ref


@pytest.mark.parametrize("make", [_texts, _csv], ids=["text", "table"])
@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_a_versions_export_gets_the_versions_audit(sqlite_url: str, tmp_path: Path, make, fmt: str) -> None:  # type: ignore[no-untyped-def]
    """``export --format jsonl|parquet`` then ``audit FILE``: a tabular version's rows are JSON objects in
    the export's ``text`` column, which must be read as the table, never as documents."""
    exported, ref = _exported(sqlite_url, tmp_path, make, fmt)
    config = AuditConfig(quick=True)
    by_version = audit(Source("cand", sqlite_url), Source(str(ref)), config=config)
    by_export = audit(Source(str(exported)), Source(str(ref)), config=config)
    assert by_export.modality == by_version.modality and by_export.n_candidate == by_version.n_candidate
    assert by_export.verdict == by_version.verdict
    assert {m.name: m.value for m in by_export.metrics} == pytest.approx(
        {m.name: m.value for m in by_version.metrics}, rel=1e-9, abs=1e-12, nan_ok=True)


def test_an_image_versions_table_export_is_refused_not_misread(sqlite_url: str, tmp_path: Path) -> None:
    from tailguard.errors import BadInputError

    exported, _ = _exported(sqlite_url, tmp_path, _images, "parquet")
    with pytest.raises(BadInputError, match="a tailguard export of image samples: audit the version itself"):
        Source(str(exported)).load()


def test_a_bad_line_in_a_jsonl_export_is_named(sqlite_url: str, tmp_path: Path) -> None:
    from tailguard.errors import TextFormatError

    exported, _ = _exported(sqlite_url, tmp_path, _csv, "jsonl")
    lines = exported.read_text(encoding="utf-8").splitlines()
    exported.write_text("\n".join([*lines[:3], '{"oops', *lines[3:]]) + "\n", encoding="utf-8")
    with pytest.raises(TextFormatError, match=r"samples.jsonl:4: invalid JSON"):
        Source(str(exported)).load()
    exported.write_bytes(b"\n".join([*(line.encode() for line in lines[:5]), b"caf\xe9"]) + b"\n")
    with pytest.raises(TextFormatError, match=r"samples.jsonl:6: not valid UTF-8"):
        Source(str(exported)).load()


def test_a_tabular_jsonl_export_is_not_streamed_as_documents(sqlite_url: str, tmp_path: Path) -> None:
    from tailguard.audit.streaming import stream_source
    from tailguard.errors import BadInputError

    exported, _ = _exported(sqlite_url, tmp_path, _csv, "jsonl")
    with pytest.raises(BadInputError, match="its rows are tables, not documents"):
        stream_source(exported)


def test_the_order_of_samples_does_not_change_the_audit() -> None:
    from sklearn.datasets import load_digits

    x = load_digits().data.astype(np.float64)
    ref, cand = x[:700], x[700:1100] * 0.9
    shuffled = cand[np.random.default_rng(0).permutation(len(cand))]
    config = AuditConfig(quick=True)
    a, b = audit(cand, ref, config=config), audit(shuffled, ref[::-1], config=config)
    assert a.verdict == b.verdict
    assert [m.value for m in a.metrics] == pytest.approx([m.value for m in b.metrics], nan_ok=True)


def test_too_little_data_is_insufficient_never_ok(sqlite_url: str, tmp_path: Path, capsys) -> None:
    """A one-row candidate measures nothing: the verdict fails closed, and any --fail-on gate exits 3."""
    from sklearn.datasets import load_diabetes

    from tailguard.cli.app import main

    frame = load_diabetes(as_frame=True).frame
    frame.iloc[:200].to_csv(tmp_path / "ref.csv", index=False)
    frame.iloc[200:201].to_csv(tmp_path / "one.csv", index=False)
    report = audit(Source(str(tmp_path / "one.csv")), Source(str(tmp_path / "ref.csv")), config=AuditConfig(quick=True))
    assert report.verdict == "insufficient" and "1 sample" in report.insufficient_reason
    assert "not enough was measured" in report.diagnosis.summary
    for level in ("warn", "collapse"):
        code = main(["--ledger", sqlite_url, "audit", str(tmp_path / "one.csv"), "--reference", str(tmp_path / "ref.csv"),
                     "--quick", "--fail-on", level, "--out", str(tmp_path / level)])
        assert code == 3, level
    assert json.loads((tmp_path / "warn" / "report.json").read_text())["verdict"] == "insufficient"


@pytest.mark.parametrize("n", [3, 5])
def test_a_handful_of_rows_is_insufficient_row_by_row_and_as_a_verdict(n: int) -> None:
    """0.2 read a 3-row candidate's empty 1% tail (a bootstrap interval of [0, 0]) as collapse."""
    from sklearn.datasets import load_digits

    x = load_digits().data.astype(np.float64)
    report = audit(x[:n], x[900:], config=AuditConfig(quick=True, figures=False))
    assert report.verdict == "insufficient", [(m.name, m.status) for m in report.metrics]
    assert "no tail or diversity metric could be computed and judged" in report.insufficient_reason
    rows = {m.name: m for m in report.metrics}
    assert rows["tail_mass_0.01"].status == "insufficient"
    assert "needs at least 250 rows per side" in rows["tail_mass_0.01"].reason
    assert rows["vendi"].status == "insufficient" and f"candidate {n}" in rows["vendi"].reason
    assert not [m.name for m in report.metrics if m.status in ("warn", "collapse")]


def test_rows_are_judged_once_each_has_the_rows_it_declares() -> None:
    from sklearn.datasets import load_digits

    x = load_digits().data.astype(np.float64)
    report = audit(x[:120], x[900:], config=AuditConfig(quick=True, figures=False))
    status = {m.name: m.status for m in report.metrics}
    assert report.verdict != "insufficient"
    # 120 rows: enough for the 5% tails and the radius share (100), not for the 1% tail (250)
    assert status["tail_mass_0.01"] == "insufficient"
    assert status["tail_mass_0.05"] != "insufficient" and status["radius_tail_share_0.95"] != "insufficient"
    assert report.to_dict()["metrics"][0]["status"] == "insufficient"  # written as such to report.json


def test_a_table_with_empty_cells_is_refused_alike_by_path_and_by_version(sqlite_url: str, tmp_path: Path) -> None:
    """A version of CSV rows is read by the file's rule: columns, order and refusals alike."""
    from tailguard.errors import BadInputError

    rng = np.random.default_rng(4)
    rows = ["date,b,a"] + [f"2020-01-{i % 28 + 1:02d},{rng.normal():.6f},{rng.normal():.6f}" for i in range(60)]
    clean = tmp_path / "clean.csv"
    clean.write_text("\n".join(rows) + "\n")
    holed = tmp_path / "holed.csv"
    holed.write_text("\n".join([*rows[:5], "2020-02-01,,0.5", *rows[5:]]) + "\n")
    with Ledger.open(sqlite_url) as ledger:
        ledger.ingest(clean, origin="human", as_version="clean")
        ledger.ingest(holed, origin="human", as_version="holed")
    by_path, by_version = Source(str(clean)).load(), Source("clean", sqlite_url).load()
    assert by_path.feature_names == by_version.feature_names == ("a", "b")
    assert np.array_equal(by_path.vectors, by_version.vectors)
    for source in (Source(str(holed)), Source("holed", sqlite_url)):
        with pytest.raises(BadInputError, match="empty or non-numeric value in column 'b'"):
            source.load()


def test_a_reference_version_that_is_not_all_human_is_said_by_path_and_stream(sqlite_url: str, tmp_path: Path) -> None:
    from tailguard.audit.inputs import ReferenceOriginWarning
    from tailguard.audit.streaming import stream_source

    cand, ref = _vectors(tmp_path)
    with Ledger.open(sqlite_url) as ledger:
        ledger.ingest(ref, origin="human", as_version="human")
        ledger.ingest(cand, origin="synthetic", as_version="made")
        ledger.create_version("mixed", ["version:human", "version:made"])
    config = AuditConfig(quick=True, figures=False)
    for reference, held in (("made", {"synthetic": 400}), ("mixed", {"human": 600, "synthetic": 400})):
        with pytest.warns(ReferenceOriginWarning, match=rf"the reference '{reference}' is \d+% human"):
            report = audit(Source(str(cand)), Source(reference, sqlite_url), config=config)
        assert report.config["reference_origins"] == held
        with pytest.warns(ReferenceOriginWarning):
            streamed = audit(stream_source(cand, shard_rows=200), Source(reference, sqlite_url), config=config)
        assert streamed.config["reference_origins"] == held
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", ReferenceOriginWarning)  # all human, or no origins known: nothing said
        assert "reference_origins" not in audit(Source(str(cand)), Source("human", sqlite_url), config=config).config
        assert "reference_origins" not in audit(Source(str(cand)), Source(str(ref)), config=config).config
