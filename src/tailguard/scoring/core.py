"""``score``: per-document machine-made scores, the candidate's machine-made share, and its duplicate clusters.

For every candidate document (see ``docs/unknown-origin.md`` for the methods):

1. **features** it can be judged by. Text: the statistics of a word trigram
   model of the reference (:mod:`tailguard.scoring.lm`; reference documents
   leave themselves out), the size of its near-duplicate cluster among all
   documents (:mod:`tailguard.scoring.clusters`) and, with ``support=True``, its
   k-NN radius ratio to the reference (:mod:`tailguard.scoring.support`) over the
   audit's hashed text features. Vectors: the vectors and their radius ratio.
   With known machine-made examples, the margin of a detector trained on them.
2. a **human-likeness** score from a classifier that tells reference from
   candidate, out of fold (:mod:`tailguard.scoring.detector`);
3. the **machine-made share** of the candidate, best bin (:mod:`tailguard.scoring.share`),
   and from the known examples an adjusted count;
4. a **probability** that the document is machine-made, from the score and the share;
5. the **domain check** (:mod:`tailguard.scoring.domain`).

>>> from tailguard.data import python_docs_paragraphs, split_human
>>> reference, other = split_human(python_docs_paragraphs(), 0, [0.5, 0.25])    # random, disjoint halves
>>> spam = [f"buy cheap widget model {i} now for only {i % 7 + 3} dollars at shop dot example" for i in range(150)]
>>> result = score(other[:150] + spam, reference, seed=0)   # half of it template spam
>>> result.table.shape[0], round(result.share.estimate, 1)
(300, 0.5)
>>> bool(result.table["machine_probability"][150:].mean() > 0.9 > 0.3 > result.table["machine_probability"][:150].mean())
True
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tailguard.errors import EmptyDatasetError, ParameterError
from tailguard.scoring.clusters import DEFAULT_THRESHOLD, Clusters, near_duplicate_clusters
from tailguard.scoring.detector import FOLDS, cross_fitted_scores, fit_and_score
from tailguard.scoring.domain import DomainCheck, domain_check
from tailguard.scoring.lm import FEATURES, NgramLM
from tailguard.scoring.share import ShareEstimate, adjusted_count_share, best_bin_share, machine_probability
from tailguard.scoring.support import radius_ratios

#: Share estimates ``score`` can report as the one used.
SHARE_METHODS = ("pu", "detector")
_ODDS_CAP = 1e6


@dataclass(frozen=True)
class Scores:
    """What :func:`score` found: a table with one row per candidate document, the share, the domain check,
    the reference's own out-of-fold scores (to set thresholds by), and the clusters."""

    table: Any  # pandas.DataFrame
    share: ShareEstimate
    shares: dict[str, ShareEstimate]
    domain: DomainCheck
    reference_human_score: np.ndarray
    clusters: Clusters
    auc: float
    details: dict[str, Any] = field(default_factory=dict)

    def keep_threshold(self, keep_human: float) -> float:
        """The human-likeness score at or above which a share ``keep_human`` of human documents lies
        (the reference's out-of-fold ``1 - keep_human`` quantile)."""
        if not 0 < keep_human <= 1:
            raise ParameterError(f"keep_human must be in (0, 1], got {keep_human!r}")
        return float(np.quantile(self.reference_human_score, 1.0 - keep_human, method="lower"))

    def summary(self) -> dict[str, Any]:
        return {
            "share": self.share.to_dict(),
            "shares": {k: v.to_dict() for k, v in self.shares.items()},
            "domain": self.domain.to_dict(),
            "classifier_auc": self.auc,
            "n_candidate": int(self.table.shape[0]),
            "n_reference": int(self.reference_human_score.size),
            **self.details,
        }

    def write(self, out: str | Path) -> dict[str, Path]:
        """Write ``scores.parquet`` and ``share.json`` under ``out`` (created); return their paths."""
        folder = Path(out)
        folder.mkdir(parents=True, exist_ok=True)
        paths = {"scores": folder / "scores.parquet", "share": folder / "share.json"}
        tmp = paths["scores"].with_suffix(".parquet.tmp")
        self.table.to_parquet(tmp, index=False)
        tmp.replace(paths["scores"])
        paths["share"].write_text(json.dumps(_finite(self.summary()), indent=2) + "\n", encoding="utf-8")
        return paths


def _finite(value: Any) -> Any:
    """JSON-safe: non-finite floats become null (the project's one convention)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def _is_text(x: Any) -> bool:
    return not isinstance(x, np.ndarray) and len(x) > 0 and isinstance(x[0], str | bytes)


def _text_features(reference: Sequence[str], candidate: Sequence[str], synthetic: Sequence[str],
                   threshold: float, seed: int, clusters: bool = True,
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, Clusters, list[str]]:
    lm = NgramLM.fit(list(reference))
    f_ref = lm.doc_features(list(reference), own=True)
    f_cand = lm.doc_features(list(candidate))
    f_syn = lm.doc_features(list(synthetic)) if len(synthetic) else np.zeros((0, len(FEATURES)))
    # The near-duplicate clusters are the candidate's own (what dedup acts on); they are not a feature of the
    # score. Within one side, a document's cluster size depends on which other documents share its side, a
    # side-level accident the classifier would learn (at 0% machine-made it gave a 5% share, 0/10 CIs covering
    # 0); pooled over both sides, reference documents join the clusters of machine text spliced from them,
    # which the candidate's human documents cannot.
    found = (near_duplicate_clusters(list(candidate), threshold=threshold, seed=seed) if clusters
             else Clusters.singletons(len(candidate)))
    return f_ref, f_cand, f_syn, found, list(FEATURES)


@dataclass(frozen=True)
class Likeness:
    """Out-of-fold human-likeness of every reference and candidate document, and what it was computed from."""

    reference: np.ndarray
    candidate: np.ndarray
    auc: float
    names: list[str]
    candidate_features: np.ndarray
    clusters: Clusters
    novelty: tuple[np.ndarray, np.ndarray]
    novelty_name: str
    radius_ratio: np.ndarray | None
    reference_radius_ratio: np.ndarray | None
    detector: dict[str, np.ndarray]
    text: bool

    def machine_probability(self, machine_share: float) -> np.ndarray:
        """Each candidate's ``P(machine-made)`` from its calibrated human-likeness and the candidates' share."""
        calibrated = calibrate(self.reference, self.candidate)
        odds = np.minimum(calibrated / np.maximum(1.0 - calibrated, 1e-12), _ODDS_CAP)
        return machine_probability(odds, machine_share)


def human_likeness(
    candidate: Sequence[str] | np.ndarray,
    reference: Sequence[str] | np.ndarray,
    *,
    synthetic: Sequence[str] | np.ndarray | None = None,
    support: bool = False,
    k: int = 5,
    duplicate_threshold: float = DEFAULT_THRESHOLD,
    folds: int = FOLDS,
    seed: int = 0,
    clusters: bool = True,
) -> Likeness:
    """Steps 1-2 of :func:`score`: features, and the cross-fitted reference-vs-candidate classifier.

    ``clusters=False`` skips the candidate's near-duplicate clusters (every document its own), which
    the score does not use: ``filter`` leaves them to ``dedup``.
    """
    synthetic = [] if synthetic is None else synthetic
    n_cand, n_ref = len(candidate), len(reference)
    if n_cand == 0 or n_ref == 0:
        raise EmptyDatasetError(f"scoring needs documents on both sides; got {n_cand} candidate and {n_ref} reference")
    text = _is_text(candidate)
    if text != _is_text(reference) or (len(synthetic) and _is_text(synthetic) != text):
        raise ParameterError("candidate, reference and synthetic must all be texts, or all be vectors")
    radius = ref_radius = None
    if text:
        x_ref, x_cand, x_syn, found, names = _text_features(reference, candidate, synthetic, duplicate_threshold, seed,
                                                            clusters)
        col = FEATURES.index("oov_share")
        novelty = (x_ref[:, col], x_cand[:, col])
        novelty_name = "share of words the reference never uses"
    else:
        x_ref, x_cand = _matrix(reference, "reference"), _matrix(candidate, "candidate")
        if x_ref.shape[1] != x_cand.shape[1]:
            raise ParameterError(f"the candidate has {x_cand.shape[1]} features, the reference {x_ref.shape[1]}")
        x_syn = _matrix(synthetic, "synthetic") if len(synthetic) else np.zeros((0, x_ref.shape[1]))
        names = [f"x{j}" for j in range(x_ref.shape[1])]
        found = Clusters.singletons(n_cand)
        support = True
        novelty_name = "k-NN radius ratio"
    if support:
        sides = [_support_features(x) if text else _matrix(x, "vectors") for x in (reference, candidate)]
        ratios = radius_ratios(sides[0], sides[1], k=k, seed=seed)
        x_ref = np.c_[x_ref, _log_ratio(ratios.reference)]
        x_cand = np.c_[x_cand, _log_ratio(ratios.candidate)]
        if x_syn.shape[0]:
            syn_side = _support_features(synthetic) if text else _matrix(synthetic, "synthetic")
            x_syn = np.c_[x_syn, _log_ratio(radius_ratios(sides[0], syn_side, k=k, seed=seed).candidate)]
        names.append("log_radius_ratio")
        radius, ref_radius = ratios.candidate, ratios.reference
        if not text:
            novelty = (ratios.reference, ratios.candidate)
    detector: dict[str, np.ndarray] = {}
    if x_syn.shape[0]:
        det = cross_fitted_scores(x_syn, x_ref, folds=folds, seed=seed + 7)  # P(machine-made), out of fold
        detector = {"synthetic": det.reference, "reference": det.candidate,
                    "candidate": fit_and_score(x_syn, x_ref, x_cand, seed=seed + 7)}
        x_ref = np.c_[x_ref, _logit(detector["reference"])]
        x_cand = np.c_[x_cand, _logit(detector["candidate"])]
        names.append("detector_margin")
    main = cross_fitted_scores(x_ref, x_cand, folds=folds, seed=seed)
    return Likeness(main.reference, main.candidate, main.auc, names, x_cand, found, novelty, novelty_name,
                    radius, ref_radius, detector, text)


def score(
    candidate: Sequence[str] | np.ndarray,
    reference: Sequence[str] | np.ndarray,
    *,
    synthetic: Sequence[str] | np.ndarray | None = None,
    ids: Sequence[Any] | None = None,
    support: bool = False,
    k: int = 5,
    duplicate_threshold: float = DEFAULT_THRESHOLD,
    folds: int = FOLDS,
    share_method: str = "pu",
    seed: int = 0,
) -> Scores:
    """Score every candidate document against a human reference (see the module docstring).

    ``candidate`` and ``reference`` are both texts (sequences of ``str``) or both 2-D arrays of vectors.
    ``synthetic`` are known machine-made examples of the same kind. ``ids`` key the table's rows (by
    default ``0..n-1``). ``share_method`` picks the share that is reported as used: ``"pu"`` (best bin,
    needs no known examples) or ``"detector"`` (adjusted count; needs ``synthetic``).
    """
    import pandas as pd

    if share_method not in SHARE_METHODS:
        raise ParameterError(f"share_method must be one of {', '.join(SHARE_METHODS)}, got {share_method!r}")
    if share_method == "detector" and (synthetic is None or len(synthetic) == 0):
        raise ParameterError("share_method='detector' needs known synthetic examples (synthetic=...)")
    n_cand = len(candidate)
    ids = list(range(n_cand)) if ids is None else list(ids)
    if len(ids) != n_cand:
        raise ParameterError(f"ids has {len(ids)} entries for {n_cand} candidate documents")
    like = human_likeness(candidate, reference, synthetic=synthetic, support=support, k=k,
                          duplicate_threshold=duplicate_threshold, folds=folds, seed=seed)
    shares = {"pu": best_bin_share(like.reference, like.candidate, seed=seed)}
    if like.detector:
        shares["detector"] = adjusted_count_share(
            like.detector["reference"], like.detector["synthetic"], like.detector["candidate"], seed=seed)
    used = shares[share_method]
    domain = domain_check(like.reference, like.novelty[0], like.candidate, like.novelty[1],
                          novelty=like.novelty_name, seed=seed)
    columns: dict[str, Any] = {
        "id": ids,
        "machine_score": 1.0 - like.candidate,
        "machine_probability": like.machine_probability(used.estimate),
        "human_score": like.candidate,
    }
    if like.radius_ratio is not None:
        columns["radius_ratio"] = like.radius_ratio
    if like.text:
        columns["cluster_id"] = like.clusters.labels
        columns["cluster_size"] = like.clusters.sizes
        columns["cluster_representative"] = like.clusters.representative
        for j, name in enumerate(like.names):
            columns.setdefault(name, like.candidate_features[:, j])
    elif "detector_margin" in like.names:
        columns["detector_margin"] = like.candidate_features[:, like.names.index("detector_margin")]
    return Scores(
        table=pd.DataFrame(columns), share=used, shares=shares, domain=domain, reference_human_score=like.reference,
        clusters=like.clusters, auc=like.auc,
        details={"share_method": share_method, "features": like.names, "folds": folds, "seed": seed,
                 "modality": "text" if like.text else "vectors"},
    )


def calibrate(reference: np.ndarray, candidate: np.ndarray) -> np.ndarray:
    """Candidates' out-of-fold ``P(reference | x)`` made calibrated, on balanced priors: an isotonic fit of the
    label (reference 1, candidate 0) on the score, each side weighted by the other's size. Boosted trees'
    probabilities shrink towards the middle; the posterior ``P(machine-made)`` needs them right.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> ref, cand = rng.uniform(0.4, 0.6, 2000), rng.uniform(0.4, 0.6, 2000)   # shrunk, uninformative
    >>> bool(abs(calibrate(ref, cand).mean() - 0.5) < 0.05)
    True
    """
    from sklearn.isotonic import IsotonicRegression

    x = np.r_[reference, candidate]
    y = np.r_[np.ones(reference.size), np.zeros(candidate.size)]
    w = np.r_[np.full(reference.size, 1.0 / reference.size), np.full(candidate.size, 1.0 / candidate.size)]
    fit = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(x, y, sample_weight=w)
    return fit.predict(candidate)


def _matrix(x: Any, what: str) -> np.ndarray:
    arr = np.asarray(x, dtype=float)
    if arr.ndim != 2:
        raise ParameterError(f"the {what} vectors must be a 2-D array, got shape {arr.shape}")
    if not np.isfinite(arr).all():
        from tailguard.errors import NonFiniteValueError

        raise NonFiniteValueError(f"the {what} vectors hold NaN or infinite values")
    return arr


def _logit(p: np.ndarray) -> np.ndarray:
    q = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(q / (1 - q))


def _log_ratio(r: np.ndarray) -> np.ndarray:
    return np.log(np.clip(r, 1e-6, 1e6))


def _support_features(texts: Sequence[str]) -> np.ndarray:
    from tailguard.features.text import HashedTextFeatures

    return HashedTextFeatures().transform(list(texts)).astype(np.float32)
