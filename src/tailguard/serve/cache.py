"""Reads of immutable things, kept for the life of the dashboard.

A version never changes once written, so neither does its composition nor the diff of two
versions: the server reads each once and serves it from memory after that. Entries are keyed by
the versions' names *and* manifest digests, so nothing stale could be served even if a name came
to mean other contents. Diffs are bounded (the most recent ``max_diffs`` pairs are kept).

>>> import os, tempfile
>>> from tailguard.ledger import Ledger, NewSample
>>> url = "sqlite:///" + os.path.join(tempfile.mkdtemp(), "ledger.db")
>>> with Ledger.open(url) as ledger:
...     _ = ledger.add_samples([NewSample(b"a", None, "text", "human")], as_version="v1")
...     cache = ImmutableReads()
...     first = cache.compositions(ledger, ledger.list_versions())
...     again = cache.compositions(ledger, ledger.list_versions())
>>> first["v1"].by_origin, again is not first, cache.reads
({'human': 1}, True, 1)
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tailguard.ledger import Ledger, VersionComposition, VersionDiff, VersionInfo


class ImmutableReads:
    """Version compositions and version diffs, each read from the ledger once (see module doc)."""

    def __init__(self, *, max_diffs: int = 64):
        self._compositions: dict[tuple[str, str | None], VersionComposition] = {}
        self._diffs: OrderedDict[tuple[str, str | None, str, str | None], VersionDiff] = OrderedDict()
        self._max_diffs = max_diffs
        self._lock = threading.Lock()
        self.reads = 0
        """How many times the ledger was read (for tests and the benchmark)."""

    def compositions(self, ledger: Ledger, versions: Sequence[VersionInfo]) -> dict[str, VersionComposition]:
        """The composition of each of ``versions``; only those not seen before are read (in one query)."""
        missing = [v.name for v in versions if (v.name, v.digest) not in self._compositions]
        if missing:
            fresh = ledger.version_compositions(missing)
            self.reads += 1
            digests = {v.name: v.digest for v in versions}
            with self._lock:
                for name, comp in fresh.items():
                    self._compositions[(name, digests[name])] = comp
        return {v.name: self._compositions[(v.name, v.digest)] for v in versions
                if (v.name, v.digest) in self._compositions}

    def diff(self, ledger: Ledger, a: VersionInfo, b: VersionInfo) -> VersionDiff:
        """The diff of versions ``a`` and ``b``, read once per pair."""
        key = (a.name, a.digest, b.name, b.digest)
        with self._lock:
            hit = self._diffs.get(key)
            if hit is not None:
                self._diffs.move_to_end(key)
                return hit
        found = ledger.diff(a.name, b.name)
        self.reads += 1
        with self._lock:
            self._diffs[key] = found
            while len(self._diffs) > self._max_diffs:
                self._diffs.popitem(last=False)
        return found


__all__ = ["ImmutableReads"]
