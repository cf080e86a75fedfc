"""Built-in real human data, loaded from installed packages (no downloads).

- :func:`load_digits`, :func:`load_wine`, :func:`load_breast_cancer`: scikit-learn's bundled
  tables as :class:`TabularData`.
- :func:`load_python_docs` (and sentence/paragraph/token helpers): the English text of
  CPython's ``pydoc_data.topics``.
- :func:`fortunes_texts`, :func:`bible_passages`, :func:`gcide_entries`: real English from
  the Debian packages ``fortunes``, ``bible-kjv-text`` (read with ``bible-kjv``) and ``dict-gcide``.
- :func:`build_mixture` (and :func:`markov_texts`, :func:`paraphrase_texts`,
  :func:`template_spam`, :func:`split_human`): human documents mixed with seeded
  machine-made text, with the truth per document.
- :func:`make_detection_dataset` / :func:`compose_detection`: a seeded, long-tailed YOLO
  detection dataset composed from real handwritten digits.
- :func:`make_shapes_dataset` (segment, pose, obb, detect) and :func:`make_classification_dataset`
  (folder-per-class digits): seeded, long-tailed datasets for every other Ultralytics task.

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
from tailguard.data.machine_text import (
    MACHINE_KINDS,
    MarkovModel,
    Mixture,
    build_mixture,
    markov_texts,
    paraphrase_texts,
    split_human,
    template_spam,
)
from tailguard.data.shapes import KEYPOINT_NAMES, SHAPE_NAMES, make_classification_dataset, make_shapes_dataset
from tailguard.data.tabular import (
    TABULAR_LOADERS,
    TabularData,
    load_breast_cancer,
    load_digits,
    load_tabular,
    load_wine,
)
from tailguard.data.text import (
    bible_passages,
    clean_markup,
    fortunes_texts,
    gcide_entries,
    load_python_docs,
    python_docs_paragraphs,
    python_docs_sentences,
    python_docs_tokens,
    python_docs_topics,
)

__all__ = [
    "DETECTION_CLASS_WEIGHTS",
    "DIGIT_NAMES",
    "KEYPOINT_NAMES",
    "MACHINE_KINDS",
    "SHAPE_NAMES",
    "TABULAR_LOADERS",
    "DetectionSet",
    "MarkovModel",
    "Mixture",
    "TabularData",
    "bible_passages",
    "build_mixture",
    "class_weights",
    "clean_markup",
    "compose_detection",
    "fortunes_texts",
    "gcide_entries",
    "load_breast_cancer",
    "load_digits",
    "load_python_docs",
    "load_tabular",
    "load_wine",
    "make_classification_dataset",
    "make_detection_dataset",
    "make_shapes_dataset",
    "markov_texts",
    "paraphrase_texts",
    "python_docs_paragraphs",
    "python_docs_sentences",
    "python_docs_tokens",
    "python_docs_topics",
    "rare_classes",
    "split_human",
    "template_spam",
]
