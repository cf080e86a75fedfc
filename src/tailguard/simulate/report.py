"""The simulation report: one self-contained HTML file (figures inlined as PNG data URIs).

It renders a stored :class:`SimulationResults` and never recomputes a metric:

- a verdict table: per policy, each tail metric (and each metric with a theory) as its mean
  over seeds at generation 0 and at the last generation with its 95% bootstrap CI, the change,
  and the status of the stated test on the CI (:func:`tailguard.simulate.theory.judge`:
  against the family's theory where it declares one, else against generation 0);
- per metric, the mean over seeds with its 95% CI band, one line per policy, the 10–90% seed
  spread as a dotted band (``spread=False`` leaves it out), the theory as a dashed line (its
  exact median dotted), and a log axis where the quantity decays; :func:`write_report` also
  saves each as ``figures/<metric>.svg``, ``.png`` and ``.csv`` (the numbers drawn);
- per policy, a picture of model 0's samples beside the last model's (histograms,
  scatter plots, sampled digits, sampled sentences, frequency bars, labels per class), when the
  results carry samples (results loaded from JSON do not).

>>> import numpy as np, tempfile
>>> from tailguard.simulate import simulate
>>> res = simulate("gaussian", "replace,accumulate", generations=3, seeds=4, sample_size=30)
>>> path = write_report(res, tempfile.mkdtemp())
>>> path.name, "data:image/png;base64," in path.read_text()
('report.html', True)
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import numpy as np

from tailguard.report.figures import figure_uri, pyplot
from tailguard.simulate.results import SimulationResults

COLOURS = ("#c62828", "#1e88e5", "#2e7d32", "#6a1b9a", "#ef6c00", "#00838f", "#5d4037", "#455a64")


def _series(summary: dict[str, list], key: str, n: int) -> np.ndarray:
    values = summary.get(key)
    if values is None:
        return np.full(n, np.nan)
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def figure_table(results: SimulationResults, metric: str) -> list[dict[str, Any]]:
    """The numbers a metric's figure draws: one row per policy and generation (the CSV's rows)."""
    rows = []
    n = results.generations + 1
    for policy in results.policies:
        s = results.summary(policy, metric)
        law = results.theory(policy, metric)
        cols = {k: _series(s, k, n) for k in ("mean", "ci_low", "ci_high", "median", "p10", "p90")}
        law_values = np.asarray(law.values, dtype=float) if law is not None else np.full(n, np.nan)
        law_median = np.asarray(law.median, dtype=float) if law is not None and law.median else np.full(n, np.nan)
        seeds = _series(s, "n", n)
        for g in range(n):
            rows.append({"policy": policy, "generation": g, "n": seeds[g], **{k: v[g] for k, v in cols.items()},
                         "theory": law_values[g], "theory_kind": law.kind if law is not None else "",
                         "theory_median": law_median[g]})
    return rows


def _decays(results: SimulationResults, metric: str) -> bool:
    """Log axis: a theory says the quantity decays, or every mean is positive and one falls below a
    tenth of generation 0's."""
    for policy in results.policies:
        law = results.theory(policy, metric)
        if law is not None and law.decays:
            return True
    means = [np.asarray(_series(results.summary(p, metric), "mean", results.generations + 1)) for p in results.policies]
    allv = np.concatenate(means)
    finite = allv[np.isfinite(allv)]
    if len(finite) == 0 or finite.min() <= 0:
        return False
    return any(np.isfinite(m[0]) and np.nanmin(m) < 0.1 * m[0] for m in means)


def metric_plot(results: SimulationResults, metric: str, *, spread: bool = True) -> Any:
    """The figure of one metric (a matplotlib Figure; see the module docstring)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 3.4))
    n = results.generations + 1
    gens = np.arange(n)
    have_ci = False
    for k, policy in enumerate(results.policies):
        s = results.summary(policy, metric)
        colour = COLOURS[k % len(COLOURS)]
        mean = _series(s, "mean", n)
        lo, hi = _series(s, "ci_low", n), _series(s, "ci_high", n)
        ax.plot(gens, mean, color=colour, label=policy, lw=1.8)
        if np.isfinite(lo).any():
            have_ci = True
            ax.fill_between(gens, lo, hi, color=colour, alpha=0.25, lw=0)
        if spread:
            p10, p90 = _series(s, "p10", n), _series(s, "p90", n)
            ax.plot(gens, p10, color=colour, lw=0.8, ls=":", alpha=0.8)
            ax.plot(gens, p90, color=colour, lw=0.8, ls=":", alpha=0.8)
        law = results.theory(policy, metric)
        if law is not None:
            what = {"mean": "theory", "lower_bound": "bound (≥)", "upper_bound": "bound (≤)"}[law.kind]
            ax.plot(gens, np.asarray(law.values, dtype=float), color=colour, lw=1.2, ls="--",
                    label=f"{policy}: {what}")
            if law.median:
                ax.plot(gens, np.asarray(law.median, dtype=float), color=colour, lw=1.0, ls="-.",
                        label=f"{policy}: theory median")
    if _decays(results, metric):
        ax.set_yscale("log")
    meta = results.metrics.get(metric, {})
    arrow = "higher is better" if meta.get("higher_is_better", True) else "lower is better"
    band = "mean, 95% CI band" if have_ci else "mean (no CI stored)"
    ax.set_title(f"{metric} ({arrow}; {band}" + ("; dotted: 10–90% of seeds)" if spread else ")"), fontsize=9)
    ax.set_xlabel("generation")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return fig


def metric_figure(results: SimulationResults, metric: str, *, spread: bool = True) -> str:
    """:func:`metric_plot` as a PNG data URI (for the HTML report)."""
    return figure_uri(metric_plot(results, metric, spread=spread), dpi=90)


def figure_stem(metric: str, taken: set[str] | None = None) -> str:
    """The file name (without extension) of a metric's figure: characters other than letters, digits,
    ``_``, ``.`` and ``-`` become ``_`` (``recall/zero`` -> ``recall_zero``), numbered when taken.

    >>> figure_stem("recall/zero"), figure_stem("recall/zero", {"recall_zero"})
    ('recall_zero', 'recall_zero-2')
    """
    import re

    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", metric).strip(".") or "metric"
    taken = taken or set()
    candidate, k = stem, 2
    while candidate in taken:
        candidate, k = f"{stem}-{k}", k + 1
    return candidate


def save_metric_figures(results: SimulationResults, folder: str | Path, *, spread: bool = True) -> list[Path]:
    """Each metric's figure as ``<stem>.svg`` and ``<stem>.png`` with its numbers as ``<stem>.csv``
    (:func:`figure_stem`: the metric's name made safe as a file name)."""
    import csv

    plt = pyplot()
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    taken: set[str] = set()
    for metric in results.metric_names:
        stem = figure_stem(metric, taken)
        taken.add(stem)
        fig = metric_plot(results, metric, spread=spread)
        for ext in ("svg", "png"):
            path = out / f"{stem}.{ext}"
            fig.savefig(path, format=ext, dpi=150, bbox_inches="tight", metadata={"Date": None} if ext == "svg"
                        else {"Software": None})
            written.append(path)
        plt.close(fig)
        rows = figure_table(results, metric)
        path = out / f"{stem}.csv"
        with path.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
            writer.writeheader()
            for r in rows:
                writer.writerow({k: ("" if isinstance(v, float) and not np.isfinite(v) else v) for k, v in r.items()})
        written.append(path)
    return written


def _images_grid(ax: Any, data: np.ndarray, title: str, n: int = 24) -> None:
    imgs = np.asarray(data, dtype=float)[:n, :64].reshape(-1, 8, 8)
    cols = 8
    rows = int(np.ceil(len(imgs) / cols))
    canvas = np.full((rows * 9, cols * 9), np.nan)
    for i, im in enumerate(imgs):
        r, c = divmod(i, cols)
        canvas[r * 9 : r * 9 + 8, c * 9 : c * 9 + 8] = im
    ax.imshow(canvas, cmap="gray_r", vmin=0, vmax=16)
    ax.set_title(title, fontsize=9)
    ax.axis("off")


def _labels_figure(plt: Any, first: np.ndarray, last: np.ndarray, last_gen: int) -> str:
    """Labels per class, generation 0 beside the last, with the last samples' true classes as black
    ticks: rows end with ``[label, true label]`` (the ``labels`` kind)."""
    a, b = first[:, -2].astype(int), last[:, -2].astype(int)
    truth = np.concatenate([first[:, -1], last[:, -1]]).astype(int)  # true classes
    n_classes = int(max(a.max(initial=0), b.max(initial=0), truth.max(initial=0))) + 1
    ids = np.arange(n_classes)
    fig, ax = plt.subplots(figsize=(6.4, 3.0))
    width = 0.4
    ax.bar(ids - width / 2, np.bincount(a, minlength=n_classes), width, label="generation 0", color=COLOURS[1])
    ax.bar(ids + width / 2, np.bincount(b, minlength=n_classes), width, label=f"generation {last_gen}",
           color=COLOURS[0])
    true_last = np.bincount(last[:, -1].astype(int), minlength=n_classes)
    ax.scatter(ids + width / 2, true_last, marker="_", s=160, color="black", zorder=3,
               label=f"true class of generation {last_gen}'s samples")
    ax.set_yscale("symlog", linthresh=1)
    ax.set_xticks(ids)
    ax.set_xlabel("label the model gave (seed 0's samples)")
    ax.set_ylabel("samples")
    ax.legend(fontsize=7, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=3, frameon=False)
    ax.grid(alpha=0.3, axis="y")
    return figure_uri(fig, dpi=90)


def samples_figure(kind: str, first: np.ndarray, last: np.ndarray, last_gen: int) -> str | None:
    """Model 0's samples beside the last model's, drawn for the family's ``sample_kind``."""
    plt = pyplot()
    first, last = np.asarray(first), np.asarray(last)
    if kind == "images":
        fig, axes = plt.subplots(1, 2, figsize=(8, 2.6))
        _images_grid(axes[0], first, "generation 0")
        _images_grid(axes[1], last, f"generation {last_gen}")
        return figure_uri(fig, dpi=90)
    if kind == "labels":
        return _labels_figure(plt, first, last, last_gen)
    fig, ax = plt.subplots(figsize=(5.2, 3.0))
    if kind == "hist":
        a, b = first.reshape(len(first), -1)[:, 0], last.reshape(len(last), -1)[:, 0]
        bins = np.histogram_bin_edges(np.concatenate([a, b]), bins=30)
        ax.hist(a, bins=bins, alpha=0.5, label="generation 0", color=COLOURS[1])
        ax.hist(b, bins=bins, alpha=0.5, label=f"generation {last_gen}", color=COLOURS[0])
        ax.set_xlabel("first dimension")
    elif kind == "scatter":
        a, b = first.reshape(len(first), -1), last.reshape(len(last), -1)
        ax.scatter(a[:, 0], a[:, -1], s=5, alpha=0.5, label="generation 0", color=COLOURS[1])
        ax.scatter(b[:, 0], b[:, -1], s=5, alpha=0.5, label=f"generation {last_gen}", color=COLOURS[0])
    elif kind == "bars":
        col = 1 if first.ndim == 2 and first.shape[1] > 1 else 0  # recsys rows are [user, item]
        a = first.reshape(len(first), -1)[:, col].astype(int)
        b = last.reshape(len(last), -1)[:, col].astype(int)
        ca = np.sort(np.bincount(a))[::-1]
        cb = np.sort(np.bincount(b))[::-1]
        ax.loglog(np.arange(1, len(ca) + 1), np.maximum(ca, 0.5), label="generation 0", color=COLOURS[1])
        ax.loglog(np.arange(1, len(cb) + 1), np.maximum(cb, 0.5), label=f"generation {last_gen}", color=COLOURS[0])
        ax.set_xlabel("rank")
        ax.set_ylabel("count")
    else:
        plt.close(fig)
        return None
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return figure_uri(fig, dpi=90)


def _fmt(v: float | None) -> str:
    if v is None or not np.isfinite(v):
        return "–"
    return f"{v:.4g}"


def verdict_rows(results: SimulationResults) -> list[dict[str, Any]]:
    """Per policy and tail metric (and every metric with a theory): the mean at generation 0 and at
    the last generation with its CI, the relative change of the mean, and the stated test's status."""
    rows = []
    last = results.generations
    for policy in results.policies:
        names = list(results.tail_metrics() or results.metric_names)
        names += [m for m in results.metric_names if m not in names and results.theory(policy, m) is not None]
        for metric in names:
            s = results.summary(policy, metric)
            mean = s["mean"]
            v0, vn = mean[0], mean[last]
            lo = (s.get("ci_low") or [None] * (last + 1))[last]
            hi = (s.get("ci_high") or [None] * (last + 1))[last]
            change = None
            if v0 not in (None, 0) and vn is not None:
                change = (vn - v0) / abs(v0)
            j = results.judgement(policy, metric)
            rows.append(
                {
                    "policy": policy,
                    "metric": metric,
                    "first": _fmt(v0),
                    "last": _fmt(vn),
                    "ci": "–" if lo is None or hi is None else f"[{_fmt(lo)}, {_fmt(hi)}]",
                    "change": "–" if change is None else f"{change:+.0%}",
                    "status": j.status,
                    "against": j.against,
                    "reason": j.reason,
                }
            )
    return rows


_TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>tailguard simulate {{ family }}</title>
<style>
body{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;color:#222;padding:0 1em}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;font-size:14px}
th{background:#f3f3f3}.ok{color:#2e7d32}.warn{color:#ef6c00}.collapse{color:#c62828;font-weight:bold}
figure{display:inline-block;margin:0.5em}pre{background:#f7f7f7;padding:0.6em;white-space:pre-wrap}
.note{color:#555;font-size:14px}.departs{color:#6a1b9a;font-weight:bold}.insufficient{color:#6a1b9a}
</style></head><body>
<h1>Recursive training: {{ family }}</h1>
<p class="note">Each generation trains a model on data composed by the policy from earlier generations'
output; generation 0 is trained on human data. Lines are means over {{ seeds }} seeds, shaded bands their 95%
bootstrap confidence intervals, dotted lines the 10–90% spread of the seeds, dashed lines the family's
theory. {{ generations }} generations, {{ sample_size }} samples per generation.</p>
<h2>Tail metrics: generation 0 vs generation {{ generations }} (mean over seeds)</h2>
<table><tr><th>policy</th><th>metric</th><th>generation 0</th><th>generation {{ generations }}</th>
<th>95% CI</th><th>change</th><th>status</th><th>judged against</th><th>why</th></tr>
{% for r in rows %}<tr><td>{{ r.policy }}</td><td>{{ r.metric }}</td><td>{{ r.first }}</td><td>{{ r.last }}</td>
<td>{{ r.ci }}</td><td>{{ r.change }}</td><td class="{{ r.status }}">{{ r.status }}</td><td>{{ r.against }}</td>
<td class="note">{{ r.reason }}</td></tr>
{% endfor %}</table>
<p class="note">Status, from the 95% bootstrap CI of the mean at generation {{ generations }}: where the family
declares a theory, the run matches it when the theory's value lies in the CI, and the status is then the
theory's own: collapse for an unbounded law, ok for a bounded one; departs when the CI excludes the theory
(or breaks a bound). Without theory: collapse when even the CI's best end is at least 10% worse than
generation 0's mean, warn when the whole CI is worse but by less, ok when it reaches generation 0.</p>
<h2>Metrics across generations</h2>
{% for m in metric_figs %}<figure><img src="{{ m.uri }}" alt="{{ m.name }}">
<figcaption class="note">{{ m.description }}</figcaption></figure>
{% endfor %}
{% if sample_figs %}<h2>Samples: generation 0 vs generation {{ generations }} (seed 0)</h2>
{% for s in sample_figs %}<h3>{{ s.policy }}</h3>
{% if s.uri %}<img src="{{ s.uri }}" alt="samples under {{ s.policy }}">{% endif %}
{% if s.text_first %}<p><b>generation 0</b></p><pre>{{ s.text_first }}</pre>
<p><b>generation {{ generations }}</b></p><pre>{{ s.text_last }}</pre>{% endif %}
{% endfor %}{% endif %}
<h2>Configuration</h2><pre>{{ config }}</pre>
</body></html>
"""


def render_html(results: SimulationResults, *, family_obj: Any = None, setup: Any = None) -> str:
    """The report as an HTML string (``family_obj``/``setup`` turn text samples into words)."""
    import json

    from jinja2 import Environment

    env = Environment(autoescape=True)
    metric_figs = [
        {"name": m, "uri": metric_figure(results, m), "description": results.metrics.get(m, {}).get("description", "")}
        for m in results.metric_names
    ]
    kind = results.extra.get("sample_kind", "hist")
    sample_figs = []
    for policy in results.policies:
        first, last = results.first_samples(policy), results.last_samples(policy)
        if first is None or last is None:
            continue
        entry: dict[str, Any] = {"policy": policy, "uri": None, "text_first": "", "text_last": ""}
        if kind == "text":
            texts = results.extra.get("sample_text", {}).get(policy)
            if texts is None and family_obj is not None and setup is not None:
                texts = {"first": family_obj.render_text(first, setup), "last": family_obj.render_text(last, setup)}
            if texts:
                entry["text_first"] = "\n".join(texts["first"])
                entry["text_last"] = "\n".join(texts["last"])
        else:
            entry["uri"] = samples_figure(kind, first, last, results.generations)
        sample_figs.append(entry)
    cfg = results.config
    return env.from_string(_TEMPLATE).render(
        family=html.escape(results.family),
        seeds=cfg.get("seeds", "?"),
        generations=results.generations,
        sample_size=cfg.get("sample_size", "?"),
        rows=verdict_rows(results),
        metric_figs=metric_figs,
        sample_figs=sample_figs,
        config=json.dumps(cfg, indent=1, sort_keys=True, default=str),
    )


def write_report(results: SimulationResults, out_dir: str | Path, *, save_results: bool = True,
                 **kwargs: Any) -> Path:
    """Write ``results.json`` (with ``per_seed.parquet``; skipped with ``save_results=False``, when
    :func:`~tailguard.simulate.simulate` already wrote them there), ``report.html`` and
    ``figures/<metric>.svg|png|csv`` into ``out_dir``; returns the HTML path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if save_results:
        results.save(out / "results.json")
    save_metric_figures(results, out / "figures")
    path = out / "report.html"
    path.write_text(render_html(results, **kwargs), encoding="utf-8")
    return path
