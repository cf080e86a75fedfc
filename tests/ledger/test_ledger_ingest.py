"""Ingest: every format, origins from flags and records, idempotency, typed errors with file:line, --skip-bad."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from PIL import Image

from tailguard.errors import (
    BadInputError,
    CorruptFileError,
    EmptyDatasetError,
    LabelFormatError,
    MissingInputError,
    NonFiniteValueError,
    TextFormatError,
    UnknownChoiceError,
    UnsafePathError,
)
from tailguard.ledger import Ledger
from tailguard.ledger.hashing import content_id, file_id


def test_yolo_data_yaml(ledger: Ledger, make_yolo_dataset):
    data = make_yolo_dataset(n_train=3, n_val=2)
    report = ledger.ingest(data, origin="human", verified_by="ann", as_version="v1")
    assert (report.added, report.existing, report.skipped, report.conflicts) == (5, 0, [], [])
    records = list(ledger.iter_samples("v1"))
    assert {r.extra["split"] for r in records} == {"train", "val"}
    rec = next(r for r in records if r.extra["name"] == "train/img1.png")
    assert rec.modality == "detection" and rec.origin == "human" and rec.verified_by == "ann"
    assert rec.id == file_id(data.parent / "images" / "train" / "img1.png")
    assert [(b.class_id, b.origin, b.line()) for b in rec.labels] == [(1, "human", "1 0.5 0.5 0.25 0.25")]
    assert ledger.class_names("v1") == ["cat", "dog"]
    assert ledger.version_summary("v1").by_class == {0: 3, 1: 2}
    again = ledger.ingest(data, origin="human")
    assert (again.added, again.existing) == (0, 5)


def test_yolo_tree_without_yaml_and_pseudo_labels_attach(ledger: Ledger, make_yolo_dataset, tmp_path):
    data = make_yolo_dataset(n_train=2, n_val=0)
    ledger.ingest(data, origin="human", as_version="human")
    # the same images with machine labels (another label folder) attach to the same ids
    pseudo = tmp_path / "pseudo"
    (pseudo / "images").mkdir(parents=True)
    (pseudo / "labels").mkdir()
    for i in range(2):
        os.link(data.parent / "images" / "train" / f"img{i}.png", pseudo / "images" / f"img{i}.png")
        (pseudo / "labels" / f"img{i}.txt").write_text("1 0.4 0.4 0.1 0.1 0.87\n")
    report = ledger.ingest(pseudo, origin="pseudo_label", generator="yolo26n", as_version="pseudo")
    assert report.existing == 2 and report.added == 0
    # same bytes claimed human and pseudo_label: a recorded conflict, the stored origin is kept
    assert {c.kind for c in report.conflicts} == {"claim"}
    rec = next(ledger.iter_samples("pseudo"))
    assert rec.origin == "human"
    assert sorted(b.origin for b in rec.labels) == ["human", "pseudo_label"]
    pseudo_box = next(b for b in rec.labels if b.origin == "pseudo_label")
    assert pseudo_box.confidence == pytest.approx(0.87) and pseudo_box.generator == "yolo26n"
    assert len(ledger.version_summary("pseudo").conflicts) == 2


def test_data_yaml_follows_absolute_paths_and_txt_lists(sqlite_ledger: Ledger, make_yolo_dataset, tmp_path):
    data = make_yolo_dataset(n_train=2, n_val=1)
    listing = tmp_path / "lists" / "train.txt"
    listing.parent.mkdir()
    listing.write_text("\n".join(str(p) for p in sorted((data.parent / "images" / "train").iterdir())) + "\n")
    other = tmp_path / "elsewhere" / "data.yaml"
    other.parent.mkdir()
    other.write_text(f"train: {listing}\nval: {data.parent / 'images' / 'val'}\nnames: {{0: cat, 1: dog}}\n")
    report = sqlite_ledger.ingest(other, origin="human", as_version="v")
    assert report.added == 3 and sqlite_ledger.class_names("v") == ["cat", "dog"]


@pytest.mark.parametrize(
    ("line", "message"),
    [("0 0.5 0.5 0.2", "expected 5 fields"), ("2 0.5 0.5 0.2 0.2", "class id 2 is not in data.yaml"),
     ("0 1.5 0.5 0.2 0.2", "normalised to"), ("x 0.5 0.5 0.2 0.2", "non-numeric"),
     ("0.5 0.5 0.5 0.2 0.2", "non-negative integer")],
)
def test_bad_label_lines_name_file_and_line(sqlite_ledger: Ledger, make_yolo_dataset, line, message):
    data = make_yolo_dataset(n_train=2, n_val=0)
    label = data.parent / "labels" / "train" / "img1.txt"
    label.write_text("0 0.5 0.5 0.2 0.2\n" + line + "\n")
    with pytest.raises(LabelFormatError, match=message) as info:
        sqlite_ledger.ingest(data, origin="human")
    assert str(info.value).startswith(f"{label}:2: ")
    assert sqlite_ledger.count_samples() == 0  # atomic: the good image was not kept either

    report = sqlite_ledger.ingest(data, origin="human", skip_bad=True, as_version="v")
    assert report.added == 1 and len(report.skipped) == 1
    assert report.skipped[0].item.endswith("img1.png") and message in report.skipped[0].reason
    assert sqlite_ledger.skipped(report.ingest_id) == report.skipped  # recorded in the ledger


def test_corrupt_image_and_missing_listed_image(sqlite_ledger: Ledger, make_yolo_dataset):
    data = make_yolo_dataset(n_train=2, n_val=1)
    bad = data.parent / "images" / "train" / "img0.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    with pytest.raises(CorruptFileError, match=f"^{bad}: cannot decode image"):
        sqlite_ledger.ingest(data)
    (data.parent / "images" / "val" / "img0.png").unlink()
    os.symlink(data.parent / "nowhere.png", data.parent / "images" / "val" / "dangling.png")
    report = sqlite_ledger.ingest(data, skip_bad=True)
    reasons = sorted(s.reason for s in report.skipped)
    assert report.added == 1 and len(reasons) == 2
    assert any("cannot decode" in r for r in reasons)
    assert any("dangling.png" in r and "not found" in r for r in reasons)


def test_symlink_loops_are_refused(sqlite_ledger: Ledger, tmp_path):
    folder = tmp_path / "imgs"
    (folder / "sub").mkdir(parents=True)
    Image.new("RGB", (4, 4)).save(folder / "sub" / "a.png")
    os.symlink(folder, folder / "sub" / "loop")
    with pytest.raises(UnsafePathError, match="symlink loop"):
        sqlite_ledger.ingest(folder, origin="human")
    report = sqlite_ledger.ingest(folder, origin="human", skip_bad=True)
    assert report.added == 1 and "symlink loop" in report.skipped[0].reason


def test_jsonl_origins_per_record_and_errors(ledger: Ledger, tmp_path):
    path = tmp_path / "t.jsonl"
    lines = [
        json.dumps({"text": "a human line", "topic": "x"}),
        json.dumps({"text": "a generated line", "origin": "synthetic", "generator": "gpt", "generation": 2}),
        "",
        json.dumps({"text": "pseudo", "origin": "pseudo_label", "parents": [content_id(b"a human line")]}),
    ]
    path.write_text("\n".join(lines) + "\n")
    report = ledger.ingest(path, origin="human", as_version="t")
    assert report.added == 3
    assert sorted((c.claimed, c.other) for c in report.conflicts) == [("pseudo_label", "human"),
                                                                      ("synthetic", "human")]
    recs = {ledger.read_bytes(r).decode(): r for r in ledger.iter_samples("t")}
    assert recs["a human line"].origin == "human" and recs["a human line"].extra == {"topic": "x", "line": 1}
    gen = recs["a generated line"]
    assert (gen.origin, gen.generator, gen.generation, gen.synthetic_depth) == ("synthetic", "gpt", 2, 2)
    assert recs["pseudo"].parents == (content_id(b"a human line"),)

    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b'{"text": "ok"}\n{"text": "\xff\xfe"}\n{not json}\n{"txt": 1}\n{"text": "x", "origin": "ai"}\n')
    with pytest.raises(TextFormatError, match=f"^{bad}:2: not valid UTF-8"):
        ledger.ingest(bad)
    report = ledger.ingest(bad, skip_bad=True)
    assert report.added == 1
    assert [s.item for s in report.skipped] == [f"{bad}:{n}" for n in (2, 3, 4, 5)]
    assert "invalid JSON" in report.skipped[1].reason and "Unknown origin 'ai'" in report.skipped[3].reason


def test_csv_parquet_npy(ledger: Ledger, tmp_path):
    import pandas as pd

    csv = tmp_path / "t.csv"
    csv.write_text("a,b,origin\n1,x,human\n2,y,synthetic\n1,x,human\n3\n")
    with pytest.raises(BadInputError, match=f"^{csv}:5: expected 3 fields"):
        ledger.ingest(csv)
    report = ledger.ingest(csv, skip_bad=True, as_version="csv")
    assert (report.added, report.existing, len(report.skipped)) == (2, 1, 1)
    by_origin = {r.origin: json.loads(ledger.read_bytes(r)) for r in ledger.iter_samples("csv")}
    assert by_origin == {"human": {"a": 1, "b": "x"}, "synthetic": {"a": 2, "b": "y"}}  # typed: numbers

    pq = tmp_path / "t.parquet"
    pd.DataFrame({"u": [1.5, 2.5], "generation": [1, 3]}).to_parquet(pq)
    report = ledger.ingest(pq, origin="synthetic", as_version="pq")
    assert report.added == 2
    assert sorted(r.generation for r in ledger.iter_samples("pq")) == [1, 3]

    vecs = np.arange(12, dtype=np.float32).reshape(4, 3)
    vecs[2, 1] = np.nan
    npy = tmp_path / "e.npy"
    np.save(npy, vecs)
    with pytest.raises(NonFiniteValueError, match=f"^{npy}:3: "):
        ledger.ingest(npy)
    report = ledger.ingest(npy, origin="synthetic", generator="emb", skip_bad=True, as_version="npy")
    assert report.added == 3
    got = sorted(np.frombuffer(ledger.read_bytes(r), r.extra["dtype"]).tolist() for r in ledger.iter_samples("npy"))
    assert got == [vecs[0].tolist(), vecs[1].tolist(), vecs[3].tolist()]


def test_missing_empty_and_unknown_inputs(sqlite_ledger: Ledger, tmp_path):
    with pytest.raises(MissingInputError, match="no such file"):
        sqlite_ledger.ingest(tmp_path / "nope.jsonl")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    with pytest.raises(EmptyDatasetError, match=str(empty)):
        sqlite_ledger.ingest(empty)
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(UnknownChoiceError, match="file suffix"):
        sqlite_ledger.ingest(tmp_path / "x.txt")
    with pytest.raises(UnknownChoiceError, match="Did you mean 'jsonl'"):
        sqlite_ledger.ingest(empty, format="jsnl")
    with pytest.raises(UnknownChoiceError, match="origin"):
        sqlite_ledger.ingest(empty, origin="people")
    yaml_bad = tmp_path / "data.yaml"
    yaml_bad.write_text("train: images/train\n")
    with pytest.raises(BadInputError, match="names"):
        sqlite_ledger.ingest(yaml_bad)
    yaml_bad.write_text("train: nowhere\nnames: [a]\n")
    with pytest.raises(MissingInputError, match="nowhere"):
        sqlite_ledger.ingest(yaml_bad)
    assert sqlite_ledger.count_samples() == 0 and sqlite_ledger.list_versions() == []


def test_class_name_mismatch_is_detected(sqlite_ledger: Ledger, make_yolo_dataset):
    data = make_yolo_dataset(n_train=2, n_val=0)
    sqlite_ledger.ingest(data, origin="human", as_version="a")
    data.write_text(data.read_text().replace("[cat, dog]", "['dog', 'cat']").replace("['cat', 'dog']",
                                                                                      "['dog', 'cat']"))
    report = sqlite_ledger.ingest(data, origin="human")
    assert {c.kind for c in report.conflicts} == {"class_names"}


def test_corrected_label_files_replace_boxes_but_old_versions_keep_theirs(ledger: Ledger, make_yolo_dataset):
    data = make_yolo_dataset(n_train=1, n_val=0)
    label = data.parent / "labels" / "train" / "img0.txt"
    ledger.ingest(data, origin="human", as_version="v1")
    label.write_text("1 0.4 0.4 0.3 0.3\n0 0.2 0.2 0.1 0.1\n")  # a corrected label file
    ledger.ingest(data, origin="human", as_version="v2")
    label.write_text("0 0.5 0.5 0.25 0.25\n")  # back to the original box
    ledger.ingest(data, origin="human", as_version="v3")
    again = ledger.ingest(data, origin="human", as_version="v4")  # unchanged: idempotent
    assert again.added == 0

    def lines(version: str | None) -> list[str]:
        (rec,) = list(ledger.iter_samples(version))
        return sorted(b.line() for b in rec.labels)

    assert lines("v1") == lines("v3") == lines("v4") == lines(None) == ["0 0.5 0.5 0.25 0.25"]
    assert lines("v2") == ["0 0.2 0.2 0.1 0.1", "1 0.4 0.4 0.3 0.3"]
    assert ledger.version_summary("v2").by_class == {0: 1, 1: 1}
    assert ledger.version_summary("v4").by_class == {0: 1}
