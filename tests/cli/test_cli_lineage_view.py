"""``tailguard lineage``'s tree at 80 columns: shared ancestry drawn once, chains not indented."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from tailguard.cli.lineage_view import print_lineage
from tailguard.ledger import Ledger, NewSample


def text(t: str, origin: str = "human", **kw) -> NewSample:
    return NewSample(content=t.encode(), uri=None, modality="text", origin=origin, **kw)


def build(url: str, generations: int, *, accumulate: bool) -> str:
    """Generation g: a run trained on generation g-1 produces 3 texts; the version of
    generation g holds them (``accumulate``: and everything before). Long names on purpose."""
    with Ledger.open(url) as ledger:
        prev = "human-reference-corpus-2024-q3"
        ledger.add_samples([text("human one"), text("human two")], as_version=prev)
        kept: list[str] = [r.id for r in ledger.iter_samples(prev)]
        for g in range(1, generations + 1):
            run = ledger.record_model_run(f"small-language-model-finetune-generation-{g}", prev)
            out = ledger.add_samples([text(f"gen {g} text {i}", "synthetic", generator="m", generation=g)
                                      for i in range(3)])
            ledger.link_run_outputs(run, out.sample_ids)
            kept = [*kept, *out.sample_ids] if accumulate else list(out.sample_ids)
            name = f"training-set-generation-{g}-{'accumulate' if accumulate else 'replace'}-policy"
            ledger.create_version(name, sample_ids=kept)
            prev = name
    return prev


def render(url: str, target: str, width: int = 80) -> tuple[list[str], object]:
    with Ledger.open(url, create=False) as ledger:
        graph = ledger.lineage(target)
    console = Console(file=io.StringIO(), width=width, record=True, highlight=False)
    print_lineage(graph, console=console)
    return console.export_text().splitlines(), graph


@pytest.mark.parametrize(("generations", "accumulate"), [(12, False), (6, True)])
def test_lineage_at_80_columns_shows_every_node_whole(sqlite_url, generations, accumulate):
    target = build(sqlite_url, generations, accumulate=accumulate)
    lines, graph = render(sqlite_url, target)
    assert max(len(line) for line in lines) <= 80
    node_ids = {n.id for n in graph.nodes if n.kind in ("version", "run")}
    assert len(node_ids) == 2 * generations + 1
    for node_id in node_ids:  # every version and run, its id on one line, not cut or folded
        assert any(node_id in line for line in lines), node_id
    # Drawn once each: the lines grow with the number of edges, not with the number of paths.
    assert len(lines) <= 4 * len(graph.edges) + 6
    indent = max(len(line) - len(line.lstrip(" │├└─")) for line in lines)
    assert indent <= 8  # a chain of generations stays at one depth


def test_shared_ancestry_is_drawn_once_and_pointed_to(sqlite_url):
    target = build(sqlite_url, 3, accumulate=True)
    lines, graph = render(sqlite_url, target, width=400)  # one line per node
    run1 = next(n.id for n in graph.nodes if n.kind == "run" and n.label.startswith(
        "model small-language-model-finetune-generation-1 "))
    mentions = [line for line in lines if run1 in line]
    assert len(mentions) == 3  # from generations 3, 2 and 1's versions
    assert sum(not line.endswith("(ancestry above)") for line in mentions) == 1
    assert sum("trained_on: version:human-reference-corpus-2024-q3" in line for line in lines) == 1
