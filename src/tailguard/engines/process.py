"""The ``process`` engine: a pool of worker processes on this machine.

Tasks and results travel by pickle, so ``fn`` must be importable (a module-level
function or a picklable callable). Results come back in task order.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

from tailguard.engines.base import Engine, register_engine
from tailguard.errors import EngineError, ParameterError


@register_engine
class ProcessEngine(Engine):
    """A ``concurrent.futures`` process pool of ``workers`` processes (default: the CPU count).

    >>> with ProcessEngine(workers=2) as engine:
    ...     engine.map(abs, [-1, -2, 3])
    [1, 2, 3]
    """

    name = "process"

    def __init__(self, workers: int | None = None):
        if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
            raise ParameterError(f"the process engine's 'workers' must be an int >= 1, got {workers!r}")
        self.workers = workers or os.cpu_count() or 1
        self._pool: Any = None

    def _executor(self) -> Any:
        if self._pool is None:
            from concurrent.futures import ProcessPoolExecutor

            self._pool = ProcessPoolExecutor(max_workers=self.workers)
        return self._pool

    @property
    def parallelism(self) -> int:
        return self.workers

    def start(self) -> None:
        # A forking pool starts all its workers at the first submit; a no-op task makes that now.
        self._executor().submit(int).result()

    def map(self, fn: Callable[[Any], Any], tasks: Iterable[Any],
            on_result: Callable[[int, Any], None] | None = None) -> list[Any]:
        from concurrent.futures import as_completed
        from concurrent.futures.process import BrokenProcessPool

        items = list(tasks)
        if not items:
            return []
        futures = {self._executor().submit(fn, t): i for i, t in enumerate(items)}
        out: list[Any] = [None] * len(items)
        try:
            for fut in as_completed(futures):
                i = futures[fut]
                out[i] = fut.result()
                if on_result is not None:
                    on_result(i, out[i])
        except BrokenProcessPool as exc:
            self.close()
            raise EngineError(f"a worker process died ({exc}); no result of the {len(items)} tasks is returned") from None
        except BaseException:
            for fut in futures:
                fut.cancel()
            raise
        return out

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None
