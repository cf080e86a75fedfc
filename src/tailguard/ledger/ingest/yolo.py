"""Ingest an Ultralytics YOLO detection dataset: a ``data.yaml`` or an ``images/``+``labels/`` tree.

Each image becomes a ``detection`` sample whose id hashes the image bytes; its boxes
are stored as separate rows carrying the claimed origin, so human and pseudo-label
boxes on the same image never merge. Paths in data.yaml are followed (absolute ones
too); label files are found the Ultralytics way (last ``/images/`` -> ``/labels/``).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tailguard.errors import (
    BadInputError,
    LabelFormatError,
    LabelShapeError,
    MissingInputError,
    TailguardError,
    TextFormatError,
    UnknownChoiceError,
    UnsafePathError,
)
from tailguard.ledger.fields import show
from tailguard.ledger.ingest.base import BadItem, IngestOptions, Item, Reader
from tailguard.ledger.ingest.formats import IngestFormat, register_ingest_format
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


@dataclass
class TaskChoice:
    """The task a dataset's label lines are read as: named (data.yaml's ``task``, ``kpt_shape``, ``--task``)
    or, while ``task`` is None, inferred from the first line whose field count tells (:func:`infer_task`);
    ``decided_at`` names that line, for the errors of the lines that disagree with it."""

    task: str | None = None
    decided_at: str | None = None
    kpt_shape: tuple[int, int] | None = None


def parse_labels(path: Path, nc: int | None, origin: str, generator: str | None,
                 choice: TaskChoice | None = None) -> tuple[Box, ...]:
    """Label rows of one label file, read as ``choice``'s task (detection by default); errors name
    the file, the line and the task's expected shape."""
    from tailguard.tasks import infer_task, label_format
    from tailguard.tasks.base import LineContext

    if not path.exists():
        return ()
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise LabelFormatError(f"label file is not valid UTF-8 ({exc.reason})", path=str(path)) from exc
    except OSError as exc:
        raise MissingInputError(f"cannot read label file: {exc.strerror or exc}", path=str(path)) from exc
    choice = choice if choice is not None else TaskChoice("detect")
    ctx = LineContext(str(path), nc, origin, generator, choice.kpt_shape)
    boxes: list[Box] = []
    for number, line in enumerate(text.splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if choice.task is None:
            guess = infer_task(len(fields))
            if guess is None and len(fields) < 5:  # too short for any task, not ambiguous between two
                raise LabelFormatError(f"{len(fields)} fields; a label line needs at least 5 ('class x y w h')",
                                       path=str(path), line=number)
            if guess is None:
                raise LabelFormatError(
                    f"{len(fields)} fields fit an oriented box ('class x1 y1 ... x4 y4') and a 4-point polygon "
                    "alike; say which: --task obb or --task segment (or 'task:' in data.yaml)",
                    path=str(path), line=number)
            choice.task, choice.decided_at = guess, f"{path}:{number}"
        try:
            boxes.append(label_format(choice.task).parse(fields, number, ctx))
        except LabelShapeError as exc:
            if choice.decided_at is None:
                raise
            raise LabelFormatError(f"{exc.message}; the labels were read as {choice.task} from "
                                   f"{choice.decided_at} on (pass --task to say otherwise)",
                                   path=exc.path, line=exc.line) from None
    return tuple(boxes)


def _resolve(entry: str, base: Path) -> Path:
    p = Path(os.path.expanduser(entry))
    return p if p.is_absolute() else base / p


def split_path(entry: str, root: Path) -> Path:
    """Where a data.yaml split entry points, resolved as Ultralytics resolves it: against the dataset root,
    and, when that does not exist and the entry starts with ``../``, without that prefix. Roboflow's
    exports write ``train: ../train/images`` beside a data.yaml in the dataset's own folder.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     _ = (Path(tmp) / "train" / "images").mkdir(parents=True)
    ...     split_path("../train/images", Path(tmp)) == Path(tmp) / "train" / "images"
    True
    """
    p = _resolve(entry, root)
    if not p.exists() and entry.startswith("../"):
        fallback = _resolve(entry[3:], root)
        if fallback.exists():
            return fallback
    return p


@dataclass(frozen=True)
class DataYaml:
    """A parsed YOLO ``data.yaml``: its dataset root, class names and split entries."""

    path: Path
    root: Path
    names: list[str]
    splits: list[tuple[str, list[str]]]  # (split, folders / image-list files / images), in SPLITS order
    task: str | None = None  # the 'task' key, or pose when kpt_shape is given
    kpt_shape: tuple[int, int] | None = None
    kpt_names: dict[int, list[str]] | None = None  # keypoint names per class id


def _task_fields(cfg: dict, where: str) -> tuple[str | None, tuple[int, int] | None, dict[int, list[str]] | None]:
    """data.yaml's ``task``, ``kpt_shape`` ([keypoints, 2 or 3]) and ``kpt_names`` ({class: [names]} or a list)."""
    from tailguard.tasks import TASKS

    task = cfg.get("task")
    if task is not None and task not in TASKS:
        raise UnknownChoiceError("task", show(task), TASKS, path=where)
    raw = cfg.get("kpt_shape")
    kpt_shape = None
    if raw is not None:
        if (not isinstance(raw, list) or len(raw) != 2 or not all(isinstance(v, int) and not isinstance(v, bool)
                                                                  for v in raw)
                or raw[0] < 1 or raw[1] not in (2, 3)):
            raise BadInputError(f"'kpt_shape' must be [keypoints >= 1, dims 2 or 3]; got {show(raw)}", path=where)
        kpt_shape = (raw[0], raw[1])
        if task is None:
            task = "pose"
        elif task != "pose":
            raise BadInputError(f"'kpt_shape' is given but 'task' is {task!r}; keypoints belong to task pose",
                                path=where)
    elif task == "pose":
        raise BadInputError("task pose needs 'kpt_shape' [keypoints, dims]", path=where)
    names = cfg.get("kpt_names")
    kpt_names = None
    if names is not None:
        per_class = names if isinstance(names, dict) else {0: names}
        kpt_names = {}
        for key, value in per_class.items():
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value) or (
                    kpt_shape is not None and len(value) != kpt_shape[0]):
                raise BadInputError(f"'kpt_names' must list {kpt_shape[0] if kpt_shape else 'the'} keypoint names "
                                    f"per class; got {show(value)}", path=where)
            kpt_names[_class_id(key, where)] = list(value)
    return task, kpt_shape, kpt_names


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
    return DataYaml(path, root, names, splits, *_task_fields(cfg, where))


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
    p = split_path(entry, root)
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


def task_choice(named: str | None, data: DataYaml | None, where: str) -> TaskChoice:
    """The task to read labels as: ``--task`` and data.yaml's must agree; neither: inferred from the lines."""
    from tailguard.tasks import TASKS

    if named is not None and named not in TASKS:
        raise UnknownChoiceError("task", named, TASKS)
    declared = data.task if data is not None else None
    if named is not None and declared is not None and named != declared:
        raise BadInputError(f"data.yaml says task {declared!r} but --task says {named!r}", path=where)
    task = named or declared
    kpt_shape = data.kpt_shape if data is not None else None
    if task == "pose" and kpt_shape is None:
        raise BadInputError("task pose needs data.yaml's 'kpt_shape' [keypoints, dims]", path=where)
    return TaskChoice(task, None, kpt_shape)


def read_data_yaml(path: Path, options: IngestOptions) -> Reader:
    """Every image of every split (train, val, test) declared by a data.yaml."""
    data = load_data_yaml(path)
    if not data.splits:
        raise BadInputError("data.yaml declares no train/val/test split", path=str(path))
    choice = task_choice(options.task, data, str(path))
    if choice.task == "classify":
        from tailguard.ledger.ingest.classify import read_class_folders

        yield from read_class_folders([(split, split_path(e, data.root)) for split, entries in data.splits
                                       for e in entries], data.names, options, str(path))
        return
    extra = {"kpt_names": {str(k): v for k, v in data.kpt_names.items()}} if data.kpt_names else {}
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
                yield _detection_item(image, f"{split}/{name}", split, data.names, options, choice, extra)


def read_tree(root: Path, options: IngestOptions) -> Reader:
    """An ``images/`` + ``labels/`` tree without data.yaml (class names unknown)."""
    choice = task_choice(options.task, None, str(root))
    images = root / "images"
    for found in walk_files(images, IMAGE_SUFFIXES):
        if isinstance(found, UnsafePathError):
            yield BadItem(found.path or str(root), found)
            continue
        rel = found.relative_to(images)
        split = rel.parts[0] if len(rel.parts) > 1 and rel.parts[0] in SPLITS else "train"
        yield _detection_item(found, rel.as_posix(), split, None, options, choice, {})


def _detection_item(image: Path, name: str, split: str, names: list[str] | None,
                    options: IngestOptions, choice: TaskChoice, extra: dict[str, Any]) -> Item | BadItem:
    try:
        if not image.exists() and not image.is_symlink():  # links: load_image names dangling ones and loops
            raise MissingInputError("image file not found (listed by the dataset)", path=str(image))
        boxes = parse_labels(label_path_for(image), len(names) if names is not None else None,
                             options.origin or "unknown", options.generator, choice)
        return image_item(image, name, "detection", options, {"split": split, **extra}, boxes, names)
    except TailguardError as exc:
        return BadItem(str(image), exc)


@register_ingest_format
class YoloFormat(IngestFormat):
    """``--format yolo``: a data.yaml, an images/+labels/ tree or a classification train/<class>/ tree."""

    name = "yolo"
    suffixes = (".yaml", ".yml")
    priority = 10
    options = ("task",)
    summary = "Ultralytics YOLO dataset (data.yaml, images/+labels/, train/<class>/)"

    def recognises(self, path: Path) -> bool:
        from tailguard.ledger.ingest.classify import is_class_layout

        if path.is_file():
            return super().recognises(path)
        return ((path / "data.yaml").is_file() or ((path / "images").is_dir() and (path / "labels").is_dir())
                or is_class_layout(path))

    def open(self, path: Path, options: IngestOptions) -> Reader:
        from tailguard.ledger.ingest import classify

        if not path.is_dir():
            return read_data_yaml(path, options)
        if (path / "data.yaml").is_file():
            return read_data_yaml(path / "data.yaml", options)
        if options.task in (None, "classify") and classify.is_class_layout(path):
            return classify.read_class_root(path, options)
        if options.task == "classify":
            raise MissingInputError("a classification folder needs train/<class name>/ folders of images",
                                    path=str(path))
        if not (path / "images").is_dir():
            raise MissingInputError("a YOLO folder needs data.yaml, an images/ subfolder or (classification) "
                                    "train/<class name>/ folders", path=str(path))
        return read_tree(path, options)
