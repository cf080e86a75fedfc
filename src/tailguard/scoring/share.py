"""How much of a candidate is machine-made: a mixture-proportion estimate with a bootstrap CI.

**Best bin (PU).** With ``s(x)`` a human-likeness score (out of fold), and for a
threshold ``t``, let ``q_R(t)`` and ``q_U(t)`` be the shares of reference and
candidate documents scoring ``>= t``. If the candidate is a mixture, a share
``1 - α`` of documents drawn like the reference and ``α`` machine-made, then
``q_U(t) = (1 - α) q_R(t) + α q_M(t) >= (1 - α) q_R(t)`` for every ``t``, with
equality where no machine-made document scores that high. So
``1 - α <= q_U(t) / q_R(t)``, tightest in the most human-looking bin that still
holds enough documents to measure. This is the best-bin estimator of Garg et
al. 2021 ("Mixture proportion estimation and PU learning: a modern approach",
NeurIPS), whose threshold minimises ``q_U / q_R`` plus a penalty
``(1 + γ) / q_R · (sqrt(log(4/δ) / 2 n_R) + sqrt(log(4/δ) / 2 n_U))``
for bins too small to trust.

Choosing the bin and measuring in it on the same documents would bias the
ratio low (the minimum of noisy ratios), so each side is split in two seeded
halves: the bin is chosen on one half and the ratio measured on the other, both
ways, and the two ratios averaged. The 95% CI is the percentile interval of
``bootstrap`` resamples of the whole procedure, drawn on the scores binned at
:data:`GRID` reference quantiles (each resample is a multinomial draw of the bin
counts of each half, so thousands cost milliseconds).

**Assumption.** Some documents in the most human-looking bin are all human. A
machine-made part that the score cannot tell from people (good paraphrases)
lands in that bin too and is counted as human: the estimate is then too low.
This is said in every result (:attr:`ShareEstimate.assumption`).

**Adjusted classify and count** (with known machine-made examples): the share
of candidate documents a detector calls machine-made, corrected by its
out-of-fold true and false positive rates (Forman 2008):
``α = (p̂ - fpr) / (tpr - fpr)``.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> ref = rng.uniform(size=4000)                                   # human scores
>>> cand = np.r_[rng.uniform(size=2800), rng.uniform(0, 0.3, size=1200)]   # 30% machine-made, low scores
>>> est = best_bin_share(ref, cand, seed=0)
>>> abs(est.estimate - 0.3) < 0.05, est.ci[0] < 0.3 < est.ci[1]
(True, True)
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from tailguard.errors import EmptyDatasetError

#: Reference quantiles that bound the bins a threshold can sit at.
GRID = 200
#: Resamples of the bootstrap.
BOOTSTRAP = 2000
#: The best-bin penalty's confidence and slack (Garg et al. 2021's defaults).
DELTA, GAMMA = 0.1, 0.01
#: The smallest side a share is estimated from.
MIN_DOCUMENTS = 50
PU_ASSUMPTION = (
    "the candidate's most human-looking documents are all human: machine-made text the score cannot tell "
    "from people (paraphrases of human text) is counted as human, so the share is then under-estimated"
)


@dataclass(frozen=True)
class ShareEstimate:
    """A machine-made share with its 95% CI, the method and what it assumes."""

    estimate: float
    ci: tuple[float, float]
    method: str
    assumption: str
    n_reference: int
    n_candidate: int
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["ci"] = list(self.ci)
        return out


def _penalty(q_r: np.ndarray, n_r: int, n_u: int) -> np.ndarray:
    slack = math.sqrt(math.log(4 / DELTA) / (2 * n_r)) + math.sqrt(math.log(4 / DELTA) / (2 * n_u))
    with np.errstate(divide="ignore"):
        return np.where(q_r > 0, (1 + GAMMA) / q_r * slack, np.inf)


def _tail_shares(counts: np.ndarray) -> np.ndarray:
    """Share of documents at or above each bin edge from per-bin counts (rows: replicates)."""
    above = np.cumsum(counts[..., ::-1], axis=-1)[..., ::-1]
    return above / np.maximum(above[..., :1], 1)


def _ratio(ref_sel: np.ndarray, cand_sel: np.ndarray, ref_est: np.ndarray, cand_est: np.ndarray,
           n_r: int, n_u: int) -> tuple[np.ndarray, np.ndarray]:
    """Bin chosen on the ``sel`` counts, human share measured on the ``est`` counts (per replicate)."""
    qr, qu = _tail_shares(ref_sel), _tail_shares(cand_sel)
    with np.errstate(divide="ignore", invalid="ignore"):
        objective = np.where(qr > 0, qu / qr, np.inf) + _penalty(qr, n_r, n_u)
    best = np.argmin(objective, axis=-1)
    er, eu = _tail_shares(ref_est), _tail_shares(cand_est)
    pick = np.take_along_axis(er, best[..., None], -1)[..., 0], np.take_along_axis(eu, best[..., None], -1)[..., 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(pick[0] > 0, pick[1] / pick[0], np.nan), best


def best_bin_share(
    reference_scores: np.ndarray, candidate_scores: np.ndarray, *, seed: int = 0, bootstrap: int = BOOTSTRAP
) -> ShareEstimate:
    """The best-bin machine-made share of the candidate, from human-likeness scores (higher: more human)."""
    ref = np.asarray(reference_scores, dtype=float)
    cand = np.asarray(candidate_scores, dtype=float)
    if min(ref.size, cand.size) < MIN_DOCUMENTS:
        raise EmptyDatasetError(
            f"a machine-made share needs at least {MIN_DOCUMENTS} documents on each side, "
            f"got {ref.size} reference and {cand.size} candidate"
        )
    if not (np.isfinite(ref).all() and np.isfinite(cand).all()):
        raise EmptyDatasetError("human-likeness scores must be finite")
    edges = np.unique(np.quantile(ref, np.linspace(0, 1, GRID + 1)[1:-1]))
    rng = np.random.default_rng([seed, 0xB1B])

    def halves(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        half = rng.permutation(x.size) < x.size // 2
        bins = np.searchsorted(edges, x, side="right")  # bin b holds scores in [edges[b-1], edges[b])
        return (np.bincount(bins[half], minlength=edges.size + 1).astype(float),
                np.bincount(bins[~half], minlength=edges.size + 1).astype(float))

    r1, r2 = halves(ref)
    u1, u2 = halves(cand)
    n_r, n_u = ref.size // 2, cand.size // 2

    def estimate(r1: np.ndarray, r2: np.ndarray, u1: np.ndarray, u2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        a, best_a = _ratio(r1, u1, r2, u2, n_r, n_u)
        b, _ = _ratio(r2, u2, r1, u1, n_r, n_u)
        return 1.0 - (a + b) / 2.0, best_a

    point, best = estimate(r1, r2, u1, u2)
    reps = []
    for part in (r1, r2, u1, u2):
        total = int(part.sum())
        reps.append(rng.multinomial(total, part / max(total, 1), size=bootstrap).astype(float))
    boot, _ = estimate(*reps)
    boot = boot[np.isfinite(boot)]
    lo, hi = (np.quantile(boot, [0.025, 0.975]) if boot.size else (np.nan, np.nan))
    threshold = float(edges[int(best) - 1]) if int(best) > 0 else float(ref.min())
    return ShareEstimate(
        estimate=float(np.clip(point, 0.0, 1.0)),
        ci=(float(np.clip(lo, 0.0, 1.0)), float(np.clip(hi, 0.0, 1.0))),
        method="best-bin PU mixture proportion (Garg et al. 2021), bin chosen and measured on split halves",
        assumption=PU_ASSUMPTION,
        n_reference=int(ref.size),
        n_candidate=int(cand.size),
        details={"raw_estimate": float(point), "threshold": threshold,
                 "bin_reference_share": float(_tail_shares(r1 + r2)[int(best)]), "bootstrap": int(bootstrap)},
    )


def adjusted_count_share(
    reference_scores: np.ndarray, synthetic_scores: np.ndarray, candidate_scores: np.ndarray, *,
    threshold: float = 0.5, seed: int = 0, bootstrap: int = BOOTSTRAP,
) -> ShareEstimate:
    """Adjusted classify-and-count from a detector's ``P(machine-made)``: out-of-fold scores of the reference
    and of the known synthetic documents give its false and true positive rates."""
    ref = np.asarray(reference_scores, dtype=float) >= threshold
    syn = np.asarray(synthetic_scores, dtype=float) >= threshold
    cand = np.asarray(candidate_scores, dtype=float) >= threshold
    if min(ref.size, syn.size, cand.size) < MIN_DOCUMENTS:
        raise EmptyDatasetError(
            f"an adjusted count needs at least {MIN_DOCUMENTS} reference, known synthetic and candidate documents"
        )
    rng = np.random.default_rng([seed, 0xACC])

    def share(fpr: np.ndarray, tpr: np.ndarray, p: np.ndarray) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(tpr - fpr > 0, (p - fpr) / (tpr - fpr), np.nan)

    point = float(share(np.array(ref.mean()), np.array(syn.mean()), np.array(cand.mean())))
    draws = [rng.binomial(x.size, x.mean(), size=bootstrap) / x.size for x in (ref, syn, cand)]
    boot = share(*draws)
    boot = boot[np.isfinite(boot)]
    lo, hi = (np.quantile(boot, [0.025, 0.975]) if boot.size else (np.nan, np.nan))
    return ShareEstimate(
        estimate=float(np.clip(point, 0.0, 1.0)) if math.isfinite(point) else math.nan,
        ci=(float(np.clip(lo, 0.0, 1.0)), float(np.clip(hi, 0.0, 1.0))),
        method="adjusted classify-and-count (Forman 2008) of a detector trained on the known synthetic versions",
        assumption="the candidate's machine-made documents look like the known synthetic ones to the detector",
        n_reference=int(ref.size),
        n_candidate=int(cand.size),
        details={"raw_estimate": point, "false_positive_rate": float(ref.mean()),
                 "true_positive_rate": float(syn.mean()), "threshold": threshold, "bootstrap": int(bootstrap)},
    )


def machine_probability(human_odds: np.ndarray, machine_share: float) -> np.ndarray:
    """``P(machine-made | x)`` of candidate documents from the balanced classifier's odds
    ``f_H(x) / f_U(x)`` and the candidate's machine-made share: ``1 - (1 - share) · odds``, clipped to [0, 1].

    >>> machine_probability(np.array([0.0, 0.5, 1.0, 3.0]), 0.5).tolist()
    [1.0, 0.75, 0.5, 0.0]
    """
    return np.clip(1.0 - (1.0 - float(machine_share)) * np.asarray(human_odds, dtype=float), 0.0, 1.0)
