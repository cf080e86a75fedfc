"""Ledger core on SQLite and on a real PostgreSQL server: samples, versions, selectors, diff, runs."""

from __future__ import annotations

import pytest

from tailguard.errors import (
    EmptyDatasetError,
    MissingInputError,
    NonFiniteValueError,
    UnknownChoiceError,
    VersionExistsError,
)
from tailguard.ledger import Box, Ledger, NewSample
from tailguard.ledger.hashing import content_id


def text(t: str, origin: str = "human", **kw) -> NewSample:
    return NewSample(content=t.encode(), uri=None, modality="text", origin=origin, **kw)


def test_add_samples_is_idempotent_and_ids_are_content_hashes(ledger: Ledger):
    first = ledger.add_samples([text("a"), text("b"), text("a")])
    assert (first.added, first.existing, first.duplicates) == (2, 0, 1)
    assert first.sample_ids[0] == content_id(b"a")
    again = ledger.add_samples([text("a"), text("b")])
    assert (again.added, again.existing) == (0, 2)
    assert ledger.count_samples() == 2
    rec = next(ledger.iter_samples(ids=[content_id(b"b")]))
    assert ledger.read_bytes(rec) == b"b"
    assert rec.generation == 0 and rec.synthetic_depth == 0


def test_versions_are_immutable_snapshots(ledger: Ledger):
    ledger.add_samples([text("a"), text("b", "synthetic", generation=2)], as_version="v1")
    assert ledger.get_version("v1").n_members == 2
    with pytest.raises(VersionExistsError):
        ledger.create_version("v1", ["origin:human"])
    with pytest.raises(VersionExistsError):
        ledger.add_samples([text("c")], as_version="v1")
    assert ledger.count_samples() == 2  # the refused add left nothing behind
    with pytest.raises(UnknownChoiceError, match="Did you mean 'v1'"):
        ledger.get_version("v2")
    # adding more samples later does not change v1
    ledger.add_samples([text("d")])
    assert len(ledger.version_sample_ids("v1")) == 2
    assert [v.name for v in ledger.list_versions()] == ["v1"]


def test_selectors_or_within_key_and_across_keys(ledger: Ledger):
    ledger.add_samples(
        [
            text("h1", source="/data/a/1"),
            text("h2", source="/data/b/2"),
            text("s1", "synthetic", generation=1, source="/data/a/3"),
            text("s3", "synthetic", generation=3, source="/data/a/4"),
            text("p2", "pseudo_label", generation=2, source="/data/b/5"),
            text("u", "unknown", source="/data/a_b/6"),
        ],
        as_version="all",
    )
    ids = {t: content_id(t.encode()) for t in ("h1", "h2", "s1", "s3", "p2", "u")}

    def members(*selectors: str) -> set[str]:
        name = f"v{len(ledger.list_versions())}"
        ledger.create_version(name, selectors)
        return set(ledger.version_sample_ids(name))

    assert members("origin:human") == {ids["h1"], ids["h2"]}
    assert members("origin:human", "origin:pseudo_label") == {ids["h1"], ids["h2"], ids["p2"]}
    assert members("generation:<=2") == {ids["h1"], ids["h2"], ids["s1"], ids["p2"]}
    assert members("generation:>2") == {ids["s3"]}
    assert members("generation:!=0", "origin:synthetic") == {ids["s1"], ids["s3"]}
    assert members("source:/data/a/") == {ids["h1"], ids["s1"], ids["s3"]}  # prefix; '_' is not a wildcard
    assert members("version:all", "origin:unknown") == {ids["u"]}
    with pytest.raises(UnknownChoiceError, match=r"Unknown selector 'orign'\. Did you mean 'origin'"):
        ledger.create_version("bad", ["orign:human"])
    with pytest.raises(UnknownChoiceError, match="origin 'humn'"):
        ledger.create_version("bad", ["origin:humn"])
    with pytest.raises(EmptyDatasetError):
        ledger.create_version("empty", ["generation:>99"])
    assert "bad" not in {v.name for v in ledger.list_versions()}


def test_create_version_from_ids(ledger: Ledger):
    report = ledger.add_samples([text("a"), text("b", "synthetic")])
    info = ledger.create_version("picked", sample_ids=report.sample_ids[:1], description="one")
    assert info.n_members == 1 and info.description == "one"
    both = ledger.create_version("filtered", ["origin:synthetic"], sample_ids=report.sample_ids)
    assert ledger.version_sample_ids("filtered") == [content_id(b"b")] and both.n_members == 1
    with pytest.raises(MissingInputError, match="not in the ledger"):
        ledger.create_version("ghost", sample_ids=["0" * 32])


def test_conflicting_claims_are_recorded_and_unknown_is_upgraded(ledger: Ledger):
    ledger.add_samples([text("x"), text("y", "unknown")], as_version="before")
    report = ledger.add_samples([text("x", "synthetic"), text("y", "human", verified_by="ann")])
    assert [(c.kind, c.claimed, c.other) for c in report.conflicts] == [("claim", "synthetic", "human")]
    rec = next(ledger.iter_samples(ids=[content_id(b"y")]))
    assert rec.origin == "human" and rec.verified_by == "ann" and rec.verified_at is not None
    ledger.create_version("after", ["origin:human"])
    d = ledger.diff("before", "after")
    assert d.added == [] and d.removed == []
    assert [(c.sample_id, c.before, c.after) for c in d.origin_changed] == [(content_id(b"y"), "unknown", "human")]
    # the old version keeps the origin its members had when it was made
    assert {r.origin for r in ledger.iter_samples("before")} == {"human", "unknown"}
    summary = ledger.version_summary("after")
    assert [c.sample_id for c in summary.conflicts] == [content_id(b"x")]


def test_diff_added_removed(ledger: Ledger, monkeypatch):
    from tailguard.ledger import dialect

    monkeypatch.setattr(dialect, "ANALYZE_AFTER", 1)  # exercise the PostgreSQL statistics refresh too
    ledger.add_samples([text(str(i)) for i in range(10)], as_version="a")
    ledger.add_samples([text(str(i)) for i in range(5, 15)], as_version="b")
    d = ledger.diff("a", "b")
    assert d.added == sorted(content_id(str(i).encode()) for i in range(10, 15))
    assert d.removed == sorted(content_id(str(i).encode()) for i in range(5))
    assert ledger.diff("a", "a").added == []


def test_labels_keep_their_origin_and_versions_freeze_labels(ledger: Ledger, tmp_path):
    img = tmp_path / "i.png"
    img.write_bytes(b"\x89PNG fake image bytes")
    human = Box(1, 0.5, 0.5, 0.2, 0.2, "human")
    ledger.add_samples(
        [NewSample(content=None, uri=str(img), modality="detection", origin="human", labels=(human,),
                   extra={"class_names": ["a", "b"]})],
        as_version="v1",
    )
    pseudo = Box(1, 0.51, 0.5, 0.2, 0.2, "pseudo_label", confidence=0.9, generator="yolo26n")
    report = ledger.add_samples(
        [NewSample(content=None, uri=str(img), modality="detection", origin="human", labels=(pseudo,))],
        as_version="v2",
    )
    assert report.existing == 1 and report.added == 0
    (rec1,) = list(ledger.iter_samples("v1"))
    (rec2,) = list(ledger.iter_samples("v2"))
    assert rec1.labels == (human,)
    assert set(rec2.labels) == {human, pseudo}
    assert ledger.class_names("v1") == ["a", "b"]
    assert ledger.version_summary("v2").by_class == {1: 2}
    assert ledger.read_bytes(rec1) == img.read_bytes()


def test_verify_reports_missing_and_changed(ledger: Ledger, tmp_path):
    files = []
    for i in range(3):
        f = tmp_path / f"{i}.bin"
        f.write_bytes(f"image {i}".encode())
        files.append(f)
    ledger.add_samples(
        [NewSample(content=None, uri=str(f), modality="image", origin="human") for f in files] + [text("t")],
        as_version="v",
    )
    assert ledger.verify("v").passed
    files[0].unlink()
    files[1].write_bytes(b"tampered")
    report = ledger.verify("v")
    assert report.ok == 2
    assert [p.uri for p in report.missing] == [str(files[0])]
    assert [p.uri for p in report.changed] == [str(files[1])]


def test_runs_metrics_and_synthetic_depth(ledger: Ledger):
    ledger.add_samples([text("h")], as_version="gen0")
    run1 = ledger.record_model_run("m1", "gen0", config={"lr": 0.1})
    g1 = ledger.add_samples([text("s1", "synthetic", generator="m1")])
    ledger.link_run_outputs(run1, g1.sample_ids)
    ledger.create_version("gen1", ["origin:synthetic"])
    ledger.create_version("mix1", ["version:gen0", "version:gen1"])
    run2 = ledger.record_model_run("m2", "mix1")
    g2 = ledger.add_samples([text("s2", "synthetic", generator="m2", parents=(g1.sample_ids[0],))])
    ledger.link_run_outputs(run2, g2.sample_ids)
    depths = {r.id: r.synthetic_depth for r in ledger.iter_samples()}
    assert depths == {content_id(b"h"): 0, content_id(b"s1"): 1, content_id(b"s2"): 2}
    ledger.create_version("gen2", ["origin:synthetic"])
    assert ledger.version_summary("gen2").max_synthetic_depth == 2

    ledger.record_run_metrics(run2, {"recall/class_7": 0.4, "map50_95": 0.3}, step=3)
    got = {(m.name, m.value, m.step) for m in ledger.run_metrics(run2)}
    assert got == {("recall/class_7", 0.4, 3), ("map50_95", 0.3, 3)}
    with pytest.raises(NonFiniteValueError):
        ledger.record_run_metrics(run2, {"x": float("nan")})
    runs = {r.id: r for r in ledger.model_runs()}
    assert runs[run1].trained_on == "gen0" and runs[run1].n_produced == 1 and runs[run1].config == {"lr": 0.1}
    with pytest.raises(UnknownChoiceError):
        ledger.record_model_run("m3", "nope")
    with pytest.raises(MissingInputError):
        ledger.link_run_outputs("0" * 32, g1.sample_ids)


def test_exclusions_round_trip(ledger: Ledger):
    ledger.add_samples([text("a"), text("b")], as_version="v")
    ledger.record_exclusions("v", [(content_id(b"b"), "tail filter: near-duplicate of a")])
    assert ledger.exclusions("v") == [(content_id(b"b"), "tail filter: near-duplicate of a")]
    with pytest.raises(UnknownChoiceError):
        ledger.record_exclusions("w", [])


def test_iter_samples_batches_and_ids(ledger: Ledger):
    report = ledger.add_samples([text(f"t{i}") for i in range(25)], as_version="v")
    records = list(ledger.iter_samples("v", batch_size=4))
    assert [r.id for r in records] == sorted(report.sample_ids)
    picked = list(ledger.iter_samples(ids=report.sample_ids[3:6]))
    assert [r.id for r in picked] == report.sample_ids[3:6]
    with pytest.raises(MissingInputError):
        list(ledger.iter_samples(ids=["f" * 32]))
    pairs = list(ledger.iter_bytes("v", batch_size=7))
    assert sorted(b.decode() for _, b in pairs) == sorted(f"t{i}" for i in range(25))


def test_bad_new_samples_are_refused(ledger: Ledger):
    with pytest.raises(UnknownChoiceError, match="origin 'humam'"):
        ledger.add_samples([text("a", "humam")])
    with pytest.raises(UnknownChoiceError, match="modality"):
        ledger.add_samples([NewSample(content=b"x", uri=None, modality="audio", origin="human")])
    with pytest.raises(MissingInputError):
        ledger.add_samples([NewSample(content=None, uri="/no/such/file.png", modality="image", origin="human")])
    assert ledger.count_samples() == 0


def test_open_uses_env_then_default(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TAILGUARD_LEDGER", raising=False)
    with Ledger.open() as led:
        assert led.url == "sqlite:///.tailguard/ledger.db"
    assert (tmp_path / ".tailguard" / "ledger.db").is_file()
    monkeypatch.setenv("TAILGUARD_LEDGER", f"sqlite:///{tmp_path / 'env.db'}")
    with Ledger.open() as led:
        led.add_samples([text("a")])
    assert (tmp_path / "env.db").is_file()
