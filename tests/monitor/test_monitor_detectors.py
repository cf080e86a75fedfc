"""Each river detector fires on a lasting shift of a series and not on its noise; the scale comes from
the warm-up; river is imported lazily with the install hint; parameters are validated."""

from __future__ import annotations

import re
import sys

import numpy as np
import pytest

from tailguard.errors import MissingDependencyError, ParameterError
from tailguard.monitor import DETECTORS, DetectorSpec, MonitorConfig, SeriesWatch


def fired_at(spec: DetectorSpec, values, warmup: int = 15) -> list[int]:
    watch = SeriesWatch("s", spec, warmup=warmup)
    return [i for i, v in enumerate(values) if watch.update(float(v))]


@pytest.mark.parametrize("detector", DETECTORS)
def test_a_shift_of_three_standard_deviations_alarms_and_noise_does_not(detector):
    spec = MonitorConfig(detector=detector).spec()
    rng = np.random.default_rng(0)
    level = 20.0 + rng.normal(size=100)  # a Vendi-like series: level 20, sd 1
    assert fired_at(spec, level) == []  # 100 stationary windows, no alarm
    shifted = np.concatenate([level[:40], level[40:] - 3.0])
    hits = fired_at(spec, shifted)
    assert hits and 40 <= hits[0] <= 40 + 15, hits


def test_the_scale_is_the_warm_up_spread_so_parameters_are_in_standard_deviations():
    rng = np.random.default_rng(1)
    spec = DetectorSpec()
    small = 0.05 + 0.002 * rng.normal(size=60)  # a tail share: same shape, 10,000 times smaller
    small[30:] -= 0.006
    large = 20.0 + 1.0 * (small - 0.05) / 0.002
    assert fired_at(spec, small) == fired_at(spec, large) != []
    watch = SeriesWatch("flat", spec, warmup=5)
    for _ in range(5):
        watch.update(1.0)  # did not move during warm-up: the scale is floored at 2% of the mean
    assert watch.scale == pytest.approx(0.02)
    assert not watch.update(float("nan")) and watch.n == 5  # a non-finite value is skipped


def test_river_is_imported_when_a_detector_is_built_with_the_install_hint(monkeypatch):
    import tailguard.monitor  # noqa: F401  (importing the package needs no river)

    monkeypatch.setitem(sys.modules, "river.drift", None)  # as if river were not installed
    with pytest.raises(MissingDependencyError, match=r"pip install 'tailguard\[watch\]'"):
        DetectorSpec().build(10)


def test_parameters_are_validated_in_one_line():
    with pytest.raises(ParameterError, match=re.escape("The 'window' parameter of MonitorConfig must be an int >= 2. Got 0.")):
        MonitorConfig(window=0)
    with pytest.raises(ParameterError, match=re.escape("'threshold' parameter of MonitorConfig must be a float > 0.0")):
        MonitorConfig(threshold=0)
    with pytest.raises(ParameterError, match=r"kswin_stat_size \(30\) must be below kswin_window \(30\)"):
        MonitorConfig(detector="kswin", kswin_stat_size=30).spec().build(10)
