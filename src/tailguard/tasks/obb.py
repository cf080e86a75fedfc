"""Oriented-box labels: ``class x1 y1 x2 y2 x3 y3 x4 y4``, the four corners (normalised), a confidence may follow.

>>> from tailguard.tasks.base import LineContext
>>> box = FORMAT.parse("0 0.2 0.1 0.4 0.3 0.3 0.4 0.1 0.2".split(), 1, LineContext("a.txt", 1, "human"))
>>> box.task, round(box.w, 3), round(box.h, 3)
('obb', 0.3, 0.3)
>>> FORMAT.line(box)
'0 0.2 0.1 0.4 0.3 0.3 0.4 0.1 0.2'
>>> FORMAT.parse("0 0.2 0.1 0.4 0.3".split(), 2, LineContext("a.txt", 1, "human"))
Traceback (most recent call last):
...
tailguard.errors.LabelShapeError: a.txt:2: expected 9 fields, got 5 (obb labels are 'class x1 y1 x2 y2 x3 y3 x4 y4': 4 corners, a confidence may follow)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from tailguard.ledger.types import Box
from tailguard.tasks import register_format
from tailguard.tasks.base import LabelFormat, LineContext, bounds, point_text


class ObbFormat(LabelFormat):
    """One oriented box (four corners) per line."""

    task: ClassVar[str] = "obb"
    shape: ClassVar[str] = "'class x1 y1 x2 y2 x3 y3 x4 y4': 4 corners, a confidence may follow"

    def parse(self, fields: Sequence[str], number: int, ctx: LineContext) -> Box:
        if len(fields) not in (9, 10):
            raise self.wrong_count(f"expected 9 fields, got {len(fields)}", number, ctx)
        values = self.numbers(fields, number, ctx)
        cls = self.class_id(fields[0], values[0], number, ctx)
        points = tuple(values[1:9])
        self.unit(fields[1:9], points, "corner coordinates", number, ctx)
        conf = self.confidence(fields[9], values[9], number, ctx) if len(values) == 10 else None
        x, y, w, h = bounds(points)
        if w <= 0 or h <= 0:
            raise self.fail("the oriented box has no area (its corners lie on one line)", number, ctx)
        return Box(cls, x, y, w, h, origin=ctx.origin, confidence=conf, generator=ctx.generator,
                   task=self.task, points=points, point_dim=2)

    def line(self, box: Box) -> str:
        return f"{int(box.class_id)} {point_text(box.points)}"


FORMAT = register_format(ObbFormat())
