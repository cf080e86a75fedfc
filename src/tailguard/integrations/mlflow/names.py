"""MLflow-safe names and parameter values (no MLflow import: pure string work).

MLflow accepts metric, param and tag keys made of ``[A-Za-z0-9_-. /]`` (plus ``:`` off Windows),
at most 250 characters, that a path normaliser leaves unchanged (no ``//``, no leading ``/``, no
``.``/``..`` segment). :func:`mlflow_key` maps any name onto that set, keeping it readable;
:func:`unique_keys` keeps distinct names distinct after the mapping, and no key a folder of another
(MLflow's file store writes ``a/b`` as a file in folder ``a``).
Param values are strings of at most 6000 characters: :func:`flatten_params` writes nested
configs as dotted keys, and :func:`param_value` JSON-encodes non-strings and marks a cut value.

>>> mlflow_key("tail_mass_ratio_0.01#2"), mlflow_key("recall/class 7"), mlflow_key("ρ:x//../y")
('tail_mass_ratio_0.01_2', 'recall/class 7', '__x/__/y')
>>> unique_keys(["a#1", "a:1", "b", "b/c"])
{'a#1': 'a_1', 'a:1': 'a_1_2', 'b': 'b', 'b/c': 'b_c'}
>>> flatten_params({"quick": True, "metrics": ["tails"], "knn": {"k": 5}}, prefix="config.")
{'config.quick': 'true', 'config.metrics': '["tails"]', 'config.knn.k': '5'}
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

#: MLflow's longest key (metric, param and tag names)
MAX_KEY_LENGTH = 250
#: MLflow's longest param value
MAX_PARAM_LENGTH = 6000
#: What a param value cut to :data:`MAX_PARAM_LENGTH` ends with
CUT_MARK = "...(cut; see report.json)"

_BAD = re.compile(r"[^A-Za-z0-9_\-. /]")


def mlflow_key(name: str) -> str:
    """``name`` with every character outside ``[A-Za-z0-9_-. /]`` replaced by ``_``, empty, ``.`` and
    ``..`` path segments removed or replaced, cut to :data:`MAX_KEY_LENGTH` (never empty)."""
    parts = []
    for part in _BAD.sub("_", str(name)).split("/"):
        if not part:
            continue
        parts.append("_" * len(part) if part in (".", "..") else part)
    key = "/".join(parts)[:MAX_KEY_LENGTH].rstrip("/")
    return key or "_"


def unique_keys(names: Iterable[str]) -> dict[str, str]:
    """Each distinct name's :func:`mlflow_key`, made unique in first-seen order.

    MLflow's file store keeps a key as a file path, so no key may also be a folder of another
    (``a`` beside ``a/b``). A key that clashes with an earlier one has its slashes turned into ``_``
    and, while it still clashes, ``_2``, ``_3``... appended.
    """
    out: dict[str, str] = {}
    leaves: set[str] = set()
    folders: set[str] = set()

    def free(key: str) -> bool:
        parts = key.split("/")
        return key not in leaves and key not in folders and not any(
            "/".join(parts[:i]) in leaves for i in range(1, len(parts)))

    for name in names:
        if name in out:
            continue
        key = mlflow_key(name)
        if not free(key):
            base = key = key.replace("/", "_")
            n = 1
            while not free(key):
                n += 1
                suffix = f"_{n}"
                key = base[: MAX_KEY_LENGTH - len(suffix)] + suffix
        parts = key.split("/")
        folders.update("/".join(parts[:i]) for i in range(1, len(parts)))
        leaves.add(key)
        out[name] = key
    return out


def param_value(value: Any) -> str:
    """A param value: strings as they are, anything else as JSON; cut to :data:`MAX_PARAM_LENGTH`.

    >>> param_value("replace"), param_value(None), param_value(0.5), len(param_value("x" * 7000))
    ('replace', 'null', '0.5', 6000)
    """
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    if len(text) > MAX_PARAM_LENGTH:
        text = text[: MAX_PARAM_LENGTH - len(CUT_MARK)] + CUT_MARK
    return text


def flatten_params(mapping: Mapping[str, Any], *, prefix: str = "") -> dict[str, str]:
    """Nested mappings as dotted keys (``prefix`` + ``a.b``), leaves through :func:`param_value`.
    An empty mapping is kept as ``"{}"`` so that its key still shows."""
    out: dict[str, str] = {}
    for key, value in mapping.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping) and value:
            out.update(flatten_params(value, prefix=f"{name}."))
        else:
            out[name] = param_value(value)
    return out
