"""Built-in real human data, loaded from installed packages (no downloads).

- :func:`load_digits`, :func:`load_wine`, :func:`load_breast_cancer`: scikit-learn's bundled
  tables as :class:`TabularData`.
- :func:`load_python_docs` (and sentence/paragraph/token helpers): the English text of
  CPython's ``pydoc_data.topics``.
- :func:`make_detection_dataset` / :func:`compose_detection`: a seeded, long-tailed YOLO
  detection dataset composed from real handwritten digits.

>>> from tailguard.data import load_digits, rare_classes
>>> load_digits().X.shape
(1797, 64)
>>> rare_classes()
(7, 8, 9)
"""

from tailguard.data.detection import (
    DETECTION_CLASS_WEIGHTS,
    DIGIT_NAMES,
    DetectionSet,
    class_weights,
    compose_detection,
    make_detection_dataset,
    rare_classes,
)
from tailguard.data.tabular import (
    TABULAR_LOADERS,
    TabularData,
    load_breast_cancer,
    load_digits,
    load_tabular,
    load_wine,
)
from tailguard.data.text import (
    clean_markup,
    load_python_docs,
    python_docs_paragraphs,
    python_docs_sentences,
    python_docs_tokens,
    python_docs_topics,
)

__all__ = [
    "DETECTION_CLASS_WEIGHTS",
    "DIGIT_NAMES",
    "TABULAR_LOADERS",
    "DetectionSet",
    "TabularData",
    "class_weights",
    "clean_markup",
    "compose_detection",
    "load_breast_cancer",
    "load_digits",
    "load_python_docs",
    "load_tabular",
    "load_wine",
    "make_detection_dataset",
    "python_docs_paragraphs",
    "python_docs_sentences",
    "python_docs_tokens",
    "python_docs_topics",
    "rare_classes",
]
