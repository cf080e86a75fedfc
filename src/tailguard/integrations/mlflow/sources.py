"""What ``tailguard mlflow log SOURCE`` logs: an audit folder, a simulation folder, a recorded audit or a model run.

``SOURCE`` is one of:

- ``audit:ID``: an audit recorded in the ledger (``tailguard audits list``);
- ``run:ID``: a model run of the ledger (``tailguard runs list``; a unique prefix of 4+ hex digits will do);
- a folder written by ``tailguard audit --out`` (it holds ``report.json``) or ``tailguard simulate --out``
  (``results.json``), or that file itself.

>>> source_kind("audit:3"), source_kind("run:3f2a9c1d")
('recorded_audit', 'model_run')
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tailguard.errors import MissingInputError, ParameterError
from tailguard.integrations.mlflow.tracking import DEFAULT_EXPERIMENT

#: Kinds of source, as :func:`source_kind` names them
KINDS = ("recorded_audit", "model_run", "audit", "simulation")


@dataclass(frozen=True)
class Logged:
    """What was logged: the source's kind, the MLflow run ids (a simulation's parent first) and where."""

    kind: str
    run_ids: list[str]
    tracking_uri: str
    experiment: str


def source_kind(source: str | Path) -> str:
    """The kind of ``source`` (one of :data:`KINDS`); one-line errors for a missing or unknown path."""
    text = str(source)
    if text.startswith("audit:"):
        return "recorded_audit"
    if text.startswith("run:"):
        return "model_run"
    path = Path(text)
    if not path.exists():
        raise MissingInputError("no such folder or file (give an audit or simulate --out folder, audit:ID "
                                "or run:ID)", path=text)
    if path.is_file():
        kinds = {"report.json": "audit", "results.json": "simulation"}
        if path.name not in kinds:
            raise ParameterError(f"{text}: not a report.json (audit) or results.json (simulate)")
        return kinds[path.name]
    found = [kind for name, kind in (("report.json", "audit"), ("results.json", "simulation"))
             if (path / name).is_file()]
    if not found:
        raise MissingInputError("holds neither report.json (audit --out) nor results.json (simulate --out)",
                                path=text)
    if len(found) > 1:
        raise ParameterError(f"{text}: holds both report.json and results.json; name the one to log")
    return found[0]


def log_source(source: str | Path, *, ledger: str | None = None, tracking_uri: str | Path | None = None,
               experiment: str = DEFAULT_EXPERIMENT, run_name: str | None = None) -> Logged:
    """Log ``source`` (see the module doc) to MLflow; ``ledger`` is the ledger URL for ``audit:`` and ``run:``
    (``None``: ``$TAILGUARD_LEDGER``, then the default SQLite file; never created)."""
    from tailguard.integrations.mlflow.audit import log_audit, log_recorded_audit
    from tailguard.integrations.mlflow.runs import log_model_run
    from tailguard.integrations.mlflow.simulation import log_simulation
    from tailguard.integrations.mlflow.tracking import resolve_tracking_uri

    kind = source_kind(source)
    uri = resolve_tracking_uri(tracking_uri)
    if kind == "recorded_audit":
        ids = [log_recorded_audit(ledger, str(source), tracking_uri=uri, experiment=experiment, run_name=run_name)]
    elif kind == "model_run":
        ids = [log_model_run(ledger, str(source), tracking_uri=uri, experiment=experiment, run_name=run_name)]
    elif kind == "audit":
        ids = [log_audit(source, tracking_uri=uri, experiment=experiment, run_name=run_name)]
    else:
        ids = log_simulation(source, tracking_uri=uri, experiment=experiment, run_name=run_name).run_ids
    return Logged(kind, ids, uri, experiment)
