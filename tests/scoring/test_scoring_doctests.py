"""The scoring modules' docstring examples run (and with them the audit's domain check module imports)."""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = ["clusters", "core", "detector", "documents", "domain", "lm", "share", "support"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(f"tailguard.scoring.{name}")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0
