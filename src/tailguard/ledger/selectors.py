"""Version selectors: ``version:NAME``, ``origin:human``, ``generation:<=2``, ``source:PATH``.

Selectors with the same key are OR'ed, different keys are AND'ed. Human samples
have generation 0. :func:`tailguard.ledger.manifest.selection` turns them into SQL.

>>> parse_selector("generation:<=2")
Selector(key='generation', op='<=', value='2')
>>> parse_selector("origin:human")
Selector(key='origin', op='=', value='human')
>>> parse_selector("zzz:1")
Traceback (most recent call last):
...
tailguard.errors.UnknownChoiceError: Unknown selector 'zzz'. Valid choices: generation, origin, source, version.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tailguard.errors import BadInputError, UnknownChoiceError
from tailguard.ledger.types import ORIGINS

KEYS = ("version", "origin", "generation", "source")
_OPS = ("<=", ">=", "!=", "<", ">", "=")


@dataclass(frozen=True)
class Selector:
    key: str
    op: str
    value: str


def parse_selector(text: str) -> Selector:
    """Parse one ``key:value`` selector; typed errors name the selector."""
    key, sep, value = text.partition(":")
    if not sep:
        raise BadInputError(
            f"selector {text!r} must look like key:value (keys: {', '.join(KEYS)}), e.g. origin:human"
        )
    key = key.strip()
    if key not in KEYS:
        raise UnknownChoiceError("selector", key, KEYS)
    value = value.strip()
    op = "="
    if key == "generation":
        for candidate in _OPS:
            if value.startswith(candidate):
                op, value = candidate, value[len(candidate) :].strip()
                break
        if op == "=" and value.startswith("=="):
            value = value[2:]
        if not re.fullmatch(r"-?\d+", value):
            raise BadInputError(f"selector {text!r}: generation must be compared with an integer, e.g. generation:<=2")
    elif key == "origin" and value not in ORIGINS:
        raise UnknownChoiceError("origin", value, ORIGINS)
    if not value:
        raise BadInputError(f"selector {text!r} has an empty value")
    return Selector(key, op, value)


def escape_like(value: str) -> str:
    """``value`` with LIKE wildcards escaped (backslash is the escape character)."""
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
