"""The Gaussian family: the closed-form case of model collapse.

Each generation fits a d-dimensional Gaussian with independent dimensions
(per-dimension mean and variance; ``variance="mle"`` divides by M, ``"unbiased"``
by M-1) and samples M new points from it. Under ``replace`` with the MLE,
σ²ₙ/σ²₀ is a product of n iid χ²_{M-1}/M factors, so E[σ²ₙ/σ²₀] = ((M-1)/M)ⁿ
(Shumailov et al., Nature 2024).

Metrics (generation n = the n-th fitted model, model 0 fit on human data):

- ``variance_ratio``: σ²ₙ/σ²₀ averaged over dimensions (σ²₀: model 0's variance);
- ``mean_shift``: |μₙ − μ₀|/σ₀ averaged over dimensions;
- ``tail_mass_ratio``: P(|x − μ₀| > 2σ₀) under model n over the same under model 0
  (computed in closed form, averaged over dimensions).

:func:`simulate_vectorised` runs ``replace`` and ``accumulate`` for many seeds at
once with numpy (see its docstring); it draws the generic loop's random streams, so
each seed's numbers are the loop's (tested).

>>> fam = GaussianFamily(dim=1)
>>> rng = np.random.default_rng(1)
>>> s = fam.setup(100, rng)
>>> m = fam.fit(s.train, rng)
>>> ctx = EvalContext(s, m, s.train, 0, rng)
>>> fam.evaluate(m, s.train, ctx)["variance_ratio"]
1.0
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special

from tailguard.simulate.family import EvalContext, Family, MetricSpec, Setup, register_family
from tailguard.validation import Float, Int, OneOf


@dataclass(frozen=True)
class GaussianModel:
    mean: np.ndarray
    var: np.ndarray


def _two_sided_tail(mean: np.ndarray, var: np.ndarray, mu0: np.ndarray, sd0: np.ndarray) -> np.ndarray:
    """P(|x - mu0| > 2 sd0) for x ~ N(mean, var), elementwise."""
    return _outside(mean, var, mu0 + 2 * sd0, mu0 - 2 * sd0)


def _outside(mean: np.ndarray, var: np.ndarray, upper: np.ndarray, lower: np.ndarray) -> np.ndarray:
    """P(x > upper or x < lower) for x ~ N(mean, var): bounds computed once per chain by the loop."""
    sd = np.sqrt(np.maximum(var, 1e-300))
    return special.ndtr((mean - upper) / sd) + special.ndtr((lower - mean) / sd)  # Φ(−z_hi) + Φ(z_lo)


def _dim_mean(values: np.ndarray) -> float:
    """The mean over dimensions (np.mean's sum / d); one dimension is its value, which is the same number."""
    return float(values[0]) if values.shape[0] == 1 else float(np.add.reduce(values) / values.shape[0])


@dataclass(frozen=True)
class _Model0:
    """What the metrics need of model 0, derived once per chain (``EvalContext.cache``).

    ``floats`` holds the same constants as Python floats when there is one dimension and no
    denominator is 0: the metrics are then a dozen float operations, which give numpy's numbers
    (IEEE arithmetic, correctly rounded ``sqrt``, the same ``ndtr``) without a dozen ufunc calls on
    one-element arrays, while a 0 keeps numpy's inf/nan rather than Python's ZeroDivisionError.
    """

    model: GaussianModel
    sd0: np.ndarray
    upper: np.ndarray
    lower: np.ndarray
    tail0: np.ndarray
    floats: tuple[float, ...] | None  # (var0, mu0, sd0, upper, lower, tail0)

    @classmethod
    def of(cls, m0: GaussianModel) -> _Model0:
        sd0 = np.sqrt(m0.var)
        upper, lower = m0.mean + 2 * sd0, m0.mean - 2 * sd0
        tail0 = _outside(m0.mean, m0.var, upper, lower)
        floats = None
        if m0.var.shape[0] == 1 and m0.var[0] != 0 and tail0[0] != 0:  # sd0 = sqrt(var0) != 0 too
            floats = tuple(float(a[0]) for a in (m0.var, m0.mean, sd0, upper, lower, tail0))
        return cls(m0, sd0, upper, lower, tail0, floats)

    def metrics(self, model: GaussianModel) -> dict[str, float]:
        if self.floats is not None:
            return _metrics_one_dim(model, *self.floats)
        m0 = self.model
        tail = _outside(model.mean, model.var, self.upper, self.lower)
        return {
            "variance_ratio": _dim_mean(model.var / m0.var),
            "tail_mass_ratio": _dim_mean(tail / self.tail0),
            "mean_shift": _dim_mean(np.abs(model.mean - m0.mean) / self.sd0),
        }


def _metrics_one_dim(model: GaussianModel, var0: float, mu0: float, sd0: float, upper: float, lower: float,
                     tail0: float) -> dict[str, float]:
    """:meth:`_Model0.metrics` of a one-dimensional model, in floats: the same numbers as the arrays
    give (``_outside``'s arithmetic in its order; ``max`` keeps a NaN first, as ``np.maximum`` does)."""
    var, mean = float(model.var[0]), float(model.mean[0])
    sd = math.sqrt(max(var, 1e-300))
    tail = special.ndtr((mean - upper) / sd) + special.ndtr((lower - mean) / sd)
    return {
        "variance_ratio": var / var0,
        "tail_mass_ratio": float(tail / tail0),
        "mean_shift": abs(mean - mu0) / sd0,
    }


@register_family
class GaussianFamily(Family):
    """d-dimensional Gaussian with independent dimensions (true law: N(0, 1) per dimension)."""

    name = "gaussian"
    params = {
        "dim": Int(min=1, max=1000),
        "variance": OneOf(("mle", "unbiased")),
        "true_sd": Float(min=0.0, min_open=True),
        "heldout_size": Int(min=1),
    }
    defaults = {"dim": 1, "variance": "mle", "true_sd": 1.0, "heldout_size": 1000}
    vectorised_policies = ("replace", "accumulate")

    def simulate_vectorised(self, policy: str, *, generations: int, seeds: int, sample_size: int,
                            entropy: int, first_seed: int = 0) -> dict[str, Any]:
        """See :func:`simulate_vectorised`."""
        return simulate_vectorised(self, policy, generations=generations, seeds=seeds,
                                   sample_size=sample_size, entropy=entropy, first_seed=first_seed)
    metrics = (
        MetricSpec("variance_ratio", True, tail=True, description="σ²ₙ/σ²₀ averaged over dimensions"),
        MetricSpec("tail_mass_ratio", True, tail=True, description="P(|x-μ₀|>2σ₀) under model n / model 0"),
        MetricSpec("mean_shift", False, description="|μₙ-μ₀|/σ₀ averaged over dimensions"),
    )
    sample_kind = "hist"

    def theory(self, metric: str, policy: str, *, generations: int, sample_size: int) -> Any:
        """``variance_ratio`` under ``replace``: E[σ²ₙ/σ²₀] = ((M−1)/(M−ddof))ⁿ, and for one dimension
        the exact median (σ²ₙ/σ²₀ is a product of n iid χ²_{M−1}/(M−ddof) factors)."""
        from tailguard.simulate.theory import Theory, gaussian_median_log_ratio

        if metric != "variance_ratio" or policy != "replace":
            return None
        m, ddof = sample_size, self.ddof
        n = np.arange(generations + 1)
        mean = ((m - 1) / (m - ddof)) ** n
        median = None
        if self._params["dim"] == 1:
            # exact at up to 17 generations (one inverse FFT each), log-linear in between
            at = np.unique(np.linspace(0, generations, min(generations + 1, 17)).round().astype(int))
            logs = gaussian_median_log_ratio(at.tolist(), m, ddof=ddof)
            median = tuple(np.exp(np.interp(n, at, logs)).tolist())
        return Theory(metric, policy, "mean", tuple(mean.tolist()), bounded=ddof == 1, decays=True, median=median,
                      source=f"E[σ²ₙ/σ²₀] = ((M−1)/(M−{ddof}))ⁿ" if ddof else "E[σ²ₙ/σ²₀] = ((M−1)/M)ⁿ")

    @property
    def ddof(self) -> int:
        return 0 if self._params["variance"] == "mle" else 1

    def setup(self, sample_size: int, rng: np.random.Generator) -> Setup:
        d, sd = self._params["dim"], self._params["true_sd"]
        train = rng.normal(0.0, sd, size=(sample_size, d))
        heldout = rng.normal(0.0, sd, size=(self._params["heldout_size"], d))
        fresh = rng.normal(0.0, sd, size=(sample_size * 4, d))
        return Setup(train=train, heldout=heldout, fresh=fresh)

    def fit(self, data: np.ndarray, rng: np.random.Generator) -> GaussianModel:
        data = np.asarray(data, dtype=float).reshape(len(data), -1)
        # np.mean's and np.var's arithmetic (sum, then divide), without their Python-level wrappers:
        # the generation loop calls this thousands of times on small arrays (a float divisor is the
        # same number as the int, and numpy takes it faster)
        n = len(data)
        mean = np.add.reduce(data, axis=0) / float(n)
        dev = data - mean
        var = np.einsum("ij,ij->j", dev, dev) / float(n - self.ddof)
        return GaussianModel(mean, var)

    def sample(self, model: GaussianModel, n: int, rng: np.random.Generator) -> np.ndarray:
        # rng.normal(mean, sd) is mean + sd * z of the same standard normals z: the same numbers, faster
        return rng.standard_normal(size=(n, len(model.mean))) * np.sqrt(model.var) + model.mean

    def evaluate(self, model: GaussianModel, samples: np.ndarray, ctx: EvalContext) -> dict[str, float]:
        const = ctx.cache.get("gaussian")
        if const is None:  # model 0's constants, once per chain
            const = ctx.cache["gaussian"] = _Model0.of(ctx.model0)
        return const.metrics(model)


def simulate_vectorised(
    family: GaussianFamily,
    policy: str,
    *,
    generations: int,
    seeds: int,
    sample_size: int,
    entropy: int,
    first_seed: int = 0,
) -> dict[str, Any]:
    """Run ``replace`` or ``accumulate`` for seeds ``first_seed .. first_seed + seeds - 1`` at once,
    drawing the generic loop's streams.

    Seed s's human data come from ``family.setup`` on its ``setup`` stream and model g's M
    samples from its ``sample`` stream of generation g (:class:`~tailguard.simulate.seeding.
    ChainStreams`), exactly as :func:`~tailguard.simulate.run_chain` draws them; only the
    arithmetic is batched over seeds (an array of shape seeds × M × d per generation). Under
    ``accumulate`` the fit over all data so far uses running sums (count, mean and sum of
    squared deviations, combined with Chan et al.'s parallel update), which is the same MLE as
    refitting on the concatenated pool. So every seed's metrics equal the loop's up to
    floating-point rounding (tested), and policies of a seed stay paired whichever path runs them.

    Returns ``{"metrics": {name: array (seeds, generations+1)}, "first": samples of
    generation 0 (seeds, M, d), "last": samples of the last generation}``.
    """
    from tailguard.simulate.seeding import ChainStreams

    if policy not in ("replace", "accumulate"):
        raise ValueError(f"the vectorised Gaussian handles replace and accumulate, not {policy!r}")
    d, ddof = family.get_params()["dim"], family.ddof
    m = sample_size
    streams = [ChainStreams(entropy, s) for s in range(first_seed, first_seed + seeds)]
    human = np.stack([np.asarray(family.setup(m, st.get(0, "setup")).train, dtype=float).reshape(m, d)
                      for st in streams])
    mean = human.mean(axis=1)
    var = human.var(axis=1, ddof=ddof)
    # running pool statistics (accumulate): count, mean, sum of squared deviations
    n_pool = float(m)
    pool_mean = mean.copy()
    pool_ss = human.var(axis=1) * m
    mean0, var0 = mean.copy(), var.copy()
    sd0 = np.sqrt(var0)
    tail0 = _two_sided_tail(mean0, var0, mean0, sd0)
    out = {k: np.empty((seeds, generations + 1)) for k in ("variance_ratio", "tail_mass_ratio", "mean_shift")}
    first = last = human
    z = np.empty((seeds, m, d))

    def record(g: int) -> None:
        out["variance_ratio"][:, g] = np.mean(var / var0, axis=1)
        out["tail_mass_ratio"][:, g] = np.mean(_two_sided_tail(mean, var, mean0, sd0) / tail0, axis=1)
        out["mean_shift"][:, g] = np.mean(np.abs(mean - mean0) / sd0, axis=1)

    for g in range(generations + 1):
        record(g)
        for s, st in enumerate(streams):
            st.get(g, "sample").standard_normal(out=z[s])  # the loop's rng.normal(mean, sd, (m, d)) draws these
        x = mean[:, None, :] + np.sqrt(var)[:, None, :] * z  # samples of model g
        if g == 0:
            first = x.copy()
        if g == generations:
            last = x
            break
        x_mean = x.mean(axis=1)
        x_ss = ((x - x_mean[:, None, :]) ** 2).sum(axis=1)
        if policy == "replace":
            mean, var = x_mean, x_ss / (m - ddof)
        else:
            total = n_pool + m
            delta = x_mean - pool_mean
            pool_ss = pool_ss + x_ss + delta**2 * n_pool * m / total
            pool_mean = pool_mean + delta * m / total
            n_pool = total
            mean, var = pool_mean.copy(), pool_ss / (n_pool - ddof)
    return {"metrics": out, "first": first, "last": last}
