"""The trigram model's features: leave-one-document-out equals refitting without the document."""

from __future__ import annotations

import numpy as np
import pytest

from tailguard.data import python_docs_paragraphs
from tailguard.scoring.lm import FEATURES, NgramLM


def test_leave_one_out_features_equal_a_model_fitted_without_the_document():
    docs = python_docs_paragraphs()[:80] + python_docs_paragraphs()[:3]  # three documents occur twice
    own = NgramLM.fit(docs).doc_features(docs, own=True)
    for i in (0, 5, 40, 81):
        rest = docs[:i] + docs[i + 1 :]
        alone = NgramLM.fit(rest).doc_features([docs[i]])[0]
        np.testing.assert_allclose(own[i], alone, rtol=1e-12, atol=1e-12)


def test_a_held_out_document_and_a_left_out_reference_document_read_alike():
    # the identity the scorer rests on: reference documents scored leaving themselves out are distributed like
    # new documents of the same corpus (here: two random halves; the means agree within sampling error)
    docs = python_docs_paragraphs()
    rng = np.random.default_rng(0)
    order = rng.permutation(len(docs))
    ref = [docs[i] for i in order[:600]]
    new = [docs[i] for i in order[600:1200]]
    lm = NgramLM.fit(ref)
    a, b = lm.doc_features(ref, own=True), lm.doc_features(new)
    for j, name in enumerate(FEATURES):
        se = np.sqrt(a[:, j].var() / len(a) + b[:, j].var() / len(b))
        assert abs(a[:, j].mean() - b[:, j].mean()) <= 4 * se + 1e-9, name
    # without leaving out, a reference document would find all of its own n-grams
    full = lm.doc_features(ref)
    assert full[:, FEATURES.index("seen_5gram_share")].mean() > 0.99


def test_documents_without_words_get_the_worst_case_and_shapes_hold():
    lm = NgramLM.fit(["the cat sat on the mat"])
    f = lm.doc_features(["", "...", "the cat"])
    assert f.shape == (3, len(FEATURES))
    assert f[0, FEATURES.index("oov_share")] == 1.0 and f[1, FEATURES.index("log_tokens")] == 0.0
    assert f[2, FEATURES.index("oov_share")] == 0.0
    assert np.isfinite(f).all()


def test_text_that_is_not_text_is_a_one_line_error():
    from tailguard.errors import TextFormatError

    with pytest.raises(TextFormatError, match="item 1"):
        NgramLM.fit(["fine", 3])
