"""Ingest ``.npy`` embedding matrices: one ``vector`` sample per row.

The row's raw bytes are stored inline (their hash is the id); ``extra`` keeps the
dtype and dimension, so ``np.frombuffer(ledger.read_bytes(r), r.extra["dtype"])``
restores it. Rows with NaN or infinities are bad items.
"""

from __future__ import annotations

from pathlib import Path

from tailguard.errors import CorruptFileError, NonFiniteValueError
from tailguard.ledger.hashing import content_id
from tailguard.ledger.ingest.base import BadItem, IngestOptions, Item, Reader
from tailguard.ledger.types import NewSample


def read_npy(path: Path, options: IngestOptions) -> Reader:
    """One item per row of a 2-D numeric array (``allow_pickle=False``)."""
    import numpy as np

    try:
        matrix = np.load(path, allow_pickle=False, mmap_mode="r")
    except (ValueError, OSError, EOFError) as exc:
        raise CorruptFileError(f"not a readable .npy array ({exc})", path=str(path)) from exc
    if matrix.ndim == 1:
        matrix = matrix.reshape(1, -1)
    if matrix.ndim != 2 or matrix.dtype.kind not in "fiu":
        raise CorruptFileError(f"expected a 2-D numeric matrix, got shape {matrix.shape} dtype {matrix.dtype}",
                               path=str(path))
    source = str(path.resolve())
    finite = np.isfinite(matrix).all(axis=1) if matrix.dtype.kind == "f" else np.ones(len(matrix), bool)
    dtype = matrix.dtype.str
    for index in range(matrix.shape[0]):
        item = f"{path}:{index + 1}"
        if not finite[index]:
            yield BadItem(item, NonFiniteValueError("row holds NaN or infinite values", path=str(path),
                                                    line=index + 1))
            continue
        content = np.ascontiguousarray(matrix[index]).tobytes()
        sample = NewSample(
            content=content, uri=None, modality="vector", origin=options.origin or "unknown",
            generator=options.generator, generation=options.generation, source=source,
            verified_by=options.verified_by, extra={"dtype": dtype, "dim": int(matrix.shape[1]), "row": index + 1},
        )
        yield Item(sample, item, content_id(content))
