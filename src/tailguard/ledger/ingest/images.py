"""Ingest an image folder: one ``image`` sample per file, with C2PA/XMP origin evidence."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from tailguard.errors import CorruptFileError, MissingInputError, TailguardError, UnsafePathError
from tailguard.ledger.hashing import content_id
from tailguard.ledger.ingest.base import BadItem, IngestOptions, Item, Reader
from tailguard.ledger.paths import IMAGE_SUFFIXES, walk_files
from tailguard.ledger.provenance import Evidence, image_evidence, resolve_origin
from tailguard.ledger.types import NewSample


def load_image(path: Path) -> tuple[bytes, dict[str, Any]]:
    """Read an image file and check that it decodes; returns its bytes and size."""
    from PIL import Image, UnidentifiedImageError

    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise MissingInputError("image file not found (dangling link?)", path=str(path)) from exc
    except OSError as exc:
        raise MissingInputError(f"cannot read image: {exc.strerror or exc}", path=str(path)) from exc
    try:
        with Image.open(io.BytesIO(data)) as img:
            size = img.size
            img.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        raise CorruptFileError(f"corrupt or unsupported image ({exc})", path=str(path)) from exc
    return data, {"width": size[0], "height": size[1]}


def image_item(path: Path, name: str, modality: str, options: IngestOptions, extra: dict[str, Any],
               labels: tuple = (), class_names: list[str] | None = None) -> Item:
    """Build the item of one image file: hash, evidence, resolved origin and conflicts."""
    data, info = load_image(path)
    evidence: list[Evidence] = image_evidence(data, path.suffix)
    claimed = options.origin
    origin, disagreements = resolve_origin(claimed, evidence)
    full_extra = {"name": name, **info, **extra}
    if evidence:
        full_extra["evidence"] = [e.as_dict() for e in evidence]
    sample = NewSample(
        content=None, uri=str(path.resolve()), modality=modality, origin=origin, generator=options.generator,
        generation=options.generation, source=str(path.resolve()), verified_by=options.verified_by,
        extra=full_extra, labels=labels,
    )
    conflicts = [("evidence", str(claimed), other, detail) for other, detail in disagreements]
    return Item(sample, str(path), content_id(data), evidence, conflicts, class_names)


def read_images(root: Path, options: IngestOptions) -> Reader:
    """Every image under ``root`` (symlinks followed, loops refused)."""
    for entry in walk_files(root, IMAGE_SUFFIXES):
        if isinstance(entry, UnsafePathError):
            yield BadItem(entry.path or str(root), entry)
            continue
        try:
            yield image_item(entry, entry.relative_to(root).as_posix(), "image", options, {})
        except TailguardError as exc:
            yield BadItem(str(entry), exc)
