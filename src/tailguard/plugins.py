"""Plug-ins: modules that register families, policy steps, metrics, engines or embedders.

A plug-in is an ordinary module whose import registers its parts (``@register_family``,
``@register_step``, ``METRICS.register(...)``). Two ways to load one:

- ``tailguard --plugin MODULE ...`` (repeatable) or :func:`load_plugin`: imports ``MODULE``
  (a dotted module name on ``sys.path``, or the path of a ``.py`` file) before the command runs;
- an installed distribution's entry points (group ``tailguard.families``,
  ``tailguard.policy_steps``, ``tailguard.metrics``, ``tailguard.engines`` or
  ``tailguard.embedders``), imported lazily the first time one of its names is asked for
  (:mod:`tailguard.registry`).

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
from collections.abc import Iterable
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
}


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
        module_spec = importlib.util.spec_from_file_location(name, path)
        if module_spec is None or module_spec.loader is None:
            raise PluginError("cannot load this file as a Python module", path=str(path))
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[name] = module
        try:
            module_spec.loader.exec_module(module)
        except Exception as exc:  # the plug-in's own error, named in one line
            sys.modules.pop(name, None)
            raise PluginError(f"the plug-in failed to import: {type(exc).__name__}: {exc}", path=str(path)) from exc
        return module
    try:
        return importlib.import_module(text)
    except Exception as exc:  # ModuleNotFoundError or the plug-in's own error
        raise PluginError(f"cannot import plug-in module {text!r}: {type(exc).__name__}: {exc}") from exc


def load_plugins(specs: Iterable[str]) -> list[ModuleType]:
    """:func:`load_plugin` for each spec, in order."""
    return [load_plugin(s) for s in specs]
