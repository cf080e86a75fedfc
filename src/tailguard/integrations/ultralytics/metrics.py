"""Per-class validation metrics from an Ultralytics validation run, as flat ``name -> float``.

Names follow the ledger's metric convention ``"<metric>/<class name>"``:
``precision/<c>``, ``recall/<c>``, ``map50/<c>``, ``map50_95/<c>`` for every class with
instances in the validation set, plus the overall ``precision``, ``recall``, ``map50`` and
``map50_95``. Precision and recall are Ultralytics' per-class values at the confidence
that maximises the class's F1; a class with validation instances but no detection gets 0.

The other tasks (:func:`validation_metrics`) add their own: segmentation the mask metrics
``mask_precision``, ``mask_recall``, ``mask_map50``, ``mask_map50_95`` beside the box ones,
pose the keypoint (OKS) metrics ``pose_precision`` ... ``pose_map50_95``, oriented boxes the
box metrics of their rotated boxes; classification ``top1`` and ``top5`` overall and the
per-class top-1 recall as ``recall/<c>`` (the share of the class's validation images whose
top-1 prediction is the class), so the rare-class recall check reads every task alike.

>>> names = {0: "cat", 1: "dog"}
>>> flat = flatten_class_metrics(names, [0], [(0.5, 0.25, 0.4, 0.2)], (0.5, 0.25, 0.4, 0.2))
>>> flat["recall/cat"], flat["map50_95"]
(0.25, 0.2)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

PER_CLASS_METRICS: tuple[str, ...] = ("precision", "recall", "map50", "map50_95")
MASK_METRICS: tuple[str, ...] = tuple(f"mask_{m}" for m in PER_CLASS_METRICS)
POSE_METRICS: tuple[str, ...] = tuple(f"pose_{m}" for m in PER_CLASS_METRICS)


def flatten_class_metrics(
    names: Mapping[int, str],
    class_index: Sequence[int],
    class_results: Sequence[Sequence[float]],
    overall: Sequence[float],
    metric_names: Sequence[str] = PER_CLASS_METRICS,
) -> dict[str, float]:
    """Build the flat dict from per-class rows (one value per ``metric_names``) and the overall row."""
    flat = {name: float(v) for name, v in zip(metric_names, overall, strict=True)}
    for cid, row in zip(class_index, class_results, strict=True):
        cname = names[int(cid)]
        for name, v in zip(metric_names, row, strict=True):
            flat[f"{name}/{cname}"] = float(v)
    return flat


def class_top1_recall(names: Mapping[int, str], top1: Sequence[int], targets: Sequence[int]) -> dict[str, float]:
    """``recall/<c>``: the share of each class's images whose top-1 prediction is the class.

    >>> class_top1_recall({0: "a", 1: "b", 2: "c"}, [0, 1, 1, 2], [0, 0, 1, 1])
    {'recall/a': 0.5, 'recall/b': 0.5}
    """
    out: dict[str, float] = {}
    for cid in sorted(set(int(t) for t in targets)):
        hits = [int(p) == cid for p, t in zip(top1, targets, strict=True) if int(t) == cid]
        out[f"recall/{names[cid]}"] = sum(hits) / len(hits)
    return out


def validation_metrics(metrics: Any, validator: Any = None) -> dict[str, float] | None:
    """The flat metrics of any task's Ultralytics validation (``None`` for an unknown kind).

    ``validator`` (classification): the validator whose predictions give the per-class recall.
    """
    names = dict(getattr(metrics, "names", None) or getattr(validator, "names", None) or {})
    if hasattr(metrics, "top1"):  # ClassifyMetrics: no per-class values of its own
        flat = {"top1": float(metrics.top1), "top5": float(metrics.top5)}
        if validator is not None and getattr(validator, "pred", None) and getattr(validator, "targets", None):
            import torch

            top1 = torch.cat([p[:, 0] for p in validator.pred]).tolist()
            targets = torch.cat(list(validator.targets)).tolist()
            names = names or dict(getattr(validator.model, "names", {}) or {})
            flat.update(class_top1_recall(names, top1, targets))
        return flat
    if not hasattr(metrics, "ap_class_index"):
        return None
    index = [int(c) for c in metrics.ap_class_index]
    rows = [tuple(float(v) for v in metrics.class_result(i)) for i in range(len(index))]
    overall = tuple(float(v) for v in metrics.mean_results())
    extra = MASK_METRICS if hasattr(metrics, "seg") else POSE_METRICS if hasattr(metrics, "pose") else ()
    return flatten_class_metrics(names, index, rows, overall, (*PER_CLASS_METRICS, *extra))


def detection_metrics(det_metrics: Any) -> dict[str, float]:
    """Flatten an ``ultralytics.utils.metrics.DetMetrics`` (what ``YOLO.val()`` returns)."""
    names = dict(det_metrics.names)
    index = [int(c) for c in det_metrics.ap_class_index]
    rows = [tuple(float(v) for v in det_metrics.class_result(i)) for i in range(len(index))]
    overall = tuple(float(v) for v in det_metrics.mean_results())
    return flatten_class_metrics(names, index, rows, overall)
