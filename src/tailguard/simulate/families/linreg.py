"""Linear regression refit on its own labels (Gerstgrasser et al. 2024, "Is model collapse inevitable?").

The design is fixed: T rows x ~ N(0, I_d), drawn once per seed. Human labels are
y = x·w* + ε with ε ~ N(0, σ²). Model n is ordinary least squares on its training
rows; it "samples" by relabelling the fixed design: y = x·ŵₙ + ε. Rows are
``[x_1..x_d, y]``.

With c = σ² d / (T − d − 1), the test error E‖ŵₙ − w*‖² of model n (model 0 fit on
human data) is c·(n + 1) under ``replace`` (linear growth) and
c·Σ_{i=1}^{n+1} 1/i² < c·π²/6 under ``accumulate``.

Metrics:

- ``test_error``: mean squared error on fresh human data minus the noise σ² (an
  unbiased estimate of ‖ŵₙ − w*‖² for isotropic x);
- ``excess_error``: ‖ŵₙ − w*‖², the same quantity in closed form;
- ``error_bound_ratio``: ``excess_error`` / c.

>>> fam = LinregFamily(dim=3)
>>> rng = np.random.default_rng(0)
>>> s = fam.setup(30, rng)
>>> fam.fit(s.train, rng)["w"].shape
(3,)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tailguard.errors import ParameterError
from tailguard.simulate.family import EvalContext, Family, MetricSpec, Setup, register_family
from tailguard.validation import Float, Int


@register_family
class LinregFamily(Family):
    """Fixed-design linear regression with Gaussian noise."""

    name = "linreg"
    params = {"dim": Int(min=1, max=10_000), "noise_sd": Float(min=0.0, min_open=True), "heldout_size": Int(min=1)}
    defaults = {"dim": 10, "noise_sd": 1.0, "heldout_size": 2000}
    metrics = (
        MetricSpec("test_error", False, tail=True, description="MSE on fresh human data minus σ²"),
        MetricSpec("excess_error", False, tail=True, description="‖ŵₙ − w*‖²"),
        MetricSpec("error_bound_ratio", False, description="excess error / (σ² d / (T − d − 1))"),
    )
    sample_kind = "scatter"

    def unit_error(self, sample_size: int) -> float:
        """c = σ² d / (T − d − 1), the expected test error of one OLS fit."""
        d, sd = self._params["dim"], self._params["noise_sd"]
        return sd**2 * d / (sample_size - d - 1)

    def theory(self, metric: str, policy: str, *, generations: int, sample_size: int) -> Any:
        """E‖ŵₙ − w*‖² (and its unbiased estimate ``test_error``) is c·(n+1) under ``replace`` and
        c·Σ_{i=1}^{n+1} 1/i² under ``accumulate`` (Gerstgrasser et al. 2024); ``error_bound_ratio``
        is the same over c."""
        from tailguard.simulate.theory import Theory

        if metric not in ("excess_error", "test_error", "error_bound_ratio") or policy not in ("replace", "accumulate"):
            return None
        if sample_size < self._params["dim"] + 2:
            return None
        c = 1.0 if metric == "error_bound_ratio" else self.unit_error(sample_size)
        n = np.arange(1, generations + 2)
        if policy == "replace":
            return Theory(metric, policy, "mean", tuple((c * n).tolist()), bounded=False,
                          source="c·(n+1), c = σ²d/(T−d−1)" if c != 1.0 or metric != "error_bound_ratio" else "n+1")
        values = c * np.cumsum(1.0 / n.astype(float) ** 2)
        return Theory(metric, policy, "mean", tuple(values.tolist()), bounded=True,
                      source="c·Σ_{i≤n+1} 1/i² < c·π²/6, c = σ²d/(T−d−1)")

    def setup(self, sample_size: int, rng: np.random.Generator) -> Setup:
        d, sd = self._params["dim"], self._params["noise_sd"]
        if sample_size < d + 2:
            raise ParameterError(
                f"The 'sample_size' parameter of linreg must be an int >= dim + 2 = {d + 2}. Got {sample_size}."
            )
        w_star = rng.normal(size=d)
        x = rng.normal(size=(sample_size, d))
        y = x @ w_star + rng.normal(0.0, sd, size=sample_size)
        xh = rng.normal(size=(self._params["heldout_size"], d))
        yh = xh @ w_star + rng.normal(0.0, sd, size=len(xh))
        xf = rng.normal(size=(4 * sample_size, d))
        yf = xf @ w_star + rng.normal(0.0, sd, size=len(xf))
        return Setup(
            train=np.column_stack([x, y]),
            heldout=np.column_stack([xh, yh]),
            fresh=np.column_stack([xf, yf]),
            extra={"w_star": w_star, "design": x, "unit_error": self.unit_error(sample_size)},
        )

    def fit(self, data: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
        data = np.asarray(data, dtype=float)
        x, y = data[:, :-1], data[:, -1]
        w, *_ = np.linalg.lstsq(x, y, rcond=None)
        # the fixed design: every generation relabels the same x rows, so the
        # distinct rows of the training set are the design (stacked copies collapse)
        # (the first column is continuous, so its distinct values identify the rows)
        _, first = np.unique(x[:, 0], return_index=True)
        return {"w": w, "design": x[np.sort(first)]}

    def sample(self, model: dict[str, np.ndarray], n: int, rng: np.random.Generator) -> np.ndarray:
        x = model["design"]
        if len(x) != n:
            x = x[rng.choice(len(x), size=n, replace=len(x) < n)]
        y = x @ model["w"] + rng.normal(0.0, self._params["noise_sd"], size=n)
        return np.column_stack([x, y])

    def evaluate(self, model: dict[str, np.ndarray], samples: np.ndarray, ctx: EvalContext) -> dict[str, float]:
        w_star = ctx.setup.extra["w_star"]
        held = ctx.setup.heldout
        mse = float(np.mean((held[:, :-1] @ model["w"] - held[:, -1]) ** 2))
        excess = float(np.sum((model["w"] - w_star) ** 2))
        return {
            "test_error": mse - self._params["noise_sd"] ** 2,
            "excess_error": excess,
            "error_bound_ratio": excess / ctx.setup.extra["unit_error"],
        }

    def features(self, data: np.ndarray) -> np.ndarray:
        return np.asarray(data, dtype=float)
