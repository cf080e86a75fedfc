"""Faults: a process killed mid-ingest leaves nothing; two processes ingesting at once lose nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
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


# ------------------------------------------------------------------ hostile inputs through the CLI
def _cli(capsys, url: str, *args: str) -> tuple[int, str, str]:
    """Run ``tailguard --ledger URL ARGS`` in process; returns (exit code, stdout, stderr)."""
    from tailguard.cli.app import main

    capsys.readouterr()
    code = main(["--ledger", url, *args])
    out, err = capsys.readouterr()
    return code, out, err


def _assert_refused(capsys, url: str, path: Path, *args: str, names: str | Path | None = None,
                    says: str = "") -> str:
    """The ingest exits 2 with one ``error:`` line naming the input, and stores nothing."""
    Ledger.open(url).close()
    before = _row_counts(url)
    code, out, err = _cli(capsys, url, "ingest", str(path), *args)
    assert code == 2, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert str(names if names is not None else path) in lines[0], lines[0]
    assert says in lines[0], lines[0]
    assert "Traceback" not in err
    assert _row_counts(url) == before
    return lines[0]


def _assert_skipped(capsys, url: str, path: Path, *args: str, added: int, skipped: int) -> None:
    code, out, err = _cli(capsys, url, "ingest", str(path), *args, "--skip-bad", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert (report["added"], len(report["skipped"])) == (added, skipped), report


def _png(path: Path, width: int, height: int) -> Path:
    """A PNG whose header claims ``width`` x ``height`` pixels (a few bytes: nothing is encoded)."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b""))
                     + chunk(b"IEND", b""))
    return path


def _good_image(path: Path, seed: int = 0) -> Path:
    import numpy as np
    from PIL import Image

    pixels = np.random.default_rng(seed).integers(0, 256, size=(16, 16, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    return path


def test_decompression_bomb_png(capsys, sqlite_url, tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    _good_image(folder / "a.png")
    bomb = _png(folder / "bomb.png", 20_000, 20_000)
    assert bomb.stat().st_size < 100
    start = time.monotonic()
    _assert_refused(capsys, sqlite_url, folder, names=bomb, says="too large")
    assert time.monotonic() - start < 10  # refused from the header, nothing decoded
    _assert_skipped(capsys, sqlite_url, folder, added=1, skipped=1)


def test_truncated_jpeg(capsys, sqlite_url, tmp_path):
    from PIL import Image

    folder = tmp_path / "imgs"
    folder.mkdir()
    _good_image(folder / "a.png")
    whole = folder / "whole.jpg"
    Image.open(_good_image(folder / "tmp.png", seed=1)).convert("RGB").resize((64, 64)).save(whole, quality=95)
    (folder / "tmp.png").unlink()
    cut = folder / "cut.jpg"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    whole.unlink()
    with Image.open(cut) as im:  # the header alone looks fine: only a full decode finds the truncation
        assert im.size == (64, 64)
    _assert_refused(capsys, sqlite_url, folder, names=cut, says="cannot decode image")
    _assert_skipped(capsys, sqlite_url, folder, added=1, skipped=1)


def test_truncated_jpeg_refused_even_when_truncated_loading_is_switched_on(monkeypatch, tmp_path):
    from PIL import Image, ImageFile

    from tailguard.errors import CorruptFileError
    from tailguard.features.images import check_image

    path = tmp_path / "a.jpg"
    Image.open(_good_image(tmp_path / "a.png")).convert("RGB").resize((64, 64)).save(path, quality=95)
    data = path.read_bytes()[: path.stat().st_size // 2]
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    with pytest.raises(CorruptFileError, match=r"a\.jpg: cannot decode"):
        check_image(data, name=str(path))
    assert ImageFile.LOAD_TRUNCATED_IMAGES is True  # the caller's setting is restored


def test_self_referencing_symlink_in_an_image_folder(capsys, sqlite_url, tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    _good_image(folder / "a.png")
    os.symlink("loop.png", folder / "loop.png")
    _assert_refused(capsys, sqlite_url, folder, names=folder / "loop.png", says="symlink loop")
    _assert_skipped(capsys, sqlite_url, folder, added=1, skipped=1)


def test_self_referencing_symlink_in_an_image_list(capsys, sqlite_url, tmp_path):
    root = _yolo(tmp_path)
    os.symlink("loop.png", root / "images" / "loop.png")
    (root / "train.txt").write_text("./images/img0.png\n./images/loop.png\n")
    data = root / "data.yaml"
    data.write_text("train: train.txt\nnames: [a]\n")
    _assert_refused(capsys, sqlite_url, data, names=root / "images" / "loop.png", says="symlink loop")
    _assert_skipped(capsys, sqlite_url, data, added=1, skipped=1)


def _yolo(tmp_path: Path) -> Path:
    root = tmp_path / "ds"
    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    for i in range(2):
        _good_image(root / "images" / f"img{i}.png", seed=i)
        (root / "labels" / f"img{i}.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    return root


def test_non_utf8_data_yaml(capsys, sqlite_url, tmp_path):
    root = _yolo(tmp_path)
    data = root / "data.yaml"
    data.write_bytes(b"train: images\nnames: [caf\xe9]\n")  # Latin-1
    _assert_refused(capsys, sqlite_url, data, says="not valid UTF-8")


def test_non_utf8_image_list(capsys, sqlite_url, tmp_path):
    root = _yolo(tmp_path)
    (root / "train.txt").write_bytes(b"./images/img0.png\n./images/\xff\xfe.png\n")
    (root / "val.txt").write_text("./images/img1.png\n")
    data = root / "data.yaml"
    data.write_text("train: train.txt\nval: val.txt\nnames: [a]\n")
    _assert_refused(capsys, sqlite_url, data, names=root / "train.txt", says="not valid UTF-8")
    _assert_skipped(capsys, sqlite_url, data, added=1, skipped=1)  # the val list still counts


def test_billion_laughs_data_yaml_fails_fast(capsys, sqlite_url, tmp_path):
    root = _yolo(tmp_path)
    levels = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        levels.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    data = root / "data.yaml"
    data.write_text("\n".join(levels) + "\ntrain: images\nnames: *i\n")
    start = time.monotonic()
    _assert_refused(capsys, sqlite_url, data, says="aliases are not allowed")
    assert time.monotonic() - start < 5


def _jsonl_line(tmp_path: Path, line: str, name: str = "bad.jsonl") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps({"text": "a good line"}) + "\n" + line + "\n")
    return path


BAD_JSONL = {
    "parents_int": ('{"text": "x", "parents": 5}', "'parents' must be a list of sample ids"),
    "parents_str": ('{"text": "x", "parents": "0123456789abcdef0123456789abcdef"}', "'parents' must be a list"),
    "parents_dicts": ('{"text": "x", "parents": [{"id": 1}]}', "item 0 is a dict"),
    "generator_dict": ('{"text": "x", "generator": {"name": "gpt"}}', "'generator' must be a string"),
    "verified_by_list": ('{"text": "x", "verified_by": ["ann", "bob"]}', "'verified_by' must be a string"),
    "generator_nul": ('{"text": "x", "generator": "gpt\\u0000"}', "control character '\\x00'"),
    "verified_by_long": (json.dumps({"text": "x", "verified_by": "a" * 201}), "at most 200"),
    "generation_huge": ('{"text": "x", "generation": ' + str(10**30) + "}", "must be an int in 0..10000"),
    "generation_negative": ('{"text": "x", "generation": -1}', "must be an int in 0..10000"),
    "generation_bool": ('{"text": "x", "generation": true}', "got True"),
    "generation_float": ('{"text": "x", "generation": 1.0}', "got 1.0"),
    "deep_json": ("[" * 100_000 + "]" * 100_000, "nested deeper than 64"),
    "deep_record": ('{"text": "x", "meta": ' + "[" * 500 + "]" * 500 + "}", "nested deeper than 64"),
    "lone_surrogate": ('{"text": "broken \\ud800 text"}', "lone surrogate"),
    "huge_int": ('{"text": "x", "n": ' + "9" * 5000 + "}", "invalid JSON"),
}


@pytest.mark.parametrize(("line", "says"), [pytest.param(*case, id=name) for name, case in BAD_JSONL.items()])
def test_bad_jsonl_fields(capsys, sqlite_url, tmp_path, line, says):
    path = _jsonl_line(tmp_path, line)
    message = _assert_refused(capsys, sqlite_url, path, names=f"{path}:2", says=says)
    assert len(message) < 400  # a bad value is shown briefly
    _assert_skipped(capsys, sqlite_url, path, added=1, skipped=1)


def test_nul_bytes_in_text_content_are_stored_as_bytes(ledger, tmp_path):
    from sqlalchemy import LargeBinary

    assert isinstance(schema.samples.c.content.type, LargeBinary)  # bytea on PostgreSQL, BLOB on SQLite
    path = tmp_path / "nul.jsonl"
    path.write_text(json.dumps({"text": "before\u0000after", "note": "x\u0000y"}) + "\n")
    report = ledger.ingest(path, origin="human", as_version="nul")
    assert report.added == 1
    (rec,) = list(ledger.iter_samples("nul"))
    assert ledger.read_bytes(rec) == b"before\x00after" and rec.extra["note"] == "x\x00y"


@pytest.mark.parametrize(
    ("flags", "says"),
    [(["--generation", "-1"], "--generation must be an int in 0..10000; got -1"),
     (["--generation", str(10**30)], "--generation must be an int in 0..10000"),
     (["--generator", "gpt\x1b[31m"], "--generator holds the control character '\\x1b'"),
     (["--verified-by", "a" * 300], "--verified-by is 300 characters long")],
)
def test_bad_ingest_flags(capsys, sqlite_url, tmp_path, flags, says):
    path = _jsonl_line(tmp_path, json.dumps({"text": "another"}), "ok.jsonl")
    line = _assert_refused(capsys, sqlite_url, path, *flags, names="", says=says)
    assert line.startswith("error: --")


def test_npy_with_a_huge_header_shape_is_not_allocated(capsys, sqlite_url, tmp_path):
    from numpy.lib import format as npy_format

    path = tmp_path / "huge.npy"
    with open(path, "wb") as handle:
        npy_format.write_array_header_1_0(handle, {"descr": "<f8", "fortran_order": False,
                                                   "shape": (10**12, 10**12)})
        handle.write(b"\x00" * 64)
    _assert_refused(capsys, sqlite_url, path, says="header declares shape (1000000000000, 1000000000000)")


def test_bad_provenance_columns_in_tables(capsys, sqlite_url, tmp_path):
    import pandas as pd

    csv = tmp_path / "t.csv"
    csv.write_text("x,generation,generator\n1,0,m\n2,-1,m\n3,1.5,m\n4,2,\"a\x01b\"\n5,3,m\n")
    _assert_refused(capsys, sqlite_url, csv, names=f"{csv}:3", says="'generation' must be an int")
    code, out, err = _cli(capsys, sqlite_url, "ingest", str(csv), "--skip-bad", "--json")
    assert code == 0, err
    reasons = [s["reason"] for s in json.loads(out)["skipped"]]
    assert [r.split(": ", 1)[0] for r in reasons] == [f"{csv}:{n}" for n in (3, 4, 5)]
    assert "control character" in reasons[2]

    pq = tmp_path / "t.parquet"
    pd.DataFrame({"x": [1, 2], "generation": [1.0, None], "parents": [["abc"], None]}).to_parquet(pq)
    _assert_refused(capsys, sqlite_url, pq, names=f"{pq}:1", says="'generation' must be an int")


def test_csv_column_mixing_numbers_and_words(capsys, sqlite_url, tmp_path):
    csv = tmp_path / "mixed.csv"
    csv.write_text("a,b\n1,x\n\n2,y\nthree,z\n")
    line = _assert_refused(capsys, sqlite_url, csv, names=f"{csv}:5", says="column 'a' mixes numbers and text")
    assert "line 2 holds '1'" in line and "line 5 holds 'three'" in line
