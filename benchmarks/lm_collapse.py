"""The ``lm`` family at benchmark size: the Nature 2024 recipe (Shumailov et al.), run by hand.

A GPT-2 built from its config and a byte-level BPE are pre-trained on half of the corpus's
documents (the stand-in for the paper's pre-trained OPT-125m); every generation fine-tunes that base
on its training blocks, then writes the next 64 tokens after each of them with 5-way beam search
(repetition penalty 3.0). Two policies, as in the paper: ``replace`` (no original data) and
``anchor:0.1`` (10% of the original human blocks kept every generation).

Printed per policy and generation: the mean held-out perplexity over seeds with its 95% bootstrap CI,
its ratio to generation 0 and the rise in points; the perplexity of the generated text under model 0
(median and 95% quantile of per-block values: the paper's histogram falls in its body and grows a
tail); distinct-2 and the rare-word recall. Then the shape beside the paper's: the paper reports a
rise of about 20-28 perplexity points over its generations with no original data and minor
degradation with 10% kept. Absolute perplexities of a 1M-parameter model on a CPU cannot match
OPT-125m's, so the comparison is of ratios and of the ordering.

Usage::

    python benchmarks/lm_collapse.py [--size cpu|gpu] [--corpus auto|bible|fortunes|python-docs]
                                     [--generations 5] [--seeds 3] [--sample-size 1000] [--device cpu|cuda]

``--size gpu`` is a 4-layer, 256-wide model pre-trained on every pre-training block for 4 epochs
(use it with ``--device cuda``). Results go to ``bench-results/lm_collapse/`` (results.json,
per_seed.parquet, report.html) and the table to ``bench-results/lm_collapse.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from itertools import pairwise
from pathlib import Path

import numpy as np

SIZES = {
    "cpu": {"n_layer": 2, "n_head": 4, "n_embd": 128, "pretrain_blocks": 8000, "pretrain_epochs": 3},
    "gpu": {"n_layer": 4, "n_head": 8, "n_embd": 256, "pretrain_blocks": 100_000, "pretrain_epochs": 4,
            "batch": 64},
}
POLICIES = ("replace", "anchor:0.1")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", choices=sorted(SIZES), default="cpu")
    ap.add_argument("--corpus", default="auto")
    ap.add_argument("--generations", type=int, default=5)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--sample-size", type=int, default=1000)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--out", default="bench-results/lm_collapse")
    ap.add_argument("--cache-dir", default="bench-results/lm-cache",
                    help="where the pre-trained base is kept between runs ('' to train it every time)")
    ap.add_argument("--tables-only", action="store_true",
                    help="print the tables of the run already in --out (its results.json) without running")
    args = ap.parse_args()

    from tailguard.simulate import SimulationResults, simulate, write_report

    summary_file = Path("bench-results/lm_collapse.json")
    if args.tables_only:
        res = SimulationResults.load(Path(args.out) / "results.json")
        wall = json.loads(summary_file.read_text())["wall_s"] if summary_file.exists() else float("nan")
    else:
        params = {**SIZES[args.size], "corpus": args.corpus, "device": args.device,
                  "cache_dir": args.cache_dir or None}
        start = time.perf_counter()
        res = simulate("lm", list(POLICIES), generations=args.generations, seeds=args.seeds,
                       sample_size=args.sample_size, family_params=params, out=args.out, progress=True,
                       workers=args.workers)
        wall = time.perf_counter() - start
        write_report(res, Path(args.out) / "report.html")
    fam_params = res.config["family_params"]
    seeds, generations = res.config["seeds"], res.config["generations"]
    print(f"lm family, corpus {fam_params['corpus']}: {seeds} seeds x {generations} generations x "
          f"{res.config['sample_size']} rows of 2 x {fam_params['block']} tokens; model {fam_params['n_layer']} "
          f"layers x {fam_params['n_embd']}; device {fam_params['device']}; {wall / 60:.1f} min wall on "
          f"{platform.node()} (load average now {os.getloadavg()[0]:.1f})")
    table: dict[str, list[dict[str, float]]] = {}
    for policy in POLICIES:
        held = res.per_seed(policy, "heldout_perplexity")
        summary = res.summary(policy, "heldout_perplexity")
        print(f"\n{policy}")
        print("gen  heldout ppl  [95% CI]          ratio  rise   gen0-ppl p50  p95    distinct-2  rare recall")
        rows = []
        for g in range(generations + 1):
            mean = float(held[:, g].mean())
            lo, hi = float(summary["ci_low"][g]), float(summary["ci_high"][g])
            ratio = float(res.per_seed(policy, "heldout_perplexity_ratio")[:, g].mean())
            p50 = float(res.per_seed(policy, "gen0_perplexity_p50")[:, g].mean())
            p95 = float(res.per_seed(policy, "gen0_perplexity_p95")[:, g].mean())
            d2 = float(res.per_seed(policy, "distinct_2")[:, g].mean())
            rare = float(np.nanmean(res.per_seed(policy, "rare_word_recall")[:, g]))
            rise = mean - float(held[:, 0].mean())
            print(f"{g:>3}  {mean:11.2f}  [{lo:7.2f}, {hi:7.2f}]  {ratio:5.3f}  {rise:+5.1f}  {p50:12.2f}  "
                  f"{p95:6.2f}  {d2:10.3f}  {rare:11.3f}")
            rows.append({"generation": g, "heldout_perplexity": mean, "ci_low": lo, "ci_high": hi, "ratio": ratio,
                         "rise": rise, "gen0_ppl_p50": p50, "gen0_ppl_p95": p95, "distinct_2": d2,
                         "rare_word_recall": rare})
        table[policy] = rows
    print("\nshape beside the paper (Shumailov et al. 2024: +20-28 points with no original data, minor "
          "degradation with 10% kept):")
    for policy in POLICIES:
        rows = table[policy]
        peak = max(rows, key=lambda r: r["rise"])
        rises = [r["rise"] for r in rows]
        monotone = all(b >= a for a, b in pairwise(rises))
        print(f"  {policy:<11} generation {generations} / generation 0 = {rows[-1]['ratio']:.3f} "
              f"({rows[-1]['rise']:+.1f} points); peak {peak['rise']:+.1f} at generation {peak['generation']}; "
              f"{'a steady rise' if monotone else 'not a steady rise'}")
    rep, anc = table["replace"][-1], table["anchor:0.1"][-1]
    share = anc["rise"] / rep["rise"] if rep["rise"] > 0 else float("nan")
    print(f"  anchor:0.1's rise at generation {generations} is {share:.2f} of replace's")
    if not args.tables_only:
        summary_file.parent.mkdir(parents=True, exist_ok=True)
        summary_file.write_text(json.dumps({"params": fam_params, "seeds": seeds, "generations": generations,
                                            "sample_size": res.config["sample_size"], "wall_s": wall,
                                            "table": table}, indent=2))
    print(f"\nreport: {Path(args.out) / 'report.html'}; table: {summary_file}")


if __name__ == "__main__":
    main()
