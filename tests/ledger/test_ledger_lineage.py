"""Lineage: ancestry of samples and versions across model runs, with synthetic depth."""

from __future__ import annotations

import pytest

from tailguard.errors import MissingInputError
from tailguard.ledger import Ledger, NewSample
from tailguard.ledger.hashing import content_id


def text(t: str, origin: str = "human", **kw) -> NewSample:
    return NewSample(content=t.encode(), uri=None, modality="text", origin=origin, **kw)


def test_sample_lineage_walks_runs_and_parents(ledger: Ledger):
    ledger.add_samples([text("human a"), text("human b")], as_version="gen0")
    run1 = ledger.record_model_run("m1", "gen0")
    g1 = ledger.add_samples([text("g1", "synthetic", generator="m1", parents=(content_id(b"human a"),))])
    ledger.link_run_outputs(run1, g1.sample_ids)
    ledger.create_version("gen1", ["origin:synthetic"])
    ledger.create_version("mix1", ["version:gen0", "version:gen1"])
    run2 = ledger.record_model_run("m2", "mix1")
    g2 = ledger.add_samples([text("g2", "synthetic", generator="m2", parents=(g1.sample_ids[0],))])
    ledger.link_run_outputs(run2, g2.sample_ids)

    graph = ledger.lineage(g2.sample_ids[0][:10])  # a unique prefix works
    assert graph.kind == "sample" and graph.target == g2.sample_ids[0]
    depth = {n.id: n.synthetic_depth for n in graph.nodes if n.kind == "sample"}
    assert depth == {g2.sample_ids[0]: 2, g1.sample_ids[0]: 1, content_id(b"human a"): 0}
    edges = {(e.child, e.parent, e.relation) for e in graph.edges}
    assert (g2.sample_ids[0], f"run:{run2}", "produced_by") in edges
    assert (f"run:{run2}", "version:mix1", "trained_on") in edges
    assert ("version:mix1", "version:gen1", "derived_from") in edges
    assert ("version:gen1", f"run:{run1}", "contains_output_of") in edges
    assert (f"run:{run1}", "version:gen0", "trained_on") in edges
    assert (g1.sample_ids[0], content_id(b"human a"), "parent") in edges
    assert graph.depth_histogram == {0: 1, 1: 1, 2: 1}

    vgraph = ledger.lineage("mix1")
    assert vgraph.kind == "version" and vgraph.depth_histogram == {0: 2, 1: 1}
    assert vgraph.node("version:mix1").synthetic_depth == 1
    assert vgraph.node("version:gen0").synthetic_depth == 0

    with pytest.raises(MissingInputError, match="neither a version nor a sample"):
        ledger.lineage("no-such-thing")
