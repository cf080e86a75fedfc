"""Matplotlib figures drawn from an audit's stored figure data, returned as base64 PNG.

Each function takes the plain lists the audit stored (see
:mod:`tailguard.audit.figure_data`) and returns a ``data:image/png;base64,...``
URI, so the HTML report is a single self-contained file.

>>> uri = coverage_figure({"deciles": list(range(1, 11)), "coverage": [1.0] * 9 + [0.4]})
>>> uri.startswith("data:image/png;base64,")
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


def coverage_figure(decile: dict[str, Any]) -> str:
    """Share of reference points covered by the candidate, by rarity decile."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.0, 3.0))
    cov = decile["coverage"]
    colours = [STATUS_COLOURS["ok"] if c >= 0.8 else STATUS_COLOURS["warn"] if c >= 0.5
               else STATUS_COLOURS["collapse"] for c in cov]
    ax.bar(decile["deciles"], cov, color=colours, label="candidate")
    if decile.get("reference_coverage"):
        ax.plot(decile["deciles"], decile["reference_coverage"], "o--", color=REFERENCE_COLOUR, markersize=4,
                label="independent human sample")
        ax.legend(fontsize=8, loc="lower left")
    ax.set_ylim(0, 1.05)
    ax.set_xticks(decile["deciles"])
    ax.set_xlabel("rarity decile of reference points (10 = sparsest)", fontsize=9)
    ax.set_ylabel("covered by candidate", fontsize=9)
    ax.set_title("Coverage by rarity decile", fontsize=10)
    ax.tick_params(labelsize=8)
    return figure_uri(fig)


def class_share_figure(shares: dict[str, Any]) -> str:
    """Per-class shares, reference vs candidate (lost classes marked)."""
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
            ax.annotate("lost", (i + 0.2, 0), ha="center", va="bottom", fontsize=7, color=STATUS_COLOURS["collapse"])
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
