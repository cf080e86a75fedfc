"""Classification labels: one class per image, from the folder-per-class layout
``<split>/<class name>/<image>`` (Ultralytics' classification datasets).

The row is the whole image (box ``0.5 0.5 1 1``) with its class; a pseudo-label carries
the top-1 probability as its confidence. :func:`class_folders` reads a split folder's
class names the way Ultralytics does (sorted folder names).

>>> from tailguard.tasks.base import LineContext
>>> box = FORMAT.parse(["3", "0.8"], 1, LineContext("train/three", 10, "pseudo_label"))
>>> box.task, box.class_id, box.confidence, (box.w, box.h)
('classify', 3, 0.8, (1.0, 1.0))
>>> FORMAT.line(box)
'3'
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

from tailguard.ledger.types import Box
from tailguard.tasks import register_format
from tailguard.tasks.base import LabelFormat, LineContext


def whole_image(class_id: int, origin: str, confidence: float | None = None, generator: str | None = None) -> Box:
    """The classification row of an image of class ``class_id``."""
    return Box(int(class_id), 0.5, 0.5, 1.0, 1.0, origin=origin, confidence=confidence, generator=generator,
               task="classify")


class ClassifyFormat(LabelFormat):
    """``class [confidence]``: the class of the whole image."""

    task: ClassVar[str] = "classify"
    shape: ClassVar[str] = "one class per image, from its folder '<split>/<class name>/' ('class [confidence]')"

    def parse(self, fields: Sequence[str], number: int, ctx: LineContext) -> Box:
        if len(fields) not in (1, 2):
            raise self.wrong_count(f"expected 1 field, got {len(fields)}", number, ctx)
        values = self.numbers(fields, number, ctx)
        cls = self.class_id(fields[0], values[0], number, ctx)
        conf = self.confidence(fields[1], values[1], number, ctx) if len(values) == 2 else None
        return whole_image(cls, ctx.origin, conf, ctx.generator)

    def line(self, box: Box) -> str:
        return str(int(box.class_id))


def class_folders(split: Path) -> list[str]:
    """The class names of a classification split folder: its subfolders, sorted (as Ultralytics sorts them)."""
    return sorted(p.name for p in split.iterdir() if p.is_dir() and not p.name.startswith("."))


FORMAT = register_format(ClassifyFormat())
