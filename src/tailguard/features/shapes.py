"""Task label features: mask polygons, keypoints and oriented-box angles as flat arrays.

Built from ledger records (anything with ``.labels`` rows carrying ``task``, ``points``,
``point_dim``, ``class_id`` and ``origin``), keeping the rows of one task and the chosen
origins, like :class:`~tailguard.features.detection.DetectionLabelArrays`:

- :class:`MaskArrays` (segment): per polygon its area (shoelace, in image units), its
  perimeter-to-area ratio (large for thin and for small objects) and its vertex count;
- :class:`KeypointArrays` (pose): per pose which keypoints are visible (visibility > 0, or
  any labelled x, y with 2 dims) and the length of each limb (keypoints ``i`` and ``i+1``)
  over the box diagonal, NaN when either end is not visible;
- :class:`AngleArrays` (obb): per oriented box the direction of its long side, in [0, 180)
  degrees.

Each also holds ``class_ids``, ``image_index`` and ``objects_per_image``.

>>> from types import SimpleNamespace as NS
>>> sq = NS(class_id=0, origin="human", task="segment", points=(0.1, 0.1, 0.3, 0.1, 0.3, 0.3, 0.1, 0.3), point_dim=2)
>>> m = MaskArrays.from_records([NS(labels=(sq,)), NS(labels=())])
>>> m.areas.round(4).tolist(), m.perimeter_to_area.round(1).tolist(), m.vertex_counts.tolist()
([0.04], [20.0], [4])
>>> m.objects_per_image.tolist()
[1, 0]
>>> ob = NS(class_id=1, origin="human", task="obb", points=(0.2, 0.2, 0.6, 0.2, 0.6, 0.3, 0.2, 0.3), point_dim=2)
>>> AngleArrays.from_records([NS(labels=(ob,))]).angles.tolist()
[0.0]
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from tailguard.errors import LabelFormatError, UnknownChoiceError
from tailguard.origins import ORIGINS


def _frozen(values: Any, dtype: Any) -> np.ndarray:
    arr = np.asarray(values, dtype=dtype)
    arr.setflags(write=False)
    return arr


def _rows(records: Iterable[Any], task: str, origins: Iterable[str] | None) -> Iterable[tuple[int, int, Any]]:
    """(record index, row index, row) of every ``task`` row of the chosen origins; per-record counts go to ``counts``."""
    wanted = None
    if origins is not None:
        wanted = set(origins)
        for origin in wanted:
            if origin not in ORIGINS:
                raise UnknownChoiceError("origin", origin, ORIGINS)
    for i, record in enumerate(records):
        yield i, -1, record  # marks a new record
        for j, row in enumerate(record.labels):
            if getattr(row, "task", "detect") == task and (wanted is None or row.origin in wanted):
                yield i, j, row


def polygon_area_perimeter(points: Sequence[float]) -> tuple[float, float]:
    """Area (shoelace) and perimeter of a closed polygon ``x1 y1 x2 y2 ...``.

    >>> polygon_area_perimeter((0, 0, 2, 0, 2, 1, 0, 1))
    (2.0, 6.0)
    """
    pts = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    x, y = pts[:, 0], pts[:, 1]
    xn, yn = np.roll(x, -1), np.roll(y, -1)
    area = 0.5 * abs(float(np.dot(x, yn) - np.dot(xn, y)))
    perimeter = float(np.hypot(xn - x, yn - y).sum())
    return area, perimeter


@dataclass(frozen=True, eq=False)
class MaskArrays:
    """Segmentation polygons as flat arrays (read-only; see the module docstring)."""

    kind: ClassVar[str] = "masks"
    class_ids: np.ndarray
    areas: np.ndarray
    perimeter_to_area: np.ndarray
    vertex_counts: np.ndarray
    image_index: np.ndarray
    objects_per_image: np.ndarray

    @property
    def n_images(self) -> int:
        return int(self.objects_per_image.shape[0])

    @classmethod
    def from_records(cls, records: Iterable[Any], origins: Iterable[str] | None = None) -> MaskArrays:
        """The ``segment`` rows of ``records`` (origins: all when None); a polygon without area raises."""
        ids: list[int] = []
        areas: list[float] = []
        ratios: list[float] = []
        counts: list[int] = []
        image: list[int] = []
        per_image: list[int] = []
        for i, j, row in _rows(records, "segment", origins):
            if j < 0:
                per_image.append(0)
                continue
            area, perimeter = polygon_area_perimeter(row.points)
            if not (math.isfinite(area) and area > 0):
                where = getattr(row, "uri", None) or f"record {i}"
                raise LabelFormatError(f"polygon {j} has no area", path=where)
            ids.append(int(row.class_id))
            areas.append(area)
            ratios.append(perimeter / area)
            counts.append(len(row.points) // 2)
            image.append(i)
            per_image[-1] += 1
        return cls(_frozen(ids, np.int64), _frozen(areas, np.float64), _frozen(ratios, np.float64),
                   _frozen(counts, np.int64), _frozen(image, np.int64), _frozen(per_image, np.int64))


@dataclass(frozen=True, eq=False)
class KeypointArrays:
    """Poses as flat arrays (read-only): ``visible`` (n, k) bools, ``limbs`` (n, k - 1) lengths."""

    kind: ClassVar[str] = "keypoints"
    class_ids: np.ndarray
    visible: np.ndarray
    limbs: np.ndarray
    image_index: np.ndarray
    objects_per_image: np.ndarray
    keypoint_names: tuple[str, ...]

    @property
    def n_images(self) -> int:
        return int(self.objects_per_image.shape[0])

    @property
    def n_keypoints(self) -> int:
        return int(self.visible.shape[1])

    def limb_names(self) -> list[str]:
        """``"a-b"`` for each limb (consecutive keypoints)."""
        names = self.keypoint_names
        return [f"{names[i]}-{names[i + 1]}" for i in range(len(names) - 1)]

    @classmethod
    def from_records(cls, records: Iterable[Any], origins: Iterable[str] | None = None,
                     keypoint_names: Sequence[str] | None = None) -> KeypointArrays:
        """The ``pose`` rows of ``records``; rows with another keypoint count than the first raise."""
        ids: list[int] = []
        vis: list[np.ndarray] = []
        limbs: list[np.ndarray] = []
        image: list[int] = []
        per_image: list[int] = []
        k = None
        for i, j, row in _rows(records, "pose", origins):
            if j < 0:
                per_image.append(0)
                continue
            dim = int(row.point_dim)
            pts = np.asarray(row.points, dtype=np.float64).reshape(-1, dim)
            if k is None:
                k = len(pts)
            elif len(pts) != k:
                raise LabelFormatError(f"pose {j} has {len(pts)} keypoints, others {k}", path=f"record {i}")
            seen = pts[:, 2] > 0 if dim == 3 else (pts[:, 0] > 0) | (pts[:, 1] > 0)
            diagonal = math.hypot(float(row.w), float(row.h)) or 1.0
            length = np.hypot(*(pts[1:, :2] - pts[:-1, :2]).T) / diagonal
            length[~(seen[1:] & seen[:-1])] = np.nan
            ids.append(int(row.class_id))
            vis.append(seen)
            limbs.append(length)
            image.append(i)
            per_image[-1] += 1
        k = k or 0
        names = tuple(keypoint_names) if keypoint_names is not None and len(keypoint_names) == k else tuple(
            f"k{i}" for i in range(k))
        return cls(_frozen(ids, np.int64), _frozen(np.array(vis, dtype=bool).reshape(-1, k), bool),
                   _frozen(np.array(limbs, dtype=np.float64).reshape(-1, max(k - 1, 0)), np.float64),
                   _frozen(image, np.int64), _frozen(per_image, np.int64), names)


def long_side_angle(corners: Sequence[float]) -> float:
    """The direction of an oriented box's long side, in degrees in [0, 180).

    >>> long_side_angle((0.5, 0.1, 0.6, 0.2, 0.3, 0.5, 0.2, 0.4))
    135.0
    """
    p = np.asarray(corners, dtype=np.float64).reshape(4, 2)
    a, b = p[1] - p[0], p[2] - p[1]
    edge = a if math.hypot(*a) >= math.hypot(*b) else b
    return round(math.degrees(math.atan2(edge[1], edge[0])) % 180.0, 9) % 180.0


@dataclass(frozen=True, eq=False)
class AngleArrays:
    """Oriented boxes as flat arrays (read-only): the long side's angle in degrees, [0, 180)."""

    kind: ClassVar[str] = "angles"
    class_ids: np.ndarray
    angles: np.ndarray
    image_index: np.ndarray
    objects_per_image: np.ndarray

    @property
    def n_images(self) -> int:
        return int(self.objects_per_image.shape[0])

    @classmethod
    def from_records(cls, records: Iterable[Any], origins: Iterable[str] | None = None) -> AngleArrays:
        """The ``obb`` rows of ``records`` (origins: all when None)."""
        ids: list[int] = []
        angles: list[float] = []
        image: list[int] = []
        per_image: list[int] = []
        for i, j, row in _rows(records, "obb", origins):
            if j < 0:
                per_image.append(0)
                continue
            ids.append(int(row.class_id))
            angles.append(long_side_angle(row.points))
            image.append(i)
            per_image[-1] += 1
        return cls(_frozen(ids, np.int64), _frozen(angles, np.float64), _frozen(image, np.int64),
                   _frozen(per_image, np.int64))


SHAPE_ARRAYS: dict[str, type] = {"segment": MaskArrays, "pose": KeypointArrays, "obb": AngleArrays}
"""The shape arrays of each task that has them (classification and detection have none)."""
