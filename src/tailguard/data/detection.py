"""A long-tailed detection dataset composed on the fly from real handwritten digits.

Each image is a noisy ``imgsz`` x ``imgsz`` grey canvas holding 1 to ``max_objects`` digits
cut from scikit-learn's digits (real handwriting, tightly cropped, upscaled to varied sizes
and aspect ratios, never overlapping). The box of each digit is exactly the patch it was
drawn into, so the labels are human-grade ground truth.

Class ``i`` is the digit ``i``. Classes are drawn with Zipf-like weights
``w_i ∝ (i + 1) ** -exponent`` (``exponent=1.5``), so ``zero`` is common and the last classes
are rare. A class is *rare* when its expected share is below a quarter of the uniform share
``1 / n_classes``: with the defaults that is ``seven`` (2.2 %), ``eight`` (1.9 %) and ``nine``
(1.6 %), against ``zero`` at 50 %.

Everything is seeded: the same arguments give byte-identical files.

>>> [round(float(w), 3) for w in DETECTION_CLASS_WEIGHTS[:3]]
[0.501, 0.177, 0.096]
>>> rare_classes()
(7, 8, 9)
>>> ds = compose_detection(4, seed=1, imgsz=64)
>>> ds.images.shape, ds.images.dtype.name
((4, 64, 64), 'uint8')
>>> all(1 <= len(lab) <= 4 for lab in ds.labels)
True
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from tailguard.errors import BadInputError, ParameterError
from tailguard.validation import Float, Int, validate_params

DIGIT_NAMES: tuple[str, ...] = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
"""Class names of the detection dataset: class ``i`` is the digit ``i``."""

DEFAULT_EXPONENT = 1.5
RARE_FRACTION_OF_UNIFORM = 0.25
"""A class is rare when its expected share is below this fraction of ``1 / n_classes``."""

SPLIT_NAMES: dict[int, tuple[str, ...]] = {1: ("train",), 2: ("train", "val"), 3: ("train", "val", "test")}


_PARAMS = {
    "n_images": Int(min=1),
    "imgsz": Int(min=32, max=2048),
    "n_classes": Int(min=1, max=10),
    "exponent": Float(min=0.0, max=10.0),
    "max_objects": Int(min=1, max=16),
    "seed": Int(min=0),
}


def _check(**params) -> dict:
    return validate_params("make_detection_dataset", params, _PARAMS)


def class_weights(n_classes: int = 10, exponent: float = DEFAULT_EXPONENT) -> np.ndarray:
    """Zipf-like class probabilities ``(i + 1) ** -exponent``, normalised (read-only).

    >>> class_weights(3, 1.0).round(3).tolist()
    [0.545, 0.273, 0.182]
    """
    _check(n_classes=n_classes, exponent=exponent)
    w = np.arange(1, n_classes + 1, dtype=np.float64) ** -float(exponent)
    w /= w.sum()
    w.setflags(write=False)
    return w


def rare_classes(n_classes: int = 10, exponent: float = DEFAULT_EXPONENT) -> tuple[int, ...]:
    """Class ids whose expected share is below a quarter of the uniform share.

    >>> rare_classes(10, 1.5)
    (7, 8, 9)
    """
    w = class_weights(n_classes, exponent)
    return tuple(int(i) for i in np.flatnonzero(w < RARE_FRACTION_OF_UNIFORM / n_classes))


DETECTION_CLASS_WEIGHTS: np.ndarray = class_weights()
"""Expected class shares of the default dataset (10 digit classes, exponent 1.5)."""


@dataclass(frozen=True, eq=False)
class DetectionSet:
    """Images and YOLO labels in memory.

    ``images`` is (n, imgsz, imgsz) uint8 grey; ``labels[i]`` is a (k, 5) float64 array of
    ``class_id, x_center, y_center, width, height`` with coordinates normalised to [0, 1].
    """

    images: np.ndarray
    labels: tuple[np.ndarray, ...]
    names: tuple[str, ...]

    def class_ids(self) -> np.ndarray:
        """Class id of every box, image by image."""
        if not self.labels:
            return np.zeros(0, dtype=np.int64)
        return np.concatenate([lab[:, 0] for lab in self.labels]).astype(np.int64)

    def __len__(self) -> int:
        return int(self.images.shape[0])


# ----------------------------------------------------------------------------- rendering
@dataclass(frozen=True)
class _DigitBank:
    """Tightly cropped digits (ink in 0..255) grouped by class."""

    crops: tuple[tuple[np.ndarray, ...], ...]

    @classmethod
    def build(cls, indices: np.ndarray | None, n_classes: int) -> _DigitBank:
        from tailguard.data.tabular import load_digits

        digits = load_digits()
        idx = np.arange(digits.n_samples) if indices is None else np.asarray(indices)
        by_class: list[list[np.ndarray]] = [[] for _ in range(n_classes)]
        for i in idx:
            label = int(digits.y[i])
            if label >= n_classes:
                continue
            img = digits.images[i]
            rows = np.flatnonzero(img.max(axis=1) > 0)
            cols = np.flatnonzero(img.max(axis=0) > 0)
            crop = img[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
            by_class[label].append(np.round(crop * (255.0 / 16.0)).astype(np.uint8))
        for label, crops in enumerate(by_class):
            if not crops:
                raise ParameterError(f"no digit image of class {label} in the pool; use fewer splits")
        return cls(tuple(tuple(c) for c in by_class))


# digit heights are log-uniform in [12 %, 45 %] of the image, widths stretched by [0.75, 1.33]
_LOG_MIN_HEIGHT, _LOG_MAX_HEIGHT = math.log(0.12), math.log(0.45)
_LOG_MIN_STRETCH, _LOG_MAX_STRETCH = math.log(0.75), math.log(1.33)


@lru_cache(maxsize=4)
def _ramp(imgsz: int) -> np.ndarray:
    ramp = np.linspace(-1.0, 1.0, imgsz, dtype=np.float32)
    ramp.setflags(write=False)
    return ramp


def _noise_field(rng: np.random.Generator, imgsz: int) -> np.ndarray:
    """A (2*imgsz)^2 field of standard normal noise; images take shifted, flipped crops of it,
    which costs a slice instead of imgsz^2 fresh normal draws per image."""
    return rng.standard_normal((2 * imgsz, 2 * imgsz), dtype=np.float32)


def _render(
    rng: np.random.Generator,
    bank: _DigitBank,
    weights: np.ndarray,
    imgsz: int,
    max_objects: int,
    noise: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    from PIL import Image

    background = np.float32(rng.uniform(10.0, 110.0))
    # a soft illumination gradient so canvases differ beyond their mean
    ramp = _ramp(imgsz)
    gx, gy = rng.uniform(-15.0, 15.0, size=2).astype(np.float32)
    canvas = (background + gy * ramp)[:, None] + gx * ramp[None, :]

    k = int(rng.integers(1, max_objects + 1))
    classes = rng.choice(len(weights), size=k, p=weights)
    placed: list[tuple[int, int, int, int]] = []
    rows: list[tuple[int, float, float, float, float]] = []
    for cls in classes:
        pool = bank.crops[int(cls)]
        crop = pool[int(rng.integers(len(pool)))]
        log_height, log_stretch = rng.uniform((_LOG_MIN_HEIGHT, _LOG_MIN_STRETCH), (_LOG_MAX_HEIGHT, _LOG_MAX_STRETCH))
        height = imgsz * math.exp(log_height)
        width = height * crop.shape[1] / crop.shape[0] * math.exp(log_stretch)
        h = min(max(round(height), 4), imgsz - 2)
        w = min(max(round(width), 3), imgsz - 2)
        ink = np.float32(rng.uniform(170.0, 255.0))
        for _ in range(20):
            x0 = int(rng.integers(0, imgsz - w + 1))
            y0 = int(rng.integers(0, imgsz - h + 1))
            if all(x0 >= bx1 or x0 + w <= bx0 or y0 >= by1 or y0 + h <= by0 for bx0, by0, bx1, by1 in placed):
                break
        else:
            continue  # no free room for this digit
        alpha = np.asarray(Image.fromarray(crop).resize((w, h), Image.Resampling.BILINEAR), dtype=np.float32)
        alpha *= 1.0 / 255.0
        region = canvas[y0 : y0 + h, x0 : x0 + w]
        region += alpha * (ink - region)
        placed.append((x0, y0, x0 + w, y0 + h))
        rows.append((int(cls), (x0 + w / 2) / imgsz, (y0 + h / 2) / imgsz, w / imgsz, h / imgsz))

    oy, ox = rng.integers(0, imgsz + 1, size=2)
    flip_y, flip_x = rng.choice((-1, 1), size=2)
    crop = noise[oy : oy + imgsz, ox : ox + imgsz][::flip_y, ::flip_x]
    canvas += np.float32(rng.uniform(3.0, 12.0)) * crop
    np.clip(canvas, 0.0, 255.0, out=canvas)
    image = np.rint(canvas, out=canvas).astype(np.uint8)
    labels = np.array(rows, dtype=np.float64).reshape(-1, 5)
    return image, labels


def _child(seed: np.random.SeedSequence, k: int) -> np.random.SeedSequence:
    """The ``k``-th child of ``seed``, as ``seed.spawn`` would make it, without spawning the others."""
    return np.random.SeedSequence(seed.entropy, spawn_key=(*seed.spawn_key, k), pool_size=seed.pool_size)


def _iter_images(
    seed: np.random.SeedSequence,
    start: int,
    stop: int,
    bank: _DigitBank,
    weights: np.ndarray,
    imgsz: int,
    max_objects: int,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Images ``start..stop-1`` of the stream seeded by ``seed``.

    Child 0 seeds the noise field and child ``i + 1`` image ``i``, so an image depends neither
    on how many images follow it nor on which process renders it.
    """
    noise = _noise_field(np.random.default_rng(_child(seed, 0)), imgsz)
    for i in range(start, stop):
        yield _render(np.random.default_rng(_child(seed, i + 1)), bank, weights, imgsz, max_objects, noise)


def compose_detection(
    n_images: int,
    *,
    seed: int = 0,
    imgsz: int = 128,
    n_classes: int = 10,
    exponent: float = DEFAULT_EXPONENT,
    max_objects: int = 4,
    digit_indices: Sequence[int] | np.ndarray | None = None,
) -> DetectionSet:
    """Compose ``n_images`` detection images in memory (see the module docstring).

    ``digit_indices`` restricts the digits drawn to those rows of :func:`load_digits`.
    """
    p = _check(
        n_images=n_images, imgsz=imgsz, n_classes=n_classes, exponent=exponent, max_objects=max_objects, seed=seed
    )
    bank = _DigitBank.build(None if digit_indices is None else np.asarray(digit_indices), p["n_classes"])
    weights = class_weights(n_classes, exponent)
    images = np.empty((n_images, imgsz, imgsz), dtype=np.uint8)
    labels = []
    stream = _iter_images(np.random.SeedSequence(seed), 0, n_images, bank, weights, imgsz, max_objects)
    for i, (image, lab) in enumerate(stream):
        images[i] = image
        labels.append(lab)
    return DetectionSet(images=images, labels=tuple(labels), names=DIGIT_NAMES[:n_classes])


# ----------------------------------------------------------------------------- on disk
def _split_counts(total: int, fractions: Sequence[float]) -> list[int]:
    """Largest-remainder rounding of ``total * fractions`` (every split gets >= 1 when possible)."""
    raw = np.asarray(fractions, dtype=np.float64) * total
    counts = np.floor(raw).astype(int)
    for i in np.argsort(-(raw - counts), kind="stable")[: total - counts.sum()]:
        counts[i] += 1
    for i in range(len(counts)):  # borrow from the largest split so no split is empty
        if counts[i] == 0 and total >= len(counts):
            counts[int(np.argmax(counts))] -= 1
            counts[i] = 1
    return counts.tolist()


def _check_split(split: Sequence[float]) -> tuple[float, ...]:
    fractions = tuple(float(f) for f in split)
    if len(fractions) not in SPLIT_NAMES or any(not (0.0 < f <= 1.0) for f in fractions):
        raise ParameterError(
            "The 'split' parameter of make_detection_dataset must be 1 to 3 fractions in (0, 1] "
            f"for (train, val, test). Got {split!r}."
        )
    if abs(sum(fractions) - 1.0) > 1e-6:
        raise ParameterError(
            f"The 'split' parameter of make_detection_dataset must sum to 1. Got {split!r} (sum {sum(fractions)})."
        )
    return fractions


def _yaml_text(root: Path, splits: Sequence[str], names: Sequence[str], seed: int, exponent: float) -> str:
    import yaml

    rare = rare_classes(len(names), exponent)
    header = [
        "# tailguard built-in detection dataset: real scikit-learn handwritten digits on noisy canvases.",
        f"# seed={seed}, class weights (i+1)^-{exponent}; rare classes: "
        + (", ".join(f"{i} ({names[i]})" for i in rare) or "none"),
        "",
    ]
    body = {"path": str(root)}
    for name in splits:
        body[name] = f"images/{name}"
    body["nc"] = len(names)
    body["names"] = dict(enumerate(names))
    return "\n".join(header) + yaml.safe_dump(body, sort_keys=False)


_CHUNK = 256


@dataclass(frozen=True)
class _WriteJob:
    """Images ``start..stop-1`` of one split: a picklable unit of work for worker processes."""

    root: Path
    split: str
    seed: np.random.SeedSequence
    pool: tuple[int, ...]
    start: int
    stop: int
    n_classes: int
    exponent: float
    imgsz: int
    max_objects: int


@lru_cache(maxsize=4)
def _bank_for(pool: tuple[int, ...], n_classes: int) -> _DigitBank:
    return _DigitBank.build(np.asarray(pool), n_classes)


def _write_job(job: _WriteJob) -> int:
    from PIL import Image

    image_dir = job.root / "images" / job.split
    label_dir = job.root / "labels" / job.split
    bank = _bank_for(job.pool, job.n_classes)
    weights = class_weights(job.n_classes, job.exponent)
    stream = _iter_images(job.seed, job.start, job.stop, bank, weights, job.imgsz, job.max_objects)
    for i, (image, labels) in zip(range(job.start, job.stop), stream, strict=True):
        stem = f"{job.split}_{i:06d}"
        Image.fromarray(image, mode="L").save(image_dir / f"{stem}.png", compress_level=1)
        lines = "".join(f"{int(c)} {x:.6f} {y:.6f} {w:.6f} {h:.6f}\n" for c, x, y, w, h in labels.tolist())
        (label_dir / f"{stem}.txt").write_text(lines, encoding="utf-8")
    return job.stop - job.start


def make_detection_dataset(
    out_dir: str | Path,
    n_images: int = 200,
    *,
    seed: int = 0,
    imgsz: int = 128,
    n_classes: int = 10,
    split: Sequence[float] = (0.8, 0.2),
    exponent: float = DEFAULT_EXPONENT,
    max_objects: int = 4,
    overwrite: bool = False,
    progress: bool = False,
    workers: int = 1,
) -> Path:
    """Write a YOLO detection dataset under ``out_dir`` and return the path of its ``data.yaml``.

    Layout: ``images/{train,val[,test]}/*.png``, ``labels/{...}/*.txt`` (one
    ``class x_center y_center width height`` line per box) and ``data.yaml`` with ``path``,
    ``train``, ``val`` (``test``), ``nc`` and ``names``, which ``ultralytics.YOLO.train``
    accepts as is. ``split`` holds the image fractions of train, val (and test); each split
    draws from its own disjoint share of the digit images, so no handwriting sample is both
    trained on and validated on. ``progress=True`` shows a rich progress bar; ``workers > 1``
    renders in that many processes, with byte-identical output.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     yaml_path = make_detection_dataset(tmp, n_images=10, seed=3, imgsz=64)
    ...     print(yaml_path.name, len(list((yaml_path.parent / "images" / "train").iterdir())))
    data.yaml 8
    """
    p = _check(
        n_images=n_images, imgsz=imgsz, n_classes=n_classes, exponent=exponent, max_objects=max_objects, seed=seed
    )
    fractions = _check_split(split)
    validate_params("make_detection_dataset", {"workers": workers}, {"workers": Int(min=1, max=64)})
    splits = SPLIT_NAMES[len(fractions)]
    root = Path(out_dir).resolve()
    ours = [root / "data.yaml", root / "images", root / "labels"]
    if any(path.exists() for path in ours):
        if not overwrite:
            raise BadInputError(
                "already holds a dataset (data.yaml, images/ or labels/); pass overwrite=True", path=root
            )
        for path in ours:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            elif path.exists() or path.is_symlink():
                path.unlink()

    root_seed = np.random.SeedSequence(p["seed"])
    pool_seed, *split_seeds = root_seed.spawn(1 + len(splits))
    # each split gets its own disjoint, class-stratified share of the 1,797 digit images
    from tailguard.data.tabular import load_digits

    digits_y = load_digits().y
    pool_rng = np.random.default_rng(pool_seed)
    pools: list[list[int]] = [[] for _ in splits]
    for label in range(n_classes):
        members = pool_rng.permutation(np.flatnonzero(digits_y == label))
        for j, count in enumerate(_split_counts(len(members), fractions)):
            start = sum(_split_counts(len(members), fractions)[:j])
            pools[j].extend(members[start : start + count].tolist())

    counts = _split_counts(n_images, fractions)
    jobs = []
    for name, count, seed_j, pool in zip(splits, counts, split_seeds, pools, strict=True):
        (root / "images" / name).mkdir(parents=True, exist_ok=True)
        (root / "labels" / name).mkdir(parents=True, exist_ok=True)
        pool_indices = tuple(sorted(pool))
        for start in range(0, count, _CHUNK):
            stop = min(start + _CHUNK, count)
            jobs.append(
                _WriteJob(root, name, seed_j, pool_indices, start, stop, n_classes, exponent, imgsz, max_objects)
            )

    bar = task = None
    if progress:
        from rich.progress import Progress

        bar = Progress(transient=True)
        bar.start()
        task = bar.add_task("composing detection images", total=n_images)
    try:
        if workers == 1:
            done_counts: Iterable[int] = map(_write_job, jobs)
        else:
            from concurrent.futures import ProcessPoolExecutor

            executor = ProcessPoolExecutor(max_workers=workers)
            done_counts = executor.map(_write_job, jobs)
        for done in done_counts:
            if bar is not None:
                bar.advance(task, done)
    finally:
        if workers != 1:
            executor.shutdown()
        if bar is not None:
            bar.stop()

    yaml_path = root / "data.yaml"
    yaml_path.write_text(_yaml_text(root, splits, DIGIT_NAMES[:n_classes], p["seed"], exponent), encoding="utf-8")
    return yaml_path
