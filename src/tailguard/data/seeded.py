"""Small shared checks of the machine-text generators: seeds, document lists, frozen arrays.

>>> as_generator(0).integers(10, size=3).tolist() == as_generator(0).integers(10, size=3).tolist()
True
>>> as_generator("0")
Traceback (most recent call last):
...
tailguard.errors.ParameterError: rng='0': need a numpy Generator or an integer seed
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tailguard.errors import ParameterError


def as_generator(rng: np.random.Generator | int) -> np.random.Generator:
    """``rng`` itself when it is a ``numpy.random.Generator``, else a new one seeded with it."""
    if isinstance(rng, bool) or not isinstance(rng, np.random.Generator | int | np.integer):
        raise ParameterError(f"rng={rng!r}: need a numpy Generator or an integer seed")
    return np.random.default_rng(rng)


def text_list(name: str, docs: Sequence[str]) -> list[str]:
    """``docs`` as a list, refusing a bare string or non-string items (named ``name``)."""
    if isinstance(docs, str | bytes) or not all(isinstance(d, str) for d in docs):
        raise ParameterError(f"{name}: need a sequence of strings")
    return list(docs)


def read_only(array: np.ndarray) -> np.ndarray:
    """A contiguous, read-only version of ``array``."""
    array = np.ascontiguousarray(array)
    array.setflags(write=False)
    return array
