"""The embedder registry: samples -> (n, d) float arrays, by name.

- ``hashed`` (default for text): :class:`~tailguard.features.text.HashedTextFeatures`;
- ``minilm`` (text, needs the ``lm`` extra): :class:`~tailguard.features.minilm.MiniLMEmbedder`;
- ``pixels`` (images): :class:`~tailguard.features.images.PixelFeatures`.

Every embedder is a :class:`~tailguard.config.Configurable` with ``modality``, ``dim`` and
``transform(items) -> np.ndarray``; its ``config_id`` identifies the features in results.

>>> get_embedder("hashed", dim=64).transform(["hello world"]).shape
(1, 64)
>>> get_embedder("minilm").dim
384
>>> get_embedder("hashd")
Traceback (most recent call last):
...
tailguard.errors.UnknownChoiceError: Unknown embedder 'hashd'. Did you mean 'hashed'? Valid choices: hashed, minilm, pixels.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np

from tailguard.features.images import PixelFeatures
from tailguard.features.minilm import MiniLMEmbedder
from tailguard.features.text import HashedTextFeatures
from tailguard.registry import Registry
from tailguard.validation import validate_params

DEFAULT_TEXT_EMBEDDER = "hashed"
DEFAULT_IMAGE_EMBEDDER = "pixels"


@runtime_checkable
class Embedder(Protocol):
    """What every registered embedder provides."""

    modality: str

    @property
    def dim(self) -> int: ...

    @property
    def config_id(self) -> str: ...

    def transform(self, items: Any, *, name: str = ...) -> np.ndarray: ...


EMBEDDERS: Registry[type] = Registry("embedder")
EMBEDDERS.register("hashed")(HashedTextFeatures)
EMBEDDERS.register("minilm")(MiniLMEmbedder)
EMBEDDERS.register("pixels")(PixelFeatures)


def get_embedder(name: str = DEFAULT_TEXT_EMBEDDER, **params: Any) -> Embedder:
    """Build the embedder registered as ``name`` with ``params`` (validated by its table;
    unknown keys get did-you-mean suggestions)."""
    cls = EMBEDDERS.get(name)
    validate_params(cls.__name__, params, cls.params)
    return cls(**params)
