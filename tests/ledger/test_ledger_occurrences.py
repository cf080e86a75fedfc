"""Versions are multisets: every occurrence counts, through show, diff, verify, export, audit, mix and gate."""

from __future__ import annotations

import json

import pytest

from tailguard.ledger import Ledger, NewSample
from tailguard.ledger.hashing import content_id


def write_jsonl(path, texts, **fields):  # type: ignore[no-untyped-def]
    path.write_text("".join(json.dumps({"text": t, **fields}) + "\n" for t in texts))
    return path


def test_repeats_in_a_source_are_occurrences_of_one_content(ledger: Ledger, tmp_path):
    texts = ["same answer"] * 5 + ["other", "rare one", "other"]
    report = ledger.ingest(write_jsonl(tmp_path / "out.jsonl", texts), origin="synthetic", as_version="outs")
    assert (report.added, report.duplicates, report.occurrences) == (3, 5, 8)
    info = ledger.get_version("outs")
    assert (info.n_members, info.n_distinct) == (8, 3)
    assert ledger.count_samples() == 3  # content stored once
    read = [ledger.read_bytes(r).decode() for r in ledger.iter_samples("outs")]
    assert sorted(read) == sorted(texts)
    assert [t for _r, b in ledger.iter_bytes("outs") for t in [b.decode()]].count("same answer") == 5
    assert ledger.version_summary("outs").n == 8


def test_the_same_text_can_be_human_in_one_source_and_synthetic_in_another(ledger: Ledger, tmp_path):
    ledger.ingest(write_jsonl(tmp_path / "h.jsonl", ["hello world", "hi"]), origin="human", as_version="h")
    report = ledger.ingest(write_jsonl(tmp_path / "s.jsonl", ["hello world"] * 3), origin="synthetic",
                           as_version="s")
    assert report.conflicts and report.conflicts[0].kind == "claim"
    assert [r.origin for r in ledger.iter_samples("s")] == ["synthetic"] * 3
    assert ledger.version_summary("s").human_fraction == 0.0
    assert min(r.synthetic_depth for r in ledger.iter_samples("s")) >= 1
    both = ledger.create_version("both", ["version:h", "version:s"])
    assert both.n_members == 5 and both.n_distinct == 2
    summary = ledger.version_summary("both")
    assert summary.by_origin == {"human": 2, "synthetic": 3}
    assert ledger.create_version("only-human", ["version:both", "origin:human"]).n_members == 2
    # a version derived from another does not count their shared occurrences twice (multiset union)
    assert ledger.create_version("again", ["version:both", "version:s"]).n_members == 5
    # ledger-wide selectors read every source's occurrences
    assert ledger.create_version("all-synth", ["origin:synthetic"]).n_members == 3


def test_reingesting_a_source_replaces_its_occurrences(ledger: Ledger, tmp_path):
    path = write_jsonl(tmp_path / "a.jsonl", ["x", "x", "y"])
    ledger.ingest(path, origin="human")
    again = ledger.ingest(path, origin="human")
    assert (again.added, again.existing, again.duplicates) == (0, 2, 1)
    assert ledger.create_version("all", ["origin:human"]).n_members == 3  # not 6


def test_diff_reports_count_changes(ledger: Ledger, tmp_path):
    ledger.ingest(write_jsonl(tmp_path / "a.jsonl", ["a", "b", "b"]), origin="human", as_version="A")
    ledger.ingest(write_jsonl(tmp_path / "b.jsonl", ["a", "b", "b", "b", "c"]), origin="human", as_version="B")
    d = ledger.diff("A", "B")
    assert d.added == [content_id(b"c")] and d.removed == []
    assert [(c.sample_id, c.before, c.after) for c in d.count_changed] == [(content_id(b"b"), 2, 3)]
    assert ledger.diff("A", "A").count_changed == []


def test_api_members_keep_multiplicity_and_origin(ledger: Ledger):
    report = ledger.add_samples([NewSample(content=t.encode(), uri=None, modality="text", origin="human")
                                 for t in ("p", "q")])
    p, q = report.sample_ids
    info = ledger.create_version("picked", sample_ids=[p, p, p, (q, "synthetic")])
    assert (info.n_members, info.n_distinct) == (4, 2)
    assert sorted((r.id, r.origin) for r in ledger.iter_samples("picked")) == sorted(
        [(p, "human")] * 3 + [(q, "synthetic")])


def test_mix_and_gate_count_occurrences(ledger: Ledger, tmp_path):
    from tailguard.policy import mix

    ledger.ingest(write_jsonl(tmp_path / "h.jsonl", [f"human text {i}" for i in range(10)]), origin="human",
                  as_version="h")
    ledger.ingest(write_jsonl(tmp_path / "s.jsonl", ["collapsed answer"] * 30), origin="synthetic",
                  generation=1, as_version="s")
    report = mix(ledger, "accumulate", human="h", synthetic="s", as_version="m")
    info = ledger.get_version("m")
    assert (info.n_members, info.n_distinct) == (40, 11)
    assert report.gate.to_dict()["stats"]["human_fraction"] == pytest.approx(0.25)
    assert ledger.version_summary("m").human_fraction == pytest.approx(0.25)


def test_export_writes_every_occurrence(ledger: Ledger, tmp_path):
    ledger.ingest(write_jsonl(tmp_path / "a.jsonl", ["u", "u", "v"]), origin="human", as_version="A")
    out = ledger.export("A", "jsonl", tmp_path / "out")
    lines = [json.loads(line)["text"] for line in out.read_text().splitlines()]
    assert sorted(lines) == ["u", "u", "v"]


def test_audit_of_a_version_sees_the_repeats(ledger: Ledger, tmp_path):
    """The headline bug of 0.1: a version dropped repeated outputs, so its audit missed mode collapse."""
    from tailguard.audit import AuditConfig, audit
    from tailguard.audit.sources import Source

    ref_texts = [f"the reference sentence number {i} talks about topic {i % 17}" for i in range(300)]
    outs = [f"generated answer {i % 15}" for i in range(240)] + ref_texts[:60]
    ledger.ingest(write_jsonl(tmp_path / "ref.jsonl", ref_texts), origin="human", as_version="ref")
    path = write_jsonl(tmp_path / "outs.jsonl", outs)
    ledger.ingest(path, origin="synthetic", as_version="outs")
    assert ledger.get_version("outs").n_members == 300
    config = AuditConfig(quick=True)
    by_version = audit(Source("outs", ledger.url), Source("ref", ledger.url), config=config)
    by_path = audit(Source(str(path)), Source(str(tmp_path / "ref.jsonl")), config=config)
    assert by_version.verdict == by_path.verdict
    for a, b in zip(by_version.metrics, by_path.metrics, strict=True):
        assert a.name == b.name
        assert a.value == pytest.approx(b.value, rel=1e-9, abs=1e-12, nan_ok=True)


def test_yolo_export_lists_a_repeated_image_once_per_occurrence(ledger: Ledger, make_yolo_dataset, tmp_path):
    import yaml

    ledger.ingest(make_yolo_dataset(n_train=2, n_val=1), origin="human", as_version="det")
    ids = ledger.version_sample_ids("det")
    ledger.create_version("det-rep", sample_ids=[*ids, ids[0], ids[0]])
    data_yaml = ledger.export("det-rep", "yolo", tmp_path / "out", val_fraction=0.5, seed=3)
    spec = yaml.safe_load(data_yaml.read_text())
    listed = [line for split in ("train", "val")
              for line in (data_yaml.parent / spec[split]).read_text().splitlines()]
    assert len(listed) == 5 and len(set(listed)) == 3  # three images, one of them listed three times


def test_a_version_reads_its_occurrences_generation(ledger: Ledger, tmp_path):
    """Human text that a model repeats is, in the model's version, a generation-1 synthetic sample."""
    from tailguard.policy import mix

    ledger.ingest(write_jsonl(tmp_path / "h.jsonl", [f"human {i}" for i in range(6)]), origin="human",
                  as_version="h")
    ledger.ingest(write_jsonl(tmp_path / "s.jsonl", ["human 0", "human 1", "new"], generation=1),
                  origin="synthetic", as_version="s")
    assert sorted(r.generation for r in ledger.iter_samples("s")) == [1, 1, 1]
    report = mix(ledger, "replace", human="h", synthetic="s", as_version="m",
                 allow_no_human=True)  # replace keeps no human data: permitted for this test
    assert ledger.get_version("m").n_members == 3  # replace keeps the whole last round, repeats included
    assert (report.stats.n, report.stats.n_human) == (3, 0)
