"""What each dashboard page shows, as JSON-ready dictionaries read from the ledger's public API.

The HTML pages and their ``/api/...`` twins are rendered from the same dictionary, so the
JSON is exactly what a page shows (charts are drawn from it; nothing else is computed).

>>> import os, tempfile
>>> from tailguard.ledger import Ledger, NewSample
>>> url = "sqlite:///" + os.path.join(tempfile.mkdtemp(), "ledger.db")
>>> with Ledger.open(url) as ledger:
...     _ = ledger.add_samples([NewSample(b"a", None, "text", "human"), NewSample(b"b", None, "text", "synthetic",
...                                                                          generation=1)], as_version="v1")
...     page = versions_page(ledger)
>>> [(v["name"], v["n_members"], v["by_origin"], v["by_generation"]) for v in page["versions"]]
[('v1', 2, {'human': 1, 'synthetic': 1}, {'0': 1, '1': 1})]
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from tailguard.errors import ParameterError

if TYPE_CHECKING:
    from tailguard.ledger import Ledger, Lineage, ModelRun, RunMetric
    from tailguard.serve.cache import ImmutableReads

DIFF_LIMIT = 100
"""Sample ids listed per side of a diff (the counts are always whole; ``?limit=`` shows more)."""
HISTORY_LIMIT = 200
"""Audits of one reference drawn per chart by default (the newest; ``?last=`` changes it)."""
ALERT_PREFIX = "alert/recall_drop/"
"""Run metrics the Ultralytics callback records when a rare class's recall dropped (the value is the drop)."""
SIM_MARK = "-model"


def _generation_key(g: int | None) -> str:
    return "none" if g is None else str(g)


def _iso(value: Any) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _number(value: float | None) -> float | str | None:
    if value is None:
        return None
    return value if math.isfinite(value) else ("nan" if math.isnan(value) else ("inf" if value > 0 else "-inf"))


def check_limit(value: int, name: str) -> int:
    """A page-size parameter: an int >= 1 (ParameterError naming it otherwise)."""
    if value < 1:
        raise ParameterError(f"The '{name}' parameter must be an int >= 1. Got {value}.")
    return value


# ------------------------------------------------------------------ versions
def versions_page(ledger: Ledger, cache: ImmutableReads | None = None) -> dict[str, Any]:
    """Every version, oldest first, with its counts and its composition by origin and generation
    (read once per version with a ``cache``: versions are immutable)."""
    versions = ledger.list_versions()
    comps = ledger.version_compositions() if cache is None else cache.compositions(ledger, versions)
    out = []
    for v in versions:
        comp = comps.get(v.name)
        by_origin = comp.by_origin if comp is not None else {}
        by_generation = comp.by_generation if comp is not None else {}
        n = v.n_members
        out.append({
            "name": v.name, "created_at": _iso(v.created_at), "n_members": n, "n_distinct": v.n_distinct,
            "description": v.description, "digest": v.digest,
            "by_origin": by_origin, "by_generation": {_generation_key(g): c for g, c in by_generation.items()},
            "human_fraction": by_origin.get("human", 0) / n if n else None,
        })
    return {"versions": out, "n_versions": len(out)}


# ------------------------------------------------------------------ diff
def diff_page(ledger: Ledger, a: str | None, b: str | None, *, limit: int = DIFF_LIMIT,
              cache: ImmutableReads | None = None) -> dict[str, Any]:
    """The diff of versions ``a`` and ``b`` (default: the two newest), every count whole, ``limit`` ids listed
    (read once per pair with a ``cache``)."""
    check_limit(limit, "limit")
    names = [v.name for v in ledger.list_versions()]
    if a is None and b is None and len(names) >= 2:
        a, b = names[-2], names[-1]
    page: dict[str, Any] = {"versions": names, "a": a, "b": b, "limit": limit, "diff": None}
    if a is None or b is None:
        return page
    d = ledger.diff(a, b) if cache is None else cache.diff(ledger, ledger.get_version(a), ledger.get_version(b))
    page["diff"] = {
        "n_added": len(d.added), "n_removed": len(d.removed), "n_origin_changed": len(d.origin_changed),
        "n_count_changed": len(d.count_changed),
        "added": d.added[:limit], "removed": d.removed[:limit],
        "origin_changed": [dataclasses.asdict(c) for c in d.origin_changed[:limit]],
        "count_changed": [dataclasses.asdict(c) for c in d.count_changed[:limit]],
    }
    return page


# ------------------------------------------------------------------ lineage
def node_href(node_id: str) -> str:
    """The dashboard page of a lineage node (its lineage, or the run's page)."""
    from urllib.parse import quote

    if node_id.startswith("version:"):
        return "/lineage?target=" + quote(node_id.removeprefix("version:"), safe="")
    if node_id.startswith("run:"):
        return "/runs/" + quote(node_id.removeprefix("run:"), safe="")
    return "/lineage?target=" + quote("sample:" + node_id, safe="")


def lineage_page(ledger: Ledger, target: str | None) -> tuple[dict[str, Any], Lineage | None]:
    """The lineage of ``target`` (a version, ``sample:ID``, ``run:ID`` or an id prefix; default the newest
    version) as nodes and edges, with the depth histogram."""
    if target is None:
        versions = ledger.list_versions()
        if not versions:
            return {"target": None, "lineage": None}, None
        target = versions[-1].name
    lin = ledger.lineage(target)
    return {"target": target, "lineage": {
        "target": lin.target, "kind": lin.kind,
        "nodes": [{**dataclasses.asdict(n), "href": node_href(n.id)} for n in lin.nodes],
        "edges": [dataclasses.asdict(e) for e in lin.edges],
        "depth_histogram": {str(k): v for k, v in lin.depth_histogram.items()},
    }}, lin


# ------------------------------------------------------------------ audits
def audits_page(ledger: Ledger, reference: str | None, *, last: int = HISTORY_LIMIT) -> dict[str, Any]:
    """The references with recorded audits; for one ``reference`` (default: the first), its last ``last`` audits
    and one series per metric row: each point's time, candidate, value, interval, status and audit verdict."""
    check_limit(last, "last")
    refs = ledger.audit_references()
    page: dict[str, Any] = {"references": [{"reference": r, "n_audits": n} for r, n in refs],
                            "reference": None, "audits": [], "metrics": [], "n_audits": 0, "last": last}
    if reference is None:
        if not refs:
            return page
        reference = refs[0][0]
    page["reference"] = reference
    summaries = ledger.audits(reference=reference)
    if not summaries:
        from tailguard.errors import UnknownChoiceError

        raise UnknownChoiceError("audited reference", reference, [r for r, _ in refs] or ["(none recorded)"])
    page["n_audits"] = len(summaries)
    kept = summaries[-last:]
    keep_ids = {a.id for a in kept}
    page["audits"] = [{"id": a.id, "created_at": _iso(a.created_at), "candidate": a.candidate,
                       "baseline": a.baseline, "verdict": a.verdict, "diagnosis": a.diagnosis,
                       "status_counts": a.status_counts, "source": a.source} for a in kept]
    series: dict[str, dict[str, Any]] = {}
    for p in ledger.audit_points(reference=reference, last=last):
        if p.audit_id not in keep_ids:
            continue
        s = series.setdefault(p.name, {"name": p.name, "family": p.family, "higher_is_better": p.higher_is_better,
                                       "points": []})
        s["points"].append({"audit_id": p.audit_id, "created_at": _iso(p.created_at), "candidate": p.candidate,
                            "verdict": p.verdict, "status": p.status,
                            "value": p.nonfinite.get("value", _number(p.value)),
                            "ci": [p.nonfinite.get("ci_low", _number(p.ci_low)),
                                   p.nonfinite.get("ci_high", _number(p.ci_high))]})
    page["metrics"] = list(series.values())
    return page


# ------------------------------------------------------------------ runs
def run_dict(run: ModelRun) -> dict[str, Any]:
    return {"id": run.id, "model_id": run.model_id, "trained_on": run.trained_on,
            "created_at": _iso(run.created_at), "n_produced": run.n_produced, "config": run.config,
            "extra": run.extra}


def runs_page(ledger: Ledger) -> dict[str, Any]:
    """Every model run, oldest first."""
    return {"runs": [run_dict(r) for r in ledger.model_runs()]}


def find_run(ledger: Ledger, target: str) -> ModelRun:
    """The run ``target`` names (an id or a unique prefix), else MissingInputError."""
    from tailguard.errors import MissingInputError
    from tailguard.ledger.lineage import pick_run

    runs = ledger.model_runs()
    run_id = pick_run(target, [r.id for r in runs])
    if run_id is None:
        raise MissingInputError(f"{target!r} is not a model run id (or unique prefix) in the ledger")
    return next(r for r in runs if r.id == run_id)


def _steps(metrics: Iterable[RunMetric]) -> list[int | None]:
    return sorted({m.step for m in metrics}, key=lambda s: (s is None, s if s is not None else 0))


def run_page(ledger: Ledger, target: str) -> dict[str, Any]:
    """One run: its metrics by step (``None`` = final, last), per-class metrics (``NAME/CLASS``) grouped by
    NAME with one value per class and step, and its recall-drop alerts."""
    run = find_run(ledger, target)
    metrics = ledger.run_metrics(run.id)
    alerts = [{"class_name": m.name.removeprefix(ALERT_PREFIX), "drop": m.value, "step": m.step}
              for m in metrics if m.name.startswith(ALERT_PREFIX)]
    rest = [m for m in metrics if not m.name.startswith(ALERT_PREFIX)]
    steps = _steps(rest)
    values = {(m.step, m.name): m.value for m in rest}  # a value recorded twice at one step keeps its last
    overall: list[str] = []
    per_class: dict[str, list[str]] = {}
    for name in dict.fromkeys(m.name for m in rest):
        head, sep, cls = name.rpartition("/")
        if sep and head and cls:
            per_class.setdefault(head, []).append(cls)
        else:
            overall.append(name)
    key = [_generation_key(s) for s in steps]
    return {
        "run": run_dict(run), "steps": key, "n_values": len(metrics),
        "overall": [{"name": n, "values": [values.get((s, n)) for s in steps]} for n in overall],
        "per_class": [{"metric": head, "classes": [{"class_name": c, "values": [values.get((s, f"{head}/{c}"))
                                                                                   for s in steps]}
                                                    for c in classes]}
                      for head, classes in per_class.items()],
        "alerts": alerts,
    }


# ------------------------------------------------------------------ simulations
def simulations_page(ledger: Ledger) -> dict[str, Any]:
    """Simulation chains recorded with ``simulate --record`` (runs whose config names a family and a policy),
    and the report files the ledger knows of them (a run's ``config`` or ``extra`` ``report`` key)."""
    chains: dict[str, dict[str, Any]] = {}
    for run in ledger.model_runs():
        if "family" not in run.config or "policy" not in run.config or SIM_MARK not in run.model_id:
            continue
        prefix = run.model_id.rsplit(SIM_MARK, 1)[0]
        chain = chains.setdefault(prefix, {"prefix": prefix, "family": run.config["family"],
                                           "policy": run.config["policy"], "runs": [], "reports": []})
        chain["runs"].append({"id": run.id, "generation": run.config.get("generation"),
                              "trained_on": run.trained_on, "n_produced": run.n_produced})
        for where in (run.extra, run.config):
            report = where.get("report")
            if isinstance(report, str) and report not in chain["reports"]:
                chain["reports"].append(report)
    listed = list(chains.values())
    return {"simulations": listed, "n_reports": sum(len(c["reports"]) for c in listed)}


__all__ = [
    "DIFF_LIMIT",
    "HISTORY_LIMIT",
    "audits_page",
    "check_limit",
    "diff_page",
    "find_run",
    "lineage_page",
    "node_href",
    "run_page",
    "runs_page",
    "simulations_page",
    "versions_page",
]
