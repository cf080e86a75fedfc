"""The dashboard's render time on a large ledger: every page, cold (first request) and warm.

The ledger is built through the ledger's public write API only (``Ledger.write``, one atomic write
per 10,000 text samples, about 20k samples/s on SQLite here): ``--samples`` samples in
``--versions`` writes, each but the last its own version (``shard-NN``), and a last version
``all`` of every sample (``version create all --from origin:human --from origin:synthetic``),
so the versions page, the diff and the lineage meet a version of ``--samples`` members. A third
of the samples are synthetic (generation 1..3). Then ``--audits`` recorded audits against one
reference (the report of one real quick audit, its values jittered per record, as a monitor
would record one per window), and ``--runs`` model runs with ``--classes`` per-class recalls
over ``--epochs`` epochs and a recall-drop alert each.

Each page is requested through FastAPI's TestClient (routing, the ledger's reads, Jinja and the
SVG): the first request (cold: nothing read yet by this app; the versions page then reads every
composition, the diff its pair) and the median of ``--repeat`` more (warm: compositions and diffs of
immutable versions come from the app's memory, everything else is read again). Versions' figures (by origin,
by generation, synthetic depths) are stored in the ledger (``version_stats``, schema 7): a ledger built by this
script has them from the start; one built by an older tailguard and upgraded gets them on first read, so its first
run's cold figures include computing and storing them (the script prints how many are stored before and after). The target is < 1 s per page. There is no peer dashboard to print beside
it; the CLI's ``version list --json`` on the same ledger is timed as the reference point.

Usage::

    python benchmarks/serve.py [--samples 1000000] [--versions 100] [--audits 300] [--runs 20]
                               [--db PATH] [--repeat 3]

An existing ``--db`` built with the same sizes is reused (its build time is then not printed).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from tailguard.ledger import Ledger, NewSample


def build(url: str, samples: int, versions: int, audits: int, runs: int, classes: int, epochs: int) -> float:
    """Write the benchmark ledger; returns the seconds it took."""
    t0 = time.perf_counter()
    rng = np.random.default_rng(0)
    writes = versions
    per = -(-samples // writes)
    with Ledger.open(url) as ledger:
        done = 0
        for i in range(writes):
            n = min(per, samples - done)
            name = f"shard-{i:02d}" if i < writes - 1 else None  # the last write is in no shard
            with ledger.write(as_version=name) as w:
                for j in range(done, done + n):
                    synthetic = j % 3 == 0
                    w.add(NewSample(f"sample {j} {rng.integers(1 << 30)}".encode(), None, "text",
                                    "synthetic" if synthetic else "human",
                                    generation=int(1 + j % 3) if synthetic else None))
            done += n
        # 'all' (every sample) is the last version: versions - 1 shards and it
        ledger.create_version("all", ["origin:human", "origin:synthetic"])
        doc = real_audit_doc()
        for k in range(audits):
            jitter = dict(doc)
            jitter["candidate"] = f"stream.jsonl#window{k}"
            jitter["metrics"] = [{**row, "value": row["value"] * float(rng.uniform(0.9, 1.1))}
                                 if isinstance(row.get("value"), float) else row for row in doc["metrics"]]
            ledger.record_audit(jitter, source="benchmark")
        for r in range(runs):
            run_id = ledger.record_model_run(f"det-{r}", "all", config={"task": "train", "epochs": epochs})
            for e in range(epochs):
                ledger.record_run_metrics(run_id, {"map50_95": float(rng.uniform()),
                                                   **{f"recall/class_{c}": float(rng.uniform()) for c in range(classes)}},
                                          step=e)
            ledger.record_run_metrics(run_id, {"alert/recall_drop/class_0": 0.2})
    return time.perf_counter() - t0


def real_audit_doc() -> dict:
    """The JSON report of one real quick vector audit (recorded as is by ``audit --record``)."""
    from tailguard.audit import AuditConfig, audit

    rng = np.random.default_rng(1)
    report = audit(0.8 * rng.normal(size=(400, 4)), rng.normal(size=(400, 4)), config=AuditConfig(quick=True))
    doc = report.to_dict()
    doc["reference"] = "human-reference"
    return doc


def stored_figures(url: str) -> str:
    """How many versions have stored figures (``version_stats``), and how many of those their depth histogram."""
    from sqlalchemy import func, select

    from tailguard.ledger import schema
    from tailguard.ledger.engine import make_engine

    engine = make_engine(url, create=False)
    st = schema.version_stats
    with engine.connect() as conn:
        n, with_depths = conn.execute(select(func.count(), func.count(st.c.depths))).one()
        versions = conn.execute(select(func.count()).select_from(schema.versions)).scalar_one()
    engine.dispose()
    return f"{n} of {versions} versions ({with_depths} with their depth histogram)"


def timed(client, path: str, repeat: int) -> tuple[float, float, int, int]:
    t = time.perf_counter()
    r = client.get(path)
    cold = time.perf_counter() - t
    if r.status_code != 200:
        raise SystemExit(f"{path}: HTTP {r.status_code}: {r.text[:300]}")
    warm = []
    for _ in range(repeat):
        t = time.perf_counter()
        client.get(path)
        warm.append(time.perf_counter() - t)
    return cold, statistics.median(warm), len(r.content), r.status_code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--samples", type=int, default=1_000_000)
    parser.add_argument("--versions", type=int, default=100)
    parser.add_argument("--audits", type=int, default=300)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--db", type=Path, default=None)
    args = parser.parse_args()
    if args.versions < 2:
        raise SystemExit("--versions must be >= 2 (shards and 'all')")
    db = args.db or Path(tempfile.mkdtemp()) / "serve-bench.db"
    url = f"sqlite:///{db.resolve()}"
    sizes = {k: getattr(args, k) for k in ("samples", "versions", "audits", "runs", "classes", "epochs")}
    stamp = db.with_suffix(".sizes.json")
    if db.exists() and stamp.exists() and json.loads(stamp.read_text()) == sizes:
        print(f"reusing {db}")
    else:
        if db.exists():
            raise SystemExit(f"{db} exists with other sizes; remove it or pick another --db")
        seconds = build(url, **sizes)
        stamp.write_text(json.dumps(sizes))
        print(f"built {db} in {seconds:.1f} s ({args.samples / seconds:,.0f} samples/s through Ledger.write)")

    from fastapi.testclient import TestClient

    from tailguard.serve import create_app

    with Ledger.open(url, create=False) as ledger:
        n_samples, versions = ledger.count_samples(), ledger.list_versions()
        run_id = ledger.model_runs()[0].id if args.runs else None
        n_members = sum(v.n_members for v in versions)
    print(f"python {platform.python_version()}, {os.cpu_count()} cpus, sqlite ledger {db.stat().st_size / 1e6:.0f} MB: "
          f"{n_samples:,} samples, {len(versions)} versions ({n_members:,} member occurrences; 'all' has "
          f"{versions[-1].n_members:,}), {args.audits} audits, {args.runs} runs x {args.epochs} epochs x "
          f"{args.classes} classes")
    print(f"version figures stored before the first request: {stored_figures(url)} (a version without them "
          "computes and stores them on its first read)")
    app = create_app(url)
    pages = ["/versions", "/diff", "/diff?a=shard-00&b=all", "/lineage", "/lineage?target=shard-00",
             "/audits", "/runs", *([f"/runs/{run_id}"] if run_id else []), "/simulations"]
    pages += ["/api" + p for p in pages]
    print(f"{'page':<40} {'cold s':>8} {'warm s':>8} {'KB':>8}  target < 1 s")
    worst = 0.0
    with TestClient(app) as client:
        for path in pages:
            cold, warm, size, _ = timed(client, path, args.repeat)
            worst = max(worst, cold, warm)
            shown = path if len(path) <= 40 else path[:37] + "..."
            print(f"{shown:<40} {cold:>8.3f} {warm:>8.3f} {size / 1e3:>8.1f}  {'ok' if max(cold, warm) < 1 else 'MISSED'}")
    app.state.ledger.close()
    print(f"version figures stored after the pages: {stored_figures(url)}")
    fresh = create_app(url)  # what 'tailguard serve' reads before it listens: every version's composition
    t = time.perf_counter()
    fresh.state.cache.compositions(fresh.state.ledger, fresh.state.ledger.list_versions())
    startup = time.perf_counter() - t
    fresh.state.ledger.close()
    print(f"startup read of every version's composition (tailguard serve does it before listening): {startup:.3f} s")
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", "from tailguard.cli.app import main; main()", "version", "list", "--json",
                    "--ledger", url], check=True, capture_output=True)
    cli = time.perf_counter() - t
    print(f"slowest page {worst:.3f} s ({'within' if worst < 1 else 'over'} the 1 s target); "
          f"reference point: 'tailguard version list --json' on the same ledger {cli:.3f} s (a new process, imports "
          "included)")


if __name__ == "__main__":
    main()
