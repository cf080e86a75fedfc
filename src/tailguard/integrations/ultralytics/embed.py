"""An image embedder from the user's own YOLO checkpoint: backbone features pooled per image.

The audit compares a candidate with a human reference in some feature space. For a
detection dataset the most telling space is the detector's own: :class:`YoloEmbedder`
runs the checkpoint's backbone (the layers its model YAML lists under ``backbone``; the
last one by default, the SPPF/C2PSA output for YOLO11/YOLO26) and global-average-pools the
feature map of each image (Ultralytics' ``embed=`` option), so nothing is downloaded and
the features reflect what the user's model has learned.

Usage (``model.pt`` being any YOLO detection checkpoint)::

    emb = YoloEmbedder("runs/detect/train/weights/best.pt")
    X = emb.transform(["a.png", "b.png"])   # (2, C) float32, C = backbone channels

It follows the :mod:`tailguard.features` embedder protocol (``modality``, ``dim``,
``config_id``, ``transform``), and parameters are validated on entry:

>>> YoloEmbedder("best.pt", batch=0)
Traceback (most recent call last):
...
tailguard.errors.ParameterError: The 'batch' parameter of YoloEmbedder must be an int >= 1. Got 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from tailguard.config import Configurable, stable_hash
from tailguard.errors import ParameterError
from tailguard.integrations.ultralytics.checkpoint import CheckpointInfo, load_checkpoint
from tailguard.validation import Int, Str


def backbone_end(model: Any) -> int:
    """Index of the last backbone layer of an ``ultralytics.YOLO`` (from its model YAML)."""
    inner = model.model
    yaml_cfg = getattr(inner, "yaml", None) or {}
    backbone = yaml_cfg.get("backbone")
    if not backbone:
        return len(inner.model) - 2  # Ultralytics' own default for embed()
    return len(backbone) - 1


class YoloEmbedder(Configurable):
    """Pooled backbone features of a YOLO checkpoint, one row per image (registered as ``"yolo"``).

    ``layer`` picks another layer index (default: the last backbone layer); ``imgsz``
    defaults to the size the checkpoint was trained at. The checkpoint is loaded on first
    use; ``config_id`` includes its content hash, so features of different weights never
    share an id.
    """

    modality: ClassVar[str] = "image"
    params: ClassVar[dict[str, Any]] = {
        "weights": Str(),
        "layer": Int(min=0, optional=True),
        "imgsz": Int(min=32, max=4096, optional=True),
        "device": Str(optional=True),
        "batch": Int(min=1),
    }
    defaults: ClassVar[dict[str, Any]] = {"layer": None, "imgsz": None, "device": None, "batch": 32}

    def __init__(self, weights: str | Path, **params: Any):
        super().__init__(weights=str(weights), **params)
        self._model: Any = None
        self._info: CheckpointInfo | None = None
        self._layer = -1
        self._imgsz = 0

    def _load(self) -> Any:
        if self._model is None:
            p = self._params
            model, info = load_checkpoint(p["weights"])
            n_layers = len(model.model.model)
            layer = backbone_end(model) if p["layer"] is None else int(p["layer"])
            if layer >= n_layers:
                raise ParameterError(
                    f"The 'layer' parameter of YoloEmbedder must be an int >= 0 and <= {n_layers - 1}. Got {layer}."
                )
            train_args = (getattr(model, "ckpt", None) or {}).get("train_args") or {}
            self._imgsz = int(p["imgsz"] or train_args.get("imgsz") or 640)
            self._model, self._info, self._layer = model, info, layer
        return self._model

    @property
    def checkpoint(self) -> CheckpointInfo:
        """The checkpoint's path, content hash and class names (loads it)."""
        self._load()
        assert self._info is not None
        return self._info

    @property
    def layer(self) -> int:
        self._load()
        return self._layer

    @property
    def dim(self) -> int:
        """Channels of the embedded layer (loads the checkpoint)."""
        from tailguard.integrations.ultralytics.predict import as_rgb

        blank = as_rgb(np.zeros((32, 32), dtype=np.uint8))
        return int(self._embed([blank]).shape[1])

    @property
    def config_id(self) -> str:
        return stable_hash({"class": "YoloEmbedder", "params": self._params, "weights": self.checkpoint.content_hash})

    def _embed(self, chunk: list[Any]) -> np.ndarray:
        model = self._load()
        kwargs: dict[str, Any] = {"embed": [self._layer], "imgsz": self._imgsz, "verbose": False}
        if self._params["device"] is not None:
            kwargs["device"] = self._params["device"]
        return np.stack([v.detach().cpu().numpy().astype(np.float32).reshape(-1) for v in model.embed(chunk, **kwargs)])

    def transform(self, images: Any, *, name: str = "images") -> np.ndarray:
        """``(n, C)`` float32 features of ``images`` (paths, PIL images or uint8 arrays).

        Paths are decoded first, so a broken file raises
        :class:`~tailguard.errors.CorruptFileError` naming it.
        """
        from tailguard.integrations.ultralytics.predict import as_rgb
        from tailguard.integrations.ultralytics.pseudo_label import decode_image

        items = list(images)
        batch = int(self._params["batch"])
        rows: list[np.ndarray] = []
        for start in range(0, len(items), batch):
            chunk = [
                decode_image(Path(im)) if isinstance(im, str | Path) else as_rgb(im)
                for im in items[start : start + batch]
            ]
            rows.append(self._embed(chunk))
        if not rows:
            return np.zeros((0, 0), dtype=np.float32)
        return np.concatenate(rows)

    __call__ = transform


def _register() -> None:
    """Make ``tailguard.features.get_embedder("yolo", weights=...)`` work once this module is imported."""
    import contextlib

    from tailguard.errors import LedgerError
    from tailguard.features import EMBEDDERS

    with contextlib.suppress(LedgerError):  # another "yolo" embedder is registered: leave it
        EMBEDDERS.register("yolo")(YoloEmbedder)


_register()


def detection_audit_input(
    ledger: Any,
    version: str,
    *,
    weights: str | Path | None = None,
    origins: str | Sequence[str] | None = None,
    embedder: YoloEmbedder | None = None,
    name: str | None = None,
) -> Any:
    """One side of a detection audit: label statistics plus, with ``weights``, YOLO image embeddings.

    Returns a :class:`tailguard.audit.AuditInput` of modality ``detection`` whose ``boxes``
    feed the label metrics (class shares, rare-class share, box size and aspect tails,
    objects per image; boxes of ``origins``, all by default, every image of the version either
    way: ``origins=("pseudo_label",)`` and ``origins=("human",)`` of one version compare a
    model's boxes with the human boxes of the same images) and whose ``vectors`` are the
    backbone features of every image of ``version`` under the user's checkpoint (one row
    per image), so the audit's tail, coverage and drift metrics compare images the way the
    user's detector sees them. Use the same checkpoint (or ``embedder``) for both sides::

        emb = YoloEmbedder("runs/detect/train/weights/best.pt")
        ref = detection_audit_input(ledger, "human-v1", embedder=emb)
        cand = detection_audit_input(ledger, "pseudo-v3", embedder=emb)
        report = tailguard.audit.audit(cand, ref)
    """
    from tailguard.audit import AuditInput
    from tailguard.audit.sources import detection_boxes, parse_origins
    from tailguard.errors import EmptyDatasetError

    chosen = parse_origins(origins)
    records = [r for r in ledger.iter_samples(version) if r.modality in ("detection", "image")]
    if not records:
        raise EmptyDatasetError("version holds no detection images", path=version)
    boxes = detection_boxes(records, chosen, version)
    vectors = None
    if embedder is None and weights is not None:
        embedder = YoloEmbedder(weights)
    if embedder is not None:
        from tailguard.errors import MissingInputError

        paths = []
        for r in records:
            if r.uri is None or not Path(r.uri).is_file():
                raise MissingInputError("image file of the version is missing", path=r.uri or r.id)
            paths.append(Path(r.uri))
        vectors = np.asarray(embedder.transform(paths), dtype=np.float64)
    return AuditInput(
        "detection",
        len(records),
        name or version,
        vectors=vectors,
        categories=np.asarray(boxes.class_ids) if len(boxes.class_ids) else None,
        boxes=boxes,
    )
