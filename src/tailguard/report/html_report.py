"""``report.html``: one self-contained page rendered from a stored audit report.

The page is a jinja2 template (``templates/report.html.j2``) filled with the
report's JSON and figures drawn by :mod:`tailguard.report.figures` from the
stored figure data. No metric is recomputed here.

>>> from tailguard.audit import AuditReport
>>> "Averages trap" in render_html(AuditReport(verdict="ok", modality="vectors", metrics=[]))
True

With a ``losses`` section, the page says what was lost ("What was lost"), with tables
of lost words and n-grams, column tails and classes, and examples (text excerpts,
image thumbnails, row values) of the reference's uncovered rarest points.
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


def _pct(v: Any) -> str:
    if not isinstance(v, int | float) or not math.isfinite(v):
        return _fmt(v)
    return f"{100 * v:.2g}%" if 0 < v < 0.01 else f"{v:.1%}"


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
    env.filters["pct"] = _pct
    return env


def render_html(report: AuditReport | dict[str, Any]) -> str:
    """The HTML page for ``report`` (an :class:`AuditReport` or its ``to_dict()``)."""
    from tailguard.audit.figure_data import per_feature_figures
    from tailguard.audit.loss_types import Losses

    data = report if isinstance(report, dict) else report.to_dict()
    figs = data.get("figures", {}) or {}
    stored_losses = data.get("losses") or None
    losses = Losses.from_dict(stored_losses) if stored_losses else None
    images: list[dict[str, str]] = []
    # per-feature histograms only where features have names (older reports stored them for text too)
    if figs.get("tail_histograms") and per_feature_figures(data.get("modality", "vectors")):
        images.append({"title": "Reference vs candidate tails", "uri": figures.tail_histogram_figure(
            figs["tail_histograms"])})
    if stored_losses and stored_losses.get("lengths"):
        images.append({"title": "Length in tokens", "uri": figures.length_figure(stored_losses["lengths"])})
    if stored_losses and stored_losses.get("rarity"):
        images.append({"title": "Coverage by rarity (counts on the bars)",
                       "uri": figures.rarity_figure(stored_losses["rarity"])})
    elif figs.get("coverage_by_decile", {}).get("coverage"):
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
    counts = {s: sum(1 for r in rows if r["status"] == s) for s in ("ok", "warn", "collapse", "insufficient")}
    return _environment().get_template("report.html.j2").render(
        r=data, rows=rows, images=images, counts=counts, colours=figures.STATUS_COLOURS,
        losses=losses, loss_sentences=losses.sentences() if losses else [],
    )


def write_html(report: AuditReport | dict[str, Any], path: str | Path) -> Path:
    """Write the self-contained page; returns the path."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(render_html(report), encoding="utf-8")
    return p
