"""A version and the exclusion records of the policy that made it are written together."""

from __future__ import annotations

import pytest

from tailguard.errors import VersionExistsError
from tailguard.ledger import Ledger, NewSample


def _texts(ledger: Ledger, *texts: str) -> list[str]:
    report = ledger.add_samples(
        [NewSample(content=t.encode(), uri=None, modality="text", origin="human") for t in texts]
    )
    return report.sample_ids


def test_version_and_exclusions_in_one_call(ledger: Ledger):
    keep, drop = _texts(ledger, "kept", "dropped")
    ledger.create_version("mix", sample_ids=[keep], exclusions=[(drop, "near-duplicate of " + keep)])
    assert ledger.version_sample_ids("mix") == [keep]
    assert ledger.exclusions("mix") == [(drop, "near-duplicate of " + keep)]


def test_refused_version_writes_no_exclusions(ledger: Ledger):
    keep, drop = _texts(ledger, "a", "b")
    ledger.create_version("mix", sample_ids=[keep])
    with pytest.raises(VersionExistsError):
        ledger.create_version("mix", sample_ids=[drop], exclusions=[(keep, "should not be stored")])
    assert ledger.exclusions("mix") == []
    assert ledger.version_sample_ids("mix") == [keep]
