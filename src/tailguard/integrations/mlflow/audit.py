"""An audit as one MLflow run: its judged numbers, its config and its reports.

What :func:`audit_payload` puts in the run (every key made MLflow-safe, see
:mod:`~tailguard.integrations.mlflow.names`):

- **metrics** (step 0), per metric row of the report: ``ROW`` (the candidate's value),
  ``reference/ROW``, ``ratio/ROW``, ``ci_low/ROW``, ``ci_high/ROW`` and, with a baseline,
  ``baseline/ROW`` (a number beside the value goes under its kind, as MLflow groups keys by their
  first ``/`` part, and a file store cannot hold both ``ROW`` and ``ROW/...``); then ``rows/ok``, ``rows/warn``, ``rows/collapse``, ``rows/insufficient``
  (how many rows have each status) and ``diagnosis/confidence``. A row whose status is
  ``insufficient`` logs no number at all, and a number that is not finite is left out: MLflow
  never shows a value the audit did not stand behind;
- **tags**: ``tailguard.verdict``, ``tailguard.diagnosis`` (the mode), ``tailguard.status.ROW``
  for every row (``insufficient`` included: that is where an unmeasured row shows),
  ``tailguard.insufficient_reason`` when the verdict is ``insufficient``, ``tailguard.audit_id``
  for a recorded audit, and the run's description: the report's summary line and diagnosis;
- **params**: ``candidate``, ``reference``, ``modality``, ``n_candidate``, ``n_reference``, ``seed``,
  the baseline's name and size when there is one, and the audit config as ``config.KEY``.

:func:`log_audit` adds ``report.json`` and ``report.html`` as artifacts: the files of an audit
folder (``tailguard audit --out DIR``) as they are, or, for a report object or a folder without
its HTML, rendered from the stored result (nothing is recomputed).

>>> from tailguard.audit import AuditReport, MetricRow
>>> rows = [MetricRow("vendi", "vendi", "diversity", 9.0, 10.0, 0.9, True, "ok", (8.5, 9.5)),
...         MetricRow("coverage#2", "coverage", "tails", 0.2, 0.5, 0.4, True, "insufficient")]
>>> p = audit_payload(AuditReport(verdict="ok", modality="vectors", metrics=rows))
>>> sorted(m.key for m in p.metrics if not m.key.startswith(("rows/", "diagnosis/")))
['ci_high/vendi', 'ci_low/vendi', 'ratio/vendi', 'reference/vendi', 'vendi']
>>> p.tags["tailguard.status.coverage_2"], p.tags["tailguard.verdict"]
('insufficient', 'ok')
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from tailguard.audit.results import AuditReport
from tailguard.audit.thresholds import INSUFFICIENT, ROW_STATUSES
from tailguard.errors import CorruptFileError, MissingInputError
from tailguard.integrations.mlflow.names import flatten_params, param_value, unique_keys
from tailguard.integrations.mlflow.tracking import DEFAULT_EXPERIMENT, Payload, Point, Tracker, note, tag_key

if TYPE_CHECKING:
    from tailguard.ledger import Ledger

#: Tag prefix of a row's status
STATUS_TAG = "tailguard.status."


def _finite(value: float | None) -> bool:
    return value is not None and isinstance(value, int | float) and math.isfinite(float(value))


def audit_payload(report: AuditReport) -> Payload:
    """The metrics, params and tags of ``report``'s run (see the module doc)."""
    keys = unique_keys(r.name for r in report.metrics)
    metrics: list[Point] = []
    tags = {"tailguard.kind": "audit", "tailguard.verdict": report.verdict,
            "tailguard.diagnosis": report.diagnosis.mode}
    for row in report.metrics:
        key = keys[row.name]
        tags[tag_key(STATUS_TAG, key)] = row.status
        if row.status == INSUFFICIENT:
            continue
        ci = row.ci or (None, None)
        for kind, value in (("", row.value), ("reference/", row.reference_value), ("ratio/", row.ratio),
                            ("ci_low/", ci[0]), ("ci_high/", ci[1]), ("baseline/", row.baseline_value)):
            if _finite(value):
                metrics.append(Point(kind + key, float(value)))  # type: ignore[arg-type]
    for status in ROW_STATUSES:
        metrics.append(Point(f"rows/{status}", float(len(report.rows(status=status)))))
    if _finite(report.diagnosis.confidence):
        metrics.append(Point("diagnosis/confidence", float(report.diagnosis.confidence)))
    if report.insufficient_reason:
        tags["tailguard.insufficient_reason"] = report.insufficient_reason
    if report.audit_id is not None:
        tags["tailguard.audit_id"] = str(report.audit_id)
    tags.update(note([report.summary(), report.diagnosis.summary, report.insufficient_reason]))
    params = {"candidate": report.candidate, "reference": report.reference, "modality": report.modality,
              "n_candidate": report.n_candidate, "n_reference": report.n_reference, "seed": report.seed}
    if report.baseline is not None:
        params.update(baseline=report.baseline, n_baseline=report.n_baseline)
    return Payload(metrics, {k: param_value(v) for k, v in params.items()}
                   | flatten_params(report.config, prefix="config."), tags)


def read_audit_dir(path: str | Path) -> tuple[AuditReport, Path]:
    """The report of an audit folder (or its ``report.json``) and the folder itself."""
    path = Path(path)
    folder = path.parent if path.is_file() else path
    doc = path if path.is_file() else path / "report.json"
    if not doc.exists():
        raise MissingInputError("no report.json here (write one with 'tailguard audit ... --out DIR')",
                                path=str(path))
    try:
        return AuditReport.from_json(doc.read_text(encoding="utf-8")), folder
    except (ValueError, KeyError, TypeError) as exc:
        raise CorruptFileError(f"not a tailguard report.json ({exc})", path=str(doc)) from exc


def log_audit(report: AuditReport | str | Path, *, tracking_uri: str | Path | None = None,
              experiment: str = DEFAULT_EXPERIMENT, run_name: str | None = None) -> str:
    """Log an audit as one MLflow run; returns its run id.

    ``report`` is an :class:`~tailguard.audit.results.AuditReport` (as ``audit()`` or
    ``load_audit`` return it) or an audit folder / its ``report.json``. ``tracking_uri`` and
    ``experiment`` choose where (see :class:`~tailguard.integrations.mlflow.tracking.Tracker`);
    ``run_name`` defaults to ``audit CANDIDATE vs REFERENCE``.
    """
    folder: Path | None = None
    if not isinstance(report, AuditReport):
        report, folder = read_audit_dir(report)
    tracker = Tracker(tracking_uri, experiment=experiment)
    name = run_name or f"audit {report.candidate} vs {report.reference}"
    with tempfile.TemporaryDirectory(prefix="tailguard-mlflow-") as tmp:
        if folder is not None and (folder / "report.html").exists():
            artifacts = [folder / "report.json", folder / "report.html"]
        else:
            artifacts = list(report.write(tmp))
        return tracker.log_run(audit_payload(report), run_name=name, artifacts=artifacts)


def log_recorded_audit(ledger: Ledger | str | None, audit_id: int | str, *, tracking_uri: str | Path | None = None,
                       experiment: str = DEFAULT_EXPERIMENT, run_name: str | None = None) -> str:
    """Log the audit recorded in ``ledger`` (a :class:`~tailguard.ledger.Ledger`, its URL, or None for the default ledger) as ``audit_id``
    (``7`` or ``audit:7``); the other arguments as :func:`log_audit`. The run carries ``tailguard.audit_id``."""
    from tailguard.audit.record import load_audit, parse_audit_id
    from tailguard.ledger import Ledger

    number = parse_audit_id(audit_id)
    if isinstance(ledger, Ledger):
        report = load_audit(ledger, number)
    else:
        with Ledger.open(None if ledger is None else str(ledger), create=False) as opened:
            report = load_audit(opened, number)
    return log_audit(report, tracking_uri=tracking_uri, experiment=experiment, run_name=run_name)
