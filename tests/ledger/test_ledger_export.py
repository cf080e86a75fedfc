"""Export: YOLO (loaded back by Ultralytics' own loader), JSONL, Parquet; label origins; path safety."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tailguard.errors import MissingInputError, UnknownChoiceError, UnsafePathError
from tailguard.ledger import Box, Ledger, NewSample


def _with_pseudo_labels(ledger: Ledger, data: Path) -> None:
    """Ingest a tiny YOLO set as human, then add pseudo-label boxes to two of its images."""
    ledger.ingest(data, origin="human", as_version="human")
    recs = sorted(ledger.iter_samples("human"), key=lambda r: r.extra["name"])
    pseudo = []
    for rec in recs[:2]:
        box = Box(1, 0.3, 0.3, 0.1, 0.1, "pseudo_label", confidence=0.8, generator="yolo26n")
        pseudo.append(NewSample(content=None, uri=rec.uri, modality="detection", origin=rec.origin,
                                labels=(box,)))
    ledger.add_samples(pseudo)
    ledger.create_version("both", ["version:human"])


def _labels(out: Path) -> dict[str, list[str]]:
    return {p.relative_to(out / "labels").as_posix(): p.read_text().splitlines()
            for p in sorted((out / "labels").rglob("*.txt"))}


def test_yolo_export_layout_and_origins(ledger: Ledger, make_yolo_dataset, tmp_path):
    data = make_yolo_dataset(n_train=3, n_val=2)
    _with_pseudo_labels(ledger, data)
    out = tmp_path / "human_only"
    data_yaml = ledger.export("both", "yolo", out)
    cfg = yaml.safe_load(data_yaml.read_text())
    assert cfg["names"] == {0: "cat", 1: "dog"} and cfg["train"] == "train.txt" and cfg["val"] == "val.txt"
    train = (out / "train.txt").read_text().split()
    assert len(train) == 3 and all((out / p).is_file() for p in train)
    original = {p.relative_to(data.parent / "labels").as_posix(): p.read_text().splitlines()
                for p in (data.parent / "labels").rglob("*.txt")}
    assert _labels(out) == original  # human labels only: the originals, byte for byte

    pseudo_out = tmp_path / "pseudo_only"
    ledger.export("both", "yolo", pseudo_out, origins=("pseudo_label",))
    assert sum(len(v) for v in _labels(pseudo_out).values()) == 2
    assert all(line.startswith("1 0.3 0.3 0.1 0.1") for v in _labels(pseudo_out).values() for line in v)

    merged = tmp_path / "merged"
    ledger.export("both", "yolo", merged, origins=("human", "pseudo_label"), both="merge")
    assert sum(len(v) for v in _labels(merged).values()) == 5 + 2
    preferred = tmp_path / "preferred"
    ledger.export("both", "yolo", preferred, origins=("human", "pseudo_label"), both="prefer-human")
    assert _labels(preferred) == original
    skipped = tmp_path / "skipped"
    ledger.export("both", "yolo", skipped, origins=("human", "pseudo_label"), both="skip")
    manifest = json.loads((skipped / "tailguard_export.json").read_text())
    assert len(manifest["skipped_conflicting"]) == 2 and manifest["n_images"] == 3

    with pytest.raises(UnknownChoiceError, match="'both' mode"):
        ledger.export("both", "yolo", tmp_path / "x", both="prefer")
    with pytest.raises(UnknownChoiceError, match="export format"):
        ledger.export("both", "coco", tmp_path / "x")


@pytest.mark.parametrize("name", ["../../escaped.png", "/abs.png", "train/../../../x.png"])
def test_export_refuses_names_that_leave_out(sqlite_ledger: Ledger, tmp_path, name):
    img = tmp_path / "src.png"
    img.write_bytes(b"not really a png but bytes are bytes")
    sqlite_ledger.add_samples(
        [NewSample(content=None, uri=str(img), modality="image", origin="human", extra={"name": name})],
        as_version="evil",
    )
    out = tmp_path / "deep" / "out"
    with pytest.raises(UnsafePathError, match="refusing a path"):
        sqlite_ledger.export("evil", "yolo", out)
    written = {p for p in tmp_path.rglob("*") if p.is_file()} - {img}
    assert not any(p.name in ("escaped.png", "abs.png", "x.png") for p in written)
    assert not (out / "images").exists()  # refused before anything was written


def test_export_of_missing_file_is_a_typed_error(sqlite_ledger: Ledger, make_yolo_dataset, tmp_path):
    data = make_yolo_dataset(n_train=1, n_val=0)
    sqlite_ledger.ingest(data, origin="human", as_version="v")
    (data.parent / "images" / "train" / "img0.png").unlink()
    with pytest.raises(MissingInputError, match=r"img0\.png"):
        sqlite_ledger.export("v", "yolo", tmp_path / "out")


def test_jsonl_and_parquet_round_trip(ledger: Ledger, make_yolo_dataset, tmp_path):
    import pyarrow.parquet as pq

    data = make_yolo_dataset(n_train=2, n_val=0)
    ledger.ingest(data, origin="human")
    texts = tmp_path / "t.jsonl"
    texts.write_text('{"text": "hello"}\n{"text": "world", "origin": "synthetic", "generation": 1}\n')
    ledger.ingest(texts, origin="human")
    ledger.create_version("all", ["origin:human", "origin:synthetic"])
    rows = [json.loads(line) for line in ledger.export("all", "jsonl", tmp_path / "j").read_text().splitlines()]
    table = pq.read_table(ledger.export("all", "parquet", tmp_path / "p")).to_pylist()
    assert [r["id"] for r in rows] == [r["id"] for r in table] == ledger.version_sample_ids("all")
    by_text = {r["text"]: r for r in rows if r["text"]}
    assert by_text["world"]["origin"] == "synthetic" and by_text["world"]["synthetic_depth"] == 1
    det = [r for r in table if r["modality"] == "detection"]
    assert len(det) == 2 and all(len(r["labels"]) == 1 and r["labels"][0]["origin"] == "human" for r in det)
    assert {r["text"] for r in table if r["text"]} == {"hello", "world"}


@pytest.mark.yolo
def test_ultralytics_loads_the_export(sqlite_ledger: Ledger, make_yolo_dataset, tmp_path):
    pytest.importorskip("ultralytics")
    from ultralytics.data.dataset import YOLODataset
    from ultralytics.data.utils import check_det_dataset

    data = make_yolo_dataset(n_train=3, n_val=2)
    _with_pseudo_labels(sqlite_ledger, data)
    out = sqlite_ledger.export("both", "yolo", tmp_path / "out", origins=("pseudo_label",))
    cfg = check_det_dataset(str(out))
    assert cfg["nc"] == 2 and cfg["names"] == {0: "cat", 1: "dog"}
    ds = YOLODataset(img_path=cfg["train"], data=cfg, task="detect", imgsz=32, augment=False)
    classes = sorted(float(c) for label in ds.labels for c in label["cls"].ravel())
    assert len(ds.labels) == 3 and classes == [1.0, 1.0]  # only the two pseudo-label boxes
