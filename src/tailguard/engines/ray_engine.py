"""The ``ray`` engine: Ray Core tasks, on a cluster it joins or a local one it starts.

``address`` (or ``$RAY_ADDRESS``) joins an existing cluster; without one a local
cluster starts with ``num_cpus`` CPUs. Ray is imported only when this engine is
built; without the ``ray`` extra that is a one-line
:class:`~tailguard.errors.MissingDependencyError` naming the install command.
Each task is one ``ray.remote`` call; accumulators come back to the driver and are
merged there, in shard order.

Plug-ins (:mod:`tailguard.plugins`) travel with the tasks: a Ray worker is a fresh process, so
when the driver has loaded plug-in modules (``--plugin``, :func:`~tailguard.plugins.load_plugin`,
or a module that registered a family, step, metric or format), each task first imports them
(:func:`~tailguard.plugins.ensure_plugins`; a file by its path, a module with its folder on
``sys.path``) and only then unpickles its function and data, which may name the plug-in's classes.

A task whose worker dies (killed, out of memory) is retried by Ray up to
``max_retries`` times (default 3); past that the whole map raises
:class:`~tailguard.errors.EngineError` naming the task, and no partial result is
returned. An exception raised by the task's own code is re-raised as itself.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Iterable
from typing import Any

from tailguard.dependencies import require
from tailguard.engines.base import Engine, register_engine
from tailguard.errors import EngineError


@register_engine
class RayEngine(Engine):
    """Runs each task as a Ray task (see the module docstring)."""

    name = "ray"

    def __init__(self, address: str | None = None, num_cpus: int | None = None, max_retries: int = 3):
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
        self.max_retries = max_retries
        self._remote = self._ray.remote(max_retries=max_retries, retry_exceptions=False)(_call)
        self._remote_with_plugins = self._ray.remote(max_retries=max_retries, retry_exceptions=False)(
            _call_with_plugins)

    @property
    def parallelism(self) -> int:
        """The cluster's CPUs."""
        return max(int(self._ray.cluster_resources().get("CPU", 1)), 1)

    def map(self, fn: Callable[[Any], Any], tasks: Iterable[Any],
            on_result: Callable[[int, Any], None] | None = None) -> list[Any]:
        ray = self._ray
        items = list(tasks)
        if not items:
            return []
        from tailguard.plugins import loaded_plugins

        fn_ref = ray.put(fn)  # shipped once, not with every task
        plugins = loaded_plugins()
        if plugins:  # refs inside a list are not resolved by Ray: the task imports the plug-ins, then gets them
            refs = [self._remote_with_plugins.remote(plugins, [fn_ref, ray.put(t)]) for t in items]
        else:
            refs = [self._remote.remote(fn_ref, t) for t in items]
        index = {ref: i for i, ref in enumerate(refs)}
        out: list[Any] = [None] * len(items)
        pending = list(refs)
        try:
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                i = index[done[0]]
                out[i] = self._get(done[0], i, len(items))
                if on_result is not None:
                    on_result(i, out[i])
        except BaseException:
            for ref in pending:
                ray.cancel(ref, force=True)
            raise
        return out

    def _get(self, ref: Any, i: int, n: int) -> Any:
        from ray import exceptions as rex

        try:
            # Arrays come out of Ray's object store read-only (zero copy); accumulators are merged in
            # place, so each result is copied out once.
            return copy.deepcopy(self._ray.get(ref))
        except rex.RayTaskError as exc:  # the task's own code raised: re-raise that exception
            cause = exc.as_instanceof_cause()
            raise (getattr(cause, "cause", None) or cause) from None
        except rex.RayError as exc:
            raise EngineError(f"task {i + 1} of {n} was lost on Ray after {self.max_retries} retries "
                              f"({type(exc).__name__}); no partial result is returned") from None

    def close(self) -> None:
        if self._started and self._ray.is_initialized():
            self._ray.shutdown()
            self._started = False


def _call(fn: Callable[[Any], Any], task: Any) -> Any:
    return fn(task)


def _call_with_plugins(plugins: Any, refs: list[Any]) -> Any:
    """Import the driver's plug-ins in this worker, then fetch (unpickle) the function and the task and run it."""
    import ray

    from tailguard.plugins import ensure_plugins

    ensure_plugins(plugins)
    fn, task = ray.get(refs)
    return fn(task)
