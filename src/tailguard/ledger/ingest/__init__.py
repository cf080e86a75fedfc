"""``tailguard ingest``: read a file or folder and add it to the ledger in one transaction.

Formats are a registry (:mod:`tailguard.ledger.ingest.formats`; plug-ins add more through
``--plugin`` or the entry-point group ``tailguard.ingest_formats``). Built in (``auto`` picks by suffix
or folder layout): ``yolo`` (data.yaml, an
images/+labels/ tree or a classification train/<class>/ tree, any Ultralytics task:
see :mod:`tailguard.tasks`), ``images``, ``jsonl``, ``csv``, ``parquet``, ``npy``,
``ultralytics-ndjson`` (the Ultralytics Platform's dataset NDJSON, picked by ``auto`` for an
``.ndjson`` whose first line is a dataset record), ``hf``
(a Hugging Face ``save_to_disk`` folder or local data files read by ``datasets``; see
:mod:`tailguard.ledger.ingest.hf`). Instead of a path, :func:`run_ingest` also takes a
``datasets`` ``Dataset``, ``DatasetDict`` or ``IterableDataset``, a ``pyarrow.Table`` or a pandas
DataFrame.

Every provenance field and flag is validated on entry (:mod:`tailguard.ledger.fields`).
Origin comes from the ``origin`` flag, a per-record ``origin`` field, or evidence in
the file (C2PA, IPTC/XMP DigitalSourceType). Disagreements are recorded as
conflicts, never resolved silently. The whole ingest is one transaction: a crash
or kill leaves nothing behind. With ``skip_bad`` bad items are skipped and recorded
(in the report and in the ledger); without it the first bad item raises its typed
error naming the file and line.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tailguard.errors import MissingInputError, ParameterError, UnknownChoiceError
from tailguard.ledger.fields import check_generation, check_name, show
from tailguard.ledger.ingest.base import BadItem, IngestOptions, Item, Reader
from tailguard.ledger.ingest.formats import (
    INGEST_FORMATS,
    IngestFormat,
    check_format_options,
    check_input_kind,
    detect_format,
    get_ingest_format,
    register_ingest_format,
    validate_ingest_format,
)
from tailguard.ledger.types import ORIGINS, IngestReport

if TYPE_CHECKING:
    from tailguard.ledger.store import Ledger

__all__ = ["INGEST_FORMATS", "BadItem", "IngestFormat", "IngestOptions", "Item", "Reader", "detect_format",
           "get_ingest_format", "open_reader", "register_ingest_format", "run_ingest", "validate_ingest_format"]


def open_reader(path: Path, fmt: str, options: IngestOptions) -> Reader:
    """The item reader of the format ``fmt`` for ``path``, after refusing flags the format does not take
    (``--task`` outside ``yolo``, the column flags outside ``hf``) and the wrong kind of input."""
    chosen = get_ingest_format(fmt)
    check_format_options(chosen, options)
    check_input_kind(chosen, path)
    return chosen.open(path, options)


def run_ingest(
    ledger: Ledger,
    path: str | Path | Any,
    *,
    format: str = "auto",
    origin: str | None = None,
    generator: str | None = None,
    generation: int | None = None,
    verified_by: str | None = None,
    as_version: str | None = None,
    skip_bad: bool = False,
    progress: bool | Callable[[int], None] = False,
    text_column: str | None = None,
    task: str | None = None,
    origin_column: str | None = None,
    generator_column: str | None = None,
    generation_column: str | None = None,
) -> IngestReport:
    """Ingest ``path`` atomically (see module doc). Returns an :class:`IngestReport`.

    ``text_column`` (CSV, Parquet): the column whose cells become text samples; ``None``
    means a string column named ``text`` when there is one, ``""`` means none. The flags
    are validated like the fields they stand for (:mod:`tailguard.ledger.fields`). ``task``
    (YOLO datasets): ``detect``, ``segment``, ``classify``, ``pose`` or ``obb``; ``None`` reads
    data.yaml's ``task`` (``kpt_shape``: pose), a ``train/<class>/`` layout as classify, else infers
    it from the label lines. ``origin_column``, ``generator_column``, ``generation_column`` (format
    ``hf``): the columns of each row's provenance (:mod:`tailguard.ledger.ingest.hf`).

    ``path`` may also be a ``datasets`` ``Dataset``, ``DatasetDict`` or ``IterableDataset``, or a
    ``pyarrow.Table`` (format ``auto`` or ``hf``): read a batch of rows at a time, like a saved one.
    """
    in_memory = not isinstance(path, str | os.PathLike)
    if format != "auto":
        get_ingest_format(format)  # an unknown name: one line with the nearest names
    if origin is not None and origin not in ORIGINS:
        raise UnknownChoiceError("origin", origin, ORIGINS)
    generation = check_generation(generation, "--generation")
    generator = check_name(generator, "--generator")
    verified_by = check_name(verified_by, "--verified-by")
    columns = {"text_column": text_column, "origin_column": origin_column, "generator_column": generator_column,
               "generation_column": generation_column}
    for key, value in columns.items():
        if value is not None and not isinstance(value, str):
            raise ParameterError(f"The '{key}' parameter of ingest must be a column name. Got {show(value)}.")
    if in_memory:
        if format not in ("auto", "hf"):
            raise ParameterError(f"an in-memory dataset is read as format 'hf'. Got format {format!r}.")
        return _ingest_object(ledger, path, IngestOptions(origin, generator, generation, verified_by, text_column,
                                                          task, origin_column, generator_column, generation_column),
                              origin=origin, as_version=as_version, skip_bad=skip_bad, progress=progress)
    path = Path(path)
    if not path.exists():
        raise MissingInputError("no such file or folder", path=str(path))
    if task is not None:
        from tailguard.tasks import TASKS

        if task not in TASKS:
            raise UnknownChoiceError("task", task, TASKS)
    fmt = detect_format(path) if format == "auto" else format
    options = IngestOptions(origin, generator, generation, verified_by, text_column, task, origin_column,
                            generator_column, generation_column)
    reader = open_reader(path, fmt, options)
    return _write(ledger, reader, str(path.resolve()), fmt, f"ingest {path.name}", origin=origin,
                  as_version=as_version, skip_bad=skip_bad, progress=progress)


def _ingest_object(ledger: Ledger, obj: Any, options: IngestOptions, *, origin: str | None, as_version: str | None,
                   skip_bad: bool, progress: bool | Callable[[int], None]) -> IngestReport:
    from tailguard.ledger.ingest.hf import read_object

    if options.task is not None:
        raise ParameterError("--task applies to --format yolo only. Got an in-memory dataset.")
    from tailguard.integrations.huggingface.batches import dataset_name
    from tailguard.ledger.ingest.hf import is_arrow_table

    if is_arrow_table(obj):
        name = f"arrow:Table({obj.num_rows} rows)"
    elif type(obj).__name__ == "DataFrame" and type(obj).__module__.startswith("pandas"):
        name = f"pandas:DataFrame({len(obj)} rows)"
    else:
        name = dataset_name(obj)
    return _write(ledger, read_object(obj, options, name), name, "hf", f"ingest {name}", origin=origin,
                  as_version=as_version, skip_bad=skip_bad, progress=progress)


def _write(ledger: Ledger, reader: Reader, where: str, fmt: str, label: str, *, origin: str | None,
           as_version: str | None, skip_bad: bool, progress: bool | Callable[[int], None]) -> IngestReport:
    tick, close_progress = _progress(progress, label)
    checked = get_ingest_format(fmt).validates_provenance
    try:
        with ledger.write(path=where, fmt=fmt, origin=origin, as_version=as_version,
                          progress=tick) as writer:
            for entry in reader:
                if isinstance(entry, BadItem):
                    if not skip_bad:
                        raise entry.error
                    writer.skip(entry.item, str(entry.error))
                    continue
                writer.add(entry.sample, sample_id=entry.sample_id, item=entry.item, class_names=entry.class_names,
                           conflicts=entry.conflicts, validated=checked)
    finally:
        close_progress()
    assert writer.report is not None
    return writer.report


def _progress(progress: bool | Callable[[int], None], label: str) -> tuple[Callable[[int], None], Callable[[], None]]:
    if callable(progress):
        return progress, lambda: None
    if not progress:
        return (lambda _n: None), lambda: None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TimeElapsedColumn

    bar = Progress(SpinnerColumn(), "[progress.description]{task.description}", BarColumn(),
                   MofNCompleteColumn(), TimeElapsedColumn(), transient=True)
    task = bar.add_task(label, total=None)
    bar.start()
    return (lambda n: bar.advance(task, n)), bar.stop
