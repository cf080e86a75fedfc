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
from tailguard.ledger.ingest.formats import IngestFormat, register_ingest_format
from tailguard.ledger.types import NewSample


def check_npy_header(path: Path) -> tuple[tuple[int, ...], str]:
    """Shape and dtype from the ``.npy`` header, checked against the file size before anything is loaded.

    A header claiming more data than the file holds (a huge shape) or object dtypes are refused.
    """
    import numpy as np
    from numpy.lib import format as npy_format

    where = str(path)
    try:
        with open(path, "rb") as handle:
            version = npy_format.read_magic(handle)
            if version == (1, 0):
                shape, _fortran, dtype = npy_format.read_array_header_1_0(handle)
            elif version == (2, 0):
                shape, _fortran, dtype = npy_format.read_array_header_2_0(handle)
            else:
                raise CorruptFileError(f"unsupported .npy format version {version[0]}.{version[1]}", path=where)
            offset = handle.tell()
    except (ValueError, OSError, EOFError, SyntaxError, TypeError) as exc:
        raise CorruptFileError(f"not a readable .npy array ({str(exc).splitlines()[0]})", path=where) from None
    if dtype.hasobject:
        raise CorruptFileError(f"holds Python objects (dtype {dtype}); only numeric arrays are read", path=where)
    needed = int(np.prod(shape, dtype=object)) * dtype.itemsize if shape else dtype.itemsize
    held = path.stat().st_size - offset
    if needed > held:
        raise CorruptFileError(f"the header declares shape {shape} ({needed} bytes) but the file holds "
                               f"{held} bytes of data", path=where)
    return tuple(int(n) for n in shape), dtype.str


def read_npy(path: Path, options: IngestOptions) -> Reader:
    """One item per row of a 2-D numeric array (``allow_pickle=False``)."""
    import numpy as np

    check_npy_header(path)
    try:
        matrix = np.load(path, allow_pickle=False, mmap_mode="r")
    except (ValueError, OSError, EOFError, OverflowError, TypeError) as exc:
        raise CorruptFileError(f"not a readable .npy array ({str(exc).splitlines()[0]})", path=str(path)) from None
    if matrix.ndim == 1:
        matrix = matrix.reshape(1, -1)
    if matrix.ndim != 2 or matrix.dtype.kind not in "fiu" or matrix.shape[1] == 0:
        raise CorruptFileError(f"expected a 2-D numeric matrix with columns, got shape {matrix.shape} "
                               f"dtype {matrix.dtype}", path=str(path))
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


@register_ingest_format
class NpyFormat(IngestFormat):
    """``--format npy``: a 2-D NumPy array, a row a sample."""

    name = "npy"
    suffixes = (".npy",)
    input = "file"
    summary = "a NumPy array"

    def open(self, path: Path, options: IngestOptions) -> Reader:
        return read_npy(path, options)
