"""Detection-label features: per-box class ids, areas and aspect ratios, per-image counts.

Built from ledger sample records (anything with a ``.labels`` tuple of boxes that have
``class_id, x, y, w, h, origin`` and optionally ``confidence``), keeping only the boxes of
the chosen origins, so a human reference and pseudo-labels are compared as such.

>>> from types import SimpleNamespace as NS
>>> box = lambda c, w, h, origin="human": NS(class_id=c, x=0.5, y=0.5, w=w, h=h, origin=origin)
>>> records = [NS(id="a", labels=(box(0, 0.2, 0.1), box(3, 0.1, 0.1, "pseudo_label"))), NS(id="b", labels=())]
>>> arrays = DetectionLabelArrays.from_records(records, origins=["human"])
>>> arrays.class_ids.tolist(), arrays.objects_per_image.tolist()
([0], [1, 0])
>>> arrays.areas.round(3).tolist(), arrays.aspect_ratios.tolist()
([0.02], [2.0])
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tailguard.errors import LabelFormatError, UnknownChoiceError
from tailguard.origins import ORIGINS

KNOWN_ORIGINS = ORIGINS  # the origins a box can carry


def _frozen(values: Any, dtype: Any) -> np.ndarray:
    arr = np.asarray(values, dtype=dtype)
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True, eq=False)
class DetectionLabelArrays:
    """Label statistics as flat arrays (read-only).

    - ``class_ids``, ``areas`` (w*h, normalised), ``aspect_ratios`` (w/h), ``confidences``
      (NaN where a box has none) and ``image_index`` (row of ``objects_per_image``): one entry per box;
    - ``objects_per_image``: one entry per record, 0 for images without a box of the chosen origins.
    """

    class_ids: np.ndarray
    areas: np.ndarray
    aspect_ratios: np.ndarray
    confidences: np.ndarray
    image_index: np.ndarray
    objects_per_image: np.ndarray

    @property
    def n_boxes(self) -> int:
        return int(self.class_ids.shape[0])

    @property
    def n_images(self) -> int:
        return int(self.objects_per_image.shape[0])

    def class_counts(self, n_classes: int | None = None) -> np.ndarray:
        """Boxes per class id (length ``n_classes``, default ``max id + 1``)."""
        minlength = 0 if n_classes is None else n_classes
        return np.bincount(self.class_ids, minlength=minlength)

    def box_matrix(self) -> np.ndarray:
        """(n_boxes, 2) float64 matrix of log area and log aspect ratio, for vector metrics."""
        return np.column_stack([np.log(self.areas), np.log(self.aspect_ratios)])

    @classmethod
    def from_records(cls, records: Iterable[Any], origins: Iterable[str] | None = None) -> DetectionLabelArrays:
        """Collect the boxes of ``records`` whose origin is in ``origins`` (all origins when None).

        A box with a non-positive or non-finite width or height raises
        :class:`~tailguard.errors.LabelFormatError` naming the record and box.
        """
        wanted = None
        if origins is not None:
            wanted = set(origins)
            for origin in wanted:
                if origin not in KNOWN_ORIGINS:
                    raise UnknownChoiceError("origin", origin, KNOWN_ORIGINS)
        class_ids: list[int] = []
        widths: list[float] = []
        heights: list[float] = []
        confidences: list[float] = []
        image_index: list[int] = []
        per_image: list[int] = []
        for i, record in enumerate(records):
            count = 0
            for j, box in enumerate(record.labels):
                if wanted is not None and box.origin not in wanted:
                    continue
                w, h = float(box.w), float(box.h)
                if not (math.isfinite(w) and math.isfinite(h) and w > 0 and h > 0):
                    where = getattr(record, "uri", None) or getattr(record, "id", None) or f"record {i}"
                    raise LabelFormatError(f"box {j} has width {w} and height {h}; both must be > 0", path=where)
                class_ids.append(int(box.class_id))
                widths.append(w)
                heights.append(h)
                conf = getattr(box, "confidence", None)
                confidences.append(math.nan if conf is None else float(conf))
                image_index.append(i)
                count += 1
            per_image.append(count)
        return cls._build(class_ids, widths, heights, confidences, image_index, per_image)

    @classmethod
    def from_yolo_arrays(cls, labels: Sequence[np.ndarray]) -> DetectionLabelArrays:
        """From per-image (k, 5) arrays of ``class, x, y, w, h`` (e.g. ``tailguard.data.compose_detection``).

        >>> import numpy as np
        >>> DetectionLabelArrays.from_yolo_arrays([np.array([[1, .5, .5, .2, .4]]), np.zeros((0, 5))]).n_images
        2
        """
        rows = [np.asarray(lab, dtype=np.float64).reshape(-1, 5) for lab in labels]
        stacked = np.concatenate(rows) if rows else np.zeros((0, 5))
        w, h = stacked[:, 3], stacked[:, 4]
        if not (np.all(np.isfinite(w) & np.isfinite(h)) and np.all((w > 0) & (h > 0))):
            bad = int(np.flatnonzero(~((w > 0) & (h > 0)))[0])
            raise LabelFormatError(f"box {bad} has width {w[bad]} and height {h[bad]}; both must be > 0", path="labels")
        per_image = [len(r) for r in rows]
        return cls._build(
            stacked[:, 0].astype(np.int64),
            w,
            h,
            np.full(len(stacked), np.nan),
            np.repeat(np.arange(len(rows)), per_image),
            per_image,
        )

    @classmethod
    def _build(cls, class_ids, widths, heights, confidences, image_index, per_image) -> DetectionLabelArrays:
        w = np.asarray(widths, dtype=np.float64)
        h = np.asarray(heights, dtype=np.float64)
        return cls(
            class_ids=_frozen(class_ids, np.int64),
            areas=_frozen(w * h, np.float64),
            aspect_ratios=_frozen(w / h if len(h) else w, np.float64),
            confidences=_frozen(confidences, np.float64),
            image_index=_frozen(image_index, np.int64),
            objects_per_image=_frozen(per_image, np.int64),
        )
