"""The candidate pool a policy chooses from: one row per sample, as parallel arrays.

A :class:`Pool` is what both consumers hand to a policy: the simulator builds it
from arrays each generation, :func:`tailguard.policy.mix` builds it from ledger
versions. Origins may be given as strings (``"human"``, ``"synthetic"``,
``"pseudo_label"``, ``"unknown"``) or as :class:`Origin` codes; they are stored as
``int8`` codes.

>>> import numpy as np
>>> pool = Pool(origin=["human", "human", "synthetic"], depth=[0, 0, 1], round=[0, 0, 1])
>>> len(pool), pool.origin.tolist(), pool.is_human.tolist()
(3, [0, 0, 1], [True, True, False])
>>> pool.subset(np.array([2])).depth.tolist()
[1]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tailguard.errors import BadInputError, NonFiniteValueError, UnknownChoiceError
from tailguard.origins import ORIGINS, Origin

ORIGIN_NAMES = ORIGINS
_MAX_ORIGIN = int(max(Origin))
_HUMAN = int(Origin.HUMAN)


def origin_codes(values: Any, *, name: str = "origin") -> np.ndarray:
    """Convert origin strings or integer codes to an ``int8`` code array.

    >>> origin_codes(["human", "unknown", 1]).tolist()
    [0, 3, 1]
    """
    arr = np.asarray(values)
    if arr.ndim != 1:
        arr = arr.reshape(-1)
    if arr.size == 0:
        return np.zeros(0, dtype=np.int8)
    if arr.dtype.kind in "iu":
        codes = arr
    else:
        lookup = {label: int(o) for o, label in zip(Origin, ORIGIN_NAMES, strict=True)}
        uniq, inverse = np.unique(arr.astype(str), return_inverse=True)
        mapped = np.empty(len(uniq), dtype=np.int64)
        for i, u in enumerate(uniq):
            if u.lstrip("-").isdigit():
                mapped[i] = int(u)
            elif u in lookup:
                mapped[i] = lookup[u]
            else:
                raise UnknownChoiceError(name, str(u), ORIGIN_NAMES)
        codes = mapped[inverse]
    if codes.min() < 0 or codes.max() > _MAX_ORIGIN:
        bad = int(codes[(codes < 0) | (codes > _MAX_ORIGIN)][0])
        raise BadInputError(f"{name} code {bad} is not an Origin (0..{_MAX_ORIGIN})")
    return codes.astype(np.int8, copy=False)


def _int_array(values: Any, n: int, name: str, default: int) -> np.ndarray:
    if values is None:
        return np.full(n, default, dtype=np.int64)
    arr = np.asarray(values).reshape(-1)
    if arr.shape[0] != n:
        raise BadInputError(f"Pool.{name} has {arr.shape[0]} entries but origin has {n}")
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)):
            raise NonFiniteValueError(f"Pool.{name} holds NaN or infinite values")
        if not np.all(arr == np.round(arr)):
            raise BadInputError(f"Pool.{name} must hold whole numbers")
    elif arr.size and arr.dtype.kind not in "iub":
        raise BadInputError(f"Pool.{name} must be an integer array, got dtype {arr.dtype}")
    out = arr.astype(np.int64, copy=False)
    if out.size and out.min() < 0:
        raise BadInputError(f"Pool.{name} must be >= 0, got {int(out.min())}")
    return out


@dataclass(frozen=True, eq=False)
class Pool:
    """Parallel arrays describing every candidate sample.

    Attributes:
        origin: origin codes (see :class:`Origin`); strings are converted.
        depth: synthetic depth, 0 for human data (model generations between the
            sample and human data).
        round: the generation that produced each item; the original human data is round 0.
        features: optional ``(n, d)`` float array (float32 or float64; other types become
            float64), used by ``filter`` and ``tail-preserve``.
        classes: optional ``(n,)`` integer class labels, used by ``tail-preserve``.
        texts: optional ``(n,)`` strings, the documents of a text pool: ``filter``
            drops degenerate ones (see :mod:`tailguard.policy.degenerate`).
        ids: optional ``(n,)`` sample ids (the ledger's); carried through untouched.
    """

    origin: np.ndarray
    depth: np.ndarray | None = None
    round: np.ndarray | None = None
    features: np.ndarray | None = None
    classes: np.ndarray | None = None
    ids: np.ndarray | Sequence[str] | None = field(default=None)
    texts: np.ndarray | Sequence[str] | None = field(default=None)

    def __post_init__(self) -> None:
        origin = origin_codes(self.origin)
        n = origin.shape[0]
        object.__setattr__(self, "origin", origin)
        depth = _int_array(self.depth, n, "depth", 0)
        if self.depth is None:
            depth = np.where(origin == _HUMAN, 0, 1).astype(np.int64)
        object.__setattr__(self, "depth", depth)
        object.__setattr__(self, "round", _int_array(self.round, n, "round", 0))
        if self.features is not None:
            feats = np.asarray(self.features)
            if feats.dtype not in (np.float32, np.float64):  # float32 stays float32: half the memory at scale
                feats = feats.astype(np.float64)
            if feats.ndim == 1:
                feats = feats[:, None]
            if feats.ndim != 2 or feats.shape[0] != n:
                raise BadInputError(f"Pool.features must have shape ({n}, d), got {feats.shape}")
            if not np.all(np.isfinite(feats)):
                raise NonFiniteValueError("Pool.features holds NaN or infinite values")
            object.__setattr__(self, "features", feats)
        if self.classes is not None:
            cls = np.asarray(self.classes).reshape(-1)
            if cls.shape[0] != n:
                raise BadInputError(f"Pool.classes has {cls.shape[0]} entries but origin has {n}")
            object.__setattr__(self, "classes", cls)
        if self.ids is not None:
            ids = np.asarray(self.ids, dtype=object).reshape(-1)
            if ids.shape[0] != n:
                raise BadInputError(f"Pool.ids has {ids.shape[0]} entries but origin has {n}")
            object.__setattr__(self, "ids", ids)
        if self.texts is not None:
            texts = np.empty(len(self.texts), dtype=object)
            texts[:] = list(self.texts)
            if texts.shape[0] != n:
                raise BadInputError(f"Pool.texts has {texts.shape[0]} entries but origin has {n}")
            bad = next((i for i, t in enumerate(texts) if not isinstance(t, str)), None)
            if bad is not None:
                raise BadInputError(f"Pool.texts[{bad}] is a {type(texts[bad]).__name__}, not a str")
            object.__setattr__(self, "texts", texts)

    def __len__(self) -> int:
        return int(self.origin.shape[0])

    @property
    def is_human(self) -> np.ndarray:
        """Boolean mask of human-origin items."""
        return self.origin == _HUMAN

    def subset(self, index: np.ndarray) -> Pool:
        """The pool restricted to ``index`` (an integer or boolean array)."""

        def take(a: Any) -> Any:
            return None if a is None else a[index]

        return Pool(
            origin=self.origin[index],
            depth=self.depth[index],  # type: ignore[index]
            round=self.round[index],  # type: ignore[index]
            features=take(self.features),
            classes=take(self.classes),
            ids=take(self.ids),
            texts=take(self.texts),
        )

    @classmethod
    def human(cls, n: int, **arrays: Any) -> Pool:
        """A pool of ``n`` human items from round 0 (handy for references).

        >>> Pool.human(2, features=[[0.0], [1.0]]).features.shape
        (2, 1)
        """
        return cls(origin=np.zeros(n, dtype=np.int8), depth=np.zeros(n, dtype=np.int64), **arrays)
