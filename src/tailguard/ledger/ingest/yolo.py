"""Ingest an Ultralytics YOLO detection dataset: a ``data.yaml`` or an ``images/``+``labels/`` tree.

Each image becomes a ``detection`` sample whose id hashes the image bytes; its boxes
are stored as separate rows carrying the claimed origin, so human and pseudo-label
boxes on the same image never merge. Paths in data.yaml are followed (absolute ones
too); label files are found the Ultralytics way (last ``/images/`` -> ``/labels/``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tailguard.errors import BadInputError, LabelFormatError, MissingInputError, TailguardError, UnsafePathError
from tailguard.ledger.ingest.base import BadItem, IngestOptions, Item, Reader
from tailguard.ledger.ingest.images import image_item
from tailguard.ledger.paths import IMAGE_SUFFIXES, walk_files
from tailguard.ledger.types import Box

SPLITS = ("train", "val", "test")


def parse_names(raw: Any, nc: Any, where: str) -> list[str]:
    """Class names from data.yaml's ``names`` (list or {id: name}) or ``nc``."""
    if isinstance(raw, list):
        return [str(n) for n in raw]
    if isinstance(raw, dict):
        try:
            keys = sorted(int(k) for k in raw)
        except (TypeError, ValueError) as exc:
            raise BadInputError("names must map integer class ids to names", path=where) from exc
        if keys != list(range(len(keys))):
            raise BadInputError(f"names must cover class ids 0..{len(keys) - 1} without gaps", path=where)
        by_int = {int(k): str(v) for k, v in raw.items()}
        return [by_int[k] for k in keys]
    if isinstance(nc, int) and not isinstance(nc, bool) and nc > 0:
        return [str(i) for i in range(nc)]
    raise BadInputError("data.yaml needs 'names' (a list or {id: name} mapping) or 'nc'", path=where)


def label_path_for(image: Path) -> Path:
    """Where Ultralytics looks for an image's labels."""
    text = str(image)
    sa, sb = f"{os.sep}images{os.sep}", f"{os.sep}labels{os.sep}"
    if sa in text:
        text = sb.join(text.rsplit(sa, 1))
    return Path(text).with_suffix(".txt")


def parse_labels(path: Path, nc: int | None, origin: str, generator: str | None) -> tuple[Box, ...]:
    """Boxes of one YOLO label file; errors name the file and line."""
    if not path.exists():
        return ()
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise LabelFormatError(f"label file is not valid UTF-8 ({exc.reason})", path=str(path)) from exc
    except OSError as exc:
        raise MissingInputError(f"cannot read label file: {exc.strerror or exc}", path=str(path)) from exc
    boxes: list[Box] = []
    for number, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) not in (5, 6):
            raise LabelFormatError(
                f"expected 5 fields 'class x y w h' (or 6 with a confidence), got {len(fields)}",
                path=str(path), line=number)
        try:
            values = [float(f) for f in fields]
        except ValueError as exc:
            raise LabelFormatError(f"non-numeric field in {line.strip()!r}", path=str(path), line=number) from exc
        cls = values[0]
        if not cls.is_integer() or cls < 0:
            raise LabelFormatError(f"class id must be a non-negative integer, got {fields[0]}",
                                   path=str(path), line=number)
        if nc is not None and int(cls) >= nc:
            raise LabelFormatError(f"class id {int(cls)} is not in data.yaml (classes 0..{nc - 1})",
                                   path=str(path), line=number)
        coords = values[1:5]
        if not all(math.isfinite(v) and 0.0 <= v <= 1.0 for v in coords):
            raise LabelFormatError(f"coordinates must be normalised to [0, 1], got {' '.join(fields[1:5])}",
                                   path=str(path), line=number)
        conf = values[5] if len(values) == 6 else None
        if conf is not None and not (math.isfinite(conf) and 0.0 <= conf <= 1.0):
            raise LabelFormatError(f"confidence must be in [0, 1], got {fields[5]}", path=str(path), line=number)
        boxes.append(Box(int(cls), *coords, origin=origin, confidence=conf, generator=generator))
    return tuple(boxes)


def _resolve(entry: str, base: Path) -> Path:
    p = Path(os.path.expanduser(entry))
    return p if p.is_absolute() else base / p


def _split_images(entry: str, root: Path, where: str) -> Iterator[tuple[Path, str] | UnsafePathError]:
    """(image, name) pairs of one data.yaml split entry: a folder or a .txt list of images."""
    p = _resolve(entry, root)
    if p.is_dir():
        for found in walk_files(p, IMAGE_SUFFIXES):
            if isinstance(found, UnsafePathError):
                yield found
            else:
                yield found, found.relative_to(p).as_posix()
    elif p.is_file() and p.suffix == ".txt":
        for line in p.read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if line:
                img = _resolve(line[2:] if line.startswith("./") else line, p.parent)
                yield img, img.name
    elif p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES:
        yield p, p.name
    else:
        raise MissingInputError(f"split path {entry!r} does not exist (resolved to {p})", path=where)


def read_data_yaml(path: Path, options: IngestOptions) -> Reader:
    """Every image of every split (train, val, test) declared by a data.yaml."""
    import yaml

    where = str(path)
    try:
        cfg = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise BadInputError(f"invalid YAML ({str(exc).splitlines()[0]})", path=where) from exc
    if not isinstance(cfg, dict):
        raise BadInputError("data.yaml must be a mapping with train/val and names", path=where)
    names = parse_names(cfg.get("names"), cfg.get("nc"), where)
    root = _resolve(str(cfg["path"]), path.parent) if cfg.get("path") else path.parent
    declared = [(split, cfg[split]) for split in SPLITS if cfg.get(split)]
    if not declared:
        raise BadInputError("data.yaml declares no train/val/test split", path=where)
    seen: set[str] = set()
    for split, value in declared:
        entries = value if isinstance(value, list) else [value]
        for entry in entries:
            for found in _split_images(str(entry), root, where):
                if isinstance(found, UnsafePathError):
                    yield BadItem(found.path or where, found)
                    continue
                image, name = found
                real = os.path.realpath(image)
                if real in seen:
                    continue
                seen.add(real)
                yield _detection_item(image, f"{split}/{name}", split, names, options)


def read_tree(root: Path, options: IngestOptions) -> Reader:
    """An ``images/`` + ``labels/`` tree without data.yaml (class names unknown)."""
    images = root / "images"
    for found in walk_files(images, IMAGE_SUFFIXES):
        if isinstance(found, UnsafePathError):
            yield BadItem(found.path or str(root), found)
            continue
        rel = found.relative_to(images)
        split = rel.parts[0] if len(rel.parts) > 1 and rel.parts[0] in SPLITS else "train"
        yield _detection_item(found, rel.as_posix(), split, None, options)


def _detection_item(image: Path, name: str, split: str, names: list[str] | None,
                    options: IngestOptions) -> Item | BadItem:
    try:
        if not image.exists():
            raise MissingInputError("image file not found (listed by the dataset)", path=str(image))
        boxes = parse_labels(label_path_for(image), len(names) if names is not None else None,
                             options.origin or "unknown", options.generator)
        return image_item(image, name, "detection", options, {"split": split}, boxes, names)
    except TailguardError as exc:
        return BadItem(str(image), exc)
