"""Plug-ins: modules that register families, policy steps, metrics, ingest or export formats, engines, embedders.

A plug-in is an ordinary module whose import registers its parts (``@register_family``,
``@register_step``, ``METRICS.register(...)``). Two ways to load one:

- ``tailguard --plugin MODULE ...`` (repeatable) or :func:`load_plugin`: imports ``MODULE``
  (a dotted module name on ``sys.path``, or the path of a ``.py`` file) before the command runs;
- an installed distribution's entry points (group ``tailguard.families``,
  ``tailguard.policy_steps``, ``tailguard.metrics``, ``tailguard.ingest_formats``,
  ``tailguard.export_formats``, ``tailguard.engines`` or ``tailguard.embedders``), imported lazily
  the first time one of its names is asked for (:mod:`tailguard.registry`).

**Workers.** A forked ``process`` worker inherits the driver's modules; a Ray worker is a fresh
process. :func:`loaded_plugins` lists what the driver loaded (each module loaded by
:func:`load_plugin`, and each module outside tailguard that registered a part, e.g. by a plain
``import``), with where it came from; the ``ray`` engine sends that list with every task and
:func:`ensure_plugins` imports them in the worker before the task's function and data are
unpickled there. A module loaded with :func:`load_plugin` that cannot be imported on a worker is
a :class:`~tailguard.errors.PluginError` naming it; one that only registered a part is imported
when it can be (a test module may not be importable there).

>>> load_plugin("json").__name__
'json'
>>> load_plugin("no_such_tailguard_plugin")
Traceback (most recent call last):
...
tailguard.errors.PluginError: cannot import plug-in module 'no_such_tailguard_plugin': \
ModuleNotFoundError: No module named 'no_such_tailguard_plugin'
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from tailguard.errors import PluginError

#: entry-point groups, by what they register
ENTRY_POINT_GROUPS = {
    "family": "tailguard.families",
    "policy step": "tailguard.policy_steps",
    "metric": "tailguard.metrics",
    "engine": "tailguard.engines",
    "embedder": "tailguard.embedders",
    "ingest format": "tailguard.ingest_formats",
    "export format": "tailguard.export_formats",
}


@dataclass(frozen=True)
class PluginSource:
    """Where a loaded plug-in module came from, so that another process can import it the same way.

    ``file``: the ``.py`` file it was loaded from (:func:`load_plugin` of a path), else ``None``;
    ``root``: the ``sys.path`` folder a module name was found under (``None``: not known);
    ``required``: loaded on purpose (``--plugin``, :func:`load_plugin`), so failing to import it on
    a worker is an error.
    """

    module: str
    file: str | None = None
    root: str | None = None
    required: bool = True


_LOADED: dict[str, PluginSource] = {}  # by module name, in load order
_REGISTERED_FROM: dict[str, None] = {}  # modules outside tailguard whose objects a registry holds


def note_registration(obj: object) -> None:
    """Remember the module of an object a registry just took, when it is a plug-in's (outside
    ``tailguard``, not ``__main__``): :func:`loaded_plugins` lists it for workers."""
    module = getattr(obj, "__module__", None)
    if isinstance(module, str) and module != "__main__" and module.split(".")[0] != "tailguard":
        _REGISTERED_FROM.setdefault(module)


def _root_of(module: ModuleType) -> str | None:
    """The ``sys.path`` folder ``module`` was imported from (``a/b/pkg/mod.py`` for ``pkg.mod``: ``a/b``)."""
    file = getattr(module, "__file__", None)
    if not file:
        return None
    where = Path(file).resolve().parent
    depth = module.__name__.count(".") + (1 if Path(file).name == "__init__.py" else 0)
    for _ in range(depth):
        where = where.parent
    return str(where)


def loaded_plugins() -> tuple[PluginSource, ...]:
    """The plug-in modules this process loaded, in load order (see the module docstring).

    >>> import json
    >>> _ = load_plugin("json")
    >>> [s.module for s in loaded_plugins() if s.module == "json"]
    ['json']
    """
    out = {name: source for name, source in _LOADED.items() if name in sys.modules}  # not one dropped since
    for name in _REGISTERED_FROM:
        module = sys.modules.get(name)
        if name not in out and module is not None and getattr(module, "__file__", None):
            out[name] = PluginSource(name, root=_root_of(module), required=False)
    return tuple(out.values())


def ensure_plugins(sources: Sequence[PluginSource]) -> None:
    """Import each plug-in of ``sources`` that this process does not have yet (a Ray worker's side of
    :func:`loaded_plugins`): a file by its path, a module name with its ``root`` on ``sys.path``."""
    for source in sources:
        if source.module in sys.modules:
            continue
        if source.root and source.root not in sys.path:
            sys.path.append(source.root)
        try:
            load_plugin(source.file or source.module)
        except PluginError as exc:
            if source.required:
                raise PluginError(f"on a worker ({_host()}): {exc.message}", path=exc.path) from exc


def _host() -> str:
    import os
    import socket

    return f"{socket.gethostname()} pid {os.getpid()}"


def load_plugin(spec: str) -> ModuleType:
    """Import the plug-in ``spec`` (a module name, or a ``.py`` file) and return the module.

    A file is imported under its stem as module name (``plugins/laplace.py`` -> ``laplace``),
    once: loading it again returns the module already imported from that file.
    """
    text = str(spec).strip()
    if not text:
        raise PluginError("--plugin needs a module name or a .py file. Got an empty string.")
    path = Path(text)
    if text.endswith(".py"):
        if not path.is_file():
            raise PluginError("no such plug-in file", path=str(path))
        name = path.stem
        loaded = sys.modules.get(name)
        if loaded is not None and Path(getattr(loaded, "__file__", "") or "").resolve() == path.resolve():
            return loaded
        module_spec = importlib.util.spec_from_file_location(name, path.resolve())
        if module_spec is None or module_spec.loader is None:
            raise PluginError("cannot load this file as a Python module", path=str(path))
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[name] = module
        try:
            module_spec.loader.exec_module(module)
        except Exception as exc:  # the plug-in's own error, named in one line
            sys.modules.pop(name, None)
            raise PluginError(f"the plug-in failed to import: {type(exc).__name__}: {exc}", path=str(path)) from exc
        _LOADED.setdefault(name, PluginSource(name, file=str(path.resolve())))
        return module
    try:
        module = importlib.import_module(text)
    except Exception as exc:  # ModuleNotFoundError or the plug-in's own error
        raise PluginError(f"cannot import plug-in module {text!r}: {type(exc).__name__}: {exc}") from exc
    _LOADED.setdefault(module.__name__, PluginSource(module.__name__, root=_root_of(module)))
    return module


def load_plugins(specs: Iterable[str]) -> list[ModuleType]:
    """:func:`load_plugin` for each spec, in order."""
    return [load_plugin(s) for s in specs]
