"""The one write transaction: batches written behind the reader (PostgreSQL) keep every promise."""

from __future__ import annotations

import json

import pytest

from tailguard.errors import TextFormatError
from tailguard.ledger import Ledger, NewSample


def test_a_bad_line_after_batches_in_flight_stores_nothing(ledger: Ledger, tmp_path):
    path = tmp_path / "big.jsonl"
    lines = [json.dumps({"text": f"record {i % 4000}"}) for i in range(7_000)] + ["{not json"]
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(TextFormatError, match=f"^{path}:7001: invalid JSON"):
        ledger.ingest(path, origin="human", as_version="big")
    assert ledger.count_samples() == 0 and ledger.list_versions() == []
    report = ledger.ingest(path, origin="human", as_version="big", skip_bad=True)
    assert (report.added, report.duplicates, len(report.skipped)) == (4_000, 3_000, 1)
    assert ledger.get_version("big").n_members == 7_000


def test_progress_counts_every_sample_once(ledger: Ledger):
    seen: list[int] = []
    with ledger.write(progress=seen.append) as writer:
        for i in range(5_500):
            writer.add(NewSample(content=f"s{i}".encode(), uri=None, modality="text", origin="human"))
    assert sum(seen) == 5_500 and writer.report is not None and writer.report.added == 5_500


def _texts(path, texts) -> object:
    path.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    return path


def test_the_stored_digest_is_the_one_recomputed_from_the_database(ledger: Ledger, make_yolo_dataset, tmp_path):
    # each way a write's digest is made: all contents new and no boxes (computed from the rows alone),
    # some contents stored before (their label rows are read), boxes written, several sources merged
    fresh = _texts(tmp_path / "fresh.jsonl", [f"t{i % 3000}" for i in range(5_000)])
    assert ledger.ingest(fresh, origin="human", as_version="fresh").existing == 0
    again = _texts(tmp_path / "again.jsonl", [f"t{i}" for i in range(2_500, 4_500)])
    assert ledger.ingest(again, origin="synthetic", generation=1, as_version="again").existing == 500
    data = make_yolo_dataset(n_train=3, n_val=2)
    ledger.ingest(data, origin="human", as_version="boxes")
    with ledger.write(as_version="api") as writer:
        for i in range(3_000):
            writer.add(NewSample(content=f"t{i % 1_000}".encode(), uri=None, modality="text", origin="human",
                                 source=f"/src/{i % 3}"))
    for name, n in (("fresh", 5_000), ("again", 2_000), ("boxes", 5), ("api", 3_000)):
        info = ledger.get_version(name)
        assert info.n_members == n and ledger.check_digest(name).ok, name
    assert ledger.get_version("api").n_distinct == 1_000
    assert ledger.version_summary("boxes").by_class  # the boxes are in the digested manifest


def test_an_api_caller_may_reuse_and_change_its_extra_dict(ledger: Ledger):
    extra: dict = {}
    with ledger.write() as writer:
        for i in range(3):
            extra["i"] = i  # rows are built when the batch is written: each sample keeps what it was given
            writer.add(NewSample(content=f"e{i}".encode(), uri=None, modality="text", origin="human", extra=extra))
    assert sorted(r.extra["i"] for r in ledger.iter_samples()) == [0, 1, 2]


def test_a_write_pauses_the_cycle_collector_and_leaves_no_cyclic_garbage(ledger: Ledger, tmp_path):
    import gc

    path = _texts(tmp_path / "many.jsonl", [f"g{i % 700}" for i in range(5_000)])
    ledger.ingest(path, origin="human", as_version="warm")  # first-use caches are not garbage
    gc.collect()
    states: list[bool] = []
    gc.disable()
    try:
        with ledger.write() as writer:
            states.append(gc.isenabled())
            writer.add(NewSample(content=b"x", uri=None, modality="text", origin="human"))
        assert states == [False] and not gc.isenabled()  # paused by the caller: left paused
        ledger.ingest(path, origin="human", as_version="v")
        found = gc.collect()
    finally:
        gc.enable()
    assert found < 200  # what reference counting alone leaves behind does not grow with the records
    with ledger.write() as writer:
        states.append(gc.isenabled())
    assert states == [False, False] and gc.isenabled()  # paused while writing, running again after


def test_a_claim_upgrades_unknown_bytes_alike_in_one_batch_and_across_batches(ledger: Ledger, tmp_path):
    # "a" is met as unknown, then claimed human 2,500 lines later (another batch, where this write's own
    # record of it answers); "b" the same within one batch
    lines = [{"text": "a"}, {"text": "b"}, {"text": "b", "origin": "human"}]
    lines += [{"text": f"filler {i}", "origin": "human"} for i in range(2_500)]
    lines += [{"text": "a", "origin": "human"}]
    path = tmp_path / "claims.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    report = ledger.ingest(path, as_version="v")
    assert (report.added, report.duplicates, report.conflicts) == (2_502, 2, [])
    stored = {r.id: r.origin for r in ledger.iter_samples() if not r.extra.get("topic")}
    assert {stored[report.sample_ids[0]], stored[report.sample_ids[1]]} == {"human"}
    assert ledger.version_summary("v").by_origin == {"human": 2_502, "unknown": 2}
    verified = ledger.verify("v")
    assert verified.passed and not verified.changed  # the upgraded rows' provenance digests followed
