"""Ingest an Ultralytics classification dataset: ``<root>/<split>/<class name>/<image>``.

Each image becomes a labelled-image sample (modality ``detection``, as every Ultralytics
task's images are) holding one classification row: the class of its folder, with the
ingest's origin. Class names are data.yaml's ``names`` when a data.yaml points at the
split folders (``task: classify``), else the class folders' sorted names, as Ultralytics
reads them. An image outside a class folder, or in a folder no name matches, is a bad
item naming the file.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from tailguard.errors import BadInputError, MissingInputError, TailguardError, UnsafePathError
from tailguard.ledger.ingest.base import BadItem, IngestOptions, Reader
from tailguard.ledger.ingest.images import image_item
from tailguard.ledger.paths import IMAGE_SUFFIXES, walk_files
from tailguard.tasks.classify import class_folders, whole_image

SPLITS = ("train", "val", "test")


def is_class_layout(root: Path) -> bool:
    """Whether ``root`` looks like a classification dataset: a ``train/`` holding class folders only.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     (Path(tmp) / "train" / "cat").mkdir(parents=True)
    ...     is_class_layout(Path(tmp))
    True
    """
    train = root / "train"
    if not train.is_dir():
        return False
    entries = [p for p in train.iterdir() if not p.name.startswith(".")]
    return bool(entries) and all(p.is_dir() for p in entries)


def read_class_root(root: Path, options: IngestOptions) -> Reader:
    """Every split folder (train, val, test) under ``root``, class names from the folders."""
    splits = [(s, root / s) for s in SPLITS if (root / s).is_dir()]
    if not splits:
        raise MissingInputError("a classification dataset needs a train/ folder of class folders", path=str(root))
    yield from read_class_folders(splits, None, options, str(root))


def read_class_folders(splits: Sequence[tuple[str, Path]], names: list[str] | None, options: IngestOptions,
                       where: str) -> Reader:
    """The images of each ``(split, folder)``; ``names`` (data.yaml's) or the train folder's sorted class folders."""
    for _split, folder in splits:
        if not folder.is_dir():
            raise MissingInputError("classification split folder not found", path=str(folder))
    if names is None:
        names = class_folders(splits[0][1])
        if not names:
            raise BadInputError("no class folders", path=str(splits[0][1]))
    index = {name: i for i, name in enumerate(names)}
    origin = options.origin or "unknown"
    for split, folder in splits:
        for found in walk_files(folder, IMAGE_SUFFIXES):
            if isinstance(found, UnsafePathError):
                yield BadItem(found.path or where, found)
                continue
            rel = found.relative_to(folder)
            try:
                if len(rel.parts) < 2:
                    raise BadInputError(f"classification images must lie in a class folder "
                                        f"({split}/<class name>/); this one lies in {split}/", path=str(found))
                cls = index.get(rel.parts[0])
                if cls is None:
                    raise BadInputError(f"class folder {rel.parts[0]!r} is not a class name "
                                        f"({', '.join(names[:10])}{' ...' if len(names) > 10 else ''})",
                                        path=str(found))
                label = whole_image(cls, origin, None, options.generator)
                yield image_item(found, f"{split}/{rel.as_posix()}", "detection", options, {"split": split},
                                 (label,), list(names))
            except TailguardError as exc:
                yield BadItem(str(found), exc)
