"""MinHash (one permutation hashing with densification) against exact Jaccard similarities."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tailguard.metrics.minhash import MinHasher, jaccard_estimate
from tailguard.metrics.tokenize import encode_texts, ngram_hashes, tokenize


def _shingle_set(doc: str, k: int) -> set[int]:
    return set(ngram_hashes(tokenize(encode_texts([doc])), k)[0].tolist())


def _pairs(kind: str, rng: np.random.Generator) -> tuple[list[str], list[str]]:
    if kind == "docs":  # real paragraphs and copies with a random 0-60% of words replaced
        from tailguard.data.text import python_docs_paragraphs

        base = [p for p in python_docs_paragraphs() if len(p.split()) >= 20][:300]
    else:  # isotropic: random words from a large vocabulary; clustered: a 40-word vocabulary
        vocab = 40 if kind == "clustered" else 100_000
        base = [" ".join(f"w{w}" for w in rng.integers(0, vocab, rng.integers(20, 80))) for _ in range(300)]
    other = []
    for d in base:
        frac = rng.uniform(0, 0.6)
        other.append(" ".join(w if rng.random() >= frac else f"x{rng.integers(10**9)}" for w in d.split()))
    return base, other


@pytest.mark.parametrize("kind", ["isotropic", "clustered", "docs"])
def test_minhash_estimates_are_unbiased_with_the_classic_error(kind: str) -> None:
    rng = np.random.default_rng(12)
    base, other = _pairs(kind, rng)
    k, p = 3, 128
    exact = np.array([len(a & b) / len(a | b) for a, b in ((_shingle_set(x, k), _shingle_set(y, k)) for x, y in zip(base, other, strict=True))])
    mh = MinHasher(num_perm=p, shingle_size=k, seed=4)
    est = jaccard_estimate(mh.signatures(base)[0], mh.signatures(other)[0])
    # classic MinHash: each slot equal with probability J, so SE = sqrt(J(1-J)/p) per pair
    se = np.sqrt(exact * (1 - exact) / p)
    assert abs(est.mean() - exact.mean()) <= 4 * math.sqrt((se**2).sum()) / len(se) + 0.002
    assert np.sqrt(np.mean((est - exact) ** 2)) <= 1.3 * np.sqrt(np.mean(se**2))
