"""The ``ray`` engine: Ray Core tasks, on a cluster it joins or a local one it starts.

``address`` (or ``$RAY_ADDRESS``) joins an existing cluster; without one a local
cluster starts with ``num_cpus`` CPUs. Ray is imported only when this engine is
built; without the ``ray`` extra that is a one-line
:class:`~tailguard.errors.MissingDependencyError` naming the install command.
Each task is one ``ray.remote`` call; accumulators come back to the driver and are
merged there, in shard order.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

from tailguard.dependencies import require
from tailguard.engines.base import Engine, register_engine


@register_engine
class RayEngine(Engine):
    """Runs each task as a Ray task (see the module docstring)."""

    name = "ray"

    def __init__(self, address: str | None = None, num_cpus: int | None = None):
        self._ray = require("ray", extra="ray", feature="the ray engine")
        self.address = address or os.environ.get("RAY_ADDRESS")
        self._started = False
        if not self._ray.is_initialized():
            if self.address:
                self._ray.init(address=self.address, logging_level="ERROR", log_to_driver=False)
            else:
                self._ray.init(num_cpus=num_cpus, include_dashboard=False, logging_level="ERROR",
                               log_to_driver=False)
            self._started = True
        self._remote = self._ray.remote(_call)

    def map(self, fn: Callable[[Any], Any], tasks: Iterable[Any]) -> list[Any]:
        items = list(tasks)
        if not items:
            return []
        fn_ref = self._ray.put(fn)  # shipped once, not with every task
        return list(self._ray.get([self._remote.remote(fn_ref, t) for t in items]))

    def close(self) -> None:
        if self._started and self._ray.is_initialized():
            self._ray.shutdown()
            self._started = False


def _call(fn: Callable[[Any], Any], task: Any) -> Any:
    return fn(task)
