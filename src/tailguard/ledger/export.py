"""Export a version: ``yolo`` (data.yaml + image lists + labels), ``jsonl``, ``parquet``, ``hf`` (a
Hugging Face ``save_to_disk`` folder with a dataset card: :mod:`tailguard.integrations.huggingface.export`),
``croissant`` (Parquet + Croissant 1.1 JSON-LD with PROV-O: :mod:`tailguard.ledger.croissant`) or
``ultralytics-ndjson`` (the Ultralytics Platform's dataset NDJSON: :mod:`tailguard.ledger.ndjson`).

Labels are written from the stored boxes of the chosen ``origins`` (default: human and
pseudo_label). When one image has boxes from several chosen origins, ``both`` decides:
``prefer-human`` (default) keeps the boxes of the most trusted origin (human >
pseudo_label > synthetic > unknown), so the default export holds the human labels plus
the pseudo-labels of images that have no human ones; ``merge`` keeps all, ``skip``
leaves the image out (listed in the export manifest).

Exports are atomic where a reader could be fooled: JSONL and Parquet files, image
copies, label files, image lists and the manifest are written under a temporary name in
their destination folder and renamed into place (``os.replace``); a YOLO export writes
``data.yaml`` last, so a folder without one is an incomplete export. Images are copied
(``link=True`` hard-links them instead, copying across devices), so editing an exported
image never changes the ledger's source file.

A YOLO export needs a train and a val split. The stored split (from the ingested
data.yaml) is used when it has both; otherwise ``val_fraction`` (a deterministic split
by a seeded hash of the sample id) or ``val_from`` (val images from another version)
must be given. Nothing is written outside ``out``: stored names such as ``../../x`` are
refused.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import secrets
import shutil
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, TypedDict

from tailguard.errors import (
    BadInputError,
    EmptyDatasetError,
    MissingInputError,
    MissingSplitError,
    ParameterError,
    UnknownChoiceError,
    UnsafePathError,
)
from tailguard.ledger.paths import safe_join
from tailguard.ledger.types import ORIGINS, Box, SampleRecord

if TYPE_CHECKING:
    from tailguard.ledger.store import Ledger

EXPORT_FORMATS = ("yolo", "jsonl", "parquet", "hf", "croissant", "ultralytics-ndjson")
BOTH_MODES = ("prefer-human", "merge", "skip")
DEFAULT_ORIGINS: tuple[str, ...] = ("human", "pseudo_label")
SPLITS = ("train", "val", "test")
WARN_NAMES = 5  # unlabelled images named in the warning before "and K more"
_PRIORITY = ("human", "pseudo_label", "synthetic", "unknown")


class ExportWarning(UserWarning):
    """The export was written, but part of it needs a look (e.g. images without a label file)."""


class ExportOptions(TypedDict, total=False):
    """Keyword options of :func:`export_version` (``Ledger.export`` forwards them)."""

    origins: Sequence[str]
    both: str
    link: bool
    val_fraction: float | None
    val_from: str | None
    seed: int
    progress: Callable[[int], None] | None
    task: str | None


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


def _check(fmt: str, origins: Sequence[str], both: str, val_fraction: float | None, val_from: str | None,
           link: bool, task: str | None = None) -> None:
    from tailguard.tasks import TASKS

    if task is not None and task not in TASKS:
        raise UnknownChoiceError("task", task, TASKS)
    if fmt not in EXPORT_FORMATS:
        raise UnknownChoiceError("export format", fmt, EXPORT_FORMATS)
    for origin in origins:
        if origin not in ORIGINS:
            raise UnknownChoiceError("origin", origin, ORIGINS)
    if both not in BOTH_MODES:
        raise UnknownChoiceError("'both' mode", both, BOTH_MODES)
    if val_fraction is not None and not (isinstance(val_fraction, int | float) and 0.0 < val_fraction < 1.0):
        raise ParameterError(f"The 'val_fraction' parameter of export_version must be a float in (0, 1). "
                             f"Got {val_fraction!r}.")
    if val_fraction is not None and val_from is not None:
        raise ParameterError("Pass either 'val_fraction' (--val-fraction) or 'val_from' (--val-from) to "
                             f"export_version, not both. Got {val_fraction!r} and {val_from!r}.")
    if fmt != "yolo":
        for key, value in (("val_fraction", val_fraction), ("val_from", val_from),
                           ("link", None if fmt == "ultralytics-ndjson" else (link or None)), ("task", task)):
            if value is not None:
                raise ParameterError(f"The '{key}' parameter of export_version applies to format 'yolo' only. "
                                     f"Got format {fmt!r}.")


def export_version(
    ledger: Ledger,
    version: str,
    fmt: str,
    out: Path,
    *,
    origins: Sequence[str] = DEFAULT_ORIGINS,
    both: str = "prefer-human",
    link: bool = False,
    val_fraction: float | None = None,
    val_from: str | None = None,
    seed: int = 0,
    progress: Callable[[int], None] | None = None,
    task: str | None = None,
) -> Path:
    """Write ``version`` to ``out`` in ``fmt``; returns data.yaml (yolo), the dataset folder
    (yolo, task classify: Ultralytics trains on the folder) or the written file.

    ``link`` hard-links images instead of copying them (yolo); ``val_fraction`` /
    ``val_from`` / ``seed`` choose the val split when the version has none (see the
    module docstring). ``task`` (yolo) picks the Ultralytics task whose label rows are
    written (default: the one task the chosen rows hold; rows of several tasks need it).
    Images that end up without labels are named in an :class:`ExportWarning`.
    """
    out = Path(out)
    _check(fmt, origins, both, val_fraction, val_from, link, task)
    ledger.get_version(version)  # typed error with suggestions when it does not exist
    if val_from is not None:
        ledger.get_version(val_from)
    if out.exists() and not out.is_dir():
        raise UnsafePathError("--out must be a folder", path=str(out))
    out.mkdir(parents=True, exist_ok=True)
    if fmt == "yolo":
        return _export_yolo(ledger, version, out,
                            _YoloOptions(origins, both, link, val_fraction, val_from, seed, task), progress)
    if fmt == "hf":
        from tailguard.integrations.huggingface.export import export_hf

        return export_hf(ledger, version, out, progress=progress)
    if fmt == "croissant":
        from tailguard.ledger.croissant import export_croissant

        return export_croissant(ledger, version, out, origins=origins, both=both, progress=progress)
    if fmt == "ultralytics-ndjson":
        from tailguard.ledger.ndjson import export_ndjson

        return export_ndjson(ledger, version, out, origins=origins, both=both, link=link, progress=progress)
    return _export_table(ledger, version, fmt, out, origins, both, progress)


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


def _write_text(target: Path, text: str) -> None:
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


# ---------------------------------------------------------------------------- yolo
@dataclass(frozen=True)
class _YoloOptions:
    origins: Sequence[str]
    both: str
    link: bool
    val_fraction: float | None
    val_from: str | None
    seed: int
    task: str | None = None


@dataclass
class _Item:
    """One image to export: its record, stored name, split and chosen boxes."""

    rec: SampleRecord
    name: str
    split: str
    boxes: list[Box]


@dataclass
class _Collected:
    items: list[_Item]
    skipped: list[str]
    other_modalities: int


def _collect(ledger: Ledger, version: str, out: Path, opts: _YoloOptions) -> _Collected:
    """The images of ``version`` with their boxes, names checked and files found, before anything is written."""
    found = _Collected([], [], 0)
    for rec in ledger.iter_samples(version):
        if rec.modality not in ("detection", "image"):
            found.other_modalities += 1
            continue
        boxes = choose_labels(rec.labels, opts.origins, opts.both)
        if boxes is None:
            found.skipped.append(rec.id)
            continue
        if rec.uri is None:
            raise MissingInputError(f"sample {rec.id} of version {version!r} has no image file to export")
        name = str(rec.extra.get("name") or f"{rec.id}{Path(rec.uri).suffix or '.png'}")
        safe_join(out / "images", name)  # refuses ../ and absolute names before anything is written
        split = str(rec.extra.get("split") or "train")
        if split not in SPLITS:
            raise UnsafePathError(f"unexpected split {split!r} stored for sample {rec.id}", path=name)
        if not os.path.isfile(rec.uri):
            raise MissingInputError(f"image file of version {version!r} is missing "
                                    "(run `tailguard version verify`)", path=rec.uri)
        found.items.append(_Item(rec, name, split, boxes))
    return found


def _split_by_fraction(items: list[_Item], version: str, fraction: float, seed: int) -> None:
    """Re-split the non-test images: val when their seeded id hash falls below ``fraction``."""
    pool = sorted((i for i in items if i.split != "test"), key=lambda i: split_unit(i.rec.id, seed))
    if len(pool) < 2:
        raise EmptyDatasetError(f"version {version!r} has {len(pool)} non-test image(s): too few for "
                                "--val-fraction to make a train and a val split")
    n_val = sum(split_unit(i.rec.id, seed) < fraction for i in pool)
    n_val = min(max(n_val, 1), len(pool) - 1)  # both splits non-empty, still decided by the hash order
    for k, item in enumerate(pool):
        item.split = "val" if k < n_val else "train"


def _check_same_names(ledger: Ledger, version: str, val_from: str) -> None:
    """Refuse val images labelled with another list of class names than the exported version's."""
    mine, theirs = ledger.class_names(version), ledger.class_names(val_from)
    if mine and theirs and mine != theirs:
        k = next((i for i, (a, b) in enumerate(zip(mine, theirs, strict=False)) if a != b), min(len(mine), len(theirs)))
        detail = f"{k}: {mine[k]!r} vs {theirs[k]!r}" if k < min(len(mine), len(theirs)) else (
            f"{len(mine)} vs {len(theirs)} names")
        raise BadInputError(f"version {val_from!r} (--val-from) has other class names than version {version!r} "
                            f"({detail})")


def _assign_splits(ledger: Ledger, version: str, out: Path, opts: _YoloOptions, found: _Collected) -> None:
    """Decide train/val: the stored split if it has both, else the explicit ``val_fraction`` / ``val_from``."""
    if opts.val_fraction is not None:
        _split_by_fraction(found.items, version, opts.val_fraction, opts.seed)
        return
    if opts.val_from is not None:
        _check_same_names(ledger, version, opts.val_from)
        for item in found.items:
            if item.split != "test":
                item.split = "train"
        own = {item.rec.id for item in found.items}
        extra = _collect(ledger, opts.val_from, out, opts)
        val = [item for item in extra.items if item.rec.id not in own]
        if not val:
            raise EmptyDatasetError(f"version {opts.val_from!r} (--val-from) has no images outside version "
                                    f"{version!r} to validate on")
        for item in val:
            item.split = "val"
        found.items.extend(val)
        found.skipped.extend(extra.skipped)
        return
    counts = {s: sum(i.split == s for i in found.items) for s in SPLITS}
    if counts["train"] and counts["val"]:
        return
    missing = "val" if counts["train"] else "train"
    stored = ", ".join(f"{n} {s}" for s, n in counts.items() if n) or "none"
    raise MissingSplitError(
        f"version {version!r} has no {missing} split (images stored as: {stored}); pass --val-fraction F "
        "(val_fraction=F, 0 < F < 1: a split seeded by sample id) or --val-from VERSION "
        "(val_from=: val images from another version)")


def _place(name: str, split: str, used: dict[str, str], sid: str) -> str:
    """The image's path under images/: ``<split>/<name without its stored split folder>``, unique per id."""
    parts = PurePosixPath(name.replace("\\", "/")).parts
    base = "/".join(parts[1:]) if len(parts) > 1 and parts[0] in SPLITS else "/".join(parts)
    rel = f"{split}/{base}"
    if used.get(rel, sid) != sid:
        head, _, tail = rel.rpartition("/")
        rel = f"{head}/{sid[:8]}_{tail}"
    used[rel] = sid
    return rel


def _unlabelled_message(names: list[str], origins: Sequence[str]) -> str:
    names = sorted(names)
    shown = ", ".join(names[:WARN_NAMES])
    more = f" and {len(names) - WARN_NAMES} more" if len(names) > WARN_NAMES else ""
    return (f"{len(names)} exported image(s) have no label file (no boxes of origin {', '.join(origins)}; "
            f"YOLO trains on them as background): {shown}{more}")


def _export_yolo(ledger: Ledger, version: str, out: Path, opts: _YoloOptions,
                 progress: Callable[[int], None] | None) -> Path:
    import yaml

    found = _collect(ledger, version, out, opts)
    if not found.items:
        raise EmptyDatasetError(f"version {version!r} has no images to export as YOLO "
                                f"({found.other_modalities} non-image samples, {len(found.skipped)} skipped)")
    _assign_splits(ledger, version, out, opts, found)
    task = _export_task(found.items, version, opts.task)
    for item in found.items:
        item.boxes = [b for b in item.boxes if b.task == task]
    max_class = max((b.class_id for item in found.items for b in item.boxes), default=-1)
    names = (ledger.class_names(version) or (ledger.class_names(opts.val_from) if opts.val_from else [])
             or [str(i) for i in range(max_class + 1)] or ["object"])
    if max_class >= len(names):
        raise BadInputError(f"version {version!r}: labels use class {max_class} but the version has "
                            f"{len(names)} class names")
    if task == "classify":
        return _export_classify(version, out, opts, found, names, progress)
    used: dict[str, str] = {}
    placed = [(item, _place(item.name, item.split, used, item.rec.id)) for item in found.items]
    for _item, rel in placed:
        safe_join(out / "images", rel)

    data_yaml = out / "data.yaml"
    data_yaml.unlink(missing_ok=True)  # an earlier export's data.yaml must not vouch for a half-written one
    lists: dict[str, list[str]] = {}
    unlabelled: list[str] = []
    for item, rel in placed:
        place_file(item.rec.uri or "", safe_join(out / "images", rel), opts.link)
        label = safe_join(out / "labels", PurePosixPath(rel).with_suffix(".txt").as_posix())
        if item.boxes:
            label.parent.mkdir(parents=True, exist_ok=True)
            _write_text(label, "".join(b.line() + "\n" for b in item.boxes))
        else:
            label.unlink(missing_ok=True)  # a stale label from an earlier export into this folder
            unlabelled.append(rel)
        lists.setdefault(item.split, []).append(f"./images/{rel}")
        if progress is not None:
            progress(1)
    for split, entries in lists.items():
        _write_text(out / f"{split}.txt", "\n".join(entries) + "\n")
    data: dict[str, Any] = {"path": str(out.resolve()), "train": "train.txt", "val": "val.txt"}
    if "test" in lists:
        data["test"] = "test.txt"
    data["names"] = dict(enumerate(names))
    if task != "detect":
        data["task"] = task
    if task == "pose":
        data.update(_pose_fields(found.items))
    manifest = {"version": version, "format": "yolo", "task": task, "origins": list(opts.origins), "both": opts.both,
                "link": opts.link, "val_fraction": opts.val_fraction, "val_from": opts.val_from, "seed": opts.seed,
                "n_images": len(placed), "splits": {s: len(v) for s, v in lists.items()},
                "skipped_conflicting": found.skipped, "unlabelled_images": unlabelled,
                "non_image_samples": found.other_modalities}
    _write_text(out / "tailguard_export.json", json.dumps(manifest, indent=2))
    _write_text(data_yaml, yaml.safe_dump(data, sort_keys=False))  # last: its presence marks a complete export
    if unlabelled:
        warnings.warn(_unlabelled_message(unlabelled, opts.origins), ExportWarning, stacklevel=3)
    return data_yaml


def _export_task(items: list[_Item], version: str, task: str | None) -> str:
    """The task whose rows are written: ``task``, else the one task the chosen rows hold (detect when none)."""
    held: dict[str, int] = {}
    for item in items:
        for b in item.boxes:
            held[b.task] = held.get(b.task, 0) + 1
    if task is not None:
        return task
    if len(held) > 1:
        found = ", ".join(f"{n} {t}" for t, n in sorted(held.items()))
        raise BadInputError(f"version {version!r} holds label rows of several tasks ({found}); pass --task "
                            "(task=) to choose the one to export")
    return next(iter(held), "detect")


def _pose_fields(items: list[_Item]) -> dict[str, Any]:
    """data.yaml's ``kpt_shape`` (from the rows) and ``kpt_names`` (as ingested), for a pose export."""
    from tailguard.tasks.pose import kpt_shape_of

    shape = kpt_shape_of([b for item in items for b in item.boxes])
    if shape is None:
        raise EmptyDatasetError("no pose rows to export (kpt_shape unknown)")
    fields: dict[str, Any] = {"kpt_shape": list(shape)}
    names = next((item.rec.extra["kpt_names"] for item in items if item.rec.extra.get("kpt_names")), None)
    if isinstance(names, dict):
        fields["kpt_names"] = {int(k): list(v) for k, v in names.items()}
    return fields


def _export_classify(version: str, out: Path, opts: _YoloOptions, found: _Collected, names: list[str],
                     progress: Callable[[int], None] | None) -> Path:
    """The folder-per-class layout ``<split>/<class name>/<image>``; returns the dataset folder."""
    placed: list[tuple[_Item, str]] = []
    unlabelled: list[str] = []
    used: dict[str, str] = {}
    for item in found.items:
        classes = sorted({b.class_id for b in item.boxes})
        if not classes:
            unlabelled.append(item.name)
            continue
        if len(classes) > 1:
            raise BadInputError(f"image {item.name} of version {version!r} holds {len(classes)} classification "
                                f"labels ({', '.join(names[c] for c in classes)}) of the chosen origins; pass "
                                "both='prefer-human' or fewer origins")
        for name in names:
            safe_join(out, name)  # a class name is a folder: no ../ nor absolute names
        rel = _place(PurePosixPath(item.name).name, f"{item.split}/{names[classes[0]]}", used, item.rec.id)
        placed.append((item, rel))
    if not placed:
        raise EmptyDatasetError(f"version {version!r} has no classification labels of origin "
                                f"{', '.join(opts.origins)} to export")
    (out / "tailguard_export.json").unlink(missing_ok=True)  # last below: its presence marks a complete export
    for split in {item.split for item, _rel in placed}:  # every class folder, empty too: Ultralytics numbers the
        for name in names:                                # folders it finds, so a missing one shifts the class ids
            safe_join(out, f"{split}/{name}").mkdir(parents=True, exist_ok=True)
    for item, rel in placed:
        place_file(item.rec.uri or "", safe_join(out, rel), opts.link)
        if progress is not None:
            progress(1)
    splits: dict[str, int] = {}
    for item, _rel in placed:
        splits[item.split] = splits.get(item.split, 0) + 1
    manifest = {"version": version, "format": "yolo", "task": "classify", "origins": list(opts.origins),
                "both": opts.both, "link": opts.link, "val_fraction": opts.val_fraction, "val_from": opts.val_from,
                "seed": opts.seed, "n_images": len(placed), "splits": splits, "names": list(names),
                "skipped_conflicting": found.skipped, "unlabelled_images": sorted(unlabelled),
                "non_image_samples": found.other_modalities}
    _write_text(out / "tailguard_export.json", json.dumps(manifest, indent=2))
    if list(names) != sorted(names):
        warnings.warn(f"Ultralytics numbers classification classes by their sorted folder names, not by version "
                      f"{version!r}'s order ({', '.join(names[:3])}, ...): a model trained on this export has other "
                      "class ids than the ledger (pseudo_label refuses its weights)", ExportWarning, stacklevel=3)
    if unlabelled:
        warnings.warn(f"{len(unlabelled)} image(s) have no classification label of origin "
                      f"{', '.join(opts.origins)} and were left out: {', '.join(sorted(unlabelled)[:WARN_NAMES])}",
                      ExportWarning, stacklevel=3)
    return out


# ---------------------------------------------------------------------------- jsonl / parquet
def _rows(ledger: Ledger, version: str, origins: Sequence[str], both: str) -> Iterator[dict[str, Any]]:
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


def export_rows(ledger: Ledger, version: str, origins: Sequence[str] = DEFAULT_ORIGINS,
                both: str = "prefer-human") -> Iterator[dict[str, Any]]:
    """One row per occurrence of ``version`` as the JSONL and Parquet exports write it (labels of ``origins``)."""
    return _rows(ledger, version, origins, both)


def write_parquet(ledger: Ledger, version: str, target: Path, origins: Sequence[str] = DEFAULT_ORIGINS,
                  both: str = "prefer-human", progress: Callable[[int], None] | None = None) -> Path:
    """The Parquet export of ``version`` at ``target`` (atomically); returns ``target``."""
    return _export_table(ledger, version, "parquet", target.parent, origins, both, progress, target=target)


def _export_table(ledger: Ledger, version: str, fmt: str, out: Path, origins: Sequence[str], both: str,
                  progress: Callable[[int], None] | None, target: Path | None = None) -> Path:
    if fmt == "jsonl":
        target = out / "samples.jsonl"
        with atomic_path(target) as part, open(part, "w", encoding="utf-8") as handle:
            for row in _rows(ledger, version, origins, both):
                if row["content"] is not None:
                    row["content"] = base64.b64encode(row["content"]).decode()
                handle.write(json.dumps(row, default=str) + "\n")
                if progress is not None:
                    progress(1)
        return target
    import pyarrow as pa
    import pyarrow.parquet as pq

    box = pa.struct([("class_id", pa.int32()), ("x", pa.float64()), ("y", pa.float64()), ("w", pa.float64()),
                     ("h", pa.float64()), ("origin", pa.string()), ("confidence", pa.float64()),
                     ("generator", pa.string()), ("task", pa.string()), ("points", pa.list_(pa.float64())),
                     ("point_dim", pa.int32())])
    arrow_schema = pa.schema([
        ("id", pa.string()), ("modality", pa.string()), ("origin", pa.string()), ("uri", pa.string()),
        ("generator", pa.string()), ("generation", pa.int64()), ("verified_by", pa.string()),
        ("source", pa.string()), ("synthetic_depth", pa.int64()), ("parents", pa.list_(pa.string())),
        ("extra", pa.string()), ("text", pa.string()), ("content", pa.binary()), ("labels", pa.list_(box)),
    ])
    target = target or out / "samples.parquet"
    # the footer is written when the writer closes, inside the block: only a finished file gets the name
    with atomic_path(target) as part, pq.ParquetWriter(part, arrow_schema) as writer:
        batch: list[dict[str, Any]] = []
        for row in _rows(ledger, version, origins, both):
            row["extra"] = json.dumps(row["extra"], default=str)
            batch.append(row)
            if len(batch) >= 10_000:
                writer.write_table(pa.Table.from_pylist(batch, schema=arrow_schema))
                if progress is not None:
                    progress(len(batch))
                batch = []
        if batch:
            writer.write_table(pa.Table.from_pylist(batch, schema=arrow_schema))
            if progress is not None:
                progress(len(batch))
    return target
