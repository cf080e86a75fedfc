"""Ledger sample records -> :class:`~tailguard.policy.pool.Pool` arrays (for :func:`tailguard.policy.mix`).

* ``origin`` and ``depth`` come from the record (origin as it was in the version,
  and its synthetic depth);
* ``round`` is the record's ``generation`` (its synthetic depth when the
  generation was not recorded), so ``replace`` keeps the newest generation;
* ``classes`` (detection): each image's rarest class — the class among its boxes
  that the human reference holds least often; images without boxes are class -1;
* ``features`` (only when a step needs them), from :mod:`tailguard.features`:
  text -> hashed n-grams (or the embedder named), images and detection images ->
  pixel features, vectors -> the stored row, tabular -> the numeric columns.

>>> from types import SimpleNamespace as NS
>>> recs = [NS(id="a", origin="human", synthetic_depth=0, generation=None),
...         NS(id="b", origin="synthetic", synthetic_depth=2, generation=None)]
>>> pool = pool_from_records(recs)
>>> pool.round.tolist(), list(pool.ids)
([0, 2], ['a', 'b'])
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from tailguard.errors import BadInputError, ParameterError
from tailguard.ledger.payloads import decode_images, decode_rows, decode_texts
from tailguard.policy.pool import Pool, origin_codes

#: Which features each ledger modality gets, and from what.
FEATURE_KINDS = {"text": "text", "image": "image", "detection": "image", "vector": "vector", "tabular": "tabular"}


def pool_from_records(
    records: Sequence[Any],
    *,
    features: np.ndarray | None = None,
    classes: np.ndarray | None = None,
    texts: Sequence[str] | None = None,
) -> Pool:
    """The pool of ``records`` (anything with ``id, origin, synthetic_depth, generation``)."""
    depth = np.fromiter((int(r.synthetic_depth or 0) for r in records), dtype=np.int64, count=len(records))
    rounds = np.fromiter(
        (int(r.generation) if r.generation is not None else int(r.synthetic_depth or 0) for r in records),
        dtype=np.int64,
        count=len(records),
    )
    return Pool(
        origin=origin_codes([r.origin for r in records]) if records else np.zeros(0, np.int8),
        depth=depth,
        round=rounds,
        features=features,
        classes=classes,
        ids=np.array([r.id for r in records], dtype=object),
        texts=texts,
    )


def modality_of(records: Iterable[Any], where: str) -> str:
    """The single modality of ``records``; a mix of modalities is refused."""
    kinds = Counter(r.modality for r in records)
    if len(kinds) != 1:
        raise BadInputError(f"the mix holds several modalities {dict(kinds)}; mix one modality at a time", path=where)
    return next(iter(kinds))


def detection_classes(records: Sequence[Any], reference: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
    """Per-image class of ``records`` and of ``reference``: the image's rarest class in the reference.

    >>> from types import SimpleNamespace as NS
    >>> img = lambda *cs: NS(labels=tuple(NS(class_id=c) for c in cs))
    >>> ref = [img(0), img(0), img(0, 1), img()]
    >>> detection_classes([img(0, 1), img(0), img(2)], ref)[0].tolist()
    [1, 0, 2]
    """
    counts = Counter(int(b.class_id) for r in reference for b in r.labels)

    def rarest(rec: Any) -> int:
        ids = {int(b.class_id) for b in rec.labels}
        if not ids:
            return -1
        return min(ids, key=lambda c: (counts.get(c, 0), c))

    return (
        np.fromiter((rarest(r) for r in records), dtype=np.int64, count=len(records)),
        np.fromiter((rarest(r) for r in reference), dtype=np.int64, count=len(reference)),
    )


def feature_matrix(
    pairs: Sequence[tuple[Any, bytes]], modality: str, *, embedder: str | None = None, columns: list[str] | None = None
) -> tuple[np.ndarray, list[str] | None]:
    """Features of ``(record, bytes)`` pairs; returns the matrix and the tabular columns used."""
    kind = FEATURE_KINDS.get(modality)
    if kind is None:
        raise ParameterError(f"no features are available for the modality {modality!r}")
    if kind in ("vector", "tabular"):
        return decode_rows(pairs, columns)
    from tailguard.features import get_embedder

    if kind == "text":
        return get_embedder(embedder or "hashed").transform(decode_texts(pairs)), None
    return get_embedder(embedder or "pixels").transform(decode_images(pairs)), None
