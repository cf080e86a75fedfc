"""Audits kept in the ledger: record a report, read it back, re-render it.

A recorded audit is the report's stored result (:mod:`tailguard.ledger.audits`): reading it
back gives an :class:`~tailguard.audit.results.AuditReport` equal to the one the audit
returned, and ``report.html`` renders from it without recomputing a metric.

>>> import os, tempfile
>>> import numpy as np
>>> from tailguard.audit import AuditConfig, audit
>>> from tailguard.ledger import Ledger
>>> url = "sqlite:///" + os.path.join(tempfile.mkdtemp(), "ledger.db")
>>> rng = np.random.default_rng(0)
>>> report = audit(0.7 * rng.normal(size=(500, 4)), rng.normal(size=(500, 4)),
...                config=AuditConfig(quick=True, metrics=["tails"]), ledger=url)
>>> with Ledger.open(url) as ledger:
...     stored = load_audit(ledger, report.audit_id)
>>> stored.to_dict() == report.to_dict(), stored.verdict
(True, 'collapse')
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from tailguard.audit.results import AuditReport

if TYPE_CHECKING:
    from tailguard.ledger import Ledger


def record_audit(report: AuditReport, ledger: Ledger | str, *, source: str | None = None) -> int:
    """Store ``report`` in ``ledger`` (a :class:`~tailguard.ledger.Ledger` or a URL); returns the audit id,
    also set as ``report.audit_id``."""
    from tailguard.ledger import Ledger

    if isinstance(ledger, str):
        with Ledger.open(ledger) as opened:
            audit_id = opened.record_audit(report.to_dict(), source=source)
    else:
        audit_id = ledger.record_audit(report.to_dict(), source=source)
    report.audit_id = audit_id
    return audit_id


def load_audit(ledger: Ledger, audit_id: int) -> AuditReport:
    """The recorded audit ``audit_id`` as an :class:`AuditReport` (MissingInputError when absent)."""
    report = AuditReport.from_dict(ledger.audit_document(audit_id))
    report.audit_id = int(audit_id)
    return report


def render_recorded(ledger: Ledger, audit_id: int, out: str | Path) -> tuple[Path, Path]:
    """Write the recorded audit's ``report.json`` and ``report.html`` into ``out`` (nothing recomputed)."""
    return load_audit(ledger, audit_id).write(out)


def parse_audit_id(text: Any) -> int:
    """An audit id as the CLI takes it: ``7`` or ``audit:7`` (ParameterError otherwise).

    >>> parse_audit_id("audit:7"), parse_audit_id("7")
    (7, 7)
    """
    from tailguard.errors import ParameterError

    raw = str(text).removeprefix("audit:")
    if not raw.isdigit() or int(raw) < 1:
        raise ParameterError(f"an audit id is a number >= 1 as 'tailguard audits list' shows it. Got {text!r}.")
    return int(raw)
