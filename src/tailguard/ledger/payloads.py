"""Decode the stored bytes of ledger samples into what features are made from.

``ledger.iter_bytes(version)`` yields ``(record, bytes)`` pairs; these functions turn
them into documents, images or numeric rows, and name the sample in every error.
The audit (reading a version) and the policies (featurising a mix) share them.

>>> from types import SimpleNamespace as NS
>>> decode_texts([(NS(id="a1"), "café".encode())])
['café']
>>> rows, cols = decode_rows([(NS(id="r1", extra={}), b'{"x": 1, "y": 2.5, "name": "n"}')])
>>> rows.tolist(), cols
([[1.0, 2.5]], ['x', 'y'])
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np

from tailguard.errors import BadInputError, TextFormatError

Pairs = Sequence[tuple[Any, bytes]]


def decode_texts(pairs: Pairs) -> list[str]:
    """UTF-8 documents; a sample that isn't valid UTF-8 raises :class:`TextFormatError` naming it."""
    texts = []
    for record, payload in pairs:
        try:
            texts.append(payload.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise TextFormatError(f"sample is not valid UTF-8 ({exc})", path=record.id) from None
    return texts


def decode_images(pairs: Pairs) -> list[Any]:
    """Decoded PIL images; an undecodable one raises :class:`CorruptFileError` naming its file."""
    from tailguard.features.images import decode_image

    return [decode_image(payload, name=record.uri or record.id) for record, payload in pairs]


def decode_rows(pairs: Pairs, columns: list[str] | None = None) -> tuple[np.ndarray, list[str] | None]:
    """Numeric rows of vector samples (raw bytes, dtype in ``extra``) or tabular samples
    (JSON objects; ``columns``, or else the numeric columns of the first row, are kept).

    Returns the (n, d) matrix and the tabular columns used (None when all rows were vectors).
    """
    rows: list[np.ndarray] = []
    for record, payload in pairs:
        dtype = (record.extra or {}).get("dtype")
        if dtype is not None:
            rows.append(np.frombuffer(payload, dtype=np.dtype(dtype)).astype(np.float64))
            continue
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
    if not rows:
        return np.zeros((0, 1)), columns
    widths = {r.shape[0] for r in rows}
    if len(widths) > 1:
        first = next(rec.id for (rec, _), r in zip(pairs, rows, strict=True) if r.shape[0] != rows[0].shape[0])
        raise BadInputError(f"samples have different lengths {sorted(widths)}", path=first)
    return np.vstack(rows), columns
