"""A YOLO model's predictions for any task, as ledger label rows (``pseudo_label`` origin).

:func:`predict_rows` runs ``model.predict`` and turns each image's result into rows of
the model's task (:data:`tailguard.tasks.TASKS`), each with the model's confidence and
the generator string:

- ``detect``: boxes (through :func:`~tailguard.integrations.ultralytics.predict.predict_boxes`);
- ``segment``: each mask's outline as a polygon, simplified by Douglas-Peucker to at most
  ``max_vertices`` vertices (:func:`tailguard.tasks.segment.simplify_polygon`); the
  tolerance starts at ``tolerance`` (normalised units) and doubles while a polygon has
  more vertices, and the largest one used is reported;
- ``classify``: the top-1 class with its probability (the whole image);
- ``pose``: the box and its keypoints; with 3 dims a keypoint's visibility is 2 when its
  confidence reaches ``kpt_conf``, else 0 (not labelled), as Ultralytics trains on it;
- ``obb``: the four corners of each oriented box.

Rows below ``conf`` are not kept (for classification: a top-1 probability below it).

>>> RowOptions().max_vertices, RowOptions().tolerance
(64, 0.002)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tailguard.errors import ParameterError
from tailguard.integrations.ultralytics.predict import as_rgb, predict_boxes
from tailguard.ledger.types import Box
from tailguard.tasks.base import bounds
from tailguard.tasks.classify import whole_image
from tailguard.tasks.segment import simplify_polygon


@dataclass(frozen=True)
class RowOptions:
    """How predictions become rows: polygon simplification and keypoint visibility."""

    max_vertices: int = 64
    tolerance: float = 0.002
    kpt_conf: float = 0.5

    def __post_init__(self) -> None:
        if not isinstance(self.max_vertices, int) or self.max_vertices < 3:
            raise ParameterError(f"The 'max_vertices' parameter of pseudo_label must be an int >= 3. "
                                 f"Got {self.max_vertices!r}.")
        if not 0.0 < float(self.tolerance) < 1.0:
            raise ParameterError(f"The 'tolerance' parameter of pseudo_label must be a float > 0.0 and < 1.0. "
                                 f"Got {self.tolerance!r}.")
        if not 0.0 <= float(self.kpt_conf) <= 1.0:
            raise ParameterError(f"The 'kpt_conf' parameter of pseudo_label must be a float in [0, 1]. "
                                 f"Got {self.kpt_conf!r}.")


@dataclass
class RowStats:
    """What turning predictions into rows did: polygons simplified, the largest tolerance used."""

    polygons: int = 0
    vertices_before: int = 0
    vertices_after: int = 0
    max_tolerance: float = 0.0
    dropped: int = 0  # predictions without a usable shape (a mask of < 3 points, no area)
    extra: dict[str, Any] = field(default_factory=dict)


def _np(t: Any) -> np.ndarray:
    return t.detach().cpu().numpy().astype(np.float64) if hasattr(t, "detach") else np.asarray(t, np.float64)


def _segment(result: Any, generator: str, opts: RowOptions, stats: RowStats) -> list[Box]:
    if result.masks is None or result.boxes is None or len(result.boxes) == 0:
        return []
    cls, score = _np(result.boxes.cls), _np(result.boxes.conf)
    rows = []
    for poly, c, s in zip(result.masks.xyn, cls, score, strict=True):
        poly = np.clip(np.asarray(poly, dtype=np.float64).reshape(-1, 2), 0.0, 1.0)
        if len(poly) < 3:
            stats.dropped += 1
            continue
        points, used = simplify_polygon(poly, opts.max_vertices, opts.tolerance)
        x, y, w, h = bounds(points)
        if w <= 0 or h <= 0 or len(points) < 6:
            stats.dropped += 1
            continue
        stats.polygons += 1
        stats.vertices_before += len(poly)
        stats.vertices_after += len(points) // 2
        stats.max_tolerance = max(stats.max_tolerance, used)
        rows.append(Box(int(c), x, y, w, h, "pseudo_label", float(s), generator, "segment", points, 2))
    return rows


def _classify(result: Any, generator: str, conf: float) -> list[Box]:
    probs = result.probs
    if probs is None:
        return []
    top, p = int(probs.top1), float(_np(probs.top1conf))
    return [whole_image(top, "pseudo_label", p, generator)] if p >= conf else []


def _pose(result: Any, generator: str, opts: RowOptions, dims: int) -> list[Box]:
    if result.boxes is None or len(result.boxes) == 0 or result.keypoints is None:
        return []
    xywhn = np.clip(_np(result.boxes.xywhn), 0.0, 1.0)
    cls, score = _np(result.boxes.cls), _np(result.boxes.conf)
    xy = np.clip(_np(result.keypoints.xyn), 0.0, 1.0)
    kconf = _np(result.keypoints.conf) if result.keypoints.conf is not None else np.ones(xy.shape[:2])
    rows = []
    for i in range(len(cls)):
        if xywhn[i, 2] <= 0 or xywhn[i, 3] <= 0:
            continue
        if dims == 3:
            vis = np.where(kconf[i] >= opts.kpt_conf, 2.0, 0.0)
            points = np.column_stack([xy[i], vis]).ravel()
        else:
            points = xy[i].ravel()
        rows.append(Box(int(cls[i]), *map(float, xywhn[i]), origin="pseudo_label", confidence=float(score[i]),
                        generator=generator, task="pose", points=tuple(points.tolist()), point_dim=dims))
    return rows


def _obb(result: Any, generator: str, stats: RowStats) -> list[Box]:
    if result.obb is None or len(result.obb) == 0:
        return []
    corners = np.clip(_np(result.obb.xyxyxyxyn), 0.0, 1.0).reshape(-1, 8)
    cls, score = _np(result.obb.cls), _np(result.obb.conf)
    rows = []
    for pts, c, s in zip(corners, cls, score, strict=True):
        x, y, w, h = bounds(tuple(pts.tolist()))
        if w <= 0 or h <= 0:
            stats.dropped += 1
            continue
        rows.append(Box(int(c), x, y, w, h, "pseudo_label", float(s), generator, "obb", tuple(pts.tolist()), 2))
    return rows


def kpt_dims(model: Any) -> int:
    """2 or 3: the numbers per keypoint of a pose model (its ``kpt_shape``)."""
    shape = getattr(getattr(model, "model", None), "kpt_shape", None) or (0, 3)
    return int(shape[1])


def predict_rows(
    model: Any,
    task: str,
    images: Sequence[Any],
    *,
    generator: str,
    conf: float = 0.25,
    iou: float = 0.7,
    imgsz: int | None = None,
    device: str | None = None,
    batch: int = 16,
    options: RowOptions | None = None,
    stats: RowStats | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> list[list[Box]]:
    """The pseudo-label rows ``model`` (an ``ultralytics.YOLO`` of ``task``) gives each image (see module doc)."""
    opts = options or RowOptions()
    stats = stats if stats is not None else RowStats()
    if task == "detect":
        arrays = predict_boxes(model, images, conf=conf, iou=iou, imgsz=imgsz, device=device, batch=batch,
                               on_batch=on_batch)
        return [[Box(int(c), x, y, w, h, "pseudo_label", s, generator) for c, x, y, w, h, s in a.tolist()]
                for a in arrays]
    kwargs: dict[str, Any] = {"conf": conf, "iou": iou, "verbose": False, "batch": batch}
    if imgsz is not None:
        kwargs["imgsz"] = imgsz
    if device is not None:
        kwargs["device"] = device
    dims = kpt_dims(model) if task == "pose" else 0
    out: list[list[Box]] = []
    for start in range(0, len(images), batch):
        chunk = [as_rgb(im) for im in images[start : start + batch]]
        for result in model.predict(chunk, **kwargs):
            if task == "segment":
                out.append(_segment(result, generator, opts, stats))
            elif task == "classify":
                out.append(_classify(result, generator, conf))
            elif task == "pose":
                out.append(_pose(result, generator, opts, dims))
            else:
                out.append(_obb(result, generator, stats))
        if on_batch is not None:
            on_batch(len(chunk))
    return out
