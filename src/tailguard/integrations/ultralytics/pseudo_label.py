"""Pseudo-labelling with provenance: a YOLO model's predictions stored as labels in the ledger.

The checkpoint may be of any Ultralytics task: boxes (detect), masks as simplified
polygons (segment: at most ``max_vertices`` vertices, the Douglas-Peucker tolerance
recorded in the report and the model run), the top-1 class with its probability
(classify), keypoints (pose) or oriented boxes (obb); see
:mod:`tailguard.integrations.ultralytics.predict_rows`. Every row the model gives becomes
a label with origin ``pseudo_label``, the model's confidence and the generator
``"<model id>@<checkpoint hash>"``. The image itself is stored once, by content hash:

- an image the ledger has never seen is added with origin ``pseudo_label``, that
  generator, and generation = (synthetic depth of the model's training version) + 1;
- boxes identical to a more confident box of the same image (same class and coordinates
  at the ledger's 6 significant digits) are dropped, so ``n_boxes`` counts stored boxes;
- an image the ledger already holds keeps its origin and its labels; the new boxes are
  added beside them. Human labels are never overwritten; ``export`` chooses which
  origins to write (``origins=``, ``both=``).

The model's training version is, in order: ``trained_on=``; the version of a model run
recorded for the same checkpoint bytes (``attach`` records one at the end of training);
the ledger version whose YOLO export the checkpoint was trained on (read from the
``tailguard_export.json`` beside its data.yaml). When none is known the generation is 1
and the report says the training version is unknown.

The run is recorded as a model run that produced the labelled samples, so
``tailguard lineage`` shows them under the model and its training version. A segmentation
run also stores its simplification on that model run as metrics ``pseudo_label/max_vertices``,
``pseudo_label/tolerance``, ``pseudo_label/max_tolerance_used``, ``pseudo_label/polygons``,
``pseudo_label/vertices_before``, ``pseudo_label/vertices_after`` and ``pseudo_label/dropped``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tailguard.errors import (
    BadInputError,
    CorruptFileError,
    EmptyDatasetError,
    MissingInputError,
    ParameterError,
    TailguardError,
)
from tailguard.integrations.ultralytics.checkpoint import CheckpointInfo, load_checkpoint
from tailguard.integrations.ultralytics.predict_rows import RowOptions, RowStats, predict_rows

if TYPE_CHECKING:
    from tailguard.ledger import Box, Ledger, SkippedItem

IMAGE_SUFFIXES: frozenset[str] = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"})
WEIGHTS_HASH_KEY = "weights_hash"
"""Key of a model run's ``extra`` that holds the checkpoint's content hash."""


@dataclass(frozen=True)
class PseudoLabelReport:
    """What one pseudo-labelling run stored."""

    version: str | None
    generator: str
    generation: int
    training_version: str | None
    run_id: str
    n_images: int
    n_boxes: int
    added: int
    existing: int
    sample_ids: list[str]
    class_counts: dict[str, int]
    skipped: list[SkippedItem] = field(default_factory=list)
    task: str = "detect"
    #: segment: ``max_vertices``, the starting and the largest tolerance used, vertex counts before and after
    simplification: dict[str, Any] = field(default_factory=dict)


def collect_images(images: str | Path | Iterable[str | Path]) -> list[tuple[Path, str]]:
    """``(path, name)`` of every image file: a file, a folder (recursive, by suffix) or a list of them.

    ``name`` is the path relative to the folder (the file name for single files); export
    writes the image under that name.

    >>> collect_images([])
    Traceback (most recent call last):
    ...
    tailguard.errors.EmptyDatasetError: no images given
    """
    roots = [images] if isinstance(images, str | Path) else list(images)
    found: list[tuple[Path, str]] = []
    for raw in roots:
        root = Path(raw)
        if not root.exists():
            raise MissingInputError("image file or folder not found", path=root)
        if root.is_dir():
            files = sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
            found.extend((p, p.relative_to(root).as_posix()) for p in files)
        else:
            found.append((root, root.name))
    if not found:
        where = ", ".join(str(r) for r in roots) or "no images given"
        raise EmptyDatasetError(f"no image files ({', '.join(sorted(IMAGE_SUFFIXES))}) in {where}" if roots else where)
    return found


def decode_image(path: Path) -> Any:
    """Open and fully decode an image as RGB; :class:`CorruptFileError` naming the file otherwise."""
    from PIL import Image

    try:
        with Image.open(path) as im:
            im.load()
            return im.convert("RGB")
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
        raise CorruptFileError(f"cannot decode image ({type(exc).__name__}: {exc})", path=path) from exc


def _export_manifest_version(data: Any) -> str | None:
    if not data:
        return None
    where = Path(str(data))
    manifest = (where if where.is_dir() else where.parent) / "tailguard_export.json"  # a classify export: a folder
    try:
        return str(json.loads(manifest.read_text())["version"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def find_training_version(ledger: Ledger, model: Any, info: CheckpointInfo) -> tuple[str | None, str | None]:
    """``(version, run_id)`` the checkpoint was trained on, as far as the ledger knows (see module doc)."""
    runs = [r for r in ledger.model_runs() if r.extra.get(WEIGHTS_HASH_KEY) == info.content_hash]
    trained = [r for r in runs if r.trained_on is not None]
    if trained:
        return trained[-1].trained_on, trained[-1].id
    args = getattr(model, "ckpt", None) or {}
    version = _export_manifest_version((args.get("train_args") or {}).get("data"))
    if version is not None:
        try:
            ledger.get_version(version)
        except TailguardError:
            version = None
    return version, (runs[-1].id if runs else None)


def _existing_origins(ledger: Ledger, ids: Sequence[str]) -> dict[str, str]:
    """Origin of each id the ledger already holds (ids it lacks are absent from the result)."""
    found: dict[str, str] = {}
    for start in range(0, len(ids), 500):
        part = list(dict.fromkeys(ids[start : start + 500]))
        try:
            found.update((r.id, r.origin) for r in ledger.iter_samples(ids=part))
        except MissingInputError:
            for sid in part:
                try:
                    found.update((r.id, r.origin) for r in ledger.iter_samples(ids=[sid]))
                except MissingInputError:
                    continue
    return found


def _decoded(
    files: Sequence[tuple[Path, str]], skip_bad: bool, skipped: list[SkippedItem], batch: int
) -> Iterator[list[tuple[Path, str, Any]]]:
    from tailguard.ledger import SkippedItem

    chunk: list[tuple[Path, str, Any]] = []
    for path, name in files:
        try:
            chunk.append((path, name, decode_image(path)))
        except CorruptFileError as exc:
            if not skip_bad:
                raise CorruptFileError(f"{exc.message} (pass --skip-bad to skip it)", path=path) from exc
            skipped.append(SkippedItem(str(path), str(exc)))
        if len(chunk) >= batch:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def pseudo_label(
    weights: str | Path,
    images: str | Path | Iterable[str | Path],
    *,
    ledger: Ledger,
    conf: float = 0.25,
    iou: float = 0.7,
    as_version: str | None = None,
    trained_on: str | None = None,
    model_id: str | None = None,
    imgsz: int | None = None,
    device: str | None = None,
    batch: int = 16,
    skip_bad: bool = False,
    progress: Callable[[int], None] | None = None,
    max_vertices: int = 64,
    tolerance: float = 0.002,
    kpt_conf: float = 0.5,
) -> PseudoLabelReport:
    """Run the YOLO checkpoint ``weights`` on ``images`` and store its predictions as pseudo-labels.

    ``max_vertices`` and ``tolerance`` (normalised units) bound the polygons of a segmentation
    model; ``kpt_conf`` is the keypoint confidence from which a pose keypoint is visible.

    Raises (one line, naming the input): :class:`BadInputError` for a weights file that is
    not a YOLO checkpoint or whose class names disagree with its training
    version's; :class:`CorruptFileError` for an image that does not decode (unless
    ``skip_bad``: then it is skipped and listed in the report and the ledger);
    :class:`EmptyDatasetError` when no image decodes or the model finds no box at all
    (nothing is written then). ``progress(n)`` is called as images are done.
    """
    if not 0.0 < conf < 1.0:
        raise ParameterError(f"The 'conf' parameter of pseudo_label must be a float > 0.0 and < 1.0. Got {conf!r}.")
    from tailguard.tasks import TASKS

    row_options = RowOptions(max_vertices, tolerance, kpt_conf)
    model, info = load_checkpoint(weights, model_id=model_id, tasks=TASKS)
    files = collect_images(images)
    if trained_on is not None:
        ledger.get_version(trained_on)  # typed error with suggestions
        training_version, run_id = trained_on, None
        same = [
            r
            for r in ledger.model_runs()
            if r.extra.get(WEIGHTS_HASH_KEY) == info.content_hash and r.trained_on == trained_on
        ]
        run_id = same[-1].id if same else None
    else:
        training_version, run_id = find_training_version(ledger, model, info)
    if training_version is not None:
        expected = ledger.class_names(training_version)
        if expected and list(info.names) != list(expected):
            raise BadInputError(
                f"the model's class names {list(info.names)} disagree with those of its training version "
                f"{training_version!r} {expected}",
                path=info.path,
            )
    depth = ledger.version_summary(training_version).max_synthetic_depth if training_version else 0
    generation = depth + 1

    skipped: list[SkippedItem] = []
    found: list[tuple[Path, str]] = []  # decoded images are dropped after their batch
    per_image: list[Any] = []
    stats = RowStats()
    for chunk in _decoded(files, skip_bad, skipped, batch):
        rows = predict_rows(
            model, info.task, [im for _p, _n, im in chunk], generator=info.generator, conf=conf, iou=iou,
            imgsz=imgsz, device=device, batch=batch, options=row_options, stats=stats,
        )
        found.extend((path, name) for path, name, _im in chunk)
        per_image.extend(rows)
        if progress is not None:
            progress(len(chunk))
    if not found:
        raise EmptyDatasetError(f"none of the {len(files)} images could be decoded", path=str(files[0][0].parent))
    n_boxes = sum(len(b) for b in per_image)
    if n_boxes == 0:
        what = {"detect": "box", "segment": "mask", "classify": "class", "pose": "pose", "obb": "oriented box"}
        raise EmptyDatasetError(
            f"the model found no {what[info.task]} at conf {conf} in {len(found)} images; nothing was stored "
            "(is it the right model? try a lower --conf)",
            path=info.path,
        )
    simplification: dict[str, Any] = {}
    if info.task == "segment":
        simplification = {"max_vertices": max_vertices, "tolerance": tolerance,
                          "max_tolerance_used": stats.max_tolerance, "polygons": stats.polygons,
                          "vertices_before": stats.vertices_before, "vertices_after": stats.vertices_after,
                          "dropped": stats.dropped}
    extra = {"kpt_names": _kpt_names(model)} if info.task == "pose" and _kpt_names(model) else {}
    return _store(ledger, info, found, per_image, generation, training_version, run_id, as_version, conf, iou, skipped,
                  simplification, extra, kpt_conf)


def _kpt_names(model: Any) -> dict[str, list[str]] | None:
    """The keypoint names a pose model was trained with, per class id (as data.yaml's ``kpt_names``)."""
    names = getattr(getattr(model, "model", None), "kpt_names", None)
    if not isinstance(names, dict):
        return None
    return {str(k): [str(n) for n in v] for k, v in names.items() if isinstance(v, list | tuple)}


def _unique_boxes(boxes: Iterable[Box]) -> tuple[Box, ...]:
    """Drop boxes identical (class and coordinates, as the ledger stores them) to a more confident one.

    Boxes arrive sorted by confidence, so the first of each identical group is kept.
    """
    seen: set[str] = set()
    out = []
    for box in boxes:
        if box.identity() not in seen:
            seen.add(box.identity())
            out.append(box)
    return tuple(out)


def _store(
    ledger: Ledger,
    info: CheckpointInfo,
    found: list[tuple[Path, str]],
    per_image: list[Any],
    generation: int,
    training_version: str | None,
    run_id: str | None,
    as_version: str | None,
    conf: float,
    iou: float,
    skipped: list[SkippedItem],
    simplification: dict[str, Any],
    extra: dict[str, Any],
    kpt_conf: float,
) -> PseudoLabelReport:
    from tailguard.ledger import NewSample
    from tailguard.ledger.hashing import file_id

    ids = [file_id(path) for path, _n in found]
    known = _existing_origins(ledger, ids)
    generator = info.generator
    samples = []
    counts: dict[str, int] = {}
    for (path, name), sid, rows in zip(found, ids, per_image, strict=True):
        labels = _unique_boxes(rows)
        for box in labels:
            cname = info.names[box.class_id]
            counts[cname] = counts.get(cname, 0) + 1
        origin = known.get(sid, "pseudo_label")
        samples.append(
            NewSample(
                content=None,
                uri=str(path.resolve()),
                modality="detection",
                origin=origin,
                generator=generator if origin == "pseudo_label" else None,
                generation=generation if origin == "pseudo_label" else None,
                source=str(path.parent.resolve()),
                extra={"class_names": list(info.names), "name": name, "split": "train", **extra},
                labels=labels,
            )
        )
    n_boxes = sum(len(s.labels) for s in samples)
    report = ledger.add_samples(samples, as_version=as_version, skipped=skipped)
    if run_id is None:
        run_id = ledger.record_model_run(
            info.generator,
            training_version,
            config={"task": "pseudo_label", "label_task": info.task, "conf": conf, "iou": iou,
                    **({"simplification": simplification} if simplification else {}),
                    **({"kpt_conf": kpt_conf} if info.task == "pose" else {})},
            extra={WEIGHTS_HASH_KEY: info.content_hash, "weights": str(info.path), "class_names": list(info.names)},
        )
    ledger.link_run_outputs(run_id, report.sample_ids)
    if simplification:  # on the run even when it was recorded before (by attach): the polygons' tolerance
        ledger.record_run_metrics(run_id, {f"pseudo_label/{k}": float(v) for k, v in simplification.items()})
    return PseudoLabelReport(
        version=as_version,
        generator=generator,
        generation=generation,
        training_version=training_version,
        run_id=run_id,
        n_images=len(found),
        n_boxes=n_boxes,
        added=report.added,
        existing=report.existing,
        sample_ids=list(report.sample_ids),
        class_counts=dict(sorted(counts.items())),
        skipped=list(skipped),
        task=info.task,
        simplification=simplification,
    )
