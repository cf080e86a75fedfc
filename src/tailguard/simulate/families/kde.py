"""The kernel-density family: a non-parametric model trained on its own samples.

Human data are M draws from the 2-D mixture of :mod:`._mixture`. Each generation
fits SciPy's ``gaussian_kde`` (a full-covariance Gaussian kernel, bandwidth by
Scott's rule times ``bandwidth_scale``) and samples from it: pick a training
point, add kernel noise. Unlike the parametric families, a KDE *widens* every
generation (each resampling adds h² of variance) while its fine structure blurs:
the rare mode melts into the bulk. scikit-learn's ``KernelDensity`` scores
held-out data.

Metrics:

- ``tail_coverage`` and ``coverage``: as in :mod:`.gmm` (PRDC coverage of held-out
  human points, in the true tail region and overall);
- ``rare_mode_ratio``: share of model samples attributed to the rare true mode / 0.1;
- ``tail_mass_ratio``: share of model samples in the true 5% tail region / 0.05
  (this one *rises* as the KDE spreads mass into the tails);
- ``variance_ratio``: total variance of model n / model 0;
- ``heldout_loglik``: mean log-likelihood of held-out human data.

>>> fam = KDEFamily()
>>> rng = np.random.default_rng(0)
>>> s = fam.setup(200, rng)
>>> fam.sample(fam.fit(s.train, rng), 3, rng).shape
(3, 2)
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.stats import gaussian_kde

from tailguard.simulate.families import _mixture
from tailguard.simulate.families.gmm import MixtureDataFamily
from tailguard.simulate.family import EvalContext, MetricSpec, register_family
from tailguard.validation import Float, Int


@register_family
class KDEFamily(MixtureDataFamily):
    """Gaussian KDE with Scott's bandwidth."""

    name = "kde"
    params = {
        "bandwidth_scale": Float(min=0.0, min_open=True),
        "eval_size": Int(min=100),
        "heldout_size": Int(min=10),
        "loglik_size": Int(min=1),
    }
    defaults = {"bandwidth_scale": 1.0, "eval_size": 4000, "heldout_size": 2000, "loglik_size": 500}
    metrics = (
        *MixtureDataFamily.SHARED_METRICS,
        MetricSpec("tail_mass_ratio", True, description="share in the true 5% tail region / 0.05"),
        MetricSpec("variance_ratio", True, description="total variance / model 0's"),
        MetricSpec("heldout_loglik", True, description="mean log-likelihood of held-out human data"),
    )
    def fit(self, data: np.ndarray, rng: np.random.Generator) -> Any:
        x = np.asarray(data, dtype=float)
        kde = gaussian_kde(x.T, bw_method="scott")
        kde.set_bandwidth(kde.factor * self._params["bandwidth_scale"])
        return kde

    def sample(self, model: Any, n: int, rng: np.random.Generator) -> np.ndarray:
        return model.resample(n, seed=rng).T

    @staticmethod
    def variance(model: Any) -> float:
        """Total variance of the KDE: the data's plus the kernel's."""
        data_cov = np.cov(model.dataset, aweights=model.weights, bias=True)
        return float(np.trace(np.atleast_2d(data_cov)) + np.trace(model.covariance))

    def evaluate(self, model: Any, samples: np.ndarray, ctx: EvalContext) -> dict[str, float]:
        x = self.sample(model, self._params["eval_size"], ctx.rng)
        held = ctx.setup.heldout[: self._params["loglik_size"]]
        return {
            **self.shared_metrics(x, ctx.setup),
            "tail_mass_ratio": _mixture.tail_share(x) / _mixture.TAIL_SHARE,
            "variance_ratio": self.variance(model) / self.variance(ctx.model0),
            "heldout_loglik": float(np.mean(model.logpdf(held.T))),
        }
