"""How the ledger stamps, serialises and batches what it writes.

>>> dumps({"b": 1, "a": [1, 2]})
'{"a":[1,2],"b":1}'
>>> [list(c) for c in chunks([1, 2, 3], 2)]
[[1, 2], [3]]
"""

from __future__ import annotations

import datetime as dt
import json
import json.encoder
from collections.abc import Iterator, Sequence
from typing import Any

IN_CHUNK = 5_000  # ids per IN (...) list: large enough to amortise, small enough for every driver

_ENCODER = json.JSONEncoder(sort_keys=True, default=str, separators=(",", ":"))
# the same encoder's C core, made once: ``JSONEncoder.encode`` builds it again for every call
_C_ENCODE = (json.encoder.c_make_encoder(None, str, json.encoder.encode_basestring_ascii, None, ":", ",", True,
                                         False, True)
             if json.encoder.c_make_encoder is not None else None)


def now() -> dt.datetime:
    """The current UTC time, naive (how the schema's DateTime columns hold it)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class Clock:
    """:func:`now` refreshed once per 1000 calls: bulk ingest stamps rows without a syscall each."""

    def __init__(self) -> None:
        self._value = now()
        self._calls = 0

    def __call__(self) -> dt.datetime:
        self._calls += 1
        if self._calls % 1000 == 0:
            self._value = now()
        return self._value


clock = Clock()


def aware(value: dt.datetime | None) -> dt.datetime | None:
    """A stored (naive UTC) time as an aware datetime."""
    if value is None:
        return None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value


def dumps(value: Any) -> str:
    """Canonical JSON (sorted keys, no spaces) of what the ledger stores as text.

    >>> dumps({"t": 1.5, "n": None, "x": [True, "a"], "z": float("nan")})
    '{"n":null,"t":1.5,"x":[true,"a"],"z":NaN}'
    """
    if _C_ENCODE is not None:
        try:
            return "".join(_C_ENCODE(value, 0))
        except RecursionError:  # a reference cycle: the full encoder says so
            pass
    return _ENCODER.encode(value)


def chunks(seq: Sequence[Any], size: int = IN_CHUNK) -> Iterator[Sequence[Any]]:
    """``seq`` in slices of ``size``."""
    for start in range(0, len(seq), size):
        yield seq[start : start + size]
