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
from typing import Any, ClassVar

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


def _douglas_peucker(points: Any, tolerance: float) -> list[int]:
    """Indices kept by Douglas-Peucker on the open polyline ``points`` (n, 2): both ends always."""
    import numpy as np

    keep = [0, len(points) - 1]
    stack = [(0, len(points) - 1)]
    while stack:
        a, b = stack.pop()
        if b - a < 2:
            continue
        seg = points[b] - points[a]
        rel = points[a + 1 : b] - points[a]
        norm = float(np.hypot(*seg))
        dist = (np.abs(seg[0] * rel[:, 1] - seg[1] * rel[:, 0]) / norm if norm > 0
                else np.hypot(rel[:, 0], rel[:, 1]))
        i = int(np.argmax(dist))
        if dist[i] > tolerance:
            keep.append(a + 1 + i)
            stack.extend(((a, a + 1 + i), (a + 1 + i, b)))
    return sorted(keep)


def simplify_polygon(points: Any, max_vertices: int, tolerance: float) -> tuple[tuple[float, ...], float]:
    """A closed polygon ``points`` (n, 2) simplified to at most ``max_vertices`` vertices, and the tolerance used.

    Douglas-Peucker with ``tolerance`` (in the points' units) drops vertices closer than it to
    the simplified outline; while more than ``max_vertices`` remain the tolerance doubles. The
    polygon is cut at its vertex farthest from the first one, so both halves keep their ends.

    >>> import numpy as np
    >>> t = np.linspace(0, 2 * np.pi, 200, endpoint=False)
    >>> circle = np.column_stack([0.5 + 0.3 * np.cos(t), 0.5 + 0.3 * np.sin(t)])
    >>> flat, used = simplify_polygon(circle, 16, 0.001)
    >>> len(flat) // 2 <= 16, used >= 0.001
    (True, True)
    >>> square = [(0.1, 0.1), (0.5, 0.1), (0.5, 0.3), (0.5, 0.5), (0.1, 0.5)]
    >>> simplify_polygon(square, 16, 0.001)  # the vertex on a straight edge goes
    ((0.1, 0.1, 0.5, 0.1, 0.5, 0.5, 0.1, 0.5), 0.001)
    """
    import numpy as np

    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if len(pts) <= MIN_POINTS:
        return tuple(pts.ravel().tolist()), 0.0
    far = int(np.argmax(np.hypot(*(pts - pts[0]).T)))
    halves = (pts[: far + 1], np.concatenate([pts[far:], pts[:1]]))
    used = tolerance
    while True:
        first = _douglas_peucker(halves[0], used)
        second = _douglas_peucker(halves[1], used)
        kept = np.concatenate([halves[0][first], halves[1][second][1:-1]])
        if len(kept) <= max_vertices or used > 1.0:
            break
        used *= 2.0
    if len(kept) < MIN_POINTS:
        kept = pts[np.linspace(0, len(pts) - 1, MIN_POINTS).astype(int)]
    return tuple(kept.ravel().tolist()), used


FORMAT = register_format(SegmentFormat())
