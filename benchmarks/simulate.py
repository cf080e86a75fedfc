"""Simulator benchmarks, each side by side with a straightforward per-seed Python loop.

1. Gaussian, ``replace``: 1000 seeds × 1000 generations × M = 100 (target ≤ 5 s),
   vectorised across seeds (:func:`tailguard.simulate.families.gaussian.simulate_vectorised`
   through :func:`tailguard.simulate.simulate`), in this process and with the seeds split over
   two worker processes (``workers=2``). Baseline: for each seed, for each
   generation, draw M normals with numpy and refit mean and variance — the same
   work, one seed at a time. Both also report the median variance ratio at n = 1000
   against theory (exp(n·E[log χ²_{M−1}/M]), the CLT median of the exact law).
2. GMM (the Nature paper's setup, M = 500 points, 3 components, metrics measured
   every generation), ``replace``: 100 generations × 20 seeds (target ≤ 60 s) with
   ``tailguard.simulate.simulate(workers=2)``. Baseline: a plain loop over seeds and
   generations with scikit-learn defaults (``GaussianMixture.fit`` + ``.sample``, no
   metrics, BLAS threads left at their default), on ``--baseline-seeds`` seeds and
   scaled to 20 (stated in the output).

3. Gaussian, ``replace``, one seed at a time on three paths: tailguard's general loop
   (``vectorised=False``: policy composer, pool bookkeeping, streams, the family's metrics),
   the vectorised path, and plain numpy loops: one that only samples and refits (the baseline
   above) and one that also computes the family's three metrics every generation; and the
   family's own methods and streams with no loop around them (the floor of the general loop).
   Printed as µs per seed-generation and ratios (target: general loop ≤ 3× the plain loop).
4. CLI against library for one linreg run (``replace,accumulate``): ``tailguard simulate``
   with and without ``--no-checkpoint`` (a subprocess: interpreter start, imports, the run,
   results and report.html) against ``simulate()`` alone and ``simulate()`` + ``write_report``
   in this process, and against the same two calls as a script in a fresh interpreter (which
   pays the interpreter start and imports a library user pays too: the ratio to it is the CLI's
   own overhead, target ≤ 1.2×), with the checkpoints' size on disk.

Run: ``python benchmarks/simulate.py`` (``--quick`` for a smaller smoke run; ``--sections
loop,cli`` for some of them).
Results are printed and written to ``bench-results/simulate.json``. Wall time and CPU time
(this process plus its worker processes) are both reported: on a machine shared with other
jobs (see ``load_average_1m``) the CPU time is the fairer figure.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
from pathlib import Path

import numpy as np


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (worker processes)."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def gaussian_naive(seeds: int, generations: int, m: int) -> np.ndarray:
    """Per-seed Python loop: the straightforward way to run the Gaussian experiment."""
    ratios = np.empty(seeds)
    for s in range(seeds):
        rng = np.random.default_rng(s)
        x = rng.normal(0.0, 1.0, m)
        mu, var = x.mean(), x.var()
        var0 = var
        for _ in range(generations):
            x = rng.normal(mu, np.sqrt(var), m)
            mu, var = x.mean(), x.var()
        ratios[s] = var / var0
    return ratios


def gmm_naive(seeds: int, generations: int, m: int) -> None:
    """Per-seed loop with scikit-learn defaults (fit + sample only)."""
    from sklearn.mixture import GaussianMixture

    from tailguard.simulate.families import _mixture

    for s in range(seeds):
        x = _mixture.true_sample(m, np.random.default_rng(s))
        for g in range(generations + 1):
            gm = GaussianMixture(n_components=3, random_state=s * 1000 + g).fit(x)
            x, _ = gm.sample(m)


def gaussian_plain_with_metrics(seeds: int, generations: int, m: int) -> float:
    """Plain numpy, one seed at a time: sample, refit, and the family's three metrics each generation
    (variance ratio, two-sided 2σ₀ tail mass ratio, mean shift). Returns the mean final variance ratio."""
    from scipy.special import erfc

    total = 0.0
    for s in range(seeds):
        rng = np.random.default_rng(s)
        x = rng.normal(0.0, 1.0, m)
        mu0, var0 = x.mean(), x.var()
        sd0 = np.sqrt(var0)
        mu, var = mu0, var0
        for _ in range(generations + 1):
            sd = np.sqrt(var)
            tail = 0.5 * erfc((mu0 + 2 * sd0 - mu) / sd / np.sqrt(2)) + 0.5 * erfc(-(mu0 - 2 * sd0 - mu) / sd / np.sqrt(2))
            _metrics = (var / var0, tail, abs(mu - mu0) / sd0)
            x = rng.normal(mu, sd, m)
            mu, var = x.mean(), x.var()
        total += _metrics[0]
    return total / seeds


def gaussian_family_methods_only(seeds: int, generations: int, m: int) -> None:
    """The family's own work inside the general loop, with no loop around it: the seed's streams and
    ``fit``, ``sample`` and ``evaluate`` each generation (no pool, no policy, no bookkeeping). The
    general loop cannot be faster than this; the gap to it is the loop's own overhead."""
    from tailguard.simulate.family import EvalContext, get_family
    from tailguard.simulate.seeding import ChainStreams

    fam = get_family("gaussian")
    for s in range(seeds):
        st = ChainStreams(0, s)
        setup = fam.setup(m, st.get(0, "setup"))
        model0 = fam.fit(setup.train, st.get(0, "fit"))
        x0 = fam.sample(model0, m, st.get(0, "sample"))
        model, x, cache = model0, x0, {}
        for g in range(generations + 1):
            if g:
                model = fam.fit(x, st.get(g, "fit"))
                x = fam.sample(model, m, st.get(g, "sample"))
            fam.evaluate(model, x, EvalContext(setup, model0, x0, g, st.get(g, "evaluate"), cache))


def loop_section(seeds: int, generations: int, m: int) -> dict:
    from tailguard.simulate import simulate

    simulate("gaussian", "replace", generations=2, seeds=2, sample_size=10, vectorised=False)  # warm up
    per = seeds * (generations + 1)
    timings = {}
    for label, fn in (
        ("general_loop", lambda: simulate("gaussian", "replace", generations=generations, seeds=seeds,
                                          sample_size=m, vectorised=False)),
        ("vectorised", lambda: simulate("gaussian", "replace", generations=generations, seeds=seeds,
                                        sample_size=m)),
        ("plain_numpy_fit_sample", lambda: gaussian_naive(seeds, generations, m)),
        ("plain_numpy_with_metrics", lambda: gaussian_plain_with_metrics(seeds, generations, m)),
        ("family_methods_only", lambda: gaussian_family_methods_only(seeds, generations, m)),
    ):
        t, c = time.perf_counter(), cpu_seconds()
        fn()
        timings[label] = (time.perf_counter() - t, cpu_seconds() - c)
    row: dict = {"size": f"{seeds} seeds x {generations} generations x M={m}, replace"}
    for label, (wall, cpu) in timings.items():
        row[f"{label}_us_per_seed_gen"] = round(wall / per * 1e6, 1)
        row[f"{label}_cpu_us_per_seed_gen"] = round(cpu / per * 1e6, 1)
    loop_cpu = timings["general_loop"][1]
    row["general_loop_over_plain_fit_sample_cpu"] = round(loop_cpu / timings["plain_numpy_fit_sample"][1], 1)
    row["general_loop_over_plain_with_metrics_cpu"] = round(loop_cpu / timings["plain_numpy_with_metrics"][1], 1)
    row["family_methods_only_over_plain_with_metrics_cpu"] = round(
        timings["family_methods_only"][1] / timings["plain_numpy_with_metrics"][1], 1)
    row["general_loop_over_family_methods_only_cpu"] = round(loop_cpu / timings["family_methods_only"][1], 1)
    row["vectorised_over_plain_fit_sample_cpu"] = round(timings["vectorised"][1] / timings["plain_numpy_fit_sample"][1], 2)
    row["target_general_over_plain"] = 3.0
    return row


def cli_section(seeds: int, generations: int, m: int, dim: int) -> dict:
    import shutil
    import subprocess
    import sys
    import tempfile

    from tailguard.simulate import simulate, write_report

    args = dict(generations=generations, seeds=seeds, sample_size=m, family_params={"dim": dim})
    simulate("linreg", "replace", generations=1, seeds=1, sample_size=m, family_params={"dim": dim})  # warm up
    work = Path(tempfile.mkdtemp(prefix="tg-bench-"))
    row: dict = {"size": f"linreg dim={dim}, replace,accumulate, {seeds} seeds x {generations} generations x M={m}"}
    t, c = time.perf_counter(), cpu_seconds()
    res = simulate("linreg", "replace,accumulate", **args)
    row["library_simulate_s"] = round(time.perf_counter() - t, 2)
    row["library_simulate_cpu_s"] = round(cpu_seconds() - c, 2)
    t, c = time.perf_counter(), cpu_seconds()
    res = simulate("linreg", "replace,accumulate", out=work / "lib", checkpoint=False, **args)
    write_report(res, str(work / "lib"), save_results=False)
    row["library_simulate_results_report_s"] = round(time.perf_counter() - t, 2)
    row["library_simulate_results_report_cpu_s"] = round(cpu_seconds() - c, 2)
    # The same library calls as a script in a fresh interpreter: what a user running the library
    # pays too (interpreter start, imports), so the CLI's ratio to it is the CLI's own overhead.
    script = (f"from tailguard.simulate import simulate, write_report\n"
              f"res = simulate('linreg', 'replace,accumulate', generations={generations}, seeds={seeds}, "
              f"sample_size={m}, family_params={{'dim': {dim}}}, out={str(work / 'script')!r}, checkpoint=False)\n"
              f"write_report(res, {str(work / 'script')!r}, save_results=False)\n")
    t, c = time.perf_counter(), cpu_seconds()
    subprocess.run([sys.executable, "-c", script], check=True, capture_output=True)
    row["library_script_s"] = round(time.perf_counter() - t, 2)
    row["library_script_cpu_s"] = round(cpu_seconds() - c, 2)
    exe = Path(sys.executable).with_name("tailguard")
    for label, extra in (("cli_no_checkpoint", ["--no-checkpoint"]), ("cli_checkpoint", [])):
        out_dir = work / label
        cmd = [str(exe), "simulate", "linreg", "--policy", "replace,accumulate", "--generations", str(generations),
               "--seeds", str(seeds), "--sample-size", str(m), "--param", f"dim={dim}", "--out", str(out_dir),
               "--no-progress", *extra]
        t, c = time.perf_counter(), cpu_seconds()
        subprocess.run(cmd, check=True, capture_output=True, env={**os.environ, "COLUMNS": "200"})
        row[f"{label}_s"] = round(time.perf_counter() - t, 2)
        row[f"{label}_cpu_s"] = round(cpu_seconds() - c, 2)
        ck = out_dir / "checkpoints"
        row[f"{label}_checkpoint_mb"] = round(sum(f.stat().st_size for f in ck.rglob("*") if f.is_file()) / 2**20, 1) \
            if ck.exists() else 0.0
    t = time.perf_counter()
    subprocess.run([str(exe), "--help"], check=True, capture_output=True)
    row["cli_start_s"] = round(time.perf_counter() - t, 2)
    base = row["library_simulate_results_report_cpu_s"]
    row["cli_no_checkpoint_over_library_with_report_cpu"] = round(row["cli_no_checkpoint_cpu_s"] / base, 2)
    row["cli_checkpoint_over_library_with_report_cpu"] = round(row["cli_checkpoint_cpu_s"] / base, 2)
    row["cli_no_checkpoint_over_library_script_cpu"] = round(
        row["cli_no_checkpoint_cpu_s"] / row["library_script_cpu_s"], 2)
    row["cli_no_checkpoint_over_library_simulate_cpu"] = round(
        row["cli_no_checkpoint_cpu_s"] / row["library_simulate_cpu_s"], 2)
    row["target_cli_over_library"] = 1.2
    shutil.rmtree(work, ignore_errors=True)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes for a smoke run")
    ap.add_argument("--baseline-seeds", type=int, default=4, help="seeds the GMM baseline runs (scaled to 20)")
    ap.add_argument("--sections", default="vectorised,gmm,loop,cli", help="comma-separated: vectorised, gmm, loop, cli")
    args = ap.parse_args()
    sections = {x.strip() for x in args.sections.split(",") if x.strip()}


    g_seeds, g_gens, m = (200, 200, 100) if args.quick else (1000, 1000, 100)
    gmm_seeds, gmm_gens, gmm_m = (4, 20, 500) if args.quick else (20, 100, 500)
    out: dict[str, dict] = {"machine": {"cpu_count": os.cpu_count(), "load_average_1m": os.getloadavg()[0]}}

    # -- Gaussian -------------------------------------------------------------------------
    if "loop" in sections:
        out["loop"] = loop_section(*((10, 100, 100) if args.quick else (40, 500, 100)))
    if "cli" in sections:
        out["cli"] = cli_section(*((10, 20, 40, 5) if args.quick else (50, 40, 40, 5)))
    if "vectorised" in sections:
        vectorised_section(out, g_seeds, g_gens, m)
    if "gmm" in sections:
        gmm_section(out, args, gmm_seeds, gmm_gens, gmm_m)

    Path("bench-results").mkdir(exist_ok=True)
    Path("bench-results/simulate.json").write_text(json.dumps(out, indent=1))
    for name, row in out.items():
        print(f"{name}: " + ", ".join(f"{k}={v}" for k, v in row.items()))


def vectorised_section(out: dict, g_seeds: int, g_gens: int, m: int) -> None:
    from tailguard.simulate import simulate

    simulate("gaussian", "replace", generations=2, seeds=2, sample_size=10)  # warm imports
    t, c = time.perf_counter(), cpu_seconds()
    res = simulate("gaussian", "replace", generations=g_gens, seeds=g_seeds, sample_size=m)
    fast_s, fast_cpu = time.perf_counter() - t, cpu_seconds() - c
    fast_median = float(np.median(res.per_seed("replace", "variance_ratio")[:, -1]))
    # the same run with its seeds split over two worker processes (the process engine): same numbers
    t, c = time.perf_counter(), cpu_seconds()
    res2 = simulate("gaussian", "replace", generations=g_gens, seeds=g_seeds, sample_size=m, workers=2)
    two_s, two_cpu = time.perf_counter() - t, cpu_seconds() - c
    same = bool(np.array_equal(res.per_seed("replace", "variance_ratio"), res2.per_seed("replace", "variance_ratio")))
    t, c = time.perf_counter(), cpu_seconds()
    naive = gaussian_naive(g_seeds, g_gens, m)
    naive_s, naive_cpu = time.perf_counter() - t, cpu_seconds() - c
    from scipy.special import digamma

    # median of a product of n iid chi2_{M-1}/M factors (log-normal by the CLT at this n); the
    # mean ((M-1)/M)^n is dominated by rare seeds here and cannot be estimated from 1000 of them
    theory = float(np.exp(g_gens * (digamma((m - 1) / 2) + np.log(2 / m))))
    out["gaussian"] = {
        "size": f"{g_seeds} seeds x {g_gens} generations x M={m}",
        "vectorised_s": round(fast_s, 3),
        "vectorised_cpu_s": round(fast_cpu, 3),
        "vectorised_2_workers_s": round(two_s, 3),
        "vectorised_2_workers_cpu_s": round(two_cpu, 3),
        "vectorised_2_workers_same_numbers": same,
        "per_seed_loop_s": round(naive_s, 3),
        "per_seed_loop_cpu_s": round(naive_cpu, 3),
        "speedup": round(naive_s / fast_s, 1),
        "target_s": 5.0,
        "median_variance_ratio_vectorised": fast_median,
        "median_variance_ratio_loop": float(np.median(naive)),
        "median_theory": theory,
    }



def gmm_section(out: dict, args: argparse.Namespace, gmm_seeds: int, gmm_gens: int, gmm_m: int) -> None:
    from tailguard.simulate import simulate

    t, c = time.perf_counter(), cpu_seconds()
    res = simulate("gmm", "replace", generations=gmm_gens, seeds=gmm_seeds, sample_size=gmm_m, workers=2)
    gmm_s, gmm_cpu = time.perf_counter() - t, cpu_seconds() - c
    base_seeds = min(args.baseline_seeds, gmm_seeds)
    t, c = time.perf_counter(), cpu_seconds()
    gmm_naive(base_seeds, gmm_gens, gmm_m)
    scale = gmm_seeds / base_seeds
    base_s, base_cpu = (time.perf_counter() - t) * scale, (cpu_seconds() - c) * scale
    tail = res.summary("replace", "tail_coverage")["median"]
    out["gmm"] = {
        "size": f"{gmm_seeds} seeds x {gmm_gens} generations x M={gmm_m}, metrics every generation, 2 workers",
        "simulate_s": round(gmm_s, 2),
        "simulate_cpu_s": round(gmm_cpu, 2),
        "per_seed_loop_s_scaled": round(base_s, 2),
        "per_seed_loop_cpu_s_scaled": round(base_cpu, 2),
        "baseline_note": f"plain sklearn fit+sample loop, {base_seeds} seeds run, scaled x{gmm_seeds / base_seeds:g}",
        "speedup": round(base_s / gmm_s, 1),
        "target_s": 60.0,
        "tail_coverage_median_first_last": [tail[0], tail[-1]],
    }


if __name__ == "__main__":
    main()
