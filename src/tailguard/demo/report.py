"""The demo's single HTML page: what collapsed, where, and which policy prevented it.

It renders the stored simulation results and audit reports (no metric is
recomputed) with figures inlined, so the file can be mailed or opened offline.
"""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tailguard.demo.run import DemoResult, FamilyOutcome

FAMILY_BLURBS = {
    "gmm": (
        "A Gaussian mixture fitted to 2-D data with a rare, far-out component, as in the Nature 2024 paper. "
        "Each generation fits a new mixture to samples from the previous one."
    ),
    "ngram": (
        "A word n-gram language model trained on the English text of Python's documentation. "
        "Each generation learns from text the previous model wrote."
    ),
    "digits": (
        "An image generator (PCA + a Gaussian mixture per class) trained on real handwritten digits with "
        "some digits much rarer than others. A fixed classifier trained on human digits judges the images."
    ),
}

POLICY_BLURBS = {
    "replace": "train only on the previous generation's output (what happens when synthetic data floods in)",
    "accumulate": "keep all data so far, human and synthetic",
    "anchor:0.2": "at least 20% of every training set is verified human data",
}


def _pct(x: float) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{x * 100:+.0f}%"


def _status_of_change(change: float) -> str:
    if not math.isfinite(change):
        return "warn"
    if change <= -0.25:
        return "collapse"
    if change <= -0.10:
        return "warn"
    return "ok"


def _headline(outcome: FamilyOutcome) -> str:
    """One plain sentence per family comparing replace with the protective policies."""
    parts = []
    for policy in outcome.results.policies:
        change = outcome.worst_tail_change(policy)
        parts.append(f"{policy}: {_pct(change)}")
    worst_policy = min(outcome.results.policies, key=lambda p: _nan_high(outcome.worst_tail_change(p)))
    best_policy = max(outcome.results.policies, key=lambda p: _nan_low(outcome.worst_tail_change(p)))
    return (
        f"Worst tail metric change from generation 0 to the last: {', '.join(parts)}. "
        f"Most damage under <b>{html.escape(worst_policy)}</b>; best protection from "
        f"<b>{html.escape(best_policy)}</b>."
    )


def _nan_high(x: float) -> float:
    return x if math.isfinite(x) else math.inf


def _nan_low(x: float) -> float:
    return x if math.isfinite(x) else -math.inf


def _family_section(outcome: FamilyOutcome, out_dir: Path) -> dict[str, Any]:
    from tailguard.simulate.report import metric_figure, samples_figure

    res = outcome.results
    figures = [metric_figure(res, m) for m in res.tail_metrics()[:2]]
    pictures = []
    for policy in res.policies:
        first, last = res.first_samples(policy), res.last_samples(policy)
        if first is None or last is None:
            continue
        if res.extra.get("sample_kind") == "text":
            texts = res.extra.get("sample_text", {}).get(policy, {})
            pictures.append({"policy": policy, "first_text": texts.get("first", [])[:4],
                             "last_text": texts.get("last", [])[:4]})
        else:
            uri = samples_figure(res.extra.get("sample_kind", "hist"), first, last, res.generations)
            if uri:
                pictures.append({"policy": policy, "uri": uri})
    metric_help = [{"name": k, "description": v.get("description", ""), "tail": v.get("tail", False)}
                   for k, v in res.metrics.items()]
    audits = []
    items = list(outcome.audits.items())
    if outcome.baseline is not None:
        items.insert(0, ("generation-0", outcome.baseline))
    for policy, report in items:
        degraded = [r for r in report.metrics if r.status != "ok"][:5]
        audits.append({
            "policy": "generation 0 (baseline)" if policy == "generation-0" else f"last generation, {policy}",
            "verdict": report.verdict,
            "diagnosis": report.diagnosis.mode,
            "summary": report.diagnosis.summary,
            "trap": report.averages_trap.message if report.averages_trap.triggered else "",
            "degraded": [f"{r.name} ({r.status}, ratio {r.ratio:.2f})" if r.ratio is not None
                         else f"{r.name} ({r.status})" for r in degraded],
            "link": f"audits/{outcome.family}-{policy.replace(':', '_')}/report.html",
        })
    return {
        "name": outcome.family,
        "blurb": FAMILY_BLURBS.get(outcome.family, ""),
        "headline": _headline(outcome),
        "figures": figures,
        "pictures": pictures,
        "metric_help": metric_help,
        "audits": audits,
        "link": str(outcome.report_path.relative_to(out_dir)) if outcome.report_path else "",
    }


def render_demo_html(result: DemoResult) -> str:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("tailguard.demo", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
    )
    rows = result.verdict_table()
    for row in rows:
        row["change_text"] = _pct(row["worst_tail_change"])
        row["trend_status"] = _status_of_change(row["worst_tail_change"])
    first = result.families[0].results if result.families else None
    context = {
        "rows": rows,
        "families": [_family_section(f, result.out_dir) for f in result.families],
        "policy_blurbs": POLICY_BLURBS,
        "ingested": result.ingested,
        "ledger_url": result.ledger_url,
        "elapsed": f"{result.elapsed_s:.0f}",
        "generations": first.generations if first else 0,
        "seeds": first.config.get("seeds") if first else 0,
    }
    return env.get_template("demo.html.j2").render(**context)


def write_demo_report(result: DemoResult) -> Path:
    result.report.write_text(render_demo_html(result), encoding="utf-8")
    return result.report
