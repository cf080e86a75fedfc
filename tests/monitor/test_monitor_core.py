"""The monitor loop in Python: alarm levels and --fail-on, the bounded history, recording, the leftover."""

from __future__ import annotations

import pytest

from tailguard.errors import ParameterError
from tailguard.ledger import Ledger
from tailguard.monitor import Alarm, Monitor, MonitorConfig, StdinSource, WindowResult
from tailguard.monitor.streams import docs_stream, reference_docs


def result(*statuses: str) -> WindowResult:
    alarms = tuple(Alarm(f"s{i}", 3, 1.0, -5.0, s, "page_hinkley") for i, s in enumerate(statuses))
    return WindowResult(3, 60, 79, "warn", 20, 2, {"s0": 1.0}, alarms)


def test_an_alarm_is_collapse_when_an_alarmed_row_reads_collapse_and_fail_on_compares_levels():
    assert result().level is None and not result().reaches("warn")
    warn = result("ok", "warn")
    assert warn.level == "warn" and warn.reaches("warn") and not warn.reaches("collapse")
    collapse = result("ok", "collapse")
    assert collapse.level == "collapse" and collapse.reaches("collapse") and collapse.reaches("warn")
    assert not collapse.reaches(None)
    assert "ALARM (collapse, page_hinkley): s0 z=-5.0, s1 z=-5.0" in collapse.line()


def test_history_is_bounded_windows_are_recorded_and_the_leftover_counted(tmp_path):
    import io
    import json

    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    monitor = Monitor(reference_docs(0, 300), MonitorConfig(window=10, history=2), ledger=url, label="s")
    lines = "".join(json.dumps({"text": t}) + "\n" for t in docs_stream(0, 45)).encode()
    summary = monitor.run(StdinSource(io.BytesIO(lines)))
    assert (summary.windows, summary.samples, summary.leftover, summary.alarms) == (4, 45, 5, 0)
    assert [r.index for r in monitor.history] == [2, 3]  # only the last two kept
    assert [r.audit_id for r in monitor.history] == [3, 4]
    with Ledger.open(url) as ledger:
        assert [a.candidate for a in ledger.audits()] == [f"s#window{i}" for i in range(4)]
    with pytest.raises(ParameterError, match="fail_on must be one of warn, collapse"):
        monitor.run(StdinSource(io.BytesIO(b"")), fail_on="ok")
