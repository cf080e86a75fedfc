"""The streaming monitor: windows of model outputs audited against a reference, with change
detection on each tail and diversity metric's series (``tailguard monitor``; docs/monitoring.md).

``import tailguard.monitor`` needs no optional dependency; the detectors import ``river``
(``pip install 'tailguard[watch]'``) when a monitor is built.
"""

from tailguard.monitor.core import DEFAULT_SERIES, Alarm, Monitor, MonitorConfig, MonitorSummary, WindowResult
from tailguard.monitor.detectors import DETECTORS, DetectorSpec, SeriesWatch
from tailguard.monitor.sources import FileTail, FolderSource, LineSource, StdinSource, open_source

__all__ = [
    "DEFAULT_SERIES",
    "DETECTORS",
    "Alarm",
    "DetectorSpec",
    "FileTail",
    "FolderSource",
    "LineSource",
    "Monitor",
    "MonitorConfig",
    "MonitorSummary",
    "SeriesWatch",
    "StdinSource",
    "WindowResult",
    "open_source",
]
