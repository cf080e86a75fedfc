"""PRDC on every k-NN backend beside exact float64 search: Naeem's identities and what each did.

For two independent samples of one distribution E[density] = 1 and E[coverage] → 1 − 2^-k
(0.969 for k = 5). Prints, per data set and size, each backend's four values, its time, and its
largest difference from exact search (or from exact float32 search with ``--no-exact``, where
float64 search would take minutes), plus what the run-time self-check did (``faiss``) or how
many pairs the bounds left to compute (``auto``, the exact ``bounded`` backend). The data sets are those
of ``tests/metrics/knn_datasets.py`` (isotropic and clustered 64-d Gaussians, noisy resampled
digits pixels and MiniLM Python-docs embeddings)::

    OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 python benchmarks/knn_accuracy.py --n 10000 20000
    OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 python benchmarks/knn_accuracy.py --n 50000 --no-exact
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from pathlib import Path

from tailguard.metrics.fidelity import PRDC

ROOT = Path(__file__).resolve().parents[1]
NAMES = ("precision", "recall", "density", "coverage")


def datasets():
    spec = importlib.util.spec_from_file_location("knn_datasets", ROOT / "tests" / "metrics" / "knn_datasets.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.BUILDERS


def run(ref, cand, knn: str, k: int) -> tuple[dict[str, float], float, dict]:
    t = time.perf_counter()
    r = PRDC(k=k, knn=knn, baseline=False, ci_subsamples=0).update_reference(ref).update(cand).result()
    return {v.name: v.value for v in r.values}, time.perf_counter() - t, r.details


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, nargs="+", default=[10_000])
    ap.add_argument("--data", nargs="+", default=["isotropic", "clustered", "digits", "minilm"])
    ap.add_argument("--no-exact", action="store_true", help="compare with exact float32 search (flat) instead")
    ap.add_argument("-k", type=int, default=5)
    args = ap.parse_args()
    builders = datasets()
    truth = "flat" if args.no_exact else "exact"
    print(f"k = {args.k}: E[density] = 1, E[coverage] -> {1 - 2.0 ** -args.k:.3f}; max diff against {truth}")
    print(f"{'data':10} {'n':>6} {'backend':8} {'prec':>6} {'recall':>6} {'density':>7} {'cover':>6} "
          f"{'time s':>7} {'max diff':>8}  self-check")
    for name in args.data:
        for n in args.n:
            ref, cand = builders[name](n, seed=0)
            want, t_want, _ = run(ref, cand, truth, args.k)
            rows = [(truth, want, t_want, {})]
            for knn in ("flat", "faiss", "auto"):
                if knn != truth:
                    rows.append((knn, *run(ref, cand, knn, args.k)))
            for knn, got, secs, det in rows:
                diff = max(abs(got[m] - want[m]) for m in NAMES)
                did = ""
                if det.get("backend") == "bounded":
                    did = (f"used {det['knn_backend_used']} on {det['knn_n_lists']} lists, "
                           f"{det['knn_pair_share']:.1%} of the pairs computed")
                elif "knn_backend_used" in det:
                    bound = det["knn_error_bound"]
                    did = (f"used {det['knn_backend_used']}, nprobe tried {det['knn_nprobe_tried']} of "
                           f"{det['knn_n_lists']} lists (predicted {det['knn_nprobe_predicted']}), "
                           f"bound {'-' if bound is None else f'{bound:.4f}'}, fell back {det['knn_fell_back']}")
                print(f"{name:10} {n:6d} {knn:8} {got['precision']:6.3f} {got['recall']:6.3f} {got['density']:7.3f} "
                      f"{got['coverage']:6.3f} {secs:7.2f} {diff:8.4f}  {did}")


if __name__ == "__main__":
    main()
