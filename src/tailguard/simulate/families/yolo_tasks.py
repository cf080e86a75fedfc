"""What the ``yolo`` family does differently per Ultralytics task (``task=detect|segment|classify``).

- **segment** runs on the built-in shapes (:func:`tailguard.data.shapes.compose_shapes`: five
  classes, Zipf-like weights, ``pentagon`` and ``hexagon`` rare), trains ``yolo26n-seg.yaml``
  and pseudo-labels mask polygons of at most ``max_vertices`` vertices; a row is
  ``[image_seed, image_index, n, (class, confidence, x1, y1, ..., xV, yV) * max_boxes]``
  (unused vertices -1). Metrics add the mask mAP (``mask_map50_95``, per class too).
- **classify** runs on real handwritten digits, one per image (scikit-learn's, upscaled to
  ``imgsz``; the detection set's class weights and rare classes ``seven``, ``eight``,
  ``nine``), trains ``yolo26n-cls.yaml`` and pseudo-labels the top-1 class at a probability of
  at least ``conf``; a row is ``[image_seed, image_index, n (0 or 1), class, confidence]``.
  Metrics: ``top1``, ``top5``, per-class top-1 ``recall/<class>`` and ``rare_recall``.

>>> [m.name for m in metric_specs("classify")][:3]
['top1', 'top5', 'rare_recall']
>>> row_width("segment", max_boxes=2, max_vertices=4), row_width("classify", 8, 24)
(23, 5)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tailguard.simulate.family import MetricSpec

HEAD = 3  # image_seed, image_index, n
DIGIT_NAMES: tuple[str, ...] = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
MODEL_YAML = {"detect": "yolo26n.yaml", "segment": "yolo26n-seg.yaml", "classify": "yolo26n-cls.yaml"}
RARE_SHAPE_SHARE = 0.15
"""segment: the rare shapes are the least likely ones whose expected shares add up to at most this."""


def class_names(task: str) -> tuple[str, ...]:
    from tailguard.data.shapes import SHAPE_NAMES

    return SHAPE_NAMES if task == "segment" else DIGIT_NAMES


def class_weights(task: str, exponent: float) -> np.ndarray:
    from tailguard.data.detection import class_weights as digit_weights
    from tailguard.data.shapes import shape_weights

    return shape_weights(exponent) if task == "segment" else digit_weights(len(DIGIT_NAMES), exponent)


def rare_classes(task: str, exponent: float) -> tuple[int, ...]:
    """detect, classify: the digits below a quarter of the uniform share; segment: see :data:`RARE_SHAPE_SHARE`."""
    from tailguard.data.detection import rare_classes as digit_rare

    if task != "segment":
        return digit_rare(len(DIGIT_NAMES), exponent)
    weights = class_weights(task, exponent)
    out, total = [], 0.0
    for cls in np.argsort(weights, kind="stable"):
        if total + weights[cls] > RARE_SHAPE_SHARE:
            break
        out.append(int(cls))
        total += float(weights[cls])
    return tuple(sorted(out))


def metric_specs(task: str) -> tuple[MetricSpec, ...]:
    """The family's metrics for ``segment`` or ``classify`` (detection keeps its own list)."""
    names = class_names(task)
    if task == "classify":
        specs = [
            MetricSpec("top1", True, description="top-1 accuracy on the fixed human-labelled validation set"),
            MetricSpec("top5", True, description="top-5 accuracy on the validation set"),
            MetricSpec("rare_recall", True, tail=True, description="mean top-1 recall of the rare classes"),
            MetricSpec("pseudo_rare_share_ratio", True, tail=True,
                       description="rare classes' share of the model's pseudo-labels / their share of human labels"),
            MetricSpec("pseudo_labelled_share", True,
                       description="share of fresh images whose top-1 probability reached conf"),
        ]
        specs += [MetricSpec(f"recall/{n}", True, description=f"top-1 recall of class {n!r}") for n in names]
        return tuple(specs)
    specs = [
        MetricSpec("map50_95", True, description="box mAP50-95 on the fixed human-labelled validation set"),
        MetricSpec("mask_map50_95", True, description="mask mAP50-95 on the validation set"),
        MetricSpec("mask_map50", True, description="mask mAP50 on the validation set"),
        MetricSpec("precision", True, description="mean per-class box precision (Ultralytics, at max F1)"),
        MetricSpec("recall", True, description="mean per-class box recall (Ultralytics, at max F1)"),
        MetricSpec("rare_recall", True, tail=True, description="mean mask recall of the rare classes"),
        MetricSpec("pseudo_rare_share_ratio", True, tail=True,
                   description="rare classes' share of the model's pseudo-label masks / their share of human masks"),
        MetricSpec("pseudo_masks_per_image", True, description="masks per image in the model's pseudo-labels"),
    ]
    specs += [MetricSpec(f"recall/{n}", True, description=f"mask recall of class {n!r}") for n in names]
    specs += [MetricSpec(f"mask_map50_95/{n}", True, description=f"mask mAP50-95 of class {n!r}") for n in names]
    return tuple(specs)


def row_width(task: str, max_boxes: int, max_vertices: int) -> int:
    if task == "classify":
        return HEAD + 2
    return HEAD + max_boxes * (2 + 2 * max_vertices)


def pack(task: str, seed: int, objects: Sequence[Sequence[tuple[int, float, Any]]], max_boxes: int,
         max_vertices: int) -> np.ndarray:
    """Rows of ``objects[i]`` = ``[(class, confidence, polygon (k, 2) or None), ...]`` of image ``i``."""
    width = row_width(task, max_boxes, max_vertices)
    rows = np.full((len(objects), width), -1.0)
    rows[:, 0] = seed
    rows[:, 1] = np.arange(len(objects))
    slot = 2 + 2 * max_vertices
    for i, objs in enumerate(objects):
        objs = list(objs)[: 1 if task == "classify" else max_boxes]
        rows[i, 2] = len(objs)
        for j, (cls, conf, poly) in enumerate(objs):
            if task == "classify":
                rows[i, HEAD : HEAD + 2] = (cls, conf)
                continue
            from tailguard.tasks.segment import simplify_polygon

            pts = np.asarray(poly, dtype=np.float64).reshape(-1, 2)
            if len(pts) > max_vertices:
                pts = np.asarray(simplify_polygon(pts, max_vertices, 0.002)[0]).reshape(-1, 2)
            start = HEAD + j * slot
            rows[i, start : start + 2] = (cls, conf)
            rows[i, start + 2 : start + 2 + pts.size] = pts.ravel()
    return rows


def unpack(task: str, row: np.ndarray, max_vertices: int) -> list[tuple[int, float, np.ndarray | None]]:
    """``[(class, confidence, polygon (k, 2) or None), ...]`` of one row."""
    n = int(row[2])
    if task == "classify":
        return [(int(row[HEAD]), float(row[HEAD + 1]), None)] if n else []
    slot = 2 + 2 * max_vertices
    out = []
    for j in range(n):
        start = HEAD + j * slot
        coords = np.asarray(row[start + 2 : start + slot], dtype=np.float64)
        pts = coords[: int(np.argmax(coords < 0)) if (coords < 0).any() else len(coords)].reshape(-1, 2)
        out.append((int(row[start]), float(row[start + 1]), pts))
    return out


def compose(task: str, n: int, seed: int, *, imgsz: int, exponent: float, max_objects: int,
            pool: np.ndarray) -> tuple[np.ndarray, list[list[tuple[int, float, Any]]]]:
    """``n`` images of ``seed`` with their true labels (confidence 1)."""
    if task == "segment":
        from tailguard.data.shapes import compose_shapes

        ds = compose_shapes(n, seed=seed, imgsz=imgsz, task="segment", exponent=exponent, max_objects=max_objects)
        return ds.images, [[(c, 1.0, poly) for c, poly in objs] for objs in ds.polygons]
    from PIL import Image

    from tailguard.data.tabular import load_digits

    digits = load_digits()
    rng = np.random.default_rng(seed)
    weights = class_weights(task, exponent)
    by_class = [pool[digits.y[pool] == c] for c in range(len(DIGIT_NAMES))]
    images = np.empty((n, imgsz, imgsz), dtype=np.uint8)
    labels = []
    for i, cls in enumerate(rng.choice(len(weights), size=n, p=weights)):
        row = int(rng.choice(by_class[cls]))
        ink = np.round(digits.images[row] * (255.0 / 16.0)).astype(np.uint8)
        images[i] = np.asarray(Image.fromarray(ink, mode="L").resize((imgsz, imgsz), Image.Resampling.BILINEAR))
        labels.append([(int(cls), 1.0, None)])
    return images, labels


def label_lines(objects: Sequence[tuple[int, float, Any]]) -> str:
    """segment: the polygon lines of one image's objects."""
    return "".join(f"{c} " + " ".join(f"{v:.6f}" for v in np.asarray(p).ravel()) + "\n"
                   for c, _s, p in objects if p is not None and len(p) >= 3)


def predicted_objects(task: str, model: Any, images: Sequence[Any], *, conf: float, imgsz: int, device: str,
                      batch: int, max_boxes: int, max_vertices: int) -> list[list[tuple[int, float, Any]]]:
    """What ``model`` labels each image with, as ``(class, confidence, polygon or None)``."""
    from tailguard.integrations.ultralytics.predict_rows import RowOptions, predict_rows

    rows = predict_rows(model, task, images, generator="", conf=conf, imgsz=imgsz, device=device, batch=batch,
                        options=RowOptions(max_vertices=max(max_vertices, 3)))
    out = []
    for boxes in rows:
        ranked = sorted(boxes, key=lambda b: -(b.confidence or 0.0))[:max_boxes]
        out.append([(b.class_id, float(b.confidence or 0.0),
                     np.asarray(b.points).reshape(-1, 2) if b.points else None) for b in ranked])
    return out
