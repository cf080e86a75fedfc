"""Samples -> arrays: the features the metrics compare.

- tabular and ``.npy``: :func:`as_feature_matrix`, :func:`load_npy`, :func:`iter_npy_batches`
  (validated, used as they are);
- text: :class:`HashedTextFeatures` (default, no model) and :class:`MiniLMEmbedder` (offline);
- images: :func:`image_features` / :class:`PixelFeatures`;
- detection labels: :class:`DetectionLabelArrays`;
- by name: :data:`EMBEDDERS` and :func:`get_embedder`.

Importing this package imports neither torch nor sentence-transformers.

>>> from tailguard.features import get_embedder
>>> get_embedder("pixels", size=4, bins=2).dim
18
"""

from tailguard.features.arrays import as_feature_matrix, check_finite, iter_npy_batches, load_npy
from tailguard.features.detection import KNOWN_ORIGINS, DetectionLabelArrays
from tailguard.features.embedders import (
    DEFAULT_IMAGE_EMBEDDER,
    DEFAULT_TEXT_EMBEDDER,
    EMBEDDERS,
    Embedder,
    get_embedder,
)
from tailguard.features.images import PixelFeatures, image_features
from tailguard.features.minilm import MINILM_DIM, MiniLMEmbedder, minilm_model_path
from tailguard.features.text import HashedTextFeatures, check_texts

__all__ = [
    "DEFAULT_IMAGE_EMBEDDER",
    "DEFAULT_TEXT_EMBEDDER",
    "EMBEDDERS",
    "KNOWN_ORIGINS",
    "MINILM_DIM",
    "DetectionLabelArrays",
    "Embedder",
    "HashedTextFeatures",
    "MiniLMEmbedder",
    "PixelFeatures",
    "as_feature_matrix",
    "check_finite",
    "check_texts",
    "get_embedder",
    "image_features",
    "iter_npy_batches",
    "load_npy",
    "minilm_model_path",
]
