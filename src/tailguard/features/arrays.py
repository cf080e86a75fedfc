"""Tabular and ``.npy`` features: numbers used as they are, after validation.

A feature matrix is 2-D (rows x features), has at least one row and holds only finite
numbers. Errors name the input and, for non-finite values, the first bad row and column.

>>> as_feature_matrix([[1.0, 2.0], [3.0, 4.0]]).shape
(2, 2)
>>> as_feature_matrix([[1.0, float("nan")]], name="wine.csv")
Traceback (most recent call last):
...
tailguard.errors.NonFiniteValueError: wine.csv: non-finite value nan at row 0, column 1 (1 non-finite value in all)
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tailguard.errors import BadInputError, CorruptFileError, EmptyDatasetError, MissingInputError, NonFiniteValueError

_CHUNK_ROWS = 65_536


def _column_label(columns: Sequence[Any] | None, col: int) -> str:
    if columns is not None and col < len(columns):
        return repr(str(columns[col]))
    return str(col)


def check_finite(matrix: np.ndarray, *, name: str = "input", columns: Sequence[Any] | None = None) -> None:
    """Raise :class:`NonFiniteValueError` naming the first NaN/inf cell; scans in row chunks
    so a memory-mapped matrix is never copied whole."""
    first: tuple[int, int] | None = None
    total = 0
    for start in range(0, matrix.shape[0], _CHUNK_ROWS):
        bad = ~np.isfinite(matrix[start : start + _CHUNK_ROWS])
        count = int(bad.sum())
        if count and first is None:
            r, c = np.argwhere(bad)[0]
            first = (start + int(r), int(c))
        total += count
    if first is not None:
        row, col = first
        plural = "value" if total == 1 else "values"
        raise NonFiniteValueError(
            f"non-finite value {matrix[row, col]} at row {row}, column {_column_label(columns, col)} "
            f"({total} non-finite {plural} in all)",
            path=name,
        )


def as_feature_matrix(data: Any, *, name: str = "input", dtype: Any = np.float64) -> np.ndarray:
    """Validate ``data`` (array-like or DataFrame) as a finite 2-D float matrix with >= 1 row.

    Column names of a DataFrame appear in error messages. Returns a float array
    (no copy when ``data`` already is one of ``dtype``).

    >>> as_feature_matrix([1.0, 2.0], name="x.npy")
    Traceback (most recent call last):
    ...
    tailguard.errors.BadInputError: x.npy: features must be a 2-D array (rows x features); got shape (2,)
    """
    columns = list(data.columns) if hasattr(data, "columns") else None
    try:
        matrix = np.asanyarray(data, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise BadInputError(f"features must be numbers ({exc})", path=name) from None
    if matrix.ndim != 2:
        raise BadInputError(f"features must be a 2-D array (rows x features); got shape {matrix.shape}", path=name)
    if matrix.shape[0] == 0:
        raise EmptyDatasetError("holds no rows; at least 1 is required", path=name)
    if matrix.shape[1] == 0:
        raise EmptyDatasetError("holds no feature columns; at least 1 is required", path=name)
    check_finite(matrix, name=name, columns=columns)
    return matrix


def _open_npy(path: str | Path, mmap: bool) -> np.ndarray:
    path = Path(path)
    if not path.is_file():
        raise MissingInputError("no such .npy file", path=path)
    try:
        return np.load(path, allow_pickle=False, mmap_mode="r" if mmap else None)
    except ValueError as exc:
        # object arrays need pickle, which is never used on user input
        raise CorruptFileError(f"not a plain numeric .npy array ({exc})", path=path) from None
    except (OSError, EOFError) as exc:
        raise CorruptFileError(f"cannot read .npy file ({exc})", path=path) from None


def load_npy(path: str | Path, *, mmap: bool = False) -> np.ndarray:
    """Load a user-supplied embedding matrix from ``.npy`` and validate it (no pickle, ever).

    With ``mmap=True`` the array stays memory-mapped (read-only) and keeps its dtype.
    """
    raw = _open_npy(path, mmap)
    if raw.dtype.kind not in "biuf":
        raise CorruptFileError(f"holds {raw.dtype} values, not numbers", path=path)
    return as_feature_matrix(raw, name=str(path), dtype=raw.dtype if mmap else np.float64)


def iter_npy_batches(path: str | Path, batch_size: int = 65_536) -> Iterator[np.ndarray]:
    """Stream a (possibly larger than memory) ``.npy`` matrix as validated float64 row batches."""
    if batch_size < 1:
        raise BadInputError(f"batch_size must be >= 1; got {batch_size}", path=path)
    matrix = load_npy(path, mmap=True)
    for start in range(0, matrix.shape[0], batch_size):
        yield np.asarray(matrix[start : start + batch_size], dtype=np.float64)
