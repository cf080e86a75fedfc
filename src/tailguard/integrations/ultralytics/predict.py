"""Running a YOLO detector over images and reading its boxes as plain arrays.

:func:`predict_boxes` is the one place tailguard calls ``model.predict``: pseudo-labelling
and the ``yolo`` simulator family both use it. Each image's result is a float array
``(k, 6)`` of ``class_id, x_center, y_center, width, height, confidence`` with
coordinates normalised to [0, 1] (YOLO label convention), sorted by confidence.

>>> import numpy as np
>>> boxes = np.array([[3, 0.5, 0.5, 0.2, 0.2, 0.4], [1, 0.2, 0.2, 0.1, 0.1, 0.9]])
>>> top_boxes(boxes, 1)[:, 0].tolist()
[1.0]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

BOX_COLUMNS: tuple[str, ...] = ("class_id", "x", "y", "w", "h", "confidence")


def top_boxes(boxes: np.ndarray, k: int | None) -> np.ndarray:
    """The ``k`` most confident rows of a ``(n, 6)`` box array (all of them when ``k`` is None)."""
    order = np.argsort(-boxes[:, 5], kind="stable")
    return boxes[order if k is None else order[:k]]


def as_rgb(image: Any) -> Any:
    """A PIL image or a grey/RGB uint8 array as something ``YOLO.predict`` reads as RGB.

    Arrays are turned into PIL images (Ultralytics reads raw arrays as BGR, PIL images as RGB).
    """
    from PIL import Image

    if isinstance(image, Image.Image):
        return image if image.mode == "RGB" else image.convert("RGB")
    arr = np.asarray(image)
    if arr.ndim == 2:
        return Image.fromarray(arr.astype(np.uint8, copy=False), mode="L").convert("RGB")
    return Image.fromarray(arr.astype(np.uint8, copy=False)).convert("RGB")


def predict_boxes(
    model: Any,
    images: Sequence[Any],
    *,
    conf: float = 0.25,
    iou: float = 0.7,
    imgsz: int | None = None,
    device: str | None = None,
    batch: int = 16,
    max_det: int = 300,
    on_batch: Callable[[int], None] | None = None,
) -> list[np.ndarray]:
    """Boxes that ``model`` (an ``ultralytics.YOLO``) finds in each image, one ``(k, 6)`` array each.

    ``images`` are PIL images or uint8 arrays (grey or RGB). ``on_batch(n)`` is called with the
    number of images done after each batch (for progress bars).
    """
    kwargs: dict[str, Any] = {"conf": conf, "iou": iou, "max_det": max_det, "verbose": False, "batch": batch}
    if imgsz is not None:
        kwargs["imgsz"] = imgsz
    if device is not None:
        kwargs["device"] = device
    out: list[np.ndarray] = []
    for start in range(0, len(images), batch):
        chunk = [as_rgb(im) for im in images[start : start + batch]]
        for result in model.predict(chunk, **kwargs):
            b = result.boxes
            if b is None or len(b) == 0:
                out.append(np.zeros((0, 6), dtype=np.float64))
                continue
            xywhn = b.xywhn.detach().cpu().numpy().astype(np.float64)
            cls = b.cls.detach().cpu().numpy().astype(np.float64)[:, None]
            score = b.conf.detach().cpu().numpy().astype(np.float64)[:, None]
            rows = np.concatenate([cls, np.clip(xywhn, 0.0, 1.0), score], axis=1)
            out.append(top_boxes(rows, None))
        if on_batch is not None:
            on_batch(len(chunk))
    return out
