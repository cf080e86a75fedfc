"""The categorical family: Zipf-distributed symbols refit by maximum likelihood (Suresh et al.).

The true law puts probability ∝ 1/rank^a on ``vocab`` symbols. The data are symbol
ids (one row per draw); the model is the empirical distribution of its training
data (the MLE) and sampling draws M symbols from it. A symbol the model gives
probability 0 never comes back under ``replace``: Suresh, Thangaraj and
Khandavally (2025) show a symbol seen λ times in the human data is still present
in model k with probability ≥ 1 − e^(−λ/k).

Metrics:

- ``support_ratio``: symbols with positive probability in model n / in model 0;
- ``tail_mass_ratio``: model n's probability on the true tail (the symbols outside
  the head that holds 80% of the true mass) / model 0's;
- ``entropy_ratio``: Shannon entropy of model n / model 0;
- ``tv_error``: total-variation distance between model n and the true law;
- ``survival_l1``, ``survival_l2``, ``survival_l4``, ``survival_l8``: of the symbols seen exactly
  λ times in the human training data, the share model n still gives positive probability
  (NaN when no symbol was seen λ times). Under ``replace`` its theory is Suresh et al.'s bound
  1 − e^(−λ/n) (a lower bound; :meth:`CategoricalFamily.theory`).

>>> fam = CategoricalFamily(vocab=50)
>>> rng = np.random.default_rng(0)
>>> s = fam.setup(200, rng)
>>> float(fam.fit(s.train, rng).sum())
1.0
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tailguard.simulate.family import EvalContext, Family, MetricSpec, Setup, register_family
from tailguard.validation import Float, Int


def zipf_probs(vocab: int, exponent: float) -> np.ndarray:
    """Normalised Zipf probabilities for ranks 1..vocab."""
    w = 1.0 / np.arange(1, vocab + 1) ** exponent
    return w / w.sum()


def _entropy(p: np.ndarray) -> float:
    q = p[p > 0]
    return float(-(q * np.log(q)).sum())


@register_family
class CategoricalFamily(Family):
    """Unigram model over ``vocab`` Zipf-distributed symbols."""

    name = "categorical"
    params = {"vocab": Int(min=2, max=10_000_000), "exponent": Float(min=0.0), "head_mass": Float(0.0, 1.0)}
    defaults = {"vocab": 1000, "exponent": 1.1, "head_mass": 0.8}
    metrics = (
        MetricSpec("support_ratio", True, tail=True, description="symbols still possible / model 0's"),
        MetricSpec("tail_mass_ratio", True, tail=True, description="mass on the true tail / model 0's"),
        MetricSpec("entropy_ratio", True, description="entropy / model 0's"),
        MetricSpec("tv_error", False, description="total variation from the true law"),
        *(MetricSpec(f"survival_l{lam}", True, description=f"share of the symbols seen {lam}× in the human data "
                     "that model n still gives positive probability", optional=True) for lam in (1, 2, 4, 8)),
    )
    sample_kind = "bars"

    def truth(self) -> np.ndarray:
        return zipf_probs(self._params["vocab"], self._params["exponent"])

    def setup(self, sample_size: int, rng: np.random.Generator) -> Setup:
        p = self.truth()
        k = len(p)
        order = np.cumsum(p)
        tail = np.arange(k) >= int(np.searchsorted(order, self._params["head_mass"])) + 1
        return Setup(
            train=rng.choice(k, size=sample_size, p=p),
            heldout=rng.choice(k, size=sample_size, p=p),
            fresh=rng.choice(k, size=4 * sample_size, p=p),
            extra={"truth": p, "tail": tail},
        )

    def fit(self, data: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        counts = np.bincount(np.asarray(data, dtype=np.int64).ravel(), minlength=self._params["vocab"])
        return counts / counts.sum()

    def sample(self, model: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
        counts = rng.multinomial(n, model)
        return np.repeat(np.arange(len(model)), counts)[rng.permutation(n)]

    def evaluate(self, model: np.ndarray, samples: np.ndarray, ctx: EvalContext) -> dict[str, float]:
        m0 = ctx.model0
        tail = ctx.setup.extra["tail"]
        truth = ctx.setup.extra["truth"]
        seen = ctx.cache.get("categorical_seen")
        if seen is None:  # the human training counts, once per chain
            seen = ctx.cache["categorical_seen"] = np.bincount(
                np.asarray(ctx.setup.train, dtype=np.int64).ravel(), minlength=len(model))
        alive = model > 0
        out = {
            "support_ratio": float(np.count_nonzero(model) / np.count_nonzero(m0)),
            "tail_mass_ratio": float(model[tail].sum() / max(m0[tail].sum(), 1e-300)),
            "entropy_ratio": _entropy(model) / max(_entropy(m0), 1e-300),
            "tv_error": float(0.5 * np.abs(model - truth).sum()),
        }
        for lam in (1, 2, 4, 8):
            group = seen == lam
            out[f"survival_l{lam}"] = float(alive[group].mean()) if group.any() else float("nan")
        return out

    def theory(self, metric: str, policy: str, *, generations: int, sample_size: int) -> Any:
        """``survival_lλ`` under ``replace``: at least 1 − e^(−λ/n) at generation n (Suresh et al.)."""
        from tailguard.simulate.theory import Theory

        if not metric.startswith("survival_l") or policy != "replace":
            return None
        lam = int(metric[len("survival_l"):])
        n = np.arange(generations + 1, dtype=float)
        with np.errstate(divide="ignore"):
            bound = np.where(n == 0, 1.0, 1.0 - np.exp(-lam / np.maximum(n, 1e-300)))
        return Theory(metric, policy, "lower_bound", tuple(bound.tolist()), bounded=False,
                      source=f"P(survive to n) ≥ 1 − e^(−{lam}/n) (Suresh et al.)")

    def features(self, data: np.ndarray) -> np.ndarray:
        return np.asarray(data, dtype=float).reshape(len(data), 1)

    def classes(self, data: np.ndarray) -> np.ndarray:
        return np.asarray(data, dtype=np.int64).ravel()
