"""Named registries for pluggable parts: metrics, policies, families, backends, engines.

>>> colours = Registry("colour")
>>> @colours.register("red")
... class Red: ...
>>> colours.get("red").__name__
'Red'
>>> colours.get("rde")
Traceback (most recent call last):
...
tailguard.errors.UnknownChoiceError: Unknown colour 'rde'. Did you mean 'red'? Valid choices: red.
>>> colours.unregister("red").__name__, "red" in colours
('Red', False)
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from tailguard.errors import LedgerError, UnknownChoiceError

T = TypeVar("T")


class Registry(Generic[T]):
    """A name -> object mapping. ``lazy`` entries name a module to import on first use,
    so registering a heavy component (e.g. the YOLO family) costs nothing until it is asked for."""

    def __init__(self, kind: str):
        self.kind = kind
        self._items: dict[str, T] = {}
        self._lazy: dict[str, str] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def decorator(obj: T) -> T:
            existing = self._items.get(name)
            if existing is not None and existing is not obj:
                raise LedgerError(f"{self.kind} {name!r} is already registered as {existing!r}")
            self._items[name] = obj
            return obj

        return decorator

    def unregister(self, name: str) -> T:
        """Remove ``name`` (a plug-in a test or notebook registered) and return what it held."""
        if name not in self._items:
            raise UnknownChoiceError(self.kind, name, self.names())
        self._lazy.pop(name, None)
        return self._items.pop(name)

    def register_lazy(self, name: str, module: str) -> None:
        """Declare that importing ``module`` registers ``name``."""
        self._lazy[name] = module

    def get(self, name: str) -> T:
        if name not in self._items and name in self._lazy:
            importlib.import_module(self._lazy[name])
        try:
            return self._items[name]
        except KeyError:
            raise UnknownChoiceError(self.kind, name, self.names()) from None

    def names(self) -> list[str]:
        return sorted(set(self._items) | set(self._lazy))

    def __contains__(self, name: object) -> bool:
        return name in self._items or name in self._lazy

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())
