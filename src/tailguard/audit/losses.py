"""What the candidate lost, in the user's terms: words, lengths, columns, classes, examples.

:func:`find_losses` compares the two sides of an audit and returns a typed,
JSON-serialisable :class:`Losses` (``report.json``'s ``losses`` section):

- ``terms``: for words, bigrams and trigrams, the reference's rarest ones that the
  candidate never produces, with document and occurrence counts on both sides;
- ``lengths``: document lengths in tokens (quantiles of both sides) and the shares of
  each side beyond the reference's quantiles (long and short documents);
- ``columns``: named columns (tabular rows, detection box sizes) and the reference
  quantile values beyond which the candidate holds less mass;
- ``classes``: classes (with the names the ledger stored, for detection) whose share fell;
- ``rarity``: coverage of the reference's points by rarity bin and, where the sparsest
  decile is left uncovered more than two samples of one distribution would leave it,
  examples of its uncovered points: text excerpts, image thumbnails, row values.

Everything listed as lost passed a one-sided test at family-wise level ``alpha`` per
list (conditional binomial tests, Bonferroni over the hypotheses that can reach the
level, after Tarone; see :mod:`tailguard.audit.loss_stats`), so two independent samples
of one distribution list nothing in a list with probability at least ``1 - alpha``. Counts are of documents, not occurrences,
for words: a rare word repeated inside one document is one observation.
:meth:`Losses.sentences` says all of it in plain sentences made only from the numbers stored.

>>> import numpy as np
>>> from tailguard.audit.inputs import as_input
>>> rng = np.random.default_rng(0)
>>> ref = as_input(rng.normal(size=(800, 2)), name="reference")
>>> cand_rows = rng.normal(size=(800, 2))
>>> cand = as_input(cand_rows[cand_rows[:, 0] < 1.6], name="candidate")  # the top 5% of column 0 gone
>>> losses = find_losses(cand, ref)
>>> [(t.feature, t.side) for t in losses.columns.lost]
[('column 0', 'upper')]
>>> Losses.from_dict(losses.to_dict()) == losses
True
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Sequence

import numpy as np

from tailguard.audit.inputs import AuditInput
from tailguard.audit.loss_stats import (
    MAX_POINTS,
    TAIL_LEVELS,
    TokenizedDocs,
    class_label,
    class_losses,
    column_losses,
    expected_uncovered,
    length_losses,
    pooled_scaled,
    rarity_coverage,
    tail_shares,
    tarone_level,
    term_losses,
    tokens,
)
from tailguard.audit.loss_types import (
    DEFAULT_ALPHA,
    ClassLosses,
    ClassShare,
    ColumnLosses,
    LengthLosses,
    Losses,
    LostTerm,
    RareExample,
    RarityCoverage,
    TailShare,
    TermLosses,
    describe,
)

__all__ = [
    "DEFAULT_ALPHA",
    "MAX_POINTS",
    "TAIL_LEVELS",
    "ClassLosses",
    "ClassShare",
    "ColumnLosses",
    "LengthLosses",
    "Losses",
    "LostTerm",
    "RareExample",
    "RarityCoverage",
    "TailShare",
    "TermLosses",
    "TokenizedDocs",
    "class_label",
    "class_losses",
    "column_losses",
    "describe",
    "expected_uncovered",
    "find_losses",
    "length_losses",
    "pixel_thumbnail",
    "rarity_coverage",
    "tail_shares",
    "tarone_level",
    "term_losses",
    "tokens",
]

#: Word n-gram orders searched for lost terms.
NGRAM_ORDERS = (1, 2, 3)
#: Documents (per side) read for words and lengths; larger sides are subsampled (seeded).
MAX_DOCS = 50000
#: Characters of a text excerpt.
EXCERPT_CHARS = 200
_UNIT = {"text": "documents", "vectors": "rows", "images": "images", "detection": "boxes", "categorical": "samples"}
#: Detection box features shown in the units a user reads (the audit stores their logs).
_BOX_FEATURES = {"log_area": "box area (share of the image)", "log_aspect_ratio": "box aspect ratio (w/h)"}


def _docs_sample(texts: Sequence[str], rng: np.random.Generator, cap: int) -> list[str]:
    if len(texts) <= cap:
        return list(texts)
    return [texts[i] for i in np.sort(rng.choice(len(texts), cap, replace=False))]


def _excerpt(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= EXCERPT_CHARS else flat[: EXCERPT_CHARS - 1].rstrip() + "…"


def pixel_thumbnail(features: np.ndarray) -> str:
    """A PNG data URI of the image behind a pixel-feature row, or "" when the row is not one.

    The default image features start with the image resized to 16 x 16 (grey, or RGB),
    values in [0, 1] (:class:`tailguard.features.images.PixelFeatures`).

    >>> pixel_thumbnail(np.zeros(16 * 16 + 16)).startswith("data:image/png;base64,")
    True
    >>> pixel_thumbnail(np.zeros(10))
    ''
    """
    from PIL import Image

    from tailguard.features.images import PixelFeatures

    size = int(PixelFeatures.defaults["size"])
    shapes = {PixelFeatures(mode="gray").dim: (size, size), PixelFeatures(mode="rgb").dim: (size, size, 3)}
    shape = shapes.get(len(features))
    if shape is None:
        return ""
    pixels = np.clip(np.rint(np.asarray(features[: int(np.prod(shape))]) * 255.0), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels.reshape(shape)).save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _column_names(side: AuditInput, d: int) -> list[str]:
    if side.feature_names and len(side.feature_names) == d:
        return [str(n) for n in side.feature_names]
    return [f"column {j}" for j in range(d)]


def find_losses(
    candidate: AuditInput,
    reference: AuditInput,
    *,
    alpha: float = DEFAULT_ALPHA,
    seed: int = 0,
    k: int = 5,
    max_items: int = 20,
) -> Losses:
    """Everything the candidate lost against the reference that this modality can show.

    Text: lost words and n-grams, length tails, uncovered sparse documents (excerpts).
    Tabular rows and detection boxes: column tails (named columns; box area and aspect
    ratio), classes, uncovered sparse rows (their most unusual values). Images: classes
    (with labels) and uncovered sparse images (thumbnails). Categorical: classes.
    """
    modality = reference.modality
    unit = _UNIT.get(modality, "samples")
    notes: list[str] = []
    rng = np.random.default_rng(seed)
    terms: tuple[TermLosses, ...] = ()
    lengths = None
    if candidate.texts is not None and reference.texts is not None:
        docs_r = _docs_sample(reference.texts, rng, MAX_DOCS)
        docs_c = _docs_sample(candidate.texts, rng, MAX_DOCS)
        if len(docs_r) < len(reference.texts) or len(docs_c) < len(candidate.texts):
            notes.append(f"words and lengths read from a seeded sample of {MAX_DOCS} documents per side")
        tok_r, tok_c = TokenizedDocs.of(docs_r), TokenizedDocs.of(docs_c)
        terms = term_losses(tok_c, tok_r, NGRAM_ORDERS, alpha=alpha, max_items=max_items)
        if len(docs_r) >= 20 and len(docs_c) >= 2:
            lengths = length_losses(tok_c.lengths, tok_r.lengths, alpha=alpha)
        else:
            notes.append(
                f"length tails need at least 20 reference and 2 candidate documents; got {len(docs_r)} and {len(docs_c)}"
            )
    columns = None
    have_vectors = candidate.vectors is not None and reference.vectors is not None
    if have_vectors and modality in ("vectors", "detection"):
        names = _column_names(reference, reference.vectors.shape[1])
        display = None
        if modality == "detection":
            display = {_BOX_FEATURES[n]: np.exp for n in names if n in _BOX_FEATURES}
            names = [_BOX_FEATURES.get(n, n) for n in names]
        if len(reference.vectors) >= 20 and len(candidate.vectors) >= 2:
            columns = column_losses(
                candidate.vectors, reference.vectors, names, unit=unit, alpha=alpha, display=display
            )
        else:
            notes.append(
                f"column tails need at least 20 reference and 2 candidate {unit}; "
                f"got {len(reference.vectors)} and {len(candidate.vectors)}"
            )
    classes = None
    if candidate.categories is not None and reference.categories is not None:
        cat_unit = "boxes" if modality == "detection" else unit
        classes = class_losses(
            candidate.categories, reference.categories, names=reference.class_names, unit=cat_unit, alpha=alpha
        )
    rarity = None
    if have_vectors:
        rarity = _rarity(candidate, reference, modality=modality, unit=unit, alpha=alpha, seed=seed, k=k)
        if rarity is None:
            notes.append(f"rarity coverage needs at least 20 reference {unit}; got {len(reference.vectors)}")
        elif rarity.lost and modality == "images" and not any(e.thumbnail for e in rarity.examples):
            notes.append("no thumbnails: the image features are not the default pixel features")
    return Losses(modality, alpha, terms, lengths, columns, classes, rarity, tuple(notes))


def _rarity(
    candidate: AuditInput, reference: AuditInput, *, modality: str, unit: str, alpha: float, seed: int, k: int
) -> RarityCoverage | None:
    cand, ref = candidate.vectors, reference.vectors
    assert cand is not None and ref is not None
    if modality == "vectors":
        cand, ref = pooled_scaled(cand, ref)
    raw = reference.vectors
    names = _column_names(reference, raw.shape[1])
    cats = reference.categories if reference.categories is not None and len(reference.categories) == len(raw) else None

    def example(i: int, radius: float, nearest: float) -> RareExample:
        label = class_label(cats[i], reference.class_names) if cats is not None else ""
        if modality == "text" and reference.texts is not None:
            return RareExample(i, radius, nearest, label, excerpt=_excerpt(reference.texts[i]))
        if modality == "images":
            return RareExample(i, radius, nearest, label, thumbnail=pixel_thumbnail(raw[i]))
        row = raw[i]
        z = np.abs(row - raw.mean(axis=0)) / np.maximum(raw.std(axis=0), 1e-12)
        top = np.argsort(-z, kind="stable")[:3]
        values = []
        for j in top:
            value = float(row[j])
            name = names[j]
            if modality == "detection" and name in _BOX_FEATURES:
                name, value = _BOX_FEATURES[name], math.exp(value)
            values.append((name, value, float((raw[:, j] <= row[j]).mean() * 100.0)))
        return RareExample(i, radius, nearest, label, values=tuple(values))

    max_examples = 12 if modality == "images" else 5
    return rarity_coverage(
        cand, ref, k=k, unit=unit, alpha=alpha, seed=seed, example=example, max_examples=max_examples
    )
