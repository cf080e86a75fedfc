"""Per-class validation metrics from an Ultralytics validation run, as flat ``name -> float``.

Names follow the ledger's metric convention ``"<metric>/<class name>"``:
``precision/<c>``, ``recall/<c>``, ``map50/<c>``, ``map50_95/<c>`` for every class with
instances in the validation set, plus the overall ``precision``, ``recall``, ``map50`` and
``map50_95``. Precision and recall are Ultralytics' per-class values at the confidence
that maximises the class's F1; a class with validation instances but no detection gets 0.

>>> names = {0: "cat", 1: "dog"}
>>> flat = flatten_class_metrics(names, [0], [(0.5, 0.25, 0.4, 0.2)], (0.5, 0.25, 0.4, 0.2))
>>> flat["recall/cat"], flat["map50_95"]
(0.25, 0.2)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

PER_CLASS_METRICS: tuple[str, ...] = ("precision", "recall", "map50", "map50_95")


def flatten_class_metrics(
    names: Mapping[int, str],
    class_index: Sequence[int],
    class_results: Sequence[Sequence[float]],
    overall: Sequence[float],
) -> dict[str, float]:
    """Build the flat dict from per-class ``(p, r, ap50, ap50_95)`` rows and the overall row."""
    flat = {name: float(v) for name, v in zip(PER_CLASS_METRICS, overall, strict=True)}
    for cid, row in zip(class_index, class_results, strict=True):
        cname = names[int(cid)]
        for name, v in zip(PER_CLASS_METRICS, row, strict=True):
            flat[f"{name}/{cname}"] = float(v)
    return flat


def detection_metrics(det_metrics: Any) -> dict[str, float]:
    """Flatten an ``ultralytics.utils.metrics.DetMetrics`` (what ``YOLO.val()`` returns)."""
    names = dict(det_metrics.names)
    index = [int(c) for c in det_metrics.ap_class_index]
    rows = [tuple(float(v) for v in det_metrics.class_result(i)) for i in range(len(index))]
    overall = tuple(float(v) for v in det_metrics.mean_results())
    return flatten_class_metrics(names, index, rows, overall)
