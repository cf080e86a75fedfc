"""Detection labels: ``class x_center y_center width height`` (normalised), a confidence may follow.

>>> from tailguard.tasks.base import LineContext
>>> box = FORMAT.parse("0 0.5 0.5 0.2 0.1 0.9".split(), 1, LineContext("a.txt", 2, "pseudo_label"))
>>> box.confidence, FORMAT.line(box)
(0.9, '0 0.5 0.5 0.2 0.1')
>>> FORMAT.parse("0 0.5 0.5 0.2 0.1 0.2 0.3 0.4 0.5".split(), 3, LineContext("a.txt", 2, "human"))
Traceback (most recent call last):
...
tailguard.errors.LabelShapeError: a.txt:3: expected 5 fields 'class x y w h' (or 6 with a confidence), got 9; a segmentation or oriented-box line? pass --task segment or --task obb
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from tailguard.errors import LabelShapeError
from tailguard.ledger.types import Box
from tailguard.tasks import register_format
from tailguard.tasks.base import LabelFormat, LineContext, fmt_number


class DetectFormat(LabelFormat):
    """One axis-aligned box per line."""

    task: ClassVar[str] = "detect"
    shape: ClassVar[str] = "'class x y w h' (a confidence may follow)"

    def parse(self, fields: Sequence[str], number: int, ctx: LineContext) -> Box:
        if len(fields) not in (5, 6):
            hint = ("; a segmentation or oriented-box line? pass --task segment or --task obb"
                    if len(fields) >= 7 else "")
            raise LabelShapeError(f"expected 5 fields 'class x y w h' (or 6 with a confidence), got {len(fields)}"
                                   f"{hint}", path=ctx.path, line=number)
        values = self.numbers(fields, number, ctx)
        cls = self.class_id(fields[0], values[0], number, ctx)
        self.unit(fields[1:5], values[1:5], "coordinates", number, ctx)
        conf = self.confidence(fields[5], values[5], number, ctx) if len(values) == 6 else None
        return Box(cls, *values[1:5], origin=ctx.origin, confidence=conf, generator=ctx.generator)

    def line(self, box: Box) -> str:
        return " ".join([str(int(box.class_id)), *(fmt_number(v) for v in (box.x, box.y, box.w, box.h))])


FORMAT = register_format(DetectFormat())
