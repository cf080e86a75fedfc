"""Cross-fitted classifiers: how human-like each document is, scored by a model that never saw it.

The main classifier tells the reference (label 1) from the candidate (label 0).
The reference is human; the candidate mixes human documents, drawn like the
reference, with machine-made ones. A classifier can then only learn what the
machine-made part has that the reference lacks. Its probability is put on
balanced priors (the odds divided by the training fold's class ratio; fitting
with balanced class weights instead is about five times slower in
scikit-learn's histogram boosting), so it estimates
``f_H(x) / (f_H(x) + f_U(x))`` (``f_H``: the reference density, ``f_U``: the
candidate's). This is the positive-unlabelled
("PU") setting of Elkan & Noto (2008).

Every score is **out of fold**: the rows are cut into ``folds`` seeded folds and
each fold is scored by a model fitted on the others, so reference and candidate
documents are scored alike. Identical rows (a document and its exact copies, on
either side) always share a fold: a scraped corpus repeats documents, and a copy
in the training folds would let the model recognise its twin, which then reads
as whatever side most copies are on (a 300 000-document candidate whose human
part repeated each text about 100 times read as 88% machine-made that way). The model is scikit-learn's
``HistGradientBoostingClassifier`` (fast on hundreds of thousands of rows, no
feature scaling needed, monotone in nothing it does not learn).

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> ref = rng.normal(size=(600, 2))
>>> cand = np.r_[rng.normal(size=(300, 2)), rng.normal(4.0, 0.5, size=(300, 2))]
>>> s = cross_fitted_scores(ref, cand, seed=0)
>>> bool(s.candidate[300:].mean() < 0.3 < 0.6 < s.candidate[:300].mean())
True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tailguard.engines import current_engine
from tailguard.errors import EmptyDatasetError

#: Folds of the cross-fitting, by default.
FOLDS = 3
#: Boosting settings: early stopping on a seeded tenth of each training fold.
MAX_ITER = 200
#: Rows a fold's model is fitted on at most (a seeded stratified subsample; every row is still scored).
#: A dozen features need no more, and fitting on 270 000 rows three times took a third of a 400 000-row filter.
MAX_TRAIN = 100_000


@dataclass(frozen=True)
class OutOfFold:
    """Out-of-fold probability of the positive class for each positive and each negative row, and the
    folds' held-out AUC (how well the classes can be told apart)."""

    reference: np.ndarray
    candidate: np.ndarray
    auc: float


def _model(seed: int):
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(
        max_iter=MAX_ITER, learning_rate=0.1, max_leaf_nodes=31, early_stopping=True,
        validation_fraction=0.1, n_iter_no_change=10, random_state=seed,
    )


def _balanced(p: np.ndarray, n_pos: int, n_neg: int) -> np.ndarray:
    """Probabilities of a model fitted on ``n_pos`` positives and ``n_neg`` negatives, on equal priors."""
    q = np.clip(p, 1e-12, 1 - 1e-12)
    odds = q / (1 - q) * (n_neg / max(n_pos, 1))
    return odds / (1 + odds)


def cross_fitted_scores(positive: np.ndarray, negative: np.ndarray, *, folds: int = FOLDS, seed: int = 0) -> OutOfFold:
    """Out-of-fold ``P(positive | x)`` for every row of both sets (see the module docstring)."""
    from sklearn.metrics import roc_auc_score

    n_pos, n_neg = positive.shape[0], negative.shape[0]
    if min(n_pos, n_neg) < 2 * folds:
        raise EmptyDatasetError(
            f"a {folds}-fold classifier needs at least {2 * folds} rows on each side, got {n_pos} and {n_neg}"
        )
    x = np.vstack([positive, negative]).astype(np.float64)
    y = np.r_[np.ones(n_pos, dtype=np.int8), np.zeros(n_neg, dtype=np.int8)]
    rng = np.random.default_rng([seed, 0xF01D])
    fold = _grouped_folds(x, folds, rng)
    plans = []
    for f in range(folds):  # the seeded draws stay in fold order, wherever the folds then run
        test = np.flatnonzero(fold == f)
        plans.append((f, _capped(np.flatnonzero(fold != f), y, rng), test))
    out = np.empty(len(y))
    for (_f, _train, test), scores in zip(plans, current_engine().map(_FoldFit(x, y, seed), plans), strict=True):
        out[test] = scores
    auc = float(roc_auc_score(y, out))
    return OutOfFold(out[:n_pos], out[n_pos:], auc)


class _FoldFit:
    """Fit one fold's classifier and score its held-out rows: picklable, so a pool or Ray runs folds side by side."""

    def __init__(self, x: np.ndarray, y: np.ndarray, seed: int):
        self.x, self.y, self.seed = x, y, seed

    def __call__(self, plan: tuple[int, np.ndarray, np.ndarray]) -> np.ndarray:
        f, train, test = plan
        model = _model(self.seed + f).fit(self.x[train], self.y[train])
        fit_pos = int(self.y[train].sum())
        return _balanced(model.predict_proba(self.x[test])[:, 1], fit_pos, train.size - fit_pos)


def _capped(rows: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``rows``, or a seeded subsample of :data:`MAX_TRAIN` of them keeping each class's share."""
    if rows.size <= MAX_TRAIN:
        return rows
    keep = []
    for label in (0, 1):
        part = rows[y[rows] == label]
        keep.append(rng.choice(part, round(MAX_TRAIN * part.size / rows.size), replace=False))
    return np.sort(np.concatenate(keep))


def _grouped_folds(x: np.ndarray, folds: int, rng: np.random.Generator) -> np.ndarray:
    """A seeded fold per row, identical rows in one fold (groups dealt round-robin in a random order)."""
    rows = np.ascontiguousarray(x)
    keys = rows.view(np.dtype((np.void, rows.dtype.itemsize * rows.shape[1]))).ravel()
    _, group = np.unique(keys, return_inverse=True)
    order = rng.permutation(int(group.max()) + 1)
    return order[group.ravel()] % folds


def fit_and_score(positive: np.ndarray, negative: np.ndarray, queries: np.ndarray, *, seed: int = 0) -> np.ndarray:
    """``P(positive | x)`` for ``queries`` (rows neither set holds), from one model fitted on both sets."""
    x = np.vstack([positive, negative]).astype(np.float64)
    y = np.r_[np.ones(positive.shape[0], dtype=np.int8), np.zeros(negative.shape[0], dtype=np.int8)]
    train = _capped(np.arange(len(y)), y, np.random.default_rng([seed, 0xF17]))
    p = _model(seed).fit(x[train], y[train]).predict_proba(np.asarray(queries, dtype=np.float64))[:, 1]
    fit_pos = int(y[train].sum())
    return _balanced(p, fit_pos, train.size - fit_pos)
