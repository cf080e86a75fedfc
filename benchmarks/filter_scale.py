"""Benchmark: ``tailguard mix --policy accumulate+filter+dedup`` on 200k human + 200k synthetic texts, end to end.

Run: ``.venv/bin/python benchmarks/filter_scale.py [--human 200000] [--synthetic 200000] [--peer 20000]``.

* **Text.** Real English from installed packages: the paragraphs (at least 5 words) of
  the triple-quoted strings (docstrings) of every ``.py`` file of the standard library
  and of ``site-packages``, read in sorted path order, deduplicated, shuffled with a
  seed. The first ``--human`` are the human version. The synthetic version holds the
  remaining paragraphs, then copies of human paragraphs with a seeded 20% of their
  words dropped (what a paraphrasing model might return) until ``--synthetic`` is
  reached, of which 1% are replaced by degenerate outputs: empty, one word repeated,
  and 20 outputs copied 50 times each.
* **End to end** is the CLI in a child process (``tailguard mix --json``): reading both
  versions from a SQLite ledger, the filter (degenerate texts, the machine-made score:
  trigram model, cross-fitted classifier), dedup (MinHash clusters), writing the version
  and its exclusions with their scores. Wall time and the child's peak RSS
  (``getrusage(RUSAGE_CHILDREN)``) are printed; the ledger is written beforehand and not
  timed. Targets: < 120 s and < 4 GB on 2 cores.
* **Beside it**, on a seeded subsample of ``--peer`` human + ``--peer`` synthetic texts
  (``compose`` only): the default filter against ``filter:support=true``, which adds the
  k-NN radius ratio over hashed features (faiss above 5 000 points): both times, their
  ratio, and how many rows the two keep alike.
* **Radii at scale.** For ``--check-radii`` reference points drawn at random, their
  k-NN radius (k = 5) from the faiss index over all human texts against the exact
  one (scikit-learn brute force over all of them).

The figures go to stdout, one line each, with the machine's load average, since the
machine may be shared.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

import numpy as np

SRC = Path(__file__).resolve().parents[1] / "src"
sys.path.insert(0, str(SRC))

from tailguard.features import HashedTextFeatures  # noqa: E402
from tailguard.ledger import Ledger, NewSample  # noqa: E402
from tailguard.policy import Pool, parse_policy  # noqa: E402
from tailguard.policy.neighbors import NeighborIndex  # noqa: E402

_DOCSTRING = re.compile(r'"""(.*?)"""', re.S)


def docstring_paragraphs(limit: int) -> list[str]:
    """Distinct paragraphs (>= 5 words) of the triple-quoted strings of installed ``.py`` files."""
    seen: dict[str, None] = {}
    for root in (sysconfig.get_paths()["stdlib"], sysconfig.get_paths()["purelib"]):
        for path in sorted(Path(root).rglob("*.py")):
            try:
                text = path.read_text("utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            for match in _DOCSTRING.finditer(text):
                for block in match.group(1).split("\n\n"):
                    para = " ".join(block.split())
                    if len(para.split()) >= 5:
                        seen.setdefault(para, None)
            if len(seen) >= limit:
                return list(seen)
    return list(seen)


def corpus(n_human: int, n_synth: int, seed: int) -> tuple[list[str], list[str], int]:
    rng = np.random.default_rng(seed)
    paras = docstring_paragraphs(n_human + n_synth)
    order = rng.permutation(len(paras))
    paras = [paras[i] for i in order]
    human, synth = paras[:n_human], paras[n_human : n_human + n_synth]
    while len(synth) < n_synth:
        words = human[len(synth) % len(human)].split()
        keep = rng.random(len(words)) >= 0.2
        synth.append(" ".join(w for w, k in zip(words, keep, strict=True) if k) or words[0])
    n_bad = n_synth // 100
    slots = rng.choice(n_synth, n_bad, replace=False)
    bad = ["", "...", "the " * 25, "return return return return return"]
    bad += [p for p in synth[:20] for _ in range(50)]
    for j, slot in enumerate(slots):
        synth[slot] = bad[j % len(bad)]
    return human, synth, n_bad


def write_ledger(url: str, human: list[str], synth: list[str]) -> None:
    with Ledger.open(url) as ledger:
        ledger.add_samples((NewSample(t.encode(), None, "text", "human", generation=0) for t in human),
                           as_version="human")
        ledger.add_samples((NewSample(t.encode(), None, "text", "synthetic", generation=1) for t in synth),
                           as_version="synthetic")


def end_to_end(url: str) -> tuple[float, float, dict]:
    code = "import sys; from tailguard.cli.app import main; sys.exit(main(sys.argv[1:]))"
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    args = [sys.executable, "-c", code, "--ledger", url, "mix", "--policy", "accumulate+filter+dedup",
            "--human", "human", "--synthetic", "synthetic", "--as-version", "mixed", "--json"]
    start = time.perf_counter()
    proc = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"tailguard mix failed ({proc.returncode}): {proc.stderr[-2000:]}")
    peak_gb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024 / 1e9
    return seconds, peak_gb, json.loads(proc.stdout)


def peer(human: list[str], synth: list[str], n: int, seed: int) -> None:
    rng = np.random.default_rng(seed + 1)
    h = [human[i] for i in rng.choice(len(human), min(n, len(human)), replace=False)]
    s = [synth[i] for i in rng.choice(len(synth), min(n, len(synth)), replace=False)]
    texts = h + s
    pool = Pool(origin=["human"] * len(h) + ["synthetic"] * len(s), round=[0] * len(h) + [1] * len(s), texts=texts)
    kept, secs = {}, {}
    for spec in ("filter", "filter:support=true"):
        start = time.perf_counter()
        sel = parse_policy(f"accumulate+{spec}").compose(pool, rng=0)
        secs[spec] = time.perf_counter() - start
        kept[spec] = np.zeros(len(pool), dtype=bool)
        kept[spec][sel.indices] = True
    a, b = kept["filter"], kept["filter:support=true"]
    print(f"on {len(h)} + {len(s)} texts (compose only): filter {secs['filter']:.1f} s, filter:support=true "
          f"{secs['filter:support=true']:.1f} s (ratio {secs['filter:support=true'] / secs['filter']:.2f}); "
          f"kept {int(a.sum())} vs {int(b.sum())}, same decision for {float(np.mean(a == b)):.2%} of rows",
          flush=True)


def radii_check(human: list[str], n_check: int, seed: int) -> None:
    from sklearn.neighbors import NearestNeighbors

    feats = HashedTextFeatures().transform(human)
    start = time.perf_counter()
    index = NeighborIndex(feats, method="faiss")
    pick = np.random.default_rng(seed + 2).choice(len(human), n_check, replace=False)
    approx = index.search(feats[pick], 6)[0][:, 5]
    faiss_s = time.perf_counter() - start
    exact = NearestNeighbors(algorithm="brute").fit(feats).kneighbors(feats[pick], n_neighbors=6)[0][:, 5]
    ratio = approx / np.maximum(exact, 1e-12)
    print(f"radii at scale ({len(human)} points, {index.nprobe} of {index.n_lists} lists probed, "
          f"{n_check} checked; index build {faiss_s:.0f} s): faiss/exact radius median {np.median(ratio):.4f}, "
          f"90th percentile {np.quantile(ratio, 0.9):.4f}, exact for {np.mean(ratio <= 1 + 1e-6):.1%}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--human", type=int, default=200_000)
    parser.add_argument("--synthetic", type=int, default=200_000)
    parser.add_argument("--peer", type=int, default=20_000, help="texts per side of the exact-vs-faiss subsample")
    parser.add_argument("--check-radii", type=int, default=1000, help="reference radii checked at scale (0: skip)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cpus, load average {os.getloadavg()[0]:.1f} at start", flush=True)
    start = time.perf_counter()
    human, synth, n_bad = corpus(args.human, args.synthetic, args.seed)
    print(f"corpus: {len(human)} human + {len(synth)} synthetic texts ({n_bad} degenerate planted) "
          f"in {time.perf_counter() - start:.0f} s", flush=True)
    with tempfile.TemporaryDirectory(prefix="tg-filter-") as tmp:
        url = f"sqlite:///{tmp}/ledger.db"
        start = time.perf_counter()
        write_ledger(url, human, synth)
        print(f"ledger written in {time.perf_counter() - start:.0f} s (not timed below)", flush=True)
        seconds, peak_gb, report = end_to_end(url)
    print(f"end to end: tailguard mix --policy accumulate+filter+dedup on {len(human)} + {len(synth)} texts: "
          f"{seconds:.1f} s wall, peak RSS {peak_gb:.2f} GB (targets < 120 s, < 4 GB; load average "
          f"{os.getloadavg()[0]:.1f} after)", flush=True)
    print(f"  kept {report['n_selected']} of {report['n_candidates']}", flush=True)
    for reason, count in sorted(report["reason_counts"].items(), key=lambda kv: -kv[1]):
        print(f"  excluded {count:>8}  {reason}", flush=True)
    peer(human, synth, args.peer, args.seed)
    if args.check_radii:
        radii_check(human, args.check_radii, args.seed)
    print(f"load average {os.getloadavg()[0]:.1f} at the end", flush=True)


if __name__ == "__main__":
    main()
