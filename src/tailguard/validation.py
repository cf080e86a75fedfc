"""Parameter validation from one table per class.

Configs and metrics declare their parameters once, as a mapping from name to a
:class:`Constraint`; :func:`validate_params` checks a whole dict against it and
produces messages in one pattern:

>>> table = {"k": Int(min=1)}
>>> validate_params("CoverageMetric", {"k": 5}, table)
{'k': 5}
>>> validate_params("CoverageMetric", {"k": 0}, table)
Traceback (most recent call last):
...
tailguard.errors.ParameterError: The 'k' parameter of CoverageMetric must be an int >= 1. Got 0.
>>> validate_params("CoverageMetric", {"kk": 5}, table)
Traceback (most recent call last):
...
tailguard.errors.UnknownChoiceError: Unknown parameter of CoverageMetric 'kk'. Did you mean 'k'? Valid choices: k.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from tailguard.errors import ParameterError, UnknownChoiceError


@dataclass(frozen=True)
class Constraint:
    """A named check: ``description`` completes "must be ..."."""

    description: str
    check: Callable[[Any], bool]
    optional: bool = False

    def accepts(self, value: Any) -> bool:
        if value is None and self.optional:
            return True
        try:
            return bool(self.check(value))
        except (TypeError, ValueError):
            return False


def _range_text(kind: str, lo: float | None, hi: float | None, lo_open: bool, hi_open: bool) -> str:
    parts = []
    if lo is not None:
        parts.append(f"{'>' if lo_open else '>='} {lo}")
    if hi is not None:
        parts.append(f"{'<' if hi_open else '<='} {hi}")
    return f"{kind} " + " and ".join(parts) if parts else kind


def _in_range(v: float, lo: float | None, hi: float | None, lo_open: bool, hi_open: bool) -> bool:
    if lo is not None and (v <= lo if lo_open else v < lo):
        return False
    return not (hi is not None and (v >= hi if hi_open else v > hi))


def Int(min: int | None = None, max: int | None = None, *, optional: bool = False) -> Constraint:
    """An int (not a bool) in ``[min, max]``."""

    def check(v: Any) -> bool:
        return isinstance(v, numbers.Integral) and not isinstance(v, bool) and _in_range(v, min, max, False, False)

    return Constraint(_range_text("an int", min, max, False, False), check, optional)


def Float(
    min: float | None = None,
    max: float | None = None,
    *,
    min_open: bool = False,
    max_open: bool = False,
    optional: bool = False,
) -> Constraint:
    """A finite real number in the given range (ints are accepted)."""

    def check(v: Any) -> bool:
        return (
            isinstance(v, numbers.Real)
            and not isinstance(v, bool)
            and math.isfinite(float(v))
            and _in_range(float(v), min, max, min_open, max_open)
        )

    return Constraint(_range_text("a float", min, max, min_open, max_open), check, optional)


def Bool(*, optional: bool = False) -> Constraint:
    return Constraint("a bool", lambda v: isinstance(v, bool), optional)


def OneOf(choices: Iterable[Any], *, optional: bool = False) -> Constraint:
    allowed = tuple(choices)
    return Constraint(f"one of {', '.join(repr(c) for c in allowed)}", lambda v: v in allowed, optional)


def Str(*, optional: bool = False) -> Constraint:
    return Constraint("a non-empty str", lambda v: isinstance(v, str) and bool(v), optional)


def FloatTuple(min: float | None = None, max: float | None = None, *, optional: bool = False) -> Constraint:
    """A non-empty sequence of floats, each in ``[min, max]`` (exclusive bounds)."""

    def check(v: Any) -> bool:
        return (
            isinstance(v, list | tuple)
            and len(v) > 0
            and all(
                isinstance(x, numbers.Real) and not isinstance(x, bool) and _in_range(float(x), min, max, True, True)
                for x in v
            )
        )

    return Constraint(f"a non-empty list of floats, {_range_text('each', min, max, True, True)[5:]}", check, optional)


def Custom(description: str, check: Callable[[Any], bool], *, optional: bool = False) -> Constraint:
    return Constraint(description, check, optional)


def validate_params(owner: str, params: Mapping[str, Any], table: Mapping[str, Constraint]) -> dict[str, Any]:
    """Check every key of ``params`` against ``table``; return a plain dict copy.

    Raises :class:`UnknownChoiceError` (with did-you-mean) for unknown keys and
    :class:`ParameterError` for values that break their constraint.
    """
    for key in params:
        if key not in table:
            raise UnknownChoiceError(f"parameter of {owner}", key, table)
    for key, value in params.items():
        constraint = table[key]
        if not constraint.accepts(value):
            raise ParameterError(
                f"The {key!r} parameter of {owner} must be {constraint.description}. Got {value!r}."
            )
    return dict(params)


def check_param_table(
    where: str, params: Mapping[str, Constraint], defaults: Mapping[str, Any], **named: Iterable[str]
) -> None:
    """Check a plug-in's declared parameters: every name in ``defaults`` (and in each ``named``
    group, e.g. ``required=...``) is in its ``params`` table, and every default passes its constraint.

    >>> check_param_table("the 'x' step", {"k": Int(min=1)}, {"k": 0})
    Traceback (most recent call last):
    ...
    tailguard.errors.ParameterError: The 'k' parameter of the 'x' step must be an int >= 1. Got 0.
    """
    for label, names in {"defaults": defaults, **named}.items():
        unknown = sorted(set(names) - set(params))
        if unknown:
            raise ParameterError(f"{where}: {label} names {', '.join(map(repr, unknown))}, not in its params table")
    validate_params(where, dict(defaults), {k: params[k] for k in defaults})
