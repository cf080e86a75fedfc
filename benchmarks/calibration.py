"""Calibration of the audit verdict: false-alarm rate and power, many seeded trials.

Null scenarios audit two independent halves of the same human data (digits,
wine, Python-docs sentences; a 16-d Gaussian at n = 5,000): the verdict should be
``ok``. Power scenarios perturb the candidate half (std shrunk 10%, rarest 5%
removed, 50% bigram-generated sentences): the verdict should be ``warn`` or
``collapse``. Each line prints the rate, the verdict counts and the rows that
flagged most often.

Usage::

    python benchmarks/calibration.py [--trials 100] [--full] [--baseline] [SCENARIO ...]

``--baseline`` splits each dataset in thirds (reference, a clean baseline, the
candidate) and judges the change from the baseline, as ``audit --baseline`` does.

``--full`` runs the whole suite (MMD permutation test, classifier test) instead
of ``quick``. The figures in docs/audit.md come from this script.
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
import warnings


def main(argv: list[str] | None = None) -> int:
    from tailguard.audit import AuditConfig
    from tailguard.audit.calibration import SCENARIOS, run_trials
    from tailguard.metrics.bootstrap import wilson_ci

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenarios", nargs="*", default=list(SCENARIOS), help=f"any of {', '.join(SCENARIOS)}")
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--seed", type=int, default=1000, help="first seed (the tests use seeds from 0)")
    parser.add_argument("--full", action="store_true", help="run the full suite, not quick")
    parser.add_argument("--baseline", action="store_true",
                        help="baseline-relative statuses: data in thirds (reference, clean baseline, candidate)")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    config = AuditConfig(quick=not args.full, figures=False)
    print(f"# tailguard audit calibration: {args.trials} trials per scenario, seeds {args.seed}.., "
          f"{'full' if args.full else 'quick'} suite{', against a baseline' if args.baseline else ''}, python {platform.python_version()}", flush=True)
    start = time.perf_counter()
    for name in args.scenarios:
        res = run_trials(name, args.trials, seed=args.seed, config=config, baseline=args.baseline)
        good = round(res.rate * res.trials)
        lo, hi = wilson_ci(good, res.trials)
        label = "power" if res.expect_flag else "false-alarm rate"
        rate = res.rate if res.expect_flag else 1 - res.rate
        lo, hi = (lo, hi) if res.expect_flag else (1 - hi, 1 - lo)
        top = ", ".join(f"{k} {v}" for k, v in res.flagged.most_common(4)) or "-"
        print(f"{name:22s} n={res.n_candidate}/{res.n_reference:<5d} {label:16s} {rate:6.3f} "
              f"[95% CI {lo:.3f}, {hi:.3f}]  verdicts {dict(res.verdicts)}  "
              f"{res.seconds / res.trials:.2f} s/trial  most flagged: {top}", flush=True)
    print(f"# total {time.perf_counter() - start:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
