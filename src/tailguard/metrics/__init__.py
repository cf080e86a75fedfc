"""Metrics that compare a candidate with a human reference; importing this package registers them all.

Vector metrics: ``tail_mass``, ``rare_mode_coverage`` (tails), ``prdc`` (fidelity),
``covariance``, ``vendi`` (diversity), ``mmd``, ``ks``, ``psi``, ``c2st`` (drift),
``bulk_moments`` (bulk). Text, near-duplicate, categorical and detection-label
metrics live in ``text``, ``duplicates``, ``categorical`` and ``labels``.

>>> from tailguard.metrics import METRICS
>>> "tail_mass" in METRICS and "prdc" in METRICS
True
"""

import importlib
import importlib.util

from tailguard.metrics import bulk, diversity, drift, fidelity, tails
from tailguard.metrics.base import METRICS, Metric, MetricResult, MetricValue, register_metric

# Modules still being written by their owner are imported once they exist.
for _module in ("text", "duplicates", "categorical", "labels"):
    if importlib.util.find_spec(f"tailguard.metrics.{_module}") is not None:
        importlib.import_module(f"tailguard.metrics.{_module}")

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
