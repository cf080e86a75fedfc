"""Candidates and references named on the command line: a path or a ledger version.

A :class:`Source` is resolved lazily. A path that exists is read by its format
(``.npy``, ``.csv``, ``.parquet``, ``.jsonl``/``.txt`` text, an image folder, a
YOLO ``data.yaml``, a Hugging Face ``save_to_disk`` folder); any other string is a
ledger version name.

>>> import numpy as np, tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> np.save(d / "x.npy", np.arange(12.0).reshape(6, 2))
>>> side = Source(str(d / "x.npy")).load()
>>> side.modality, side.n
('vectors', 6)

For detection data, ``origins`` picks whose boxes a side holds: ``Source("pl-v1",
origins="pseudo_label")`` and ``Source("pl-v1", origins="human")`` are the model's boxes
and the human boxes of the same images (every image of the version is on both sides; an
image without a box of those origins counts as an image with no objects).

>>> Source("pl-v1", origins="pseudo_label,human").label
'pl-v1 (pseudo_label+human boxes)'
>>> Source("pl-v1", origins="pseudo")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
tailguard.errors.UnknownChoiceError: Unknown label origin 'pseudo'. Did you mean 'pseudo_label'? ...
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from tailguard.audit.inputs import EXPORT_COLUMNS, LEDGER_MODALITY, AuditInput, as_input, check_vectors, table_view
from tailguard.errors import (
    BadInputError,
    CorruptFileError,
    EmptyDatasetError,
    MissingInputError,
    TextFormatError,
    UnknownChoiceError,
)
from tailguard.ledger.payloads import decode_images, decode_rows, decode_texts
from tailguard.origins import ORIGINS

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff")
TEXT_SUFFIXES = (".jsonl", ".txt", ".ndjson")
TEXT_KEYS = ("text", "content", "document", "body")


def parse_origins(origins: str | Sequence[str] | None) -> tuple[str, ...] | None:
    """Label origins from ``"human,pseudo_label"`` or a sequence; None (every origin) stays None.

    >>> parse_origins(" pseudo_label , human ")
    ('pseudo_label', 'human')
    """
    if origins is None:
        return None
    items = origins.split(",") if isinstance(origins, str) else list(origins)
    chosen = tuple(dict.fromkeys(str(o).strip() for o in items if str(o).strip()))
    if not chosen:
        raise BadInputError(f"no label origin given (one or more of {', '.join(ORIGINS)}, comma-separated)",
                            path="origins")
    for origin in chosen:
        if origin not in ORIGINS:
            raise UnknownChoiceError("label origin", origin, ORIGINS)
    return chosen


@dataclass(frozen=True)
class Source:
    """A path or a ledger version name, with the ledger to look versions up in.

    ``origins`` (detection data only; a comma-separated string or a sequence) keeps the
    boxes of those label origins; None keeps every box.
    """

    spec: str
    ledger_url: str | None = None
    origins: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "origins", parse_origins(self.origins))

    @property
    def label(self) -> str:
        if self.origins is None:
            return self.spec
        return f"{self.spec} ({'+'.join(self.origins)} boxes)"

    def load(self, *, modality: str | None = None, embedder: str = "hashed", seed: int = 0,
             skip_bad: bool = False) -> AuditInput:
        """The side this names; ``skip_bad`` leaves out bad table rows (see :func:`~tailguard.audit.inputs.as_input`)."""
        path = Path(self.spec)
        if path.exists():
            return load_path(path, modality=modality, embedder=embedder, seed=seed, origins=self.origins,
                             skip_bad=skip_bad)
        if any(sep in self.spec for sep in ("/", "\\")) or Path(self.spec).suffix:
            raise MissingInputError("no such file or folder (and not a version name)", path=self.spec)
        return load_version(self.spec, self.ledger_url, modality=modality, embedder=embedder, seed=seed,
                            origins=self.origins, skip_bad=skip_bad)


def _origins_need_detection(origins: Sequence[str] | None, kind: str, name: str) -> None:
    if origins is not None and kind != "detection":
        raise BadInputError(f"label origins ({','.join(origins)}) apply to detection data; this is {kind}", path=name)


def load_path(
    path: Path,
    *,
    modality: str | None = None,
    embedder: str = "hashed",
    seed: int = 0,
    origins: Sequence[str] | None = None,
    skip_bad: bool = False,
) -> AuditInput:
    """Read a file or folder by its format into an :class:`AuditInput` (``origins``: see :class:`Source`;
    ``skip_bad``: leave out table rows with an empty or non-numeric cell, listed in ``skipped``)."""
    name = str(path)
    suffix = path.suffix.lower()
    if path.is_dir():
        yaml_file = path / "data.yaml"
        if yaml_file.is_file():
            return _load_yolo(yaml_file, name, origins)
        from tailguard.ledger.ingest.classify import is_class_layout

        if is_class_layout(path):  # an Ultralytics classification dataset: train/<class>/<image>
            return _load_yolo(path, name, origins)
        if (path / "dataset_dict.json").is_file() or (path / "state.json").is_file():  # a datasets save_to_disk
            from tailguard.integrations.huggingface.batches import load_local

            _origins_need_detection(origins, "a Hugging Face dataset", name)
            return as_input(load_local(path), modality=modality, name=name, embedder=embedder, seed=seed)
    if suffix in (".yaml", ".yml"):
        return _load_yolo(path, name, origins)
    _origins_need_detection(origins, "not a YOLO dataset", name)
    if path.is_dir():
        images = sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        if images:
            return as_input(images, modality="images", name=name)
        texts = sorted(p for p in path.rglob("*") if p.suffix.lower() in TEXT_SUFFIXES)
        if texts:
            docs: list[str] = []
            for p in texts:
                docs.extend(_read_text_file(p))
            return as_input(docs, modality="text", name=name, embedder=embedder, seed=seed)
        raise EmptyDatasetError("folder holds no images, text files or data.yaml", path=name)
    if suffix == ".npy":
        try:
            arr = np.load(path, allow_pickle=False)
        except (ValueError, OSError) as exc:
            raise CorruptFileError(f"cannot read .npy ({exc})", path=name) from None
        if arr.ndim == 1 and arr.dtype.kind in "iuUS":
            return as_input(arr, modality="categorical", name=name)
        return as_input(check_vectors(arr, name), modality=modality or "vectors", name=name)
    if suffix in (".csv", ".tsv", ".parquet"):
        skipped: list[str] | None = [] if skip_bad else None
        return _table_side(_read_table(path, skipped), name, modality, embedder, seed, skipped)
    if suffix in (".jsonl", ".ndjson") and is_export(path):
        # a tailguard JSONL export: read as the version it came from, as its Parquet twin is
        skipped = [] if skip_bad else None
        return _table_side(table_view(_read_export_lines(path), name=name, skipped=skipped), name, modality,
                           embedder, seed, skipped)
    if suffix in TEXT_SUFFIXES:
        return as_input(_read_text_file(path), modality="text", name=name, embedder=embedder, seed=seed)
    raise UnknownChoiceError(
        "input format", suffix or "(no suffix)",
        [".npy", ".csv", ".tsv", ".parquet", *TEXT_SUFFIXES, ".yaml (YOLO)", "image folder"], path=name,
    )


def _table_side(table: Any, name: str, modality: str | None, embedder: str, seed: int,
                skipped: list[str] | None) -> AuditInput:
    """The audit side of what :func:`table_view` read: documents, or rows with the ones ``skip_bad`` left out."""
    if isinstance(table, list):  # a table with a text column is documents, as the ledger reads it
        return as_input(table, modality="text", name=name, embedder=embedder, seed=seed)
    return replace(as_input(table, modality=modality or "vectors", name=name), skipped=tuple(skipped or ()))


def _read_table(path: Path, skipped: list[str] | None = None) -> Any:
    import pandas as pd

    if path.stat().st_size == 0:  # pandas would call it a parse error ("No columns to parse")
        raise EmptyDatasetError("empty file: no header and no rows", path=path)
    try:
        if path.suffix.lower() == ".parquet":
            frame = pd.read_parquet(path)
        else:
            frame = pd.read_csv(path, sep="\t" if path.suffix.lower() == ".tsv" else ",")
    except Exception as exc:
        raise CorruptFileError(f"cannot read table ({type(exc).__name__}: {exc})", path=path) from None
    return table_view(frame, name=str(path), skipped=skipped, file_lines=True)


def _tabular_version(pairs: list[Any], version: str, *, embedder: str, seed: int,
                     skip_bad: bool = False) -> AuditInput:
    """A version of table rows, read by the rule of the file it came from (:func:`table_view`):
    the same columns, order and refusals as auditing the CSV or Parquet by its path."""
    import pandas as pd

    objects = []
    for record, payload in pairs:
        try:
            data = json.loads(payload.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise BadInputError(f"tabular sample is not a JSON row ({exc})", path=record.id) from None
        if not isinstance(data, dict):
            raise BadInputError("tabular sample is not a JSON object", path=record.id)
        objects.append(data)
    skipped: list[str] | None = [] if skip_bad else None
    view = table_view(pd.DataFrame(objects), name=version, row_ids=[r.id for r, _ in pairs], skipped=skipped)
    if isinstance(view, list):
        return as_input(view, modality="text", name=version, embedder=embedder, seed=seed)
    return replace(as_input(view, modality="vectors", name=version), skipped=tuple(skipped or ()))


def _utf8_text(path: Path) -> str:
    """The file's text; bytes that are not UTF-8 are an error naming the line, as a streamed read and ingest name it."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise TextFormatError(f"not valid UTF-8 at byte {exc.start}", path=path,
                              line=data.count(b"\n", 0, exc.start) + 1) from None


def _read_export_lines(path: Path) -> Any:
    """A ``tailguard export --format jsonl`` file as a DataFrame of its records; a bad line is an error naming it."""
    import pandas as pd

    records = []
    for lineno, line in enumerate(_utf8_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise TextFormatError(f"invalid JSON ({exc.msg})", path=path, line=lineno) from None
    return pd.DataFrame(records)


def _read_text_file(path: Path) -> list[str]:
    docs = []
    raw = _utf8_text(path)
    is_jsonl = path.suffix.lower() in (".jsonl", ".ndjson")
    for lineno, line in enumerate(raw.splitlines(), start=1):
        doc = parse_document_line(line, path=path, line=lineno, jsonl=is_jsonl)
        if doc is not None:
            docs.append(doc)
    if not docs:
        raise EmptyDatasetError("no documents", path=path)
    return docs


#: Why a tabular version's JSONL export is not read as documents (a streamed read, a folder of text files).
TABULAR_EXPORT_LINES = ("a tailguard export of a tabular version: its rows are tables, not documents "
                        "(audit it without --stream, or stream its Parquet export)")


def _is_export_record(record: Any, modality: str | None = None) -> bool:
    """Whether a parsed JSON record is a row of ``tailguard export`` (of ``modality``'s samples when given)."""
    return (isinstance(record, dict) and record.keys() >= EXPORT_COLUMNS
            and (modality is None or record.get("modality") == modality))


def is_export(path: Path, *, modality: str | None = None) -> bool:
    """Whether a JSONL file's first record is a row of ``tailguard export --format jsonl`` (of
    ``modality``'s samples when given); only the first line is read."""
    with open(path, "rb") as handle:
        first = next((line for line in handle if line.strip()), b"")
    try:
        return _is_export_record(json.loads(first), modality)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return False  # the full read names the line


def parse_document_line(text: str, *, path: Any, line: int, jsonl: bool) -> str | None:
    """The document on one line of a text file (``None`` for a blank line): the line itself, or a JSONL
    record's text field (one of :data:`TEXT_KEYS`). A bad record is a one-line error naming ``path`` and ``line``.

    >>> parse_document_line('{"text": "a cat"}', path="x.jsonl", line=1, jsonl=True)
    'a cat'
    >>> parse_document_line("   ", path="x.txt", line=2, jsonl=False) is None
    True
    """
    if not text.strip():
        return None
    if not jsonl:
        return text
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TextFormatError(f"invalid JSON ({exc.msg})", path=path, line=line) from None
    if isinstance(record, str):
        return record
    if _is_export_record(record, "tabular"):
        raise TextFormatError(TABULAR_EXPORT_LINES, path=path, line=line)
    key = next((k for k in TEXT_KEYS if isinstance(record, dict) and isinstance(record.get(k), str)), None)
    if key is None:
        raise TextFormatError(f"record has no text field (one of {', '.join(TEXT_KEYS)})", path=path, line=line)
    return record[key]


def detection_boxes(records: Sequence[Any], origins: Sequence[str] | None, name: str) -> Any:
    """The boxes of ``origins`` (all when None) in ``records``; an error naming ``name`` when there are none.

    Without a box of the chosen origins there is nothing to audit, and an empty side would
    read as a candidate that lost every class.
    """
    from tailguard.features import DetectionLabelArrays

    boxes = DetectionLabelArrays.from_records(records, origins=origins)
    if origins is not None and boxes.n_boxes == 0:
        held: dict[str, int] = {}
        for record in records:
            for box in record.labels:
                held[box.origin] = held.get(box.origin, 0) + 1
        found = ", ".join(f"{n} {o}" for o, n in sorted(held.items())) or "none"
        raise EmptyDatasetError(f"no boxes of origin {','.join(origins)} in {len(records)} images (boxes held: "
                                f"{found})", path=name)
    return boxes


def label_side(records: Sequence[Any], origins: Sequence[str] | None, name: str,
               class_names: Sequence[str] | None) -> AuditInput:
    """The audit side of labelled images of any Ultralytics task (the rows of ``origins``; all when None).

    Detection, segmentation, pose and oriented boxes are a ``detection`` side (box classes and
    sizes), the last three with their shapes (mask polygons, keypoints, angles) for the task's
    metrics; classification is a ``categorical`` side of the image classes, with its rows as
    boxes for the per-class shares. Rows of several tasks are refused: each task is audited alone.
    """
    from tailguard.features.shapes import SHAPE_ARRAYS

    held: dict[str, int] = {}
    for record in records:
        for row in record.labels:
            if origins is None or row.origin in origins:
                task = getattr(row, "task", "detect")
                held[task] = held.get(task, 0) + 1
    if len(held) > 1:
        found = ", ".join(f"{n} {t}" for t, n in sorted(held.items()))
        raise BadInputError(f"the labels are of several tasks ({found}); audit one task at a time "
                            "(a version of one task's images, or --origins)", path=name)
    task = next(iter(held), "detect")
    names = tuple(class_names) if class_names else None
    boxes = detection_boxes(records, origins, name)
    if task == "classify":
        classes = np.asarray(boxes.class_ids)
        if classes.size == 0:
            raise EmptyDatasetError("no classification labels", path=name)
        side = AuditInput("categorical", int(classes.size), name, categories=classes, boxes=boxes)
        return replace(side, class_names=names)
    side = as_input(boxes, modality="detection", name=name)
    if task in SHAPE_ARRAYS:
        if task == "pose":
            kpt = next((r.extra.get("kpt_names") for r in records if (getattr(r, "extra", None) or {}).get("kpt_names")),
                       None)
            first = next(iter(kpt.values())) if isinstance(kpt, dict) and kpt else None
            shapes = SHAPE_ARRAYS[task].from_records(records, origins, keypoint_names=first)
        else:
            shapes = SHAPE_ARRAYS[task].from_records(records, origins)
        side = replace(side, shapes=shapes)
    return replace(side, class_names=names)


def _load_yolo(path: Path, name: str, origins: Sequence[str] | None = None) -> AuditInput:
    """A YOLO dataset (data.yaml or its folder), parsed by the ledger's ingest reader without storing it."""
    from tailguard.ledger.ingest import open_reader
    from tailguard.ledger.ingest.base import BadItem, IngestOptions

    samples = []
    names: list[str] | None = None
    for item in open_reader(path, "yolo", IngestOptions()):
        if isinstance(item, BadItem):
            raise item.error
        samples.append(item.sample)
        names = names or item.class_names
    if not samples:
        raise EmptyDatasetError("YOLO dataset holds no images", path=name)
    return label_side(samples, origins, name, names)


def load_version(
    version: str,
    ledger_url: str | None,
    *,
    modality: str | None = None,
    embedder: str = "hashed",
    seed: int = 0,
    origins: Sequence[str] | None = None,
    skip_bad: bool = False,
) -> AuditInput:
    """Read the samples of a ledger version into an :class:`AuditInput` (``origins``: see :class:`Source`;
    ``skip_bad``: see :func:`load_path`)."""
    pairs, class_names = read_version(version, ledger_url)
    if not pairs:
        raise EmptyDatasetError("version holds no samples", path=version)
    return version_input(pairs, version, modality=modality, embedder=embedder, seed=seed, origins=origins,
                         class_names=class_names, skip_bad=skip_bad)


def read_version(version: str, ledger_url: str | None,
                 id_range: tuple[str, str | None] | None = None) -> tuple[list[Any], list[str]]:
    """``(pairs, class_names)``: the ``(record, bytes)`` of every occurrence in ``version`` (those of
    ``id_range`` only, one shard of a streamed version) and its detection class names."""
    from tailguard.ledger import Ledger

    if ledger_url is None:
        from tailguard.cli.state import DEFAULT_LEDGER_URL

        ledger_url = DEFAULT_LEDGER_URL
    ledger = Ledger.open(ledger_url)
    try:
        ledger.get_version(version)  # raises a typed error naming the version
        pairs = list(ledger.iter_bytes(version, id_range=id_range))
        class_names = ledger.class_names(version)  # a detection version's data.yaml names ([] if none)
    finally:
        ledger.close()
    return pairs, class_names


def version_kind(records: Sequence[Any], version: str) -> str:
    """The audit modality of a version's records (``table`` for tabular rows without a dtype,
    read by the rule of the file they came from); a version mixing modalities is refused."""
    kinds = {LEDGER_MODALITY.get(r.modality, r.modality) for r in records}
    if len(kinds) > 1:
        raise BadInputError(f"version mixes modalities {sorted(kinds)}; audit one at a time", path=version)
    kind = kinds.pop()
    if kind == "vectors" and all((r.extra or {}).get("dtype") is None for r in records):
        return "table"
    return kind


def version_input(
    pairs: list[Any],
    version: str,
    *,
    modality: str | None = None,
    embedder: str = "hashed",
    seed: int = 0,
    origins: Sequence[str] | None = None,
    class_names: Sequence[str] | None = None,
    skip_bad: bool = False,
) -> AuditInput:
    """The audit side of a version's ``(record, bytes)`` pairs, as :func:`load_version` reads it, with
    its samples counted by origin (``origin_counts``: a reference that is not all human is noted)."""
    from collections import Counter

    side = _version_side(pairs, version, modality=modality, embedder=embedder, seed=seed, origins=origins,
                         class_names=class_names, skip_bad=skip_bad)
    if origins is not None:  # boxes chosen by their own origin: the images' origins do not say what is read
        return side
    counts = Counter(r.origin for r, _ in pairs)
    return replace(side, origin_counts=tuple(sorted(counts.items())))


def _version_side(pairs: list[Any], version: str, *, modality: str | None, embedder: str, seed: int,
                  origins: Sequence[str] | None, class_names: Sequence[str] | None, skip_bad: bool) -> AuditInput:
    records = [r for r, _ in pairs]
    stored = version_kind(records, version)
    kind = modality or ("vectors" if stored == "table" else stored)
    _origins_need_detection(origins, kind, version)
    if kind == "detection":
        return label_side(records, origins, version, class_names)
    if kind == "text":
        return as_input(decode_texts(pairs), modality="text", name=version, embedder=embedder, seed=seed)
    if kind == "images":
        return as_input(decode_images(pairs), modality="images", name=version)
    if stored == "table":
        return _tabular_version(pairs, version, embedder=embedder, seed=seed, skip_bad=skip_bad)
    rows, columns = decode_rows(pairs)
    side = as_input(check_vectors(rows, version), modality="vectors", name=version)
    return replace(side, feature_names=tuple(columns)) if columns and len(columns) == rows.shape[1] else side
