"""``tailguard export VERSION --format jsonl`` and ``--format parquet``: one row per occurrence.

Each row (:func:`~tailguard.ledger.export.base.export_rows`) holds the sample's id, modality, origin,
uri, generator, generation, verified_by, source, synthetic depth, parents and ``extra``, its ``text``
(text and tabular samples) or inline ``content`` (other bytes; JSONL writes them base64), and the
chosen ``labels``. ``samples.jsonl`` holds one JSON object a line; ``samples.parquet`` has a fixed
Arrow schema (``extra`` as a JSON string), written 10,000 rows at a time. Both files are written
under a temporary name and renamed into place.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tailguard.ledger.export.base import DEFAULT_ORIGINS, atomic_path, export_rows
from tailguard.ledger.export.formats import ExportFormat, ExportJob, register_export_format

if TYPE_CHECKING:
    from tailguard.ledger.store import Ledger

PARQUET_BATCH = 10_000


@register_export_format
class JsonlFormat(ExportFormat):
    """``--format jsonl``: ``samples.jsonl``, one row a line; returns the file."""

    name = "jsonl"
    summary = "samples.jsonl, one row per occurrence"

    def write(self, job: ExportJob) -> Path:
        target = job.out / "samples.jsonl"
        with atomic_path(target) as part, open(part, "w", encoding="utf-8") as handle:
            for row in job.rows():
                if row["content"] is not None:
                    row["content"] = base64.b64encode(row["content"]).decode()
                handle.write(json.dumps(row, default=str) + "\n")
                job.tick()
        return target


@register_export_format
class ParquetFormat(ExportFormat):
    """``--format parquet``: ``samples.parquet``; returns the file."""

    name = "parquet"
    summary = "samples.parquet, one row per occurrence"

    def write(self, job: ExportJob) -> Path:
        return write_parquet(job.ledger, job.version, job.out / "samples.parquet", job.origins, job.both,
                             job.progress)


def write_parquet(ledger: Ledger, version: str, target: Path, origins: Sequence[str] = DEFAULT_ORIGINS,
                  both: str = "prefer-human", progress: Callable[[int], None] | None = None) -> Path:
    """The Parquet export of ``version`` at ``target`` (atomically); returns ``target``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    box = pa.struct([("class_id", pa.int32()), ("x", pa.float64()), ("y", pa.float64()), ("w", pa.float64()),
                     ("h", pa.float64()), ("origin", pa.string()), ("confidence", pa.float64()),
                     ("generator", pa.string()), ("task", pa.string()), ("points", pa.list_(pa.float64())),
                     ("point_dim", pa.int32())])
    arrow_schema = pa.schema([
        ("id", pa.string()), ("modality", pa.string()), ("origin", pa.string()), ("uri", pa.string()),
        ("generator", pa.string()), ("generation", pa.int64()), ("verified_by", pa.string()),
        ("source", pa.string()), ("synthetic_depth", pa.int64()), ("parents", pa.list_(pa.string())),
        ("extra", pa.string()), ("text", pa.string()), ("content", pa.binary()), ("labels", pa.list_(box)),
    ])
    # the footer is written when the writer closes, inside the block: only a finished file gets the name
    with atomic_path(target) as part, pq.ParquetWriter(part, arrow_schema) as writer:
        batch: list[dict[str, Any]] = []
        for row in export_rows(ledger, version, origins, both):
            row["extra"] = json.dumps(row["extra"], default=str)
            batch.append(row)
            if len(batch) >= PARQUET_BATCH:
                writer.write_table(pa.Table.from_pylist(batch, schema=arrow_schema))
                if progress is not None:
                    progress(len(batch))
                batch = []
        if batch:
            writer.write_table(pa.Table.from_pylist(batch, schema=arrow_schema))
            if progress is not None:
                progress(len(batch))
    return target
