"""Mergeable distinct-value stores split into hash strata, for same-N comparisons.

Documents are assigned to a *stratum* by the leading zero bits of their content
key: stratum ``s`` holds about ``2**-(s+1)`` of the documents. The union of the
strata ``>= L`` is then a seeded, order-independent subsample of about
``2**-L`` of the data, which is how a text metric evaluates the larger side at
the smaller side's token count (see :mod:`tailguard.metrics.text`).

A :class:`DistinctStore` keeps, per stratum, the exact set of 64-bit hashes it
has seen (optionally with counts) until the total passes ``max_exact``; then
sets switch to HyperLogLog registers (merge = register maximum) and counts keep
only the hashes below a threshold ``2**(64 - shift)`` (a hash-consistent
sample of types, so ratios over types stay unbiased). Every transition depends
only on the union of the data, so ``merge(A, B)`` equals the store of ``A ∪ B``.

>>> import numpy as np
>>> s = DistinctStore(n_strata=4, max_exact=10, p=8, counts=True)
>>> s.add(0, np.array([1, 2, 3], dtype=np.uint64), np.array([1, 1, 5]))
>>> s.add(2, np.array([3, 9], dtype=np.uint64), np.array([1, 1]))
>>> s.distinct(0), s.distinct(1), s.type_counts(0).tolist()
(4.0, 2.0, [1, 1, 6, 1])
"""

from __future__ import annotations

import numpy as np

from tailguard.metrics.hll import hll_add, hll_empty, hll_estimate
from tailguard.metrics.tokenize import unique_u64

_MIN_CONSOLIDATE = 1 << 16


def strata_of(keys: np.ndarray, n_strata: int) -> np.ndarray:
    """Stratum of each uint64 key: its number of leading zero bits, capped at ``n_strata - 1``."""
    bits = np.frexp(np.asarray(keys, dtype=np.uint64).astype(np.float64))[1].astype(np.int64)
    return np.minimum(64 - bits, n_strata - 1)


def _unique_sum(keys: np.ndarray, vals: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
    if vals is None:
        return unique_u64(keys), None
    order = np.argsort(keys, kind="stable")
    k = keys[order]
    first = np.ones(len(k), dtype=bool)
    first[1:] = k[1:] != k[:-1]
    starts = np.flatnonzero(first)
    if len(k) == 0:
        return k, np.zeros(0, np.int64)
    return k[starts], np.add.reduceat(np.asarray(vals, dtype=np.int64)[order], starts)


class DistinctStore:
    """Per-stratum distinct hashes (see the module docstring)."""

    def __init__(self, *, n_strata: int, max_exact: int, p: int, counts: bool):
        self.n_strata = n_strata
        self.max_exact = max_exact
        self.p = p
        self.counts = counts
        self.shift = 0
        self.hll: np.ndarray | None = None
        self.keys: list[np.ndarray] = [np.zeros(0, np.uint64) for _ in range(n_strata)]
        self.vals: list[np.ndarray] = [np.zeros(0, np.int64) for _ in range(n_strata)]
        self._pend_keys: list[list[np.ndarray]] = [[] for _ in range(n_strata)]
        self._pend_vals: list[list[np.ndarray]] = [[] for _ in range(n_strata)]
        self._pending = 0
        self._stored = 0

    # -- state -----------------------------------------------------------------
    @property
    def exact(self) -> bool:
        """True while every distinct hash is kept (no HyperLogLog, no type sampling)."""
        return self.hll is None

    @property
    def _keeps_keys(self) -> bool:
        return self.counts or self.hll is None

    def _threshold_filter(self, keys: np.ndarray) -> np.ndarray:
        if self.shift == 0:
            return np.ones(len(keys), dtype=bool)
        return keys < np.uint64(1 << (64 - self.shift))

    def add(self, stratum: int, keys: np.ndarray, vals: np.ndarray | None = None) -> None:
        """Add distinct ``keys`` (uint64) seen in ``stratum``, with their counts when ``counts``."""
        if self.hll is not None:
            hll_add(self.hll[stratum], keys, self.p)
        if not self._keeps_keys:
            return
        if self.counts:
            assert vals is not None
            keep = self._threshold_filter(keys)
            keys, vals = keys[keep], np.asarray(vals, dtype=np.int64)[keep]
            self._pend_vals[stratum].append(vals)
        self._pend_keys[stratum].append(keys)
        self._pending += len(keys)
        if self._pending >= max(self._stored, _MIN_CONSOLIDATE):
            self.consolidate()

    def consolidate(self) -> None:
        """Fold pending additions into the per-stratum sets and enforce the memory bound."""
        if self._pending:
            for s in range(self.n_strata):
                if not self._pend_keys[s]:
                    continue
                keys = np.concatenate([self.keys[s], *self._pend_keys[s]])
                vals = np.concatenate([self.vals[s], *self._pend_vals[s]]) if self.counts else None
                k, v = _unique_sum(keys, vals)
                self.keys[s] = k
                if v is not None:
                    self.vals[s] = v
                self._pend_keys[s] = []
                self._pend_vals[s] = []
            self._pending = 0
        self._stored = sum(len(k) for k in self.keys)
        if self._stored > self.max_exact:
            if self.hll is None:
                self.hll = np.stack([hll_add(hll_empty(self.p), k, self.p) for k in self.keys])
            if not self.counts:
                self.keys = [np.zeros(0, np.uint64) for _ in range(self.n_strata)]
                self._stored = 0
            else:
                while self._stored > self.max_exact:
                    self.shift += 1
                    for s in range(self.n_strata):
                        keep = self._threshold_filter(self.keys[s])
                        self.keys[s], self.vals[s] = self.keys[s][keep], self.vals[s][keep]
                    self._stored = sum(len(k) for k in self.keys)

    def merge(self, other: DistinctStore) -> None:
        """Fold ``other`` (same settings) into ``self``."""
        self.consolidate()
        other.consolidate()
        if self.hll is not None or other.hll is not None:
            mine = (
                self.hll
                if self.hll is not None
                else np.stack([hll_add(hll_empty(self.p), k, self.p) for k in self.keys])
            )
            theirs = (
                other.hll
                if other.hll is not None
                else np.stack([hll_add(hll_empty(self.p), k, self.p) for k in other.keys])
            )
            self.hll = np.maximum(mine, theirs)
            if not self.counts:
                self.keys = [np.zeros(0, np.uint64) for _ in range(self.n_strata)]
                self._stored = 0
                return
        self.shift = max(self.shift, other.shift)
        for s in range(self.n_strata):
            keep_a = self._threshold_filter(self.keys[s])
            keep_b = self._threshold_filter(other.keys[s])
            self.keys[s] = self.keys[s][keep_a]
            if self.counts:
                self.vals[s] = self.vals[s][keep_a]
                self._pend_vals[s].append(other.vals[s][keep_b])
            self._pend_keys[s].append(other.keys[s][keep_b])
            self._pending += int(keep_b.sum())
        self.consolidate()

    # -- queries over the union of strata >= level -------------------------------
    def distinct(self, level: int = 0) -> float:
        """Number of distinct hashes in strata ``>= level`` (exact, or a HyperLogLog estimate)."""
        self.consolidate()
        if self.hll is not None:
            return hll_estimate(np.max(self.hll[level:], axis=0))
        keys = np.concatenate(self.keys[level:])
        return float(len(unique_u64(keys)))

    def type_counts(self, level: int = 0) -> np.ndarray:
        """Counts per (sampled) type over strata ``>= level``; needs ``counts=True``."""
        self.consolidate()
        keys = np.concatenate(self.keys[level:])
        vals = np.concatenate(self.vals[level:])
        _, v = _unique_sum(keys, vals)
        assert v is not None
        return v

    def __getstate__(self) -> dict:
        self.consolidate()
        return self.__dict__.copy()
