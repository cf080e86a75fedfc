"""Metrics that compare a candidate with a human reference; importing this package registers them all.

Vector metrics: ``tail_mass``, ``rare_mode_coverage``, ``nn_distance_tail`` (tails), ``prdc`` (fidelity),
``covariance``, ``vendi`` (diversity), ``mmd``, ``ks``, ``psi``, ``c2st`` (drift),
``bulk_moments`` (bulk). Text, near-duplicate, categorical and detection-label
metrics live in ``text``, ``duplicates``, ``categorical`` and ``labels``; the segmentation,
pose and oriented-box label metrics in ``shapes``.

>>> from tailguard.metrics import METRICS
>>> "tail_mass" in METRICS and "prdc" in METRICS
True
"""

from tailguard.metrics import (
    bulk,
    categorical,
    diversity,
    drift,
    duplicates,
    fidelity,
    labels,
    shapes,
    tails,
    text,
)
from tailguard.metrics.base import METRICS, Metric, MetricResult, MetricValue, register_metric

__all__ = [
    "METRICS",
    "Metric",
    "MetricResult",
    "MetricValue",
    "bulk",
    "categorical",
    "diversity",
    "drift",
    "duplicates",
    "fidelity",
    "labels",
    "register_metric",
    "shapes",
    "tails",
    "text",
]
