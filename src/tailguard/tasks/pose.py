"""Pose labels: ``class x y w h`` then ``kpt_shape[0]`` keypoints of ``kpt_shape[1]`` numbers each
(``px py`` or ``px py visibility``), normalised; a confidence may follow.

The keypoint count and dimensions come from data.yaml's ``kpt_shape``; a line with
another count is refused. Visibility is 0 (not labelled), 1 (labelled, hidden) or 2
(visible), or a predicted keypoint's confidence in [0, 1].

>>> from tailguard.tasks.base import LineContext
>>> ctx = LineContext("a.txt", 1, "human", kpt_shape=(2, 3))
>>> box = FORMAT.parse("0 0.5 0.5 0.4 0.4 0.4 0.4 2 0.6 0.6 0".split(), 1, ctx)
>>> box.points, box.point_dim
((0.4, 0.4, 2.0, 0.6, 0.6, 0.0), 3)
>>> FORMAT.line(box)
'0 0.5 0.5 0.4 0.4 0.4 0.4 2 0.6 0.6 0'
>>> FORMAT.parse("0 0.5 0.5 0.4 0.4 0.4 0.4 2".split(), 7, ctx)
Traceback (most recent call last):
...
tailguard.errors.LabelShapeError: a.txt:7: expected 11 fields for kpt_shape [2, 3], got 8 (pose labels are 'class x y w h' then kpt_shape[0] keypoints 'px py [visibility]', a confidence may follow)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from tailguard.errors import LabelFormatError
from tailguard.ledger.types import Box
from tailguard.tasks import register_format
from tailguard.tasks.base import LabelFormat, LineContext, fmt_number, point_text

MAX_VISIBILITY = 2.0


class PoseFormat(LabelFormat):
    """One box with its keypoints per line."""

    task: ClassVar[str] = "pose"
    shape: ClassVar[str] = "'class x y w h' then kpt_shape[0] keypoints 'px py [visibility]', a confidence may follow"

    def parse(self, fields: Sequence[str], number: int, ctx: LineContext) -> Box:
        if ctx.kpt_shape is None:
            raise LabelFormatError("pose labels need data.yaml's kpt_shape [keypoints, dims]", path=ctx.path,
                                   line=number)
        k, dim = ctx.kpt_shape
        expected = 5 + k * dim
        if len(fields) not in (expected, expected + 1):
            raise self.wrong_count(f"expected {expected} fields for kpt_shape [{k}, {dim}], got {len(fields)}", number, ctx)
        values = self.numbers(fields, number, ctx)
        cls = self.class_id(fields[0], values[0], number, ctx)
        self.unit(fields[1:5], values[1:5], "box coordinates", number, ctx)
        if values[3] <= 0 or values[4] <= 0:
            raise self.fail(f"box width and height must be > 0, got {fields[3]} {fields[4]}", number, ctx)
        points = tuple(values[5:expected])
        for i in range(k):
            self.unit(fields[5 + i * dim : 7 + i * dim], points[i * dim : i * dim + 2],
                      f"keypoint {i} coordinates", number, ctx)
            if dim == 3 and not 0.0 <= points[i * dim + 2] <= MAX_VISIBILITY:
                raise self.fail(f"keypoint {i} visibility must be 0, 1 or 2 (or a confidence in [0, 1]), "
                                f"got {fields[7 + i * dim]}", number, ctx)
        conf = self.confidence(fields[-1], values[-1], number, ctx) if len(values) == expected + 1 else None
        return Box(cls, *values[1:5], origin=ctx.origin, confidence=conf, generator=ctx.generator,
                   task=self.task, points=points, point_dim=dim)

    def line(self, box: Box) -> str:
        head = " ".join([str(int(box.class_id)), *(fmt_number(v) for v in (box.x, box.y, box.w, box.h))])
        return f"{head} {point_text(box.points)}"


def kpt_shape_of(boxes: Sequence[Box]) -> tuple[int, int] | None:
    """``[keypoints, dims]`` of pose rows (``None`` when there are none); rows that disagree raise.

    >>> b = Box(0, .5, .5, .2, .2, "human", task="pose", points=(0.5, 0.5, 2.0), point_dim=3)
    >>> kpt_shape_of([b, b])
    (1, 3)
    """
    shapes = {(len(b.points) // b.point_dim, b.point_dim) for b in boxes if b.task == "pose" and b.point_dim}
    if len(shapes) > 1:
        raise LabelFormatError(f"pose rows disagree on kpt_shape: {sorted(shapes)}")
    return shapes.pop() if shapes else None


FORMAT = register_format(PoseFormat())
