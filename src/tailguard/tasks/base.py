"""What every task's label format does: parse a label line into a row, serialise it back.

A :class:`LabelFormat` reads the whitespace-separated fields of one Ultralytics label
line into a :class:`~tailguard.ledger.types.Box` (with the origin, generator and
confidence the ingest gives it) and writes a row back as the line Ultralytics trains on.
Every error is one line naming ``file:line`` and the task's expected shape.

The ledger stores a row's own geometry in one text column (:func:`encode_shape` /
:func:`decode_shape`): ``NULL`` for a detection box, so detection rows are stored as
before, else ``"<task> <point_dim> <numbers...>"`` with every number written exactly
(``repr``).

>>> encode_shape("segment", (0.1, 0.2, 0.3, 0.2, 0.2, 0.4), 2)
'segment 2 0.1 0.2 0.3 0.2 0.2 0.4'
>>> decode_shape('segment 2 0.1 0.2 0.3 0.2 0.2 0.4')
('segment', (0.1, 0.2, 0.3, 0.2, 0.2, 0.4), 2)
>>> decode_shape(None)
('detect', (), 0)
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from tailguard.errors import LabelFormatError, LabelShapeError

if TYPE_CHECKING:
    from tailguard.ledger.types import Box

TASKS: tuple[str, ...] = ("detect", "segment", "classify", "pose", "obb")
"""The Ultralytics tasks, by their Ultralytics names."""


@dataclass(frozen=True)
class LineContext:
    """What a parser needs besides the line: where it is, the class count, the provenance to attach.

    ``kpt_shape`` is data.yaml's ``[keypoints, dims]`` (pose only).
    """

    path: str
    nc: int | None
    origin: str
    generator: str | None = None
    kpt_shape: tuple[int, int] | None = None


def fmt_number(value: float) -> str:
    return format(float(value), ".6g")


class LabelFormat(ABC):
    """The label format of one task (see the module docstring)."""

    task: ClassVar[str]
    #: The expected shape of a line, as errors name it.
    shape: ClassVar[str]

    @abstractmethod
    def parse(self, fields: Sequence[str], number: int, ctx: LineContext) -> Box:
        """The row of one label line (``fields``: its whitespace-separated fields, ``number``: its line)."""

    @abstractmethod
    def line(self, box: Box) -> str:
        """The Ultralytics label line of ``box`` (6 significant digits)."""

    # ------------------------------------------------------------------ shared checks
    def fail(self, message: str, number: int, ctx: LineContext) -> LabelFormatError:
        """A one-line error naming ``file:line``."""
        return LabelFormatError(message, path=ctx.path, line=number)

    def wrong_count(self, message: str, number: int, ctx: LineContext) -> LabelShapeError:
        """A one-line error naming ``file:line``, the task and its expected shape (a field count that does not fit)."""
        return LabelShapeError(f"{message} ({self.task} labels are {self.shape})", path=ctx.path, line=number)

    def numbers(self, fields: Sequence[str], number: int, ctx: LineContext) -> list[float]:
        """Every field as a finite float."""
        try:
            values = [float(f) for f in fields]
        except ValueError:
            bad = next(f for f in fields if not _is_float(f))
            raise self.fail(f"non-numeric field {bad!r}", number, ctx) from None
        for f, v in zip(fields, values, strict=True):
            if not math.isfinite(v):
                raise self.fail(f"non-finite field {f!r}", number, ctx)
        return values

    def class_id(self, field: str, value: float, number: int, ctx: LineContext) -> int:
        """The class id field: a non-negative integer below data.yaml's class count."""
        if not value.is_integer() or value < 0:
            raise self.fail(f"class id must be a non-negative integer, got {field}", number, ctx)
        if ctx.nc is not None and int(value) >= ctx.nc:
            raise self.fail(f"class id {int(value)} is not in data.yaml (classes 0..{ctx.nc - 1})", number, ctx)
        return int(value)

    def unit(self, fields: Sequence[str], values: Sequence[float], what: str, number: int, ctx: LineContext) -> None:
        """Coordinates normalised to [0, 1]."""
        for f, v in zip(fields, values, strict=True):
            if not 0.0 <= v <= 1.0:
                raise self.fail(f"{what} must be normalised to [0, 1], got {f}", number, ctx)

    def confidence(self, field: str, value: float, number: int, ctx: LineContext) -> float:
        if not 0.0 <= value <= 1.0:
            raise self.fail(f"confidence must be in [0, 1], got {field}", number, ctx)
        return value


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def bounds(points: Sequence[float], dim: int = 2) -> tuple[float, float, float, float]:
    """The normalised centre x, y, width and height of points ``(x, y[, ...])``.

    >>> bounds((0.1, 0.2, 0.3, 0.2, 0.2, 0.6))
    (0.2, 0.4, 0.19999999999999998, 0.39999999999999997)
    """
    xs, ys = points[0::dim], points[1::dim]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    return (x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0


def point_text(points: Sequence[float]) -> str:
    """Points as a label line writes them (6 significant digits)."""
    return " ".join(fmt_number(v) for v in points)


def encode_shape(task: str, points: Sequence[float], point_dim: int) -> str | None:
    """The stored text of a row's geometry (``None`` for a detection box)."""
    if task == "detect":
        return None
    return " ".join([task, str(int(point_dim)), *(repr(float(v)) for v in points)])


def decode_shape(text: str | None) -> tuple[str, tuple[float, ...], int]:
    """``(task, points, point_dim)`` of a stored shape text (:func:`encode_shape`'s inverse)."""
    if not text:
        return "detect", (), 0
    task, dim, *numbers = text.split(" ")
    return task, tuple(float(v) for v in numbers), int(dim)
