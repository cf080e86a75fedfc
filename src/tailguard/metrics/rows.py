"""Validated 2-D batches and a seeded, mergeable store of rows.

Vector metrics (tails, fidelity, diversity, drift) need the rows themselves
(k-NN radii, kernels, quantiles), so they keep them in a :class:`RowStore`.
Each row gets a 64-bit key from a seeded hash of its values. When the store is
capped (``cap``), it keeps the ``cap`` rows with the smallest keys (a bottom-k
sample), which is the same set whatever the batch order or partitioning, so
``merge(A, B)`` equals ``update(A ∪ B)`` exactly. ``rows()`` returns the rows
sorted by key: a canonical order that makes bootstraps and permutations
order-independent, and whose first ``m`` rows are a seeded uniform sample of
size ``m`` (used to bring two sides to the same N).

>>> import numpy as np
>>> a, b = np.arange(12.0).reshape(6, 2), np.arange(12.0, 20.0).reshape(4, 2)
>>> s1 = RowStore(cap=5, seed=0); s1.add(np.vstack([a, b]))
>>> s2 = RowStore(cap=5, seed=0); s2.add(b); s3 = RowStore(cap=5, seed=0); s3.add(a)
>>> s2.merge(s3)
>>> bool(np.array_equal(s1.rows(), s2.rows())), s1.n_seen, len(s1.rows())
(True, 10, 5)

A store told how many rows to expect (``expected_rows``, a streamed candidate's N) drops
at once every row whose key is above :func:`key_limit`: the bottom ``cap`` of N uniform keys lie
below ``cap / N`` of the key range, so a shard of a large stream keeps about
``2 cap x shard / N`` rows instead of ``cap``, and its state stays small on the way back to the
driver. The sample is still exact: the bottom ``cap`` of everything seen are all below the
limit whenever at least ``cap`` rows were, which ``rows()`` checks (``SampleShortfallError``
otherwise; for N rows expected it fails with probability below ``exp(-cap / 6)``).

>>> x = np.random.default_rng(0).normal(size=(10_000, 3))
>>> full = RowStore(cap=100, seed=0); full.add(x)
>>> lean = RowStore(cap=100, seed=0, expected_rows=10_000)
>>> for part in np.array_split(x, 10): lean.add(part)
>>> bool(np.array_equal(full.rows(), lean.rows())), len(lean._chunks[0]) < 300
(True, True)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tailguard.errors import (
    BadInputError,
    EmptyDatasetError,
    IncompatibleMergeError,
    NonFiniteValueError,
    SampleShortfallError,
)

_MASK = np.uint64(0xFFFFFFFFFFFFFFFF)
#: How many times the expected share of keys a pruned store keeps: twice the cap's share.
PRUNE_MARGIN = 2.0


def key_limit(cap: int | None, expected_rows: int | None) -> int | None:
    """The key below which the bottom ``cap`` of ``expected_rows`` uniform 64-bit keys lie with
    overwhelming probability (:data:`PRUNE_MARGIN` times their share of the range); None when
    nothing can be dropped (no cap, no expectation, or too few rows for it to matter).

    >>> key_limit(100, 10_000) == int(2**64 * 0.02)
    True
    >>> key_limit(100, 150) is None
    True
    """
    if cap is None or expected_rows is None or expected_rows <= PRUNE_MARGIN * cap:
        return None
    return int(2**64 * PRUNE_MARGIN * cap / expected_rows)


def as_vectors(batch: Any, *, what: str = "batch", dim: int | None = None) -> np.ndarray:
    """Check that ``batch`` is a finite 2-D numeric array and return it as float32/float64.

    float32 input stays float32 (halves memory for embeddings); anything else
    becomes float64. ``what`` names the input in error messages.

    >>> as_vectors([[1, 2], [3, 4]]).dtype
    dtype('float64')
    >>> as_vectors([1.0, 2.0], what="candidate batch")
    Traceback (most recent call last):
    ...
    tailguard.errors.BadInputError: candidate batch must be a 2-D array (rows x features); got shape (2,)
    """
    try:
        arr = np.asarray(batch)
    except (TypeError, ValueError) as exc:
        raise BadInputError(f"{what} is not an array of numbers ({exc})") from None
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise BadInputError(f"{what} must hold numbers; got dtype {arr.dtype}")
    if np.issubdtype(arr.dtype, np.complexfloating):
        raise BadInputError(f"{what} must hold real numbers; got dtype {arr.dtype}")
    if arr.ndim != 2:
        raise BadInputError(f"{what} must be a 2-D array (rows x features); got shape {arr.shape}")
    if arr.shape[1] == 0:
        raise BadInputError(f"{what} has no feature columns; got shape {arr.shape}")
    if dim is not None and arr.shape[1] != dim:
        raise BadInputError(f"{what} has {arr.shape[1]} feature columns but earlier batches had {dim}")
    arr = arr if arr.dtype in (np.float32, np.float64) else arr.astype(np.float64)
    finite = np.isfinite(arr)
    if not finite.all():
        row, col = np.argwhere(~finite)[0]
        raise NonFiniteValueError(f"{what} has a non-finite value ({arr[row, col]}) at row {row}, column {col}")
    return arr


def row_keys(x: np.ndarray, seed: int) -> np.ndarray:
    """Seeded 64-bit keys of the rows of ``x`` (equal rows get equal keys).

    Values are hashed as float64 bit patterns, so float32 and float64 copies of
    the same data get the same keys.

    >>> import numpy as np
    >>> k = row_keys(np.array([[1.0, 2.0], [1.0, 2.0], [2.0, 1.0]]), seed=3)
    >>> bool(k[0] == k[1]), bool(k[0] == k[2])
    (True, False)
    """
    rng = np.random.default_rng([seed, 0x5EED])
    mult = rng.integers(1, 2**63, size=x.shape[1], dtype=np.uint64) * np.uint64(2) + np.uint64(1)
    out = np.empty(x.shape[0], dtype=np.uint64)
    step = max(1, 2**22 // max(1, x.shape[1]))
    with np.errstate(over="ignore"):
        for lo in range(0, x.shape[0], step):
            a = x[lo : lo + step].astype(np.float64)  # a copy, changed in place below
            np.add(a, 0.0, out=a)  # folds -0.0 into 0.0
            h = np.einsum("ij,j->i", a.view(np.uint64), mult)  # wraps mod 2**64, no temporaries
            # splitmix64 finaliser
            h ^= h >> np.uint64(30)
            h *= np.uint64(0xBF58476D1CE4E5B9)
            h ^= h >> np.uint64(27)
            h *= np.uint64(0x94D049BB133111EB)
            h ^= h >> np.uint64(31)
            out[lo : lo + step] = h & _MASK
    return out


class RowStore:
    """Rows seen so far (all of them, or a bottom-k hash sample when ``cap`` is set)."""

    def __init__(self, cap: int | None, seed: int, expected_rows: int | None = None):
        self.cap = cap
        self.seed = seed
        self.key_limit = key_limit(cap, expected_rows)
        self.expected_rows = expected_rows
        self.n_seen = 0
        self.dim: int | None = None
        self._chunks: list[np.ndarray] = []
        self._keys: list[np.ndarray] = []
        self._sorted: tuple[np.ndarray, np.ndarray] | None = None
        self._completed = False  # pruned to the cap once every expected row had come

    def __len__(self) -> int:
        return sum(len(c) for c in self._chunks)

    def add(self, x: np.ndarray) -> None:
        """Add validated rows (see :func:`as_vectors`)."""
        if len(x) == 0:
            return
        if self.dim is None:
            self.dim = x.shape[1]
        keys = row_keys(x, self.seed)
        self.n_seen += len(x)
        if self.key_limit is not None:  # rows no final sample can hold: dropped before they are kept
            low = keys < np.uint64(self.key_limit)
            x, keys = x[low], keys[low]
        if self.cap is not None and not x.flags.owndata:
            x = x.copy()  # a bounded sample must not keep the caller's whole array alive through a view
        self._chunks.append(x)
        self._keys.append(keys)
        self._sorted = None
        self._maybe_prune()

    def merge(self, other: RowStore) -> None:
        if other.dim is not None and self.dim is not None and other.dim != self.dim:
            raise IncompatibleMergeError(f"cannot merge accumulators over {self.dim} and {other.dim} feature columns")
        if other.key_limit != self.key_limit:
            raise IncompatibleMergeError("cannot merge row samples pruned at different hash limits "
                                         "(accumulators made with different expected_rows)")
        if self.dim is None:
            self.dim = other.dim
        self._chunks.extend(other._chunks)
        self._keys.extend(other._keys)
        self.n_seen += other.n_seen
        self._sorted = None
        self._maybe_prune()

    def _maybe_prune(self) -> None:
        if self.cap is None:
            return
        # Once every expected row has come the sample is final: cut it to the cap at once rather than
        # carry up to twice the cap until result() (a streamed reference held in the driver, a merged side).
        complete = self.expected_rows is not None and self.n_seen >= self.expected_rows
        if len(self) > 2 * self.cap or (complete and len(self) > self.cap and not self._completed):
            x, k = self._consolidate()
            self._chunks, self._keys = [x], [k]
            self._completed = self._completed or complete

    def _consolidate(self) -> tuple[np.ndarray, np.ndarray]:
        """All kept rows sorted by key (bottom ``cap`` when capped), built chunk by chunk to bound memory."""
        keys = np.concatenate(self._keys) if self._keys else np.empty(0, np.uint64)
        order = np.argsort(keys, kind="stable")
        if self.cap is not None and len(order) > self.cap:
            order = order[: self.cap]
        dtype = np.result_type(*[c.dtype for c in self._chunks]) if self._chunks else np.float64
        out = np.empty((len(order), self.dim or 0), dtype=dtype)
        position = np.full(len(keys), -1, dtype=np.int64)
        position[order] = np.arange(len(order))
        offset = 0
        chunks, self._chunks = self._chunks, []
        while chunks:
            c = chunks.pop(0)
            pos = position[offset : offset + len(c)]
            keep = pos >= 0
            out[pos[keep]] = c[keep]
            offset += len(c)
            del c
        self._chunks = [out]
        self._keys = [keys[order]]
        return out, self._keys[0]

    def rows(self) -> np.ndarray:
        """The kept rows in canonical (key) order: the final sample, checked to be exact when the
        store was pruned (:class:`SampleShortfallError` when fewer rows came than expected)."""
        rows = self._kept()
        if self.key_limit is not None and self.cap is not None and len(rows) < min(self.cap, self.n_seen):
            raise SampleShortfallError(
                f"a row sample pruned for an expected row count kept {len(rows):,} of {self.n_seen:,} rows, "
                f"fewer than its {self.cap:,}: fewer rows came than expected, so it would not be exact; "
                "audit without the expected row count (or with the true one)")
        return rows

    def _kept(self) -> np.ndarray:
        if self._sorted is None:
            self._sorted = self._consolidate()
        view = self._sorted[0].view()
        view.flags.writeable = False  # metrics may share a store: none may change the rows in place
        return view

    def require(self, what: str) -> np.ndarray:
        """``rows()``, or :class:`EmptyDatasetError` naming ``what`` when there are none."""
        if self.n_seen == 0:
            raise EmptyDatasetError(f"the {what} is empty: feed it with update() before result()")
        return self.rows()

    def __getstate__(self) -> dict[str, Any]:
        rows = self._kept() if self._chunks else None
        state = self.__dict__.copy()
        state["_chunks"] = [rows] if rows is not None else []
        state["_keys"] = [self._sorted[1]] if rows is not None and self._sorted is not None else []
        state["_sorted"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
