"""Lazy import of optional dependencies with an exact install hint.

>>> mod = require("json", extra="dev")
>>> mod.__name__
'json'
"""

from __future__ import annotations

import importlib
from types import ModuleType

from tailguard.errors import MissingDependencyError


def require(module: str, *, extra: str, feature: str | None = None) -> ModuleType:
    """Import ``module`` or raise :class:`MissingDependencyError` naming ``pip install 'tailguard[extra]'``."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        what = feature or module
        raise MissingDependencyError(
            f"{what} needs the optional dependency {module!r} ({exc}). "
            f"Install it with: pip install 'tailguard[{extra}]'"
        ) from exc


def is_available(module: str) -> bool:
    """True when ``module`` can be imported (without importing it twice)."""
    import importlib.util

    return importlib.util.find_spec(module) is not None
