"""Text features without a model: hashed word n-grams reduced by a seeded random projection.

The transform is stateless (no fitted vocabulary) and deterministic, so batches can be
featurised independently, on different machines, and concatenated: the rows equal those
of featurising everything at once. That is what lets audits stream and merge.

>>> feats = HashedTextFeatures(dim=32)
>>> X = feats.transform(["the cat sat on the mat", "a dog barked"])
>>> X.shape
(2, 32)
>>> bool(abs(float((X[0] ** 2).sum()) - 1.0) < 0.5)  # the projection roughly keeps unit norms
True
>>> (feats.transform(["a dog barked"]) == X[1]).all()
np.True_
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from typing import Any, ClassVar

import numpy as np

from tailguard.config import Configurable
from tailguard.errors import TextFormatError
from tailguard.validation import Bool, Custom, Int


def check_texts(texts: Iterable[Any], *, name: str = "texts") -> list[str]:
    """Return ``texts`` as a list of ``str``.

    ``bytes`` are decoded as UTF-8; anything else, or bytes that are not valid UTF-8, raises
    :class:`TextFormatError` naming the input and the item's index.

    >>> check_texts(["a", b"caf\\xc3\\xa9"])
    ['a', 'café']
    >>> check_texts(["ok", b"\\xff"], name="docs.jsonl")
    Traceback (most recent call last):
    ...
    tailguard.errors.TextFormatError: docs.jsonl: item 1: not valid UTF-8 (invalid start byte at byte 0)
    """
    if isinstance(texts, str | bytes):
        raise TextFormatError("expected a sequence of texts, got a single string", path=name)
    out: list[str] = []
    for i, text in enumerate(texts):
        if isinstance(text, str):
            out.append(text)
        elif isinstance(text, bytes | bytearray):
            try:
                out.append(bytes(text).decode("utf-8"))
            except UnicodeDecodeError as exc:
                raise TextFormatError(
                    f"item {i}: not valid UTF-8 ({exc.reason} at byte {exc.start})", path=name
                ) from None
        else:
            raise TextFormatError(f"item {i}: text must be str, got {type(text).__name__}", path=name)
    return out


def _ngram_range_ok(value: Any) -> bool:
    return (
        isinstance(value, tuple | list)
        and len(value) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) for v in value)
        and 1 <= value[0] <= value[1] <= 5
    )


@lru_cache(maxsize=8)
def _projection(n_hash_features: int, dim: int, seed: int):
    """The (dim x n_hash_features) sparse projection matrix; depends only on its arguments."""
    from scipy import sparse
    from sklearn.random_projection import SparseRandomProjection

    proj = SparseRandomProjection(n_components=dim, random_state=seed, dense_output=True)
    proj.fit(sparse.csr_matrix((1, n_hash_features)))
    return proj.components_.T.tocsr().astype(np.float64)


class HashedTextFeatures(Configurable):
    """Hashed word n-gram counts (L2-normalised) projected to ``dim`` dense features.

    Uses scikit-learn's ``HashingVectorizer`` (``n_hash_features`` buckets, no sign
    flipping) and ``SparseRandomProjection`` seeded by ``seed``.
    """

    modality: ClassVar[str] = "text"
    params = {
        "dim": Int(min=1, max=65_536),
        "ngram_range": Custom("a pair (min_n, max_n) of ints with 1 <= min_n <= max_n <= 5", _ngram_range_ok),
        "seed": Int(min=0),
        "n_hash_features": Int(min=16, max=2**24),
        "lowercase": Bool(),
    }
    defaults = {"dim": 256, "ngram_range": (1, 2), "seed": 0, "n_hash_features": 2**18, "lowercase": True}

    def __init__(
        self,
        dim: int = 256,
        ngram_range: tuple[int, int] = (1, 2),
        seed: int = 0,
        *,
        n_hash_features: int = 2**18,
        lowercase: bool = True,
    ):
        super().__init__(
            dim=dim, ngram_range=ngram_range, seed=seed, n_hash_features=n_hash_features, lowercase=lowercase
        )
        self._params["ngram_range"] = tuple(self._params["ngram_range"])

    @property
    def dim(self) -> int:
        return int(self._params["dim"])

    def hashed(self, texts: Iterable[Any], *, name: str = "texts"):
        """The sparse (n x n_hash_features) hashed n-gram matrix, before projection."""
        from sklearn.feature_extraction.text import HashingVectorizer

        p = self._params
        vectorizer = HashingVectorizer(
            n_features=p["n_hash_features"],
            ngram_range=p["ngram_range"],
            lowercase=p["lowercase"],
            alternate_sign=False,
            norm="l2",
        )
        return vectorizer.transform(check_texts(texts, name=name))

    def transform(self, texts: Iterable[Any], *, name: str = "texts") -> np.ndarray:
        """Featurise ``texts`` into an (n, dim) float64 array (n may be 0)."""
        p = self._params
        items = check_texts(texts, name=name)
        if not items:
            return np.zeros((0, p["dim"]), dtype=np.float64)
        hashed = self.hashed(items, name=name)
        out = hashed @ _projection(p["n_hash_features"], p["dim"], p["seed"])
        return np.asarray(out.toarray() if hasattr(out, "toarray") else out, dtype=np.float64)

    __call__ = transform
