"""The demo's single HTML page: what collapsed, where, and which policy prevented it.

It renders the stored simulation results and audit reports (no metric is
recomputed) with figures inlined, so the file can be mailed or opened offline.
Every claim on it (the trend, the worst change, the headline) comes from
:mod:`tailguard.demo.evidence`, the same numbers ``demo.json`` holds.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tailguard.audit.thresholds import is_flagged
from tailguard.demo.evidence import num, pct

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
    "pseudolabel": (
        "A classifier (logistic regression) trained on a few human-labelled handwritten digits, three of them "
        "rare. Each generation labels fresh unlabelled digits itself and the next classifier trains on those "
        "pseudo-labels. Accuracy is measured on the data's own class mix; rare_recall on the rare digits."
    ),
}

POLICY_BLURBS = {
    "replace": "train only on the previous generation's output (what happens when synthetic data floods in)",
    "accumulate": "keep all data so far, human and synthetic",
    "anchor:0.2": "at least 20% of every training set is verified human data",
}


def figure_caption(results: Any, metrics: list[str], *, spread: bool) -> str:
    """What the demo's figures of ``metrics`` draw (those of :func:`tailguard.simulate.report.metric_plot`),
    written from the results: the seeds behind each mean, whether a CI band could be drawn, the
    spread and any theory.

    >>> from tailguard.simulate import simulate
    >>> res = simulate("gaussian", "replace", generations=2, seeds=3, sample_size=20)
    >>> print(figure_caption(res, ["variance_ratio"], spread=False))  # doctest: +NORMALIZE_WHITESPACE
    Lines: the mean over 3 seeds, one per policy; shaded bands: its 95% percentile bootstrap CI
    (2000 resamples of the seeds); dashed: the family's theory.
    """
    from tailguard.simulate.stats import CI_LEVEL, METHOD

    summaries = [results.summary(p, m) for p in results.policies for m in metrics]
    seeds = sorted({int(n) for s in summaries for n in (s.get("n") or []) if n is not None})
    many = "an unknown number of" if not seeds else str(seeds[-1]) if len(seeds) == 1 else f"{seeds[0]} to {seeds[-1]}"
    parts = [f"Lines: the mean over {many} seeds, one per policy"]
    has_ci = any(v is not None for s in summaries for v in (s.get("ci_low") or []))
    parts.append(f"shaded bands: its {CI_LEVEL:.0%} percentile bootstrap CI ({METHOD['n_boot']} resamples of the seeds)"
                 if has_ci else "no CI band (no interval could be computed: one seed, or no finite values)")
    if spread:
        parts.append("dotted: the 10–90% spread of the seeds")
    if any(results.theory(p, m) is not None for p in results.policies for m in metrics):
        parts.append("dashed: the family's theory")
    return "; ".join(parts) + "."


def _simulation_rows(outcome: FamilyOutcome) -> list[dict[str, Any]]:
    """The family's simulated changes as the page's table shows them (the numbers the sentences quote)."""
    rows = []
    for policy in outcome.results.policies:
        for c in outcome.evidence(policy).changes:
            if c.source != "simulation":
                continue
            rows.append({"policy": policy, "metric": c.metric, "first": num(c.first), "last": num(c.last),
                         "ci": f"[{num(c.ci_low)}, {num(c.ci_high)}]" if c.ci_text else "n/a",
                         "change": pct(c.change), "status": c.status, "against": c.against, "reason": c.reason})
    return rows


def _family_section(outcome: FamilyOutcome, out_dir: Path, *, spread: bool) -> dict[str, Any]:
    from tailguard.simulate.report import metric_figure, samples_figure

    res = outcome.results
    drawn = res.tail_metrics()[:2]
    figures = [metric_figure(res, m, spread=spread) for m in drawn]
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
    for policy, report in outcome.audits.items():
        degraded = [r for r in report.metrics if is_flagged(r.status)][:5]
        base_flagged = [r.name for r in report.metrics if is_flagged(r.baseline_status or "ok")]
        audits.append({
            "policy": policy,
            "baseline_verdict": report.baseline_verdict or "insufficient",
            "baseline_flagged": base_flagged[:5],
            "baseline_more": max(0, len(base_flagged) - 5),
            "verdict": report.verdict,
            "diagnosis": report.diagnosis.mode,
            "summary": report.diagnosis.summary,
            "trap": report.averages_trap.message if report.averages_trap.triggered else "",
            "degraded": [_row_text(r) for r in degraded],
            "link": f"audits/{outcome.family}-{policy.replace(':', '_')}/report.html",
        })
    head = outcome.headline()
    return {
        "name": outcome.family,
        "blurb": FAMILY_BLURBS.get(outcome.family, ""),
        "headline": head.sentences,
        "figures": figures,
        "caption": figure_caption(res, drawn, spread=spread) if drawn else "",
        "simulation_rows": _simulation_rows(outcome),
        "pictures": pictures,
        "metric_help": metric_help,
        "audits": audits,
        "link": str(outcome.report_path.relative_to(out_dir)) if outcome.report_path else "",
    }


def _row_text(row: Any) -> str:
    """``recall (collapse, 0.47 -> 0.22)``: a flagged audit row with its baseline and candidate values."""
    base = row.baseline_value
    if base is not None and math.isfinite(base):
        return f"{row.name} ({row.status}, {base:.3g} -> {row.value:.3g})"
    return f"{row.name} ({row.status}, {row.value:.3g})"


def render_demo_html(result: DemoResult) -> str:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("tailguard.demo", "templates"),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
    )
    rows = result.verdict_table()
    for row in rows:
        worst = row["worst"]
        row["change_text"] = f"{worst['metric']} {pct(worst['change'])}" if worst else "n/a"
    first = result.families[0].results if result.families else None
    context = {
        "rows": rows,
        "families": [_family_section(f, result.out_dir, spread=result.settings.spread) for f in result.families],
        "policy_blurbs": POLICY_BLURBS,
        "stated_test": result.stated_test(),
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
