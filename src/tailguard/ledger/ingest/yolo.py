"""Ingest an Ultralytics YOLO detection dataset: a ``data.yaml`` or an ``images/``+``labels/`` tree.

Each image becomes a ``detection`` sample whose id hashes the image bytes; its boxes
are stored as separate rows carrying the claimed origin, so human and pseudo-label
boxes on the same image never merge. Paths in data.yaml are followed (absolute ones
too); label files are found the Ultralytics way (last ``/images/`` -> ``/labels/``).
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tailguard.errors import (
    BadInputError,
    LabelFormatError,
    MissingInputError,
    TailguardError,
    TextFormatError,
    UnsafePathError,
)
from tailguard.ledger.fields import show
from tailguard.ledger.ingest.base import BadItem, IngestOptions, Item, Reader
from tailguard.ledger.ingest.images import image_item
from tailguard.ledger.paths import IMAGE_SUFFIXES, walk_files
from tailguard.ledger.types import Box

SPLITS = ("train", "val", "test")
MAX_CLASSES = 100_000
MAX_DATA_YAML_BYTES = 16 << 20


def _name(value: Any, where: str) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise BadInputError(f"class names must be strings; got {show(value)}", path=where)
    return str(value)


def _class_id(key: Any, where: str) -> int:
    if isinstance(key, int) and not isinstance(key, bool):
        return key
    if isinstance(key, str) and key.strip().isdigit():
        return int(key)
    raise BadInputError(f"names must map integer class ids to names; got the key {show(key)}", path=where)


def parse_names(raw: Any, nc: Any, where: str) -> list[str]:
    """Class names from data.yaml's ``names`` (list or {id: name}) or ``nc``."""
    if isinstance(raw, list):
        if not raw:
            raise BadInputError("'names' is empty", path=where)
        return [_name(n, where) for n in raw]
    if isinstance(raw, dict):
        by_int = {_class_id(k, where): _name(v, where) for k, v in raw.items()}
        keys = sorted(by_int)
        if not keys or keys != list(range(len(keys))):
            raise BadInputError(f"names must cover class ids 0..{max(len(keys), 1) - 1} without gaps", path=where)
        return [by_int[k] for k in keys]
    if isinstance(nc, int) and not isinstance(nc, bool) and 0 < nc <= MAX_CLASSES:
        return [str(i) for i in range(nc)]
    raise BadInputError(f"data.yaml needs 'names' (a list or {{id: name}} mapping) or 'nc' (an int in "
                        f"1..{MAX_CLASSES})", path=where)


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


@dataclass(frozen=True)
class DataYaml:
    """A parsed YOLO ``data.yaml``: its dataset root, class names and split entries."""

    path: Path
    root: Path
    names: list[str]
    splits: list[tuple[str, list[str]]]  # (split, folders / image-list files / images), in SPLITS order


@functools.cache
def _loader() -> type:
    """A safe YAML loader that refuses aliases: a data.yaml never needs them, and their expansion
    ("billion laughs") could blow up whatever walks the parsed value."""
    import yaml

    class DataYamlLoader(yaml.SafeLoader):
        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):
                event = self.peek_event()
                raise yaml.composer.ComposerError(
                    None, None, f"found the alias *{event.anchor}; YAML aliases are not allowed in data.yaml",
                    event.start_mark)
            return super().compose_node(parent, index)

    return DataYamlLoader


def load_data_yaml(path: str | Path) -> DataYaml:
    """Parse a YOLO data.yaml: the one parser of data.yaml files (one-line typed errors naming the file).

    The file must be UTF-8, at most 16 MiB, without YAML aliases, and a mapping with
    ``names`` (a list or ``{id: name}`` mapping) or ``nc``; ``path`` (default: the file's
    folder) is the root that relative split entries are resolved against.
    """
    import yaml

    path = Path(path)
    where = str(path)
    if not path.is_file():
        raise MissingInputError("data.yaml not found", path=where)
    if path.stat().st_size > MAX_DATA_YAML_BYTES:
        raise BadInputError(f"data.yaml is larger than {MAX_DATA_YAML_BYTES >> 20} MiB", path=where)
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise TextFormatError(f"data.yaml is not valid UTF-8 ({exc.reason} at byte {exc.start})",
                              path=where) from None
    try:
        cfg = yaml.load(text, Loader=_loader())  # a SafeLoader subclass: no arbitrary objects
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        detail = exc.problem or str(exc).splitlines()[0]
        raise BadInputError(f"invalid YAML ({detail})", path=where,
                            line=mark.line + 1 if mark is not None else None) from None
    except yaml.YAMLError as exc:
        raise BadInputError(f"invalid YAML ({str(exc).splitlines()[0]})", path=where) from None
    except RecursionError:
        raise BadInputError("invalid YAML (nested too deeply)", path=where) from None
    if not isinstance(cfg, dict):
        raise BadInputError("data.yaml must be a mapping with train/val and names", path=where)
    names = parse_names(cfg.get("names"), cfg.get("nc"), where)
    base = cfg.get("path")
    if base is not None and not isinstance(base, str):
        raise BadInputError(f"'path' must be a folder; got {show(base)}", path=where)
    root = _resolve(base, path.parent) if base else path.parent
    splits: list[tuple[str, list[str]]] = []
    for split in SPLITS:
        value = cfg.get(split)
        if not value:
            continue
        entries = value if isinstance(value, list) else [value]
        if not all(isinstance(e, str) for e in entries):
            raise BadInputError(f"{split!r} must be a path or a list of paths; got {show(value)}", path=where)
        splits.append((split, list(entries)))
    return DataYaml(path, root, names, splits)


def _list_file(p: Path) -> Iterator[tuple[Path, str] | TailguardError]:
    """The images named by a .txt image list (one per line, relative to the list's folder)."""
    try:
        text = p.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        yield TextFormatError(f"image list is not valid UTF-8 ({exc.reason} at byte {exc.start})", path=str(p))
        return
    except OSError as exc:
        yield MissingInputError(f"cannot read image list: {exc.strerror or exc}", path=str(p))
        return
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        if "\x00" in line:
            yield BadInputError("image path holds a NUL character", path=str(p), line=number)
            continue
        img = _resolve(line[2:] if line.startswith("./") else line, p.parent)
        yield img, img.name


def _split_images(entry: str, root: Path, where: str) -> Iterator[tuple[Path, str] | TailguardError]:
    """(image, name) pairs of one data.yaml split entry: a folder or a .txt list of images."""
    p = _resolve(entry, root)
    if p.is_dir():
        for found in walk_files(p, IMAGE_SUFFIXES):
            if isinstance(found, UnsafePathError):
                yield found
            else:
                yield found, found.relative_to(p).as_posix()
    elif p.is_file() and p.suffix == ".txt":
        yield from _list_file(p)
    elif p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES:
        yield p, p.name
    else:
        raise MissingInputError(f"split path {entry!r} does not exist (resolved to {p})", path=where)


def read_data_yaml(path: Path, options: IngestOptions) -> Reader:
    """Every image of every split (train, val, test) declared by a data.yaml."""
    data = load_data_yaml(path)
    if not data.splits:
        raise BadInputError("data.yaml declares no train/val/test split", path=str(path))
    seen: set[str] = set()
    for split, entries in data.splits:
        for entry in entries:
            for found in _split_images(entry, data.root, str(path)):
                if isinstance(found, TailguardError):
                    yield BadItem(found.path or str(path), found)
                    continue
                image, name = found
                real = os.path.realpath(image)
                if real in seen:
                    continue
                seen.add(real)
                yield _detection_item(image, f"{split}/{name}", split, data.names, options)


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
        if not image.exists() and not image.is_symlink():  # links: load_image names dangling ones and loops
            raise MissingInputError("image file not found (listed by the dataset)", path=str(image))
        boxes = parse_labels(label_path_for(image), len(names) if names is not None else None,
                             options.origin or "unknown", options.generator)
        return image_item(image, name, "detection", options, {"split": split}, boxes, names)
    except TailguardError as exc:
        return BadItem(str(image), exc)
