"""Debian text packages (fortunes, bible-kjv, dict-gcide) are optional: their tests skip
when one is missing, unless ``TAILGUARD_REQUIRE_DEBIAN_TEXT=1`` (set by ``.ci/run``, which
installs them) makes that a failure."""

import os

import pytest

from tailguard.errors import MissingDependencyError


@pytest.fixture
def installed():
    """``installed(loader, **kwargs)``: the loader's documents, or a skip naming the package."""

    def load(loader, **kwargs):
        try:
            return loader(**kwargs)
        except MissingDependencyError as err:
            if os.environ.get("TAILGUARD_REQUIRE_DEBIAN_TEXT") == "1":
                pytest.fail(f"{err} (TAILGUARD_REQUIRE_DEBIAN_TEXT=1 forbids skipping)")
            pytest.skip(str(err))

    return load
