"""Theory curves a family can declare, and the test that reads a run against them.

A family's ``theory(metric, policy, generations=N, sample_size=M)`` returns a :class:`Theory`
(or ``None``: no closed form for that metric and policy). It holds, per generation 0..N, the
expected value of the metric (``kind="mean"``) or a bound it must respect (``"lower_bound"``,
``"upper_bound"``), optionally the exact median, whether the law stays bounded as n grows
(``bounded``) and where the formula comes from. :func:`tailguard.simulate.simulate` stores
them in ``results.json`` (``theory``), so the report draws them without recomputing.

:func:`judge` is the status the report shows for a policy and metric at the last generation.
With ``M`` the mean over seeds and ``[lo, hi]`` its 95% bootstrap CI
(:mod:`tailguard.simulate.stats`):

- **against a theory** (``mean``): the run *matches* when the theory's value lies in
  ``[lo, hi]``, and the status is the theory's own verdict: ``collapse`` when the law is
  unbounded (it degrades without limit: σ²ₙ → 0 under ``replace``, the error grows as c·n),
  ``ok`` when it stays bounded (``accumulate``'s c·Σ1/i² < c·π²/6). A run that departs from
  its theory is ``departs`` (with the side), whatever the theory says;
- **against a bound**: ``ok`` when the CI reaches the bound's side (``hi >= bound`` for a
  lower bound), ``departs`` otherwise;
- **without theory, against generation 0**: ``collapse`` when the whole CI is worse than
  generation 0's mean by at least :data:`COLLAPSE_CHANGE` (10%, relative), ``warn`` when the
  whole CI is worse but by less, ``ok`` when it reaches generation 0's mean or is better.
  ``insufficient`` when the CI could not be computed (one seed, no finite values).

>>> judge(None, {"mean": [1.0, 0.5], "ci_low": [1.0, 0.4], "ci_high": [1.0, 0.6]}, higher_is_better=True).status
'collapse'
>>> t = Theory("variance_ratio", "replace", "mean", (1.0, 0.99), bounded=False, source="((M-1)/M)^n")
>>> judge(t, {"mean": [1.0, 0.985], "ci_low": [1.0, 0.97], "ci_high": [1.0, 1.0]}, higher_is_better=True).status
'collapse'
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

COLLAPSE_CHANGE = 0.10
KINDS = ("mean", "lower_bound", "upper_bound")


@dataclass(frozen=True)
class Theory:
    """A declared law for one metric under one policy (see the module docstring)."""

    metric: str
    policy: str
    kind: str
    values: tuple[float, ...]
    bounded: bool = True
    source: str = ""
    median: tuple[float, ...] | None = None
    decays: bool = field(default=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "values": [float(v) for v in self.values],
            "median": None if self.median is None else [float(v) for v in self.median],
            "bounded": self.bounded,
            "decays": self.decays,
            "source": self.source,
        }

    @classmethod
    def from_dict(cls, metric: str, policy: str, d: dict[str, Any]) -> Theory:
        med = d.get("median")
        return cls(metric, policy, d["kind"], tuple(d["values"]), bool(d.get("bounded", True)), d.get("source", ""),
                   None if med is None else tuple(med), bool(d.get("decays", False)))


@dataclass(frozen=True)
class Judgement:
    """The status of one policy and metric at the last generation, and the sentence that says why."""

    status: str
    reason: str
    against: str  # "theory", "bound" or "generation 0"


def _at(summary: dict[str, list], key: str, g: int) -> float | None:
    values = summary.get(key)
    if values is None or g >= len(values) or values[g] is None:
        return None
    v = float(values[g])
    return v if math.isfinite(v) else None


def judge(theory: Theory | None, summary: dict[str, list], *, higher_is_better: bool,
          generation: int | None = None) -> Judgement:
    """The stated test of the module docstring, at ``generation`` (default the last)."""
    g = len(summary["mean"]) - 1 if generation is None else generation
    mean, lo, hi = _at(summary, "mean", g), _at(summary, "ci_low", g), _at(summary, "ci_high", g)
    if mean is None or lo is None or hi is None:
        return Judgement("insufficient", "no confidence interval at this generation (one seed, or no finite value)",
                         "theory" if theory is not None else "generation 0")
    ci = f"mean {mean:.4g}, 95% CI [{lo:.4g}, {hi:.4g}]"
    if theory is not None and theory.kind == "mean":
        t = float(theory.values[g])
        if lo <= t <= hi:
            verdict = "ok" if theory.bounded else "collapse"
            law = "bounded" if theory.bounded else "unbounded"
            return Judgement(verdict, f"{ci} holds the theory's {t:.4g} ({theory.source}; the law is {law})", "theory")
        side = "above" if lo > t else "below"
        return Judgement("departs", f"{ci} lies {side} the theory's {t:.4g} ({theory.source})", "theory")
    if theory is not None:
        b = float(theory.values[g])
        ok = hi >= b if theory.kind == "lower_bound" else lo <= b
        word = "at least" if theory.kind == "lower_bound" else "at most"
        if ok:
            return Judgement("ok", f"{ci} respects the bound: {word} {b:.4g} ({theory.source})", "bound")
        return Judgement("departs", f"{ci} breaks the bound: {word} {b:.4g} ({theory.source})", "bound")
    first = _at(summary, "mean", 0)
    if first is None:
        return Judgement("insufficient", "no finite value at generation 0", "generation 0")
    # the CI's best end, and how much worse than generation 0 it still is (relative)
    best = hi if higher_is_better else lo
    worse_side = best < first if higher_is_better else best > first
    if not worse_side:
        return Judgement("ok", f"{ci} reaches generation 0's {first:.4g} or better", "generation 0")
    change = abs(best - first) / abs(first) if first != 0 else math.inf
    if change >= COLLAPSE_CHANGE:
        return Judgement("collapse", f"{ci}: even its best end is {change:.0%} worse than generation 0's {first:.4g}",
                         "generation 0")
    return Judgement("warn", f"{ci} is worse than generation 0's {first:.4g}, by less than "
                     f"{COLLAPSE_CHANGE:.0%} at its best end", "generation 0")


def gaussian_median_log_ratio(n: int | list[int], m: int, *, ddof: int = 0) -> Any:
    """Median of log(σ²ₙ/σ²₀) = Σ_{i=1..n} log(χ²_{m−1}/(m − ddof)) for a 1-D Gaussian refit on its own
    M samples, by numerical convolution of the exact density (FFT on a 2⁻¹⁰ grid). ``n`` may be a list
    (one transform serves every n).

    >>> round(math.exp(gaussian_median_log_ratio(100, 100)), 3)
    0.133
    """
    from scipy import special, stats

    ns = [int(x) for x in (n if isinstance(n, list | tuple) else [n])]
    k = m - 1
    denom = m - ddof
    mean1 = special.digamma(k / 2) + np.log(2) - np.log(denom)  # E[log(χ²_k / denom)]
    step = 2.0**-10
    grid = np.arange(-20.0, 20.0, step)  # the centred single term and centred sum share one periodic grid
    y = grid + mean1
    pdf = stats.chi2(k).pdf(denom * np.exp(y)) * denom * np.exp(y)  # density of log(χ²_k/denom)
    pmf = pdf * step
    pmf /= pmf.sum()
    zero = int(np.argmin(np.abs(grid)))
    spectrum = np.fft.rfft(np.roll(pmf, -zero))  # index 0 <-> centred value 0 (circular convolution)
    out = []
    for count in ns:
        if count == 0:
            out.append(0.0)
            continue
        total = np.roll(np.clip(np.fft.irfft(spectrum**count, n=len(grid)), 0, None), zero)
        cdf = np.cumsum(total) / total.sum()
        out.append(float(count * mean1 + grid[np.searchsorted(cdf, 0.5)]))
    return out if isinstance(n, list | tuple) else out[0]
