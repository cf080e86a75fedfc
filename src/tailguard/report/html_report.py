"""``report.html``: one self-contained page rendered from a stored audit report.

The page is a jinja2 template (``templates/report.html.j2``) filled with the
report's JSON and figures drawn by :mod:`tailguard.report.figures` from the
stored figure data. No metric is recomputed here.

>>> from tailguard.audit import AuditReport
>>> "Averages trap" in render_html(AuditReport(verdict="ok", modality="vectors", metrics=[]))
True
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tailguard.report import figures

if TYPE_CHECKING:
    from tailguard.audit.results import AuditReport

FAMILY_ORDER = ("tails", "fidelity", "diversity", "drift", "text", "duplicates", "labels", "bulk")


def _fmt(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, int | float):
        if not math.isfinite(v):
            return str(v)
        if v != 0 and (abs(v) >= 1e5 or abs(v) < 1e-3):
            return f"{v:.3e}"
        return f"{v:.4g}"
    return str(v)


def _ci(v: Any) -> str:
    if not v:
        return "–"
    return f"[{_fmt(v[0])}, {_fmt(v[1])}]"


def _environment() -> Any:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("tailguard.report", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"], default=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["fmt"] = _fmt
    env.filters["ci"] = _ci
    return env


def render_html(report: AuditReport | dict[str, Any]) -> str:
    """The HTML page for ``report`` (an :class:`AuditReport` or its ``to_dict()``)."""
    data = report if isinstance(report, dict) else report.to_dict()
    figs = data.get("figures", {}) or {}
    images: list[dict[str, str]] = []
    if figs.get("tail_histograms"):
        images.append({"title": "Reference vs candidate tails", "uri": figures.tail_histogram_figure(
            figs["tail_histograms"])})
    if figs.get("coverage_by_decile", {}).get("coverage"):
        images.append({"title": "Coverage by rarity decile", "uri": figures.coverage_figure(
            figs["coverage_by_decile"])})
    if figs.get("class_shares", {}).get("classes"):
        images.append({"title": "Per-class shares", "uri": figures.class_share_figure(figs["class_shares"])})
    ratio_uri = figures.ratio_figure(data.get("metrics", []))
    if ratio_uri:
        images.append({"title": "Ratios to the reference", "uri": ratio_uri})
    rows = sorted(
        data.get("metrics", []),
        key=lambda r: (FAMILY_ORDER.index(r["family"]) if r["family"] in FAMILY_ORDER else len(FAMILY_ORDER)),
    )
    counts = {s: sum(1 for r in rows if r["status"] == s) for s in ("ok", "warn", "collapse")}
    return _environment().get_template("report.html.j2").render(
        r=data, rows=rows, images=images, counts=counts, colours=figures.STATUS_COLOURS
    )


def write_html(report: AuditReport | dict[str, Any], path: str | Path) -> Path:
    """Write the self-contained page; returns the path."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(render_html(report), encoding="utf-8")
    return p
