"""The streaming monitor: audit a stream of model outputs in windows and watch each metric's series.

Documents arrive from a :mod:`~tailguard.monitor.sources` source. Every ``window`` documents
are audited against the reference (the audit's text path, :func:`tailguard.audit.audit`,
with the reference embedded once), then dropped. The value of each watched row (by default
the tail and diversity rows, plus the text suite's lexical-diversity rows) is appended to
that row's series, and the row's change detector (:mod:`~tailguard.monitor.detectors`) sees
it. A detector that fires is an **alarm** on that window. Its level is ``collapse`` when one
of the alarmed rows reads ``collapse`` in that window's audit, else ``warn``.

What is kept, whatever the stream's length: the reference's features, the current window's
documents (at most ``window``), per watched series its detector's state, its warm-up values
and its last value, and the last ``history`` window results (their values and alarms, not
their documents). Recorded windows (``ledger=``) go to the ledger and are not kept.

>>> import numpy as np
>>> from tailguard.data import python_docs_sentences
>>> docs = python_docs_sentences()
>>> order = np.random.default_rng(0).permutation(len(docs))
>>> monitor = Monitor([docs[i] for i in order[:300]], MonitorConfig(window=25, warmup=4))
>>> results = [r for d in (docs[i] for i in order[300:400]) if (r := monitor.add(d)) is not None]
>>> [r.index for r in results], results[0].n_rows > 5
([0, 1, 2, 3], True)
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from tailguard.config import Configurable
from tailguard.errors import BadInputError, ParameterError
from tailguard.monitor.detectors import DETECTORS, DetectorSpec, SeriesWatch
from tailguard.monitor.sources import LineSource
from tailguard.validation import Custom, Float, Int, OneOf

#: Rows watched by default: these families, and these text rows (the text suite's lexical diversity).
DEFAULT_SERIES = ("tails", "diversity", "distinct_2", "vocabulary_size", "hapax_ratio")
LEVELS = ("warn", "collapse")


def _is_names(v: Any) -> bool:
    return isinstance(v, list | tuple) and len(v) > 0 and all(isinstance(x, str) and x for x in v)


class MonitorConfig(Configurable):
    """How the monitor runs.

    - ``window``: documents per audited window;
    - ``warmup``: windows that fix each series' standardisation before its detector may fire;
    - ``detector`` and its parameters (see :mod:`tailguard.monitor.detectors`): ``delta``,
      ``threshold`` (Page-Hinkley, in standard deviations), ``adwin_delta``, ``kswin_alpha``,
      ``kswin_window``, ``kswin_stat_size``; ``min_scale`` floors each series' scale;
    - ``series``: the rows to watch, by family or row name;
    - ``metrics``: the suite each window runs (families or names, as ``audit -m``);
    - ``history``: window results kept in memory (values and alarms only);
    - ``seed``: the audit's seed.

    >>> MonitorConfig(window=1)
    Traceback (most recent call last):
    ...
    tailguard.errors.ParameterError: The 'window' parameter of MonitorConfig must be an int >= 2. Got 1.
    """

    params = {
        "window": Int(min=2),
        "warmup": Int(min=2),
        "detector": OneOf(DETECTORS),
        "delta": Float(min=0.0),
        "threshold": Float(min=0.0, min_open=True),
        "adwin_delta": Float(min=0.0, max=1.0, min_open=True, max_open=True),
        "kswin_alpha": Float(min=0.0, max=1.0, min_open=True, max_open=True),
        "kswin_window": Int(min=4),
        "kswin_stat_size": Int(min=2),
        "min_scale": Float(min=0.0),
        "series": Custom("a non-empty list of row names or families", _is_names),
        "metrics": Custom("a non-empty list of metric names or families", _is_names),
        "history": Int(min=1),
        "seed": Int(min=0),
    }
    defaults = {
        "window": 50,
        "warmup": 15,
        "detector": "page_hinkley",
        "delta": 0.5,
        "threshold": 25.0,
        "adwin_delta": 0.002,
        "kswin_alpha": 0.001,
        "kswin_window": 30,
        "kswin_stat_size": 10,
        "min_scale": 0.02,
        "series": list(DEFAULT_SERIES),
        "metrics": ["tails", "diversity", "text"],
        "history": 1000,
        "seed": 0,
    }

    def __getattr__(self, name: str) -> Any:
        params = self.__dict__.get("_params")
        if params is not None and name in params:
            return params[name]
        raise AttributeError(name)

    def spec(self) -> DetectorSpec:
        p = self._params
        return DetectorSpec(p["detector"], p["delta"], p["threshold"], p["adwin_delta"], p["kswin_alpha"],
                            p["kswin_window"], p["kswin_stat_size"], p["min_scale"])


@dataclass(frozen=True)
class Alarm:
    """A detector fired on ``series`` at window ``window``."""

    series: str
    window: int
    value: float
    z: float
    status: str  # the row's status in that window's audit
    detector: str


@dataclass(frozen=True)
class WindowResult:
    """One audited window: what it covered, its verdict, the watched values and any alarms."""

    index: int
    first: int  # sample numbers (0-based) of its first and last document
    last: int
    verdict: str
    n_rows: int
    n_flagged: int
    values: dict[str, float]
    alarms: tuple[Alarm, ...] = ()
    audit_id: int | None = None
    seconds: float = 0.0
    where: str = ""  # the source position of its last document ("path:line")

    @property
    def level(self) -> str | None:
        """``collapse`` when an alarmed row reads collapse, ``warn`` for any other alarm, else None."""
        if not self.alarms:
            return None
        return "collapse" if any(a.status == "collapse" for a in self.alarms) else "warn"

    def reaches(self, fail_on: str | None) -> bool:
        """Whether this window's alarm level reaches ``fail_on`` (``warn`` or ``collapse``)."""
        level = self.level
        return fail_on is not None and level is not None and LEVELS.index(level) >= LEVELS.index(fail_on)

    def to_dict(self) -> dict[str, Any]:
        return {"window": self.index, "first": self.first, "last": self.last, "verdict": self.verdict,
                "rows": self.n_rows, "flagged": self.n_flagged,
                "values": {k: (v if math.isfinite(v) else str(v)) for k, v in self.values.items()},
                "alarms": [{"series": a.series, "value": a.value, "z": round(a.z, 4), "status": a.status,
                            "detector": a.detector} for a in self.alarms],
                "level": self.level, "audit_id": self.audit_id, "seconds": round(self.seconds, 4),
                "where": self.where}

    def line(self) -> str:
        """The one line the CLI prints for this window."""
        head = (f"window {self.index} (samples {self.first}-{self.last}): verdict {self.verdict}, "
                f"{self.n_flagged}/{self.n_rows} rows flagged")
        if self.audit_id is not None:
            head += f", audit {self.audit_id}"
        if not self.alarms:
            return head
        names = ", ".join(f"{a.series} z={a.z:+.1f}" for a in self.alarms)
        return f"{head}; ALARM ({self.level}, {self.alarms[0].detector}): {names}"


@dataclass
class MonitorSummary:
    """What a run saw: windows, samples, alarms, the leftover that did not fill a window."""

    windows: int = 0
    samples: int = 0
    leftover: int = 0
    alarms: int = 0
    first_alarm: int | None = None
    stopped_on: WindowResult | None = None
    series: dict[str, int] = field(default_factory=dict)  # watched row -> values seen


class Monitor:
    """Windows of documents audited against ``reference``, with a change detector per watched row.

    ``reference``: documents, a :class:`~tailguard.audit.inputs.AuditInput` or a
    :class:`~tailguard.audit.sources.Source`; it must be text. ``ledger`` (a Ledger or URL)
    records each window's audit, labelled ``label#window``.
    """

    def __init__(self, reference: Any, config: MonitorConfig | None = None, *, ledger: Any = None,
                 label: str = "stream", reference_label: str | None = None):
        from tailguard.audit import AuditConfig, as_input

        self.config = config or MonitorConfig()
        self.spec = self.config.spec()
        self.spec.build(self.config.warmup)  # river present and the parameters consistent, before any reading
        ref = as_input(reference, name="reference", seed=self.config.seed)
        if ref.modality != "text" or ref.texts is None:
            raise BadInputError(f"the monitor audits text; the reference is {ref.modality}",
                                path=getattr(reference, "label", "reference"))
        self.reference = ref
        self.reference_label = reference_label or getattr(reference, "label", "reference")
        self.audit_config = AuditConfig(quick=True, figures=False, domain_check=False,
                                        metrics=list(self.config.metrics))
        self.ledger = ledger
        self.label = label
        self.watches: dict[str, SeriesWatch] = {}
        self.history: deque[WindowResult] = deque(maxlen=self.config.history)
        self.summary = MonitorSummary()
        self._buffer: list[str] = []
        self._where = ""

    def _watched(self, rows: list[Any]) -> list[Any]:
        wanted = set(self.config.series)
        chosen = [r for r in rows if r.family in wanted or r.name in wanted or r.value_name in wanted]
        if not self.watches:  # the first window: every requested name must match a row
            known = {r.family for r in rows} | {r.name for r in rows} | {r.value_name for r in rows}
            missing = sorted(wanted - known)
            if missing:
                raise ParameterError(f"--series {', '.join(missing)} matches no row of the window audit; "
                                     f"rows: {', '.join(r.name for r in rows)}")
        return chosen

    def add(self, document: str, where: str = "") -> WindowResult | None:
        """Add one document; returns the window's result when it completes a window."""
        self._buffer.append(document)
        self._where = where
        self.summary.samples += 1
        if len(self._buffer) < self.config.window:
            return None
        window, self._buffer = self._buffer, []
        return self._audit(window)

    def _audit(self, window: list[str]) -> WindowResult:
        from tailguard.audit import audit

        start = time.perf_counter()
        index = self.summary.windows
        report = audit(window, self.reference, config=self.audit_config, seed=self.config.seed)
        report.candidate, report.reference = f"{self.label}#window{index}", self.reference_label
        audit_id = None
        if self.ledger is not None:
            from tailguard.audit.record import record_audit

            audit_id = record_audit(report, self.ledger, source=f"monitor:{self.label}")
        alarms, values = [], {}
        for row in self._watched(report.metrics):
            value = float(row.value)
            values[row.name] = value
            watch = self.watches.get(row.name)
            if watch is None:
                watch = self.watches[row.name] = SeriesWatch(row.name, self.spec, warmup=self.config.warmup)
            if watch.update(value):
                alarms.append(Alarm(row.name, index, value, watch.last_z or 0.0, row.status, self.spec.name))
            self.summary.series[row.name] = watch.n
        first = self.summary.samples - len(window)
        result = WindowResult(index, first, first + len(window) - 1, report.verdict, len(report.metrics),
                              sum(1 for r in report.metrics if r.status in ("warn", "collapse")), values,
                              tuple(alarms), audit_id, time.perf_counter() - start, self._where)
        self.summary.windows += 1
        if alarms:
            self.summary.alarms += 1
            if self.summary.first_alarm is None:
                self.summary.first_alarm = index
        self.history.append(result)
        return result

    def run(self, source: LineSource, *, fail_on: str | None = None, max_windows: int | None = None,
            poll_interval: float = 0.5, idle_timeout: float | None = None,
            on_window: Callable[[WindowResult], None] | None = None) -> MonitorSummary:
        """Read ``source`` until it is exhausted (or ``max_windows`` windows, or ``idle_timeout`` seconds
        without a line); with ``fail_on``, stop at the first window whose alarm reaches it
        (``summary.stopped_on``). Documents that do not fill a last window are counted in ``leftover``."""
        if fail_on is not None and fail_on not in LEVELS:
            raise ParameterError(f"fail_on must be one of {', '.join(LEVELS)}. Got {fail_on!r}.")
        for result in self.windows(source, max_windows=max_windows, poll_interval=poll_interval,
                                   idle_timeout=idle_timeout):
            if on_window is not None:
                on_window(result)
            if result.reaches(fail_on):
                self.summary.stopped_on = result
                break
        self.summary.leftover = len(self._buffer)
        return self.summary

    def windows(self, source: LineSource, *, max_windows: int | None = None, poll_interval: float = 0.5,
                idle_timeout: float | None = None) -> Iterator[WindowResult]:
        """Each window's result as the source fills it."""
        idle_since = time.monotonic()
        try:
            while max_windows is None or self.summary.windows < max_windows:
                lines = source.poll()
                for where, lineno, text in lines:
                    result = self.add(text, f"{where}:{lineno}")
                    if result is not None:
                        yield result
                        if max_windows is not None and self.summary.windows >= max_windows:
                            return
                if lines:
                    idle_since = time.monotonic()
                    continue
                if source.exhausted:
                    return
                if idle_timeout is not None and time.monotonic() - idle_since > idle_timeout:
                    return
                time.sleep(poll_interval)
        finally:
            source.close()
