"""Ingest Hugging Face datasets (and any Arrow table) a batch of rows at a time.

The rows arrive as Arrow record batches: from a ``datasets.Dataset``, ``DatasetDict`` or
``IterableDataset`` (see :mod:`tailguard.integrations.huggingface.batches`), from a
``save_to_disk`` folder or local ``parquet``/``json``/``csv``/``text`` data files
(``--format hf``), or from a ``pyarrow.Table``. Only one batch (10,000 rows) is turned
into Python values at a time, so a million-row dataset never is all at once.

**Columns.** Each row is one sample:

- the text column (``text_column``; by default a string column named ``text``) makes it a
  ``text`` sample whose content is the cell's UTF-8 text (the other columns go to
  ``extra``); without one the row (minus the provenance columns) is a ``tabular`` sample
  stored as canonical JSON, as a CSV or Parquet row is;
- provenance comes per row from ``origin_column``, ``generator_column`` (distilabel
  writes ``model_name``) and ``generation_column``; by default from the columns
  ``tg_origin``/``origin``, ``tg_generator``/``generator`` and ``tg_generation``/``generation``
  when present (tailguard's own export writes the ``tg_`` ones). A null cell, or no such
  column, takes the ``--origin``/``--generator``/``--generation`` flag's value; a whole float
  generation (pandas stores an int column with gaps as floats) is read as its int. ``""``
  means no column. ``tg_sample_id`` (written by the export) is checked against the
  row's content.

**Splits.** As for a YOLO dataset (train/val/test folders become one version whose
samples carry ``extra["split"]``), every split of a ``DatasetDict`` goes into the one
ingest (and version) and each sample records its split name, as given (``train``,
``validation``, ``test``, ...). A single ``Dataset`` records its ``split`` when it has
one. ``tailguard export --format hf`` writes the splits back as a ``DatasetDict``.

**Errors** name the dataset, the split and the row index as ``dataset[split][index]``
takes it (from 0): ``data/hf[train]:3: Unknown origin 'human-ish' ...``. A missing
column or a text column that does not hold strings is refused before any row is read.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from tailguard.errors import BadInputError, TailguardError, UnknownChoiceError
from tailguard.ledger.ingest.base import BadItem, IngestOptions, Item, Reader
from tailguard.ledger.ingest.formats import IngestFormat, register_ingest_format
from tailguard.ledger.ingest.tabular import row_item

#: Default provenance columns, first present wins: tailguard's own export columns, then plain names.
DEFAULT_COLUMNS: dict[str, tuple[str, ...]] = {
    "origin": ("tg_origin", "origin"),
    "generator": ("tg_generator", "generator"),
    "generation": ("tg_generation", "generation"),
    "verified_by": ("tg_verified_by", "verified_by"),
    "parents": ("tg_parents", "parents"),
}
ID_COLUMN = "tg_sample_id"
SPLIT_COLUMN = "tg_split"  # never read as data: a split is a DatasetDict key
BATCH_ROWS = 10_000


@dataclasses.dataclass(frozen=True)
class SplitBatches:
    """The Arrow batches of one split (``split`` None: a dataset without a split name)."""

    split: str | None
    schema: Any  # pyarrow.Schema
    batches: Iterable[Any]  # pyarrow.RecordBatch or pyarrow.Table, or dicts of column lists (IterableDataset)


def is_string_type(kind: Any) -> bool:
    """Whether an Arrow type holds strings.

    >>> import pyarrow as pa
    >>> is_string_type(pa.string()), is_string_type(pa.large_string()), is_string_type(pa.int64())
    (True, True, False)
    """
    import pyarrow as pa

    return bool(pa.types.is_string(kind) or pa.types.is_large_string(kind)
                or getattr(pa.types, "is_string_view", lambda _t: False)(kind))


@dataclasses.dataclass(frozen=True)
class ColumnMap:
    """Which column holds the text and each provenance field (None: none)."""

    text: str | None
    fields: dict[str, str]  # provenance field -> column

    def data_columns(self, names: Iterable[str]) -> list[str]:
        """The columns that are the sample's data (text mode: its ``extra``)."""
        taken = set(self.fields.values()) | {ID_COLUMN, SPLIT_COLUMN} | ({self.text} if self.text else set())
        return [n for n in names if n not in taken]


def _pick(option: str | None, field: str, names: list[str], where: str, flag: str) -> str | None:
    if option == "":
        return None
    if option is None:
        return next((c for c in DEFAULT_COLUMNS[field] if c in names), None)
    if option not in names:
        raise UnknownChoiceError(f"{flag} column", option, names, path=where)
    return option


def column_map(schema: Any, options: IngestOptions, where: str) -> ColumnMap:
    """The text and provenance columns of a dataset with ``schema``; a typed error naming ``where`` for a
    missing column or a text column of another type than strings.

    >>> import pyarrow as pa
    >>> schema = pa.schema([("text", pa.string()), ("model_name", pa.string()), ("tg_origin", pa.string())])
    >>> m = column_map(schema, IngestOptions(generator_column="model_name"), "ds")
    >>> m.text, m.fields
    ('text', {'origin': 'tg_origin', 'generator': 'model_name'})
    >>> column_map(schema, IngestOptions(text_column="body"), "ds")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    tailguard.errors.UnknownChoiceError: ds: Unknown text column 'body'. ...
    """
    names = [str(n) for n in schema.names]
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise BadInputError(f"column {name!r} appears twice", path=where)
        seen.add(name)
    text = options.text_column
    if text is None:
        text = "text" if "text" in names and is_string_type(schema.field("text").type) else None
    elif text == "":
        text = None
    elif text not in names:
        raise UnknownChoiceError("text column", text, names, path=where)
    elif not is_string_type(schema.field(text).type):
        raise BadInputError(f"the text column {text!r} holds {schema.field(text).type}, not strings "
                            "(pass --text-column to choose another, or '' to ingest the rows as tables)", path=where)
    options_by_field = {"origin": (options.origin_column, "origin"),
                        "generator": (options.generator_column, "generator"),
                        "generation": (options.generation_column, "generation"),
                        "verified_by": (None, "verified_by"), "parents": (None, "parents")}
    fields: dict[str, str] = {}
    for field, (option, flag) in options_by_field.items():
        column = _pick(option, field, names, where, flag)
        if column is not None:
            if column == text:
                raise BadInputError(f"column {column!r} cannot be both the text and the {field} column", path=where)
            fields[field] = column
        if field in names and fields.get(field) != field:  # a column named like the field would be read as it
            raise BadInputError(f"column {field!r} is named like the {field} field but is not read as it "
                                f"({'--' + flag + '-column says ' + repr(column) if column else 'no ' + field + ' column'}); "
                                "rename it or pass it as the column", path=where)
    return ColumnMap(text, fields)


def _as_table(batch: Any) -> Any:
    import pyarrow as pa

    if isinstance(batch, dict):  # an IterableDataset without Arrow formatting yields column lists
        return pa.Table.from_pydict(batch)
    return batch


def read_splits(splits: Iterable[SplitBatches], options: IngestOptions, *, where: str, source: str) -> Reader:
    """Yield one item per row of every split, a batch at a time (see the module doc).

    ``where`` names the dataset in errors and items; ``source`` is recorded as each sample's source.
    """
    for part in splits:
        label = f"{where}[{part.split}]" if part.split is not None else where
        columns = column_map(part.schema, options, label)
        index = 0
        for raw in part.batches:
            batch = _as_table(raw)
            if columns.text is not None and not is_string_type(batch.schema.field(columns.text).type):
                raise BadInputError(f"the text column {columns.text!r} holds {batch.schema.field(columns.text).type}, "
                                    "not strings", path=label)
            data = columns.data_columns(str(n) for n in batch.schema.names)
            values = {name: batch.column(name).to_pylist() for name in batch.schema.names}
            for row_index in range(batch.num_rows):
                yield _row(values, row_index, index, columns, data, part.split, options, label, source)
                index += 1


def _row(values: dict[str, list[Any]], at: int, index: int, columns: ColumnMap, data: list[str],
         split: str | None, options: IngestOptions, label: str, source: str) -> Item | BadItem:
    row: dict[str, Any] = {name: values[name][at] for name in data}
    for field, column in columns.fields.items():
        row[field] = values[column][at]
    generation = row.get("generation")
    if isinstance(generation, float) and generation.is_integer():  # pandas stores an int column with gaps as float
        row["generation"] = int(generation)
    if columns.text is not None:
        row[columns.text] = values[columns.text][at]
    try:
        item = row_item(row, index, Path(label), options, columns.text)
        expected = values[ID_COLUMN][at] if ID_COLUMN in values else None
        if expected is not None and expected != item.sample_id:
            raise BadInputError(f"{ID_COLUMN} {str(expected)[:16]}... does not match the row's content "
                                f"({str(item.sample_id)[:16]}...): edited after export? Drop the {ID_COLUMN} "
                                "column to ingest edited rows as new samples", path=label, line=index)
    except TailguardError as exc:
        return BadItem(f"{label}:{index}", exc)
    extra = dict(item.sample.extra)
    extra.pop("row", None)
    extra["row"] = index
    if split is not None:
        extra["split"] = split
    item.sample = dataclasses.replace(item.sample, source=source, extra=extra)
    return item


def table_splits(table: Any, split: str | None = None) -> list[SplitBatches]:
    """A ``pyarrow.Table`` as one split of record batches.

    >>> import pyarrow as pa
    >>> parts = table_splits(pa.table({"text": ["a", "b"]}))
    >>> [p.split for p in parts], sum(b.num_rows for b in parts[0].batches)
    ([None], 2)
    """
    return [SplitBatches(split, table.schema, table.to_batches(max_chunksize=BATCH_ROWS))]


def read_hf(path: Path, options: IngestOptions) -> Reader:
    """``--format hf``: a ``save_to_disk`` folder, or local data files read by ``datasets.load_dataset``."""
    from tailguard.integrations.huggingface.batches import dataset_splits, load_local

    dataset = load_local(path)
    yield from read_splits(dataset_splits(dataset), options, where=str(path), source=str(path.resolve()))


def read_object(obj: Any, options: IngestOptions, name: str) -> Iterator[Item | BadItem]:
    """An in-memory ``datasets`` object, ``pyarrow.Table`` or pandas DataFrame (``name`` labels it in errors
    and sources)."""
    from tailguard.integrations.huggingface.batches import dataset_splits

    if type(obj).__name__ == "DataFrame" and type(obj).__module__.startswith("pandas"):
        import pyarrow as pa

        obj = pa.Table.from_pandas(obj, preserve_index=False)
    splits = table_splits(obj) if is_arrow_table(obj) else dataset_splits(obj)
    yield from read_splits(splits, options, where=name, source=name)



def is_arrow_table(obj: Any) -> bool:
    """Whether ``obj`` is a ``pyarrow.Table`` (checked without importing pyarrow for other objects).

    >>> import pyarrow as pa
    >>> is_arrow_table(pa.table({"a": [1]})), is_arrow_table([1])
    (True, False)
    """
    return type(obj).__module__.split(".")[0] == "pyarrow" and type(obj).__name__ == "Table"


@register_ingest_format
class HfFormat(IngestFormat):
    """``--format hf``: a ``datasets`` ``save_to_disk`` folder (picked by ``auto``) or data files ``datasets`` reads."""

    name = "hf"
    priority = 20
    validates_provenance = True
    options = ("origin_column", "generator_column", "generation_column")
    summary = "a Hugging Face dataset"

    def recognises(self, path: Path) -> bool:
        return path.is_dir() and ((path / "dataset_dict.json").is_file() or (path / "state.json").is_file())

    def open(self, path: Path, options: IngestOptions) -> Reader:
        return read_hf(path, options)
