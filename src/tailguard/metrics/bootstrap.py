"""Confidence intervals: seeded bootstrap and the analytic ones the metrics use.

>>> import numpy as np
>>> lo, hi = wilson_ci(45, 50)
>>> round(lo, 3), round(hi, 3)
(0.786, 0.957)
>>> x = np.random.default_rng(0).normal(size=400)
>>> lo, hi = bootstrap_ci(lambda idx: float(x[idx].mean()), len(x), n_boot=200, seed=1)
>>> bool(lo < x.mean() < hi)
True
>>> holm([0.01, 0.04, 0.03]).tolist()
[0.03, 0.06, 0.06]
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from scipy import stats


def z_value(level: float) -> float:
    """The two-sided normal quantile of a ``level`` interval (1.96 at 0.95).

    >>> round(z_value(0.95), 2)
    1.96
    """
    return _z(level)


def _z(level: float) -> float:
    return float(stats.norm.ppf(0.5 + level / 2))


def wilson_ci(successes: float, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (analytic)."""
    if n <= 0:
        return (0.0, 1.0)
    z = _z(level)
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def clopper_pearson_ci(successes: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Exact binomial interval (used for permutation p-values)."""
    a = 1 - level
    lo = 0.0 if successes == 0 else float(stats.beta.ppf(a / 2, successes, n - successes + 1))
    hi = 1.0 if successes == n else float(stats.beta.ppf(1 - a / 2, successes + 1, n - successes))
    return (lo, hi)


def mean_ci(x: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Normal-approximation interval for a mean (analytic)."""
    n = len(x)
    m = float(np.mean(x)) if n else 0.0
    if n < 2:
        return (m, m)
    half = _z(level) * float(np.std(x, ddof=1)) / math.sqrt(n)
    return (m - half, m + half)


def bootstrap_ci(
    stat: Callable[[np.ndarray], float],
    n: int,
    *,
    n_boot: int,
    seed: int,
    level: float = 0.95,
    max_m: int | None = None,
    value: float | None = None,
) -> tuple[float, float]:
    """Seeded bootstrap interval of ``stat`` over ``n`` rows, centred on the point value.

    ``stat(idx)`` evaluates the statistic on the rows ``idx`` (drawn with
    replacement). The interval is ``value + (q − mean(reps))`` for the replicate
    quantiles q: the percentile interval shifted to remove the resampling bias
    that duplicated rows give statistics such as PSI or absolute shifts. With
    ``max_m`` < ``n`` it is an m-out-of-n bootstrap: replicates use ``m`` rows and
    their spread is scaled by sqrt(m / n), valid for root-n statistics.
    ``value`` is the full-sample value (computed when not given).
    """
    rng = np.random.default_rng([seed, 0xB007])
    m = n if max_m is None else min(n, max_m)
    full = float(stat(np.arange(n))) if value is None else float(value)
    reps = np.array([stat(rng.integers(0, n, size=m)) for _ in range(n_boot)], dtype=np.float64)
    reps = reps[np.isfinite(reps)]
    if len(reps) == 0:
        return (full, full)
    scale = math.sqrt(m / n)
    lo_q, hi_q = np.quantile(reps - reps.mean(), [(1 - level) / 2, (1 + level) / 2])
    return (full + float(lo_q) * scale, full + float(hi_q) * scale)


def percentile_interval(reps: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Percentile interval of precomputed bootstrap replicates."""
    reps = np.asarray(reps, dtype=np.float64)
    reps = reps[np.isfinite(reps)]
    if len(reps) == 0:
        return (math.nan, math.nan)
    lo, hi = np.quantile(reps, [(1 - level) / 2, (1 + level) / 2])
    return (float(lo), float(hi))


def holm(pvalues: np.ndarray | list[float]) -> np.ndarray:
    """Holm–Bonferroni adjusted p-values (step-down, monotone, capped at 1)."""
    p = np.asarray(pvalues, dtype=np.float64)
    m = len(p)
    order = np.argsort(p, kind="stable")
    adj = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out = np.empty(m)
    out[order] = np.minimum(adj, 1.0)
    return out
