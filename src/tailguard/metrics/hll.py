"""A small numpy HyperLogLog over pre-hashed 64-bit values (Flajolet et al. 2007).

Registers are a ``uint8`` array of ``2**p`` slots; the top ``p`` bits of a hash
pick the slot and the rank of the first set bit of the rest is kept as a
maximum. Merging two sketches is the element-wise maximum of their registers,
so merge(A, B) equals the sketch of A ∪ B exactly. The standard error of the
estimate is about ``1.04 / sqrt(2**p)`` (0.8% at p = 14); small cardinalities
use linear counting.

>>> import numpy as np
>>> from tailguard.metrics.tokenize import mix64
>>> h = mix64(np.arange(50_000, dtype=np.uint64))
>>> reg = hll_add(hll_empty(14), h, 14)
>>> abs(hll_estimate(reg) / 50_000 - 1) < 0.03
True
"""

from __future__ import annotations

import math

import numpy as np


def hll_empty(p: int) -> np.ndarray:
    """Registers of an empty sketch with ``2**p`` slots."""
    return np.zeros(1 << p, dtype=np.uint8)


def hll_add(registers: np.ndarray, hashes: np.ndarray, p: int) -> np.ndarray:
    """Fold uint64 ``hashes`` into ``registers`` (in place); returns ``registers``."""
    hashes = np.asarray(hashes, dtype=np.uint64)
    if hashes.size == 0:
        return registers
    idx = (hashes >> np.uint64(64 - p)).astype(np.intp)
    rest = hashes & np.uint64((1 << (64 - p)) - 1)
    # bit length of ``rest`` (< 2**(64-p) <= 2**60, exact enough through frexp for p >= 11;
    # for smaller p the low bits lost to float rounding never change the bit length)
    bits = np.frexp(rest.astype(np.float64))[1].astype(np.int64)
    rank = ((64 - p) - bits + 1).astype(np.uint8)
    np.maximum.at(registers, idx, rank)
    return registers


def hll_merge(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The sketch of the union: element-wise maximum."""
    return np.maximum(a, b)


def hll_estimate(registers: np.ndarray) -> float:
    """Cardinality estimate with the linear-counting correction for small sets."""
    m = registers.size
    alpha = 0.7213 / (1 + 1.079 / m)
    est = alpha * m * m / float(np.sum(np.ldexp(1.0, -registers.astype(np.int64))))
    zeros = int(np.count_nonzero(registers == 0))
    if est <= 2.5 * m and zeros:
        return m * math.log(m / zeros)
    return est


def hll_relative_error(p: int) -> float:
    """The standard error of the estimate relative to the true cardinality."""
    return 1.04 / math.sqrt(1 << p)
