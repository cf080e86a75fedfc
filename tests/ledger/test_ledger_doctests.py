"""The docstring examples of the ledger modules run and print what they claim."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "tailguard.ledger",
    "tailguard.ledger.engine",
    "tailguard.ledger.export",
    "tailguard.ledger.hashing",
    "tailguard.ledger.paths",
    "tailguard.ledger.provenance",
    "tailguard.ledger.selectors",
    "tailguard.ledger.store",
    "tailguard.ledger.types",
]


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    assert result.attempted > 0
