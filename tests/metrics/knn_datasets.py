"""Two independent samples of one distribution, for Naeem et al.'s PRDC identities.

For two i.i.d. samples of N points from one continuous distribution, E[density] = 1 and
E[coverage] → 1 − 2^-k as N grows (Naeem et al. 2020). Each builder returns
``(reference, candidate)``, both float64, ``n`` rows each:

- ``isotropic``: N(0, I) in 64 dimensions (intrinsic dimension 64);
- ``clustered``: a 40-component Gaussian mixture in 64 dimensions (means N(0, 16 I), unit spread);
- ``digits``: scikit-learn's 1,797 8x8 digit images, rows drawn with replacement plus
  independent N(0, 1) pixel noise (pixels run 0..16): an i.i.d. sample of the noisy-digits
  distribution, so any n is available;
- ``minilm``: MiniLM embeddings (384-d, unit norm) of the distinct Python-docs sentences
  (2,115), drawn the same way, with N(0, 0.01² I) noise (nearest distinct sentences are 0.74 apart).

Used by ``tests/metrics/test_metrics_knn_accuracy.py`` and ``benchmarks/knn_accuracy.py``.
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

import numpy as np


def isotropic(n: int, seed: int = 0, d: int = 64) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng([seed, 1])
    return rng.normal(size=(n, d)), rng.normal(size=(n, d))


def clustered(n: int, seed: int = 0, d: int = 64, parts: int = 40) -> tuple[np.ndarray, np.ndarray]:
    means = np.random.default_rng(99).normal(scale=4.0, size=(parts, d))
    rng = np.random.default_rng([seed, 2])
    return tuple(means[rng.integers(0, parts, n)] + rng.normal(size=(n, d)) for _ in range(2))  # type: ignore[return-value]


def resampled(base: np.ndarray, n: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two i.i.d. samples of ``base``'s rows (with replacement) plus independent Gaussian noise."""
    rng = np.random.default_rng([seed, 3])
    return tuple(base[rng.integers(0, len(base), n)] + noise * rng.normal(size=(n, base.shape[1]))  # type: ignore[return-value]
                 for _ in range(2))


def digits(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    from tailguard.data import load_digits

    return resampled(load_digits().X.astype(np.float64), n, 1.0, seed)


def minilm_docs_embeddings() -> np.ndarray:
    """MiniLM embeddings of the distinct Python-docs sentences, cached in the temp folder."""
    from tailguard.data.text import python_docs_sentences

    sentences = sorted(set(python_docs_sentences()))
    key = hashlib.sha256("\n".join(sentences).encode()).hexdigest()[:16]
    path = Path(tempfile.gettempdir()) / f"tailguard-minilm-docs-{key}.npy"
    if path.exists():
        return np.load(path)
    from tailguard.features.minilm import MiniLMEmbedder

    emb = MiniLMEmbedder(batch_size=64).transform(sentences)
    tmp = path.with_suffix(".tmp.npy")
    np.save(tmp, emb)
    tmp.replace(path)
    return emb


def minilm(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    return resampled(minilm_docs_embeddings(), n, 0.01, seed)


BUILDERS = {"isotropic": isotropic, "clustered": clustered, "digits": digits, "minilm": minilm}
