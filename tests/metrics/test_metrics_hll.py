"""HyperLogLog against exact distinct counts: uniform hashes, heavy repeats and real vocabularies."""

from __future__ import annotations

import numpy as np
import pytest

from tailguard.metrics.hll import hll_add, hll_empty, hll_estimate, hll_merge, hll_relative_error
from tailguard.metrics.tokenize import encode_texts, mix64, ngram_hashes, tokenize

P = 14


def _hashes(kind: str) -> np.ndarray:
    rng = np.random.default_rng(11)
    if kind == "uniform":
        return mix64(rng.integers(0, 2**62, 120_000, dtype=np.uint64))
    if kind == "zipf":  # clustered: a few values repeated very often, a long tail of rare ones
        return mix64(rng.zipf(1.3, 300_000).astype(np.uint64))
    from tailguard.data.text import python_docs_sentences

    tok = tokenize(encode_texts(python_docs_sentences()))
    return ngram_hashes(tok, 1 if kind == "docs words" else 3)[0]


@pytest.mark.parametrize("kind", ["uniform", "zipf", "docs words", "docs 3-grams"])
def test_hll_estimate_within_three_standard_errors_of_exact(kind: str) -> None:
    h = _hashes(kind)
    exact = len(np.unique(h))
    est = hll_estimate(hll_add(hll_empty(P), h, P))
    assert abs(est / exact - 1) <= 3 * hll_relative_error(P), (kind, exact, est)


def test_hll_merge_is_the_sketch_of_the_union() -> None:
    h = _hashes("docs 3-grams")
    half = len(h) // 2
    merged = hll_merge(hll_add(hll_empty(P), h[:half], P), hll_add(hll_empty(P), h[half:], P))
    assert np.array_equal(merged, hll_add(hll_empty(P), h, P))
