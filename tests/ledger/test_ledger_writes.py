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
