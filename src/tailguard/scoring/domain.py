"""Does the reference represent the candidate's domain?

A candidate can differ from the reference because part of it is machine-made,
or because it is about something else (a dictionary audited against scripture).
The two look alike to a classifier, and differ in one direction: text a model
made from the reference's domain has *no more* novelty than the reference (it
can only lose words and n-grams), while text from another domain brings words
and word pairs the reference never uses.

So the check takes the candidate's more human-looking half (by the out-of-fold
human-likeness score, so machine-made text that is easy to tell apart, such as
spam, is mostly left out) and asks how often its documents are more novel than
reference documents: the AUC ``P(novelty_top > novelty_ref)`` (ties count a
half), with a bootstrap 95% CI. Novelty is the share of a document's words the
reference never uses (text, leaving the document itself out for reference
documents) or the k-NN radius ratio (vectors). The warning is raised when the
CI's lower bound is above :data:`WARN_AUC`. Exact copies in the candidate count once.

Measured (``benchmarks/unknown_origin.py``, and on 1500 + 1500 documents
against Python-docs paragraphs and fortunes): a held-out split 0.51, GCIDE
dictionary entries 0.81 (warned), Markov text trained on the reference 0.08,
60% template spam 0.56. **Not told apart:** a domain that shares the
reference's vocabulary. King James Bible passages score 0.55 against fortunes
(which quote it) and Python prose, so an audit of them still reads as collapse.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> ref_novelty = rng.uniform(0.3, 0.6, size=500)
>>> same = domain_check(rng.uniform(size=500), ref_novelty, rng.uniform(size=500), rng.uniform(0.3, 0.6, size=500))
>>> other = domain_check(rng.uniform(size=500), ref_novelty, rng.uniform(size=500), rng.uniform(0.5, 0.9, size=500))
>>> same.warn, other.warn
(False, True)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy.stats import rankdata

#: The novelty AUC above which (CI lower bound) the reference is said not to represent the candidate.
WARN_AUC = 0.75
#: The candidate's most human-looking share that is compared.
TOP_SHARE = 0.5
#: The fewest candidate documents in that share.
MIN_TOP = 20
BOOTSTRAP = 500
#: Reference documents the check compares at most.
MAX_REFERENCE = 20_000


@dataclass(frozen=True)
class DomainCheck:
    """The novelty AUC of the candidate's most human-looking documents against the reference, and its verdict."""

    auc: float
    ci: tuple[float, float]
    warn: bool
    n_top: int
    novelty: str
    top_novelty_median: float
    reference_novelty_median: float

    @property
    def message(self) -> str:
        """One sentence built from the numbers (empty when there is nothing to warn about)."""
        if not self.warn:
            return ""
        return (
            f"the reference does not represent this candidate's domain: its {self.n_top} more human-looking "
            f"documents are more novel than reference documents in {self.auc:.0%} of pairs "
            f"(95% CI {self.ci[0]:.0%}-{self.ci[1]:.0%}; median {self.novelty} {self.top_novelty_median:.3g} "
            f"against {self.reference_novelty_median:.3g})"
        )

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["ci"] = list(self.ci)
        out["message"] = self.message
        return out


def _auc(top: np.ndarray, ref: np.ndarray) -> float:
    ranks = rankdata(np.r_[top, ref])
    return float((ranks[: top.size].sum() - top.size * (top.size + 1) / 2) / (top.size * ref.size))


def domain_check(
    reference_scores: np.ndarray, reference_novelty: np.ndarray, candidate_scores: np.ndarray,
    candidate_novelty: np.ndarray, *, novelty: str = "share of words the reference never uses", seed: int = 0,
) -> DomainCheck:
    """Compare the novelty of the candidate's more human-looking half with the reference's (module docstring).

    ``reference_scores`` is accepted for symmetry with the other checks; the reference is compared whole.
    """
    del reference_scores
    ref = np.asarray(reference_novelty, dtype=float)
    if ref.size > MAX_REFERENCE:  # the AUC and its bootstrap on a seeded subsample
        ref = np.random.default_rng([seed, 0xD1]).choice(ref, MAX_REFERENCE, replace=False)
    # exact copies (same score and novelty: copies share a fold) are one piece of evidence, not many
    pairs = np.unique(np.c_[np.asarray(candidate_scores, dtype=float), np.asarray(candidate_novelty, dtype=float)],
                      axis=0)
    cand_scores, candidate_novelty = pairs[:, 0], pairs[:, 1]
    n_top = max(round(TOP_SHARE * cand_scores.size), min(MIN_TOP, cand_scores.size))
    top_rows = np.argsort(-cand_scores, kind="stable")[:n_top]
    top = np.asarray(candidate_novelty, dtype=float)[top_rows]
    ok_ref, ok_top = ref[np.isfinite(ref)], top[np.isfinite(top)]
    if ok_ref.size < MIN_TOP or ok_top.size < MIN_TOP:
        return DomainCheck(float("nan"), (float("nan"), float("nan")), False, int(ok_top.size), novelty,
                           float("nan"), float("nan"))
    auc = _auc(ok_top, ok_ref)
    rng = np.random.default_rng([seed, 0xD0])
    reps = np.array([
        _auc(rng.choice(ok_top, ok_top.size), rng.choice(ok_ref, ok_ref.size)) for _ in range(BOOTSTRAP)
    ])
    lo, hi = (float(x) for x in np.quantile(reps, [0.025, 0.975]))
    return DomainCheck(auc, (lo, hi), lo > WARN_AUC, int(ok_top.size), novelty,
                       float(np.median(ok_top)), float(np.median(ok_ref)))
