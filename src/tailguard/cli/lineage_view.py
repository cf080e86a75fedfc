"""How ``tailguard lineage`` draws a lineage graph in the terminal.

The graph (:class:`~tailguard.ledger.Lineage`) is a DAG: a version built from the
outputs of several runs, each trained on an earlier version, shares ancestors many
times over. Drawn naively as a tree it grows exponentially with the number of
generations and indents by two levels per generation, until an 80-column terminal has
no room left for the names. Here each node's ancestry is drawn once, and a chain of
single parents stays at one depth.

>>> from tailguard.ledger import Lineage, LineageEdge, LineageNode
>>> nodes = [LineageNode("version:g2", "version", "g2 (3 samples)"), LineageNode("run:r2", "run", "model m"),
...          LineageNode("version:g1", "version", "g1 (3 samples)")]
>>> edges = [LineageEdge("version:g2", "run:r2", "contains_output_of"), LineageEdge("run:r2", "version:g1", "trained_on")]
>>> print_lineage(Lineage("g2", "version", nodes, edges))
version:g2  g2 (3 samples)
└── contains_output_of: run:r2  model m
    trained_on: version:g1  g1 (3 samples)
models trained on g2: none
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tailguard.cli.output import make_console

if TYPE_CHECKING:
    from tailguard.ledger import Lineage


def print_lineage(graph: Lineage, console: Any = None) -> None:
    """The ancestry tree, then what hangs below the target (runs trained on it, samples it produced).

    Legible at 80 columns: each node's ancestry is drawn once (a node met again ends with
    "(ancestry above)"), and a node with a single parent is followed by that parent on the
    next line at the same depth, so a chain of generations does not indent once per
    generation; only a node with several parents branches.
    """
    from rich.text import Text
    from rich.tree import Tree

    nodes = {n.id: n for n in graph.nodes}
    parents: dict[str, list[tuple[str, str]]] = {}
    children: dict[str, list[str]] = {}
    for e in graph.edges:
        parents.setdefault(e.child, []).append((e.parent, e.relation))
        if e.relation in ("trained_on", "produced_by"):
            children.setdefault(e.parent, []).append(e.child)

    def label(node_id: str, relation: str | None) -> Text:  # Text: names with [brackets] are not markup
        n = nodes.get(node_id)
        text = f"{node_id}  {n.label}" if n is not None else node_id
        if n is not None and n.synthetic_depth is not None:
            text += f"  [depth {n.synthetic_depth}]"
        out = Text(f"{relation}: ", style="cyan") if relation else Text()
        return out.append(text)

    root_id = {"version": f"version:{graph.target}", "run": f"run:{graph.target}"}.get(graph.kind, graph.target)
    tree = Tree(label(root_id, None))
    drawn: set[str] = set()  # nodes whose parents are already shown

    def add(branch: Any, node_id: str, relation: str) -> None:
        """``node_id`` under ``branch``, followed by its single-parent chain, then its branches."""
        text = label(node_id, relation)
        child = branch.add(text)
        current = node_id
        while current not in drawn:
            drawn.add(current)
            ups = parents.get(current, [])
            if len(ups) != 1:
                for parent, rel in ups:
                    add(child, parent, rel)
                return
            current, rel = ups[0]
            text.append("\n").append(label(current, rel))
        if parents.get(current):
            text.append("  (ancestry above)")

    drawn.add(root_id)
    for parent, relation in parents.get(root_id, []):
        add(tree, parent, relation)
    console = console if console is not None else make_console()
    console.print(tree)
    below = children.get(root_id, [])
    if graph.kind == "version":
        heading = f"models trained on {graph.target}: {len(below) or 'none'}"
    elif graph.kind == "run":
        total = sum(graph.depth_histogram.values())
        heading = f"samples produced by run {graph.target}: {total}"
        if len(below) < total:
            heading += f" (the first {len(below)} shown)"
    else:
        heading = None
    if heading is not None:
        listing = Tree(Text(heading))
        for node_id in below:
            listing.add(label(node_id, None))
        console.print(listing)
    if graph.depth_histogram:
        console.print("synthetic depth: " + ", ".join(f"{d}: {n}" for d, n in graph.depth_histogram.items()))


__all__ = ["print_lineage"]
