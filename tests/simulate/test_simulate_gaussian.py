"""Gaussian reproduction checks (Shumailov et al., Nature 2024; Suresh et al. 2025).

Setup: 1-D Gaussian, MLE variance (divide by M), M = 100 samples per generation,
2000 seeds, ``replace``. Model 0 is fit on human data; σ²ₙ/σ²₀ is then a product
of n iid χ²_{M−1}/M factors, so

- E[σ²ₙ/σ²₀] = ((M−1)/M)ⁿ, checked at n = 10, 50, 100 within 3 standard errors
  (the standard error is the sample standard deviation over seeds / √2000);
- log(σ²ₙ/σ²₀) is a sum of n iid log(χ²_{M−1}/M) terms. Its median is computed
  from that exact law by numerical convolution (FFT on a 2⁻¹² grid) and the
  simulated median at n = 100 must be within 10% of it.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special

from tailguard.simulate import get_family, simulate
from tailguard.simulate.theory import gaussian_median_log_ratio

M = 100
SEEDS = 2000


def theoretical_median_log_ratio(n: int, m: int) -> float:
    """Median of Σ_{i=1..n} log(χ²_{m−1}/m), by numerical convolution of the exact density (the library's)."""
    return gaussian_median_log_ratio(n, m)


@pytest.fixture(scope="module")
def replace_runs():
    res = simulate("gaussian", "replace", generations=100, seeds=SEEDS, sample_size=M)
    return res.per_seed("replace", "variance_ratio")


@pytest.mark.parametrize("n", [10, 50, 100])
def test_replace_mean_variance_matches_theory(replace_runs, n: int) -> None:
    values = replace_runs[:, n]
    expected = ((M - 1) / M) ** n
    se = values.std(ddof=1) / np.sqrt(len(values))
    assert abs(values.mean() - expected) <= 3 * se, (values.mean(), expected, se)


def test_replace_median_matches_exact_law(replace_runs) -> None:
    theory = np.exp(theoretical_median_log_ratio(100, M))
    # sanity of the numerical law: the CLT value is close, and the mean of the exact law is right
    clt = np.exp(100 * (special.digamma((M - 1) / 2) + np.log(2 / M)))
    assert theory == pytest.approx(clt, rel=0.02)
    simulated = float(np.median(replace_runs[:, 100]))
    assert simulated == pytest.approx(theory, rel=0.10), (simulated, theory)
    assert simulated < 0.5 * ((M - 1) / M) ** 100  # the median collapses far faster than the mean


def test_accumulate_keeps_variance() -> None:
    res = simulate("gaussian", "accumulate", generations=100, seeds=SEEDS, sample_size=M)
    mean_ratio = res.per_seed("accumulate", "variance_ratio").mean(axis=0)
    assert mean_ratio.min() >= 0.9, mean_ratio.min()


def test_unbiased_variance_keeps_the_mean_but_not_the_median() -> None:
    fam = get_family("gaussian", variance="unbiased")
    res = simulate(fam, "replace", generations=50, seeds=SEEDS, sample_size=M)
    v = res.per_seed("replace", "variance_ratio")[:, 50]
    assert abs(v.mean() - 1.0) <= 3 * v.std(ddof=1) / np.sqrt(len(v))
    assert np.median(v) < 0.9


@pytest.mark.parametrize("dim", [1, 2])  # one dimension: the loop's metrics in floats
@pytest.mark.parametrize("policy", ["replace", "accumulate"])
def test_vectorised_path_draws_the_generic_loops_numbers(policy: str, dim: int) -> None:
    """Not only the same law: the same draws, seed by seed (to floating-point rounding)."""
    kw = dict(generations=8, seeds=6, sample_size=20, family_params={"dim": dim})
    fast = simulate("gaussian", policy, **kw)
    slow = simulate("gaussian", policy, vectorised=False, **kw)
    assert fast.config["vectorised"] == [policy] and slow.config["vectorised"] == []
    for metric in slow.metric_names:
        np.testing.assert_allclose(fast.per_seed(policy, metric), slow.per_seed(policy, metric), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(fast.first_samples(policy), slow.first_samples(policy), rtol=1e-12)
    np.testing.assert_allclose(fast.last_samples(policy), slow.last_samples(policy), rtol=1e-9)


def test_one_dimensional_metrics_in_floats_are_the_array_metrics() -> None:
    """The one-dimensional metrics (Python floats) give the array path's numbers bit for bit, also at
    the edges: a collapsed variance (0, below the 1e-300 floor), huge values, inf and NaN."""
    import dataclasses
    import warnings

    from tailguard.simulate.families.gaussian import GaussianModel, _Model0

    rng = np.random.default_rng(0)
    edges = [0.0, 1e-320, 1e-300, 3e-301, 1e-150, 1.0, 1e150, 1e308, np.inf, np.nan]

    def pick(signed: bool) -> float:
        v = float(rng.choice(edges)) if rng.random() < 0.3 else float(np.exp(rng.normal(0, 30)))
        return -v if signed and rng.random() < 0.5 else v

    checked = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the arrays' inf/nan
        for _ in range(3000):
            m0 = GaussianModel(np.array([pick(True)]), np.array([pick(False)]))
            const = _Model0.of(m0)
            if const.floats is None:  # model 0 with a zero variance keeps the arrays
                continue
            model = GaussianModel(np.array([pick(True)]), np.array([pick(False)]))
            fast, arrays = const.metrics(model), dataclasses.replace(const, floats=None).metrics(model)
            assert fast.keys() == arrays.keys()
            for name, value in fast.items():
                assert type(value) is float
                same_bits = np.float64(value).tobytes() == np.float64(arrays[name]).tobytes()
                assert same_bits or (np.isnan(value) and np.isnan(arrays[name])), (name, value, arrays[name], m0, model)
            checked += 1
    assert checked > 2000
