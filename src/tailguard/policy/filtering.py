"""What ``filter`` drops by its machine-made score: the candidates least like the human reference.

Every non-human candidate is scored by :func:`tailguard.scoring.human_likeness`:
a classifier that tells the human reference from the candidates, out of fold,
on the features of :mod:`tailguard.scoring` (for text: a trigram model of the
reference, 4- and 5-gram overlap, near-duplicate cluster sizes; for vectors:
the vectors and their k-NN radius ratio). The threshold is set on the
reference's own out-of-fold scores, at their ``1 - keep_human`` quantile, so a
share ``keep_human`` of documents drawn like the reference is kept whatever the
candidates hold.

A classifier cannot learn from a handful of examples, so a few far outliers
can score like the rest. Where the k-NN radius ratio is known (vectors always;
text with ``support=True``), the score is therefore the smaller of two
reference ranks: of the classifier's human-likeness among the reference's own
out-of-fold scores, and of the radius ratio among the reference's own
(leave-one-out) ratios, counted from the far end. The threshold is then the
reference's ``1 - keep_human`` quantile of that combined rank, so the share of
human documents kept stays ``keep_human``. What it removes is measured, not promised:
``benchmarks/unknown_origin.py`` reports drop rates by kind of machine text.

Each dropped row keeps its score: ``P(machine-made)`` from the human-likeness
and the candidates' estimated machine-made share (best bin; 0 when there are
too few rows to estimate it, which makes the probability a lower bound).

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> ref = rng.normal(size=(400, 2))
>>> cand = np.r_[rng.normal(size=(200, 2)), rng.normal(3.0, 0.3, size=(200, 2))]
>>> out = machine_made(cand, ref, keep_human=0.9, seed=0)
>>> round(float(out.drop[:200].mean()), 1), bool(out.drop[200:].mean() > 0.9)
(0.1, True)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tailguard.errors import EmptyDatasetError
from tailguard.scoring.core import human_likeness
from tailguard.scoring.share import MIN_DOCUMENTS, best_bin_share


@dataclass(frozen=True)
class MachineMade:
    """Which candidates ``filter`` drops, each one's ``P(machine-made)``, and the threshold used."""

    drop: np.ndarray
    probability: np.ndarray
    threshold: float
    keep_human: float
    machine_share: float


def machine_made(
    candidate: Sequence[str] | np.ndarray,
    reference: Sequence[str] | np.ndarray,
    *,
    keep_human: float = 0.95,
    support: bool = False,
    k: int = 5,
    folds: int = 3,
    seed: int = 0,
) -> MachineMade:
    """Score the candidates against the reference and decide which to drop (see the module docstring)."""
    if len(candidate) < 2 * folds or len(reference) < 2 * folds:
        raise EmptyDatasetError(
            f"filter scores candidates with a {folds}-fold classifier: it needs at least {2 * folds} candidate and "
            f"{2 * folds} human rows, got {len(candidate)} and {len(reference)}"
        )
    like = human_likeness(candidate, reference, support=support, k=k, folds=folds, seed=seed, clusters=False)
    ref_score, cand_score = like.reference, like.candidate
    if like.radius_ratio is not None and like.reference_radius_ratio is not None:
        ref_score, cand_score = _combined(like.reference, like.candidate, like.reference_radius_ratio,
                                          like.radius_ratio)
    threshold = float(np.quantile(ref_score, 1.0 - keep_human, method="lower"))
    share = 0.0
    if min(len(candidate), len(reference)) >= MIN_DOCUMENTS:
        share = best_bin_share(like.reference, like.candidate, seed=seed).estimate
    return MachineMade(
        drop=cand_score < threshold,
        probability=like.machine_probability(share),
        threshold=threshold,
        keep_human=keep_human,
        machine_share=share,
    )


def _rank(reference: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Share of ``reference`` at or below each value (its ECDF)."""
    ordered = np.sort(reference)
    return np.searchsorted(ordered, values, side="right") / ordered.size


def _combined(ref_like: np.ndarray, cand_like: np.ndarray, ref_ratio: np.ndarray,
              cand_ratio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The smaller of the human-likeness rank and the far-end rank of the radius ratio, both among the
    reference's own values (see the module docstring)."""
    def far(values: np.ndarray) -> np.ndarray:
        return 1.0 - _rank(ref_ratio, values) + 1.0 / ref_ratio.size  # the largest reference ratio ranks 1/n

    return (np.minimum(_rank(ref_like, ref_like), far(ref_ratio)),
            np.minimum(_rank(ref_like, cand_like), far(cand_ratio)))
