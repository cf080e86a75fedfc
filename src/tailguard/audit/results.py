"""The audit's typed, JSON-serialisable result: :class:`AuditReport`.

Reports (``report.json``, ``report.html``) are rendered from this object or its
JSON alone; nothing is recomputed.

>>> row = MetricRow("tail_mass_ratio_0.01", "tail_mass", "tails", 0.5, 1.0, 0.5, True, "collapse", (0.4, 0.6))
>>> report = AuditReport(verdict="collapse", modality="vectors", metrics=[row])
>>> AuditReport.from_json(report.to_json()).metrics[0] == row
True
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from tailguard.audit.loss_types import Losses
from tailguard.metrics.base import MetricResult

SCHEMA_VERSION = 1


def _clean(v: Any) -> Any:
    """JSON-safe floats: non-finite numbers become strings ``"inf"``/``"nan"``."""
    if isinstance(v, float) and not math.isfinite(v):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
    if isinstance(v, dict):
        return {str(k): _clean(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_clean(x) for x in v]
    if hasattr(v, "item") and not isinstance(v, str | bytes):  # numpy scalars
        return _clean(v.item())
    return v


def _pair(v: Any) -> tuple[float, float] | None:
    return (float(_unclean(v[0])), float(_unclean(v[1]))) if v is not None else None


def _unclean(v: Any) -> Any:
    if v in ("inf", "-inf", "nan"):
        return float(v)
    return v


@dataclass(frozen=True)
class MetricRow:
    """One judged number of the audit (the rows of ``report.json``'s ``metrics``)."""

    name: str
    metric: str
    family: str
    value: float
    reference_value: float | None
    ratio: float | None
    higher_is_better: bool
    status: str
    ci: tuple[float, float] | None = None
    ci_method: str | None = None
    degradation: float | None = None
    reason: str = ""
    rule: str = ""
    #: With a baseline (see :mod:`tailguard.audit.baseline`): its value, interval and own status
    #: against the reference, and the interval of ``value - baseline_value``. ``status`` then
    #: judges the change from the baseline.
    baseline_value: float | None = None
    baseline_ci: tuple[float, float] | None = None
    baseline_status: str | None = None
    change_ci: tuple[float, float] | None = None

    @property
    def value_name(self) -> str:
        """The metric's own name for this value: rows are named ``metric.value`` or ``value#2`` when
        names repeat, and value names may hold dots themselves (``tail_mass_0.01``)."""
        name = self.name.split("#", 1)[0]
        prefix = f"{self.metric}."
        return name[len(prefix):] if name.startswith(prefix) else name

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for key in ("ci", "baseline_ci", "change_ci"):
            d[key] = list(d[key]) if d[key] is not None else None
        return _clean(d)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> MetricRow:
        ci = d.get("ci")
        return cls(
            name=d["name"],
            metric=d.get("metric", d["name"]),
            family=d["family"],
            value=_unclean(d["value"]),
            reference_value=_unclean(d.get("reference_value")),
            ratio=_unclean(d.get("ratio")),
            higher_is_better=bool(d["higher_is_better"]),
            status=d["status"],
            ci=_pair(ci),
            ci_method=d.get("ci_method"),
            degradation=_unclean(d.get("degradation")),
            reason=d.get("reason", ""),
            rule=d.get("rule", ""),
            baseline_value=_unclean(d.get("baseline_value")),
            baseline_ci=_pair(d.get("baseline_ci")),
            baseline_status=d.get("baseline_status"),
            change_ci=_pair(d.get("change_ci")),
        )


@dataclass(frozen=True)
class AveragesTrap:
    """Set when bulk metrics pass but tail or diversity metrics degrade."""

    triggered: bool
    message: str
    bulk_ok: tuple[str, ...] = ()
    degraded: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "triggered": self.triggered,
            "message": self.message,
            "bulk_ok": list(self.bulk_ok),
            "degraded": list(self.degraded),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AveragesTrap:
        return cls(bool(d["triggered"]), d["message"], tuple(d.get("bulk_ok", ())), tuple(d.get("degraded", ())))


@dataclass(frozen=True)
class Diagnosis:
    """The most likely failure mode with the evidence for it.

    ``mode`` is one of ``none``, ``model_collapse``, ``mode_collapse``,
    ``overfitting``, ``catastrophic_forgetting`` or ``drift``; ``scores`` holds
    every mode's score in [0, 1] so a reader sees the runner-up.
    """

    mode: str
    confidence: float
    evidence: tuple[str, ...]
    scores: dict[str, float] = field(default_factory=dict)
    summary: str = ""
    #: The metric rows the summary and evidence cite (each flagged in the table).
    cited: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return _clean(
            {
                "mode": self.mode,
                "confidence": self.confidence,
                "summary": self.summary,
                "evidence": list(self.evidence),
                "scores": dict(self.scores),
                "cited": list(self.cited),
            }
        )

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Diagnosis:
        return cls(
            d["mode"], float(d["confidence"]), tuple(d.get("evidence", ())), dict(d.get("scores", {})),
            d.get("summary", ""), tuple(d.get("cited", ())),
        )


@dataclass(repr=False)
class AuditReport:
    """Everything an audit found; ``to_json()`` is ``report.json``.

    ``figures`` holds the stored data the HTML report draws (histogram counts,
    coverage by rarity decile, class shares); ``results`` the raw
    :class:`~tailguard.metrics.base.MetricResult` dicts; ``losses`` what was lost in the
    user's terms (:class:`~tailguard.audit.loss_types.Losses`).
    """

    verdict: str
    modality: str
    metrics: list[MetricRow]
    averages_trap: AveragesTrap = field(default_factory=lambda: AveragesTrap(False, ""))
    diagnosis: Diagnosis = field(default_factory=lambda: Diagnosis("none", 0.0, ()))
    figures: dict[str, Any] = field(default_factory=dict)
    results: list[dict[str, Any]] = field(default_factory=list)
    n_candidate: int = 0
    n_reference: int = 0
    candidate: str = "candidate"
    reference: str = "reference"
    config: dict[str, Any] = field(default_factory=dict)
    thresholds: dict[str, Any] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    seed: int = 0
    elapsed_s: float = 0.0
    insufficient_reason: str = ""  # why the verdict is "insufficient" (empty otherwise)
    #: The baseline's label when statuses judge the change from a baseline (None: from the reference).
    baseline: str | None = None
    n_baseline: int = 0
    #: The baseline's own verdict against the reference (what it already lacked).
    baseline_verdict: str | None = None
    losses: Losses | None = None  # what was lost, in the user's terms (audit.losses)
    #: The text domain check (audit.domain): None when not run for this modality.
    domain: dict[str, Any] | None = None
    #: The ledger id of this audit once recorded (``audit(ledger=)``, ``audit --record``); not part of
    #: ``report.json``, whose content is what the ledger stores.
    audit_id: int | None = field(default=None, compare=False)

    # -- access --------------------------------------------------------------
    def row(self, name: str) -> MetricRow:
        """The row called ``name`` (KeyError lists the names)."""
        for r in self.metrics:
            if r.name == name:
                return r
        raise KeyError(f"no metric row {name!r}; rows: {[r.name for r in self.metrics]}")

    def rows(self, *, family: str | None = None, status: str | None = None) -> list[MetricRow]:
        return [
            r for r in self.metrics
            if (family is None or r.family == family) and (status is None or r.status == status)
        ]

    def metric_results(self) -> list[MetricResult]:
        return [MetricResult.from_dict(d) for d in self.results]

    # -- serialisation ---------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return _clean(
            {
                "schema_version": SCHEMA_VERSION,
                "verdict": self.verdict,
                "insufficient_reason": self.insufficient_reason,
                "modality": self.modality,
                "candidate": self.candidate,
                "reference": self.reference,
                "n_candidate": self.n_candidate,
                "n_reference": self.n_reference,
                "baseline": self.baseline,
                "n_baseline": self.n_baseline,
                "baseline_verdict": self.baseline_verdict,
                "baseline_note": self.baseline_note(),
                "metrics": [r.to_dict() for r in self.metrics],
                "averages_trap": self.averages_trap.to_dict(),
                "diagnosis": self.diagnosis.to_dict(),
                "figures": self.figures,
                "results": self.results,
                "config": self.config,
                "thresholds": self.thresholds,
                "skipped": self.skipped,
                "seed": self.seed,
                "elapsed_s": self.elapsed_s,
                "losses": self.losses.to_dict() if self.losses is not None else None,
                "domain": self.domain,
            }
        )

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> AuditReport:
        return cls(
            verdict=d["verdict"],
            insufficient_reason=d.get("insufficient_reason", ""),
            modality=d.get("modality", "unknown"),
            metrics=[MetricRow.from_dict(r) for r in d["metrics"]],
            averages_trap=AveragesTrap.from_dict(d.get("averages_trap", {"triggered": False, "message": ""})),
            diagnosis=Diagnosis.from_dict(d.get("diagnosis", {"mode": "none", "confidence": 0.0})),
            figures=d.get("figures", {}),
            results=d.get("results", []),
            n_candidate=int(d.get("n_candidate", 0)),
            n_reference=int(d.get("n_reference", 0)),
            baseline=d.get("baseline"),
            n_baseline=int(d.get("n_baseline", 0)),
            baseline_verdict=d.get("baseline_verdict"),
            candidate=d.get("candidate", "candidate"),
            reference=d.get("reference", "reference"),
            config=d.get("config", {}),
            thresholds=d.get("thresholds", {}),
            skipped=list(d.get("skipped", [])),
            seed=int(d.get("seed", 0)),
            elapsed_s=float(d.get("elapsed_s", 0.0)),
            losses=Losses.from_dict(d["losses"]) if d.get("losses") else None,
            domain=d.get("domain"),
        )

    @classmethod
    def from_json(cls, text: str) -> AuditReport:
        return cls.from_dict(json.loads(text))

    def write(self, out_dir: str | Path) -> tuple[Path, Path]:
        """Write ``report.json`` and a self-contained ``report.html`` into ``out_dir``."""
        from tailguard.report.html_report import write_html
        from tailguard.report.json_report import write_json

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        return write_json(self, out / "report.json"), write_html(self, out / "report.html")

    def baseline_note(self) -> str:
        """The paragraph explaining a baseline-relative audit (empty without a baseline)."""
        if self.baseline is None:
            return ""
        from tailguard.audit.baseline import explain

        return explain(self.metrics, candidate=self.candidate, reference=self.reference, baseline=self.baseline,
                       baseline_verdict=self.baseline_verdict)

    # -- notebooks -------------------------------------------------------------
    def __repr__(self) -> str:
        counts = {s: len(self.rows(status=s)) for s in ("collapse", "warn", "ok")}
        base = f", baseline={self.baseline!r}" if self.baseline is not None else ""
        return (
            f"AuditReport(verdict={self.verdict!r}, modality={self.modality!r}, candidate={self.candidate!r} "
            f"(n={self.n_candidate}), reference={self.reference!r} (n={self.n_reference}){base}, rows: "
            f"{counts['collapse']} collapse, {counts['warn']} warn, {counts['ok']} ok, "
            f"diagnosis={self.diagnosis.mode!r})"
        )

    def to_pandas(self) -> Any:
        """The metric rows as a pandas DataFrame, one row per judged number.

        >>> report = AuditReport(verdict="ok", modality="vectors", metrics=[
        ...     MetricRow("vendi", "vendi", "diversity", 9.0, 10.0, 0.9, True, "ok")])
        >>> report.to_pandas()[["name", "value", "status"]].to_dict("records")
        [{'name': 'vendi', 'value': 9.0, 'status': 'ok'}]
        """
        import pandas as pd

        columns = [f.name for f in fields(MetricRow)]
        return pd.DataFrame([{c: getattr(r, c) for c in columns} for r in self.metrics], columns=columns)

    def _repr_html_(self) -> str:
        """A compact table for Jupyter: the verdict, the diagnosis and the flagged rows first."""
        from html import escape

        def num(v: float | None) -> str:
            return "–" if v is None else f"{v:.4g}"

        order = {"collapse": 0, "warn": 1, "ok": 2}
        rows = sorted(self.metrics, key=lambda r: order.get(r.status, 3))
        base_head = "<th>baseline</th>" if self.baseline is not None else ""
        body = "".join(
            f"<tr><td>{escape(r.name)}</td><td>{escape(r.family)}</td><td>{num(r.value)}</td>"
            f"<td>{num(r.reference_value)}</td>"
            + (f"<td>{num(r.baseline_value)}</td>" if self.baseline is not None else "")
            + f"<td><b>{escape(r.status)}</b></td><td>{escape(r.reason)}</td></tr>"
            for r in rows
        )
        return (
            f"<div><p><b>tailguard audit: {escape(self.verdict)}</b> &middot; {escape(self.candidate)} "
            f"(n={self.n_candidate}) vs {escape(self.reference)} (n={self.n_reference})</p>"
            f"<p>{escape(self.diagnosis.summary or self.insufficient_reason)}</p>"
            f"<table><tr><th>metric</th><th>family</th><th>value</th><th>reference</th>{base_head}"
            f"<th>status</th><th>why</th></tr>{body}</table></div>"
        )

    def summary(self) -> str:
        """One line: verdict, counts and diagnosis."""
        counts = {s: len(self.rows(status=s)) for s in ("ok", "warn", "collapse")}
        return (
            f"verdict {self.verdict}: {counts['collapse']} collapse, {counts['warn']} warn, {counts['ok']} ok; "
            f"diagnosis {self.diagnosis.mode} ({self.diagnosis.confidence:.0%})"
        )
