"""The Gaussian-mixture family: the Nature paper's GMM experiment.

Human data are M draws from a 2-D, three-component mixture with one rare mode
(weights 0.6/0.3/0.1; see :mod:`._mixture`). Each generation fits scikit-learn's
``GaussianMixture`` (EM, full covariances, ``components`` components) and samples
M points from it; Shumailov et al. (Nature 2024) show the fitted mixture shrinks
and loses its tails over generations.

Metrics (model n's samples: ``eval_size`` fresh draws from the model):

- ``tail_coverage``: share of the held-out human points of the true 5% tail region
  that have a model sample inside their k-NN ball (k = 5, among held-out human
  points): PRDC coverage restricted to the tails;
- ``coverage``: the same over all held-out human points;
- ``rare_mode_ratio``: share of model samples attributed to the rare true mode / 0.1;
- ``variance_ratio``: total variance (trace of the covariance) of model n / model 0;
- ``heldout_loglik``: mean log-likelihood of held-out human data under model n.

>>> fam = GMMFamily()
>>> rng = np.random.default_rng(0)
>>> s = fam.setup(300, rng)
>>> m = fam.fit(s.train, rng)
>>> fam.sample(m, 4, rng).shape
(4, 2)
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from tailguard.simulate.families import _mixture
from tailguard.simulate.family import EvalContext, Family, MetricSpec, Setup, register_family
from tailguard.validation import Int


def mixture_sample(
    weights: np.ndarray, means: np.ndarray, covs: np.ndarray, n: int, rng: np.random.Generator
) -> np.ndarray:
    """Draw n points from a Gaussian mixture with our generator (sklearn's ``sample`` has its own)."""
    counts = rng.multinomial(n, weights / weights.sum())
    parts = [rng.multivariate_normal(means[k], covs[k], size=c, method="cholesky") for k, c in enumerate(counts) if c]
    out = np.concatenate(parts) if parts else np.empty((0, means.shape[1]))
    return out[rng.permutation(len(out))]


def mixture_variance(weights: np.ndarray, means: np.ndarray, covs: np.ndarray) -> float:
    """Trace of a mixture's covariance."""
    w = weights / weights.sum()
    mu = w @ means
    second = np.einsum("k,kij->ij", w, covs) + np.einsum("k,ki,kj->ij", w, means, means)
    return float(np.trace(second - np.outer(mu, mu)))


def _mixture_setup(sample_size: int, heldout_size: int, rng: np.random.Generator) -> Setup:
    heldout = _mixture.true_sample(heldout_size, rng)
    return Setup(
        train=_mixture.true_sample(sample_size, rng),
        heldout=heldout,
        fresh=_mixture.true_sample(4 * sample_size, rng),
        extra={
            "radii": _mixture.knn_radii(heldout, 5),
            "in_tail": _mixture.true_density(heldout) < _mixture.tail_level(),
        },
    )


def _coverages(samples: np.ndarray, setup: Setup) -> dict[str, float]:
    cov = _mixture.covered(setup.heldout, setup.extra["radii"], samples)
    tail = setup.extra["in_tail"]
    return {"tail_coverage": float(cov[tail].mean()) if tail.any() else float("nan"), "coverage": float(cov.mean())}


class MixtureDataFamily(Family):
    """Base of the families trained on the 2-D mixture of :mod:`._mixture` (gmm, kde).

    They share the human data (``setup``), the report's scatter plots, the audit
    metrics and the first three metrics; subclasses add their own.
    """

    SHARED_METRICS = (
        MetricSpec("tail_coverage", True, tail=True, description="held-out human tail points covered"),
        MetricSpec("coverage", True, tail=True, description="held-out human points covered (PRDC)"),
        MetricSpec("rare_mode_ratio", True, description="share in the rare true mode / 0.1"),
    )
    sample_kind = "scatter"
    audit_metrics = ("tail_mass", "rare_mode_coverage")

    def warm_up(self) -> None:
        _mixture.tail_level()

    def setup(self, sample_size: int, rng: np.random.Generator) -> Setup:
        return _mixture_setup(sample_size, self._params["heldout_size"], rng)

    @staticmethod
    def shared_metrics(samples: np.ndarray, setup: Setup) -> dict[str, float]:
        """Values of ``SHARED_METRICS`` for a model's samples."""
        return {
            **_coverages(samples, setup),
            "rare_mode_ratio": _mixture.rare_share(samples) / _mixture.WEIGHTS[_mixture.RARE],
        }


@register_family
class GMMFamily(MixtureDataFamily):
    """Gaussian mixture refit by EM every generation."""

    name = "gmm"
    params = {
        "components": Int(min=1, max=50),
        "eval_size": Int(min=100),
        "heldout_size": Int(min=10),
        "max_iter": Int(min=1),
    }
    defaults = {"components": 3, "eval_size": 4000, "heldout_size": 2000, "max_iter": 100}
    metrics = (
        *MixtureDataFamily.SHARED_METRICS,
        MetricSpec("variance_ratio", True, description="total variance / model 0's"),
        MetricSpec("heldout_loglik", True, description="mean log-likelihood of held-out human data"),
    )

    def fit(self, data: np.ndarray, rng: np.random.Generator) -> Any:
        from sklearn.mixture import GaussianMixture

        data = np.asarray(data, dtype=float)
        k = min(self._params["components"], len(data))
        gm = GaussianMixture(
            n_components=k,
            covariance_type="full",
            max_iter=self._params["max_iter"],
            random_state=int(rng.integers(2**31 - 1)),
            reg_covar=1e-6,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ConvergenceWarning on degenerate late generations
            gm.fit(data)
        return gm

    def sample(self, model: Any, n: int, rng: np.random.Generator) -> np.ndarray:
        return mixture_sample(model.weights_, model.means_, model.covariances_, n, rng)

    def evaluate(self, model: Any, samples: np.ndarray, ctx: EvalContext) -> dict[str, float]:
        x = self.sample(model, self._params["eval_size"], ctx.rng)
        m0 = ctx.model0
        return {
            **self.shared_metrics(x, ctx.setup),
            "variance_ratio": mixture_variance(model.weights_, model.means_, model.covariances_)
            / mixture_variance(m0.weights_, m0.means_, m0.covariances_),
            "heldout_loglik": float(model.score(ctx.setup.heldout)),
        }
