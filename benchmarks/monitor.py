"""The monitor's change detectors: alarm delay after a drift, and false alarms on a stationary stream.

For each seed, two streams of ``--windows`` windows of ``--window`` documents are audited
against 600 human reference sentences (:mod:`tailguard.monitor.streams`): a stationary one
(human Python-docs sentences throughout) and a drifting one (human, then from window
``--drift-window`` on, bigram sentences of a model fitted to 40 human sentences). Each
window is audited once; its watched series are then replayed through every detector with
the default parameters (a detector sees exactly what ``tailguard monitor`` would feed it).

Printed per detector: false alarms (windows with an alarm) on the stationary streams, the
share of stationary streams with any alarm (95% Wilson interval), alarms on the drifting
streams before the drift, and the delay (windows after the drift until the first alarm; 0
means on the first drifted window) with the misses.

Usage::

    python benchmarks/monitor.py [--seeds 10] [--first-seed 10] [--window 20] [--windows 50] [--drift-window 25]
                                 [--long 600]

The defaults (Page-Hinkley's delta 0.5, threshold 25, min_scale 0.02; 15 warm-up windows) were
chosen on seeds 0-9; the figures in docs/monitoring.md come from seeds 10-19 (held out).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time

from tailguard.metrics.bootstrap import wilson_ci
from tailguard.monitor import DETECTORS, Monitor, MonitorConfig, SeriesWatch
from tailguard.monitor.streams import docs_stream, reference_docs


def series_of(seed: int, window: int, windows: int, drift_window: int | None) -> tuple[list[dict[str, float]], float]:
    """The watched values of each window of one stream, and the seconds per window."""
    config = MonitorConfig(window=window)
    monitor = Monitor(reference_docs(seed), config)
    drift_at = None if drift_window is None else drift_window * window
    start = time.perf_counter()
    values = [r.values for d in docs_stream(seed, windows * window, drift_at=drift_at)
              if (r := monitor.add(d)) is not None]
    return values, (time.perf_counter() - start) / windows


def alarm_windows(values: list[dict[str, float]], detector: str) -> list[int]:
    """Windows on which any series' detector fires."""
    config = MonitorConfig(detector=detector)
    spec = config.spec()
    watches: dict[str, SeriesWatch] = {}
    fired = []
    for i, window in enumerate(values):
        hit = False
        for name, value in window.items():
            watch = watches.setdefault(name, SeriesWatch(name, spec, warmup=config.warmup))
            hit = watch.update(value) or hit
        if hit:
            fired.append(i)
    return fired


def rss_mb() -> float:
    """The process's resident memory now (Linux /proc), in MB."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def long_run(windows: int, window: int) -> None:
    """Resident memory of one monitor over a long stationary stream (documents made as they go)."""
    import gc

    config = MonitorConfig(window=window)
    monitor = Monitor(reference_docs(0), config)
    marks = {50, windows // 2, windows}
    seen: dict[int, float] = {}
    seed = 100
    while monitor.summary.windows < windows:
        for d in docs_stream(seed, 50 * window):  # a fresh stream every 50 windows, never held longer
            if monitor.add(d) is not None and monitor.summary.windows in marks:
                gc.collect()
                seen[monitor.summary.windows] = rss_mb()
            if monitor.summary.windows >= windows:
                break
        seed += 1
    print("memory: " + ", ".join(f"{rss:.0f} MB after {w} windows" for w, rss in sorted(seen.items()))
          + f" ({len(monitor.history)} window results kept, {monitor.summary.alarms} windows with an alarm)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--first-seed", type=int, default=10, help="seeds 0-9 chose the defaults; the figures "
                        "come from the seeds after them")
    parser.add_argument("--window", type=int, default=20)
    parser.add_argument("--windows", type=int, default=50)
    parser.add_argument("--drift-window", type=int, default=25)
    parser.add_argument("--long", type=int, default=0, help="also run one monitor over this many stationary "
                        "windows and print its resident memory along the way")
    args = parser.parse_args()
    print(f"# python {platform.python_version()}, {platform.machine()}; seeds {args.first_seed}-"
          f"{args.first_seed + args.seeds - 1}, windows of "
          f"{args.window} documents, {args.windows} windows per stream, drift at window {args.drift_window}; "
          f"default parameters ({MonitorConfig().get_params()['warmup']} warm-up windows)")
    streams, per_window = [], []
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        flat, t1 = series_of(seed, args.window, args.windows, None)
        drifting, t2 = series_of(seed, args.window, args.windows, args.drift_window)
        streams.append((flat, drifting))
        per_window += [t1, t2]
    print(f"# {statistics.median(per_window):.3f} s per window audit (median), "
          f"{len(streams[0][0][0])} watched series")
    for detector in DETECTORS:
        false_windows, streams_with_false, early, delays, missed = 0, 0, 0, [], 0
        for flat, drifting in streams:
            fired = alarm_windows(flat, detector)
            false_windows += len(fired)
            streams_with_false += bool(fired)
            fired = alarm_windows(drifting, detector)
            early += sum(1 for w in fired if w < args.drift_window)
            after = [w - args.drift_window for w in fired if w >= args.drift_window]
            if after:
                delays.append(after[0])
            else:
                missed += 1
        lo, hi = wilson_ci(streams_with_false, args.seeds)
        delay = (f"delay median {statistics.median(delays):.0f}, max {max(delays)} windows"
                 if delays else "never alarmed")
        print(f"{detector:13s} stationary: {false_windows} false-alarm windows in {args.seeds * args.windows} "
              f"({streams_with_false}/{args.seeds} streams with any, 95% CI {lo:.2f}-{hi:.2f}); drifting: "
              f"{early} alarms before the drift, {delay}, {missed}/{args.seeds} missed")
    if args.long:
        long_run(args.long, args.window)
    return 0


if __name__ == "__main__":
    sys.exit(main())
