"""Ingest CSV or Parquet tables: one sample per row.

- **Tabular rows.** The row, minus the provenance columns (``origin``, ``generator``,
  ``generation``, ``verified_by``, ``parents``), is stored inline as canonical JSON
  (sorted keys); its hash is the id. Values are typed: numbers are JSON numbers, empty
  cells are null, NaN is null, and an infinite value makes the row a bad item.
- **Text rows.** A table with a text column (``text_column``; by default a string column
  named ``text``) gives one ``text`` sample per row. The cell's UTF-8 text is the content,
  so tailguard's own Parquet export re-ingests to the same ids; the other columns go to
  ``extra``.

CSV is parsed by ``pyarrow.csv`` in two passes: the first types each column (int, float or
text; a column holding both numbers and words is refused, naming it and the lines), the
second yields the rows. Provenance and text columns stay strings (a generator named
``123`` is a name). Errors name ``file:line`` with physical line numbers (the header is
line 1; blank lines and newlines inside quoted values count). In a CSV ``parents`` cell
the sample ids are separated by spaces, commas or semicolons.
"""

from __future__ import annotations

import base64
import json
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from tailguard.errors import (
    BadInputError,
    CorruptFileError,
    MixedColumnTypeError,
    NonFiniteValueError,
    TailguardError,
    TextFormatError,
    UnknownChoiceError,
)
from tailguard.ledger.fields import check_nesting, check_text, show
from tailguard.ledger.hashing import content_id
from tailguard.ledger.ingest.base import (
    PROVENANCE_FIELDS,
    BadItem,
    IngestOptions,
    Item,
    Reader,
    claim,
    record_provenance,
)
from tailguard.ledger.ingest.formats import IngestFormat, register_ingest_format
from tailguard.ledger.types import NewSample

if TYPE_CHECKING:
    import pyarrow as pa

TEXT_COLUMN = "text"
_BLOCK = 16 << 20  # a row (a long text cell) must fit in one block
_INT = r"^\s*[-+]?[0-9]{1,18}\s*$"  # 18 digits always fit int64; longer integers are read as floats
_FLOAT = r"^\s*[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?\s*$|^\s*[-+]?(?i:nan|inf|infinity)\s*$"
_BREAK = r"\r\n|\r|\n"
_ID_SEP = re.compile(r"[\s,;]+")
_GENERATION = re.compile(r"\s*[-+]?[0-9]{1,30}\s*")


# ---------------------------------------------------------------------------------------- rows
def _json_value(value: Any, column: str, where: str, line: int) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        if math.isnan(value):
            return None
        raise NonFiniteValueError(f"column {column!r} holds {value}", path=where, line=line)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    return value


def _text_column(names: list[str], option: str | None, where: str, is_text: Callable[[str], bool]) -> str | None:
    """The column whose cells are text samples, or None for tabular rows."""
    if option == "":
        return None
    if option is None:
        return TEXT_COLUMN if TEXT_COLUMN in names and is_text(TEXT_COLUMN) else None
    if option not in names:
        raise UnknownChoiceError("text column", option, names, path=where)
    if not is_text(option):
        raise BadInputError(f"the text column {option!r} does not hold strings", path=where)
    return option


def row_item(row: dict[str, Any], line: int, path: Path, options: IngestOptions, text_column: str | None) -> Item:
    """The sample of one table row (typed values); raises a typed error naming ``path:line``."""
    where = str(path)
    item = f"{where}:{line}"
    prov = record_provenance(row, options, path=where, line=line)
    claimed, conflicts = claim(prov.origin, options, item)
    data = {k: _json_value(v, k, where, line) for k, v in row.items() if k not in PROVENANCE_FIELDS
            and k != text_column}
    check_nesting(data, "row", path=where, line=line)
    if text_column is None:
        content = json.dumps(data, sort_keys=True, default=str, separators=(",", ":")).encode()
        modality, extra = "tabular", {"row": line}
    else:
        text = row.get(text_column)
        if not isinstance(text, str):
            raise TextFormatError(f"the text column {text_column!r} is empty", path=where, line=line)
        content = check_text(text, repr(text_column), path=where, line=line)
        modality, extra = "text", data | {"row": line}
    sample = NewSample(
        content=content, uri=None, modality=modality, origin=claimed or "unknown", generator=prov.generator,
        generation=prov.generation, parents=prov.parents, source=str(path.resolve()),
        verified_by=prov.verified_by, extra=extra,
    )
    return Item(sample, item, content_id(content), conflicts=conflicts)


def _safe_row(row: dict[str, Any], line: int, path: Path, options: IngestOptions,
              text_column: str | None) -> Item | BadItem:
    try:
        return row_item(row, line, path, options, text_column)
    except TailguardError as exc:
        return BadItem(f"{path}:{line}", exc)


def _check_unique(names: list[str], where: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise BadInputError(f"column {name!r} appears twice in the header", path=where)
        seen.add(name)


# ----------------------------------------------------------------------------------------- CSV
class _Lines:
    """Physical line numbers of the records pyarrow reads: blank lines skipped, quoted newlines spanned."""

    def __init__(self, handle: IO[str]):
        self._handle = handle  # opened with newline=None: \n, \r\n and \r end lines, as for pyarrow
        self.line = 0

    def take(self, breaks: int) -> int:
        """The first line of the next record, which spans ``breaks + 1`` lines."""
        for text in self._handle:
            self.line += 1
            if text != "\n":
                break
        start = self.line
        for _ in range(breaks):
            next(self._handle, None)
            self.line += 1
        return start


@dataclass
class _Invalid:
    breaks: int
    expected: int
    actual: int


_Bad = tuple[int, int, _Invalid]  # position in its batch, line, the row


@dataclass
class _Kind:
    """What one CSV column holds so far: the first number and the first word seen (line, value)."""

    number: tuple[int, str] | None = None
    word: tuple[int, str] | None = None
    is_float: bool = False


def _csv_error(path: Path, exc: Exception) -> TailguardError:
    """The typed error of a CSV that pyarrow refused; bytes that are not UTF-8 are named by line."""
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError as err:
                return CorruptFileError(f"not valid UTF-8 ({err.reason} at byte {err.start} of the line)",
                                        path=str(path), line=number)
    text = str(exc)
    return CorruptFileError(f"malformed CSV ({text.splitlines()[0] if text else type(exc).__name__})",
                            path=str(path))


def _open_csv(path: Path, column_types: dict[str, Any] | None, on_invalid: Callable[[Any], str]) -> Any:
    import pyarrow.csv as pacsv

    convert = pacsv.ConvertOptions(column_types=column_types or {}, strings_can_be_null=True, null_values=[""],
                                   quoted_strings_can_be_null=True)
    return pacsv.open_csv(
        path,
        read_options=pacsv.ReadOptions(use_threads=False, block_size=_BLOCK),
        parse_options=pacsv.ParseOptions(newlines_in_values=True, invalid_row_handler=on_invalid),
        convert_options=convert,
    )


def _is_blank(path: Path) -> bool:
    with open(path, "rb") as handle:
        return all(not raw.strip() for raw in handle)


def _trimmed(column: Any) -> Any:
    """Cells without surrounding whitespace; blank cells become null (in a number column they are empty)."""
    import pyarrow.compute as pc

    trimmed = pc.utf8_trim_whitespace(column)
    return pc.if_else(pc.equal(trimmed, ""), None, trimmed)


def _breaks(batch: Any) -> list[int]:
    import numpy as np
    import pyarrow.compute as pc

    total = np.zeros(batch.num_rows, dtype=np.int64)
    for column in batch.columns:
        total += pc.fill_null(pc.count_substring_regex(column, _BREAK), 0).to_numpy(zero_copy_only=False)
    return total.tolist()


class _CsvTable:
    """A CSV file read as strings by pyarrow, with its column kinds and invalid rows (pass 1)."""

    def __init__(self, path: Path, text_column_option: str | None):
        import pyarrow as pa

        self.path = path
        self.where = str(path)
        try:
            reader = _open_csv(path, None, lambda _row: "skip")
            self.names = [str(n) for n in reader.schema.names]
            reader.close()
        except (pa.ArrowException, UnicodeDecodeError) as exc:
            if _is_blank(path):
                self.names = []
                return
            raise _csv_error(path, exc) from None
        _check_unique(self.names, self.where)
        self.text_column = _text_column(self.names, text_column_option, self.where, lambda _name: True)
        untyped = set(PROVENANCE_FIELDS) | {self.text_column}
        self.typed = [n for n in self.names if n not in untyped]
        self.invalid: dict[int, _Invalid] = {}
        self.kinds = self._scan()

    def _batches(self, on_invalid: Callable[[Any], str]) -> Iterator[Any]:
        import pyarrow as pa

        try:
            reader = _open_csv(self.path, {n: pa.string() for n in self.names}, on_invalid)
            try:
                yield from reader
            finally:
                reader.close()
        except (pa.ArrowException, UnicodeDecodeError) as exc:
            raise _csv_error(self.path, exc) from None

    def records(self, on_invalid: Callable[[Any], str]) -> Iterator[tuple[Any, list[int], list[_Bad]]]:
        """Each batch of strings with the first line of each of its rows, and the rows with the wrong
        number of fields met on the way as ``(position in the batch, line, row)``; the last item has no batch.

        In the first pass ``on_invalid`` fills ``self.invalid`` (pyarrow calls it while it parses a
        block, before that block's rows are yielded).
        """
        with open(self.path, encoding="utf-8", errors="replace", newline=None) as handle:
            lines = _Lines(handle)
            lines.take(sum(len(re.findall(_BREAK, n)) for n in self.names))  # the header
            number = 1  # pyarrow numbers the records: header 1, blank lines not counted
            for batch in self._batches(on_invalid):
                starts: list[int] = []
                bad: list[_Bad] = []
                for breaks in _breaks(batch):
                    number += 1
                    while number in self.invalid:
                        bad.append((len(starts), lines.take(self.invalid[number].breaks), self.invalid[number]))
                        number += 1
                    starts.append(lines.take(breaks))
                yield batch, starts, bad
            trailing = sorted(n for n in self.invalid if n > number)
            yield None, [], [(0, lines.take(self.invalid[n].breaks), self.invalid[n]) for n in trailing]

    def _scan(self) -> dict[str, _Kind]:
        import pyarrow.compute as pc

        def on_invalid(row: Any) -> str:
            breaks = len(re.findall(_BREAK, row.text or ""))
            self.invalid[int(row.number)] = _Invalid(breaks, row.expected_columns, row.actual_columns)
            return "skip"

        kinds = {name: _Kind() for name in self.typed}
        for batch, starts, _bad in self.records(on_invalid):
            if batch is None:
                continue
            for name in self.typed:
                column = _trimmed(batch.column(name))
                numeric = pc.match_substring_regex(column, _FLOAT)  # null where the cell is empty
                kind = kinds[name]
                for flag in (True, False):
                    if (kind.number if flag else kind.word) is None:
                        index = pc.index(numeric, flag).as_py()
                        if index >= 0:
                            seen = (starts[index], str(column[index].as_py()))
                            kind.number, kind.word = (seen, kind.word) if flag else (kind.number, seen)
                if kind.number is not None and kind.word is not None:
                    (a, va), (b, vb) = sorted([kind.number, kind.word])
                    raise MixedColumnTypeError(
                        f"column {name!r} mixes numbers and text (line {a} holds {show(va)}, line {b} holds "
                        f"{show(vb)}); a column must hold only numbers or only text", path=self.where, line=b)
                if kind.number is not None and not kind.is_float:
                    kind.is_float = bool(pc.any(pc.invert(pc.match_substring_regex(column, _INT))).as_py())
        return kinds

    def column_values(self, batch: Any, name: str) -> list[Any]:
        """The typed Python values of one column of a string batch."""
        import pyarrow as pa
        import pyarrow.compute as pc

        column = batch.column(name)
        kind = self.kinds.get(name)
        if kind is None or kind.number is None:
            return column.to_pylist()
        trimmed = _trimmed(column)
        if kind.is_float:
            return pc.cast(trimmed, pa.float64()).to_pylist()
        return pc.cast(pc.replace_substring_regex(trimmed, r"^\+", ""), pa.int64()).to_pylist()


def _generation_cell(value: Any) -> Any:
    return int(value) if isinstance(value, str) and _GENERATION.fullmatch(value) else value


def _parents_cell(value: Any) -> Any:
    return [p for p in _ID_SEP.split(value) if p] if isinstance(value, str) else value


def read_csv(path: Path, options: IngestOptions) -> Reader:
    """Rows of a CSV file with a header line (line numbers count the header as line 1)."""
    table = _CsvTable(path, options.text_column)
    if not table.names:
        return
    width = len(table.names)
    for batch, starts, bad in table.records(lambda _row: "skip"):
        columns = {} if batch is None else {name: table.column_values(batch, name) for name in table.names}
        pending = iter(bad)
        next_bad = next(pending, None)
        for index in range(len(starts) + 1):
            while next_bad is not None and next_bad[0] == index:
                _, line, invalid = next_bad
                yield BadItem(f"{path}:{line}", BadInputError(
                    f"expected {width} fields like the header, got {invalid.actual}", path=str(path), line=line))
                next_bad = next(pending, None)
            if index == len(starts):
                break
            row = {name: values[index] for name, values in columns.items()}
            if "generation" in row:
                row["generation"] = _generation_cell(row["generation"])
            if "parents" in row:
                row["parents"] = _parents_cell(row["parents"])
            yield _safe_row(row, starts[index], path, options, table.text_column)


# ------------------------------------------------------------------------------------- Parquet
def _parquet_batches(path: Path) -> tuple[Any, Iterator[Any]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        handle = pq.ParquetFile(path)
        schema = handle.schema_arrow
    except Exception as exc:
        raise CorruptFileError(f"not a readable Parquet file ({str(exc).splitlines()[0]})", path=str(path)) from None

    def batches() -> Iterator[Any]:
        try:
            yield from handle.iter_batches(batch_size=10_000)
        except (pa.ArrowException, OSError, ValueError) as exc:
            raise CorruptFileError(f"not a readable Parquet file ({str(exc).splitlines()[0]})",
                                   path=str(path)) from None

    return schema, batches()


def _is_string(schema: pa.Schema, name: str) -> bool:
    import pyarrow as pa

    kind = schema.field(name).type
    return bool(pa.types.is_string(kind) or pa.types.is_large_string(kind)
                or getattr(pa.types, "is_string_view", lambda _t: False)(kind))


def _pandas_index_columns(schema: Any) -> set[str]:
    """Columns pandas wrote for a DataFrame's index (``__index_level_0__`` ...), from the file's metadata."""
    try:
        meta = schema.pandas_metadata or {}
    except (ValueError, TypeError):  # malformed metadata: read every column
        return set()
    return {c for c in meta.get("index_columns", []) if isinstance(c, str)}


def read_parquet(path: Path, options: IngestOptions) -> Reader:
    """Rows of a Parquet file (row numbers start at 1)."""
    schema, batches = _parquet_batches(path)
    where = str(path)
    index = _pandas_index_columns(schema)  # a DataFrame's stored index is not data
    names = [str(n) for n in schema.names if str(n) not in index]
    _check_unique(names, where)
    text_column = _text_column(names, options.text_column, where, lambda name: _is_string(schema, name))
    number = 0
    for batch in batches:
        try:
            rows = batch.to_pylist()
        except (UnicodeDecodeError, ValueError) as exc:
            raise CorruptFileError(f"unreadable rows after row {number} ({exc})", path=where) from None
        for row in rows:
            number += 1
            row = {str(k): v for k, v in row.items() if str(k) not in index}
            if isinstance(row.get("parents"), str):
                row["parents"] = _parents_cell(row["parents"])
            yield _safe_row(row, number, path, options, text_column)


@register_ingest_format
class CsvFormat(IngestFormat):
    """``--format csv``: a CSV table, a row a sample."""

    name = "csv"
    suffixes = (".csv",)
    validates_provenance = True
    input = "file"
    summary = "a CSV table"

    def open(self, path: Path, options: IngestOptions) -> Reader:
        return read_csv(path, options)


@register_ingest_format
class ParquetFormat(IngestFormat):
    """``--format parquet``: a Parquet table, a row a sample."""

    name = "parquet"
    suffixes = (".parquet", ".pq")
    validates_provenance = True
    input = "file"
    summary = "a Parquet table"

    def open(self, path: Path, options: IngestOptions) -> Reader:
        return read_parquet(path, options)
