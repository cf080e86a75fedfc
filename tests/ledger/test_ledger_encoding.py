"""Canonical JSON: the encoder's C core gives exactly what ``json`` gives, errors included."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from tailguard.ledger.encoding import dumps


def _reference(value: object) -> str:
    return json.dumps(value, sort_keys=True, default=str, separators=(",", ":"))


@pytest.mark.parametrize("value", [
    {"b": 1, "a": [1, 2.5, None, True]}, "é\n\x00", float("nan"), float("-inf"), 10**40, -0.0, [],
    {1: "x", 2: {"c": (3, 4)}}, {"t": dt.datetime(2026, 1, 2, 3, 4, 5)}, {1.5: "k", False: "f"}, "\ud800",
])
def test_dumps_equals_json(value):
    assert dumps(value) == _reference(value)


def test_dumps_errors_are_json_errors():
    loop: dict = {}
    loop["self"] = loop
    with pytest.raises(ValueError, match="Circular reference detected"):
        dumps(loop)
    with pytest.raises(TypeError):
        dumps({1: "int key", "a": "str key"})  # sorting mixed keys fails, as in json
    with pytest.raises(TypeError, match="keys must be"):
        dumps({(1, 2): 3})
