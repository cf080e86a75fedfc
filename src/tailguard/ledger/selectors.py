"""Version selectors: ``version:NAME``, ``origin:human``, ``generation:<=2``, ``source:PATH``.

Selectors with the same key are OR'ed, different keys are AND'ed. Human samples
have generation 0.

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
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, false, or_, select

from tailguard.errors import BadInputError, UnknownChoiceError
from tailguard.ledger import schema
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


def _escape_like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def selector_clause(
    selectors: Sequence[str], version_id_of: Callable[[str], int]
) -> ColumnElement[bool] | None:
    """A WHERE clause over ``samples`` for the selectors (None when there are none)."""
    s = schema.samples
    vm = schema.version_members
    groups: dict[str, list[ColumnElement[bool]]] = {}
    for text in selectors:
        sel = parse_selector(text)
        if sel.key == "version":
            vid = version_id_of(sel.value)
            clause = s.c.id.in_(select(vm.c.sample_id).where(vm.c.version_id == vid))
        elif sel.key == "origin":
            clause = s.c.origin == sel.value
        elif sel.key == "source":
            clause = s.c.source.like(_escape_like(sel.value) + "%", escape="\\")
        else:
            n = int(sel.value)
            col = s.c.generation
            clause = {
                "<=": col <= n,
                ">=": col >= n,
                "<": col < n,
                ">": col > n,
                "=": col == n,
                "!=": col != n,
            }[sel.op]
        groups.setdefault(sel.key, []).append(clause)
    if not groups:
        return None
    parts = [or_(*clauses) if clauses else false() for clauses in groups.values()]
    return and_(*parts)
