"""The embedder registry: samples -> (n, d) float arrays, by name.

- ``hashed`` (default for text): :class:`~tailguard.features.text.HashedTextFeatures`;
- ``minilm`` (text, needs the ``lm`` extra): :class:`~tailguard.features.minilm.MiniLMEmbedder`;
- ``pixels`` (images): :class:`~tailguard.features.images.PixelFeatures`;
- ``yolo`` (images, needs the ``yolo`` extra): backbone features of the user's YOLO checkpoint,
  ``tailguard.integrations.ultralytics.embed.YoloEmbedder`` (registered lazily).

Every embedder is a :class:`~tailguard.config.Configurable` with ``modality``, ``dim`` and
``transform(items) -> np.ndarray``; its ``config_id`` identifies the features in results.

>>> get_embedder("hashed", dim=64).transform(["hello world"]).shape
(1, 64)
>>> get_embedder("minilm").dim
384
>>> get_embedder("hashd")
Traceback (most recent call last):
...
tailguard.errors.UnknownChoiceError: Unknown embedder 'hashd'. Did you mean 'hashed'? Valid choices: hashed, minilm, pixels, yolo.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np

from tailguard.errors import UnknownChoiceError
from tailguard.features.images import PixelFeatures
from tailguard.features.minilm import MiniLMEmbedder
from tailguard.features.text import HashedTextFeatures
from tailguard.registry import Registry

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


EMBEDDERS: Registry[type] = Registry("embedder", entry_point_group="tailguard.embedders")
EMBEDDERS.register("hashed")(HashedTextFeatures)
EMBEDDERS.register("minilm")(MiniLMEmbedder)
EMBEDDERS.register("pixels")(PixelFeatures)
# the user's own YOLO checkpoint as an image embedder (needs the yolo extra; imported on first use)
EMBEDDERS.register_lazy("yolo", "tailguard.integrations.ultralytics.embed")


def get_embedder(name: str = DEFAULT_TEXT_EMBEDDER, **params: Any) -> Embedder:
    """Build the embedder registered as ``name`` with ``params`` (validated by its table;
    unknown keys get did-you-mean suggestions)."""
    cls = EMBEDDERS.get(name)
    for key in params:  # values are checked by the class's own table when it is built
        if key not in cls.params:
            raise UnknownChoiceError(f"parameter of {cls.__name__}", key, cls.params)
    return cls(**params)
