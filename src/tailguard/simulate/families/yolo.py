"""The ``yolo`` family: Ultralytics YOLO self-training on its own pseudo-labels.

The loop the issue describes, on the built-in long-tailed digits detection set
(:mod:`tailguard.data.detection`: real scikit-learn handwriting on noisy canvases, class
``i`` is the digit ``i``, Zipf-like class weights, rare classes ``seven``, ``eight``, ``nine``):

1. generation 0 trains a detector built from ``yolo26n.yaml`` (no downloaded weights) on
   ``sample_size`` human-labelled images;
2. model n pseudo-labels ``sample_size`` *fresh* unlabelled images (newly composed, never
   seen) at confidence ``conf``; the boxes it finds become the next round's samples;
3. the policy composes model n+1's training set from the human images and every round of
   pseudo-labelled images (``replace``: only the latest pseudo-labels; ``anchor:0.3``: at
   least 30 % human images; ...); with ``warm_start`` (default) model n+1 is fine-tuned
   from model n for ``epochs`` epochs (the newest model whose pseudo-labels it trains on;
   for a human-only mix, the chain's previous model), generation 0 trains ``epochs0``
   epochs from ``model`` (a YAML);
4. every model is validated on a fixed human-labelled validation set (its own digit
   handwriting, disjoint from the training digits) and its per-class metrics are recorded.

Rows. The generic loop moves numeric arrays, so a sample (one image with its labels) is a
row ``[image_seed, image_index, n_boxes, (class, x, y, w, h, confidence) * max_boxes]``
(padding is -1). The pixels are not in the row: image ``i`` of seed ``s`` is
``compose_detection(..., seed=s).images[i]``, rendered once into a cache folder under
``workdir`` and re-rendered on demand, so checkpoints stay small and a resumed run finds
every image again. Human boxes have confidence 1.

Caching. ``fit`` is keyed by the training rows, the family's config and the state of its
random stream (and the weights it starts from); a finished model under ``workdir/models/<key>``
(marked ``tailguard-done``; a killed training is redone) is reused. All policies of
one seed share generation 0 (same human data, same stream), so it is trained once. A file
lock makes concurrent workers wait for each other instead of training the same model twice.

Metrics (per generation, on the fixed validation set): ``map50``, ``map50_95``,
``precision``, ``recall``; ``recall/<class>`` and ``map50_95/<class>`` for every class;
``rare_recall`` (mean recall of the rare classes, the tail metric); and two statistics of
the pseudo-labels the model wrote: ``pseudo_boxes_per_image`` and ``pseudo_rare_share_ratio``
(the rare classes' share of the pseudo-label boxes over their share of the human boxes).

``task=segment`` and ``task=classify`` run the same loop for segmentation (the built-in
shapes, ``yolo26n-seg.yaml``, mask polygons as pseudo-labels) and classification (one real
digit per image, ``yolo26n-cls.yaml``, top-1 classes as pseudo-labels); their rows, data and
metrics are in :mod:`tailguard.simulate.families.yolo_tasks`. ``model`` defaults to the
task's YAML.

CPU-sized defaults (imgsz 96, 20 epochs for generation 0, then 5-epoch warm starts) are far
too short for a good detector, which is fine for watching the trend; on a GPU use
``device=0`` (CLI: ``tailguard simulate yolo --param device=0 --param epochs0=100``).

>>> fam = YoloFamily(epochs=1, imgsz=64)
>>> fam.row_width
51
>>> sorted(fam.get_params())[:3]
['batch', 'conf', 'device']
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from tailguard.simulate.families import yolo_tasks
from tailguard.simulate.family import EvalContext, Family, MetricSpec, Setup, register_family
from tailguard.validation import Bool, Custom, Float, Int, OneOf, Str

_CLASS_NAMES: tuple[str, ...] = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
_HEAD = 3  # image_seed, image_index, n_boxes
_BOX = 6  # class, x, y, w, h, confidence


def _metric_specs() -> tuple[MetricSpec, ...]:
    specs = [
        MetricSpec("map50_95", True, description="mAP50-95 on the fixed human-labelled validation set"),
        MetricSpec("map50", True, description="mAP50 on the validation set"),
        MetricSpec("precision", True, description="mean per-class precision (Ultralytics, at max F1)"),
        MetricSpec("recall", True, description="mean per-class recall (Ultralytics, at max F1)"),
        MetricSpec("rare_recall", True, tail=True, description="mean recall of the rare classes"),
        MetricSpec(
            "pseudo_rare_share_ratio",
            True,
            tail=True,
            description="rare classes' share of the model's pseudo-label boxes / their share of human boxes",
        ),
        MetricSpec("pseudo_boxes_per_image", True, description="boxes per image in the model's pseudo-labels"),
    ]
    for name in _CLASS_NAMES:
        specs.append(MetricSpec(f"recall/{name}", True, description=f"recall of class {name!r}"))
    for name in _CLASS_NAMES:
        specs.append(MetricSpec(f"map50_95/{name}", True, description=f"mAP50-95 of class {name!r}"))
    return tuple(specs)


@dataclass(frozen=True)
class YoloModel:
    """A trained generation: its weights, the key it was cached under, and how many
    warm starts separate it from the model trained from scratch (``depth``)."""

    weights: str
    key: str
    depth: int = 0


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """An exclusive advisory lock (POSIX ``flock``); a no-op where ``fcntl`` is missing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _epochs_done(run_dir: Path) -> int:
    """Epochs an Ultralytics run folder logged in its ``results.csv`` (0 when there is none)."""
    try:
        return max(0, len((run_dir / "results.csv").read_text().strip().splitlines()) - 1)
    except OSError:
        return 0


def _digit_pools(val_fraction: float = 0.3) -> tuple[np.ndarray, np.ndarray]:
    """Disjoint, class-stratified rows of scikit-learn's digits for training/pool and validation images."""
    from tailguard.data.tabular import load_digits

    y = load_digits().y
    rng = np.random.default_rng(20240601)  # fixed: the split is part of the dataset, not of a run
    train, val = [], []
    for label in range(len(_CLASS_NAMES)):
        members = rng.permutation(np.flatnonzero(y == label))
        k = max(1, round(len(members) * val_fraction))
        val.extend(members[:k].tolist())
        train.extend(members[k:].tolist())
    return np.sort(np.asarray(train)), np.sort(np.asarray(val))


@register_family
class YoloFamily(Family):
    """Self-training of a YOLO detector on its own pseudo-labels (see the module docstring)."""

    name = "yolo"
    sample_kind = "text"
    metrics: ClassVar[tuple[MetricSpec, ...]] = _metric_specs()
    params: ClassVar[dict[str, Any]] = {
        "task": OneOf(("detect", "segment", "classify")),
        "max_vertices": Int(min=3, max=256),
        "model": Str(optional=True),
        "imgsz": Int(min=32, max=1280),
        "epochs0": Int(min=1),
        "epochs": Int(min=1),
        "warm_start": Bool(),
        "optimizer": OneOf(("auto", "SGD", "AdamW", "Adam")),
        "lr0": Float(min=0.0, max=1.0, min_open=True, optional=True),
        "mosaic": Float(min=0.0, max=1.0),
        "batch": Int(min=1),
        "device": Custom(
            "a device name ('cpu', '0', '0,1', 'mps') or a GPU index",
            lambda v: (isinstance(v, str) and bool(v)) or (isinstance(v, int) and not isinstance(v, bool) and v >= 0),
        ),
        "conf": Float(min=0.0, max=1.0, min_open=True, max_open=True),
        "n_val": Int(min=1),
        "max_boxes": Int(min=1, max=64),
        "max_objects": Int(min=1, max=16),
        "exponent": Float(min=0.0, max=10.0),
        "fresh_factor": Int(min=0),
        "workdir": Str(optional=True),
    }
    defaults: ClassVar[dict[str, Any]] = {
        "task": "detect",
        "max_vertices": 24,
        "model": None,
        "imgsz": 96,
        "epochs0": 20,
        "epochs": 5,
        "warm_start": True,
        "optimizer": "auto",
        "lr0": None,
        "mosaic": 1.0,
        "batch": 16,
        "device": "cpu",
        "conf": 0.25,
        "n_val": 100,
        "max_boxes": 8,
        "max_objects": 4,
        "exponent": 1.5,
        "fresh_factor": 2,
        "workdir": None,
    }

    def __init__(self, **params: Any):
        super().__init__(**params)
        if self.task != "detect":  # this instance's metrics (the class lists detection's)
            self.metrics = yolo_tasks.metric_specs(self.task)  # type: ignore[misc]

    # -- layout ------------------------------------------------------------------
    @property
    def task(self) -> str:
        return str(self._params["task"])

    @property
    def names(self) -> tuple[str, ...]:
        return _CLASS_NAMES if self.task == "detect" else yolo_tasks.class_names(self.task)

    @property
    def model_yaml(self) -> str:
        return str(self._params["model"] or yolo_tasks.MODEL_YAML[self.task])

    @property
    def row_width(self) -> int:
        if self.task != "detect":
            return yolo_tasks.row_width(self.task, int(self._params["max_boxes"]), int(self._params["max_vertices"]))
        return _HEAD + _BOX * int(self._params["max_boxes"])

    @property
    def workdir(self) -> Path:
        given = self._params["workdir"]
        if given:
            return Path(given)
        return Path(tempfile.gettempdir()) / "tailguard-yolo" / self.config_id

    @property
    def rare(self) -> tuple[int, ...]:
        return yolo_tasks.rare_classes(self.task, float(self._params["exponent"]))

    def _rows(self, seed: int, boxes: list[Any]) -> np.ndarray:
        if self.task != "detect":
            return yolo_tasks.pack(self.task, seed, boxes, int(self._params["max_boxes"]),
                                   int(self._params["max_vertices"]))
        k = int(self._params["max_boxes"])
        rows = np.full((len(boxes), self.row_width), -1.0)
        rows[:, 0] = seed
        rows[:, 1] = np.arange(len(boxes))
        for i, b in enumerate(boxes):
            b = b[:k]
            rows[i, 2] = len(b)
            rows[i, _HEAD : _HEAD + _BOX * len(b)] = b.reshape(-1)
        return rows

    @staticmethod
    def boxes_of(row: np.ndarray) -> np.ndarray:
        """The ``(k, 6)`` boxes stored in one row (detection)."""
        n = int(row[2])
        return np.asarray(row[_HEAD : _HEAD + _BOX * n], dtype=np.float64).reshape(n, _BOX)

    def classes_of(self, row: np.ndarray) -> np.ndarray:
        """The class ids of one row's labels (any task)."""
        if self.task == "detect":
            return self.boxes_of(row)[:, 0].astype(int)
        return np.array([c for c, _s, _p in yolo_tasks.unpack(self.task, row, int(self._params["max_vertices"]))],
                        dtype=int)

    # -- images ------------------------------------------------------------------
    def _compose(self, n: int, seed: int, pool: np.ndarray) -> Any:
        from tailguard.data.detection import compose_detection

        return compose_detection(
            n,
            seed=seed,
            imgsz=int(self._params["imgsz"]),
            n_classes=len(_CLASS_NAMES),
            exponent=float(self._params["exponent"]),
            max_objects=int(self._params["max_objects"]),
            digit_indices=pool,
        )

    def _image_dir(self, seed: int) -> Path:
        return self.workdir / "images" / f"s{seed}"

    def _render(self, n: int, seed: int, pool_name: str) -> tuple[np.ndarray, list[Any]]:
        """Compose ``n`` images of ``seed`` from the ``train`` or ``val`` digit pool, cache them as PNGs."""
        train_pool, val_pool = _digit_pools()
        pool = train_pool if pool_name == "train" else val_pool
        if self.task != "detect":
            images, labels = yolo_tasks.compose(self.task, n, seed, imgsz=int(self._params["imgsz"]),
                                                exponent=float(self._params["exponent"]),
                                                max_objects=int(self._params["max_objects"]), pool=pool)
            self._save_images(seed, pool_name, images)
            return images, labels
        ds = self._compose(n, seed, pool)
        self._save_images(seed, pool_name, ds.images)
        return ds.images, [np.concatenate([lab, np.ones((len(lab), 1))], axis=1) for lab in ds.labels]

    def _save_images(self, seed: int, pool_name: str, images: np.ndarray) -> None:
        from PIL import Image

        out = self._image_dir(seed)
        out.mkdir(parents=True, exist_ok=True)
        (out / "pool.txt").write_text(pool_name)
        for i, image in enumerate(images):
            target = out / f"{i:06d}.png"
            if not target.exists():
                tmp = out / f".{i:06d}.{os.getpid()}.png"
                Image.fromarray(image, mode="L").save(tmp, compress_level=1)
                tmp.replace(target)

    def _image_path(self, seed: int, index: int) -> Path:
        path = self._image_dir(seed) / f"{index:06d}.png"
        if not path.exists():  # a cache that was cleaned: render the block again
            pool_file = self._image_dir(seed) / "pool.txt"
            pool_name = pool_file.read_text() if pool_file.exists() else "train"
            self._render(index + 1, seed, pool_name)
        return path

    def _write_split(self, root: Path, split: str, rows: np.ndarray) -> None:
        if self.task == "classify":  # root/<split>/<class name>/<image>; an image without a label is left out
            for cname in self.names:  # every class folder, empty or not: Ultralytics numbers the folders it finds
                (root / split / cname).mkdir(parents=True, exist_ok=True)
            for j, row in enumerate(rows):
                found = self.classes_of(row)
                if not len(found):
                    continue
                folder = root / split / self.names[int(found[0])]
                folder.mkdir(parents=True, exist_ok=True)
                link = folder / f"{j:06d}_s{int(row[0])}_{int(row[1])}.png"
                if not link.exists():
                    os.symlink(self._image_path(int(row[0]), int(row[1])).resolve(), link)
            return
        images, labels = root / "images" / split, root / "labels" / split
        images.mkdir(parents=True, exist_ok=True)
        labels.mkdir(parents=True, exist_ok=True)
        for j, row in enumerate(rows):
            src = self._image_path(int(row[0]), int(row[1]))
            stem = f"{j:06d}_s{int(row[0])}_{int(row[1])}"
            link = images / f"{stem}.png"
            if not link.exists():
                os.symlink(src.resolve(), link)
            if self.task == "segment":
                lines = yolo_tasks.label_lines(yolo_tasks.unpack("segment", row, int(self._params["max_vertices"])))
            else:
                lines = "".join(f"{int(b[0])} {b[1]:.6f} {b[2]:.6f} {b[3]:.6f} {b[4]:.6f}\n"
                                for b in self.boxes_of(row))
            (labels / f"{stem}.txt").write_text(lines)

    def _val_yaml(self, heldout: np.ndarray) -> Path:
        import yaml

        key = hashlib.blake2b(heldout.tobytes(), digest_size=8).hexdigest()
        root = self.workdir / "val" / key
        data_yaml = root / "data.yaml"
        with _file_lock(self.workdir / "locks" / f"val-{key}.lock"):
            if self.task == "classify":  # a classification dataset is a folder: val (and train, which val= needs)
                if not (root / "tailguard-done").exists():
                    self._write_split(root, "val", heldout)
                    self._write_split(root, "train", heldout)
                    (root / "tailguard-done").write_text("")
                return root
            if not data_yaml.exists():
                self._write_split(root, "val", heldout)
                body = {"path": str(root), "train": "images/val", "val": "images/val"}
                body["names"] = dict(enumerate(self.names))
                data_yaml.write_text(yaml.safe_dump(body, sort_keys=False))
        return data_yaml

    # -- protocol ----------------------------------------------------------------
    def setup(self, sample_size: int, rng: np.random.Generator) -> Setup:
        self._previous: YoloModel | None = None  # a new chain starts from the YAML
        seeds = [int(s) for s in rng.integers(0, 2**31 - 1, size=3)]
        n_val = int(self._params["n_val"])
        _, train_boxes = self._render(sample_size, seeds[0], "train")
        _, val_boxes = self._render(n_val, seeds[1], "val")
        train = self._rows(seeds[0], train_boxes)
        heldout = self._rows(seeds[1], val_boxes)
        fresh = None
        n_fresh = sample_size * int(self._params["fresh_factor"])
        if n_fresh:
            _, fresh_boxes = self._render(n_fresh, seeds[2], "train")
            fresh = self._rows(seeds[2], fresh_boxes)
        human = np.concatenate([self.classes_of(row) for row in train]).astype(int)
        share = np.bincount(human, minlength=len(self.names)) / max(len(human), 1)
        return Setup(train=train, heldout=heldout, fresh=fresh, extra={"human_class_share": share})

    def _producer_file(self, seed: int) -> Path:
        return self.workdir / "producers" / f"s{seed}.json"

    def _init_model(self, data: np.ndarray) -> YoloModel | None:
        """The model to warm-start from: the newest one that pseudo-labelled some of ``data``;
        for a training set of human rows only, the chain's previous model (None in generation 0)."""
        best: YoloModel | None = None
        for seed in np.unique(data[:, 0]).astype(np.int64).tolist():
            path = self._producer_file(int(seed))
            if path.exists():
                found = YoloModel(**json.loads(path.read_text()))
                if best is None or found.depth > best.depth:
                    best = found
        return best if best is not None else self.__dict__.get("_previous")

    def fit(self, data: np.ndarray, rng: np.random.Generator) -> YoloModel:
        from tailguard.integrations.ultralytics.runtime import load_ultralytics

        data = np.ascontiguousarray(np.asarray(data, dtype=np.float64))
        init = self._init_model(data) if self._params["warm_start"] else None
        state = json.dumps(rng.bit_generator.state, sort_keys=True, default=str)
        key = hashlib.blake2b(
            data.tobytes() + self.config_id.encode() + state.encode() + (init.key if init else "").encode(),
            digest_size=10,
        ).hexdigest()
        train_seed = int(rng.integers(0, 2**31 - 1))
        depth = 0 if init is None else init.depth + 1
        project = self.workdir / "models"
        weights = project / key / "weights" / "best.pt"
        done = project / key / "tailguard-done"  # Ultralytics saves weights every epoch: a killed run has some
        with _file_lock(self.workdir / "locks" / f"fit-{key}.lock"):
            epochs = int(self._params["epochs0" if init is None else "epochs"])
            if weights.exists() and (done.exists() or _epochs_done(project / key) >= epochs):
                return YoloModel(str(weights), key, depth)
            root = self.workdir / "sets" / key
            self._write_split(root, "train", data)
            if self.task == "classify":
                self._write_split(root, "val", data)  # Ultralytics builds a val loader even with val=False
                data_yaml = root
            else:
                import yaml

                body = {"path": str(root), "train": "images/train", "val": "images/train"}
                body["names"] = dict(enumerate(self.names))
                data_yaml = root / "data.yaml"
                data_yaml.write_text(yaml.safe_dump(body, sort_keys=False))
            start = self.model_yaml if init is None else init.weights
            yolo = load_ultralytics().YOLO(start)
            with warnings.catch_warnings():
                # Ultralytics' Ray Tune callback (on when ray is installed) warns outside a Tune session
                warnings.filterwarnings("ignore", message=".*get_trial_id.*", category=UserWarning)
                from tailguard.integrations.ultralytics.runtime import quiet

                with quiet():  # tailguard's own loop: its progress, not Ultralytics' epoch tables
                    self._train(yolo, data_yaml, init, train_seed, project, key)
            if not weights.exists():  # Ultralytics writes best.pt when it validates; last.pt always
                (project / key / "weights" / "last.pt").replace(weights)
            done.write_text(json.dumps({"weights": str(weights), "depth": depth}))
        return YoloModel(str(weights), key, depth)

    def _train(self, yolo: Any, data_yaml: Path, init: YoloModel | None, seed: int, project: Path, key: str) -> None:
        from tailguard.integrations.ultralytics.runtime import offline_train_args

        yolo.train(
            **offline_train_args(
                data=str(data_yaml),
                epochs=int(self._params["epochs0" if init is None else "epochs"]),
                imgsz=int(self._params["imgsz"]),
                batch=int(self._params["batch"]),
                device=str(self._params["device"]),
                seed=seed,
                project=str(project),
                name=key,
                exist_ok=True,  # a retried fit (after a crash) trains into the same folder it resumes from
                workers=0,
                val=False,
                fliplr=0.0,  # a mirrored digit is not the same digit
                optimizer=str(self._params["optimizer"]),
                mosaic=float(self._params["mosaic"]),
                **({} if self._params["lr0"] is None else {"lr0": float(self._params["lr0"])}),
            )
        )

    def sample(self, model: YoloModel, n: int, rng: np.random.Generator) -> np.ndarray:
        from tailguard.integrations.ultralytics.predict import predict_boxes
        from tailguard.integrations.ultralytics.runtime import load_ultralytics

        seed = int(rng.integers(0, 2**31 - 1))
        images, _truth = self._render(n, seed, "train")  # fresh, unlabelled: the true boxes are dropped
        self._previous = model  # the loop fits the next generation after sampling this one
        producer = self._producer_file(seed)
        producer.parent.mkdir(parents=True, exist_ok=True)
        producer.write_text(json.dumps({"weights": model.weights, "key": model.key, "depth": model.depth}))
        yolo = load_ultralytics().YOLO(model.weights)
        if self.task != "detect":
            found = yolo_tasks.predicted_objects(
                self.task, yolo, list(images), conf=float(self._params["conf"]), imgsz=int(self._params["imgsz"]),
                device=str(self._params["device"]), batch=int(self._params["batch"]),
                max_boxes=int(self._params["max_boxes"]), max_vertices=int(self._params["max_vertices"]))
            return self._rows(seed, found)
        boxes = predict_boxes(
            yolo,
            list(images),
            conf=float(self._params["conf"]),
            imgsz=int(self._params["imgsz"]),
            device=str(self._params["device"]),
            batch=int(self._params["batch"]),
            max_det=int(self._params["max_boxes"]),
        )
        return self._rows(seed, boxes)

    def evaluate(self, model: YoloModel, samples: np.ndarray, ctx: EvalContext) -> dict[str, float]:
        from tailguard.integrations.ultralytics.metrics import detection_metrics, validation_metrics
        from tailguard.integrations.ultralytics.runtime import load_ultralytics

        data_yaml = self._val_yaml(np.asarray(ctx.setup.heldout))
        name = data_yaml.name if self.task == "classify" else data_yaml.parent.name
        cache = self.workdir / "evals" / f"{model.key}-{name}.json"
        with _file_lock(self.workdir / "locks" / f"eval-{model.key}.lock"):
            if cache.exists():
                flat = json.loads(cache.read_text())
            else:
                yolo = load_ultralytics().YOLO(model.weights)
                validators: list[Any] = []
                yolo.add_callback("on_val_end", validators.append)  # classification: per-class recall from it
                result = yolo.val(
                    data=str(data_yaml),
                    imgsz=int(self._params["imgsz"]),
                    batch=int(self._params["batch"]),
                    device=str(self._params["device"]),
                    plots=False,
                    verbose=False,
                    project=str(self.workdir / "evals"),
                    name=model.key,
                    exist_ok=True,
                )
                if self.task == "detect":
                    flat = detection_metrics(result)
                else:
                    flat = validation_metrics(result, validators[-1] if validators else None) or {}
                cache.parent.mkdir(parents=True, exist_ok=True)
                cache.write_text(json.dumps(flat))
        val_classes = {int(c) for row in ctx.setup.heldout for c in self.classes_of(row)}
        if self.task != "detect":
            return self._task_metrics(flat, val_classes, samples, ctx)
        out: dict[str, float] = {k: flat.get(k, 0.0) for k in ("map50_95", "map50", "precision", "recall")}
        for cid, name in enumerate(_CLASS_NAMES):
            present = cid in val_classes
            # a class with validation instances that the model never detects has recall 0
            out[f"recall/{name}"] = flat.get(f"recall/{name}", 0.0) if present else float("nan")
            out[f"map50_95/{name}"] = flat.get(f"map50_95/{name}", 0.0) if present else float("nan")
        rare = [out[f"recall/{_CLASS_NAMES[c]}"] for c in self.rare if c in val_classes]
        out["rare_recall"] = float(np.mean(rare)) if rare else float("nan")
        out.update(self._pseudo_stats(samples, ctx.setup))
        return out

    def _task_metrics(self, flat: dict[str, float], val_classes: set[int], samples: np.ndarray,
                      ctx: EvalContext) -> dict[str, float]:
        """segment and classify: the metrics of :func:`yolo_tasks.metric_specs` (recall: mask / top-1)."""
        if self.task == "classify":
            out = {k: flat.get(k, 0.0) for k in ("top1", "top5")}
            recall_key = "recall"
        else:
            out = {k: flat.get(k, 0.0) for k in ("map50_95", "mask_map50_95", "mask_map50", "precision", "recall")}
            recall_key = "mask_recall"
        for cid, cname in enumerate(self.names):
            present = cid in val_classes
            out[f"recall/{cname}"] = flat.get(f"{recall_key}/{cname}", 0.0) if present else float("nan")
            if self.task == "segment":
                out[f"mask_map50_95/{cname}"] = flat.get(f"mask_map50_95/{cname}", 0.0) if present else float("nan")
        rare = [out[f"recall/{self.names[c]}"] for c in self.rare if c in val_classes]
        out["rare_recall"] = float(np.mean(rare)) if rare else float("nan")
        stats = self._pseudo_stats(samples, ctx.setup)
        per_image = stats.pop("pseudo_boxes_per_image")
        if self.task == "classify":
            stats["pseudo_labelled_share"] = per_image  # 0 or 1 label per image
        else:
            stats["pseudo_masks_per_image"] = per_image
        out.update(stats)
        return out

    def _pseudo_stats(self, samples: np.ndarray, setup: Setup) -> dict[str, float]:
        per_row = [self.classes_of(row) for row in np.asarray(samples)]
        n_boxes = sum(len(c) for c in per_row)
        stats = {"pseudo_boxes_per_image": n_boxes / max(len(per_row), 1)}
        human_share = np.asarray(setup.extra.get("human_class_share", np.zeros(len(self.names))))
        rare = list(self.rare)
        reference = float(human_share[rare].sum()) if rare else 0.0
        if n_boxes == 0 or reference == 0.0:
            stats["pseudo_rare_share_ratio"] = 0.0 if reference > 0 else float("nan")
            return stats
        classes = np.concatenate([c for c in per_row if len(c)]).astype(int)
        stats["pseudo_rare_share_ratio"] = float(np.isin(classes, rare).mean() / reference)
        return stats

    # -- hooks for policies and reports --------------------------------------------
    def features(self, data: np.ndarray) -> np.ndarray | None:
        """Not supported: ``filter`` needs image features, which this family does not compute."""
        return None

    def classes(self, data: np.ndarray) -> np.ndarray | None:
        """One class per image for ``tail-preserve``: its rarest class (an empty image counts as class 0)."""
        weights = yolo_tasks.class_weights(self.task, float(self._params["exponent"]))
        out = np.zeros(len(data), dtype=np.int64)
        for i, row in enumerate(np.asarray(data)):
            ids = self.classes_of(row)
            if len(ids):
                out[i] = int(ids[np.argmin(weights[ids])])
        return out

    def render_text(self, data: np.ndarray, setup: Setup, limit: int = 8) -> list[str]:
        lines = []
        for row in np.asarray(data)[:limit]:
            if self.task != "detect":
                parts = [f"{self.names[c]} ({s:.2f})"
                         for c, s, _p in yolo_tasks.unpack(self.task, row, int(self._params["max_vertices"]))]
                lines.append(f"image s{int(row[0])}/{int(row[1])}: " + (", ".join(parts) or "no label"))
                continue
            parts = [f"{_CLASS_NAMES[int(b[0])]} ({b[5]:.2f})" for b in self.boxes_of(row)]
            lines.append(f"image s{int(row[0])}/{int(row[1])}: " + (", ".join(parts) or "no boxes"))
        return lines
