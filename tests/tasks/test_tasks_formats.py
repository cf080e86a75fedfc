"""Every task's label format: a line parses into a row and serialises back; bad lines get
one-line ``file:line`` errors naming the task's expected shape."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tailguard.errors import LabelFormatError, UnknownChoiceError
from tailguard.ledger.types import Box
from tailguard.tasks import TASKS, decode_shape, encode_shape, infer_task, label_format
from tailguard.tasks.base import LineContext
from tailguard.tasks.pose import kpt_shape_of

CTX = LineContext("labels/train/im0.txt", 5, "human", "model@abc")
POSE = LineContext("labels/train/im0.txt", 5, "human", kpt_shape=(3, 3))
unit = st.floats(0.01, 0.99, allow_nan=False).map(lambda v: round(v, 6))


def test_every_task_has_a_registered_format():
    assert [label_format(t).task for t in TASKS] == list(TASKS)
    with pytest.raises(UnknownChoiceError, match="Did you mean 'obb'"):
        label_format("obbb")


@settings(max_examples=60, deadline=None)
@given(cls=st.integers(0, 4), points=st.lists(st.tuples(unit, unit), min_size=3, max_size=40))
def test_a_polygon_line_round_trips(cls, points):
    flat = [v for p in points for v in p]
    xs, ys = flat[0::2], flat[1::2]
    if max(xs) == min(xs) or max(ys) == min(ys):
        return  # no area: refused, tested below
    line = " ".join([str(cls), *(format(v, ".6g") for v in flat)])
    box = label_format("segment").parse(line.split(), 1, CTX)
    assert box.task == "segment" and box.point_dim == 2 and box.class_id == cls
    assert box.line() == line
    assert (box.origin, box.generator, box.confidence) == ("human", "model@abc", None)
    assert box.x - box.w / 2 == pytest.approx(min(xs)) and box.y + box.h / 2 == pytest.approx(max(ys))
    stored = encode_shape(box.task, box.points, box.point_dim)
    assert decode_shape(stored) == ("segment", box.points, 2)  # exact: repr round-trips floats


def test_a_polygon_with_a_confidence_keeps_it():
    box = label_format("segment").parse(["1", "0.1", "0.1", "0.5", "0.1", "0.3", "0.5", "0.75"], 2, CTX)
    assert box.confidence == 0.75 and len(box.points) == 6


@pytest.mark.parametrize(
    ("task", "line", "message"),
    [
        ("segment", "0 0.1 0.2 0.3", r"im0.txt:4: expected 7 or more fields, got 4 \(segment labels are 'class x1 y1"),
        ("segment", "0 0.1 0.2 0.3 0.4 1.5 0.2", r":4: polygon coordinates must be normalised to \[0, 1\], got 1.5"),
        ("segment", "0 0.1 0.2 0.3 0.2 0.5 0.2", r":4: the polygon has no area"),
        ("segment", "7 0.1 0.2 0.3 0.4 0.5 0.2", r":4: class id 7 is not in data.yaml \(classes 0..4\)"),
        ("segment", "0 0.1 0.2 x 0.4 0.5 0.2", r":4: non-numeric field 'x'"),
        ("obb", "0 0.1 0.2 0.3 0.4", r":4: expected 9 fields, got 5 \(obb labels are 'class x1 y1 x2 y2 x3 y3 x4 y4'"),
        ("obb", "0 0.1 0.2 0.3 0.2 0.3 0.4 0.1 nan", r":4: non-finite field 'nan'"),
        ("detect", "0 0.1 0.2 0.3 0.2 0.3 0.4 0.1 0.3", r"got 9; a segmentation or oriented-box line\? pass --task"),
        ("classify", "0 0.5 0.5", r":4: expected 1 field, got 3 \(classify labels are one class per image"),
    ],
)
def test_bad_lines_get_one_line_errors_naming_the_shape(task, line, message):
    with pytest.raises(LabelFormatError, match=message) as caught:
        label_format(task).parse(line.split(), 4, CTX)
    assert "\n" not in str(caught.value) and str(caught.value).startswith("labels/train/im0.txt:4: ")


def test_pose_lines_follow_kpt_shape():
    fmt = label_format("pose")
    line = "2 0.5 0.5 0.4 0.4 0.4 0.3 2 0.6 0.6 0 0.5 0.7 1"
    box = fmt.parse(line.split(), 1, POSE)
    assert box.points[2::3] == (2.0, 0.0, 1.0) and box.point_dim == 3 and box.line() == line
    assert kpt_shape_of([box]) == (3, 3)
    with pytest.raises(LabelFormatError, match=r":3: expected 14 fields for kpt_shape \[3, 3\], got 11"):
        fmt.parse(line.split()[:11], 3, POSE)
    with pytest.raises(LabelFormatError, match=r":3: keypoint 1 visibility must be 0, 1 or 2"):
        fmt.parse(line.replace(" 0 0.5", " 3 0.5").split(), 3, POSE)
    with pytest.raises(LabelFormatError, match=r":3: keypoint 2 coordinates must be normalised"):
        fmt.parse(line.replace("0.5 0.7", "1.5 0.7").split(), 3, POSE)
    with pytest.raises(LabelFormatError, match=r"need data\.yaml's kpt_shape"):
        fmt.parse(line.split(), 3, CTX)
    two_d = fmt.parse(["0", "0.5", "0.5", "0.2", "0.2", "0.5", "0.5"], 1, LineContext("a.txt", 1, "human", kpt_shape=(1, 2)))
    assert two_d.point_dim == 2 and two_d.line() == "0 0.5 0.5 0.2 0.2 0.5 0.5"


def test_obb_and_classify_rows():
    box = label_format("obb").parse(["3", "0.2", "0.1", "0.4", "0.3", "0.3", "0.4", "0.1", "0.2", "0.6"], 1, CTX)
    assert box.task == "obb" and box.confidence == 0.6 and box.line() == "3 0.2 0.1 0.4 0.3 0.3 0.4 0.1 0.2"
    cls = label_format("classify").parse(["4"], 1, CTX)
    assert (cls.x, cls.y, cls.w, cls.h, cls.line()) == (0.5, 0.5, 1.0, 1.0, "4")


def test_a_four_point_polygon_and_an_oriented_box_are_different_rows():
    points = (0.2, 0.1, 0.4, 0.3, 0.3, 0.4, 0.1, 0.2)
    seg = Box(0, 0.25, 0.25, 0.3, 0.3, "human", task="segment", points=points, point_dim=2)
    obb = Box(0, 0.25, 0.25, 0.3, 0.3, "human", task="obb", points=points, point_dim=2)
    assert seg.line() == obb.line() and seg.identity() != obb.identity()
    assert Box(0, 0.5, 0.5, 0.2, 0.2, "human").identity() == "0 0.5 0.5 0.2 0.2"  # detection keys as before


@pytest.mark.parametrize(("n", "task"), [(5, "detect"), (6, "detect"), (7, "segment"), (8, "segment"),
                                         (9, None), (10, None), (4, None), (61, "segment")])
def test_infer_task_from_the_field_count(n, task):
    assert infer_task(n) == task
