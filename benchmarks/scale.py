"""Scale figures of the streamed audit, printed side by side in one run.

1. A streamed audit of an N x 64 float32 candidate (a ``.npy`` on disk, read through a
   memory map) against an in-memory reference, on each engine: wall time and the peak RSS and PSS
   of the whole process tree (driver, pool workers, Ray's raylet and workers), sampled
   every 0.2 s with psutil.
2. A streamed text audit of a JSONL file of documents: wall time, MB/s and peak RSS.
3. Ray's overhead against ``local`` on this machine, as a ratio.

Each audit runs in its own subprocess, so one run's memory does not count toward the next.

Usage::

    python benchmarks/scale.py                        # 10M x 64 vs 1M, 1M documents, local, process, ray
    python benchmarks/scale.py --rows 1000000 --ref-rows 100000 --docs 100000 --engines local,ray

The data is written once under ``--data-dir`` (default /tmp/tailguard-scale) and reused.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import subprocess
import sys
import threading
import time
from pathlib import Path

RUN = r"""
import json, sys, time
import numpy as np
from tailguard.audit import AuditConfig, Source, audit
from tailguard.audit.streaming import stream_source
args = json.loads(sys.argv[1])
if args["kind"] != "vectors":
    ref = [json.loads(line)["text"] for line in open(args["reference"], encoding="utf-8")]
else:  # a path is read by tailguard, as `tailguard audit --reference human.npy` does; an array stays the caller's
    ref = Source(args["reference"]) if args["reference_as"] == "path" else np.load(args["reference"])
config = AuditConfig(quick=True, figures=False)
start = time.perf_counter()
report = audit(stream_source(args["candidate"], shard_rows=args.get("shard_rows")), ref, config=config,
               engine=args["engine"])
print(json.dumps({"seconds": time.perf_counter() - start, "verdict": report.verdict, "n": report.n_candidate,
                  "shards": report.config["streamed"]["shards"], "skipped": len(report.skipped)}))
"""


def _tree_memory(proc) -> tuple[int, int]:
    """``(rss, pss)`` summed over the process tree. Summed RSS counts a page shared by forked
    workers (the driver's reference, copy-on-write) once per process; PSS splits each shared
    page between its sharers, so its sum is the tree's real footprint."""
    import psutil

    rss = pss = 0
    try:
        procs = [proc, *proc.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0, 0
    for p in procs:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            info = p.memory_full_info()
            rss += info.rss
            pss += getattr(info, "pss", info.rss)
    return rss, pss


def run_one(kind: str, candidate: Path, reference: Path, engine: str, shard_rows: int | None,
            reference_as: str = "path") -> dict:
    """One audit in a subprocess: its JSON line plus the peak RSS of its process tree."""
    import psutil

    spec = json.dumps({"kind": kind, "candidate": str(candidate), "reference": str(reference), "engine": engine,
                       "shard_rows": shard_rows, "reference_as": reference_as})
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-c", RUN, spec], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)
    watched, peak, stop = psutil.Process(proc.pid), [0, 0], threading.Event()

    def sample() -> None:
        while not stop.is_set():
            rss, pss = _tree_memory(watched)
            peak[0], peak[1] = max(peak[0], rss), max(peak[1], pss)
            time.sleep(0.2)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    out, err = proc.communicate()
    stop.set()
    thread.join()
    if proc.returncode != 0:
        raise SystemExit(f"{engine} audit failed:\n{err[-3000:]}")
    res = json.loads(out.strip().splitlines()[-1])
    res["peak_rss_gb"] = peak[0] / 2**30
    res["peak_pss_gb"] = peak[1] / 2**30
    return res


def write_vectors(path: Path, n: int, d: int, seed: int) -> None:
    import numpy as np

    if path.exists() and np.load(path, mmap_mode="r").shape == (n, d):
        return
    rng = np.random.default_rng(seed)
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, d))
    for i in range(0, n, 1_000_000):
        m = min(1_000_000, n - i)
        out[i : i + m] = (0.9 * rng.normal(size=(m, d))).astype(np.float32)  # a shrunk spread: something to find
    out.flush()


def write_docs(path: Path, n: int, seed: int) -> None:
    import numpy as np

    from tailguard.data.text import python_docs_sentences

    if path.exists():
        with open(path, encoding="utf-8") as f:
            if sum(1 for _ in f) == n:
                return
    docs = python_docs_sentences()
    rng = np.random.default_rng(seed)
    with open(path, "w", encoding="utf-8") as f:
        for i in rng.integers(0, len(docs), n):
            f.write(json.dumps({"text": docs[int(i)]}) + "\n")


def state_sizes(dim: int, rows: int, docs: int, expected: tuple[int, int] | None = None) -> None:
    """Each quick-suite metric's accumulator after ``rows`` rows (``docs`` documents), pickled alone,
    and all of them pickled together with equal samples shared, as a shard's states travel from a
    worker to the driver. With ``expected`` (the candidates' N, vectors and
    documents), the samples are pruned for that N as a streamed audit prunes them."""
    import pickle

    import numpy as np

    from tailguard.audit.inputs import as_input
    from tailguard.audit.runner import build_params, resolve
    from tailguard.audit.streamed import stream_params
    from tailguard.audit.suite import suite_for
    from tailguard.data.text import python_docs_sentences

    rng = np.random.default_rng(0)
    sides = {"vectors": as_input(rng.normal(size=(rows, dim)), name="rows"),
             "text": as_input((python_docs_sentences() * (docs // 2000 + 1))[:docs], name="docs")}
    for modality, side in sides.items():
        params = stream_params({}, None if expected is None else expected[modality != "vectors"])
        cells, metrics, lenders = [], [], {}
        for entry in suite_for(modality, quick=True):
            cls = resolve(entry)
            if cls is None or side.view(getattr(cls, "input_kind", "vectors")) is None:
                continue
            metric = cls(**build_params(cls, entry, 0, params))
            data = side.view(getattr(cls, "input_kind", "vectors"))
            for i in range(0, len(data), 50_000):
                metric.update(data[i : i + 50_000])
            cells.append(f"{cls.name} {len(pickle.dumps(metric)) / 2**20:.1f} MB")
            spec = metric.sample_spec() if hasattr(metric, "sample_spec") else None
            if spec is not None and spec in lenders:  # as a streamed audit's shard shares them
                metric.share_samples(lenders[spec].samples)
            elif spec is not None:
                lenders[spec] = metric
            metrics.append(metric)
        n = rows if modality == "vectors" else docs
        pruned = "" if expected is None else f" of {expected[modality != 'vectors']:,} expected (pruned)"
        print(f"state after {n:,} {modality} rows{pruned}: " + ", ".join(cells)
              + f"; all together, samples shared: {len(pickle.dumps(metrics)) / 2**20:.1f} MB", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--ref-rows", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--docs", type=int, default=1_000_000)
    parser.add_argument("--ref-docs", type=int, default=20_000)
    parser.add_argument("--engines", default="local,process,ray")
    parser.add_argument("--text-engines", default="local", help="engines of the text audit")
    parser.add_argument("--shard-rows", type=int, default=None)
    parser.add_argument("--reference-as", choices=("path", "array"), default="path",
                        help="the vector reference as a path tailguard reads (the CLI's way) or as an array the "
                             "caller loaded and keeps (its 0.5 GB then counts too)")
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/tailguard-scale"))
    parser.add_argument("--skip-text", action="store_true")
    parser.add_argument("--state-rows", type=int, default=300_000, help="rows fed before measuring state sizes")
    args = parser.parse_args(argv)
    import numpy as np

    args.data_dir.mkdir(parents=True, exist_ok=True)
    cand, ref = args.data_dir / f"cand_{args.rows}x{args.dim}.npy", args.data_dir / f"ref_{args.ref_rows}x{args.dim}.npy"
    t = time.perf_counter()
    write_vectors(cand, args.rows, args.dim, seed=1)
    if not ref.exists():
        np.save(ref, np.random.default_rng(2).normal(size=(args.ref_rows, args.dim)))
    engines = [e for e in args.engines.split(",") if e]
    print(f"# tailguard streamed audit scale: {os.cpu_count()} CPUs, python {platform.python_version()}; "
          f"data written in {time.perf_counter() - t:.0f} s", flush=True)
    state_sizes(args.dim, args.state_rows, min(args.docs, 100_000))
    state_sizes(args.dim, args.state_rows, min(args.docs, 100_000), expected=(args.rows, args.docs))
    print(f"## vectors: {args.rows:,} x {args.dim} float32 candidate ({cand.stat().st_size / 2**30:.2f} GB on disk) "
          f"vs {args.ref_rows:,} reference rows (float64, given as {'a path' if args.reference_as == 'path' else 'an array'})",
          flush=True)
    base = None
    for engine in engines:
        r = run_one("vectors", cand, ref, engine, args.shard_rows, args.reference_as)
        base = base or r["seconds"]
        print(f"{engine:8s} wall {r['seconds']:8.1f} s  peak RSS {r['peak_rss_gb']:5.2f} GB (PSS {r['peak_pss_gb']:5.2f} GB)  "
              f"{args.rows / r['seconds']:,.0f} rows/s  x{r['seconds'] / base:.2f} of {engines[0]}  "
              f"({r['shards']} shards, verdict {r['verdict']})", flush=True)
    if not args.skip_text:
        docs, ref_docs = args.data_dir / f"docs_{args.docs}.jsonl", args.data_dir / f"refdocs_{args.ref_docs}.jsonl"
        write_docs(docs, args.docs, seed=3)
        write_docs(ref_docs, args.ref_docs, seed=4)
        mb = docs.stat().st_size / 2**20
        print(f"## text: {args.docs:,} documents ({mb:.0f} MB JSONL) vs {args.ref_docs:,} reference documents",
              flush=True)
        base = None
        text_engines = [e for e in args.text_engines.split(",") if e]
        for engine in text_engines:
            r = run_one("text", docs, ref_docs, engine, None)
            base = base or r["seconds"]
            print(f"{engine:8s} wall {r['seconds']:8.1f} s  peak RSS {r['peak_rss_gb']:5.2f} GB (PSS {r['peak_pss_gb']:5.2f} GB)  "
                  f"{mb / r['seconds']:6.2f} MB/s  x{r['seconds'] / base:.2f} of {text_engines[0]}  "
                  f"({r['shards']} shards, verdict {r['verdict']})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
