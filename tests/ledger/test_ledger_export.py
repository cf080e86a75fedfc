"""Export: YOLO (loaded back by Ultralytics' own loader), JSONL, Parquet; label origins; path safety."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
import yaml

from tailguard.errors import MissingInputError, UnknownChoiceError, UnsafePathError
from tailguard.ledger import Box, Ledger, NewSample
from tailguard.ledger.export import ExportWarning


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


def test_version_summary_says_which_label_origins_its_class_counts_sum(ledger: Ledger, make_yolo_dataset):
    _with_pseudo_labels(ledger, make_yolo_dataset(n_train=3, n_val=2))
    summary = ledger.version_summary("both")
    assert summary.boxes_by_origin == {"human": 5, "pseudo_label": 2}
    assert sum(summary.by_class.values()) == 7  # both origins' boxes, as boxes_by_origin says
    assert ledger.version_summary("human").boxes_by_origin == {"human": 5}  # the pseudo boxes came later


def test_yolo_export_layout_and_origins(ledger: Ledger, make_yolo_dataset, tmp_path):
    data = make_yolo_dataset(n_train=3, n_val=2)
    _with_pseudo_labels(ledger, data)
    out = tmp_path / "human_only"
    with pytest.warns(ExportWarning, match="2 pseudo_label box"):  # said, not silent
        data_yaml = ledger.export("both", "yolo", out)
    cfg = yaml.safe_load(data_yaml.read_text())
    assert cfg["names"] == {0: "cat", 1: "dog"} and cfg["train"] == "train.txt" and cfg["val"] == "val.txt"
    train = (out / "train.txt").read_text().split()
    assert len(train) == 3 and all((out / p).is_file() for p in train)
    original = {p.relative_to(data.parent / "labels").as_posix(): p.read_text().splitlines()
                for p in (data.parent / "labels").rglob("*.txt")}
    assert _labels(out) == original  # human labels only: the originals, byte for byte

    pseudo_out = tmp_path / "pseudo_only"
    with pytest.warns(ExportWarning, match="3 exported image"):  # the three images without pseudo boxes
        ledger.export("both", "yolo", pseudo_out, origins=("pseudo_label",))
    assert sum(len(v) for v in _labels(pseudo_out).values()) == 2
    assert all(line.startswith("1 0.3 0.3 0.1 0.1") for v in _labels(pseudo_out).values() for line in v)

    merged = tmp_path / "merged"
    ledger.export("both", "yolo", merged, origins=("human", "pseudo_label"), both="merge")
    assert sum(len(v) for v in _labels(merged).values()) == 5 + 2
    preferred = tmp_path / "preferred"
    with pytest.warns(ExportWarning, match="--both merge writes"):
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
    with pytest.warns(ExportWarning):
        out = sqlite_ledger.export("both", "yolo", tmp_path / "out", origins=("pseudo_label",))
    cfg = check_det_dataset(str(out))
    assert cfg["nc"] == 2 and cfg["names"] == {0: "cat", 1: "dog"}
    ds = YOLODataset(img_path=cfg["train"], data=cfg, task="detect", imgsz=32, augment=False)
    classes = sorted(float(c) for label in ds.labels for c in label["cls"].ravel())
    assert len(ds.labels) == 3 and classes == [1.0, 1.0]  # only the two pseudo-label boxes


# ----------------------------------------------------------------------------- ledger 0.2 export
def _cli(capsys, url: str, *args: str) -> tuple[int, str, str]:
    from tailguard.cli.app import main

    code = main(["--ledger", url, *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _add_image(ledger: Ledger, path: Path, value: int, labels: tuple[Box, ...], name: str) -> str:
    """A new detection image (flat colour ``value``) stored programmatically, as a pseudo-labeller does."""
    import numpy as np
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((32, 32, 3), value, dtype=np.uint8)).save(path)
    origin = labels[0].origin if labels else "pseudo_label"
    report = ledger.add_samples([NewSample(content=None, uri=str(path), modality="detection", origin=origin,
                                           generator="yolo26n", generation=1, extra={"name": path.name},
                                           labels=labels)])
    return report.sample_ids[0]


def _pseudo_mix(ledger: Ledger, data: Path, tmp_path: Path) -> str:
    """Version 'mix': the human set (two images also pseudo-labelled) + one image with pseudo boxes only."""
    _with_pseudo_labels(ledger, data)
    box = Box(0, 0.6, 0.6, 0.2, 0.2, "pseudo_label", confidence=0.9, generator="yolo26n")
    sid = _add_image(ledger, tmp_path / "fresh" / "new.png", 7, (box,), "new.png")
    ledger.create_version("mix", sample_ids=[*ledger.version_sample_ids("human"), sid])
    return sid


def test_default_labels_are_human_plus_pseudo_where_no_human(ledger: Ledger, make_yolo_dataset, tmp_path):
    from tailguard.ledger.export import export_version

    data = make_yolo_dataset(n_train=3, n_val=2)
    _pseudo_mix(ledger, data, tmp_path)
    original = {p.relative_to(data.parent / "labels").as_posix(): p.read_text().splitlines()
                for p in (data.parent / "labels").rglob("*.txt")}
    out = tmp_path / "default"
    with pytest.warns(ExportWarning, match="2 pseudo_label box.*not written: their 2 image"):
        export_version(ledger, "mix", "yolo", out)
    labels = _labels(out)
    assert labels.pop("train/new.txt") == ["0 0.6 0.6 0.2 0.2"]  # pseudo-only image: its pseudo boxes
    assert labels == original  # images with human boxes: only the human ones (two also had pseudo boxes)
    manifest = json.loads((out / "tailguard_export.json").read_text())
    assert manifest["origins"] == ["human", "pseudo_label"] and manifest["both"] == "prefer-human"
    n_human = sum(len(lines) for lines in original.values())
    assert manifest["boxes_written"] == {"human": n_human, "pseudo_label": 1}
    assert manifest["boxes_left_out"] == {"pseudo_label": 2} and manifest["images_with_boxes_left_out"] == 2
    merged = tmp_path / "merged"
    with warnings.catch_warnings():
        warnings.simplefilter("error", ExportWarning)  # nothing left out: no warning
        export_version(ledger, "mix", "yolo", merged, both="merge")
    manifest = json.loads((merged / "tailguard_export.json").read_text())
    assert manifest["boxes_written"] == {"human": n_human, "pseudo_label": 3} and manifest["boxes_left_out"] == {}


def test_cli_export_default_labels_match_the_library(capsys, sqlite_url, make_yolo_dataset, tmp_path):
    with Ledger.open(sqlite_url) as opened:
        _pseudo_mix(opened, make_yolo_dataset(n_train=3, n_val=2), tmp_path)
    code, out, err = _cli(capsys, sqlite_url, "export", "mix", "--format", "yolo", "--out", str(tmp_path / "cli"))
    assert code == 0 and "exported 'mix' as yolo" in out
    assert err.startswith("warning: 2 pseudo_label box(es)") and err.count("\n") == 1  # one line, no traceback
    assert _labels(tmp_path / "cli")["train/new.txt"] == ["0 0.6 0.6 0.2 0.2"]
    code, _, _ = _cli(capsys, sqlite_url, "export", "mix", "--format", "yolo", "--out", str(tmp_path / "h"),
                      "--origins", "human")
    assert code == 0 and "train/new.txt" not in _labels(tmp_path / "h")


def test_images_without_boxes_are_named_in_a_warning(sqlite_ledger: Ledger, sqlite_url, capsys, make_yolo_dataset,
                                                     tmp_path):
    from tailguard.ledger.export import WARN_NAMES, ExportWarning, export_version

    data = make_yolo_dataset(n_train=3, n_val=2)
    sqlite_ledger.ingest(data, origin="human", as_version="human")
    ids = [_add_image(sqlite_ledger, tmp_path / "bg" / f"bg{i}.png", 10 + i, (), f"bg{i}.png") for i in range(7)]
    sqlite_ledger.create_version("bg", sample_ids=[*sqlite_ledger.version_sample_ids("human"), *ids])
    out = tmp_path / "out"
    with pytest.warns(ExportWarning) as caught:
        export_version(sqlite_ledger, "bg", "yolo", out)
    (message,) = [str(w.message) for w in caught]
    assert message.startswith("7 exported image(s) have no label file") and "\n" not in message
    assert message.endswith(f"and {7 - WARN_NAMES} more") and "train/bg0.png" in message
    assert not list((out / "labels").rglob("bg*.txt"))  # no label file: Ultralytics reads them as background
    assert (out / "images" / "train" / "bg6.png").is_file()
    assert len(json.loads((out / "tailguard_export.json").read_text())["unlabelled_images"]) == 7

    code, _, err = _cli(capsys, sqlite_url, "export", "bg", "--out", str(tmp_path / "cli"))
    assert code == 0 and err.startswith("warning: 7 exported image(s) have no label file") and err.count("\n") == 1


def test_missing_val_split_needs_an_explicit_choice(sqlite_ledger: Ledger, sqlite_url, capsys, make_yolo_dataset,
                                                    tmp_path):
    from tailguard.errors import MissingSplitError
    from tailguard.ledger.export import export_version

    sqlite_ledger.ingest(make_yolo_dataset("train-only", n_train=6, n_val=0), origin="human", as_version="t")
    out = tmp_path / "out"
    with pytest.raises(MissingSplitError) as err:
        export_version(sqlite_ledger, "t", "yolo", out)
    message = str(err.value)
    assert "version 't' has no val split (images stored as: 6 train)" in message and "\n" not in message
    assert "--val-fraction F" in message and "--val-from VERSION" in message
    assert not (out / "data.yaml").exists() and not (out / "images").exists()  # refused before writing

    code, _, stderr = _cli(capsys, sqlite_url, "export", "t", "--out", str(out))
    assert code == 2 and stderr.startswith("error: version 't' has no val split") and stderr.count("\n") == 1

    first = export_version(sqlite_ledger, "t", "yolo", tmp_path / "a", val_fraction=0.5)
    again = export_version(sqlite_ledger, "t", "yolo", tmp_path / "b", val_fraction=0.5)
    cfg = yaml.safe_load(first.read_text())
    assert cfg["train"] == "train.txt" and cfg["val"] == "val.txt"
    train, val = ((tmp_path / "a" / f"{s}.txt").read_text().split() for s in ("train", "val"))
    assert train and val and not set(train) & set(val) and len(train) + len(val) == 6
    assert all(p.startswith("./images/val/") for p in val)
    assert (tmp_path / "b" / "val.txt").read_text() == (tmp_path / "a" / "val.txt").read_text()  # deterministic
    assert json.loads((again.parent / "tailguard_export.json").read_text())["val_fraction"] == 0.5

    code, _, _ = _cli(capsys, sqlite_url, "export", "t", "--out", str(tmp_path / "c"), "--val-fraction", "0.5")
    assert code == 0 and (tmp_path / "c" / "val.txt").read_text() == (tmp_path / "a" / "val.txt").read_text()

    from tailguard.errors import ParameterError

    for bad in (0.0, 1.0, 1.5):
        with pytest.raises(ParameterError, match="'val_fraction' parameter of export_version must be a float in"):
            export_version(sqlite_ledger, "t", "yolo", tmp_path / "x", val_fraction=bad)
    with pytest.raises(ParameterError, match="not both"):
        export_version(sqlite_ledger, "t", "yolo", tmp_path / "x", val_fraction=0.2, val_from="t")
    with pytest.raises(ParameterError, match="applies to format 'yolo' only"):
        export_version(sqlite_ledger, "t", "jsonl", tmp_path / "x", val_fraction=0.2)


def test_val_from_takes_val_images_from_another_version(sqlite_ledger: Ledger, make_yolo_dataset, tmp_path):
    from tailguard.ledger.export import export_version

    sqlite_ledger.ingest(make_yolo_dataset("ref", n_train=2, n_val=2, seed=1), origin="human", as_version="ref")
    sqlite_ledger.ingest(make_yolo_dataset("t", n_train=3, n_val=0), origin="human", as_version="t")
    shared = sqlite_ledger.version_sample_ids("ref")[0]
    sqlite_ledger.create_version("t+1", sample_ids=[*sqlite_ledger.version_sample_ids("t"), shared])
    data_yaml = export_version(sqlite_ledger, "t+1", "yolo", tmp_path / "out", val_from="ref")
    root = data_yaml.parent
    train, val = ((root / f"{s}.txt").read_text().split() for s in ("train", "val"))
    assert len(train) == 4 and len(val) == 3  # ref's image that is also in t+1 stays in train only
    assert all((root / p).is_file() for p in train + val)
    assert all((root / p.replace("/images/", "/labels/", 1)).with_suffix(".txt").is_file() for p in val)
    assert yaml.safe_load(data_yaml.read_text())["val"] == "val.txt"
    from tailguard.errors import BadInputError, EmptyDatasetError

    with pytest.raises(EmptyDatasetError, match="'ref' \\(--val-from\\) has no images outside version 'ref'"):
        export_version(sqlite_ledger, "ref", "yolo", tmp_path / "self", val_from="ref")
    sqlite_ledger.ingest(make_yolo_dataset("ants", n_val=0, names=("ant", "bee"), seed=2), origin="human",
                         as_version="ants")
    with pytest.raises(BadInputError, match="'ants' \\(--val-from\\) has other class names than version "
                                            "'t\\+1' \\(0: 'cat' vs 'ant'\\)"):
        export_version(sqlite_ledger, "t+1", "yolo", tmp_path / "ants", val_from="ants")


def test_export_copies_images_and_link_shares_the_inode(sqlite_ledger: Ledger, sqlite_url, capsys,
                                                        make_yolo_dataset, tmp_path):
    import os

    from tailguard.ledger.export import export_version

    data = make_yolo_dataset(n_train=2, n_val=1)
    sqlite_ledger.ingest(data, origin="human", as_version="v")
    source = data.parent / "images" / "train" / "img0.png"
    before = source.read_bytes()
    export_version(sqlite_ledger, "v", "yolo", tmp_path / "copy")
    exported = tmp_path / "copy" / "images" / "train" / "img0.png"
    assert exported.read_bytes() == before and os.stat(exported).st_ino != os.stat(source).st_ino
    with open(exported, "r+b") as handle:  # edit the exported image in place
        handle.write(b"edited")
    assert source.read_bytes() == before
    assert _cli(capsys, sqlite_url, "version", "verify", "v")[0] == 0  # the ledger's files are intact

    code, _, _ = _cli(capsys, sqlite_url, "export", "v", "--out", str(tmp_path / "linked"), "--link")
    assert code == 0
    linked = tmp_path / "linked" / "images" / "train" / "img0.png"
    assert os.stat(linked).st_ino == os.stat(source).st_ino
    # re-exporting as copies into the linked folder replaces the links, never writes through them
    export_version(sqlite_ledger, "v", "yolo", tmp_path / "linked")
    assert os.stat(linked).st_ino != os.stat(source).st_ino and source.read_bytes() == before


def test_failed_export_leaves_no_file_under_its_final_name(sqlite_ledger: Ledger, make_yolo_dataset, tmp_path):
    from tailguard.ledger.export import export_version

    sqlite_ledger.ingest(make_yolo_dataset(n_train=2, n_val=1), origin="human", as_version="v")

    def boom(_: int) -> None:
        raise RuntimeError("disk full")

    for fmt, name in (("jsonl", "samples.jsonl"), ("parquet", "samples.parquet"), ("yolo", "data.yaml")):
        out = tmp_path / fmt
        with pytest.raises(RuntimeError, match="disk full"):
            export_version(sqlite_ledger, "v", fmt, out, progress=boom)
        assert not (out / name).exists()
        assert not [p for p in out.rglob("*") if p.name.endswith(".partial")]  # temporary files removed


_KILLED_CHILD = """
import sys, time
from pathlib import Path
from tailguard.ledger import Ledger
from tailguard.ledger.export import export_version

url, version, fmt, out, ready = sys.argv[1:]

def stall(_n):  # called after the first rows/images are written: stop there until killed
    Path(ready).write_text("writing")
    time.sleep(600)

with Ledger.open(url) as ledger:
    export_version(ledger, version, fmt, Path(out), progress=stall)
"""


def _export_killed_midway(url: str, version: str, fmt: str, out: Path) -> None:
    """Run an export in a child process and SIGKILL it after it has written something."""
    import os
    import subprocess
    import sys
    import time

    import tailguard

    ready = out.parent / f"{out.name}.ready"
    env = dict(os.environ, PYTHONPATH=str(Path(tailguard.__file__).resolve().parents[1]))
    child = subprocess.Popen([sys.executable, "-c", _KILLED_CHILD, url, version, fmt, str(out), str(ready)], env=env)
    try:
        deadline = time.monotonic() + 120
        while not ready.exists():
            assert child.poll() is None, f"the export child exited early with {child.returncode}"
            assert time.monotonic() < deadline, "the export child never started writing"
            time.sleep(0.05)
    finally:
        child.kill()
        child.wait(timeout=30)


@pytest.mark.parametrize("fmt", ["jsonl", "parquet", "yolo"])
def test_killed_export_leaves_nothing_that_looks_complete(sqlite_url, make_yolo_dataset, tmp_path, fmt):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from tailguard.ledger.export import export_version

    data = make_yolo_dataset(n_train=3, n_val=2)
    texts = tmp_path / "t.jsonl"
    texts.write_text("".join(json.dumps({"text": f"line {i}"}) + "\n" for i in range(50)))
    with Ledger.open(sqlite_url) as opened:
        opened.ingest(data, origin="human", as_version="det")
        opened.ingest(texts, origin="human", as_version="txt")
        version = "det" if fmt == "yolo" else "txt"
        out = tmp_path / "out"
        if fmt == "yolo":  # an earlier complete export in the same folder must not vouch for the killed one
            export_version(opened, "det", "yolo", out)
            assert (out / "data.yaml").exists()
    _export_killed_midway(sqlite_url, version, fmt, out)
    if fmt == "yolo":
        assert not (out / "data.yaml").exists()
        return
    final = out / f"samples.{fmt}"
    assert not final.exists()
    (partial,) = [p for p in out.iterdir() if p.name.startswith(f".{final.name}.") and p.name.endswith(".partial")]
    if fmt == "parquet":
        with pytest.raises(pa.ArrowInvalid, match="footer"):
            pq.read_table(partial)  # no footer: the writer never closed
