"""Hugging Face ``datasets`` objects as Arrow batches, split by split.

``datasets`` is imported only by :func:`load_local` (and by nothing else here: the objects
passed in already carry it), through :func:`tailguard.dependencies.require`, so a missing
install is one line naming ``pip install 'tailguard[hf]'``.

A ``Dataset`` is read with ``with_format("arrow").iter(batch_size=...)``, which honours
its indices mapping (``select``, ``shuffle``, ``filter``) and hands over Arrow tables of
``batch_size`` rows: the rows are never all Python objects at once.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tailguard.errors import BadInputError, EmptyDatasetError, MissingInputError, UnknownChoiceError
from tailguard.ledger.ingest.hf import BATCH_ROWS, SplitBatches

#: Local data files read through ``datasets.load_dataset(BUILDER, data_files=...)``, by suffix.
BUILDERS = {".parquet": "parquet", ".pq": "parquet", ".json": "json", ".jsonl": "json", ".ndjson": "json",
            ".csv": "csv", ".txt": "text"}
DATASET_KINDS = ("Dataset", "DatasetDict", "IterableDataset", "IterableDatasetDict")


def dataset_kind(obj: Any) -> str | None:
    """``Dataset``, ``DatasetDict``, ``IterableDataset`` or ``IterableDatasetDict`` for a ``datasets``
    object (by its class, without importing ``datasets``), else None.

    >>> dataset_kind([1, 2]) is None
    True
    """
    for cls in type(obj).__mro__:
        if cls.__module__.split(".")[0] == "datasets" and cls.__name__ in DATASET_KINDS:
            return cls.__name__
    return None


def _schema(ds: Any) -> Any:
    features = getattr(ds, "features", None)
    return features.arrow_schema if features is not None else None


def _dataset(ds: Any, split: str | None) -> SplitBatches:
    batches = ds.with_format("arrow").iter(batch_size=BATCH_ROWS)
    return SplitBatches(split, _schema(ds), batches)


def _iterable(ds: Any, split: str | None) -> SplitBatches:
    """An ``IterableDataset``: Arrow batches where it can give them, else column lists of ``BATCH_ROWS`` rows;
    the schema from its features, or from the first batch when it declares none."""
    import pyarrow as pa

    try:
        batches: Iterator[Any] = iter(ds.with_format("arrow").iter(batch_size=BATCH_ROWS))
        first = next(batches, None)
    except (AttributeError, NotImplementedError, TypeError, ValueError):  # no Arrow iteration in this version
        batches = iter(ds.iter(batch_size=BATCH_ROWS))
        first = next(batches, None)
    schema = _schema(ds)
    if first is None:
        return SplitBatches(split, schema if schema is not None else pa.schema([]), iter(()))
    table = pa.Table.from_pydict(first) if isinstance(first, dict) else first
    return SplitBatches(split, schema if schema is not None else table.schema, itertools.chain([table], batches))


def dataset_splits(obj: Any) -> list[SplitBatches]:
    """The splits of a ``datasets`` object as Arrow batches; a typed error for anything else."""
    kind = dataset_kind(obj)
    if kind is None:
        raise BadInputError(f"cannot ingest a {type(obj).__name__}: pass a path, a datasets Dataset, DatasetDict "
                            "or IterableDataset, or a pyarrow Table", path="dataset")
    if kind in ("DatasetDict", "IterableDatasetDict"):
        if not len(obj):
            raise EmptyDatasetError(f"the {kind} has no splits", path="dataset")
        read = _dataset if kind == "DatasetDict" else _iterable
        return [read(ds, str(name)) for name, ds in obj.items()]
    split = getattr(obj, "split", None)
    split_name = str(split) if split is not None else None
    return [_dataset(obj, split_name) if kind == "Dataset" else _iterable(obj, split_name)]


def dataset_name(obj: Any) -> str:
    """How an in-memory dataset is named in errors and recorded as its samples' source:
    ``hf:<dataset name or class>@<fingerprint>`` (the fingerprint of its first split).

    >>> dataset_name(object())
    'hf:object'
    """
    first = next(iter(obj.values()), None) if hasattr(obj, "values") and callable(obj.values) else obj
    info = getattr(first, "info", None)
    label = getattr(info, "dataset_name", None) or getattr(info, "builder_name", None) or type(obj).__name__
    fingerprint = getattr(first, "_fingerprint", None)
    return f"hf:{label}@{fingerprint}" if fingerprint else f"hf:{label}"


def load_local(path: Path) -> Any:
    """A ``save_to_disk`` folder (``datasets.load_from_disk``) or local data files
    (``datasets.load_dataset("parquet"|"json"|"csv"|"text", data_files=...)``); nothing is downloaded."""
    from tailguard.dependencies import require

    path = Path(path)
    if not path.exists():
        raise MissingInputError("no such file or folder", path=str(path))
    if path.is_dir():
        if not ((path / "dataset_dict.json").is_file() or (path / "state.json").is_file()):
            raise MissingInputError("not a datasets save_to_disk folder (no dataset_dict.json or state.json)",
                                    path=str(path))
        datasets = require("datasets", extra="hf", feature="--format hf")
        try:
            return datasets.load_from_disk(str(path))
        except Exception as exc:  # datasets' own error types differ across versions
            raise BadInputError(f"cannot read the saved dataset ({str(exc).splitlines()[0]})", path=str(path)) from None
    builder = BUILDERS.get(path.suffix.lower())
    if builder is None:
        raise UnknownChoiceError("file suffix for --format hf", path.suffix or "(none)", BUILDERS, path=str(path))
    datasets = require("datasets", extra="hf", feature="--format hf")
    try:
        return datasets.load_dataset(builder, data_files=str(path))
    except Exception as exc:  # e.g. DatasetGenerationError, which is no OSError or ValueError
        raise BadInputError(f"datasets cannot read it as {builder} ({str(exc).splitlines()[0]})",
                            path=str(path)) from None
