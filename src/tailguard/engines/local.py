"""The ``local`` engine: everything in this process, in order (the default)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from tailguard.engines.base import Engine, register_engine


@register_engine
class LocalEngine(Engine):
    """Runs every task here, one after the other.

    >>> LocalEngine().map(str, [1, 2])
    ['1', '2']
    """

    name = "local"
    in_process = True

    def map(self, fn: Callable[[Any], Any], tasks: Iterable[Any],
            on_result: Callable[[int, Any], None] | None = None) -> list[Any]:
        out = []
        for i, task in enumerate(tasks):
            out.append(fn(task))
            if on_result is not None:
                on_result(i, out[-1])
        return out
