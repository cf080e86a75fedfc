"""Ingest CSV or Parquet tables: one ``tabular`` sample per row.

The row (minus the provenance columns ``origin``, ``generator``, ``generation``,
``verified_by``) is stored inline as canonical JSON (sorted keys); its hash is the id.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tailguard.errors import BadInputError, CorruptFileError, UnknownChoiceError
from tailguard.ledger.hashing import content_id
from tailguard.ledger.ingest.base import BadItem, IngestOptions, Item, Reader, claim
from tailguard.ledger.types import ORIGINS, NewSample

_PROVENANCE = ("origin", "generator", "generation", "verified_by")


def _json_value(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else str(value)
    return value


def _row_item(row: dict[str, Any], number: int, path: Path, options: IngestOptions) -> Item | BadItem:
    where = str(path)
    item = f"{where}:{number}"
    origin = row.get("origin") or None
    if origin is not None and origin not in ORIGINS:
        return BadItem(item, UnknownChoiceError("origin", str(origin), ORIGINS, path=item))
    generation = row.get("generation")
    if generation in ("", None):
        generation = options.generation
    else:
        try:
            generation = int(generation)
        except (TypeError, ValueError):
            return BadItem(item, BadInputError(f"generation must be an integer, got {generation!r}",
                                               path=where, line=number))
    claimed, conflicts = claim(origin, options, item)
    data = {k: _json_value(v) for k, v in row.items() if k not in _PROVENANCE}
    content = json.dumps(data, sort_keys=True, default=str, separators=(",", ":")).encode()
    sample = NewSample(
        content=content, uri=None, modality="tabular", origin=claimed or "unknown",
        generator=row.get("generator") or options.generator, generation=generation,
        source=str(path.resolve()), verified_by=row.get("verified_by") or options.verified_by,
        extra={"row": number},
    )
    return Item(sample, item, content_id(content), conflicts=conflicts)


def read_csv(path: Path, options: IngestOptions) -> Reader:
    """Rows of a CSV file with a header line (line numbers count the header as line 1)."""
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            if not reader.fieldnames:
                return
            width = len(reader.fieldnames)
            for row in reader:
                number = reader.line_num
                if None in row or any(v is None for v in row.values()):
                    got = sum(v is not None for k, v in row.items() if k is not None) + len(row.get(None) or [])
                    yield BadItem(f"{path}:{number}", BadInputError(
                        f"expected {width} fields like the header, got {got}", path=str(path), line=number))
                    continue
                yield _row_item(row, number, path, options)
    except UnicodeDecodeError as exc:
        raise CorruptFileError(f"not valid UTF-8 ({exc.reason})", path=str(path)) from exc
    except csv.Error as exc:
        raise CorruptFileError(f"malformed CSV ({exc})", path=str(path)) from exc


def _parquet_rows(path: Path) -> Iterator[dict[str, Any]]:
    import pyarrow.parquet as pq

    try:
        handle = pq.ParquetFile(path)
    except Exception as exc:
        raise CorruptFileError(f"not a readable Parquet file ({exc})", path=str(path)) from exc
    for batch in handle.iter_batches(batch_size=10_000):
        yield from batch.to_pylist()


def read_parquet(path: Path, options: IngestOptions) -> Reader:
    """Rows of a Parquet file (row numbers start at 1)."""
    for number, row in enumerate(_parquet_rows(path), start=1):
        yield _row_item({str(k): v for k, v in row.items()}, number, path, options)
