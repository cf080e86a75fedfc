"""Every Ultralytics task through the ledger: ingest (task from data.yaml, --task or the lines),
label rows with their provenance, exports that write the same format back, bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tailguard.cli.app import main
from tailguard.data import make_classification_dataset, make_shapes_dataset
from tailguard.errors import BadInputError, CorruptFileError, LabelFormatError
from tailguard.ledger import Ledger
from tailguard.ledger.types import Box, NewSample


def _labels(root: Path) -> dict[str, list[list[float]]]:
    return {p.name: sorted([float(v) for v in line.split()] for line in p.read_text().splitlines())
            for p in sorted((root / "labels").rglob("*.txt"))}


def _close(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(
        len(la) == len(lb) and all(len(x) == len(y) and all(abs(u - v) < 2e-6 for u, v in zip(x, y, strict=True))
                                   for x, y in zip(la, lb, strict=True))
        for la, lb in zip(a.values(), b.values(), strict=True))


@pytest.mark.parametrize("task", ["segment", "obb", "pose"])
def test_a_task_dataset_ingests_and_exports_the_same_labels(ledger, tmp_path, task):
    data = make_shapes_dataset(tmp_path / task, task, n_images=8, seed=3)
    report = ledger.ingest(data, origin="human", verified_by="tests", as_version=task)
    assert report.added == 8 and not report.skipped
    records = list(ledger.iter_samples(task))
    rows = [b for r in records for b in r.labels]
    assert rows and {b.task for b in rows} == {task} and {b.origin for b in rows} == {"human"}
    assert ledger.class_names(task)[:2] == ["circle", "triangle"]
    assert ledger.verify(task).passed  # the digest covers the rows' geometry
    out = ledger.export(task, "yolo", tmp_path / f"out-{task}")
    written = yaml.safe_load(out.read_text())
    assert written["task"] == task
    if task == "pose":
        assert written["kpt_shape"] == [3, 3] and written["kpt_names"][0] == ["tip", "left", "right"]
    renamed = {p.name: v for p, v in zip(sorted((tmp_path / task / "labels").rglob("*.txt")),
                                         _labels(tmp_path / task).values(), strict=True)}
    assert _close(_labels(out.parent), renamed)  # rows in any order within a file
    again = Ledger.open(f"sqlite:///{tmp_path / 'again.db'}")  # the export ingests as the same rows
    again.ingest(out, origin="human", as_version="back")
    assert sorted(b.line() for r in again.iter_samples("back") for b in r.labels) == sorted(b.line() for b in rows)
    again.close()


def test_an_edited_polygon_fails_verify(sqlite_url, tmp_path):
    import sqlite3

    data = make_shapes_dataset(tmp_path / "seg", "segment", n_images=3, seed=4)
    with Ledger.open(sqlite_url) as ledger:
        ledger.ingest(data, origin="human", as_version="seg")
    con = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"))
    with con:
        con.execute("UPDATE labels SET shape = replace(shape, 'segment 2 0.', 'segment 2 0.0') "
                    "WHERE id = (SELECT MIN(id) FROM labels)")
    con.close()
    with Ledger.open(sqlite_url) as ledger:
        assert not ledger.verify("seg").passed


def test_a_classification_tree_ingests_and_exports_as_folders(ledger, tmp_path):
    root = make_classification_dataset(tmp_path / "digits", n_images=40, seed=1)
    report = ledger.ingest(root, origin="human", as_version="cls")  # auto: the train/<class>/ layout
    assert report.added == 40
    rows = [b for r in ledger.iter_samples("cls") for b in r.labels]
    assert len(rows) == 40 and {b.task for b in rows} == {"classify"}
    names = ledger.class_names("cls")
    assert names == sorted(names) and "zero" in names  # Ultralytics' order: sorted folder names
    out = ledger.export("cls", "yolo", tmp_path / "out")
    assert out == (tmp_path / "out").resolve() or out == tmp_path / "out"
    before = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.png"))
    after = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png"))
    assert before == after  # every image back in its split and class folder


def test_a_classification_data_yaml_names_the_classes(sqlite_url, tmp_path):
    root = make_classification_dataset(tmp_path / "digits", n_images=40, seed=2)
    (tmp_path / "data.yaml").write_text(yaml.safe_dump(
        {"path": str(root), "train": "train", "val": "val", "task": "classify",
         "names": {i: n for i, n in enumerate(["zero", "one", "two", "three", "four", "five", "six", "seven",
                                               "eight", "nine"])}}))
    with Ledger.open(sqlite_url) as ledger:
        ledger.ingest(tmp_path / "data.yaml", origin="human", as_version="cls")
        assert ledger.class_names("cls")[:3] == ["zero", "one", "two"]
        ids = {r.extra["name"].split("/")[1]: r.labels[0].class_id for r in ledger.iter_samples("cls")}
        assert ids["three"] == 3 and ids["nine"] == 9
    (root / "train" / "ten").mkdir()
    (root / "train" / "ten" / "x.png").write_bytes((root / "val" / "one").glob("*.png").__next__().read_bytes())
    with Ledger.open(sqlite_url) as ledger, pytest.raises(BadInputError, match=r"x.png: class folder 'ten'"):
        ledger.ingest(tmp_path / "data.yaml", origin="human")


def _seg_tree(tmp_path: Path, lines: str) -> Path:
    data = make_shapes_dataset(tmp_path / "ds", "segment", n_images=2, seed=5, split=(1.0,))
    label = sorted((data.parent / "labels" / "train").glob("*.txt"))[0]
    label.write_text(lines)
    return data


def test_the_task_is_read_from_the_lines_when_nothing_names_it(sqlite_url, tmp_path):
    data = _seg_tree(tmp_path, "0 0.1 0.1 0.5 0.1 0.3 0.5\n")
    body = yaml.safe_load(data.read_text())
    del body["task"]
    data.write_text(yaml.safe_dump(body))
    with Ledger.open(sqlite_url) as ledger:
        ledger.ingest(data, origin="human", as_version="v")
        assert {b.task for r in ledger.iter_samples("v") for b in r.labels} == {"segment"}
    (data.parent / "labels" / "train" / "train_000000.txt").write_text("0 0.1 0.2 0.3 0.2 0.3 0.4 0.1 0.3\n")
    (data.parent / "labels" / "train" / "train_000001.txt").write_text("")
    with Ledger.open(sqlite_url) as ledger, pytest.raises(LabelFormatError,
                                                          match=r"train_000000.txt:1: 9 fields fit an oriented box"):
        ledger.ingest(data, origin="human")
    # a line too short for any task is said to be so, not called ambiguous
    (data.parent / "labels" / "train" / "train_000000.txt").write_text("0 0.5 0.6 0.3\n")
    with Ledger.open(sqlite_url) as ledger, pytest.raises(
            LabelFormatError, match=r"train_000000.txt:1: 4 fields; a label line needs at least 5"):
        ledger.ingest(data, origin="human")
    (data.parent / "labels" / "train" / "train_000000.txt").write_text("0 0.1 0.2 0.3 0.2 0.3 0.4 0.1 0.3\n")
    with Ledger.open(sqlite_url) as ledger:  # --task settles it
        ledger.ingest(data, origin="human", task="obb", as_version="obb")
        rows = [b for r in ledger.iter_samples("obb") for b in r.labels]
        assert [b.line() for b in rows if b.task == "obb"] == ["0 0.1 0.2 0.3 0.2 0.3 0.4 0.1 0.3"]
        assert {b.task for b in rows} == {"obb", "segment"}  # the earlier ingest's polygons stay, another task


def test_the_issues_segmentation_dataset_is_no_longer_refused(sqlite_url, tmp_path, capsys):
    data = _seg_tree(tmp_path, "0 0.1 0.1 0.5 0.1 0.3 0.5 0.2 0.4\n")  # 9 fields, as in the issue
    assert main(["--ledger", sqlite_url, "ingest", str(data), "--origin", "human", "--as-version", "seg"]) == 0
    assert main(["--ledger", sqlite_url, "ingest", str(data), "--origin", "human", "--task", "detect"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "data.yaml says task 'segment' but --task says 'detect'" in err[0]


def test_bad_lines_name_file_line_and_task_and_skip_bad_continues(sqlite_url, tmp_path, capsys):
    data = _seg_tree(tmp_path, "0 0.1 0.1 0.5 0.1 0.3 0.5\n1 0.2 0.3\n")
    assert main(["--ledger", sqlite_url, "ingest", str(data), "--origin", "human"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "train_000000.txt:2: expected 7 or more fields, got 3 (segment labels are" in err[0]
    corrupt = data.parent / "images" / "train" / "train_000001.png"
    corrupt.write_bytes(corrupt.read_bytes()[:60])
    assert main(["--ledger", sqlite_url, "ingest", str(data), "--origin", "human", "--skip-bad",
                 "--as-version", "partial"]) == 0
    out = capsys.readouterr().out
    assert "2 skipped" in out and out.count("skipped ") == 2 and "train_000001.png" in out
    (data.parent / "labels" / "train" / "train_000000.txt").write_text("0 0.1 0.1 0.5 0.1 0.3 0.5\n")
    with Ledger.open(sqlite_url) as ledger, pytest.raises(CorruptFileError, match=r"train_000001\.png"):
        ledger.ingest(data, origin="human", task="segment")


def test_pose_needs_kpt_shape(sqlite_url, tmp_path):
    data = make_shapes_dataset(tmp_path / "pose", "pose", n_images=2, seed=6)
    body = yaml.safe_load(data.read_text())
    del body["kpt_shape"]
    data.write_text(yaml.safe_dump(body))
    with Ledger.open(sqlite_url) as ledger, pytest.raises(BadInputError, match="task pose needs 'kpt_shape'"):
        ledger.ingest(data, origin="human")
    body["kpt_shape"] = [4, 3]
    data.write_text(yaml.safe_dump(body))
    with Ledger.open(sqlite_url) as ledger, pytest.raises(BadInputError, match="'kpt_names' must list 4"):
        ledger.ingest(data, origin="human")
    del body["kpt_names"]
    data.write_text(yaml.safe_dump(body))
    with Ledger.open(sqlite_url) as ledger, pytest.raises(LabelFormatError,
                                                          match=r"expected 17 fields for kpt_shape \[4, 3\]"):
        ledger.ingest(data, origin="human")


def test_rows_of_another_task_or_origin_stay_beside_each_other(sqlite_url, tmp_path):
    """A segmentation ingest keeps the image's detection boxes; pseudo rows never replace human ones."""
    import shutil

    from tailguard.tasks.base import bounds

    seg = make_shapes_dataset(tmp_path / "seg", "segment", n_images=2, seed=7, split=(1.0,))
    shutil.copytree(seg.parent, tmp_path / "det")  # the same images, their polygons' boxes as detection labels
    det = tmp_path / "det" / "data.yaml"
    det.write_text(seg.read_text().replace("task: segment", "task: detect").replace(str(seg.parent), str(det.parent)))
    for label in (det.parent / "labels").rglob("*.txt"):
        rows = [line.split() for line in label.read_text().splitlines()]
        label.write_text("".join(f"{r[0]} " + " ".join(f"{v:.6f}" for v in bounds([float(x) for x in r[1:]])) + "\n"
                                 for r in rows))
    with Ledger.open(sqlite_url) as ledger:
        ledger.ingest(det, origin="human", as_version="det")
        ledger.ingest(seg, origin="human", as_version="both")
        records = list(ledger.iter_samples("both"))
        tasks = sorted({b.task for r in records for b in r.labels})
        assert tasks == ["detect", "segment"]
        with pytest.raises(BadInputError, match=r"several tasks \(\d+ detect, \d+ segment\); pass --task"):
            ledger.export("both", "yolo", tmp_path / "x", val_fraction=0.5)
        out = ledger.export("both", "yolo", tmp_path / "s", task="segment", val_fraction=0.5)
        assert yaml.safe_load(out.read_text())["task"] == "segment"
        assert all(len(line.split()) >= 7 for p in (tmp_path / "s" / "labels").rglob("*.txt")
                   for line in p.read_text().splitlines())
        image = records[0]
        human = [b for b in image.labels if b.task == "segment"]
        pseudo = Box(human[0].class_id, 0.5, 0.5, 0.2, 0.2, "pseudo_label", 0.4, "m@1", "segment",
                     (0.4, 0.4, 0.6, 0.4, 0.5, 0.6), 2)
        ledger.add_samples([NewSample(None, image.uri, "detection", image.origin, labels=(pseudo,))],
                           as_version="with-pseudo")
        after = next(r for r in ledger.iter_samples("with-pseudo") if r.id == image.id)
        assert sorted(b.line() for b in after.labels if b.origin == "human" and b.task == "segment") == \
            sorted(b.line() for b in human)
        assert [b.confidence for b in after.labels if b.origin == "pseudo_label"] == [0.4]
