"""Streaming sources: a file cut into shards that a worker reads, featurises and scales by itself.

A :class:`StreamSource` lists the shards of a candidate too large to hold in memory:

- ``.npy``: row ranges of a memory map (``np.load(mmap_mode="r")``);
- Parquet: row groups;
- JSONL / TXT: byte ranges, each starting at a line start (a line belongs to the shard its
  first byte falls in, so no line is read twice or lost);
- CSV / TSV: byte ranges the same way, with the header read once (one record per line:
  a quoted field holding a newline is refused with its line);
- an image folder: lists of files.

Each shard's ``load()`` returns the raw batch (rows of numbers, documents, image paths);
:class:`LazySide` then featurises it as :func:`~tailguard.audit.inputs.as_input` would
(the hashed text embedding is per document, so a shard's rows are the rows of the whole)
and scales it, *inside* the worker: on Ray the embedding happens on the workers and only
accumulator states travel back.

>>> import numpy as np, tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "x.npy")
>>> np.save(path, np.arange(10.0).reshape(5, 2))
>>> src = stream_source(path, shard_rows=2)
>>> src.modality, src.n, [len(s.load()) for s in src.shards]
('vectors', 5, [2, 2, 1])
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from tailguard.audit.inputs import AuditInput, as_input, check_vectors, table_view
from tailguard.audit.sources import IMAGE_SUFFIXES, TABULAR_EXPORT_LINES, TEXT_SUFFIXES, is_export, parse_document_line
from tailguard.errors import (
    BadInputError,
    CorruptFileError,
    EmptyDatasetError,
    MissingInputError,
    NonFiniteValueError,
    TextFormatError,
)

#: Rows per shard when none is given: a shard of 64-d float64 rows is about 50 MB.
DEFAULT_SHARD_ROWS = 100_000
#: Bytes per shard of a line-oriented file when rows are not counted in advance.
DEFAULT_SHARD_BYTES = 32 << 20


@dataclass(frozen=True)
class NpyShard:
    """Rows ``start:stop`` of a ``.npy`` file, read through a memory map."""

    path: str
    start: int
    stop: int

    def load(self) -> np.ndarray:
        rows = np.asarray(np.load(self.path, mmap_mode="r", allow_pickle=False)[self.start : self.stop],
                          dtype=np.float64)
        bad = np.flatnonzero(~np.isfinite(rows).all(axis=1))
        if bad.size:  # named by its row in the whole file, not in the shard
            raise NonFiniteValueError(f"row {self.start + int(bad[0])} holds NaN or infinite values", path=self.path)
        return check_vectors(rows, self.path)


@dataclass(frozen=True)
class ParquetShard:
    """One row group of a Parquet file: its numeric columns, or its documents."""

    path: str
    group: int
    text_column: str | None = None

    def load(self) -> Any:
        import pyarrow.parquet as pq

        try:
            frame = pq.ParquetFile(self.path).read_row_group(self.group).to_pandas()
        except Exception as exc:
            raise CorruptFileError(f"cannot read row group {self.group} ({type(exc).__name__}: {exc})",
                                   path=self.path) from None
        return table_view(frame, name=f"{self.path} row group {self.group}", text_column=self.text_column)


def _lines(path: str, start: int, stop: int) -> list[tuple[int, bytes]]:
    """``(byte offset, line)`` for every line whose first byte lies in ``[start, stop)``."""
    out = []
    with open(path, "rb") as f:
        if start > 0:
            f.seek(start - 1)
            f.readline()  # the rest of the line that began before this shard (or just its newline)
        pos = f.tell()
        while pos < stop:
            line = f.readline()
            if not line:
                break
            out.append((pos, line))
            pos += len(line)
    return out


def _line_number(path: str, offset: int) -> int:
    """1-based line number of the byte ``offset`` (counted only when an error needs it)."""
    with open(path, "rb") as f:
        return f.read(offset).count(b"\n") + 1


def _decode(path: str, offset: int, raw: bytes) -> str:
    try:
        return raw.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError as exc:
        raise TextFormatError(f"not valid UTF-8 at byte {offset + exc.start}", path=path,
                              line=_line_number(path, offset)) from None


@dataclass(frozen=True)
class LinesShard:
    """The documents of the lines starting in bytes ``[start, stop)`` of a JSONL or TXT file."""

    path: str
    start: int
    stop: int
    jsonl: bool

    def load(self) -> list[str]:
        docs = []
        for offset, raw in _lines(self.path, self.start, self.stop):
            text = _decode(self.path, offset, raw)
            try:
                doc = parse_document_line(text, path=self.path, line=0, jsonl=self.jsonl)
            except TextFormatError:  # count the line number only now, and say it
                parse_document_line(text, path=self.path, line=_line_number(self.path, offset), jsonl=self.jsonl)
                raise
            if doc is not None:
                docs.append(doc)
        return docs


@dataclass(frozen=True)
class CsvShard:
    """The records of the lines starting in bytes ``[start, stop)`` of a CSV/TSV file (header read once)."""

    path: str
    start: int
    stop: int
    header: tuple[str, ...]
    sep: str
    text_column: str | None = None

    def load(self) -> Any:
        import pandas as pd

        lines = _lines(self.path, self.start, self.stop)
        if not lines:
            return np.empty((0, 0))
        for off, raw in lines:  # one record per line, or shards would cut records apart
            if raw.count(b'"') % 2:
                raise BadInputError("a quoted field holds a line break, which a streamed CSV cannot split; "
                                    "audit it without --stream", path=self.path, line=_line_number(self.path, off))
        body = "".join(_decode(self.path, off, raw) + "\n" for off, raw in lines)
        try:
            frame = pd.read_csv(io.StringIO(body), sep=self.sep, names=list(self.header), header=None)
        except Exception as exc:
            raise CorruptFileError(f"cannot read rows ({type(exc).__name__}: {exc})", path=self.path,
                                   line=_line_number(self.path, lines[0][0])) from None
        line = _line_number(self.path, lines[0][0])
        return table_view(frame, name=self.path, text_column=self.text_column, line_offset=line)


@dataclass(frozen=True)
class ImageShard:
    """A list of image files."""

    paths: tuple[str, ...]

    def load(self) -> list[Path]:
        return [Path(p) for p in self.paths]


@dataclass(frozen=True)
class VersionShard:
    """The occurrences of a ledger version whose sample ids lie in ``after < id <= until``, read
    on the worker through the ledger URL (a path every worker of this machine can open, or a
    PostgreSQL server) and decoded as the in-memory audit of the version decodes them, with the
    audit's embedder and seed (``featurises``: :class:`LazySide` passes them).
    ``feature_names`` (a tabular version's columns, from its first shard) must come out the same."""

    ledger_url: str
    version: str
    after: str
    until: str | None
    feature_names: tuple[str, ...] | None = None
    featurises = True

    def load(self, *, embedder: str = "hashed", seed: int = 0) -> AuditInput:
        from tailguard.audit.sources import read_version, version_input

        pairs, class_names = read_version(self.version, self.ledger_url, (self.after, self.until))
        if not pairs:
            return AuditInput("vectors", 0, self.version)
        side = version_input(pairs, self.version, embedder=embedder, seed=seed, class_names=class_names)
        if self.feature_names is not None and side.feature_names != self.feature_names:
            raise BadInputError(f"the rows after sample {self.after!r} have the columns "
                                f"{list(side.feature_names or ())}, the version's first rows "
                                f"{list(self.feature_names)}", path=self.version)
        return side


def stream_version(version: str, ledger_url: str, *, shard_rows: int | None = None) -> StreamSource:
    """A ledger version as a streamed candidate: shards of about ``shard_rows`` occurrences cut at
    sample ids (:meth:`~tailguard.ledger.Ledger.version_cuts`), every occurrence read once, a
    repeated content as often as it occurs. Detection versions are audited in memory (their
    per-class statistics need every box at once)."""
    from tailguard.audit.sources import read_version, version_input, version_kind
    from tailguard.ledger import Ledger

    ledger = Ledger.open(ledger_url)
    try:
        info = ledger.get_version(version)  # a typed error naming an unknown version
        cuts = ledger.version_cuts(version, shard_rows or DEFAULT_SHARD_ROWS)
    finally:
        ledger.close()
    bounds = list(zip(["", *cuts], [*cuts, None], strict=True))
    pairs, _ = read_version(version, ledger_url, bounds[0])
    if not pairs:
        raise EmptyDatasetError("version holds no samples", path=version)
    kind = version_kind([r for r, _ in pairs], version)
    if kind == "detection":
        raise BadInputError("a detection version is audited in memory (its per-class statistics need every box): "
                            "leave out --stream", path=version)
    modality, names, dim = kind, None, None
    if kind in ("table", "vectors"):  # a table with a text column is documents
        side = version_input(pairs, version)
        modality, dim = side.modality, None if side.vectors is None else int(side.vectors.shape[1])
        names = side.feature_names if kind == "table" else None
    shards = tuple(VersionShard(ledger_url, version, a, b, names) for a, b in bounds)
    return StreamSource(version, modality, shards, n=info.n_members, dim=dim if modality == "vectors" else None)


@dataclass(frozen=True)
class StreamSource:
    """A candidate read shard by shard. ``n`` is the row count when the format knows it up front
    (``.npy``, Parquet, image folders, ledger versions), else ``None`` (line files are counted
    as they stream). ``low_estimate`` is, for line files, half the rows their first megabytes
    suggest: a count the file is all but sure to exceed, which lets samples be pruned on the
    way (a wrong one fails the audit with ``SampleShortfallError``, never a wrong sample)."""

    path: str
    modality: str
    shards: tuple[Any, ...]
    n: int | None = None
    dim: int | None = None
    low_estimate: int | None = None

    @property
    def n_hint(self) -> int | None:
        """The row count to prune samples for: ``n`` where known, else ``low_estimate``."""
        return self.n if self.n is not None else self.low_estimate

    @property
    def label(self) -> str:
        return self.path


def _low_row_estimate(path: Path, first: int, probe: int = 4 << 20) -> int | None:
    """Half the lines the first ``probe`` bytes after ``first`` suggest for the whole file; None
    when the probe is the whole file (its lines are then few enough to keep without pruning)."""
    size = path.stat().st_size
    if size - first <= probe:
        return None
    with open(path, "rb") as f:
        f.seek(first)
        lines = f.read(probe).count(b"\n")
    return max(1, int(lines * (size - first) / probe / 2))


def _byte_ranges(path: Path, first: int, shard_bytes: int) -> list[tuple[int, int]]:
    size = path.stat().st_size
    if size <= first:
        raise EmptyDatasetError("no records to audit", path=str(path))
    return list(itertools.pairwise([*range(first, size, shard_bytes), size]))


def stream_source(
    path: str | Path,
    *,
    shard_rows: int | None = None,
    shard_bytes: int | None = None,
    text_column: str | None = None,
) -> StreamSource:
    """The shards of the file or folder at ``path`` (see the module docstring).

    ``shard_rows`` sets the rows per shard where the format counts rows (default
    :data:`DEFAULT_SHARD_ROWS`); ``shard_bytes`` the bytes per shard of line files
    (default :data:`DEFAULT_SHARD_BYTES`). A Parquet file is cut at its row groups.
    """
    p = Path(path)
    name = str(p)
    if not p.exists():
        raise MissingInputError("no such file or folder", path=name)
    rows = shard_rows or DEFAULT_SHARD_ROWS
    step = shard_bytes or DEFAULT_SHARD_BYTES
    suffix = p.suffix.lower()
    if p.is_dir():
        images = sorted(str(q) for q in p.rglob("*") if q.suffix.lower() in IMAGE_SUFFIXES)
        if not images:
            raise BadInputError("a streamed folder must hold images (stream text as JSONL or TXT files)", path=name)
        shards = tuple(ImageShard(tuple(images[i : i + rows])) for i in range(0, len(images), rows))
        return StreamSource(name, "images", shards, n=len(images))
    if suffix == ".npy":
        try:
            arr = np.load(p, mmap_mode="r", allow_pickle=False)
        except (ValueError, OSError) as exc:
            raise CorruptFileError(f"cannot read .npy ({exc})", path=name) from None
        if arr.ndim != 2 or arr.shape[0] == 0 or arr.dtype.kind not in "fiu":
            raise BadInputError(f"a streamed .npy must be a non-empty 2-D numeric array, got shape {arr.shape} "
                                f"of {arr.dtype}", path=name)
        n = int(arr.shape[0])
        return StreamSource(name, "vectors", tuple(NpyShard(name, i, min(i + rows, n)) for i in range(0, n, rows)),
                            n=n, dim=int(arr.shape[1]))
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        try:
            meta = pq.ParquetFile(p).metadata
        except Exception as exc:
            raise CorruptFileError(f"cannot read Parquet metadata ({type(exc).__name__}: {exc})", path=name) from None
        if meta.num_rows == 0:
            raise EmptyDatasetError("no rows to audit", path=name)
        shards = tuple(ParquetShard(name, g, text_column) for g in range(meta.num_row_groups))
        first = shards[0].load()
        modality = "text" if isinstance(first, list) else "vectors"
        return StreamSource(name, modality, shards, n=int(meta.num_rows),
                            dim=None if modality == "text" else int(np.asarray(first).shape[1]))
    if suffix in TEXT_SUFFIXES:
        jsonl = suffix in (".jsonl", ".ndjson")
        if jsonl and is_export(p, modality="tabular"):  # its lines are table rows: not streamed as documents
            raise BadInputError(TABULAR_EXPORT_LINES, path=name)
        shards = tuple(LinesShard(name, a, b, jsonl) for a, b in _byte_ranges(p, 0, step))
        return StreamSource(name, "text", shards, low_estimate=_low_row_estimate(p, 0))
    if suffix in (".csv", ".tsv"):
        sep = "\t" if suffix == ".tsv" else ","
        with open(p, "rb") as f:
            head = f.readline()
        header = tuple(_decode(name, 0, head).split(sep))
        shards = tuple(CsvShard(name, a, b, header, sep, text_column) for a, b in _byte_ranges(p, len(head), step))
        first = shards[0].load()
        modality = "text" if isinstance(first, list) else "vectors"
        return StreamSource(name, modality, shards, dim=None if modality == "text" else int(np.asarray(first).shape[1]),
                            low_estimate=_low_row_estimate(p, len(head)))
    raise BadInputError(f"cannot stream {suffix or 'this input'}: stream .npy, .parquet, .jsonl, .txt, .csv, "
                        ".tsv or an image folder", path=name)


@dataclass(frozen=True)
class LazySide:
    """One shard of a streamed side, featurised and scaled where it is loaded (a worker)."""

    shard: Any
    modality: str
    name: str
    embedder: str = "hashed"
    seed: int = 0
    scale: np.ndarray | None = None  # per-feature divisor of the standardized view

    def load(self, *, scaled: bool = True) -> AuditInput | None:
        featurises = getattr(self.shard, "featurises", False)
        raw = self.shard.load(embedder=self.embedder, seed=self.seed) if featurises else self.shard.load()
        if (raw.n if isinstance(raw, AuditInput) else len(raw)) == 0:
            return None  # a shard of blank lines: nothing to feed
        side = as_input(raw, modality=self.modality, name=self.name, embedder=self.embedder, seed=self.seed)
        if scaled and self.scale is not None and side.vectors is not None:
            side = replace(side, vectors=side.vectors / self.scale)
        return side


def moments(side: LazySide) -> tuple[int, np.ndarray, np.ndarray] | None:
    """``(n, mean, M2)`` per feature of one shard's unscaled vectors (Chan et al.'s mergeable moments)."""
    loaded = side.load(scaled=False)
    if loaded is None or loaded.vectors is None:
        return None
    return memory_moments(loaded.vectors)


def merge_moments(parts: Sequence[tuple[int, np.ndarray, np.ndarray] | None]) -> tuple[int, np.ndarray, np.ndarray]:
    """The moments of the union of ``parts``, merged in order (Chan et al. 1979, pairwise update).

    >>> x = np.arange(12.0).reshape(6, 2)
    >>> n, mean, m2 = merge_moments([(3, x[:3].mean(0), ((x[:3] - x[:3].mean(0)) ** 2).sum(0)),
    ...                              (3, x[3:].mean(0), ((x[3:] - x[3:].mean(0)) ** 2).sum(0))])
    >>> bool(np.allclose(m2 / n, x.var(axis=0)))
    True
    """
    n, mean, m2 = 0, None, None
    for part in parts:
        if part is None:
            continue
        nb, mb, m2b = part
        if mean is None:
            n, mean, m2 = nb, mb.astype(np.float64), m2b.astype(np.float64)
            continue
        total = n + nb
        delta = mb - mean
        mean = mean + delta * (nb / total)
        m2 = m2 + m2b + delta**2 * (n * nb / total)
        n = total
    if mean is None:
        raise EmptyDatasetError("the streamed side holds no rows")
    return n, mean, m2


def pooled_scale(parts: Sequence[tuple[int, np.ndarray, np.ndarray] | None]) -> np.ndarray:
    """Per-feature divisor: the pooled standard deviation, floored at a quarter of the median scale
    (the in-memory audit's rule, :func:`tailguard.audit.core.audit`)."""
    n, _, m2 = merge_moments(parts)
    std = _significant(np.sqrt(m2 / n))
    positive = std[std > 0]
    floor = 0.25 * float(np.median(positive)) if positive.size else 1.0
    return np.maximum(std, floor)


def _significant(x: np.ndarray, digits: int = 10) -> np.ndarray:
    """``x`` rounded to ``digits`` significant digits: moments merged shard by shard differ from one
    pass in the last bits, and on data with tied distances (integer pixels) a last-bit change of the
    scale can reorder neighbours. Rounded, the scale is the same however the data was cut."""
    out = np.zeros_like(x)
    nz = x > 0
    exp = np.floor(np.log10(x[nz])) - (digits - 1)
    out[nz] = np.round(x[nz] / 10.0**exp) * 10.0**exp
    return out


def memory_moments(x: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
    """:func:`moments` of an in-memory array."""
    mean = x.mean(axis=0)
    return len(x), mean, ((x - mean) ** 2).sum(axis=0)
