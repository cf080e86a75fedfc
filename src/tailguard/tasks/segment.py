"""Segmentation labels: ``class x1 y1 x2 y2 x3 y3 ...``, one polygon per line (normalised vertices).

An image may hold several polygons (lines), of one class or several. A line with an
even number of fields carries a confidence last (as Ultralytics writes predictions).
The row's box is the polygon's bounds.

>>> from tailguard.tasks.base import LineContext
>>> ctx = LineContext("a.txt", 3, "human")
>>> box = FORMAT.parse("2 0.1 0.1 0.5 0.1 0.3 0.5".split(), 1, ctx)
>>> box.task, box.points, (box.x, box.y)
('segment', (0.1, 0.1, 0.5, 0.1, 0.3, 0.5), (0.3, 0.3))
>>> FORMAT.line(box)
'2 0.1 0.1 0.5 0.1 0.3 0.5'
>>> FORMAT.parse("2 0.1 0.1 0.5".split(), 4, ctx)
Traceback (most recent call last):
...
tailguard.errors.LabelShapeError: a.txt:4: expected 7 or more fields, got 4 (segment labels are 'class x1 y1 x2 y2 x3 y3 ...': 3 or more points, a confidence may follow)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from tailguard.ledger.types import Box
from tailguard.tasks import register_format
from tailguard.tasks.base import LabelFormat, LineContext, bounds, point_text

MIN_POINTS = 3


class SegmentFormat(LabelFormat):
    """One polygon per line."""

    task: ClassVar[str] = "segment"
    shape: ClassVar[str] = "'class x1 y1 x2 y2 x3 y3 ...': 3 or more points, a confidence may follow"

    def parse(self, fields: Sequence[str], number: int, ctx: LineContext) -> Box:
        if len(fields) < 1 + 2 * MIN_POINTS:
            raise self.wrong_count(f"expected {1 + 2 * MIN_POINTS} or more fields, got {len(fields)}", number, ctx)
        values = self.numbers(fields, number, ctx)
        cls = self.class_id(fields[0], values[0], number, ctx)
        has_conf = len(values) % 2 == 0
        end = len(values) - 1 if has_conf else len(values)
        points = tuple(values[1:end])
        self.unit(fields[1:end], points, "polygon coordinates", number, ctx)
        conf = self.confidence(fields[-1], values[-1], number, ctx) if has_conf else None
        x, y, w, h = bounds(points)
        if w <= 0 or h <= 0:
            raise self.fail("the polygon has no area (its points lie on one line)", number, ctx)
        return Box(cls, x, y, w, h, origin=ctx.origin, confidence=conf, generator=ctx.generator,
                   task=self.task, points=points, point_dim=2)

    def line(self, box: Box) -> str:
        return f"{int(box.class_id)} {point_text(box.points)}"


FORMAT = register_format(SegmentFormat())
