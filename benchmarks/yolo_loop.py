"""YOLO self-training loop on CPU: does ``replace`` lose the rare classes first, does ``anchor`` hold them?

Runs the ``yolo`` simulator family (YOLO26n from ``yolo26n.yaml``, no downloaded weights) on
the built-in long-tailed digits detection set for ``--generations`` generations under each
policy (default ``replace`` and ``anchor:0.3``, one seed):

- generation 0 trains on ``--sample-size`` human-labelled images (shared by the policies);
- every later generation pseudo-labels ``--sample-size`` fresh images with the previous
  model, composes its training set under the policy and fine-tunes the previous model
  (warm start) on it;
- each model is validated on a fixed human-labelled set of ``--n-val`` images.

It prints one line per generation as it goes (per-class recall, mAP50-95, the rare
classes' share of the pseudo-labels), then a table per policy, and writes
``results.json`` + ``report.html`` (the simulator's formats) and ``summary.json`` into
``--out``. A killed run resumes from its last finished generation (same ``--out`` and
``--workdir``).

``--task segment`` runs the same loop on the built-in shapes with YOLO26n-seg (mask
polygons as pseudo-labels; the lead metric is mask mAP50-95 and the recalls are mask
recalls), ``--task classify`` on one real digit per image with YOLO26n-cls (top-1 accuracy,
per-class top-1 recall).

Usage::

    python benchmarks/yolo_loop.py --out yolo-bench            # CPU defaults (~45 min on 2 busy cores)
    python benchmarks/yolo_loop.py --task segment --out yolo-seg-bench
    python benchmarks/yolo_loop.py --device 0 --epochs0 100 --sample-size 2000   # a GPU
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

LEAD = {"detect": ("map50_95", "mAP50-95"), "segment": ("mask_map50_95", "mask mAP50-95"), "classify": ("top1", "top-1")}


def _args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--task", default="detect", choices=sorted(LEAD))
    p.add_argument("--policies", default="replace,anchor:0.3")
    p.add_argument("--generations", type=int, default=4)
    p.add_argument("--sample-size", type=int, default=240)
    p.add_argument("--n-val", type=int, default=120)
    p.add_argument("--imgsz", type=int, default=96)
    p.add_argument("--epochs0", type=int, default=30, help="epochs of generation 0 (from scratch)")
    p.add_argument("--epochs", type=int, default=5, help="epochs of later generations (warm start)")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--max-objects", type=int, default=6)
    p.add_argument("--optimizer", default="AdamW")
    p.add_argument("--lr0", type=float, default=0.002)
    p.add_argument("--mosaic", type=float, default=0.0)
    p.add_argument("--conf", type=float, default=0.25)
    p.add_argument("--device", default="cpu")
    p.add_argument("--out", default="yolo-bench")
    p.add_argument("--workdir", default=None, help="model/image cache (default: OUT/work)")
    return p.parse_args()


def _fmt(v: float) -> str:
    return "  nan" if not math.isfinite(v) else f"{v:5.2f}"


def main() -> None:
    args = _args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    from tailguard.simulate import get_family, run_chain, simulate, split_policies, write_report

    params: dict[str, Any] = {
        "task": args.task,
        "imgsz": args.imgsz,
        "epochs0": args.epochs0,
        "epochs": args.epochs,
        "batch": args.batch,
        "device": args.device,
        "conf": args.conf,
        "n_val": args.n_val,
        "max_objects": args.max_objects,
        "optimizer": args.optimizer,
        "lr0": args.lr0,
        "mosaic": args.mosaic,
        "workdir": str(Path(args.workdir) if args.workdir else (out / "work").resolve()),
    }
    fam = get_family("yolo", **params)
    classes = fam.names
    lead, lead_label = LEAD[args.task]
    rare = [classes[c] for c in fam.rare]
    from tailguard.policy import parse_policy

    policies = [str(parse_policy(p)) for p in split_policies(args.policies)]  # canonical: anchor:1.0 -> anchor:1
    print(
        f"yolo loop: policies {policies}, generations 0..{args.generations}, M={args.sample_size}, "
        f"params {json.dumps(params)}; rare classes {rare}",
        flush=True,
    )

    original_evaluate = fam.evaluate
    current = {"policy": "", "t0": time.time()}

    def logged(model: Any, samples: Any, ctx: Any) -> dict[str, float]:
        values = original_evaluate(model, samples, ctx)
        recalls = " ".join(f"{c[:3]}={_fmt(values[f'recall/{c}'])}" for c in classes)
        print(
            f"[{time.time() - current['t0']:7.0f}s] {current['policy']:>12} gen {ctx.generation}: "
            f"{lead_label} {_fmt(values[lead])} rare_recall "
            f"{_fmt(values['rare_recall'])} pseudo_rare_share {_fmt(values['pseudo_rare_share_ratio'])} "
            f"| {recalls}",
            flush=True,
        )
        return values

    fam.evaluate = logged  # type: ignore[method-assign]  (an instance attribute: config_id is unchanged)
    timings: dict[str, float] = {}
    for policy in policies:
        current["policy"] = policy
        t = time.time()
        run_chain(
            fam,
            policy,
            seed=0,
            generations=args.generations,
            sample_size=args.sample_size,
            checkpoint_dir=str(out),
            resume=True,
        )
        timings[policy] = time.time() - t
        print(f"{policy}: {timings[policy]:.0f} s", flush=True)
    fam.evaluate = original_evaluate  # type: ignore[method-assign]

    # the finished checkpoints make this cheap; it writes the simulator's results.json
    results = simulate(
        fam, policies, generations=args.generations, seeds=1, sample_size=args.sample_size, out=str(out), resume=True
    )
    write_report(results, str(out))
    summary: dict[str, Any] = {
        "params": params,
        "sample_size": args.sample_size,
        "rare": rare,
        "seconds": timings,
        "policies": {},
    }
    # Classes are numbered by frequency (class i has weight (i+1)^-1.5), so "the tail the model
    # learned" is the two highest-numbered classes generation 0 recalls at >= 0.2; the head is "zero".
    first = {c: results.per_seed(policies[0], f"recall/{c}")[0, 0] for c in classes}
    learned = [c for c in classes if np.isfinite(first[c]) and first[c] >= 0.2]
    learned_tail = learned[-2:] if len(learned) > 2 else []
    print(f"\ngeneration 0 learned {learned}; learned tail {learned_tail}; rare classes {rare}")
    for policy in policies:
        table = {name: results.per_seed(policy, name)[0].tolist() for name in results.metric_names}
        summary["policies"][policy] = table
        print(f"\n== {policy} (human fraction per generation {results.extra['human_fraction'][policy]})")
        print(f"gen  {lead_label:>8}  " + "  ".join(f"{c[:5]:>5}" for c in classes) + "  rare_recall  pseudo_rare_share")
        for g in range(args.generations + 1):
            row = "  ".join(_fmt(table[f"recall/{c}"][g]) for c in classes)
            print(
                f"{g:>3}  {_fmt(table[lead][g]):>8}  {row}  {_fmt(table['rare_recall'][g]):>11}"
                f"  {_fmt(table['pseudo_rare_share_ratio'][g]):>17}"
            )
        verdict: dict[str, Any] = {}
        for label, names in (("rare", rare), ("learned_tail", learned_tail), ("head", [classes[0]])):
            if not names:
                continue
            r = [float(np.nanmean([table[f"recall/{c}"][g] for c in names])) for g in range(args.generations + 1)]
            rel = r[-1] / r[0] if r[0] > 0 else float("nan")
            verdict[label] = {"classes": names, "recall": r, "last_over_first": rel}
            print(f"{label:>12} {names}: recall " + " -> ".join(f"{v:.2f}" for v in r) + f" (last/first {rel:.2f})")
        summary["policies"][policy]["_verdict"] = verdict
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=float))
    print(f"\nwrote {out / 'results.json'}, {out / 'report.html'}, {out / 'summary.json'}")


if __name__ == "__main__":
    main()
