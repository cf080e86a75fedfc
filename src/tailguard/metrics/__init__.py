"""Metrics that compare a candidate with a human reference; importing this package registers them all.

>>> from tailguard.metrics import METRICS
>>> "tail_mass" in METRICS and "prdc" in METRICS
True
"""

from tailguard.metrics import bulk, diversity, drift, fidelity, tails
from tailguard.metrics.base import METRICS, Metric, MetricResult, MetricValue, register_metric

__all__ = [
    "METRICS",
    "Metric",
    "MetricResult",
    "MetricValue",
    "bulk",
    "diversity",
    "drift",
    "fidelity",
    "register_metric",
    "tails",
]
