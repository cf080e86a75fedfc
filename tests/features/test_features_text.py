"""Hashed n-gram text features: deterministic, stateless (batch-independent), faithful projection."""

import pickle

import numpy as np
import pytest
from sklearn.feature_extraction.text import HashingVectorizer

from tailguard.data import python_docs_paragraphs
from tailguard.errors import ParameterError, TextFormatError, UnknownChoiceError
from tailguard.features import HashedTextFeatures, check_texts, get_embedder


@pytest.fixture(scope="module")
def paragraphs():
    return python_docs_paragraphs()[:400]


def test_batches_featurised_separately_equal_one_pass(paragraphs):
    feats = HashedTextFeatures()
    whole = feats.transform(paragraphs)
    parts = np.concatenate([HashedTextFeatures().transform(paragraphs[i : i + 37]) for i in range(0, 400, 37)])
    assert whole.shape == (400, 256)
    np.testing.assert_array_equal(whole, parts)
    # a pickled copy (as sent to a worker) gives the same rows
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(feats)).transform(paragraphs[:5]), whole[:5])


def test_seed_and_config_id(paragraphs):
    a = HashedTextFeatures(seed=0).transform(paragraphs[:20])
    b = HashedTextFeatures(seed=1).transform(paragraphs[:20])
    assert not np.allclose(a, b)
    assert HashedTextFeatures(seed=0).config_id == HashedTextFeatures().config_id
    assert HashedTextFeatures(seed=1).config_id != HashedTextFeatures().config_id


def test_projection_preserves_cosine_similarity(paragraphs):
    """Johnson–Lindenstrauss: inner products of unit vectors survive with error ~ sqrt(2/dim)."""
    texts = paragraphs[:150]
    hashed = HashingVectorizer(n_features=2**18, ngram_range=(1, 2), alternate_sign=False, norm="l2").transform(texts)
    exact = (hashed @ hashed.T).toarray()
    X = HashedTextFeatures(dim=512).transform(texts)
    approx = X @ X.T
    iu = np.triu_indices(len(texts), 1)
    err = np.abs(exact[iu] - approx[iu])
    assert err.mean() < 0.08  # sqrt(2/512) ~ 0.06 for the worst case cos = 1
    assert np.corrcoef(exact[iu], approx[iu])[0, 1] > 0.7


def test_near_duplicates_are_closer_than_unrelated_text(paragraphs):
    base = paragraphs[10]
    edited = base.replace(" the ", " a ", 1) + " Indeed."
    X = HashedTextFeatures().transform([base, edited, paragraphs[200]])
    d_dup = np.linalg.norm(X[0] - X[1])
    d_other = np.linalg.norm(X[0] - X[2])
    assert d_dup < 0.5 * d_other


def test_empty_input_and_bad_text():
    assert HashedTextFeatures(dim=8).transform([]).shape == (0, 8)
    assert check_texts([b"caf\xc3\xa9"]) == ["café"]
    with pytest.raises(TextFormatError, match=r"^corpus: item 2: not valid UTF-8"):
        HashedTextFeatures().transform(["a", "b", b"\xff\xfe"], name="corpus")
    with pytest.raises(TextFormatError, match="item 0: text must be str, got int"):
        HashedTextFeatures().transform([3])
    with pytest.raises(TextFormatError, match="single string"):
        HashedTextFeatures().transform("not a list")


def test_parameters_are_validated():
    with pytest.raises(
        ParameterError, match=r"The 'dim' parameter of HashedTextFeatures must be an int >= 1 and <= 65536\. Got 0\."
    ):
        HashedTextFeatures(dim=0)
    with pytest.raises(ParameterError, match="'ngram_range' parameter"):
        HashedTextFeatures(ngram_range=(2, 1))
    with pytest.raises(UnknownChoiceError, match="Did you mean 'lowercase'"):
        get_embedder("hashed", lowercas=True)
