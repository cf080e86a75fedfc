"""Inline SVG drawn on the server: line charts, composition bars and lineage graphs (no JS library).

Every text that comes from the ledger is escaped; every element carries a class the pages'
stylesheet (and the browser tests) select on.

>>> svg = line_chart([Series("vendi", [Point(0, 9.0, status="ok"), Point(1, 4.0, status="collapse")])],
...                  title="vendi")
>>> svg.startswith("<svg") and svg.count('class="point status-') == 2
True
>>> 'status-collapse' in svg and "<title>" in svg
True
>>> bar({"human": 3, "synthetic": 1}).count("<rect")
2
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from html import escape

from tailguard.ledger.types import Lineage

#: Colours of statuses, verdicts and origins (the stylesheet uses the same ones).
COLOURS = {
    "ok": "#2e7d32", "warn": "#f9a825", "collapse": "#c62828", "insufficient": "#6a1b9a",
    "human": "#2e7d32", "synthetic": "#c62828", "pseudo_label": "#ef6c00", "unknown": "#757575",
}
SERIES_COLOURS = ("#1565c0", "#c62828", "#2e7d32", "#6a1b9a", "#ef6c00", "#00838f", "#5d4037", "#ad1457")


@dataclass(frozen=True)
class Point:
    """One point of a chart: ``x`` (a number: an index, an epoch), ``y`` (None: not finite, drawn as a gap)."""

    x: float
    y: float | None
    low: float | None = None
    high: float | None = None
    status: str | None = None
    label: str = ""


@dataclass(frozen=True)
class Series:
    name: str
    points: Sequence[Point] = field(default_factory=tuple)


def _fmt(v: float) -> str:
    return format(v, ".4g")


def _ticks(lo: float, hi: float, n: int = 4) -> list[float]:
    if hi <= lo:
        return [lo]
    step = (hi - lo) / n
    return [lo + i * step for i in range(n + 1)]


def line_chart(series: Sequence[Series], *, title: str = "", width: int = 560, height: int = 200,
               x_labels: Mapping[float, str] | None = None, css_class: str = "chart") -> str:
    """An SVG line chart: one polyline per series, a marker per point (coloured by its ``status`` when
    given, with a ``<title>`` tooltip), the interval ``[low, high]`` as a whisker, and y ticks."""
    left, right, top, bottom = 56, 12, 22, 30
    ys = [v for s in series for p in s.points for v in (p.y, p.low, p.high)
          if v is not None and math.isfinite(v)]
    xs = [p.x for s in series for p in s.points]
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="{css_class}" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">']
    if title:
        out.append(f'<text class="chart-title" x="{left}" y="14">{escape(title)}</text>')
    if not ys:
        out.append(f'<text class="no-data" x="{left}" y="{height // 2}">no finite value to draw</text></svg>')
        return "".join(out)
    y_lo, y_hi = min(ys), max(ys)
    if y_hi == y_lo:
        pad = abs(y_lo) * 0.1 or 1.0
        y_lo, y_hi = y_lo - pad, y_hi + pad
    x_lo, x_hi = min(xs), max(xs)
    span_x = (x_hi - x_lo) or 1.0
    plot_w, plot_h = width - left - right, height - top - bottom

    def px(x: float) -> float:
        return left + (plot_w / 2 if x_hi == x_lo else (x - x_lo) / span_x * plot_w)

    def py(y: float) -> float:
        return top + (1 - (y - y_lo) / (y_hi - y_lo)) * plot_h

    out.append(f'<rect class="plot-area" x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" '
               'stroke="#ccc"/>')
    for t in _ticks(y_lo, y_hi):
        y = py(t)
        out.append(f'<line class="grid" x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>'
                   f'<text class="tick" x="{left - 4}" y="{y + 4:.1f}" text-anchor="end">{_fmt(t)}</text>')
    labels = x_labels or {}
    shown = sorted(set(xs))
    every = max(1, math.ceil(len(shown) / 8))
    for x in shown[::every]:
        text = labels.get(x, _fmt(x))
        out.append(f'<text class="tick" x="{px(x):.1f}" y="{height - 10}" text-anchor="middle">'
                   f'{escape(text)}</text>')
    for i, s in enumerate(series):
        colour = SERIES_COLOURS[i % len(SERIES_COLOURS)]
        out.append(f'<g class="series" data-name="{escape(s.name)}">')
        run: list[str] = []
        for p in [*s.points, None]:  # a None value breaks the line
            if p is None or p.y is None or not math.isfinite(p.y):
                if len(run) > 1:
                    out.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{" ".join(run)}"/>')
                run = []
            else:
                run.append(f"{px(p.x):.1f},{py(p.y):.1f}")
        for p in s.points:
            if p.low is not None and p.high is not None and math.isfinite(p.low) and math.isfinite(p.high):
                out.append(f'<line class="ci" x1="{px(p.x):.1f}" x2="{px(p.x):.1f}" y1="{py(p.low):.1f}" '
                           f'y2="{py(p.high):.1f}" stroke="{colour}" stroke-opacity="0.5"/>')
            if p.y is None or not math.isfinite(p.y):
                continue
            fill = COLOURS.get(p.status or "", colour)
            status = f" status-{escape(p.status)}" if p.status else ""
            tip = f"{s.name}: {_fmt(p.y)}" + (f" ({p.status})" if p.status else "") + (f" {p.label}" if p.label else "")
            out.append(f'<circle class="point{status}" cx="{px(p.x):.1f}" cy="{py(p.y):.1f}" r="4" fill="{fill}">'
                       f'<title>{escape(tip)}</title></circle>')
        out.append("</g>")
    if len(series) > 1:
        for i, s in enumerate(series):
            colour = SERIES_COLOURS[i % len(SERIES_COLOURS)]
            x = left + 8 + (i % 4) * (plot_w // 4)
            y = top + 12 + (i // 4) * 12
            out.append(f'<text class="legend" x="{x}" y="{y}" fill="{colour}">{escape(s.name)}</text>')
    out.append("</svg>")
    return "".join(out)


def bar(counts: Mapping[str, int], *, width: int = 160, height: int = 12) -> str:
    """A stacked horizontal bar of ``counts`` (e.g. occurrences by origin), each part titled with its share."""
    total = sum(counts.values())
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="bar" width="{width}" height="{height}">']
    x = 0.0
    for key, n in counts.items():
        if total <= 0 or n <= 0:
            continue
        w = n / total * width
        out.append(f'<rect class="part origin-{escape(str(key))}" x="{x:.2f}" y="0" width="{w:.2f}" '
                   f'height="{height}" fill="{COLOURS.get(str(key), "#90a4ae")}"><title>{escape(str(key))}: {n} '
                   f'({n / total:.1%})</title></rect>')
        x += w
    out.append("</svg>")
    return "".join(out)


def _layers(lineage: Lineage) -> dict[str, int]:
    """Each node's column: 0 for the target, 1 + its deepest child for a parent (edges point child -> parent)."""
    parents: dict[str, list[str]] = {}
    for e in lineage.edges:
        parents.setdefault(e.child, []).append(e.parent)
    ids = {n.id for n in lineage.nodes}
    layer: dict[str, int] = {}
    roots = [n.id for n in lineage.nodes if not any(e.parent == n.id for e in lineage.edges)] or [lineage.nodes[0].id]
    frontier = [(r, 0) for r in roots]
    guard = 0
    while frontier and guard < 100_000:
        guard += 1
        node, depth = frontier.pop()
        if layer.get(node, -1) >= depth or depth > len(ids):
            continue
        layer[node] = depth
        frontier.extend((p, depth + 1) for p in parents.get(node, []) if p in ids)
    for n in lineage.nodes:
        layer.setdefault(n.id, 0)
    return layer


def lineage_svg(lineage: Lineage, *, max_nodes: int = 150, link: Mapping[str, str] | None = None) -> str:
    """The lineage graph as SVG: columns from the newest (left) to the oldest ancestors (right), one box
    per sample, version or model run (class ``node kind-KIND``), an arrow per edge labelled with its
    relation. Beyond ``max_nodes`` the rest is counted, not drawn. ``link`` maps node ids to hrefs."""
    nodes = lineage.nodes[:max_nodes]
    kept = {n.id for n in nodes}
    shown = Lineage(lineage.target, lineage.kind, nodes,
                    [e for e in lineage.edges if e.child in kept and e.parent in kept])
    if not nodes:
        return '<svg xmlns="http://www.w3.org/2000/svg" class="lineage" width="300" height="40">' \
               '<text x="8" y="24">no node</text></svg>'
    layer = _layers(shown)
    columns: dict[int, list[str]] = {}
    for n in nodes:
        columns.setdefault(layer[n.id], []).append(n.id)
    box_w, box_h, gap_x, gap_y, pad = 230, 38, 70, 14, 10
    n_rows = max(len(c) for c in columns.values())
    width = pad * 2 + len(columns) * box_w + (len(columns) - 1) * gap_x
    height = pad * 2 + n_rows * box_h + (n_rows - 1) * gap_y + (18 if len(lineage.nodes) > max_nodes else 0)
    pos: dict[str, tuple[float, float]] = {}
    for col, members in sorted(columns.items()):
        for row, node_id in enumerate(members):
            pos[node_id] = (pad + col * (box_w + gap_x), pad + row * (box_h + gap_y))
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="lineage" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" aria-label="lineage of {escape(lineage.target)}">',
           '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
           'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#607d8b"/></marker></defs>']
    labelled: set[tuple[str, str]] = set()  # one relation label per parent: many edges converge on a run
    for e in shown.edges:
        (cx, cy), (qx, qy) = pos[e.child], pos[e.parent]
        if qx > cx:
            x1, x2 = cx + box_w, qx
        elif qx < cx:
            x1, x2 = cx, qx + box_w
        else:
            x1, x2 = cx + box_w, qx + box_w
        y1, y2 = cy + box_h / 2, qy + box_h / 2
        text = ""
        if (e.parent, e.relation) not in labelled:
            labelled.add((e.parent, e.relation))
            text = (f'<text class="edge-label" x="{(x1 + x2) / 2:.1f}" y="{(y1 + y2) / 2 - 3:.1f}" '
                    f'text-anchor="middle">{escape(e.relation)}</text>')
        out.append(f'<g class="edge relation-{escape(e.relation)}"><line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" '
                   f'y2="{y2:.1f}" stroke="#607d8b" marker-end="url(#arrow)"/>{text}</g>')
    fills = {"version": "#e3f2fd", "run": "#fff3e0", "sample": "#f1f8e9"}
    for n in nodes:
        x, y = pos[n.id]
        stroke = COLOURS.get(n.origin or "", "#455a64")
        full = f"{n.id[:10]} {n.label}" if n.kind == "sample" else n.label
        label = full if len(full) <= 34 else full[:33] + "…"
        sub = n.kind + (f" · {n.origin}" if n.origin else "") + (
            f" · depth {n.synthetic_depth}" if n.synthetic_depth is not None else "")
        body = (f'<rect x="{x}" y="{y}" width="{box_w}" height="{box_h}" rx="5" fill="{fills.get(n.kind, "#fff")}" '
                f'stroke="{stroke}"/><text x="{x + 6}" y="{y + 15}" class="node-label">{escape(label)}</text>'
                f'<text x="{x + 6}" y="{y + 31}" class="node-sub">{escape(sub)}</text>'
                f'<title>{escape(n.id)}: {escape(n.label)}</title>')
        href = (link or {}).get(n.id)
        if href:
            body = f'<a href="{escape(href)}">{body}</a>'
        out.append(f'<g class="node kind-{escape(n.kind)}" data-id="{escape(n.id)}">{body}</g>')
    if len(lineage.nodes) > max_nodes:
        out.append(f'<text class="truncated" x="{pad}" y="{height - 6}">{len(lineage.nodes) - max_nodes} more nodes '
                   'not drawn (see the JSON)</text>')
    out.append("</svg>")
    return "".join(out)


__all__ = ["COLOURS", "Point", "Series", "bar", "line_chart", "lineage_svg"]
