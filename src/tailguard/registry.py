"""Named registries for pluggable parts: metrics, policies, families, backends, engines, formats.

Three ways in:

- ``register(name)`` (a decorator) for an object defined in code;
- ``register_lazy(name, module)``: importing ``module`` registers ``name`` (a heavy part costs
  nothing until it is asked for);
- an **entry-point group** (``tailguard.families``, ``tailguard.policy_steps``,
  ``tailguard.metrics``, ``tailguard.ingest_formats``, ``tailguard.export_formats``, ``tailguard.engines``,
  ``tailguard.embedders``): an installed
  distribution declares ``name = "package.module"`` or ``name = "package.module:Object"`` in
  its ``[project.entry-points."tailguard.families"]`` table. The group is read (with
  :mod:`importlib.metadata`) only when a name is not found or the names are listed, and an
  entry is imported only when asked for.

Registering a name again with the same object does nothing. With an *equivalent* object (the
same module and qualified name: a class defined again by a notebook reload, or a module imported
twice) the new object replaces the old with a :class:`RegistryReplacedWarning`. A different
object under a taken name is an error (:class:`~tailguard.errors.RegistryConflictError`).

>>> colours = Registry("colour")
>>> @colours.register("red")
... class Red: ...
>>> colours.get("red").__name__
'Red'
>>> colours.get("rde")
Traceback (most recent call last):
...
tailguard.errors.UnknownChoiceError: Unknown colour 'rde'. Did you mean 'red'? Valid choices: red.
>>> class Blue: ...
>>> colours.register("red")(Blue)
Traceback (most recent call last):
...
tailguard.errors.RegistryConflictError: colour 'red' is already registered as ...Red'>; \
unregister it first or pick another name
>>> colours.unregister("red").__name__, "red" in colours
('Red', False)
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

from tailguard.errors import PluginError, RegistryConflictError, UnknownChoiceError
from tailguard.plugins import note_registration

T = TypeVar("T")


class RegistryReplacedWarning(UserWarning):
    """A name was registered again with an equivalent object (a reload) and now holds the new one."""


def _identity(obj: object) -> tuple[str, str] | None:
    module = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None)
    if not isinstance(module, str) or not isinstance(qualname, str) or "<locals>" in qualname:
        return None
    return module, qualname


def equivalent(a: object, b: object) -> bool:
    """Whether ``b`` is ``a`` defined again: the same object, or the same module and qualified name
    (a class or function defined at module level; locally defined ones are never equivalent)."""
    if a is b:
        return True
    ia = _identity(a)
    return ia is not None and ia == _identity(b)


class Registry(Generic[T]):
    """A name -> object mapping with lazy modules and an optional entry-point group (module docstring)."""

    def __init__(self, kind: str, *, entry_point_group: str | None = None):
        self.kind = kind
        self.entry_point_group = entry_point_group
        self._items: dict[str, T] = {}
        self._lazy: dict[str, str] = {}
        self._entry_points: dict[str, Any] | None = None

    def register(self, name: str) -> Callable[[T], T]:
        def decorator(obj: T) -> T:
            existing = self._items.get(name)
            if existing is not None and existing is not obj:
                if not equivalent(existing, obj):
                    raise RegistryConflictError(
                        f"{self.kind} {name!r} is already registered as {existing!r}; "
                        "unregister it first or pick another name"
                    )
                warnings.warn(
                    f"{self.kind} {name!r} registered again ({_identity(obj)[1]} reloaded?): the new "  # type: ignore[index]
                    "definition replaces the old one",
                    RegistryReplacedWarning,
                    stacklevel=3,
                )
            self._items[name] = obj
            note_registration(obj)  # a plug-in's module is imported again on Ray workers
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

    # -- entry points ---------------------------------------------------------------
    def entry_points(self) -> dict[str, Any]:
        """The group's entry points by name (read once; ``{}`` without a group)."""
        if self._entry_points is None:
            found: dict[str, Any] = {}
            if self.entry_point_group is not None:
                from importlib.metadata import entry_points

                for ep in entry_points(group=self.entry_point_group):
                    found.setdefault(ep.name, ep)
            self._entry_points = found
        return self._entry_points

    def refresh_entry_points(self) -> None:
        """Read the group again on next use (after installing a plug-in in a running process)."""
        self._entry_points = None

    def _load_entry_point(self, name: str) -> None:
        ep = self.entry_points().get(name)
        if ep is None:
            return
        try:
            obj = ep.load()
        except Exception as exc:  # a broken plug-in must not read as "unknown name"
            raise PluginError(
                f"the {self.kind} plug-in {name!r} (entry point {ep.value!r} in group {self.entry_point_group!r}) "
                f"failed to load: {type(exc).__name__}: {exc}"
            ) from exc
        if name not in self._items and not isinstance(obj, type(importlib)):
            self.register(name)(obj)  # an object entry point (module:Object) that did not register itself

    def get(self, name: str) -> T:
        if name not in self._items and name in self._lazy:
            importlib.import_module(self._lazy[name])
        if name not in self._items and self.entry_point_group is not None:
            self._load_entry_point(name)
        try:
            return self._items[name]
        except KeyError:
            raise UnknownChoiceError(self.kind, name, self.names()) from None

    def names(self) -> list[str]:
        return sorted(set(self._items) | set(self._lazy) | set(self.entry_points()))

    def __contains__(self, name: object) -> bool:
        return name in self._items or name in self._lazy or name in self.entry_points()

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())
