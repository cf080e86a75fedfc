"""Wall time of ``audit()`` on n = 2,000 x d = 64 Gaussian data (the simulator's per-generation call).

Target: under about 2 s with ``AuditConfig(quick=True)``. Prints the median of a few
runs for the quick suite, the full suite and a two-metric subset, with BLAS left as it
is and limited to one thread (many small eigen-decompositions are faster that way on a
shared machine).

Usage: python benchmarks/audit_speed.py [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings


def main(argv: list[str] | None = None) -> int:
    import numpy as np
    from threadpoolctl import threadpool_limits

    from tailguard.audit import AuditConfig, audit

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--d", type=int, default=64)
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    rng = np.random.default_rng(0)
    ref, cand = rng.normal(size=(args.n, args.d)), 0.9 * rng.normal(size=(args.n, args.d))
    configs = {
        "quick": AuditConfig(quick=True),
        "quick, no figures": AuditConfig(quick=True, figures=False),
        "full": AuditConfig(),
        "tail_mass+vendi": AuditConfig(metrics=["tail_mass", "vendi"], figures=False),
    }
    audit(cand, ref, config=configs["tail_mass+vendi"])  # warm imports
    print(f"# audit() wall time, n={args.n}, d={args.d}, median of {args.repeats}")
    for blas in ("default", "1 thread"):
        for label, cfg in configs.items():
            times = []
            for r in range(args.repeats):
                start = time.perf_counter()
                if blas == "default":
                    rep = audit(cand, ref, config=cfg, seed=r)
                else:
                    with threadpool_limits(limits=1):
                        rep = audit(cand, ref, config=cfg, seed=r)
                times.append(time.perf_counter() - start)
            print(f"BLAS {blas:8s} {label:18s} {statistics.median(times):6.2f} s  verdict {rep.verdict}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
