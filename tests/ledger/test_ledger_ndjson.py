"""Ultralytics Platform NDJSON: export with per-image metadata.tailguard, ingest it back, bad records."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tailguard.errors import LabelFormatError, MissingInputError, TextFormatError, UnknownChoiceError
from tailguard.ledger import Box, Ledger, NewSample


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _version_with_pseudo(ledger: Ledger, data: Path) -> None:
    ledger.ingest(data, origin="human", as_version="human", verified_by="ann")
    first = min(ledger.iter_samples("human"), key=lambda r: r.extra["name"])
    box = Box(1, 0.3, 0.3, 0.1, 0.1, "pseudo_label", confidence=0.75, generator="yolo26n")
    ledger.add_samples([NewSample(content=None, uri=first.uri, modality="detection", origin="human", labels=(box,))])
    ledger.create_version("both", ["version:human"])


def test_export_writes_platform_records_with_tailguard_metadata(sqlite_ledger: Ledger, make_yolo_dataset, tmp_path):
    data = make_yolo_dataset(n_train=3, n_val=2)
    _version_with_pseudo(sqlite_ledger, data)
    target = sqlite_ledger.export("both", "ultralytics-ndjson", tmp_path / "out", both="merge")
    records = _lines(target)
    header, images = records[0], records[1:]
    assert header["type"] == "dataset" and header["task"] == "detect"
    assert header["class_names"] == {"0": "cat", "1": "dog"}
    assert len(images) == 5 and {r["split"] for r in images} == {"train", "val"}
    for r in images:
        assert r["type"] == "image" and (tmp_path / "out" / "images" / r["split"] / r["file"]).is_file()
        meta = r["metadata"]["tailguard"]
        assert set(meta) >= {"origin", "generator", "generation", "parents"}
        assert meta["origin"] == "human" and meta["verified_by"] == "ann"
        assert len(meta["labels"]) == len(r["annotations"]["boxes"])
        assert all(len(row) == 5 and isinstance(row[0], int) for row in r["annotations"]["boxes"])
    pseudo = [r for r in images if any(m["origin"] == "pseudo_label" for m in r["metadata"]["tailguard"]["labels"])]
    assert len(pseudo) == 1
    k = next(i for i, m in enumerate(pseudo[0]["metadata"]["tailguard"]["labels"]) if m["origin"] == "pseudo_label")
    assert pseudo[0]["annotations"]["boxes"][k] == [1, 0.3, 0.3, 0.1, 0.1]
    assert pseudo[0]["metadata"]["tailguard"]["labels"][k] == {"origin": "pseudo_label", "generator": "yolo26n",
                                                               "confidence": 0.75}


def test_reingest_keeps_the_metadata_and_adds_nothing(sqlite_ledger: Ledger, make_yolo_dataset, tmp_path):
    data = make_yolo_dataset(n_train=3, n_val=2)
    _version_with_pseudo(sqlite_ledger, data)
    target = sqlite_ledger.export("both", "ultralytics-ndjson", tmp_path / "out", both="merge")
    report = sqlite_ledger.ingest(target, as_version="back")  # auto: the first line is a dataset record
    assert report.added == 0 and report.existing == 5 and not report.skipped
    before = {r.id: r for r in sqlite_ledger.iter_samples("both")}
    after = {r.id: r for r in sqlite_ledger.iter_samples("back")}
    assert set(after) == set(before)
    assert {r.extra["split"] for r in after.values()} == {"train", "val"}

    other = Ledger.open(f"sqlite:///{tmp_path / 'other.db'}")  # a fresh ledger reads the provenance from the file
    try:
        fresh = other.ingest(target, as_version="v")
        assert fresh.added == 5
        recs = {r.id: r for r in other.iter_samples("v")}
        assert {r.origin for r in recs.values()} == {"human"} and {r.verified_by for r in recs.values()} == {"ann"}
        boxes = sorted((b.origin, b.generator, b.confidence) for r in recs.values() for b in r.labels)
        assert boxes.count(("pseudo_label", "yolo26n", 0.75)) == 1 and len(boxes) == 6
        assert other.class_names("v") == ["cat", "dog"]
    finally:
        other.close()


def _write(path: Path, records: list) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def test_bad_records_are_one_line_errors_naming_the_line(sqlite_ledger: Ledger, make_yolo_dataset, tmp_path):
    data = make_yolo_dataset(n_train=1, n_val=1)
    image = next((data.parent / "images" / "train").iterdir())
    folder = tmp_path / "nd"
    (folder / "images" / "train").mkdir(parents=True)
    (folder / "images" / "train" / image.name).write_bytes(image.read_bytes())
    head = {"type": "dataset", "task": "detect", "class_names": {"0": "cat"}}
    ok = {"type": "image", "file": image.name, "split": "train", "annotations": {"boxes": [[0, 0.5, 0.5, 0.2, 0.2]]}}
    bad_origin = dict(ok, metadata={"tailguard": {"origin": "humanish"}})
    path = _write(folder / "a.ndjson", [head, bad_origin])
    with pytest.raises(UnknownChoiceError, match=r"a\.ndjson:2.*Unknown origin 'humanish'"):
        sqlite_ledger.ingest(path, format="ultralytics-ndjson")
    missing = dict(ok, file="nowhere.png", url="https://example.invalid/x.png")
    path = _write(folder / "b.ndjson", [head, missing])
    with pytest.raises(MissingInputError, match=r"b\.ndjson:2: .*does not download"):
        sqlite_ledger.ingest(path)
    wrong_shape = dict(ok, annotations={"boxes": [[0, 0.5, 0.5]]})
    path = _write(folder / "c.ndjson", [head, wrong_shape])
    with pytest.raises(LabelFormatError, match=r"c\.ndjson:2: expected 5 fields"):
        sqlite_ledger.ingest(path)
    report = sqlite_ledger.ingest(path, skip_bad=True)
    assert report.occurrences == 0 and len(report.skipped) == 1
    path = _write(folder / "d.ndjson", [ok])
    with pytest.raises(TextFormatError, match=r"d\.ndjson:1: the first line must be the dataset record"):
        sqlite_ledger.ingest(path, format="ultralytics-ndjson")
    assert sqlite_ledger.count_samples() == 0


def test_ultralytics_converter_reads_the_export(sqlite_ledger: Ledger, make_yolo_dataset, tmp_path):
    """Ultralytics' own convert_ndjson_to_yolo turns the export back into the YOLO labels and images."""
    pytest.importorskip("ultralytics")
    import asyncio

    from ultralytics.data.converter import convert_ndjson_to_yolo

    data = make_yolo_dataset(n_train=3, n_val=2)
    sqlite_ledger.ingest(data, origin="human", as_version="h")
    target = sqlite_ledger.export("h", "ultralytics-ndjson", tmp_path / "out")
    assert _lines(target)[0]["path"] == "."
    converted = Path(asyncio.run(convert_ndjson_to_yolo(target, output_path=tmp_path / "conv")))
    root = converted.parent

    def rows(folder: Path) -> dict[str, list[list[float]]]:  # label rows per split (the converter renames files)
        out: dict[str, list[list[float]]] = {}
        for p in folder.rglob("*.txt"):
            split = p.relative_to(folder).parts[0]
            out.setdefault(split, []).extend([float(v) for v in line.split()] for line in p.read_text().splitlines())
        return {k: sorted(v) for k, v in out.items()}

    assert rows(root / "labels") == rows(data.parent / "labels")
    def by_image(base: Path) -> dict[tuple[str, bytes], str]:  # (split, image bytes) -> its label file's text
        return {(p.relative_to(base / "images").parts[0], p.read_bytes()):
                (base / "labels" / p.relative_to(base / "images")).with_suffix(".txt").read_text().strip()
                for p in (base / "images").rglob("*.png")}

    assert by_image(root) == by_image(data.parent) and len(by_image(root)) == 5
