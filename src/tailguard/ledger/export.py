"""Export a version: ``yolo`` (data.yaml + image lists + labels), ``jsonl`` or ``parquet``.

Labels are written from the stored boxes of the chosen ``origins``. When one image
has boxes from several chosen origins, ``both`` decides: ``prefer-human`` keeps the
boxes of the most trusted origin (human > pseudo_label > synthetic > unknown),
``merge`` keeps all, ``skip`` leaves the image out (listed in the export manifest).
Nothing is written outside ``out``: stored names such as ``../../x`` are refused.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tailguard.errors import EmptyDatasetError, MissingInputError, UnknownChoiceError, UnsafePathError
from tailguard.ledger.paths import safe_join
from tailguard.ledger.types import ORIGINS, Box, SampleRecord

if TYPE_CHECKING:
    from tailguard.ledger.store import Ledger

EXPORT_FORMATS = ("yolo", "jsonl", "parquet")
BOTH_MODES = ("prefer-human", "merge", "skip")
_PRIORITY = ("human", "pseudo_label", "synthetic", "unknown")


def choose_labels(labels: Sequence[Box], origins: Sequence[str], both: str) -> list[Box] | None:
    """The boxes to export for one image (None: leave the image out, ``both='skip'``).

    >>> h = Box(0, .5, .5, .1, .1, "human"); p = Box(1, .2, .2, .1, .1, "pseudo_label")
    >>> [b.origin for b in choose_labels([h, p], ("human", "pseudo_label"), "prefer-human")]
    ['human']
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


def _check(fmt: str, origins: Sequence[str], both: str) -> None:
    if fmt not in EXPORT_FORMATS:
        raise UnknownChoiceError("export format", fmt, EXPORT_FORMATS)
    for origin in origins:
        if origin not in ORIGINS:
            raise UnknownChoiceError("origin", origin, ORIGINS)
    if both not in BOTH_MODES:
        raise UnknownChoiceError("'both' mode", both, BOTH_MODES)


def export_version(
    ledger: Ledger,
    version: str,
    fmt: str,
    out: Path,
    *,
    origins: Sequence[str] = ("human",),
    both: str = "prefer-human",
    progress: Callable[[int], None] | None = None,
) -> Path:
    """Write ``version`` to ``out`` in ``fmt``; returns data.yaml (yolo) or the written file."""
    _check(fmt, origins, both)
    ledger.get_version(version)  # typed error with suggestions when it does not exist
    if out.exists() and not out.is_dir():
        raise UnsafePathError("--out must be a folder", path=str(out))
    out.mkdir(parents=True, exist_ok=True)
    if fmt == "yolo":
        return _export_yolo(ledger, version, out, origins, both, progress)
    return _export_table(ledger, version, fmt, out, origins, both, progress)


def _place(out: Path, name: str, split: str, used: dict[str, str], sid: str) -> str:
    safe_join(out / "images", name)  # refuses ../ and absolute names before anything is written
    rel = name if name.startswith(split + "/") else f"{split}/{name}"
    safe_join(out / "images", rel)
    if used.get(rel, sid) != sid:
        head, _, tail = rel.rpartition("/")
        rel = f"{head}/{sid[:8]}_{tail}" if head else f"{sid[:8]}_{tail}"
    used[rel] = sid
    return rel


def _link_or_copy(src: str, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    if dst.exists() or dst.is_symlink():
        dst.unlink()
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def _export_yolo(ledger: Ledger, version: str, out: Path, origins: Sequence[str], both: str,
                 progress: Callable[[int], None] | None) -> Path:
    import yaml

    plan: list[tuple[SampleRecord, str, list[Box]]] = []
    used: dict[str, str] = {}
    skipped: list[str] = []
    other_modalities = 0
    for rec in ledger.iter_samples(version):
        if rec.modality not in ("detection", "image"):
            other_modalities += 1
            continue
        boxes = choose_labels(rec.labels, origins, both)
        if boxes is None:
            skipped.append(rec.id)
            continue
        if rec.uri is None:
            raise MissingInputError(f"sample {rec.id} has no image file to export")
        suffix = Path(rec.uri).suffix or ".png"
        name = str(rec.extra.get("name") or f"{rec.id}{suffix}")
        split = str(rec.extra.get("split") or "train")
        if split not in ("train", "val", "test"):
            raise UnsafePathError(f"unexpected split {split!r} stored for sample {rec.id}", path=name)
        plan.append((rec, _place(out, name, split, used, rec.id), boxes))
    if not plan:
        raise EmptyDatasetError(f"version {version!r} has no images to export as YOLO "
                                f"({other_modalities} non-image samples, {len(skipped)} skipped)")
    lists: dict[str, list[str]] = {}
    max_class = -1
    for rec, rel, boxes in plan:
        image = safe_join(out / "images", rel)
        label = safe_join(out / "labels", str(Path(rel).with_suffix(".txt").as_posix()))
        if not os.path.isfile(rec.uri or ""):
            raise MissingInputError("image file of the version is missing (run `tailguard version verify`)",
                                    path=rec.uri)
        _link_or_copy(rec.uri or "", image)
        label.parent.mkdir(parents=True, exist_ok=True)
        label.write_text("".join(b.line() + "\n" for b in boxes))
        max_class = max([max_class, *(b.class_id for b in boxes)])
        lists.setdefault(rel.split("/", 1)[0], []).append(f"./images/{rel}")
        if progress is not None:
            progress(1)
    names = ledger.class_names(version) or [str(i) for i in range(max_class + 1)] or ["object"]
    if max_class >= len(names):
        raise UnsafePathError(f"labels use class {max_class} but the version has {len(names)} class names")
    for split, entries in lists.items():
        (out / f"{split}.txt").write_text("\n".join(entries) + "\n")
    data = {
        "path": str(out.resolve()),
        "train": "train.txt" if "train" in lists else next(f"{s}.txt" for s in lists),
        "val": "val.txt" if "val" in lists else ("train.txt" if "train" in lists else next(f"{s}.txt" for s in lists)),
        "names": dict(enumerate(names)),
    }
    if "test" in lists:
        data["test"] = "test.txt"
    data_yaml = out / "data.yaml"
    data_yaml.write_text(yaml.safe_dump(data, sort_keys=False))
    manifest = {"version": version, "format": "yolo", "origins": list(origins), "both": both,
                "n_images": len(plan), "skipped_conflicting": skipped, "non_image_samples": other_modalities}
    (out / "tailguard_export.json").write_text(json.dumps(manifest, indent=2))
    return data_yaml


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
                        "confidence": b.confidence, "generator": b.generator} for b in boxes],
        }


def _export_table(ledger: Ledger, version: str, fmt: str, out: Path, origins: Sequence[str], both: str,
                  progress: Callable[[int], None] | None) -> Path:
    if fmt == "jsonl":
        target = out / "samples.jsonl"
        with open(target, "w", encoding="utf-8") as handle:
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
                     ("generator", pa.string())])
    arrow_schema = pa.schema([
        ("id", pa.string()), ("modality", pa.string()), ("origin", pa.string()), ("uri", pa.string()),
        ("generator", pa.string()), ("generation", pa.int64()), ("verified_by", pa.string()),
        ("source", pa.string()), ("synthetic_depth", pa.int64()), ("parents", pa.list_(pa.string())),
        ("extra", pa.string()), ("text", pa.string()), ("content", pa.binary()), ("labels", pa.list_(box)),
    ])
    target = out / "samples.parquet"
    with pq.ParquetWriter(target, arrow_schema) as writer:
        batch: list[dict[str, Any]] = []
        for row in _rows(ledger, version, origins, both):
            row["extra"] = json.dumps(row["extra"], default=str)
            batch.append(row)
            if len(batch) >= 10_000:
                writer.write_table(pa.Table.from_pylist(batch, schema=arrow_schema))
                if progress is not None:
                    progress(len(batch))
                batch = []
        if batch or writer is not None:
            writer.write_table(pa.Table.from_pylist(batch, schema=arrow_schema))
            if progress is not None:
                progress(len(batch))
    return target
