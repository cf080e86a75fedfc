"""Ingest an Ultralytics Platform dataset NDJSON (``--format ultralytics-ndjson``).

The first line is the dataset record (``type: dataset``, ``task``, ``class_names``, and
``kpt_shape`` for pose); every other line an image record (``type: image``, ``file``,
``split``, ``annotations``), as :mod:`tailguard.ledger.ndjson` writes them. Each image is
read from ``<path>/images/<split>/<file>``, else ``<path>/<file>``, where ``path`` is the dataset
record's (relative to the NDJSON's folder; the folder itself when there is none);
nothing is downloaded, so an image only reachable by its ``url`` is a bad item saying so.

Provenance comes from ``metadata.tailguard`` when the record has it (``origin``,
``generator``, ``generation``, ``verified_by``, ``parents``, and each annotation's ``origin``,
``generator`` and ``confidence`` in ``labels``), validated like a JSONL record's; otherwise from
the ``--origin``/``--generator``/``--generation`` flags. Annotation rows are parsed by the
task's label format, so a bad row names the NDJSON line and the task's expected shape.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from tailguard.errors import BadInputError, MissingInputError, TailguardError, TextFormatError, UnknownChoiceError
from tailguard.ledger.ingest.base import BadItem, IngestOptions, Reader, claim, record_provenance
from tailguard.ledger.ingest.formats import IngestFormat, register_ingest_format
from tailguard.ledger.ingest.images import image_item
from tailguard.ledger.types import ORIGINS, Box

ANNOTATION_TASKS = {"boxes": "detect", "segments": "segment", "pose": "pose", "obb": "obb",
                    "classification": "classify"}


def _base(record: Any, root: Path, where: str) -> Path:
    """The folder images are read from: the dataset record's ``path`` (relative to the NDJSON's folder), else it."""
    base = record.get("path") if isinstance(record, dict) else None
    if base is None:
        return root
    if not isinstance(base, str) or not base or "\x00" in base:
        raise TextFormatError(f"'path' must be a folder; got {base!r}", path=where, line=1)
    return (root / base).resolve()


def _header(record: Any, where: str) -> tuple[str, list[str], tuple[int, int] | None]:
    from tailguard.tasks import TASKS

    if not isinstance(record, dict) or record.get("type") != "dataset":
        raise TextFormatError('the first line must be the dataset record ({"type": "dataset", ...})', path=where,
                              line=1)
    task = record.get("task", "detect")
    if task not in TASKS:
        raise UnknownChoiceError("task", str(task), TASKS, path=f"{where}:1")
    raw = record.get("class_names") or {}
    if not isinstance(raw, dict):
        raise TextFormatError("'class_names' must map class ids to names", path=where, line=1)
    try:
        by_id = {int(k): str(v) for k, v in raw.items()}
    except (TypeError, ValueError):
        raise TextFormatError("'class_names' keys must be integer class ids", path=where, line=1) from None
    if by_id and sorted(by_id) != list(range(len(by_id))):
        raise TextFormatError(f"'class_names' must cover class ids 0..{len(by_id) - 1} without gaps", path=where,
                              line=1)
    shape = record.get("kpt_shape")
    kpt_shape = (int(shape[0]), int(shape[1])) if isinstance(shape, list) and len(shape) == 2 else None
    if task == "pose" and kpt_shape is None:
        raise TextFormatError("a pose dataset record needs 'kpt_shape' [keypoints, dims]", path=where, line=1)
    return str(task), [by_id[i] for i in sorted(by_id)], kpt_shape


def _boxes(record: dict[str, Any], task: str, names: list[str], kpt_shape: tuple[int, int] | None, origin: str,
           generator: str | None, labels_meta: list[Any], where: str, number: int) -> tuple[Box, ...]:
    from tailguard.tasks import label_format
    from tailguard.tasks.base import LineContext
    from tailguard.tasks.classify import whole_image

    annotations = record.get("annotations") or {}
    if not isinstance(annotations, dict):
        raise TextFormatError("'annotations' must be an object", path=where, line=number)
    rows: list[Any] = []
    for key, value in annotations.items():
        if ANNOTATION_TASKS.get(key) not in (task, None) or key not in ANNOTATION_TASKS:
            raise TextFormatError(f"annotation key {key!r} does not belong to task {task!r} "
                                  f"(expected {next(k for k, t in ANNOTATION_TASKS.items() if t == task)!r})",
                                  path=where, line=number)
        if not isinstance(value, list):
            raise TextFormatError(f"annotations {key!r} must be a list", path=where, line=number)
        rows.extend(value)
    boxes: list[Box] = []
    nc = len(names) if names else None
    for k, row in enumerate(rows):
        meta = labels_meta[k] if k < len(labels_meta) and isinstance(labels_meta[k], dict) else {}
        box_origin = meta.get("origin") or origin
        if box_origin not in ORIGINS:
            raise UnknownChoiceError("label origin", str(box_origin), ORIGINS, path=f"{where}:{number}")
        box_generator = meta.get("generator") or generator
        if task == "classify":
            if isinstance(row, bool) or not isinstance(row, int) or (nc is not None and not 0 <= row < nc):
                raise TextFormatError(f"classification annotation {row!r} is not a class id", path=where, line=number)
            box = whole_image(row, box_origin, None, box_generator)
        else:
            if not isinstance(row, list) or not row:
                raise TextFormatError(f"annotation {k} must be a list [class, numbers...]", path=where, line=number)
            ctx = LineContext(where, nc, box_origin, box_generator, kpt_shape)
            fields = [str(int(v)) if j == 0 and isinstance(v, int | float) and float(v).is_integer() else str(v)
                      for j, v in enumerate(row)]
            box = label_format(task).parse(fields, number, ctx)
        confidence = meta.get("confidence")
        if isinstance(confidence, int | float) and not isinstance(confidence, bool):
            box = dataclasses.replace(box, confidence=float(confidence))
        boxes.append(box)
    return tuple(boxes)


def _image_path(root: Path, split: str, file: str, where: str, number: int) -> Path:
    from tailguard.ledger.paths import safe_join

    for candidate in (f"images/{split}/{file}", file):
        try:
            path = safe_join(root, candidate)
        except TailguardError:
            raise BadInputError(f"image file name {file!r} leaves the dataset folder", path=where,
                                line=number) from None
        if path.is_file():
            return path
    raise MissingInputError(f"image {file!r} not found in images/{split}/ or beside the NDJSON (tailguard does "
                            "not download an image's url)", path=where, line=number)


def read_ndjson(path: Path, options: IngestOptions) -> Reader:
    """Yield one image item per image record; bad records are :class:`BadItem` naming the line."""
    where = str(path)
    root = path.parent
    task = ""
    names: list[str] = []
    kpt_shape = None
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                try:
                    record = json.loads(raw.decode("utf-8"))
                except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
                    raise TextFormatError(f"invalid JSON ({exc})", path=where, line=number) from None
                if not task:
                    task, names, kpt_shape = _header(record, where)
                    root = _base(record, path.parent, where)
                    continue
                if not isinstance(record, dict) or record.get("type") != "image":
                    raise TextFormatError('expected an image record ({"type": "image", ...})', path=where,
                                          line=number)
                file, split = record.get("file"), record.get("split", "train")
                if not isinstance(file, str) or not file or not isinstance(split, str) or not split:
                    raise TextFormatError("an image record needs 'file' and 'split' strings", path=where, line=number)
                meta = ((record.get("metadata") or {}).get("tailguard") or {}) if isinstance(
                    record.get("metadata"), dict) else {}
                if not isinstance(meta, dict):
                    raise TextFormatError("metadata.tailguard must be an object", path=where, line=number)
                prov = record_provenance(meta, options, path=where, line=number)
                origin, conflicts = claim(prov.origin, options, f"{where}:{number}")
                own = dataclasses.replace(options, origin=origin, generator=prov.generator,
                                          generation=prov.generation, verified_by=prov.verified_by)
                labels_meta = meta.get("labels") if isinstance(meta.get("labels"), list) else []
                boxes = _boxes(record, task, names, kpt_shape, origin or "unknown", prov.generator, labels_meta,
                               where, number)
                image = _image_path(root, split, file, where, number)
                item = image_item(image, f"{split}/{file}", "detection", own, {"split": split, "line": number},
                                  boxes, list(names) if names else None)
                item.sample = dataclasses.replace(item.sample, parents=prov.parents)
                item.conflicts.extend(conflicts)
                yield item
            except TailguardError as exc:
                if not task:
                    raise
                yield BadItem(f"{where}:{number}", exc)
    if not task:
        raise TextFormatError("empty NDJSON: no dataset record", path=where)


def is_platform_ndjson(path: Path) -> bool:
    """Whether an .ndjson file opens with an Ultralytics Platform dataset record (``"type": "dataset"``)."""
    with open(path, "rb") as handle:
        first = handle.readline(1 << 20)
    try:
        record = json.loads(first)
    except (ValueError, RecursionError):
        return False
    return isinstance(record, dict) and record.get("type") == "dataset"


@register_ingest_format
class UltralyticsNdjsonFormat(IngestFormat):
    """``--format ultralytics-ndjson``: picked by ``auto`` for an ``.ndjson`` whose first line is a dataset record."""

    name = "ultralytics-ndjson"
    priority = 10
    validates_provenance = True
    input = "file"
    summary = "the Ultralytics Platform's dataset NDJSON"

    def recognises(self, path: Path) -> bool:
        return path.is_file() and path.suffix.lower() == ".ndjson" and is_platform_ndjson(path)

    def open(self, path: Path, options: IngestOptions) -> Reader:
        return read_ndjson(path, options)
