"""Recorded audits: each audit's verdict and diagnosis, and every judged number as a row.

The store takes and gives back the report's JSON form (``AuditReport.to_dict()``, the shape
of ``report.json``), so the ledger does not depend on the audit package. ``audits`` holds one
row per audit (candidate, reference, baseline, config id, verdict, diagnosis, sizes) and the
rest of the report (figures, losses, config, raw results) as JSON; ``audit_metrics`` one row
per metric row with its value, interval, status, reason and baseline fields, in report order.
Reading an audit back assembles the same dictionary from both tables: nothing is recomputed.

Non-finite numbers are strings in the report's JSON (``"inf"``, ``"-inf"``, ``"nan"``); a
float column holds NULL for them and the row's ``nonfinite`` column names the number, since
SQLite cannot store NaN.

>>> import os, tempfile
>>> from tailguard.ledger import Ledger
>>> url = "sqlite:///" + os.path.join(tempfile.mkdtemp(), "ledger.db")
>>> row = {"name": "vendi", "metric": "vendi", "family": "diversity", "value": 9.0, "reference_value": 10.0,
...        "ratio": 0.9, "higher_is_better": True, "status": "ok", "ci": [8.5, "inf"]}
>>> doc = {"verdict": "ok", "modality": "vectors", "candidate": "c", "reference": "r", "metrics": [row],
...        "diagnosis": {"mode": "none", "confidence": 0.0}}
>>> with Ledger.open(url) as ledger:
...     audit_id = ledger.record_audit(doc)
...     stored = ledger.audit_document(audit_id)
...     [(a.id, a.verdict, a.status_counts) for a in ledger.audits(reference="r")]
[(1, 'ok', {'ok': 1})]
>>> stored["metrics"][0]["ci"], stored["metrics"][0]["ratio"]
([8.5, 'inf'], 0.9)
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, func, insert, select

from tailguard.errors import MissingInputError, ParameterError
from tailguard.ledger import schema
from tailguard.ledger.encoding import aware, now
from tailguard.ledger.engine import read_connection, write_transaction

a_t = schema.audits
m_t = schema.audit_metrics

#: Report row keys stored as single float columns.
FLOAT_KEYS = ("value", "reference_value", "ratio", "degradation", "baseline_value")
#: Report row keys holding an interval ``[low, high]``, each stored as ``KEY_low`` / ``KEY_high``.
PAIR_KEYS = ("ci", "baseline_ci", "change_ci")
#: Report row keys stored as text as they are.
TEXT_KEYS = ("ci_method", "reason", "rule", "baseline_status")
NONFINITE = ("inf", "-inf", "nan")


@dataclass(frozen=True)
class AuditSummary:
    """One recorded audit as ``audits list`` shows it (the rows stay in the ledger)."""

    id: int
    created_at: dt.datetime
    candidate: str
    reference: str
    baseline: str | None
    config_id: str | None
    modality: str
    verdict: str
    diagnosis: str
    confidence: float
    n_candidate: int
    n_reference: int
    n_baseline: int
    source: str | None
    status_counts: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class AuditPoint:
    """One metric row of one recorded audit, as a point of that metric's history: the audit's time
    and verdict beside the row's value, interval and status. A non-finite value or interval end is
    ``None`` here, and ``nonfinite`` names it (``{"value": "inf"}``)."""

    audit_id: int
    created_at: dt.datetime
    candidate: str
    reference: str
    verdict: str
    name: str
    family: str
    value: float | None
    ci_low: float | None
    ci_high: float | None
    higher_is_better: bool
    status: str
    nonfinite: dict[str, str] = field(default_factory=dict)


def _number(value: Any, key: str, nonfinite: dict[str, str]) -> float | None:
    """A float column's value; non-finite numbers (as floats or the report's strings) go to ``nonfinite``."""
    if value is None:
        return None
    if isinstance(value, str):
        if value not in NONFINITE:
            raise ParameterError(f"metric row field {key!r} must be a number or one of {NONFINITE}. Got {value!r}.")
        nonfinite[key] = value
        return None
    v = float(value)
    if not math.isfinite(v):
        nonfinite[key] = "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
        return None
    return v


def _metric_row(audit_id: int, position: int, row: Mapping[str, Any]) -> dict[str, Any]:
    nonfinite: dict[str, str] = {}
    out: dict[str, Any] = {
        "audit_id": audit_id, "position": position, "name": str(row["name"]),
        "metric": str(row.get("metric", row["name"])), "family": str(row["family"]),
        "higher_is_better": int(bool(row["higher_is_better"])), "status": str(row["status"]),
    }
    for key in FLOAT_KEYS:
        out[key] = _number(row.get(key), key, nonfinite)
    for key in PAIR_KEYS:
        pair = row.get(key)
        if pair is not None and len(pair) != 2:
            raise ParameterError(f"metric row {row['name']!r}: {key!r} must be [low, high]. Got {pair!r}.")
        for end, i in (("low", 0), ("high", 1)):
            out[f"{key}_{end}"] = None if pair is None else _number(pair[i], f"{key}_{end}", nonfinite)
    for key in TEXT_KEYS:
        value = row.get(key)
        out[key] = ("" if key in ("reason", "rule") else None) if value is None else str(value)
    out["nonfinite"] = json.dumps(nonfinite, sort_keys=True)
    return out


def _row_dict(r: Any) -> dict[str, Any]:
    """A stored metric row back in the report's JSON form (``MetricRow.to_dict()``)."""
    nonfinite = json.loads(r.nonfinite)

    def num(key: str) -> Any:
        return nonfinite.get(key, getattr(r, key))

    d: dict[str, Any] = {"name": r.name, "metric": r.metric, "family": r.family, "value": num("value"),
                         "reference_value": num("reference_value"), "ratio": num("ratio"),
                         "higher_is_better": bool(r.higher_is_better), "status": r.status}
    for key in PAIR_KEYS:
        low, high = num(f"{key}_low"), num(f"{key}_high")
        stored = any(f"{key}_{end}" in nonfinite for end in ("low", "high"))
        d[key] = [low, high] if (low is not None or high is not None or stored) else None
    d["ci_method"] = r.ci_method
    d["degradation"] = num("degradation")
    d["reason"], d["rule"] = r.reason, r.rule
    d["baseline_value"] = num("baseline_value")
    d["baseline_status"] = r.baseline_status
    return d


class AuditStore:
    """Recorded audits of one ledger (see module doc); :class:`tailguard.ledger.Ledger` forwards to it."""

    def __init__(self, engine: Engine):
        self._engine = engine

    def record(self, report: Mapping[str, Any], *, source: str | None = None) -> int:
        """Store ``report`` (``AuditReport.to_dict()``) in one transaction; returns the audit's id."""
        for key in ("verdict", "metrics", "candidate", "reference"):
            if key not in report:
                raise ParameterError(f"an audit to record needs {key!r}; the report has {sorted(report)}")
        rest = {k: v for k, v in report.items() if k != "metrics"}
        diagnosis = report.get("diagnosis") or {}
        confidence = _number(diagnosis.get("confidence", 0.0), "confidence", {})
        values = {
            "created_at": now(), "candidate": str(report["candidate"]), "reference": str(report["reference"]),
            "baseline": None if report.get("baseline") is None else str(report["baseline"]),
            "config_id": (report.get("config") or {}).get("config_id"),
            "modality": str(report.get("modality", "unknown")), "verdict": str(report["verdict"]),
            "diagnosis": str(diagnosis.get("mode", "none")), "confidence": confidence or 0.0,
            "n_candidate": int(report.get("n_candidate", 0)), "n_reference": int(report.get("n_reference", 0)),
            "n_baseline": int(report.get("n_baseline", 0)), "source": source,
            "report": json.dumps(rest, allow_nan=False),  # key order kept: the page lists dicts in it
        }
        with write_transaction(self._engine) as conn:
            audit_id = int(conn.execute(insert(a_t).values(**values).returning(a_t.c.id)).scalar_one())
            rows = [_metric_row(audit_id, i, row) for i, row in enumerate(report["metrics"])]
            if rows:
                conn.execute(insert(m_t), rows)
        return audit_id

    def list(self, *, reference: str | None = None, candidate: str | None = None) -> list[AuditSummary]:
        """Recorded audits, oldest first, of one reference and/or candidate (exact names) or all."""
        filters = []
        if reference is not None:
            filters.append(a_t.c.reference == reference)
        if candidate is not None:
            filters.append(a_t.c.candidate == candidate)
        q = select(*[c for c in a_t.c if c.name != "report"]).where(*filters)
        # the status counts of the same audits, by a join (a monitor records thousands: no IN list of ids)
        counts = (select(m_t.c.audit_id, m_t.c.status, func.count().label("n"))
                  .select_from(m_t.join(a_t, a_t.c.id == m_t.c.audit_id)).where(*filters)
                  .group_by(m_t.c.audit_id, m_t.c.status))
        with read_connection(self._engine) as conn:
            rows = conn.execute(q.order_by(a_t.c.created_at, a_t.c.id)).all()
            by_audit: dict[int, dict[str, int]] = {}
            for audit_id, status, n in conn.execute(counts):
                by_audit.setdefault(int(audit_id), {})[status] = int(n)
        return [AuditSummary(
            r.id, aware(r.created_at), r.candidate, r.reference, r.baseline, r.config_id, r.modality, r.verdict,
            r.diagnosis, float(r.confidence), r.n_candidate, r.n_reference, r.n_baseline, r.source,
            dict(sorted(by_audit.get(r.id, {}).items()))) for r in rows]

    def points(self, *, reference: str | None = None, last: int | None = None) -> list[AuditPoint]:
        """Every metric row of the recorded audits (of one reference, or all; of the ``last`` N of them only),
        by audit time then report order.

        One query over ``audit_metrics`` joined to ``audits``: a history of thousands of audits is not
        read one document at a time.
        """
        filters = [] if reference is None else [a_t.c.reference == reference]
        if last is not None:
            if last < 1:
                raise ParameterError(f"The 'last' parameter of audit_points must be an int >= 1. Got {last}.")
            newest = (select(a_t.c.id).where(*filters).order_by(a_t.c.created_at.desc(), a_t.c.id.desc())
                      .limit(int(last)).subquery())
            filters.append(a_t.c.id.in_(select(newest.c.id)))
        q = (select(m_t.c.audit_id, a_t.c.created_at, a_t.c.candidate, a_t.c.reference, a_t.c.verdict, m_t.c.name,
                    m_t.c.family, m_t.c.value, m_t.c.ci_low, m_t.c.ci_high, m_t.c.higher_is_better, m_t.c.status,
                    m_t.c.nonfinite)
             .select_from(m_t.join(a_t, a_t.c.id == m_t.c.audit_id)).where(*filters)
             .order_by(a_t.c.created_at, a_t.c.id, m_t.c.position))
        with read_connection(self._engine) as conn:
            return [AuditPoint(int(r.audit_id), aware(r.created_at), r.candidate, r.reference, r.verdict, r.name,
                               r.family, r.value, r.ci_low, r.ci_high, bool(r.higher_is_better), r.status,
                               json.loads(r.nonfinite or "{}")) for r in conn.execute(q)]

    def references(self) -> list[tuple[str, int]]:
        """(reference, number of recorded audits against it), by name."""
        q = select(a_t.c.reference, func.count()).group_by(a_t.c.reference).order_by(a_t.c.reference)
        with read_connection(self._engine) as conn:
            return [(str(r), int(n)) for r, n in conn.execute(q)]

    def document(self, audit_id: int) -> dict[str, Any]:
        """The stored report of audit ``audit_id`` in its JSON form, rows read from ``audit_metrics``."""
        with read_connection(self._engine) as conn:
            head = conn.execute(select(a_t.c.report).where(a_t.c.id == int(audit_id))).first()
            if head is None:
                n = conn.execute(select(func.count()).select_from(a_t)).scalar_one()
                raise MissingInputError(f"audit {audit_id} is not in the ledger ({n} recorded; see "
                                        "'tailguard audits list')")
            rows = conn.execute(select(m_t).where(m_t.c.audit_id == int(audit_id)).order_by(m_t.c.position)).all()
        doc = json.loads(head.report)
        doc["metrics"] = [_row_dict(r) for r in rows]
        return doc
