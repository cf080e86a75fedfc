"""Frozen, serialisable configuration kept apart from computation.

A :class:`Configurable` stores only its validated parameters in ``__init__``
(scikit-learn style); its ``config_id`` is a hash of the class name and the
parameters, stored with every result so a number can be traced to its settings.

>>> class Demo(Configurable):
...     params = {"k": Int(min=1)}
...     defaults = {"k": 3}
>>> Demo(k=5).get_params()
{'k': 5}
>>> Demo().config_id == Demo(k=3).config_id
True
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any, ClassVar

from tailguard.validation import Constraint, Int, validate_params  # noqa: F401  (Int re-exported for doctest)


def stable_hash(payload: Any, length: int = 16) -> str:
    """Hex digest of the canonical JSON form of ``payload``."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.blake2b(text.encode(), digest_size=32).hexdigest()[:length]


class Configurable:
    """Base for everything configured by a parameter table."""

    params: ClassVar[Mapping[str, Constraint]] = {}
    defaults: ClassVar[Mapping[str, Any]] = {}
    #: Parameters that change how a result is computed but never the result (left out of ``config_id``).
    result_neutral: ClassVar[tuple[str, ...]] = ()

    def __init__(self, **params: Any):
        merged = {**self.defaults, **params}
        self._params = validate_params(type(self).__name__, merged, self.params)

    def get_params(self) -> dict[str, Any]:
        return dict(self._params)

    @property
    def config_id(self) -> str:
        params = {k: v for k, v in self._params.items() if k not in self.result_neutral}
        return stable_hash({"class": type(self).__qualname__, "params": params})

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in sorted(self._params.items()))
        return f"{type(self).__name__}({args})"

    def __getstate__(self) -> dict[str, Any]:
        return self.__dict__.copy()

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
