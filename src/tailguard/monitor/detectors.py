"""Change detectors on a metric's per-window series, from ``river`` (the ``watch`` extra).

Each watched series (one metric row, e.g. ``vendi`` or ``tail_mass_0.05``) gets its own
detector. Metrics live on very different scales (a Vendi score near 20, a tail share near
0.05), so the series is first standardised by its own first ``warmup`` windows: the
detector sees ``z = (value - mean) / scale`` with ``scale`` the warm-up standard deviation,
floored at ``min_scale`` (2%) times the warm-up mean's magnitude (a series that did not move
during warm-up, such as a coverage of 1.0, would otherwise turn its first wobble into an
infinite z). Parameters are therefore in standard deviations of the stationary stream.

- ``page_hinkley`` (default): :class:`river.drift.PageHinkley`, a sequential test for a
  shift of the mean (a CUSUM of ``z - mean - delta``, both directions); it alarms when the
  sum passes ``threshold``. ``delta`` is the shift it tolerates, in z units. Collapse shows
  as a lasting shift of a tail or diversity metric's level, which is what this test is built
  for; its state is a few numbers per series.
- ``adwin``: :class:`river.drift.ADWIN`, an adaptive window that alarms when two sub-windows'
  means differ beyond a bound set by ``adwin_delta``; no magnitude to choose, but it keeps
  O(log n) buckets and needs more windows to see a change.
- ``kswin``: :class:`river.drift.KSWIN`, a Kolmogorov-Smirnov test between the last
  ``kswin_stat_size`` values and a sample of the ``kswin_window`` before them, at level
  ``kswin_alpha``; it sees changes of shape too, but tests at every window, so over many
  series and windows it raises more false alarms.

``benchmarks/monitor.py`` measures each one's alarm delay and false-alarm rate
(docs/monitoring.md).

>>> watch = SeriesWatch("vendi", DetectorSpec(), warmup=5)
>>> fired = [watch.update(v) for v in [20.0, 20.5, 19.5, 20.2, 19.8] + [20.1, 19.9] * 5 + [15.0] * 6]
>>> fired.index(True) - 15   # windows after the change (0: on the first changed window)
2
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from tailguard.dependencies import require
from tailguard.errors import ParameterError

DETECTORS = ("page_hinkley", "adwin", "kswin")


@dataclass(frozen=True)
class DetectorSpec:
    """Which detector, with its parameters (validated by :class:`tailguard.monitor.core.MonitorConfig`)."""

    name: str = "page_hinkley"
    delta: float = 0.5
    threshold: float = 25.0
    adwin_delta: float = 0.002
    kswin_alpha: float = 0.001
    kswin_window: int = 30
    kswin_stat_size: int = 10
    min_scale: float = 0.02

    def build(self, warmup: int) -> Any:
        """A fresh river detector (river imported here, with the install hint when it is missing)."""
        drift = require("river.drift", extra="watch", feature="the monitor's change detectors")
        if self.name == "page_hinkley":
            return drift.PageHinkley(min_instances=warmup, delta=self.delta, threshold=self.threshold, alpha=1.0,
                                     mode="both")
        if self.name == "adwin":
            return drift.ADWIN(delta=self.adwin_delta, clock=1, grace_period=warmup, min_window_length=2)
        if self.name == "kswin":
            if self.kswin_stat_size >= self.kswin_window:
                raise ParameterError(f"kswin_stat_size ({self.kswin_stat_size}) must be below kswin_window "
                                     f"({self.kswin_window})")
            return drift.KSWIN(alpha=self.kswin_alpha, window_size=self.kswin_window,
                               stat_size=self.kswin_stat_size, seed=0)
        raise ParameterError(f"unknown detector {self.name!r}; one of {', '.join(DETECTORS)}")


class SeriesWatch:
    """One series' standardisation and detector. Keeps the warm-up values (``warmup`` floats), the
    standardisation, the detector's state and the last value: nothing that grows with the stream."""

    def __init__(self, name: str, spec: DetectorSpec, *, warmup: int):
        self.name = name
        self.spec = spec
        self.warmup = warmup
        self._warm: list[float] = []
        self.mean: float | None = None
        self.scale: float | None = None
        self.detector = spec.build(warmup)
        self.n = 0
        self.last: float | None = None
        self.last_z: float | None = None

    def _feed(self, value: float) -> bool:
        assert self.mean is not None and self.scale is not None
        z = (value - self.mean) / self.scale
        self.last_z = z
        self.detector.update(z)
        return bool(self.detector.drift_detected)

    def update(self, value: float) -> bool:
        """Add one window's value; True when the detector fires on it. Non-finite values are skipped."""
        if not math.isfinite(value):
            return False
        self.n += 1
        self.last = value
        if self.mean is None:
            self._warm.append(value)
            if len(self._warm) < self.warmup:
                return False
            n = len(self._warm)
            self.mean = sum(self._warm) / n
            sd = math.sqrt(sum((v - self.mean) ** 2 for v in self._warm) / (n - 1)) if n > 1 else 0.0
            self.scale = max(sd, self.spec.min_scale * abs(self.mean), 1e-12)
            fired = False
            for v in self._warm:
                fired = self._feed(v) or fired
            self._warm = []
            return fired
        return self._feed(value)
