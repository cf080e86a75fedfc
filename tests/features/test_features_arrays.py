"""Tabular and .npy features are used as they are, after validation with named errors."""

import numpy as np
import pytest

from tailguard.data import load_wine
from tailguard.errors import BadInputError, CorruptFileError, EmptyDatasetError, MissingInputError, NonFiniteValueError
from tailguard.features import as_feature_matrix, iter_npy_batches, load_npy


def test_valid_matrix_passes_unchanged():
    X = load_wine().X
    out = as_feature_matrix(X, name="wine")
    assert out is X or np.shares_memory(out, X)
    np.testing.assert_array_equal(out, X)
    assert as_feature_matrix([[1, 2]]).dtype == np.float64


def test_non_finite_names_input_row_and_column():
    X = np.ones((5, 3))
    X[3, 2] = np.nan
    X[4, 0] = np.inf
    with pytest.raises(NonFiniteValueError) as info:
        as_feature_matrix(X, name="emb.npy")
    assert str(info.value) == "emb.npy: non-finite value nan at row 3, column 2 (2 non-finite values in all)"


def test_dataframe_errors_name_the_column():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"alcohol": [1.0, 2.0], "ash": [np.inf, 1.0]})
    with pytest.raises(NonFiniteValueError, match=r"wine.csv: non-finite value inf at row 0, column 'ash'"):
        as_feature_matrix(frame, name="wine.csv")


def test_shape_and_emptiness_errors():
    with pytest.raises(EmptyDatasetError, match="x: holds no rows"):
        as_feature_matrix(np.zeros((0, 4)), name="x")
    with pytest.raises(EmptyDatasetError, match="no feature columns"):
        as_feature_matrix(np.zeros((3, 0)), name="x")
    with pytest.raises(BadInputError, match=r"2-D array .* got shape \(2, 2, 2\)"):
        as_feature_matrix(np.zeros((2, 2, 2)), name="x")
    with pytest.raises(BadInputError, match="must be numbers"):
        as_feature_matrix([["a", "b"]], name="x")


def test_npy_roundtrip_mmap_and_batches(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(1000, 8)).astype(np.float32)
    path = tmp_path / "emb.npy"
    np.save(path, X)
    np.testing.assert_array_equal(load_npy(path), X.astype(np.float64))
    mapped = load_npy(path, mmap=True)
    assert isinstance(mapped, np.memmap) and mapped.dtype == np.float32
    batches = list(iter_npy_batches(path, batch_size=300))
    assert [len(b) for b in batches] == [300, 300, 300, 100]
    np.testing.assert_array_equal(np.concatenate(batches), X.astype(np.float64))


def test_npy_errors_name_the_file(tmp_path):
    with pytest.raises(MissingInputError, match=r"nope\.npy"):
        load_npy(tmp_path / "nope.npy")
    broken = tmp_path / "broken.npy"
    broken.write_bytes(b"\x93NUMPY\x01\x00garbage")
    with pytest.raises(CorruptFileError, match=r"broken\.npy"):
        load_npy(broken)
    objects = tmp_path / "objects.npy"
    np.save(objects, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(CorruptFileError, match=r"objects\.npy: not a plain numeric"):
        load_npy(objects)  # never unpickled
    nan = tmp_path / "nan.npy"
    np.save(nan, np.array([[1.0, np.nan]]))
    with pytest.raises(NonFiniteValueError, match=r"nan\.npy: non-finite value nan at row 0, column 1"):
        load_npy(nan)
