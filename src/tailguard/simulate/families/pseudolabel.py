"""The ``pseudolabel`` family: a classifier that retrains on its own pseudo-labels.

The self-training loop of semi-supervised learning, on the real handwritten digits of
``sklearn.datasets.load_digits`` (via :func:`tailguard.data.tabular.load_digits`), in
seconds:

1. each seed splits the digits into a class-balanced human test set
   (``test_per_class`` images of every digit), a small human-labelled training set and an
   unlabelled reservoir (everything else). The training set and every unlabelled draw
   follow a long-tailed *data mix*: ``rare_classes`` seed-chosen digits share
   ``rare_share`` of the data, the other digits split the rest evenly;
2. model 0, a scikit-learn ``LogisticRegression`` (inverse regularisation ``C``), is fit
   on ``labelled_fraction`` × M human-labelled images (few labels, many unlabelled
   images: the usual self-training setting);
3. model n pseudo-labels a fresh draw of ``pool_factor`` × M unlabelled images from the
   reservoir and keeps the M it is most confident about, with its predicted labels: these
   are its samples;
4. the policy composes model n+1's training set (``replace``: only the latest
   pseudo-labels; ``accumulate`` and ``anchor:F`` keep human-labelled images).

Rows are ``[64 pixels (0..16), label, true label]``. The label is what the models train
on (the human label, or a model's pseudo-label); the true label is never used for
training, only to measure the pseudo-labels. ``features`` are the pixels and ``classes``
the labels, so an audit of a generation's samples compares pseudo-labelled images and
their labels with human-labelled ones.

Metrics (model n, on the balanced human test set):

- ``accuracy``: accuracy on the data mix (each digit's recall weighted by its share of
  the mix, which is the expected accuracy on data drawn like the training data);
- ``balanced_accuracy``: mean recall over all ten digits;
- ``rare_recall`` (tail): mean recall over the ``rare_classes`` rare digits;
- ``pseudo_rare_share_ratio`` (tail): the rare digits' share of model n's pseudo-labels
  over their share of the mix;
- ``pseudo_label_accuracy``: share of model n's pseudo-labels that are right.

The averages trap: under ``replace`` the rare digits' recall falls generation after
generation while ``accuracy`` barely moves, because the rare digits are a few percent of
the mix (tested in ``tests/simulate/test_simulate_pseudolabel.py``).

``setup`` keeps the seed's unlabelled reservoir on the family; the models ``fit`` builds
carry it, so ``sample`` needs only the model (the generation loop calls ``setup`` first).

>>> fam = PseudoLabelFamily()
>>> rng = np.random.default_rng(0)
>>> s = fam.setup(200, rng)
>>> s.train.shape, s.extra["test"].shape
((40, 66), (300, 66))
>>> fam.sample(fam.fit(s.train, rng), 200, rng).shape
(200, 66)
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from tailguard.errors import BadInputError, ParameterError
from tailguard.simulate.family import EvalContext, Family, MetricSpec, Setup, register_family
from tailguard.validation import Float, Int

N_CLASSES = 10
N_PIXELS = 64
LABEL, TRUTH = N_PIXELS, N_PIXELS + 1  # columns of a row


@lru_cache(maxsize=1)
def _digits() -> tuple[np.ndarray, np.ndarray]:
    from tailguard.data.tabular import load_digits

    d = load_digits()
    return np.asarray(d.X, dtype=float), np.asarray(d.y, dtype=np.int64)


def _rows(x: np.ndarray, label: np.ndarray, truth: np.ndarray) -> np.ndarray:
    return np.column_stack([x, label.astype(float), truth.astype(float)])


def _weighted_draw(classes: np.ndarray, mix: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of ``size`` distinct rows drawn with probability ∝ their class's share of ``mix``."""
    p = mix[classes]
    return rng.choice(len(classes), size=size, replace=False, p=p / p.sum())


@dataclass(frozen=True)
class Reservoir:
    """One seed's unlabelled images (``rows``, true labels included) and its data mix."""

    rows: np.ndarray
    mix: np.ndarray


@dataclass(frozen=True)
class PseudoLabelModel:
    """A fitted classifier (``None`` when it saw one class only: it predicts ``classes[0]``)."""

    classifier: Any
    classes: np.ndarray
    reservoir: Reservoir

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """(n, 10) class probabilities (zero for the digits it never saw)."""
        out = np.zeros((len(x), N_CLASSES))
        if self.classifier is None:
            out[:, int(self.classes[0])] = 1.0
        else:
            out[:, self.classes] = self.classifier.predict_proba(x / 16.0)
        return out


@register_family
class PseudoLabelFamily(Family):
    """Logistic-regression self-training on its own pseudo-labels of real digits."""

    name = "pseudolabel"
    params = {
        "labelled_fraction": Float(min=0.0, max=1.0, min_open=True),
        "pool_factor": Float(min=1.0),
        "rare_classes": Int(min=1, max=N_CLASSES - 1),
        "rare_share": Float(min=0.0, max=1.0, min_open=True, max_open=True),
        "test_per_class": Int(min=5, max=150),
        "C": Float(min=0.0, min_open=True),
    }
    defaults = {
        "labelled_fraction": 0.2,
        "pool_factor": 1.0,
        "rare_classes": 3,
        "rare_share": 0.06,
        "test_per_class": 30,
        "C": 10.0,
    }
    metrics = (
        MetricSpec("accuracy", True, description="accuracy on the data mix (held-out human digits)"),
        MetricSpec("balanced_accuracy", True, description="mean recall over all ten digits"),
        MetricSpec("rare_recall", True, tail=True, description="mean recall of the rare digits"),
        MetricSpec(
            "pseudo_rare_share_ratio",
            True,
            tail=True,
            description="rare digits' share of the model's pseudo-labels / their share of the data mix",
        ),
        MetricSpec("pseudo_label_accuracy", True, description="share of the model's pseudo-labels that are right"),
    )
    sample_kind = "labels"

    def warm_up(self) -> None:
        _digits()

    @property
    def reservoir(self) -> Reservoir:
        """The unlabelled images of the seed ``setup`` last split (BadInputError before any)."""
        reservoir = self.__dict__.get("_reservoir")
        if reservoir is None:
            raise BadInputError("pseudolabel: call setup() before fit(); the models draw from the seed's reservoir")
        return reservoir

    def _mix(self, rare: np.ndarray) -> np.ndarray:
        k, share = self._params["rare_classes"], self._params["rare_share"]
        mix = np.full(N_CLASSES, (1.0 - share) / (N_CLASSES - k))
        mix[rare] = share / k
        return mix

    def setup(self, sample_size: int, rng: np.random.Generator) -> Setup:
        x, y = _digits()
        rare = np.sort(rng.permutation(N_CLASSES)[: self._params["rare_classes"]])
        mix = self._mix(rare)
        per_class = self._params["test_per_class"]
        test_idx, rest_idx = [], []
        for c in range(N_CLASSES):
            members = rng.permutation(np.flatnonzero(y == c))
            test_idx.append(members[:per_class])
            rest_idx.append(members[per_class:])
        test, rest = np.concatenate(test_idx), np.concatenate(rest_idx)
        n_labelled = max(1, round(self._params["labelled_fraction"] * sample_size))
        n_draw = math.ceil(self._params["pool_factor"] * sample_size)
        if n_labelled + n_draw > len(rest):
            raise ParameterError(
                f"The 'sample_size' parameter of pseudolabel must leave room for {n_draw} unlabelled "
                f"images a generation (pool_factor × sample_size) beside {n_labelled} labelled ones; "
                f"{len(rest)} digits are not in the test set. Got {sample_size}."
            )
        pick = rest[_weighted_draw(y[rest], mix, n_labelled, rng)]
        unlabelled = np.setdiff1d(rest, pick)
        unlabelled = unlabelled[rng.permutation(len(unlabelled))]
        # the audit's reference: the test digits thinned to the data mix (all of the commonest)
        keep = np.concatenate([
            rng.permutation(t)[: max(1, round(len(t) * mix[c] / mix.max()))] for c, t in enumerate(test_idx)
        ])
        n_fresh = min(len(unlabelled), 2 * sample_size)
        fresh = unlabelled[_weighted_draw(y[unlabelled], mix, n_fresh, rng)]
        self._reservoir = Reservoir(_rows(x[unlabelled], y[unlabelled], y[unlabelled]), mix)
        return Setup(
            train=_rows(x[pick], y[pick], y[pick]),
            heldout=_rows(x[keep], y[keep], y[keep]),
            fresh=_rows(x[fresh], y[fresh], y[fresh]),
            extra={"test": _rows(x[test], y[test], y[test]), "rare": rare, "mix": mix},
        )

    def fit(self, data: np.ndarray, rng: np.random.Generator) -> PseudoLabelModel:
        from sklearn.linear_model import LogisticRegression

        reservoir = self.reservoir
        data = np.asarray(data, dtype=float)
        x, label = data[:, :N_PIXELS], data[:, LABEL].astype(np.int64)
        classes = np.unique(label)
        if len(classes) < 2:
            return PseudoLabelModel(None, classes, reservoir)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # lbfgs convergence notes on tiny sets
            clf = LogisticRegression(C=self._params["C"], max_iter=300).fit(x / 16.0, label)
        return PseudoLabelModel(clf, np.asarray(clf.classes_, dtype=np.int64), reservoir)

    def sample(self, model: PseudoLabelModel, n: int, rng: np.random.Generator) -> np.ndarray:
        pool = model.reservoir.rows
        n_draw = min(len(pool), math.ceil(self._params["pool_factor"] * n))
        if n > n_draw:
            raise BadInputError(f"pseudolabel: {n} pseudo-labels asked for, the reservoir holds {len(pool)} images")
        drawn = pool[_weighted_draw(pool[:, TRUTH].astype(np.int64), model.reservoir.mix, n_draw, rng)]
        proba = model.predict_proba(drawn[:, :N_PIXELS])
        confident = np.sort(np.argsort(-proba.max(axis=1), kind="stable")[:n])
        out = drawn[confident].copy()
        out[:, LABEL] = proba[confident].argmax(axis=1)
        return out

    def evaluate(self, model: PseudoLabelModel, samples: np.ndarray, ctx: EvalContext) -> dict[str, float]:
        test = ctx.setup.extra["test"]
        rare, mix = ctx.setup.extra["rare"], ctx.setup.extra["mix"]
        truth = test[:, TRUTH].astype(np.int64)
        predicted = model.predict_proba(test[:, :N_PIXELS]).argmax(axis=1)
        recall = np.array([np.mean(predicted[truth == c] == c) for c in range(N_CLASSES)])
        labels = np.asarray(samples)[:, LABEL].astype(np.int64)
        rare_share = float(np.isin(labels, rare).mean()) if len(labels) else math.nan
        return {
            "accuracy": float(np.dot(mix, recall)),
            "balanced_accuracy": float(recall.mean()),
            "rare_recall": float(recall[rare].mean()),
            "pseudo_rare_share_ratio": rare_share / float(mix[rare].sum()),
            "pseudo_label_accuracy": float(np.mean(labels == np.asarray(samples)[:, TRUTH])) if len(labels) else math.nan,
        }

    def features(self, data: np.ndarray) -> np.ndarray:
        return np.asarray(data, dtype=float)[:, :N_PIXELS]

    def classes(self, data: np.ndarray) -> np.ndarray:
        return np.asarray(data)[:, LABEL].astype(np.int64)
