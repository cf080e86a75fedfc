"""Real tabular human data from scikit-learn's bundled datasets (no downloads).

>>> digits = load_digits()
>>> digits.X.shape, digits.images.shape, digits.name
((1797, 64), (1797, 8, 8), 'digits')
>>> int(digits.X.max())
16
>>> load_wine().target_names
('class_0', 'class_1', 'class_2')
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np


def _frozen(array: np.ndarray) -> np.ndarray:
    array = np.ascontiguousarray(array)
    array.setflags(write=False)
    return array


@dataclass(frozen=True, eq=False)
class TabularData:
    """A small labelled table: ``X`` (n, d) float64, ``y`` (n,) int64, both read-only.

    ``images`` keeps the 8x8 pixel grids for ``digits`` (``X`` is them flattened) and is
    ``None`` for the other datasets.
    """

    X: np.ndarray
    y: np.ndarray
    feature_names: tuple[str, ...]
    target_names: tuple[str, ...]
    name: str
    images: np.ndarray | None = None

    @property
    def n_samples(self) -> int:
        return int(self.X.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.X.shape[1])

    def __len__(self) -> int:
        return self.n_samples

    def __repr__(self) -> str:
        return (
            f"TabularData(name={self.name!r}, n_samples={self.n_samples}, "
            f"n_features={self.n_features}, n_classes={len(self.target_names)})"
        )


def _from_bunch(bunch, name: str, *, images: bool = False) -> TabularData:
    return TabularData(
        X=_frozen(np.asarray(bunch.data, dtype=np.float64)),
        y=_frozen(np.asarray(bunch.target, dtype=np.int64)),
        feature_names=tuple(str(f) for f in bunch.feature_names),
        target_names=tuple(str(t) for t in bunch.target_names),
        name=name,
        images=_frozen(np.asarray(bunch.images, dtype=np.float64)) if images else None,
    )


@lru_cache(maxsize=1)
def load_digits() -> TabularData:
    """scikit-learn's 1,797 handwritten digits (UCI), 8x8 pixels with values 0..16, 10 classes."""
    from sklearn import datasets

    return _from_bunch(datasets.load_digits(), "digits", images=True)


@lru_cache(maxsize=1)
def load_wine() -> TabularData:
    """scikit-learn's wine recognition data: 178 wines, 13 chemical measurements, 3 cultivars."""
    from sklearn import datasets

    return _from_bunch(datasets.load_wine(), "wine")


@lru_cache(maxsize=1)
def load_breast_cancer() -> TabularData:
    """scikit-learn's Wisconsin breast cancer data: 569 tumours, 30 features, 2 classes."""
    from sklearn import datasets

    return _from_bunch(datasets.load_breast_cancer(), "breast_cancer")


TABULAR_LOADERS = {"digits": load_digits, "wine": load_wine, "breast_cancer": load_breast_cancer}
"""Name -> loader of every built-in tabular dataset."""


def load_tabular(name: str) -> TabularData:
    """Load a built-in tabular dataset by name (``digits``, ``wine`` or ``breast_cancer``).

    >>> load_tabular("breast_cancer").n_features
    30
    """
    from tailguard.errors import UnknownChoiceError

    try:
        loader = TABULAR_LOADERS[name]
    except KeyError:
        raise UnknownChoiceError("built-in dataset", name, TABULAR_LOADERS) from None
    return loader()
