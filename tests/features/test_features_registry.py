"""The embedder registry builds every registered embedder by name, with validated params."""

import pickle
import sys

import numpy as np
import pytest

from tailguard.errors import ParameterError, UnknownChoiceError
from tailguard.features import EMBEDDERS, Embedder, get_embedder

SAMPLES = {"text": ["the cat sat", "a dog barked loudly"], "image": [np.zeros((8, 8), dtype=np.uint8)] * 2}


def test_registered_names():
    assert EMBEDDERS.names() == ["hashed", "minilm", "pixels", "yolo"]
    assert type(get_embedder()).__name__ == "HashedTextFeatures"


@pytest.mark.parametrize("name", ["hashed", "pixels"])
def test_conformance(name):
    emb = get_embedder(name)
    assert isinstance(emb, Embedder)
    X = emb.transform(SAMPLES[emb.modality])
    assert X.shape == (2, emb.dim) and np.isfinite(X).all()
    clone = pickle.loads(pickle.dumps(emb))
    assert clone.config_id == emb.config_id
    np.testing.assert_array_equal(clone.transform(SAMPLES[emb.modality]), X)


def test_minilm_builds_without_importing_torch():
    emb = get_embedder("minilm", batch_size=8)
    assert emb.dim == 384 and emb.modality == "text"
    if "torch" not in sys.modules:  # another test may have loaded it already
        assert "sentence_transformers" not in sys.modules


def test_bad_names_and_params():
    with pytest.raises(UnknownChoiceError, match="Did you mean 'pixels'"):
        get_embedder("pixel")
    with pytest.raises(ParameterError, match="'size' parameter of PixelFeatures"):
        get_embedder("pixels", size=0)
