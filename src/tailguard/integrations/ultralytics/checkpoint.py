"""Loading a user's YOLO checkpoint, with a content hash and a one-line error for anything else.

A checkpoint is identified by its bytes: :func:`load_checkpoint` hashes the file
(:func:`tailguard.ledger.hashing.file_id`, the hash the ledger uses for sample ids) and
builds the generator string that pseudo-labels carry, ``"<model id>@<hash>"``.
Loading goes through Ultralytics' restricted (``weights_only``) loader, so a file
that is not a YOLO detection checkpoint is refused before any of it is unpickled
with arbitrary globals.

>>> from pathlib import Path
>>> import tempfile
>>> with tempfile.TemporaryDirectory() as tmp:
...     bad = Path(tmp) / "notes.pt"
...     _ = bad.write_bytes(b"not a checkpoint")
...     load_checkpoint(bad)  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
tailguard.errors.BadInputError: .../notes.pt: not a YOLO checkpoint (...)
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tailguard.errors import BadInputError, MissingInputError
from tailguard.integrations.ultralytics.runtime import load_ultralytics
from tailguard.ledger.hashing import file_id


@dataclass(frozen=True)
class CheckpointInfo:
    """What tailguard records about a checkpoint: where, which bytes, which classes."""

    path: Path
    content_hash: str
    model_id: str
    task: str
    names: tuple[str, ...]

    @property
    def generator(self) -> str:
        """The generator string stored on every pseudo-label: ``"<model id>@<content hash>"``."""
        return f"{self.model_id}@{self.content_hash}"


def _not_a_checkpoint(path: Path, why: str) -> BadInputError:
    return BadInputError(f"not a YOLO checkpoint ({why})", path=path)


def load_checkpoint(weights: str | Path, *, model_id: str | None = None,
                    tasks: tuple[str, ...] = ("detect",)) -> tuple[Any, CheckpointInfo]:
    """Load a YOLO checkpoint (``.pt``) of one of ``tasks`` (default: detection) and describe it.

    Returns ``(model, info)`` where ``model`` is an ``ultralytics.YOLO``. Raises
    :class:`~tailguard.errors.MissingInputError` when the file does not exist and
    :class:`~tailguard.errors.BadInputError` (one line, naming the file) when it is not a
    YOLO detection checkpoint: wrong suffix, not a torch archive, a state dict, a
    TorchScript export, a classification or segmentation model, or anything the
    restricted loader refuses. ``model_id`` defaults to ``<run folder>/<stem>`` for a file in
    an Ultralytics ``weights/`` folder (``train3/best``), else to the file's stem.
    """
    path = Path(weights)
    if not path.exists():
        raise MissingInputError("weights file not found", path=path)
    if not path.is_file():
        raise _not_a_checkpoint(path, "it is a directory")
    if path.suffix != ".pt":
        raise _not_a_checkpoint(path, f"expected a .pt file, got {path.suffix or 'no suffix'!r}")
    if not zipfile.is_zipfile(path):
        raise _not_a_checkpoint(path, "the file is not a PyTorch archive")
    ultralytics = load_ultralytics()
    try:
        model = ultralytics.YOLO(str(path), task=None)
    except Exception as exc:  # the loader raises TypeError/KeyError/UnpicklingError/... for foreign files
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise _not_a_checkpoint(path, f"{type(exc).__name__}: {first_line[:160]}") from exc
    task = getattr(model, "task", None)
    if task not in tasks:
        wanted = " or ".join(repr(t) for t in tasks)
        raise _not_a_checkpoint(path, f"it is a {task!r} model; this needs a {wanted} model")
    names_map = dict(model.names)
    names = tuple(str(names_map[i]) for i in sorted(names_map))
    if model_id is None:  # runs/detect/train3/weights/best.pt -> "train3/best", as attach() names it
        model_id = f"{path.parent.parent.name}/{path.stem}" if path.parent.name == "weights" else path.stem
    info = CheckpointInfo(
        path=path.resolve(),
        content_hash=file_id(path),
        model_id=model_id,
        task=task,
        names=names,
    )
    return model, info
