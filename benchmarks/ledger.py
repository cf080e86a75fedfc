"""Ledger benchmark: ingest speed, 1M-occurrence versions, diff, verify, upgrade and CLI start-up.

Targets (2-core machine, each backend): ingest >= 20k JSONL records/s with 30% repeated
records, diff of two 1M-occurrence versions < 3 s, verify of the digest of a
1M-occurrence version < 5 s, ``tailguard --help`` < 0.5 s; the upgrade of a 1M-sample
ledger written by tailguard 0.1 (schema 1) is timed.

Usage:
    python benchmarks/ledger.py                       # SQLite, full sizes
    python benchmarks/ledger.py --backend postgresql  # a throwaway local PostgreSQL server
    python benchmarks/ledger.py --backend both --records 20000 --images 500 --members 100000  # quick
    python benchmarks/ledger.py --backend postgresql --only ingest   # the JSONL ingest alone (repeat it: shared cores)
Results are printed and written to bench-results/ledger-<backend>.json.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tailguard.ledger import Ledger, NewSample

SERVER_DATA: dict[str, Path] = {}  # URL of a throwaway server -> its data folder


def server_cpu_seconds(url: str) -> float | None:
    """CPU time used so far by the throwaway PostgreSQL server at ``url`` (all its processes, ended
    ones included); ``None`` for another server or where /proc cannot say."""
    data = SERVER_DATA.get(url)
    if data is None:
        return None
    try:
        postmaster = int((data / "postmaster.pid").read_text().split()[0])
        tick = os.sysconf("SC_CLK_TCK")
        total = 0
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                fields = Path(entry.path, "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # ended meanwhile
            pid, ppid = int(entry.name), int(fields[1])
            if pid == postmaster:  # its own time and that of the children it has reaped
                total += sum(int(f) for f in fields[11:15])
            elif ppid == postmaster:
                total += int(fields[11]) + int(fields[12])
        return total / tick
    except (OSError, ValueError, IndexError):
        return None


@contextmanager
def throwaway_postgres() -> Iterator[str]:
    """Start a local PostgreSQL cluster (as user postgres when run as root); yield its URL."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise SystemExit("PostgreSQL server binaries not found: apt-get install postgresql")
    bindir = Path(found[-1]).parent
    base = Path(tempfile.mkdtemp(prefix="tg-bench-pg-"))
    prefix = []
    if os.geteuid() == 0:
        shutil.chown(base, user="postgres", group="postgres")
        prefix = ["runuser", "-u", "postgres", "--"]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    data = base / "data"
    subprocess.run([*prefix, str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8"],
                   check=True, capture_output=True)
    opts = f"-p {port} -k {base} -c listen_addresses=127.0.0.1 -c shared_buffers=512MB"
    subprocess.run([*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(base / "log"), "-w",
                    "start"], check=True, capture_output=True)
    url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
    SERVER_DATA[url] = data
    try:
        yield url
    finally:
        SERVER_DATA.pop(url, None)
        subprocess.run([*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
                       capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


def timed(label: str, results: dict, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    """Run ``fn`` and record its wall time (and this process's CPU time: on a shared,
    loaded machine wall time includes waiting for a core; CPU time does not)."""
    start, cpu = time.perf_counter(), time.process_time()
    value = fn(*args, **kwargs)
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
    results[label] = round(seconds, 3)
    results[label[:-2] + "_cpu_s" if label.endswith("_s") else label + "_cpu"] = round(cpu_seconds, 3)
    print(f"  {label:<34} {seconds:8.2f} s wall {cpu_seconds:8.2f} s cpu", flush=True)
    return value


REPEAT_SHARE = 0.3


def write_jsonl(path: Path, n: int) -> int:
    """``n`` records, 30% of which repeat an earlier record's text; returns the number of distinct texts."""
    words = ["the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "while", "model", "collapse", "erodes", "rare", "tails"]
    distinct = 0
    with open(path, "w") as handle:
        for i in range(n):
            if i % 10 < REPEAT_SHARE * 10 and distinct:
                j = (i * 2654435761) % distinct  # an earlier distinct text, spread over the file
            else:
                j, distinct = distinct, distinct + 1
            text = " ".join(words[(j * 7 + k) % len(words)] for k in range(12))
            handle.write(json.dumps({"text": f"{j}: {text}", "topic": words[j % len(words)]}) + "\n")
    return distinct


def make_schema1_ledger(url: str, n: int) -> None:
    """A ledger as tailguard 0.1 wrote it (the frozen schema 1 of the tests): n samples, one n-member version."""
    import datetime as dt

    from sqlalchemy import create_engine, insert

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "ledger"))
    import schema_v01

    from tailguard.ledger.engine import normalise_url
    from tailguard.ledger.hashing import content_id

    engine = create_engine(normalise_url(url))
    now = dt.datetime(2026, 1, 1)
    with engine.begin() as conn:
        schema_v01.metadata.create_all(conn)
        conn.execute(insert(schema_v01.meta).values(key="schema_version", value="1"))
        conn.execute(insert(schema_v01.ingests).values(id=1, path="/bench/old.jsonl", format="jsonl",
                                                       origin="human", started_at=now, n_added=n))
        conn.execute(insert(schema_v01.versions).values(id=1, name="old", created_at=now, n_members=n,
                                                        label_watermark=1))
        for start in range(0, n, 50_000):
            rows = [{"id": content_id(f"old{i}".encode()), "content": f"old{i}".encode(), "modality": "text",
                     "origin": "human", "generation": 0, "source": "/bench/old.jsonl", "created_at": now,
                     "extra": "{}", "synthetic_depth": 0, "ingest_id": 1} for i in range(start, min(n, start + 50_000))]
            conn.execute(insert(schema_v01.samples), rows)
            conn.execute(insert(schema_v01.version_members),
                         [{"version_id": 1, "sample_id": r["id"], "origin": "human"} for r in rows])
    engine.dispose()


def upgrade_schema1(url: str, work: Path, n: int) -> None:
    """Time the in-place upgrade of a fresh n-sample schema-1 ledger (beside the benchmark's own)."""
    from tailguard.ledger.upgrade import upgrade_ledger

    if url.startswith("sqlite"):
        old = f"sqlite:///{work / 'schema1.db'}"
    else:
        from sqlalchemy import create_engine

        from tailguard.ledger.engine import normalise_url

        admin = create_engine(normalise_url(url), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql("CREATE DATABASE schema1")
        admin.dispose()
        old = url.rsplit("/", 1)[0] + "/schema1"
    make_schema1_ledger(old, n)
    start = time.perf_counter()
    report = upgrade_ledger(old)
    print(f"  {'-> upgrade (migration alone)':<34} {time.perf_counter() - start:8.2f} s; backup {report.backup}")
    with Ledger.open(old) as ledger:
        assert ledger.get_version("old").n_members == n and ledger.check_digest("old").ok


def help_seconds() -> float:
    exe = shutil.which("tailguard") or str(Path(sys.executable).parent / "tailguard")
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        subprocess.run([exe, "--help"], check=True, capture_output=True)
        best = min(best, time.perf_counter() - start)
    return best


def run(url: str, args: argparse.Namespace, work: Path) -> dict:
    results: dict = {"url": url.split("@")[-1], "records": args.records, "images": args.images,
                     "members": args.members}
    with Ledger.open(url) as ledger:
        print(f"backend {ledger.dialect}", flush=True)
        jsonl = work / "records.jsonl"
        distinct = write_jsonl(jsonl, args.records)
        server_before = server_cpu_seconds(url)
        report = timed("ingest_jsonl_s", results, ledger.ingest, jsonl, origin="human", as_version="jsonl")
        server_after = server_cpu_seconds(url)
        if server_before is not None and server_after is not None:
            results["ingest_jsonl_server_cpu_s"] = round(server_after - server_before, 2)
            print(f"  {'-> server cpu (all its processes)':<34} {server_after - server_before:8.2f} s", flush=True)
        assert report.added == distinct and report.occurrences == args.records
        assert ledger.get_version("jsonl").n_members == args.records
        results["ingest_jsonl_repeats"] = report.duplicates
        results["ingest_jsonl_records_per_s"] = round(args.records / results["ingest_jsonl_s"])
        results["ingest_jsonl_records_per_cpu_s"] = round(args.records / results["ingest_jsonl_cpu_s"])
        results["ingest_jsonl_cpu_us_per_record"] = round(results["ingest_jsonl_cpu_s"] / args.records * 1e6, 1)
        print(f"  {'-> records/s (wall, cpu)':<34} {results['ingest_jsonl_records_per_s']:8d} "
              f"{results['ingest_jsonl_records_per_cpu_s']:8d}  "
              f"({results['ingest_jsonl_cpu_us_per_record']} us client cpu per record)", flush=True)
        if args.only == "ingest":
            return results

        if args.images:
            data_yaml = work / "detection" / "data.yaml"
            if not data_yaml.exists():
                from tailguard.data import make_detection_dataset

                timed("make_detection_dataset_s", results, make_detection_dataset, work / "detection",
                      args.images, seed=0)
            report = timed("ingest_detection_s", results, ledger.ingest, data_yaml, origin="human",
                           as_version="detection")
            results["ingest_images_per_s"] = round(report.added / results["ingest_detection_s"])
            print(f"  {'-> images/s':<34} {results['ingest_images_per_s']:8d}", flush=True)
            timed("export_detection_yolo_s", results, ledger.export, "detection", "yolo", work / "export")

        n = args.members
        shift = n // 20
        samples = (NewSample(content=f"m{i}".encode(), uri=None, modality="text", origin="human",
                             source="/bench/a" if i < n else "/bench/b") for i in range(n + shift))
        timed("add_samples_members_s", results, ledger.add_samples, samples)
        info = timed("create_version_1M_selector_s", results, ledger.create_version, "big_a", ["source:/bench/a"])
        ids_b = ledger.version_sample_ids("big_a")[shift:]
        ledger.create_version("big_new", ["source:/bench/b"])
        ids_b += ledger.version_sample_ids("big_new")
        info_b = timed("create_version_1M_ids_s", results, ledger.create_version, "big_b", sample_ids=ids_b)
        assert info.n_members == n and info_b.n_members == n
        diff = timed("diff_1M_vs_1M_s", results, ledger.diff, "big_a", "big_b")
        assert len(diff.added) == shift and len(diff.removed) == shift
        timed("version_summary_1M_s", results, ledger.version_summary, "big_a")
        check = timed("verify_digest_1M_s", results, ledger.check_digest, "big_a")
        assert check.ok
        verified = timed("verify_full_1M_s", results, ledger.verify, "big_a")
        assert verified.passed and verified.occurrences == n
    timed("upgrade_1M_schema1_s", results, upgrade_schema1, url, work, args.members)
    results["tailguard_help_s"] = round(help_seconds(), 3)
    print(f"  {'tailguard --help (best of 5)':<34} {results['tailguard_help_s']:8.2f} s", flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="sqlite")
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--images", type=int, default=20_000)
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--out", default="bench-results")
    parser.add_argument("--only", choices=("ingest",), default=None,
                        help="run only this part (ingest: the JSONL ingest of --records records)")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the cleanups (server stop, temp dirs)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    backends = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
    with tempfile.TemporaryDirectory(prefix="tg-bench-") as tmp:
        work = Path(tmp)
        for backend in backends:
            if backend == "sqlite":
                results = run(f"sqlite:///{work / 'ledger.db'}", args, work)
            else:
                with throwaway_postgres() as url:
                    results = run(url, args, work)
            results["machine"] = f"{platform.machine()}, {os.cpu_count()} cpus, Python {platform.python_version()}"
            results["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
            (out / f"ledger-{backend}.json").write_text(json.dumps(results, indent=2))
            print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
