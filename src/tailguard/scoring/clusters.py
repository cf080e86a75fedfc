"""Near-duplicate clusters of documents: who is in each, and which one to keep.

Clusters are the connected components of document pairs whose estimated
Jaccard of word-bigram shingles is at least ``threshold`` (MinHash + LSH, the
same machinery as the ``near_duplicates`` metric, :mod:`tailguard.metrics.duplicates`). A
cluster's **representative** is its first member in input order, so a policy
that keeps representatives keeps the earliest copy it saw.

Template spam varies its slots (names, prices, addresses), so its copies are
further apart than verbatim ones: two documents of one template of
``tailguard.data.template_spam`` share a median 31% of their word bigrams (5% of
pairs share under 23%), two documents of different templates at most 12% (99th
percentile), and two Python-docs or fortunes paragraphs under 7% (99.9th
percentile). Hence word bigrams and a threshold of 0.3, well below the audit's
near-verbatim 0.8 on 3-shingles. ``benchmarks/unknown_origin.py`` measures
recall and precision on planted spam.

>>> c = near_duplicate_clusters(["buy cheap pills now at example dot com today",
...                              "buy cheap pills now at example dot com tonight",
...                              "the lord is my shepherd i shall not want"])
>>> c.labels.tolist(), c.sizes.tolist(), c.representative.tolist()
([0, 0, 1], [2, 2, 1], [True, False, True])
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tailguard.metrics.duplicates import duplicate_clusters
from tailguard.metrics.minhash import MinHasher, optimal_bands

#: Estimated Jaccard at which two documents are near-duplicates, by default.
DEFAULT_THRESHOLD = 0.3
#: Words per shingle, by default.
DEFAULT_SHINGLE = 2


@dataclass(frozen=True)
class Clusters:
    """Cluster label per document (0..k-1 in order of first appearance), the size of each document's cluster,
    and whether it is its cluster's representative. Documents without words are singletons."""

    labels: np.ndarray
    sizes: np.ndarray
    representative: np.ndarray
    threshold: float

    @classmethod
    def singletons(cls, n: int) -> Clusters:
        """``n`` documents, each its own cluster (what no clustering, or vectors, gives)."""
        return cls(np.arange(n, dtype=np.int64), np.ones(n, dtype=np.int64), np.ones(n, dtype=bool), 0.0)

    @property
    def n_clusters(self) -> int:
        return int(self.labels.max()) + 1 if self.labels.size else 0

    def members(self, min_size: int = 2) -> list[np.ndarray]:
        """Positions of the members of every cluster with at least ``min_size`` documents, largest first."""
        order = np.argsort(self.labels, kind="stable")
        bounds = np.flatnonzero(np.diff(self.labels[order], prepend=-1, append=self.n_clusters + 1))
        groups = [order[a:b] for a, b in itertools.pairwise(bounds) if b - a >= min_size]
        return sorted(groups, key=lambda g: (-len(g), int(g[0])))


def near_duplicate_clusters(
    texts: Sequence[str], *, threshold: float = DEFAULT_THRESHOLD, num_perm: int = 128,
    shingle_size: int = DEFAULT_SHINGLE,
    seed: int = 0,
) -> Clusters:
    """Cluster ``texts`` by estimated word-shingle Jaccard (see the module docstring)."""
    n = len(texts)
    if n == 0:
        empty = np.zeros(0, dtype=np.int64)
        return Clusters(empty, empty, np.zeros(0, dtype=bool), threshold)
    hasher = MinHasher(num_perm, shingle_size, seed)
    sig, no_words = hasher.signatures(list(texts), what="texts")
    raw = np.arange(n, dtype=np.int64) + n  # singletons for documents without words
    rows = np.flatnonzero(~no_words)
    if rows.size:
        raw[rows] = duplicate_clusters(sig[rows], optimal_bands(num_perm, threshold), threshold)
    # relabel in order of first appearance
    _, first, inverse = np.unique(raw, return_index=True, return_inverse=True)
    rank = np.empty(first.size, dtype=np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(first.size)
    labels = rank[inverse.reshape(-1)]
    sizes = np.bincount(labels)[labels]
    representative = np.zeros(n, dtype=bool)
    representative[np.sort(first)] = True
    return Clusters(labels, sizes, representative, float(threshold))


def write_clusters(path: str | Path, clusters: Clusters, ids: Sequence[Any], *, min_size: int = 2) -> int:
    """Write one JSON line per cluster of at least ``min_size`` documents, largest first:
    ``{"cluster", "size", "representative", "members"}`` with the documents' ``ids``. Returns the count.

    >>> import tempfile, pathlib
    >>> c = near_duplicate_clusters(["buy cheap pills now at example dot com today",
    ...                              "buy cheap pills now at example dot com tonight", "something else entirely"])
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "dups.jsonl"
    >>> write_clusters(p, c, ["a", "b", "c"]), p.read_text().strip()
    (1, '{"cluster": 0, "size": 2, "representative": "a", "members": ["a", "b"]}')
    """
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    groups = clusters.members(min_size)
    with open(tmp, "w", encoding="utf-8") as fh:
        for g in groups:
            members = [ids[int(i)] for i in g]
            rep = next(ids[int(i)] for i in g if clusters.representative[int(i)])
            fh.write(json.dumps({"cluster": int(clusters.labels[int(g[0])]), "size": len(g), "representative": rep,
                                 "members": members}, default=str) + "\n")
    tmp.replace(target)
    return len(groups)
