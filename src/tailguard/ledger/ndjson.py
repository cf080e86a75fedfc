"""``tailguard export VERSION --format ultralytics-ndjson``: the Ultralytics Platform's dataset NDJSON.

``out/dataset.ndjson`` holds one JSON object per line, as the Platform exports a dataset and
Ultralytics' ``convert_ndjson_to_yolo`` reads it:

- the first line describes the dataset: ``{"type": "dataset", "task", "name", "description",
  "class_names": {"0": name, ...}, "path": "."}`` (plus ``kpt_shape`` for pose; ``path`` tells
  Ultralytics' converter to read the images of this local file from ``images/<split>/`` beside it);
- then one line per image: ``{"type": "image", "file", "width", "height", "split",
  "annotations": {KEY: [[class, numbers...], ...]}}``, the numbers being the image's label
  line for its task (``boxes`` for detect, ``segments``, ``pose``, ``obb``; classify writes
  ``{"classification": [class]}``), and ``metadata.tailguard = {"origin", "generator",
  "generation", "parents", "sample_id", "verified_by", "labels"}``, ``labels`` giving each
  annotation's origin, generator and confidence in the same order.

The images are copied to ``out/images/<split>/<file>`` (``link=True`` hard-links them), where
the ingest and Ultralytics' converter read them back; no ``url`` is written, since nothing here is
uploaded (a classification NDJSON, for which the converter takes images by ``url`` only, is read
back by tailguard alone). Splits
are the stored ones (``train`` when none is stored). Labels are those of ``origins``,
chosen per image as for the YOLO export (``both``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from tailguard.errors import BadInputError, EmptyDatasetError, MissingInputError
from tailguard.ledger.export.base import SPLITS, atomic_path, choose_labels, place_file
from tailguard.ledger.export.formats import ExportFormat, ExportJob, register_export_format
from tailguard.ledger.paths import safe_join
from tailguard.ledger.types import Box

if TYPE_CHECKING:
    from tailguard.ledger.store import Ledger

FILE = "dataset.ndjson"
ANNOTATION_KEYS = {"detect": "boxes", "segment": "segments", "pose": "pose", "obb": "obb",
                   "classify": "classification"}
TASK_OF_KEY = {v: k for k, v in ANNOTATION_KEYS.items()}


def annotation(box: Box) -> list[float | int]:
    """One label row as the NDJSON writes it: its Ultralytics label line as numbers.

    >>> annotation(Box(2, 0.5, 0.25, 0.1, 0.2, "human"))
    [2, 0.5, 0.25, 0.1, 0.2]
    """
    first, *rest = box.line().split()
    return [int(first), *(float(v) for v in rest)]


def image_record(rec: Any, file: str, split: str, boxes: Sequence[Box], task: str) -> dict[str, Any]:
    """The NDJSON line of one image (see the module doc)."""
    extra = rec.extra or {}
    if task == "classify":
        annotations: dict[str, Any] = {"classification": [int(b.class_id) for b in boxes]}
    else:
        annotations = {ANNOTATION_KEYS[task]: [annotation(b) for b in boxes]} if boxes else {}
    return {
        "type": "image", "file": file, "width": extra.get("width"), "height": extra.get("height"), "split": split,
        "annotations": annotations,
        "metadata": {"tailguard": {
            "origin": rec.origin, "generator": rec.generator, "generation": rec.generation,
            "parents": list(rec.parents), "sample_id": rec.id, "verified_by": rec.verified_by,
            "labels": [{"origin": b.origin, "generator": b.generator, "confidence": b.confidence} for b in boxes],
        }},
    }


def export_ndjson(ledger: Ledger, version: str, out: Path, *, origins: Sequence[str], both: str, link: bool = False,
                  progress: Callable[[int], None] | None = None) -> Path:
    """Write ``version``'s images and ``dataset.ndjson`` into ``out``; returns the NDJSON file."""
    info = ledger.get_version(version)
    items: list[tuple[Any, list[Box], str, str]] = []
    tasks: dict[str, int] = {}
    used: dict[str, str] = {}
    for rec in ledger.iter_samples(version):
        if rec.modality not in UltralyticsNdjsonFormat.modalities:
            raise BadInputError(f"--format ultralytics-ndjson exports images; sample {rec.id} is {rec.modality} "
                                "(use --format hf, jsonl or parquet)", path=version)
        boxes = choose_labels(rec.labels, origins, both)
        if boxes is None:
            continue
        if rec.uri is None or not Path(rec.uri).is_file():
            raise MissingInputError(f"image file of version {version!r} is missing (run `tailguard version "
                                    "verify`)", path=rec.uri or rec.id)
        split = str(rec.extra.get("split") or "train")
        if split not in SPLITS:
            raise BadInputError(f"unexpected split {split!r} stored for sample {rec.id}", path=version)
        name = PurePosixPath(str(rec.extra.get("name") or Path(rec.uri).name)).name
        key = f"{split}/{name}"
        if used.get(key, rec.id) != rec.id:
            name = f"{rec.id[:8]}_{name}"
            key = f"{split}/{name}"
        used[key] = rec.id
        safe_join(out / "images", key)
        for b in boxes:
            tasks[b.task] = tasks.get(b.task, 0) + 1
        items.append((rec, boxes, split, name))
    if not items:
        raise EmptyDatasetError(f"version {version!r} has no images to export", path=version)
    if len(tasks) > 1:
        found = ", ".join(f"{n} {t}" for t, n in sorted(tasks.items()))
        raise BadInputError(f"version {version!r} holds label rows of several tasks ({found}); the NDJSON has one "
                            "task: export fewer --origins or a version of one task", path=version)
    task = next(iter(tasks), "detect")
    max_class = max((b.class_id for _r, boxes, _s, _n in items for b in boxes), default=-1)
    names = ledger.class_names(version) or [str(i) for i in range(max_class + 1)]
    if max_class >= len(names):
        raise BadInputError(f"version {version!r}: labels use class {max_class} but the version has {len(names)} "
                            "class names", path=version)
    header: dict[str, Any] = {"type": "dataset", "task": task, "name": version,
                              "description": info.description or f"tailguard ledger version {version}",
                              "class_names": {str(i): n for i, n in enumerate(names)}}
    if task != "classify":
        header["path"] = "."  # Ultralytics reads a local NDJSON's images from <its folder>/<path>/images/<split>/
    if task == "pose":
        from tailguard.tasks.pose import kpt_shape_of

        shape = kpt_shape_of([b for _r, boxes, _s, _n in items for b in boxes])
        if shape is not None:
            header["kpt_shape"] = list(shape)
    target = out / FILE
    with atomic_path(target) as part, open(part, "w", encoding="utf-8") as handle:
        handle.write(json.dumps(header) + "\n")
        for rec, boxes, split, name in items:
            place_file(rec.uri, safe_join(out / "images", f"{split}/{name}"), link)
            handle.write(json.dumps(image_record(rec, name, split, boxes, task)) + "\n")
            if progress is not None:
                progress(1)
    return target


@register_export_format
class UltralyticsNdjsonFormat(ExportFormat):
    """``--format ultralytics-ndjson``: ``dataset.ndjson`` and the images (module docstring); returns the NDJSON file."""

    name = "ultralytics-ndjson"
    modalities = ("detection", "image")
    options = ("link",)
    summary = "the Ultralytics Platform's dataset NDJSON, with the images beside it"

    def write(self, job: ExportJob) -> Path:
        return export_ndjson(job.ledger, job.version, job.out, origins=job.origins, both=job.both, link=job.link,
                             progress=job.progress)
