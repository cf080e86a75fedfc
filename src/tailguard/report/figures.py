"""Matplotlib figures drawn from an audit's stored figure data, returned as base64 PNG.

Each function takes the plain lists the audit stored (see
:mod:`tailguard.audit.figure_data`) and returns a ``data:image/png;base64,...``
URI, so the HTML report is a single self-contained file.

>>> uri = coverage_figure({"deciles": list(range(1, 11)), "coverage": [1.0] * 9 + [0.4]})
>>> uri.startswith("data:image/png;base64,")
True
>>> rarity_figure({"covered": [3, 2], "total": [3, 3], "expected_uncovered": 0.03, "n_reference": 6,
...                "unit": "rows", "k": 5}).startswith("data:image/png;base64,")
True
"""

from __future__ import annotations

import base64
import io
from typing import Any

STATUS_COLOURS = {"ok": "#2e7d32", "warn": "#ef6c00", "collapse": "#c62828", "insufficient": "#6a1b9a"}
REFERENCE_COLOUR = "#37474f"
CANDIDATE_COLOUR = "#1e88e5"


def pyplot() -> Any:
    """matplotlib's pyplot on the non-interactive Agg backend (imported on first use)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def figure_uri(fig: Any, *, dpi: int = 96) -> str:
    """PNG data URI of a matplotlib figure, which is closed: reports inline their figures."""
    plt = pyplot()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def tail_histogram_figure(histograms: list[dict[str, Any]]) -> str:
    """Reference vs candidate histograms with the reference's tail quantiles marked."""
    plt = pyplot()
    n = len(histograms)
    cols = min(n, 2)
    rows = (n + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 3.0 * rows), squeeze=False)
    for ax, h in zip(axes.ravel(), histograms, strict=False):
        edges = h["edges"]
        ax.stairs(h["reference"], edges, label="reference", color=REFERENCE_COLOUR, linewidth=1.5)
        ax.stairs(h["candidate"], edges, label="candidate", color=CANDIDATE_COLOUR, linewidth=1.5,
                  fill=True, alpha=0.35)
        for q in (h["lower_quantile"], h["upper_quantile"]):
            ax.axvline(q, color="#c62828", linestyle="--", linewidth=1)
        ax.axvspan(edges[0], h["lower_quantile"], color="#c62828", alpha=0.06)
        ax.axvspan(h["upper_quantile"], edges[-1], color="#c62828", alpha=0.06)
        ax.set_yscale("symlog", linthresh=1)
        ax.set_title(
            f"{h['feature']}: tail mass {h['candidate_tail_mass']:.2%} vs {h['reference_tail_mass']:.2%}",
            fontsize=9,
        )
        ax.tick_params(labelsize=8)
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    axes.ravel()[0].legend(fontsize=8)
    fig.suptitle(f"Tails beyond the reference's {histograms[0]['alpha']:.0%} quantiles (log counts)", fontsize=10)
    return figure_uri(fig)


def _coverage_colour(c: float) -> str:
    return STATUS_COLOURS["ok"] if c >= 0.8 else STATUS_COLOURS["warn"] if c >= 0.5 else STATUS_COLOURS["collapse"]


def _label_counts(ax: Any, x: list[int], shares: list[float], covered: list[int], total: list[int]) -> None:
    for xi, share, c, t in zip(x, shares, covered, total, strict=True):
        ax.annotate(f"{c}/{t}", (xi, share), ha="center", va="bottom", fontsize=7, xytext=(0, 1),
                    textcoords="offset points")


def coverage_figure(decile: dict[str, Any]) -> str:
    """Share of reference points covered by the candidate, by rarity decile (counts on the bars when stored)."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.0, 3.0))
    cov = decile["coverage"]
    ax.bar(decile["deciles"], cov, color=[_coverage_colour(c) for c in cov], label="candidate")
    if decile.get("total"):
        _label_counts(ax, decile["deciles"], cov, decile["covered"], decile["total"])
    if decile.get("reference_coverage"):
        ax.plot(decile["deciles"], decile["reference_coverage"], "o--", color=REFERENCE_COLOUR, markersize=4,
                label="independent human sample")
        ax.legend(fontsize=8, loc="lower left")
    ax.set_ylim(0, 1.12)
    ax.set_xticks(decile["deciles"])
    n_bins = len(decile["deciles"])
    what = "decile" if n_bins == 10 else f"bin (of {n_bins})"
    ax.set_xlabel(f"rarity {what} of reference points ({n_bins} = sparsest)", fontsize=9)
    ax.set_ylabel("covered by candidate", fontsize=9)
    ax.set_title("Coverage by rarity decile" if n_bins == 10 else "Coverage by rarity", fontsize=10)
    ax.tick_params(labelsize=8)
    return figure_uri(fig)


def rarity_figure(rarity: dict[str, Any]) -> str:
    """Reference points covered by the candidate by rarity bin (``losses.rarity``), with the
    counts on every bar and the share two samples of one distribution cover."""
    plt = pyplot()
    covered, total = rarity["covered"], rarity["total"]
    shares = [c / t if t else 0.0 for c, t in zip(covered, total, strict=True)]
    x = list(range(1, len(total) + 1))
    fig, ax = plt.subplots(figsize=(6.0, 3.0))
    ax.bar(x, shares, color=[_coverage_colour(c) for c in shares], label="candidate")
    _label_counts(ax, x, shares, covered, total)
    expected = 1.0 - float(rarity["expected_uncovered"])
    ax.axhline(expected, color=REFERENCE_COLOUR, linestyle="--", linewidth=1,
               label=f"two samples of one distribution: {expected:.1%}")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.25), ncol=2, frameon=False)
    ax.set_ylim(0, 1.12)
    ax.set_xticks(x)
    what = "decile" if len(x) == 10 else f"bin (of {len(x)}, {rarity['n_reference']} points)"
    ax.set_xlabel(f"rarity {what} of reference {rarity['unit']} ({len(x)} = sparsest)", fontsize=9)
    ax.set_ylabel(f"with a candidate within\ntheir {rarity['k']}-NN radius", fontsize=9)
    ax.set_title("Coverage by rarity", fontsize=10)
    ax.tick_params(labelsize=8)
    return figure_uri(fig)


def length_figure(lengths: dict[str, Any]) -> str:
    """Document lengths in tokens, reference vs candidate, with the reference's tail thresholds."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.0, 3.0))
    edges = lengths["edges"]
    ax.stairs(lengths["reference_hist"], edges, label="reference", color=REFERENCE_COLOUR, linewidth=1.5)
    ax.stairs(lengths["candidate_hist"], edges, label="candidate", color=CANDIDATE_COLOUR, linewidth=1.5,
              fill=True, alpha=0.35)
    for tail in lengths["tails"]:
        colour = STATUS_COLOURS["collapse"] if tail["lost"] else "#9e9e9e"
        ax.axvline(tail["threshold"], color=colour, linestyle="--", linewidth=1)
        ax.annotate(f"{tail['quantile']:.0%}", (tail["threshold"], 0.98), xycoords=("data", "axes fraction"),
                    fontsize=7, color=colour, ha="left", va="top", xytext=(2, 0), textcoords="offset points")
    ax.set_yscale("symlog", linthresh=1)
    ax.set_xlabel("document length (tokens)", fontsize=9)
    ax.set_ylabel("documents (log)", fontsize=9)
    ax.set_title("Length in tokens (dashed: reference quantiles; red: the candidate lost that tail)", fontsize=9)
    ax.legend(fontsize=8)
    ax.tick_params(labelsize=8)
    return figure_uri(fig)


def class_share_figure(shares: dict[str, Any]) -> str:
    """Per-class shares, reference vs candidate (classes the candidate has none of marked "none")."""
    import numpy as np

    plt = pyplot()
    classes = shares["classes"]
    x = np.arange(len(classes))
    fig, ax = plt.subplots(figsize=(max(5.0, 0.35 * len(classes) + 2), 3.0))
    ax.bar(x - 0.2, shares["reference"], 0.4, label="reference", color=REFERENCE_COLOUR)
    ax.bar(x + 0.2, shares["candidate"], 0.4, label="candidate", color=CANDIDATE_COLOUR)
    lost = set(shares.get("lost", []))
    for i, c in enumerate(classes):
        if c in lost:
            ax.annotate("none", (i + 0.2, 0), ha="center", va="bottom", fontsize=7, rotation=90,
                        color=STATUS_COLOURS["collapse"], xytext=(0, 2), textcoords="offset points")
    ax.set_xticks(x, classes, rotation=60 if len(classes) > 12 else 0, fontsize=8)
    ax.set_ylabel("share", fontsize=9)
    ax.set_title("Per-class share (reference order, rarest right)", fontsize=10)
    ax.legend(fontsize=8)
    return figure_uri(fig)


def ratio_figure(rows: list[dict[str, Any]]) -> str | None:
    """Candidate/reference ratio of every row that has one, coloured by status."""
    plt = pyplot()
    rows = [r for r in rows if isinstance(r.get("ratio"), int | float)][:40]
    if not rows:
        return None
    fig, ax = plt.subplots(figsize=(7.0, 0.22 * len(rows) + 1.0))
    y = list(range(len(rows)))[::-1]
    ax.barh(y, [min(r["ratio"], 3.0) for r in rows], color=[STATUS_COLOURS.get(r["status"], "#777") for r in rows])
    ax.axvline(1.0, color="black", linewidth=1)
    ax.set_yticks(y, [r["name"] for r in rows], fontsize=7)
    ax.set_xlabel("candidate / reference (clipped at 3)", fontsize=9)
    ax.set_title("Ratios to the reference", fontsize=10)
    return figure_uri(fig)
