"""Faults: a process killed mid-ingest leaves nothing; two processes ingesting at once lose nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import create_engine, func, select

from tailguard.ledger import Ledger, NewSample, schema
from tailguard.ledger.engine import normalise_url

KILLED_INGEST = r"""
import pathlib, sys, time
from sqlalchemy import func, select
from tailguard.ledger import Ledger, schema, writes

url, path, flag = sys.argv[1:4]
original = writes.LedgerWriter._write_chunk
calls = []

def write_then_stall(self, items):
    original(self, items)
    calls.append(1)
    if len(calls) == 2:  # mid-ingest: rows written inside the open transaction
        n = self._conn.execute(select(func.count()).select_from(schema.samples)).scalar_one()
        pathlib.Path(flag).write_text(str(n))
        time.sleep(600)

writes.LedgerWriter._write_chunk = write_then_stall
with Ledger.open(url) as ledger:
    ledger.ingest(path, origin="human", as_version="big")
"""

CONCURRENT_INGEST = r"""
import json, pathlib, sys, time
from tailguard.ledger import Ledger

url, path, go = sys.argv[1:4]
with Ledger.open(url) as ledger:
    while not pathlib.Path(go).exists():
        time.sleep(0.01)
    report = ledger.ingest(path, origin="human", as_version=pathlib.Path(path).stem)
print(json.dumps({"added": report.added, "existing": report.existing}))
"""


def _jsonl(path: Path, texts) -> Path:
    path.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    return path


def _env() -> dict[str, str]:
    env = dict(os.environ)
    src = str(Path(__file__).resolve().parents[2] / "src")
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _row_counts(url: str) -> dict[str, int]:
    engine = create_engine(normalise_url(url))
    try:
        with engine.connect() as conn:
            return {name: conn.execute(select(func.count()).select_from(table)).scalar_one()
                    for name, table in schema.metadata.tables.items() if name != "tg_meta"}
    finally:
        engine.dispose()


def test_killed_ingest_leaves_no_rows(ledger_url, tmp_path):
    Ledger.open(ledger_url).close()
    data = _jsonl(tmp_path / "big.jsonl", (f"record {i}" for i in range(5_000)))
    flag = tmp_path / "flag"
    proc = subprocess.Popen([sys.executable, "-c", KILLED_INGEST, ledger_url, str(data), str(flag)], env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not flag.exists() or not flag.read_text():
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            assert time.monotonic() < deadline, "the ingest never reached its second chunk"
            time.sleep(0.05)
        assert int(flag.read_text()) == 4_000  # really half-way: rows were written, uncommitted
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert all(n == 0 for n in _row_counts(ledger_url).values()), _row_counts(ledger_url)
    with Ledger.open(ledger_url) as ledger:
        assert ledger.list_versions() == []
        report = ledger.ingest(data, origin="human", as_version="big")  # the ledger is healthy afterwards
        assert report.added == 5_000 and ledger.get_version("big").n_members == 5_000


def test_concurrent_ingests_lose_nothing(ledger_url, tmp_path):
    Ledger.open(ledger_url).close()
    first = _jsonl(tmp_path / "first.jsonl", (f"shared {i}" if i < 1_000 else f"first {i}" for i in range(6_000)))
    second = _jsonl(tmp_path / "second.jsonl", (f"shared {i}" if i < 1_000 else f"second {i}" for i in range(6_000)))
    go = tmp_path / "go"
    procs = [subprocess.Popen([sys.executable, "-c", CONCURRENT_INGEST, ledger_url, str(p), str(go)],
                              env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for p in (first, second)]
    time.sleep(1.0)  # both imported and opened the ledger
    go.write_text("go")
    outputs = [p.communicate(timeout=240) for p in procs]
    for proc, (_out, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err
        assert "locked" not in err
    reports = [json.loads(out) for out, _ in outputs]
    assert sum(r["added"] for r in reports) == 11_000  # 1,000 shared + 2 x 5,000 own
    assert sorted(r["existing"] for r in reports) == [0, 1_000]
    with Ledger.open(ledger_url) as ledger:
        assert ledger.count_samples() == 11_000
        assert ledger.get_version("first").n_members == ledger.get_version("second").n_members == 6_000


def test_readers_do_not_wait_for_a_writer(sqlite_url, tmp_path):
    import sqlite3

    with Ledger.open(sqlite_url) as ledger:
        ledger.add_samples([NewSample(content=b"x", uri=None, modality="text", origin="human")], as_version="v")
    writer = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")  # another process mid-ingest holds the write lock
    try:
        start = time.monotonic()
        with Ledger.open(sqlite_url) as ledger:
            assert [v.name for v in ledger.list_versions()] == ["v"]
            assert ledger.version_summary("v").n == 1
        assert time.monotonic() - start < 5  # not the 30 s busy timeout
    finally:
        writer.execute("ROLLBACK")
        writer.close()
