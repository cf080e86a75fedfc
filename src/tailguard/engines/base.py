"""The engine protocol: where shards of work run, and the ``engine`` registry.

An engine does two things:

* ``map(fn, tasks, on_result=None)``: ``[fn(t) for t in tasks]``, in task order, wherever
  it runs them; ``on_result(i, result)`` is called as each task finishes (progress bars);
* ``map_reduce(make_accumulator, shards, feed=...)``: one fresh accumulator per shard,
  fed that shard (``feed(acc, shard)``, by default ``acc.update(shard)``), then merged in
  shard order with ``merge``. tailguard's metrics are mergeable accumulators
  (``merge(A, B) == update(A ∪ B)``, tested for every metric), so the result does not
  depend on the engine, only on the data.

Engines are chosen by name: ``get_engine("process")``, or ``TAILGUARD_ENGINE`` when no
name is given (default ``local``). A new engine is one module with a class registered by
:func:`register_engine`.

>>> engine = get_engine("local")
>>> engine.map(abs, [-1, 2, -3])
[1, 2, 3]
>>> class Total:
...     def __init__(self): self.n = 0
...     def update(self, shard): self.n += sum(shard); return self
...     def merge(self, other): self.n += other.n; return self
>>> engine.map_reduce(Total, [[1, 2], [3], [4, 5]]).n
15
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, ClassVar, Protocol, TypeVar

from tailguard.errors import EmptyDatasetError
from tailguard.registry import Registry

A = TypeVar("A")
S = TypeVar("S")
T = TypeVar("T")

#: Environment variable naming the default engine.
ENV = "TAILGUARD_ENGINE"


class Mergeable(Protocol):
    def merge(self, other: Any) -> Any: ...


def default_feed(acc: Any, shard: Any) -> Any:
    """``acc.update(shard)``: how a metric accumulator takes a batch."""
    return acc.update(shard)


def feed_with_reference(acc: Any, shard: Any) -> Any:
    """For a metric that needs a reference: a shard is ``(candidate_batch, reference_batch)``; either may be None."""
    candidate, reference = shard
    if candidate is not None:
        acc = acc.update(candidate)
    if reference is not None:
        acc = acc.update_reference(reference)
    return acc


class Engine:
    """Base class: subclasses implement :meth:`map`; :meth:`map_reduce` is built on it."""

    name: ClassVar[str] = ""
    #: Runs every task in the caller's process, one after the other (nothing to overlap with).
    in_process: ClassVar[bool] = False

    @property
    def parallelism(self) -> int:
        """How many tasks run at once (a caller splits work into about this many parts)."""
        return 1

    def start(self) -> None:
        """Start the engine's workers now rather than at the first :meth:`map` (a no-op by default).

        A caller about to allocate large arrays calls it first: workers forked afterwards would
        keep the driver's freed or rewritten pages alive, copy-on-write."""

    def map(self, fn: Callable[[T], Any], tasks: Iterable[T],
            on_result: Callable[[int, Any], None] | None = None) -> list[Any]:
        """``[fn(t) for t in tasks]`` in task order; ``on_result(i, result)`` as each finishes.
        A task that raises makes the whole call raise: a partial list is never returned."""
        raise NotImplementedError

    def map_reduce(self, make_accumulator: Callable[[], A], shards: Iterable[S],
                   feed: Callable[[A, S], A] = default_feed) -> A:
        """Feed each shard to its own accumulator (through :meth:`map`), then merge them in shard order."""
        parts = self.map(_Fed(make_accumulator, feed), shards)
        if not parts:
            raise EmptyDatasetError("map_reduce was given no shards")
        out = parts[0]
        for part in parts[1:]:
            out = out.merge(part)
        return out

    def close(self) -> None:
        """Release what the engine holds (worker processes, a cluster connection)."""

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _Fed:
    """``shard -> feed(make_accumulator(), shard)``: a picklable callable for process and Ray workers."""

    def __init__(self, make_accumulator: Callable[[], Any], feed: Callable[[Any, Any], Any]):
        self.make_accumulator = make_accumulator
        self.feed = feed

    def __call__(self, shard: Any) -> Any:
        return self.feed(self.make_accumulator(), shard)


ENGINES: Registry[type[Engine]] = Registry("engine", entry_point_group="tailguard.engines")


def register_engine(cls: type[Engine]) -> type[Engine]:
    """Class decorator: add an engine to :data:`ENGINES` under its ``name``."""
    return ENGINES.register(cls.name)(cls)


def get_engine(name: str | None = None, **options: Any) -> Engine:
    """The engine called ``name`` (else ``$TAILGUARD_ENGINE``, else ``local``), built with ``options``.

    An unknown name raises :class:`~tailguard.errors.UnknownChoiceError` with the nearest names.
    """
    import tailguard.engines  # noqa: F401  (registers the built-in engines)

    chosen = name or os.environ.get(ENV) or "local"
    return ENGINES.get(chosen)(**options)


_CURRENT: ContextVar[Engine | None] = ContextVar("tailguard_engine", default=None)


@contextmanager
def use_engine(engine: Engine) -> Iterator[Engine]:
    """Make ``engine`` the one :func:`current_engine` returns inside the block, so code deep in a
    pipeline (the filter policy's cross-fitted folds) runs on it without every layer passing it.

    >>> with use_engine(get_engine("local")) as e:
    ...     current_engine() is e
    True
    """
    token = _CURRENT.set(engine)
    try:
        yield engine
    finally:
        _CURRENT.reset(token)


def current_engine() -> Engine:
    """The engine of the innermost :func:`use_engine` block, else a ``local`` one (never ``$TAILGUARD_ENGINE``
    here: starting a pool or a cluster is the caller's choice, made once)."""
    engine = _CURRENT.get()
    if engine is not None:
        return engine
    import tailguard.engines.local  # noqa: F401

    return ENGINES.get("local")()


def resolve_engine(spec: Engine | str | None) -> tuple[Engine, bool]:
    """``(engine, built_here)`` for a library call's ``engine=`` argument: an engine as given; ``None``
    inside a :func:`use_engine` block, that block's engine; else :func:`get_engine` of the name (the caller
    closes what was built here).

    >>> engine, built = resolve_engine("local")
    >>> engine.name, built
    ('local', True)
    """
    if isinstance(spec, Engine):
        return spec, False
    if spec is None and _CURRENT.get() is not None:
        return _CURRENT.get(), False  # type: ignore[return-value]
    return get_engine(spec), True
