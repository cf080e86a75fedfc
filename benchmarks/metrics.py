"""Benchmarks of the vector metrics against their peers, printed side by side from one run.

Usage::

    .venv/bin/python benchmarks/metrics.py            # default sizes (a few minutes on 2 cores)
    .venv/bin/python benchmarks/metrics.py --full     # the issue's sizes: 1M x 768 PRDC/Vendi, 1M+1M MMD
    .venv/bin/python benchmarks/metrics.py --only prdc_equal vendi_equal

Peers (the ``bench`` extra): prdc==0.2, vendi-score==0.0.3 (datasketch==2.0.0 and rensa==0.5.0 in
``benchmarks/metrics_text.py``, whose ``run`` is called at the end when present). alibi-detect==0.13.0
(``mmd_alibi``) and diversity==0.3.1 (text) cannot be installed beside the project's pins: each runs in
a virtualenv of its own that ``benchmarks/peers/venv.py`` creates on first use, through a subprocess
whose figures are printed in this run.

Data is embedding-like: rows are a mixture of 50 Gaussian clusters in a 32-d
latent space mapped linearly to d dimensions plus isotropic noise (float32); the
candidate is a "collapsed" draw of the same world (latent spread x 0.8, the
rarest clusters under-sampled). Heavy sections run in a child process so that
their peak RSS (``ru_maxrss``) is their own. Wall times include ingesting the
rows (``update``) and ``result()``, CIs included.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from tailguard.metrics.diversity import Vendi, cosine_vendi  # noqa: E402
from tailguard.metrics.drift import MMD  # noqa: E402
from tailguard.metrics.fidelity import PRDC  # noqa: E402

PRDC_NAMES = ("precision", "recall", "density", "coverage")


class World:
    """A fixed mixture of clusters in a low-dimensional latent space, seen in ``d`` dimensions."""

    def __init__(self, d: int, seed: int = 0, clusters: int = 50, latent: int = 32):
        rng = np.random.default_rng([seed, d])
        self.d, self.latent = d, latent
        self.centres = rng.normal(scale=3.0, size=(clusters, latent)).astype(np.float32)
        self.mix = rng.dirichlet(np.full(clusters, 0.5))
        self.w = (rng.normal(size=(latent, d)) / np.sqrt(latent)).astype(np.float32)

    def sample(self, n: int, seed: int, *, collapsed: bool = False, chunk: int = 100_000):
        """Yield float32 batches of ``n`` rows in total."""
        rng = np.random.default_rng(seed)
        mix = self.mix
        spread = 1.0
        if collapsed:
            mix = np.where(mix < np.quantile(mix, 0.3), mix * 0.1, mix)
            mix = mix / mix.sum()
            spread = 0.8
        done = 0
        while done < n:
            m = min(chunk, n - done)
            c = rng.choice(len(mix), size=m, p=mix)
            z = self.centres[c] + spread * rng.standard_normal((m, self.latent), dtype=np.float32)
            x = z @ self.w + 0.1 * rng.standard_normal((m, self.d), dtype=np.float32)
            done += m
            yield x

    def array(self, n: int, seed: int, **kw: Any) -> np.ndarray:
        return np.vstack(list(self.sample(n, seed, **kw)))


def _quiet(fn, *a, **kw):
    with contextlib.redirect_stdout(io.StringIO()):
        return fn(*a, **kw)


def _fmt(d: dict[str, float]) -> str:
    return " ".join(f"{k}={v:.4f}" for k, v in d.items())


def _prdc_values(res) -> dict[str, float]:
    return {n: res.value(n).value for n in PRDC_NAMES}


def _feed(batches, fn) -> float:
    """Call ``fn`` on each batch; return the seconds spent inside ``fn`` (not generating data)."""
    spent = 0.0
    for b in batches:
        t = time.perf_counter()
        fn(b)
        spent += time.perf_counter() - t
    return spent


def _timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


# -- sections ----------------------------------------------------------------------------------------
def prdc_equal(args: argparse.Namespace) -> None:
    from prdc import compute_prdc

    n, d = 5000, 64
    w = World(d)
    ref, cand = w.array(n, 1), w.array(n, 2, collapsed=True)
    mine, t_mine = _timed(lambda: PRDC(equal_n=False).update_reference(ref).update(cand).result())
    peer, t_peer = _timed(lambda: _quiet(compute_prdc, ref, cand, 5))
    ours_v, peer_v = _prdc_values(mine), {k: float(v) for k, v in peer.items()}
    diff = max(abs(ours_v[k] - peer_v[k]) for k in PRDC_NAMES)
    print(f"[prdc_equal] N={n} d={d} k=5 ({mine.details['backend']})")
    print(f"  tailguard : {_fmt(ours_v)}  ({t_mine:.2f}s)")
    print(f"  prdc 0.2  : {_fmt(peer_v)}  ({t_peer:.2f}s)")
    print(f"  max |diff| = {diff:.2e}")


def prdc_speed(args: argparse.Namespace) -> None:
    import faiss  # noqa: F401  (imports outside the timings, both sides)
    from prdc import compute_prdc

    n, d = 10_000, 768
    w = World(d)
    ref, cand = w.array(n, 1), w.array(n, 2, collapsed=True)
    runs = {}
    # the point estimates, as prdc computes them: ci_subsamples=0 leaves the Wilson intervals alone
    # (the default widens recall's and coverage's by 8 half-size recomputations, timed apart below)
    # auto is the exact bounded search here; faiss is the checked approximate one it replaced
    for knn in ("auto", "faiss", "flat", "exact"):
        res, t = _timed(lambda knn=knn: PRDC(equal_n=False, knn=knn, ci_subsamples=0)
                        .update_reference(ref).update(cand).result())
        runs[knn] = (res.details["backend"], _prdc_values(res), t)
    full, t_full = _timed(lambda: PRDC(equal_n=False).update_reference(ref).update(cand).result())
    peer, t_peer = _timed(lambda: _quiet(compute_prdc, ref, cand, 5))
    peer_v = {k: float(v) for k, v in peer.items()}
    exact_v = runs["exact"][1]
    print(f"[prdc_speed] N={n} d={d} k=5")
    for knn, (backend, vals, t) in runs.items():
        err = max(abs(vals[k] - exact_v[k]) for k in PRDC_NAMES)
        print(
            f"  tailguard knn={knn} ({backend}): {_fmt(vals)}  {t:.2f}s  speed-up vs prdc {t_peer / t:.1f}x, "
            f"max |diff vs exact float64| = {err:.4f}"
        )
    err = max(abs(peer_v[k] - exact_v[k]) for k in PRDC_NAMES)
    print(f"  prdc 0.2                  : {_fmt(peer_v)}  {t_peer:.2f}s  max |diff vs exact float64| = {err:.4f}")
    same = _prdc_values(full) == runs["auto"][1]
    print(f"  tailguard default (auto, with the subsample-widened recall/coverage CIs): {t_full:.2f}s "
          f"({t_full / runs['auto'][2]:.1f}x the point estimates; values {'the same' if same else 'DIFFERENT'}); "
          "prdc gives no interval")


def prdc_large(args: argparse.Namespace) -> dict[str, Any]:
    n_cand, n_ref, d = (1_000_000, 100_000, 768) if args.full else (100_000, 20_000, 768)
    n_check = 50_000 if args.full else 10_000
    w = World(d)
    m = PRDC()  # timed: time inside tailguard (update + result), not generating the data
    t_ingest = _feed(w.sample(n_ref, 1), m.update_reference) + _feed(w.sample(n_cand, 2, collapsed=True), m.update)
    spent = t_ingest
    res, t_result = _timed(m.result)
    spent += t_result
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    del m
    print(
        f"[prdc_large] candidate {n_cand:,} x {d} vs reference {n_ref:,}: equal-N sample of "
        f"{res.details['n_candidate_used']:,} per side, backend {res.details['backend']}"
    )
    print(f"  tailguard : {_fmt(_prdc_values(res))}")
    print(
        f"  time in tailguard {spent:.1f}s (update {t_ingest:.1f}s, result {t_result:.1f}s), peak RSS {rss:.2f} GB; "
        f"prdc 0.2: not run (needs {3 * 4 * n_cand * n_ref / 2**30:.0f} GB of distance matrices)"
    )
    # The approximate backend against exact search (float32 BLAS) on an n_check x n_check sample.
    ref = w.array(n_check, 1)
    cand = w.array(n_check, 2, collapsed=True)
    approx, t_approx = _timed(lambda: _prdc_values(PRDC(knn="faiss").update_reference(ref).update(cand).result()))
    exact, t_exact = _timed(lambda: _prdc_values(PRDC(knn="flat").update_reference(ref).update(cand).result()))
    err = max(abs(approx[k] - exact[k]) for k in PRDC_NAMES)
    print(f"  approximate vs exact on {n_check:,} x {n_check:,}: approx {_fmt(approx)} ({t_approx:.1f}s)")
    print(f"                                   exact  {_fmt(exact)} ({t_exact:.1f}s); max |error| = {err:.4f}")
    return {"seconds": spent, "rss_gb": rss, "error": err}


def vendi_equal(args: argparse.Namespace) -> None:
    from vendi_score import vendi

    n, d = 2000, 64
    x = World(d).array(n, 3).astype(np.float64)
    mine, t_mine = _timed(lambda: Vendi().update(x).result().value("vendi"))
    peer, t_peer = _timed(lambda: float(vendi.score_X(x)))
    print(f"[vendi_equal] N={n} d={d} cosine kernel")
    print(f"  tailguard : {mine.value:.10f} CI [{mine.ci[0]:.3f}, {mine.ci[1]:.3f}] ({t_mine:.2f}s, CI included)")
    print(f"  vendi-score 0.0.3 score_X: {peer:.10f} ({t_peer:.2f}s); |diff| = {abs(mine.value - peer):.2e}")


def vendi_large(args: argparse.Namespace) -> dict[str, Any]:
    n, d = (1_000_000, 768) if args.full else (100_000, 768)
    w = World(d)
    m = Vendi()
    t_ingest = _feed(w.sample(n, 4), m.update)
    res, t_result = _timed(m.result)
    v = res.value("vendi")
    t_total = t_ingest + t_result
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"[vendi_large] N={n:,} d={d} cosine kernel (d x d dual)")
    print(
        f"  tailguard Vendi metric: {v.value:.4f} CI [{v.ci[0]:.4f}, {v.ci[1]:.4f}]; time in tailguard {t_total:.1f}s "
        f"(update {t_ingest:.1f}s, result with the 50-replicate bootstrap CI {t_result:.1f}s), peak RSS {rss:.2f} GB"
    )
    if args.full:
        print("  vendi-score 0.0.3 score_dual on the same rows: not run (needs the rows twice in float64: 12 GB)")
        return {"seconds": t_total}
    from vendi_score import vendi

    x = np.vstack(list(w.sample(n, 4)))  # float32, as the metric got them
    x64 = x.astype(np.float64)
    best: dict[str, tuple[float, float]] = {}
    for _ in range(3):  # interleaved, best of 3: the point estimates alone, no CI
        for name, fn in (
            ("tg32", lambda: cosine_vendi(x)),
            ("peer32", lambda: float(vendi.score_dual(x))),
            ("tg64", lambda: cosine_vendi(x64)),
            ("peer64", lambda: float(vendi.score_dual(x64))),
        ):
            val, t = _timed(fn)
            best[name] = (val, min(t, best.get(name, (0.0, float("inf")))[1]))
    for bits in ("32", "64"):
        (mv, mt), (pv, pt) = best[f"tg{bits}"], best[f"peer{bits}"]
        print(
            f"  point estimate on float{bits} rows: tailguard cosine_vendi {mv:.6f} in {mt:.2f}s, vendi-score 0.0.3 "
            f"score_dual {pv:.6f} in {pt:.2f}s: {pt / mt:.2f}x, |diff| {abs(mv - pv):.1e}"
        )
    return {"seconds": t_total}


def mmd_large(args: argparse.Namespace) -> dict[str, Any]:
    n, d = (1_000_000, 64) if args.full else (100_000, 64)
    w = World(d)
    m = MMD(n_permutations=100)
    t_ingest = _feed(w.sample(n, 5), m.update_reference) + _feed(w.sample(n, 6, collapsed=True), m.update)
    res, t_result = _timed(m.result)
    t_total = t_ingest + t_result
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    v, p = res.value("mmd2"), res.value("p_value")
    print(
        f"[mmd_large] {n:,} + {n:,} rows, d={d}, B=100 permutations ({res.details['method']}, "
        f"{m.get_params()['rff_dim']} features)"
    )
    print(
        f"  tailguard : MMD²={v.value:.5f} CI [{v.ci[0]:.5f}, {v.ci[1]:.5f}] p={p.value:.4f}; time in tailguard "
        f"{t_total:.1f}s (update {t_ingest:.1f}s, result {t_result:.1f}s), peak RSS {rss:.2f} GB"
    )
    print("  peer (alibi-detect MMD permutation test): not installed; it runs out of memory above ~10k per side")
    return {"seconds": t_total}


def mmd_alibi(args: argparse.Namespace) -> None:
    """tailguard's exact MMD beside alibi-detect's (torch backend) on the same rows and bandwidth."""
    import tempfile

    from peers.venv import run_peer

    d, b = 64, 100
    threads = int(os.environ.get("OMP_NUM_THREADS") or os.cpu_count() or 1)
    w = World(d)
    for n in args.alibi_sizes:
        ref, cand = w.array(n, 5), w.array(n, 6, collapsed=True)
        res, t_mine = _timed(lambda ref=ref, cand=cand: MMD(n_permutations=b).update_reference(ref).update(cand).result())
        bw = res.details["bandwidth"]
        v, p = res.value("mmd2"), res.value("p_value")
        exceed = round(p.value * (1 + b)) - 1
        with tempfile.TemporaryDirectory() as tmp:
            np.save(f"{tmp}/ref.npy", ref)
            np.save(f"{tmp}/cand.npy", cand)
            job = {"ref": f"{tmp}/ref.npy", "cand": f"{tmp}/cand.npy", "sigma": bw, "n_permutations": b}
            peer = run_peer("alibi", "alibi_mmd.py", {**job, "threads": threads})
        print(f"[mmd_alibi] {n:,} + {n:,} rows, d={d}, RBF bandwidth {bw:.3f} on both sides, B={b} permutations")
        print(
            f"  tailguard : MMD² (biased V-statistic) {v.value:.6f}; p = (1 + {exceed}) / (1 + {b}) = {p.value:.4f} "
            f"(share of permuted >= observed: {exceed / b:.2f}); {t_mine:.1f}s (exact kernel, "
            f"bootstrap CI included), method {res.details['method']}"
        )
        if "error" in peer:
            print(f"  alibi-detect: not run: {peer['error']}")
            continue
        t_peer = peer["init_s"] + peer["score_s"]
        print(
            f"  alibi-detect {peer['version']} (pytorch, cpu, {threads} thread(s)): MMD² (unbiased U-statistic, "
            f"diagonal zeroed) {peer['mmd2']:.6f}; p = share of permuted >= observed = {peer['p_value']:.4f}; "
            f"{t_peer:.1f}s (init {peer['init_s']:.1f}s, score {peer['score_s']:.1f}s), peak RSS {peer['rss_gb']:.2f} GB"
        )
        print(f"  speed-up  : {t_peer / t_mine:.1f}x")
        sys.stdout.flush()


SECTIONS = {
    "prdc_equal": (prdc_equal, False),
    "prdc_speed": (prdc_speed, False),
    "prdc_large": (prdc_large, True),
    "vendi_equal": (vendi_equal, False),
    "vendi_large": (vendi_large, True),
    "mmd_large": (mmd_large, True),
    "mmd_alibi": (mmd_alibi, True),
}


def _child(name: str, args: argparse.Namespace) -> None:
    cmd = [sys.executable, __file__, "--only", name, "--in-process"] + (["--full"] if args.full else [])
    cmd += ["--alibi-sizes", *map(str, args.alibi_sizes)]
    subprocess.run(cmd, check=False)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="the issue's sizes (1M rows; needs ~8 GB, minutes)")
    parser.add_argument("--only", nargs="*", choices=[*SECTIONS, "text"], help="run only these sections")
    parser.add_argument("--in-process", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--alibi-sizes", nargs="*", type=int, default=[5000, 10_000], help="rows per side of the alibi-detect runs"
    )
    text_bench = None
    if (ROOT / "benchmarks" / "metrics_text.py").exists():
        import metrics_text as text_bench

        text_bench.add_arguments(parser)
    args = parser.parse_args(argv)
    chosen = args.only or [*SECTIONS, "text"]
    import numpy  # noqa: F401  (report the BLAS thread count below)

    print(
        f"# tailguard metric benchmarks ({'full' if args.full else 'default'} sizes), "
        f"python {sys.version.split()[0]}, numpy {np.__version__}"
    )
    for name in chosen:
        if name == "text":
            continue
        fn, heavy = SECTIONS[name]
        if heavy and not args.in_process:
            _child(name, args)
        else:
            fn(args)
        sys.stdout.flush()
    if "text" in chosen and text_bench is not None and not args.in_process:
        print("[text] benchmarks/metrics_text.py")
        sys.stdout.flush()
        text_bench.run(args)


if __name__ == "__main__":
    main()
