"""What every export writer shares: the label choice, atomic files, image placement and the table rows.

- :func:`choose_labels`: the boxes of one image to write, from the chosen ``origins`` (``both``
  decides between several; see :mod:`tailguard.ledger.export`);
- :func:`atomic_path`, :func:`write_text`, :func:`place_file`: files written under a hidden temporary
  name beside their destination and renamed into place, so a reader never sees half a file;
- :func:`export_rows`: one dict per occurrence, as the ``jsonl`` and ``parquet`` exports write it (and a
  plug-in's ``job.rows()`` yields it).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tailguard.ledger.types import Box

if TYPE_CHECKING:
    from tailguard.ledger.store import Ledger

BOTH_MODES = ("prefer-human", "merge", "skip")
DEFAULT_ORIGINS: tuple[str, ...] = ("human", "pseudo_label")
SPLITS = ("train", "val", "test")
WARN_NAMES = 5  # unlabelled images named in the warning before "and K more"
_PRIORITY = ("human", "pseudo_label", "synthetic", "unknown")


class ExportWarning(UserWarning):
    """The export was written, but part of it needs a look (e.g. images without a label file)."""


def choose_labels(labels: Sequence[Box], origins: Sequence[str], both: str) -> list[Box] | None:
    """The boxes to export for one image (None: leave the image out, ``both='skip'``).

    >>> h = Box(0, .5, .5, .1, .1, "human"); p = Box(1, .2, .2, .1, .1, "pseudo_label")
    >>> [b.origin for b in choose_labels([h, p], ("human", "pseudo_label"), "prefer-human")]
    ['human']
    >>> [b.origin for b in choose_labels([p], ("human", "pseudo_label"), "prefer-human")]
    ['pseudo_label']
    >>> choose_labels([h, p], ("human", "pseudo_label"), "skip") is None
    True
    """
    chosen = [b for b in labels if b.origin in origins]
    present = {b.origin for b in chosen}
    if len(present) <= 1 or both == "merge":
        return chosen
    if both == "skip":
        return None
    best = next(o for o in _PRIORITY if o in present)
    return [b for b in chosen if b.origin == best]


def split_unit(sample_id: str, seed: int) -> float:
    """A number in [0, 1) fixed by (seed, sample id): the ``val_fraction`` split puts ids below F in val.

    >>> split_unit("abc", 0) == split_unit("abc", 0) != split_unit("abc", 1)
    True
    """
    digest = hashlib.blake2b(f"{seed}:{sample_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2.0**64


# ---------------------------------------------------------------------------- atomic files
@contextlib.contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """A not-yet-existing temporary path beside ``target``, renamed onto it when the block succeeds.

    The temporary name is hidden and ends in ``.partial``; on an exception it is removed.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     with atomic_path(Path(tmp) / "a.txt") as part:
    ...         _ = part.write_text("done")
    ...     sorted(p.name for p in Path(tmp).iterdir())
    ['a.txt']
    """
    part = target.with_name(f".{target.name}.{secrets.token_hex(4)}.partial")
    try:
        yield part
        os.replace(part, target)
    except BaseException:
        with contextlib.suppress(OSError):
            part.unlink()
        raise


def write_text(target: Path, text: str) -> None:
    """Write ``text`` (UTF-8) to ``target`` atomically (:func:`atomic_path`)."""
    with atomic_path(target) as part:
        part.write_text(text, encoding="utf-8")


def place_file(src: str, dst: Path, link: bool) -> None:
    """Copy (or hard-link, falling back to a copy) ``src`` to ``dst`` under a temporary name first."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(dst) as part:
        if link:
            try:
                os.link(src, part)
                return
            except OSError:  # another device, or a filesystem without hard links
                pass
        shutil.copyfile(src, part)


# ---------------------------------------------------------------------------- table rows
def export_rows(ledger: Ledger, version: str, origins: Sequence[str] = DEFAULT_ORIGINS,
                both: str = "prefer-human") -> Iterator[dict[str, Any]]:
    """One row per occurrence of ``version`` as the JSONL and Parquet exports write it (labels of ``origins``).

    ``text`` holds a text or tabular sample's content (UTF-8), ``content`` any other inline bytes
    (``None`` for a sample stored by reference, an image); an image whose labels ``both='skip'``
    leaves out is not yielded.
    """
    for rec, content in ledger.iter_bytes(version, read_files=False):  # one row per occurrence
        boxes = choose_labels(rec.labels, origins, both)
        if boxes is None:
            continue
        text = None
        if content is not None and rec.modality in ("text", "tabular"):
            text = content.decode("utf-8", "replace")
        yield {
            "id": rec.id, "modality": rec.modality, "origin": rec.origin, "uri": rec.uri,
            "generator": rec.generator, "generation": rec.generation, "verified_by": rec.verified_by,
            "source": rec.source, "synthetic_depth": rec.synthetic_depth, "parents": list(rec.parents),
            "extra": rec.extra, "text": text,
            "content": content if content is not None and text is None else None,
            "labels": [{"class_id": b.class_id, "x": b.x, "y": b.y, "w": b.w, "h": b.h, "origin": b.origin,
                        "confidence": b.confidence, "generator": b.generator, "task": b.task,
                        "points": list(b.points), "point_dim": b.point_dim} for b in boxes],
        }
