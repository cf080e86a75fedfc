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

import io
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from tailguard.errors import BadInputError, CorruptFileError, ParameterError, TextFormatError
from tailguard.policy.pool import Pool, origin_codes

#: Which features each ledger modality gets, and from what.
FEATURE_KINDS = {"text": "text", "image": "image", "detection": "image", "vector": "vector", "tabular": "tabular"}


def pool_from_records(
    records: Sequence[Any], *, features: np.ndarray | None = None, classes: np.ndarray | None = None
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
    if kind == "vector":
        rows = []
        for record, payload in pairs:
            dtype = (record.extra or {}).get("dtype")
            if dtype is None:
                raise BadInputError("vector sample has no stored dtype", path=record.id)
            rows.append(np.frombuffer(payload, dtype=np.dtype(dtype)).astype(np.float64))
        return _stack(rows, pairs), None
    if kind == "tabular":
        return _tabular(pairs, columns)
    from tailguard.features import get_embedder

    if kind == "text":
        texts = []
        for record, payload in pairs:
            try:
                texts.append(payload.decode("utf-8"))
            except UnicodeDecodeError as exc:
                raise TextFormatError(f"sample is not valid UTF-8 ({exc})", path=record.id) from None
        return get_embedder(embedder or "hashed").transform(texts), None
    from PIL import Image, UnidentifiedImageError

    images = []
    for record, payload in pairs:
        try:
            im = Image.open(io.BytesIO(payload))
            im.load()
        except (UnidentifiedImageError, OSError) as exc:
            raise CorruptFileError(f"cannot decode image ({exc})", path=record.uri or record.id) from None
        images.append(im)
    return get_embedder(embedder or "pixels").transform(images), None


def _stack(rows: list[np.ndarray], pairs: Sequence[tuple[Any, bytes]]) -> np.ndarray:
    if not rows:
        return np.zeros((0, 1))
    widths = {r.shape[0] for r in rows}
    if len(widths) > 1:
        first = next(rec.id for (rec, _), r in zip(pairs, rows, strict=True) if r.shape[0] != rows[0].shape[0])
        raise BadInputError(f"samples have different lengths {sorted(widths)}", path=first)
    return np.vstack(rows)


def _tabular(pairs: Sequence[tuple[Any, bytes]], columns: list[str] | None) -> tuple[np.ndarray, list[str]]:
    rows = []
    for record, payload in pairs:
        try:
            data = json.loads(payload.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BadInputError(f"tabular sample is not a JSON row ({exc})", path=record.id) from None
        if columns is None:
            columns = [k for k, v in data.items() if isinstance(v, int | float) and not isinstance(v, bool)]
            if not columns:
                raise BadInputError("tabular sample has no numeric columns", path=record.id)
        try:
            rows.append(np.array([float(data[c]) for c in columns]))
        except (KeyError, TypeError, ValueError) as exc:
            raise BadInputError(f"tabular sample lacks a numeric value for {exc}", path=record.id) from None
    return _stack(rows, pairs), list(columns or [])
