"""The built-in tabular datasets are scikit-learn's real data, frozen and consistent."""

import numpy as np
import pytest
from sklearn import datasets

from tailguard.data import TABULAR_LOADERS, load_breast_cancer, load_digits, load_tabular, load_wine
from tailguard.errors import UnknownChoiceError


@pytest.mark.parametrize(
    ("loader", "sk_loader", "shape", "n_classes"),
    [
        (load_digits, datasets.load_digits, (1797, 64), 10),
        (load_wine, datasets.load_wine, (178, 13), 3),
        (load_breast_cancer, datasets.load_breast_cancer, (569, 30), 2),
    ],
)
def test_tabular_matches_sklearn(loader, sk_loader, shape, n_classes):
    data = loader()
    bunch = sk_loader()
    assert data.X.shape == shape
    assert data.y.shape == (shape[0],)
    np.testing.assert_array_equal(data.X, bunch.data)
    np.testing.assert_array_equal(data.y, bunch.target)
    assert len(data.target_names) == n_classes
    assert len(data.feature_names) == shape[1]
    assert set(np.unique(data.y).tolist()) == set(range(n_classes))
    assert np.isfinite(data.X).all()
    assert len(data) == shape[0]


def test_arrays_are_read_only():
    data = load_wine()
    with pytest.raises(ValueError):
        data.X[0, 0] = 1.0
    with pytest.raises(ValueError):
        data.y[0] = 1


def test_digits_images_are_the_flattened_pixels():
    digits = load_digits()
    assert digits.images.shape == (1797, 8, 8)
    np.testing.assert_array_equal(digits.images.reshape(len(digits), -1), digits.X)
    assert digits.X.min() == 0 and digits.X.max() == 16
    assert load_wine().images is None


def test_load_tabular_by_name_and_unknown_name():
    assert set(TABULAR_LOADERS) == {"digits", "wine", "breast_cancer"}
    assert load_tabular("wine").name == "wine"
    with pytest.raises(UnknownChoiceError, match="Did you mean 'wine'"):
        load_tabular("wien")
