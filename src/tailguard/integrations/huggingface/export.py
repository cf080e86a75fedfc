"""``tailguard export VERSION --format hf``: a ``datasets`` ``save_to_disk`` folder with a dataset card.

One row per occurrence of a text or tabular sample: the text in ``text`` (tabular: the row's
own columns), plus ``tg_sample_id`` (the content hash), ``tg_origin``, ``tg_generator``,
``tg_generation`` and ``tg_parents``. When every sample has a stored split (from a
``DatasetDict`` or a YOLO-style train/val ingest) the folder is a ``DatasetDict`` of those
splits, else one ``Dataset``. ``README.md`` is the dataset card
(:mod:`tailguard.integrations.huggingface.card`); ``tailguard_export.json`` the manifest.

The rows are written a batch at a time to Arrow stream files, which ``datasets`` memory-maps
(``Dataset.from_file``) and saves: the version is never held as Python objects at once. The
folder must be new or empty. Re-ingesting it (``tailguard ingest DIR --format hf``) finds
every sample already stored: the ids hash the same text (or canonical JSON row).
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tailguard.errors import BadInputError, EmptyDatasetError, UnsafePathError
from tailguard.integrations.huggingface.card import ProvenanceCounts, render_card
from tailguard.ledger.export.formats import ExportFormat, ExportJob, register_export_format

if TYPE_CHECKING:
    from tailguard.ledger.store import Ledger

TG_COLUMNS = ("tg_sample_id", "tg_origin", "tg_generator", "tg_generation", "tg_parents")
SPLIT_NAME = re.compile(r"\w+(\.\w+)*")  # what datasets accepts as a split name
BATCH = 10_000


def _records(ledger: Ledger, version: str) -> Iterator[tuple[Any, dict[str, Any]]]:
    """(record, row) per occurrence, the row holding the data columns and the tg_ columns."""
    for rec, content in ledger.iter_bytes(version, read_files=False):
        if rec.modality not in HfFormat.modalities or content is None:
            raise BadInputError(f"--format hf exports text and tabular samples; sample {rec.id} is "
                                f"{rec.modality} (export images with --format yolo or ultralytics-ndjson)",
                                path=version)
        if rec.modality == "text":
            row: dict[str, Any] = {"text": content.decode("utf-8")}
        else:
            row = json.loads(content.decode("utf-8"))
            clash = [k for k in row if k in TG_COLUMNS or k == "text"]
            if clash and any(k in TG_COLUMNS for k in clash):
                raise BadInputError(f"sample {rec.id} has a column named {clash[0]!r}, which the export writes "
                                    "itself", path=version)
        row.update({"tg_sample_id": rec.id, "tg_origin": rec.origin, "tg_generator": rec.generator,
                    "tg_generation": rec.generation, "tg_parents": list(rec.parents)})
        yield rec, row


def export_plan(ledger: Ledger, version: str) -> tuple[Any, str, bool, ProvenanceCounts]:
    """Pass 1: the Arrow schema every batch is written with, the modality, whether every row has a split,
    and the provenance counts for the card."""
    import pyarrow as pa

    stats = ProvenanceCounts()
    modalities: set[str] = set()
    all_split = True
    schema = None
    batch: list[dict[str, Any]] = []

    def merge(rows: list[dict[str, Any]], current: Any) -> Any:
        found = pa.Table.from_pylist(rows).schema
        return found if current is None else pa.unify_schemas([current, found], promote_options="permissive")

    for rec, row in _records(ledger, version):
        modalities.add(rec.modality)
        split = rec.extra.get("split")
        all_split = all_split and isinstance(split, str) and bool(split)
        stats.add(rec.origin, rec.generator, rec.generation, rec.parents, rec.source,
                  split if isinstance(split, str) else None, verified=rec.verified_by is not None)
        batch.append(row)
        if len(batch) >= BATCH:
            schema, batch = merge(batch, schema), []
    if batch:
        schema = merge(batch, schema)
    if schema is None:
        raise EmptyDatasetError(f"version {version!r} has no samples to export", path=version)
    bad = sorted(name for name in stats.by_split if not SPLIT_NAME.fullmatch(name))
    if all_split and bad:
        raise BadInputError(f"stored split name {bad[0]!r} is not a datasets split name (letters, digits, _ and "
                            "dots between them)", path=version)
    if len(modalities) > 1:
        raise BadInputError(f"version {version!r} mixes text and tabular samples; export one modality at a time",
                            path=version)
    fixed = {"tg_sample_id": pa.string(), "tg_origin": pa.string(), "tg_generator": pa.string(),
             "tg_generation": pa.int64(), "tg_parents": pa.list_(pa.string())}
    fields = [f for f in schema if f.name not in fixed]
    if modalities == {"text"}:
        fields = [pa.field("text", pa.string())]
    else:
        fields = [pa.field(f.name, pa.string() if pa.types.is_null(f.type) else f.type)
                  for f in sorted(fields, key=lambda f: f.name)]
    return pa.schema(fields + [pa.field(k, v) for k, v in fixed.items()]), modalities.pop(), all_split, stats


def export_hf(ledger: Ledger, version: str, out: Path, *, progress: Callable[[int], None] | None = None) -> Path:
    """Write ``version`` to the empty folder ``out`` as a ``save_to_disk`` dataset; returns ``out``."""
    import pyarrow as pa

    from tailguard.dependencies import require

    datasets = require("datasets", extra="hf", feature="export --format hf")
    info = ledger.get_version(version)
    if any(out.iterdir()):
        raise UnsafePathError("--format hf writes a new dataset folder; --out must be empty or new", path=str(out))
    schema, modality, by_split, stats = export_plan(ledger, version)
    work = Path(tempfile.mkdtemp(prefix=".tailguard-hf-", dir=out))
    try:
        writers: dict[str, Any] = {}
        pending: dict[str, list[dict[str, Any]]] = {}

        def flush(split: str) -> None:
            rows = pending.pop(split, [])
            if rows:
                if split not in writers:
                    writers[split] = pa.ipc.new_stream(str(work / f"{split}.arrow"), schema)
                writers[split].write_table(pa.Table.from_pylist(rows, schema=schema))
                if progress is not None:
                    progress(len(rows))

        for rec, row in _records(ledger, version):
            split = str(rec.extra["split"]) if by_split else "all"
            pending.setdefault(split, []).append(row)
            if len(pending[split]) >= BATCH:
                flush(split)
        for split in list(pending):
            flush(split)
        for writer in writers.values():
            writer.close()
        parts = {split: datasets.Dataset.from_file(str(work / f"{split}.arrow")) for split in writers}
        if by_split:
            datasets.DatasetDict(parts).save_to_disk(str(out))
        else:
            parts["all"].save_to_disk(str(out))
        del parts
    finally:
        shutil.rmtree(work, ignore_errors=True)
    (out / "README.md").write_text(render_card(stats, version, info.digest, modality=modality), encoding="utf-8")
    manifest = {"version": version, "format": "hf", "rows": stats.n, "modality": modality,
                "splits": dict(stats.by_split) if by_split else None, "digest": info.digest,
                "columns": [f.name for f in schema]}
    (out / "tailguard_export.json").write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    return out


@register_export_format
class HfFormat(ExportFormat):
    """``--format hf``: a ``datasets`` ``save_to_disk`` folder with a dataset card (module docstring); returns the
    folder. Every occurrence is written with its own provenance columns, so ``origins`` and ``both`` (which choose
    image labels) change nothing here."""

    name = "hf"
    modalities = ("text", "tabular")
    summary = "a Hugging Face save_to_disk folder with a dataset card"

    def write(self, job: ExportJob) -> Path:
        return export_hf(job.ledger, job.version, job.out, progress=job.progress)
