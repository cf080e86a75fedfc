"""Summaries over seeds: mean, median, spread, standard error and a bootstrap CI of the mean.

Every summary in ``results.json`` is, per generation and over the seeds whose value is
finite:

- ``n``: how many seeds had a finite value;
- ``mean``, ``median``, ``p10``, ``p90``;
- ``se``: the naive standard error of the mean, ``sd(ddof=1) / sqrt(n)``;
- ``ci_low``, ``ci_high``: a 95% percentile-bootstrap confidence interval of the mean over
  seeds (:data:`N_BOOT` resamples of the seeds with replacement, drawn from a generator seeded
  by :data:`BOOT_SEED`, so the same values always give the same interval).

The bootstrap resamples whole seeds, and one set of resampling weights serves every
generation and metric of a policy, so the intervals of two generations are comparable.
With one seed there is no spread: ``se`` and the interval are ``None`` (JSON ``null``).
Neither the naive SE nor the bootstrap can see a tail the seeds never reached; in heavy-tailed
regimes (a Gaussian chain with n ≫ M) both understate the error of the mean, so use more seeds
there.

>>> import numpy as np
>>> s = summarise(np.array([[1.0, 0.5], [1.0, 0.7], [1.0, 0.6]]))
>>> s["n"], s["mean"], s["se"][0]
([3, 3], [1.0, 0.6], 0.0)
>>> s["ci_low"][1] <= 0.6 <= s["ci_high"][1]
True
"""

from __future__ import annotations

import math

import numpy as np

#: summary keys, in the order results.json lists them
STATS = ("n", "mean", "median", "p10", "p90", "se", "ci_low", "ci_high")
#: bootstrap resamples behind ``ci_low`` / ``ci_high``
N_BOOT = 2000
#: the seed of the bootstrap's resampling weights
BOOT_SEED = 20240
#: confidence level of the interval
CI_LEVEL = 0.95
#: how results.json describes the interval (stored beside the summaries)
METHOD = {
    "ci": f"{CI_LEVEL:.0%} percentile bootstrap of the mean over seeds",
    "n_boot": N_BOOT,
    "boot_seed": BOOT_SEED,
    "se": "sd(ddof=1) / sqrt(n) over seeds",
}

_CHUNK = 250  # bootstrap rows per matrix product (keeps the weight matrix small)


def _clean(x: float) -> float | None:
    return float(x) if math.isfinite(float(x)) else None


def bootstrap_means(values: np.ndarray, *, n_boot: int = N_BOOT, seed: int = BOOT_SEED) -> np.ndarray:
    """(n_boot, columns) means of seed resamples of ``values`` (seeds × columns), NaNs skipped.

    Each resample draws the seeds with replacement (multinomial weights); a column's mean uses
    only its finite values, and is NaN when a resample holds none of them.

    >>> m = bootstrap_means(np.array([[0.0], [1.0]]), n_boot=4000)
    >>> m.shape, bool(0.4 < m.mean() < 0.6)
    ((4000, 1), True)
    """
    values = np.asarray(values, dtype=float)
    n = values.shape[0]
    finite = np.isfinite(values)
    filled = np.where(finite, values, 0.0)
    counts = finite.astype(float)
    rng = np.random.default_rng(seed)
    out = np.empty((n_boot, values.shape[1]))
    p = np.full(n, 1.0 / n)
    for start in range(0, n_boot, _CHUNK):
        k = min(_CHUNK, n_boot - start)
        w = rng.multinomial(n, p, size=k).astype(float)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[start : start + k] = (w @ filled) / (w @ counts)
    return out


def summarise_many(values: np.ndarray) -> list[dict[str, list]]:
    """:func:`summarise` of each block of a (seeds, blocks, generations) array, sharing one bootstrap."""
    values = np.asarray(values, dtype=float)
    seeds, blocks, gens = values.shape
    flat = values.reshape(seeds, blocks * gens)
    boot = bootstrap_means(flat) if seeds > 1 else None
    alpha = (1 - CI_LEVEL) / 2
    out: list[dict[str, list]] = []
    for b in range(blocks):
        s: dict[str, list] = {k: [] for k in STATS}
        for g in range(gens):
            j = b * gens + g
            col = flat[:, j]
            col = col[np.isfinite(col)]
            n = len(col)
            s["n"].append(int(n))
            if n == 0:
                for k in STATS[1:]:
                    s[k].append(None)
                continue
            p10, med, p90 = np.percentile(col, [10, 50, 90])
            s["mean"].append(_clean(round(float(col.mean()), 12)))
            s["median"].append(_clean(med))
            s["p10"].append(_clean(p10))
            s["p90"].append(_clean(p90))
            if n < 2 or boot is None:
                s["se"].append(None)
                s["ci_low"].append(None)
                s["ci_high"].append(None)
                continue
            s["se"].append(_clean(float(col.std(ddof=1)) / math.sqrt(n)))
            means = boot[:, j]
            means = means[np.isfinite(means)]
            lo, hi = np.quantile(means, [alpha, 1 - alpha])
            s["ci_low"].append(_clean(lo))
            s["ci_high"].append(_clean(hi))
        out.append(s)
    return out


def summarise(values: np.ndarray) -> dict[str, list]:
    """The :data:`STATS` over seeds (axis 0) for each generation (see the module docstring).

    NaNs (a metric a generation could not compute) are ignored; a generation with
    none left gets ``n = 0`` and ``None`` (JSON ``null``) elsewhere.
    """
    values = np.asarray(values, dtype=float)
    if values.ndim == 1:
        values = values[None, :]
    return summarise_many(values[:, None, :])[0]
