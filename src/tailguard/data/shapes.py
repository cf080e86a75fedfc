"""Long-tailed datasets for every Ultralytics task, composed on the fly (no downloads).

- :func:`make_shapes_dataset` writes a segmentation, oriented-box, pose or detection
  dataset of filled shapes (``circle``, ``triangle``, ``square``, ``pentagon``,
  ``hexagon``) on noisy grey canvases. Each shape is a polygon, stretched along its own
  axis and rotated, so its mask, oriented box and keypoints are known exactly: the
  labels are the geometry it was drawn from. Classes are drawn with Zipf-like weights
  ``(i + 1) ** -exponent`` (``circle`` common, ``hexagon`` rare).
- :func:`make_classification_dataset` writes the folder-per-class layout
  ``<split>/<digit name>/<image>`` of real handwritten digits (scikit-learn's), with
  long-tailed class counts.

Pose labels hold three keypoints per shape, ``tip``, ``left`` and ``right`` (vertices
spread around the outline), with visibility 2, or 0 for about one keypoint in ten
(hidden and not labelled).

Everything is seeded: the same arguments give byte-identical files.

>>> import tempfile
>>> with tempfile.TemporaryDirectory() as tmp:
...     data = make_shapes_dataset(tmp, "segment", n_images=4, seed=0, imgsz=64)
...     line = next(p for p in sorted((data.parent / "labels" / "train").iterdir()) if p.read_text()).read_text()
...     len(line.split("\\n")[0].split()) % 2  # class + x y pairs
1
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tailguard.errors import BadInputError, ParameterError
from tailguard.validation import Float, Int, validate_params

SHAPE_NAMES: tuple[str, ...] = ("circle", "triangle", "square", "pentagon", "hexagon")
"""Class names of the shapes datasets: class ``i`` is ``SHAPE_NAMES[i]``."""

KEYPOINT_NAMES: tuple[str, ...] = ("tip", "left", "right")
"""Keypoint names of the pose dataset."""

SHAPE_TASKS = ("detect", "segment", "pose", "obb")
_VERTICES = (24, 3, 4, 5, 6)
_SPLITS = {1: ("train",), 2: ("train", "val"), 3: ("train", "val", "test")}
_PARAMS = {
    "n_images": Int(min=1),
    "imgsz": Int(min=32, max=2048),
    "exponent": Float(min=0.0, max=10.0),
    "max_objects": Int(min=1, max=16),
    "seed": Int(min=0),
}


def _weights(n: int, exponent: float) -> np.ndarray:
    w = np.arange(1, n + 1, dtype=np.float64) ** -float(exponent)
    return w / w.sum()


def _split_names(split: Sequence[float], where: str) -> tuple[tuple[str, ...], np.ndarray]:
    fractions = np.asarray([float(f) for f in split], dtype=np.float64)
    if len(fractions) not in _SPLITS or np.any(fractions <= 0) or abs(fractions.sum() - 1.0) > 1e-6:
        raise ParameterError(f"The 'split' parameter of {where} must be 1 to 3 fractions in (0, 1] summing to 1 "
                             f"for (train, val, test). Got {tuple(split)!r}.")
    return _SPLITS[len(fractions)], fractions


def _counts(total: int, fractions: np.ndarray) -> list[int]:
    counts = np.floor(fractions * total).astype(int)
    counts[0] += total - counts.sum()
    for i in range(1, len(counts)):  # every split gets an image when there are enough
        if counts[i] == 0 and counts[0] > 1:
            counts[0] -= 1
            counts[i] = 1
    return counts.tolist()


def _clear(root: Path, names: Sequence[str], overwrite: bool) -> None:
    ours = [root / n for n in names]
    if any(p.exists() for p in ours):
        if not overwrite:
            raise BadInputError(f"already holds a dataset ({', '.join(names)}); pass overwrite=True", path=root)
        for p in ours:
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
            elif p.exists() or p.is_symlink():
                p.unlink()


def _shape(rng: np.random.Generator, cls: int, imgsz: int) -> tuple[np.ndarray, np.ndarray, float]:
    """(vertices in pixels (k, 2), oriented-box corners (4, 2), angle in radians) of one shape."""
    r = imgsz * math.exp(rng.uniform(math.log(0.1), math.log(0.3)))
    stretch = rng.uniform(0.45, 1.0)
    theta = rng.uniform(0.0, math.pi)
    k = _VERTICES[cls]
    phase = rng.uniform(0.0, 2 * math.pi / k)
    phi = phase + 2 * math.pi * np.arange(k) / k
    local = np.column_stack([r * np.cos(phi), r * stretch * np.sin(phi)])
    lo, hi = local.min(axis=0), local.max(axis=0)
    box = np.array([[lo[0], lo[1]], [hi[0], lo[1]], [hi[0], hi[1]], [lo[0], hi[1]]])
    rot = np.array([[math.cos(theta), -math.sin(theta)], [math.sin(theta), math.cos(theta)]])
    cx, cy = rng.uniform(r + 1, imgsz - r - 1, size=2)
    return local @ rot.T + (cx, cy), box @ rot.T + (cx, cy), theta


def _render(rng: np.random.Generator, weights: np.ndarray, imgsz: int, max_objects: int) -> tuple[Any, list]:
    from PIL import Image, ImageDraw

    background = int(rng.integers(20, 110))
    image = Image.new("L", (imgsz, imgsz), background)
    draw = ImageDraw.Draw(image)
    placed: list[tuple[float, float, float]] = []
    shapes = []
    for cls in rng.choice(len(weights), size=int(rng.integers(1, max_objects + 1)), p=weights):
        for _ in range(20):
            vertices, corners, theta = _shape(rng, int(cls), imgsz)
            centre = vertices.mean(axis=0)
            radius = float(np.max(np.linalg.norm(vertices - centre, axis=1)))
            if all(math.dist(centre, (px, py)) > radius + pr + 1 for px, py, pr in placed):
                break
        else:
            continue
        placed.append((float(centre[0]), float(centre[1]), radius))
        draw.polygon([tuple(v) for v in vertices.tolist()], fill=int(rng.integers(170, 256)))
        shapes.append((int(cls), vertices, corners, theta))
    pixels = np.asarray(image, dtype=np.float32) + rng.normal(0.0, rng.uniform(3.0, 10.0), (imgsz, imgsz))
    return np.clip(np.rint(pixels), 0, 255).astype(np.uint8), shapes


@dataclass(frozen=True, eq=False)
class ShapeSet:
    """Shape images and their polygons in memory: ``images`` (n, imgsz, imgsz) uint8 grey;
    ``polygons[i]`` lists ``(class_id, vertices)`` of image ``i``, vertices a (k, 2) array
    normalised to [0, 1]."""

    images: np.ndarray
    polygons: tuple[tuple[tuple[int, np.ndarray], ...], ...]
    names: tuple[str, ...] = SHAPE_NAMES


def shape_weights(exponent: float = 1.5) -> np.ndarray:
    """The class probabilities ``(i + 1) ** -exponent`` of the five shapes, normalised.

    >>> shape_weights(1.0).round(3).tolist()
    [0.438, 0.219, 0.146, 0.109, 0.088]
    """
    return _weights(len(SHAPE_NAMES), exponent)


def compose_shapes(n_images: int, *, seed: int = 0, imgsz: int = 64, task: str = "segment",
                   exponent: float = 1.0, max_objects: int = 3) -> ShapeSet:
    """The images ``make_shapes_dataset(..., task, seed=seed)`` writes, in memory, with their polygons.

    >>> ds = compose_shapes(3, seed=1, imgsz=64)
    >>> ds.images.shape, all(1 <= len(p) <= 3 for p in ds.polygons)
    ((3, 64, 64), True)
    """
    if task not in SHAPE_TASKS:
        from tailguard.errors import UnknownChoiceError

        raise UnknownChoiceError("task", task, SHAPE_TASKS)
    p = validate_params("compose_shapes", {"n_images": n_images, "imgsz": imgsz, "exponent": exponent,
                                           "max_objects": max_objects, "seed": seed}, _PARAMS)
    weights = _weights(len(SHAPE_NAMES), p["exponent"])
    children = np.random.SeedSequence([p["seed"], SHAPE_TASKS.index(task)]).spawn(n_images)
    images = np.empty((n_images, imgsz, imgsz), dtype=np.uint8)
    polygons = []
    for i, child in enumerate(children):
        pixels, shapes = _render(np.random.default_rng(child), weights, imgsz, max_objects)
        images[i] = pixels
        polygons.append(tuple((c, np.clip(v / imgsz, 0.0, 1.0)) for c, v, _b, _t in shapes))
    return ShapeSet(images, tuple(polygons))


def _line(task: str, cls: int, vertices: np.ndarray, corners: np.ndarray, imgsz: int,
          rng: np.random.Generator) -> str:
    def coords(points: np.ndarray) -> str:
        return " ".join(f"{v:.6f}" for v in np.clip(points / imgsz, 0.0, 1.0).ravel())

    x0, y0 = vertices.min(axis=0)
    x1, y1 = vertices.max(axis=0)
    box = np.clip(np.array([(x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0]) / imgsz, 0.0, 1.0)
    head = f"{cls} " + " ".join(f"{v:.6f}" for v in box)
    if task == "segment":
        return f"{cls} {coords(vertices)}"
    if task == "obb":
        return f"{cls} {coords(corners)}"
    if task == "pose":
        k = len(vertices)
        parts = []
        for i in (0, k // 3, (2 * k) // 3):
            visible = 2 if rng.uniform() >= 0.1 else 0
            x, y = np.clip(vertices[i] / imgsz, 0.0, 1.0) if visible else (0.0, 0.0)
            parts.append(f"{x:.6f} {y:.6f} {visible}")
        return f"{head} {' '.join(parts)}"
    return head


def make_shapes_dataset(
    out_dir: str | Path,
    task: str,
    n_images: int = 40,
    *,
    seed: int = 0,
    imgsz: int = 64,
    split: Sequence[float] = (0.75, 0.25),
    exponent: float = 1.0,
    max_objects: int = 3,
    overwrite: bool = False,
) -> Path:
    """Write a shapes dataset for ``task`` (detect, segment, pose or obb) and return its data.yaml.

    Layout: ``images/<split>/*.png``, ``labels/<split>/*.txt`` and ``data.yaml`` with
    ``task`` (and, for pose, ``kpt_shape: [3, 3]``, ``flip_idx`` and ``kpt_names``), which
    Ultralytics trains on as is.
    """
    import yaml
    from PIL import Image

    if task not in SHAPE_TASKS:
        from tailguard.errors import UnknownChoiceError

        raise UnknownChoiceError("task", task, SHAPE_TASKS)
    p = validate_params("make_shapes_dataset", {"n_images": n_images, "imgsz": imgsz, "exponent": exponent,
                                                "max_objects": max_objects, "seed": seed}, _PARAMS)
    splits, fractions = _split_names(split, "make_shapes_dataset")
    root = Path(out_dir).resolve()
    _clear(root, ("data.yaml", "images", "labels"), overwrite)
    weights = _weights(len(SHAPE_NAMES), p["exponent"])
    # each task draws its own images: a segment and a pose dataset of one seed share no image
    children = np.random.SeedSequence([p["seed"], SHAPE_TASKS.index(task)]).spawn(n_images)
    index = 0
    for name, count in zip(splits, _counts(n_images, fractions), strict=True):
        (root / "images" / name).mkdir(parents=True, exist_ok=True)
        (root / "labels" / name).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            rng = np.random.default_rng(children[index])
            index += 1
            pixels, shapes = _render(rng, weights, imgsz, max_objects)
            stem = f"{name}_{i:06d}"
            Image.fromarray(pixels, mode="L").save(root / "images" / name / f"{stem}.png", compress_level=1)
            lines = "".join(_line(task, c, v, b, imgsz, rng) + "\n" for c, v, b, _t in shapes)
            (root / "labels" / name / f"{stem}.txt").write_text(lines, encoding="utf-8")
    body: dict[str, Any] = {"path": str(root), **{s: f"images/{s}" for s in splits}, "task": task,
                            "names": dict(enumerate(SHAPE_NAMES))}
    if task == "pose":
        body["kpt_shape"] = [len(KEYPOINT_NAMES), 3]
        body["flip_idx"] = [0, 2, 1]
        body["kpt_names"] = {i: list(KEYPOINT_NAMES) for i in range(len(SHAPE_NAMES))}
    header = (f"# tailguard built-in {task} dataset: filled shapes on noisy canvases, seed={p['seed']}, "
              f"class weights (i+1)^-{p['exponent']}\n")
    path = root / "data.yaml"
    path.write_text(header + yaml.safe_dump(body, sort_keys=False), encoding="utf-8")
    return path


def make_classification_dataset(
    out_dir: str | Path,
    n_images: int = 60,
    *,
    seed: int = 0,
    imgsz: int = 32,
    split: Sequence[float] = (0.75, 0.25),
    exponent: float = 1.0,
    n_classes: int = 10,
    overwrite: bool = False,
) -> Path:
    """Write ``<split>/<digit name>/*.png`` of real handwritten digits (long-tailed) and return the folder.

    Each split holds every class at least once (Ultralytics indexes each split's class
    folders by name, and an empty folder is refused), the rest drawn with the Zipf-like
    weights, so a split needs at least ``n_classes`` images. Ultralytics trains on the
    folder (``model.train(data=folder)``).
    """
    from PIL import Image

    from tailguard.data.detection import DIGIT_NAMES
    from tailguard.data.tabular import load_digits

    p = validate_params("make_classification_dataset",
                        {"n_images": n_images, "imgsz": imgsz, "exponent": exponent, "seed": seed,
                         "n_classes": n_classes},
                        {**_PARAMS, "n_classes": Int(min=2, max=10)})
    splits, fractions = _split_names(split, "make_classification_dataset")
    root = Path(out_dir).resolve()
    _clear(root, splits, overwrite)
    digits = load_digits()
    rng = np.random.default_rng(p["seed"])
    weights = _weights(n_classes, p["exponent"])
    pools = [rng.permutation(np.flatnonzero(digits.y == c)) for c in range(n_classes)]
    used = [0] * n_classes
    counts = _counts(n_images, fractions)
    if min(counts) < n_classes:
        raise ParameterError(f"The 'n_images' parameter of make_classification_dataset must give every split at "
                             f"least n_classes={n_classes} images. Got {n_images} (splits {counts}).")
    for name, count in zip(splits, counts, strict=True):
        for c in range(n_classes):
            (root / name / DIGIT_NAMES[c]).mkdir(parents=True, exist_ok=True)
        drawn = np.concatenate([np.arange(n_classes), rng.choice(n_classes, size=count - n_classes, p=weights)])
        for i, cls in enumerate(drawn):
            row = pools[cls][used[cls] % len(pools[cls])]  # distinct digits until a class's pool runs out
            used[cls] += 1
            ink = np.round(digits.images[row] * (255.0 / 16.0)).astype(np.uint8)
            image = Image.fromarray(ink, mode="L").resize((imgsz, imgsz), Image.Resampling.BILINEAR)
            image.save(root / name / DIGIT_NAMES[cls] / f"{name}_{i:06d}.png", compress_level=1)
    return root
