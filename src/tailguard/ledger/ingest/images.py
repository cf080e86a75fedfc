"""Ingest an image folder: one ``image`` sample per file, with C2PA/XMP origin evidence."""

from __future__ import annotations

import errno
import io
from pathlib import Path
from typing import Any

from tailguard.errors import BadInputError, CorruptFileError, MissingInputError, TailguardError, UnsafePathError
from tailguard.ledger.hashing import content_id
from tailguard.ledger.ingest.base import BadItem, IngestOptions, Item, Reader
from tailguard.ledger.ingest.formats import IngestFormat, register_ingest_format
from tailguard.ledger.paths import IMAGE_SUFFIXES, walk_files
from tailguard.ledger.provenance import Evidence, image_evidence, resolve_origin
from tailguard.ledger.types import NewSample


def load_image(path: Path) -> tuple[bytes, dict[str, Any]]:
    """Read an image file and check that it decodes fully; returns its bytes and size.

    Every pixel is decoded (a truncated file is refused), PNG checksums are verified, and an
    image declaring more pixels than PIL's decompression-bomb limit is refused before decoding.
    """
    from PIL import Image, UnidentifiedImageError

    from tailguard.features.images import check_image

    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise MissingInputError("image file not found (dangling link?)", path=str(path)) from exc
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnsafePathError("symlink loop (the link leads back to itself)", path=str(path)) from None
        raise MissingInputError(f"cannot read image: {exc.strerror or exc}", path=str(path)) from exc
    width, height = check_image(data, name=str(path))
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError) as exc:
        raise CorruptFileError(f"corrupt image ({exc})", path=str(path)) from None
    return data, {"width": width, "height": height}


def _storable(path: Path) -> str:
    """The absolute path as stored (uri, source); a name that is not valid UTF-8 cannot be stored."""
    resolved = str(path.resolve())
    try:
        resolved.encode("utf-8")
    except UnicodeEncodeError:
        raise BadInputError("the file name is not valid UTF-8 (rename the file)", path=ascii(resolved)) from None
    return resolved


def image_item(path: Path, name: str, modality: str, options: IngestOptions, extra: dict[str, Any],
               labels: tuple = (), class_names: list[str] | None = None) -> Item:
    """Build the item of one image file: hash, evidence, resolved origin and conflicts."""
    data, info = load_image(path)
    uri = _storable(path)
    evidence: list[Evidence] = image_evidence(data, path.suffix)
    claimed = options.origin
    origin, disagreements = resolve_origin(claimed, evidence)
    full_extra = {"name": name, **info, **extra}
    if evidence:
        full_extra["evidence"] = [e.as_dict() for e in evidence]
    sample = NewSample(
        content=None, uri=uri, modality=modality, origin=origin, generator=options.generator,
        generation=options.generation, source=uri, verified_by=options.verified_by,
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


@register_ingest_format
class ImagesFormat(IngestFormat):
    """``--format images``: every image under a folder; ``auto``'s fallback for a folder no other format claims."""

    name = "images"
    priority = -100
    input = "folder"
    summary = "a folder of images"

    def recognises(self, path: Path) -> bool:
        return path.is_dir()

    def open(self, path: Path, options: IngestOptions) -> Reader:
        return read_images(path, options)
