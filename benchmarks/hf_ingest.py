"""Hugging Face ingest benchmark: rows/s and peak memory of an Arrow-batch ingest against materialising the rows.

Builds N text rows (about 100 characters, 30% repeated, with ``origin``/``model_name``/``generation``
columns) as a Parquet file, then runs each case in its own process and reports rows/s and the
process's peak RSS:

- ``arrow-table``: ``Ledger.ingest(pyarrow.Table)`` (the table is read from the Parquet file first, so
  the Arrow data itself is in memory; the rows are turned into Python values one 10,000-row batch
  at a time), with ``--generator-column model_name`` and ``--generation-column generation``;
- ``hf-save-to-disk``: ``tailguard ingest DIR --format hf`` on a ``save_to_disk`` copy (memory-mapped),
  only when ``datasets`` is installed;
- ``parquet`` (peer): tailguard's own Parquet ingest of the same file (``model_name`` is no provenance
  column there: it goes to ``extra``);
- ``read-table``: reading the Parquet file into an Arrow table, nothing more: the floor under the
  in-memory cases;
- ``reader-only``: the same Arrow-batch reader, every item built and dropped, no ledger: the
  reader's own memory;
- ``to_pylist`` (what the batches avoid): reading the table and materialising every row as a
  Python dict at once, no ledger at all.

Usage:
    python benchmarks/hf_ingest.py                  # 1,000,000 rows
    python benchmarks/hf_ingest.py --rows 200000    # quick
Results are printed and written to bench-results/hf_ingest.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r"""
import json, resource, sys, time
case, work = sys.argv[1], sys.argv[2]
import pyarrow.parquet as pq
start = time.perf_counter()
if case == "read-table":
    n = pq.read_table(f"{work}/rows.parquet").num_rows
elif case == "to_pylist":
    rows = pq.read_table(f"{work}/rows.parquet").to_pylist()
    n = len(rows)
elif case == "reader-only":
    from tailguard.ledger.ingest.base import IngestOptions
    from tailguard.ledger.ingest.hf import read_object
    options = IngestOptions(origin="human", generator_column="model_name", generation_column="generation")
    n = sum(1 for _item in read_object(pq.read_table(f"{work}/rows.parquet"), options, "bench"))
else:
    from tailguard.ledger import Ledger
    with Ledger.open(f"sqlite:///{work}/{case}.db") as ledger:
        if case == "arrow-table":
            report = ledger.ingest(pq.read_table(f"{work}/rows.parquet"), origin="human",
                                   generator_column="model_name", generation_column="generation")
        elif case == "hf-save-to-disk":
            report = ledger.ingest(f"{work}/saved", format="hf", origin="human", generator_column="model_name",
                                   generation_column="generation")
        else:
            report = ledger.ingest(f"{work}/rows.parquet", origin="human")
    n = report.occurrences
seconds = time.perf_counter() - start
print(json.dumps({"rows": n, "seconds": seconds, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def make_rows(work: Path, n: int) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(0)
    words = np.array(["model", "collapse", "tail", "human", "data", "rare", "event", "sample", "generation",
                      "token", "corpus", "drift", "signal", "noise", "archive", "river", "stone", "light"])
    distinct = int(n * 0.7)
    texts = [" ".join(rng.choice(words, 14)) + f" #{i}" for i in range(distinct)]
    texts += [texts[int(i)] for i in rng.integers(0, distinct, n - distinct)]
    synthetic = rng.random(n) < 0.4
    table = pa.table({
        "text": texts,
        "origin": np.where(synthetic, "synthetic", "human"),
        "model_name": pa.array([("gpt2-tiny" if s else None) for s in synthetic], pa.string()),
        "generation": pa.array([(1 if s else 0) for s in synthetic], pa.int64()),
    })
    pq.write_table(table, work / "rows.parquet", row_group_size=100_000)


def run_case(case: str, work: Path) -> dict:
    proc = subprocess.run([sys.executable, "-c", CHILD, case, str(work)], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{case} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--out", default="bench-results")
    parser.add_argument("--cases", default="arrow-table,hf-save-to-disk,parquet,read-table,reader-only,to_pylist",
                        help="comma-separated cases to run (hf-save-to-disk needs datasets)")
    args = parser.parse_args()
    from tailguard.dependencies import is_available

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        make_rows(work, args.rows)
        cases = [c for c in args.cases.split(",") if c and (c != "hf-save-to-disk" or is_available("datasets"))]
        if "hf-save-to-disk" in cases:
            import datasets

            datasets.Dataset.from_parquet(str(work / "rows.parquet")).save_to_disk(str(work / "saved"))
        results = {case: run_case(case, work) for case in cases}
    results["rows"] = args.rows
    print(f"{args.rows} rows (30% repeated), peak RSS of each process and rows/s:")
    for case in cases:
        r = results[case]
        rate = r["rows"] / r["seconds"] if r["seconds"] else float("nan")
        print(f"  {case:16s} {r['peak_rss_mb']:8.0f} MB  {rate:10.0f} rows/s  ({r['seconds']:.1f} s)")
    def ratio(a: str, b: str, key: str) -> str:
        if a not in results or b not in results:
            return "n/a"
        if key == "rate":
            return f"{(results[a]['rows'] / results[a]['seconds']) / (results[b]['rows'] / results[b]['seconds']):.2f}"
        return f"{results[a][key] / results[b][key]:.2f}"

    if "read-table" in results:
        floor = results["read-table"]["peak_rss_mb"]
        print("  above the read-table floor: " + ", ".join(
            f"{c} +{results[c]['peak_rss_mb'] - floor:.0f} MB" for c in cases if c != "read-table"))
    print(f"  peak RSS ratios: reader-only / to_pylist {ratio('reader-only', 'to_pylist', 'peak_rss_mb')}, "
          f"arrow-table / parquet ingest {ratio('arrow-table', 'parquet', 'peak_rss_mb')}; "
          f"rows/s ratio arrow-table / parquet ingest {ratio('arrow-table', 'parquet', 'rate')}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "hf_ingest.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
