"""Gerstgrasser et al. (2024), "Is model collapse inevitable?": linear regression.

Setup: d = 10, T = M = 100 rows of fixed Gaussian design, noise σ = 1, 200 seeds,
generations 0..20. With c = σ² d / (T − d − 1) = 10/89, theory says the test error
‖ŵₙ − w*‖² of model n (model 0 fit on human data) has mean

- c·(n + 1) under ``replace``: we fit a line to the mean error over generations and
  require slope within 15% of c and R² ≥ 0.98 (linear growth);
- c·Σ_{i=1}^{n+1} 1/i² < c·π²/6 under ``accumulate``: every generation's mean error
  must stay below c·π²/6 plus 3 standard errors, and the last must be within 15% of
  c·Σ 1/i².

The held-out estimate (``test_error``: MSE on 2000 fresh human rows minus σ²) must
track the closed form within 3 standard errors of their difference.
"""

from __future__ import annotations

import numpy as np
import pytest

from tailguard.simulate import simulate

D, T, SEEDS, N = 10, 100, 200, 20
C = 1.0 * D / (T - D - 1)


@pytest.fixture(scope="module")
def runs():
    return simulate(
        "linreg", "replace,accumulate", generations=N, seeds=SEEDS, sample_size=T, workers=2, family_params={"dim": D}
    )


def test_replace_error_grows_linearly(runs) -> None:
    err = runs.per_seed("replace", "excess_error").mean(axis=0)
    n = np.arange(N + 1)
    slope, intercept = np.polyfit(n, err, 1)
    fitted = slope * n + intercept
    r2 = 1 - np.sum((err - fitted) ** 2) / np.sum((err - err.mean()) ** 2)
    assert slope == pytest.approx(C, rel=0.15), (slope, C)
    assert r2 >= 0.98
    assert err[-1] == pytest.approx(C * (N + 1), rel=0.15)


def test_accumulate_error_stays_below_the_bound(runs) -> None:
    per_seed = runs.per_seed("accumulate", "excess_error")
    mean = per_seed.mean(axis=0)
    se = per_seed.std(axis=0, ddof=1) / np.sqrt(SEEDS)
    bound = C * np.pi**2 / 6
    assert np.all(mean <= bound + 3 * se), (mean.max(), bound)
    theory_last = C * np.sum(1.0 / np.arange(1, N + 2) ** 2)
    assert mean[-1] == pytest.approx(theory_last, rel=0.15)
    # and far below replace, which is ~13x larger by then
    assert mean[-1] < 0.2 * runs.per_seed("replace", "excess_error").mean(axis=0)[-1]


def test_heldout_error_tracks_closed_form(runs) -> None:
    for policy in ("replace", "accumulate"):
        diff = runs.per_seed(policy, "test_error")[:, -1] - runs.per_seed(policy, "excess_error")[:, -1]
        assert abs(diff.mean()) <= 3 * diff.std(ddof=1) / np.sqrt(SEEDS) + 1e-9
