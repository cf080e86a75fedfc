"""``tailguard export VERSION --format yolo``: data.yaml, image lists, images and label files.

The layout Ultralytics trains on: ``images/<split>/...`` and ``labels/<split>/....txt``, ``train.txt`` /
``val.txt`` (and ``test.txt``) image lists, ``tailguard_export.json`` (the version, the options, the
counts) and ``data.yaml`` (``path``, ``train``, ``val``, ``names``; ``task``, ``kpt_shape`` and
``kpt_names`` when they apply), written last: a folder without one is an incomplete export. A
classification version is written as ``<split>/<class name>/<image>`` folders instead, and the
folder is returned.

Labels are the stored rows of the chosen origins (``both`` decides per image,
:func:`~tailguard.ledger.export.base.choose_labels`) of one task (``task``, or the one task they hold).
Images are copied (``link`` hard-links them). The export needs a train and a val split: the stored
one when it has both, else ``val_fraction`` (a split by a seeded hash of the sample id) or
``val_from`` (val images from another version). Samples that are not images are left out and counted
in the manifest (``non_image_samples``). Nothing is written outside ``out``: stored names such as
``../../x`` are refused.
"""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from tailguard.errors import BadInputError, EmptyDatasetError, MissingInputError, MissingSplitError, UnsafePathError
from tailguard.ledger.export.base import SPLITS, WARN_NAMES, ExportWarning, place_file, split_unit, write_text
from tailguard.ledger.export.formats import ExportFormat, ExportJob, register_export_format
from tailguard.ledger.paths import safe_join
from tailguard.ledger.types import Box, SampleRecord

if TYPE_CHECKING:
    from tailguard.ledger.store import Ledger


@register_export_format
class YoloFormat(ExportFormat):
    """``--format yolo``: the Ultralytics dataset layout (module docstring); returns data.yaml (classify: the folder)."""

    name = "yolo"
    modalities = ("detection", "image")
    options = ("val_fraction", "val_from", "link", "task", "seed")
    summary = "data.yaml, image lists, images and YOLO label files"

    def write(self, job: ExportJob) -> Path:
        return export_yolo(job)


@dataclass
class _Item:
    """One image to export: its record, stored name, split and chosen boxes."""

    rec: SampleRecord
    name: str
    split: str
    boxes: list[Box]
    offered: list[Box]  # the boxes of the chosen origins before ``both`` chose among them


@dataclass
class _Collected:
    items: list[_Item]
    skipped: list[str]
    other_modalities: int


def _collect(ledger: Ledger, version: str, out: Path, opts: ExportJob) -> _Collected:
    """The images of ``version`` with their boxes, names checked and files found, before anything is written."""
    found = _Collected([], [], 0)
    for rec in ledger.iter_samples(version):
        if rec.modality not in YoloFormat.modalities:
            found.other_modalities += 1
            continue
        boxes = opts.labels(rec)
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
        found.items.append(_Item(rec, name, split, boxes, [b for b in rec.labels if b.origin in opts.origins]))
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


def _assign_splits(ledger: Ledger, version: str, out: Path, opts: ExportJob, found: _Collected) -> None:
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


def _unlabelled_message(names: list[str], origins: tuple[str, ...]) -> str:
    names = sorted(names)
    shown = ", ".join(names[:WARN_NAMES])
    more = f" and {len(names) - WARN_NAMES} more" if len(names) > WARN_NAMES else ""
    return (f"{len(names)} exported image(s) have no label file (no boxes of origin {', '.join(origins)}; "
            f"YOLO trains on them as background): {shown}{more}")


def export_yolo(opts: ExportJob) -> Path:
    """Write the YOLO export of ``opts.version`` into ``opts.out`` (module docstring); returns data.yaml, or the
    dataset folder for a classification version."""
    import yaml

    ledger, version, out = opts.ledger, opts.version, opts.out
    found = _collect(ledger, version, out, opts)
    if not found.items:
        raise EmptyDatasetError(f"version {version!r} has no images to export as YOLO "
                                f"({found.other_modalities} non-image samples, {len(found.skipped)} skipped)")
    _assign_splits(ledger, version, out, opts, found)
    task = _export_task(found.items, version, opts.task)
    for item in found.items:
        item.boxes = [b for b in item.boxes if b.task == task]
        item.offered = [b for b in item.offered if b.task == task]
    max_class = max((b.class_id for item in found.items for b in item.boxes), default=-1)
    names = (ledger.class_names(version) or (ledger.class_names(opts.val_from) if opts.val_from else [])
             or [str(i) for i in range(max_class + 1)] or ["object"])
    if max_class >= len(names):
        raise BadInputError(f"version {version!r}: labels use class {max_class} but the version has "
                            f"{len(names)} class names")
    if task == "classify":
        return _export_classify(version, out, opts, found, names)
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
            write_text(label, "".join(b.line() + "\n" for b in item.boxes))
        else:
            label.unlink(missing_ok=True)  # a stale label from an earlier export into this folder
            unlabelled.append(rel)
        lists.setdefault(item.split, []).append(f"./images/{rel}")
        opts.tick()
    for split, entries in lists.items():
        write_text(out / f"{split}.txt", "\n".join(entries) + "\n")
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
                "non_image_samples": found.other_modalities, **_box_counts(found.items)}
    write_text(out / "tailguard_export.json", json.dumps(manifest, indent=2))
    write_text(data_yaml, yaml.safe_dump(data, sort_keys=False))  # last: its presence marks a complete export
    if unlabelled:
        warnings.warn(_unlabelled_message(unlabelled, opts.origins), ExportWarning, stacklevel=4)
    if manifest["boxes_left_out"]:
        warnings.warn(_left_out_message(manifest), ExportWarning, stacklevel=4)
    return data_yaml


def _box_counts(items: list[_Item]) -> dict[str, Any]:
    """Boxes written, and boxes of a chosen origin that ``both`` left out, by origin, with the images
    that lost some: the manifest's account of what the label choice did."""
    written: dict[str, int] = {}
    left_out: dict[str, int] = {}
    images = 0
    for item in items:
        for b in item.boxes:
            written[b.origin] = written.get(b.origin, 0) + 1
        kept = {id(b) for b in item.boxes}
        dropped = [b for b in item.offered if id(b) not in kept]
        for b in dropped:
            left_out[b.origin] = left_out.get(b.origin, 0) + 1
        images += bool(dropped)
    return {"boxes_written": dict(sorted(written.items())), "boxes_left_out": dict(sorted(left_out.items())),
            "images_with_boxes_left_out": images}


def _left_out_message(manifest: dict[str, Any]) -> str:
    counts = manifest["boxes_left_out"]
    dropped = ", ".join(f"{n} {origin}" for origin, n in counts.items())
    return (f"{dropped} box(es) of the chosen origins were not written: their {manifest['images_with_boxes_left_out']} "
            "image(s) also have more trusted boxes (--both prefer-human); --both merge writes every chosen "
            f"origin's boxes, --origins {next(iter(counts))} only those")


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


def _export_classify(version: str, out: Path, opts: ExportJob, found: _Collected, names: list[str]) -> Path:
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
        opts.tick()
    splits: dict[str, int] = {}
    for item, _rel in placed:
        splits[item.split] = splits.get(item.split, 0) + 1
    manifest = {"version": version, "format": "yolo", "task": "classify", "origins": list(opts.origins),
                "both": opts.both, "link": opts.link, "val_fraction": opts.val_fraction, "val_from": opts.val_from,
                "seed": opts.seed, "n_images": len(placed), "splits": splits, "names": list(names),
                "skipped_conflicting": found.skipped, "unlabelled_images": sorted(unlabelled),
                "non_image_samples": found.other_modalities}
    write_text(out / "tailguard_export.json", json.dumps(manifest, indent=2))
    if list(names) != sorted(names):
        warnings.warn(f"Ultralytics numbers classification classes by their sorted folder names, not by version "
                      f"{version!r}'s order ({', '.join(names[:3])}, ...): a model trained on this export has other "
                      "class ids than the ledger (pseudo_label refuses its weights)", ExportWarning, stacklevel=5)
    if unlabelled:
        warnings.warn(f"{len(unlabelled)} image(s) have no classification label of origin "
                      f"{', '.join(opts.origins)} and were left out: {', '.join(sorted(unlabelled)[:WARN_NAMES])}",
                      ExportWarning, stacklevel=5)
    return out
