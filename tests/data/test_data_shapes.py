"""The shapes datasets and the digit folders: seeded, valid labels for their task, long-tailed."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tailguard.data import SHAPE_NAMES, make_classification_dataset, make_shapes_dataset
from tailguard.errors import BadInputError, ParameterError, UnknownChoiceError
from tailguard.tasks import label_format
from tailguard.tasks.base import LineContext


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
            and p.name != "data.yaml"}


@pytest.mark.parametrize("task", ["detect", "segment", "pose", "obb"])
def test_every_line_parses_as_its_task_and_runs_repeat(tmp_path, task):
    data = make_shapes_dataset(tmp_path / "a", task, n_images=30, seed=4)
    again = make_shapes_dataset(tmp_path / "b", task, n_images=30, seed=4)
    assert _files(data.parent) == _files(again.parent)
    body = yaml.safe_load(data.read_text())
    assert body["task"] == task and list(body["names"].values()) == list(SHAPE_NAMES)
    kpt = tuple(body["kpt_shape"]) if task == "pose" else None
    classes = []
    for label in (data.parent / "labels").rglob("*.txt"):
        ctx = LineContext(str(label), len(SHAPE_NAMES), "human", kpt_shape=kpt)
        for number, line in enumerate(label.read_text().splitlines(), start=1):
            classes.append(label_format(task).parse(line.split(), number, ctx).class_id)
    assert classes.count(0) > classes.count(4)  # circles common, hexagons rare
    assert len(list((data.parent / "images" / "train").iterdir())) == 23  # val: floor(0.25 * 30) = 7


def test_tasks_draw_their_own_images_and_refuse_what_they_cannot_build(tmp_path):
    seg = make_shapes_dataset(tmp_path / "s", "segment", n_images=3, seed=0)
    pose = make_shapes_dataset(tmp_path / "p", "pose", n_images=3, seed=0)
    assert not set(_files(seg.parent / "images").values()) & set(_files(pose.parent / "images").values())
    with pytest.raises(BadInputError, match="already holds a dataset"):
        make_shapes_dataset(tmp_path / "s", "segment", n_images=3)
    with pytest.raises(UnknownChoiceError, match="task"):
        make_shapes_dataset(tmp_path / "x", "classify")


def test_the_digit_folders_hold_every_class_in_every_split(tmp_path):
    root = make_classification_dataset(tmp_path / "c", n_images=60, seed=1)
    for split in ("train", "val"):
        counts = {p.name: len(list(p.iterdir())) for p in (root / split).iterdir()}
        assert len(counts) == 10 and min(counts.values()) >= 1
    train = {p.name: len(list(p.iterdir())) for p in (root / "train").iterdir()}
    assert train["zero"] > train["nine"]
    assert _files(root) == _files(make_classification_dataset(tmp_path / "d", n_images=60, seed=1))
    with pytest.raises(ParameterError, match="at least n_classes=10 images"):
        make_classification_dataset(tmp_path / "e", n_images=20)
