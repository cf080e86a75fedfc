"""The server-drawn SVG: points where the values say, gaps for non-finite values, escaped names."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from tailguard.ledger import Lineage, LineageEdge, LineageNode
from tailguard.serve.svg import Point, Series, bar, line_chart, lineage_svg

NS = "{http://www.w3.org/2000/svg}"


def test_points_rise_with_the_values_and_carry_their_status():
    values = [1.0, 3.0, 2.0]
    svg = line_chart([Series("m", [Point(i, v, status=s) for i, (v, s) in
                                   enumerate(zip(values, ["ok", "warn", "collapse"], strict=True))])])
    root = ET.fromstring(svg)
    circles = root.findall(f".//{NS}circle")
    assert [c.get("class") for c in circles] == ["point status-ok", "point status-warn", "point status-collapse"]
    ys = [float(c.get("cy")) for c in circles]
    assert ys[1] < ys[2] < ys[0]  # SVG y grows downwards: the largest value is highest
    xs = [float(c.get("cx")) for c in circles]
    assert xs == sorted(xs) and len(set(xs)) == 3


def test_a_non_finite_value_is_a_gap_not_a_point():
    svg = line_chart([Series("m", [Point(0, 1.0), Point(1, None), Point(2, 2.0), Point(3, 2.5)])])
    root = ET.fromstring(svg)
    assert len(root.findall(f".//{NS}circle")) == 3
    assert len(root.findall(f".//{NS}polyline")) == 1  # the line restarts after the gap: only 2..3 is a run
    empty = line_chart([Series("m", [Point(0, None)])])
    assert "no finite value to draw" in empty


def test_names_from_the_ledger_are_escaped():
    svg = line_chart([Series("<script>x</script>", [Point(0, 1.0, label="a&b")])], title="<b>")
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    ET.fromstring(svg)  # well-formed


def test_bar_parts_are_proportional():
    root = ET.fromstring(bar({"human": 3, "synthetic": 1}, width=100))
    widths = [float(r.get("width")) for r in root.findall(f"{NS}rect")]
    assert widths == [75.0, 25.0]


def test_lineage_graph_has_a_box_per_node_and_an_arrow_per_edge_parents_to_the_right():
    nodes = [LineageNode("run:r1", "run", "model m"), LineageNode("version:v", "version", "v <1>"),
             LineageNode("version:base", "version", "base")]
    edges = [LineageEdge("run:r1", "version:v", "trained_on"), LineageEdge("version:v", "version:base", "derived_from")]
    svg = lineage_svg(Lineage("v", "version", nodes, edges), link={"run:r1": "/runs/r1"})
    root = ET.fromstring(svg)
    groups = {g.get("data-id"): g for g in root.iter(f"{NS}g") if g.get("data-id")}
    assert set(groups) == {"run:r1", "version:v", "version:base"}
    x = {k: float(g.find(f".//{NS}rect").get("x")) for k, g in groups.items()}
    assert x["run:r1"] < x["version:v"] < x["version:base"]
    assert len([g for g in root.iter(f"{NS}g") if (g.get("class") or "").startswith("edge")]) == 2
    assert '<a href="/runs/r1">' in svg and "v &lt;1&gt;" in svg


def test_a_large_graph_is_cut_and_says_how_many_nodes_are_not_drawn():
    nodes = [LineageNode(f"{i:032x}", "sample", "text human") for i in range(30)]
    svg = lineage_svg(Lineage("x", "sample", nodes, []), max_nodes=10)
    assert len(re.findall(r'class="node kind-sample"', svg)) == 10 and "20 more nodes not drawn" in svg
