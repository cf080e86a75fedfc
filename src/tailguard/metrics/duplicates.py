"""Near-duplicates: MinHash + LSH within the candidate and against the reference.

:class:`NearDuplicateMetric` (registered as ``near_duplicates``) keeps the
MinHash signature (:mod:`tailguard.metrics.minhash`) and a seeded content key
of every document, so two accumulators merge by concatenation and every
result is computed from the documents sorted by key (order-independent).

Values (lower is better for all):

* ``duplicate_rate``: ``1 - clusters / documents`` in the candidate, i.e. the
  share of documents that are redundant near-copies of another one. Clusters
  are the connected components of the pairs with estimated Jaccard
  ``>= threshold`` among LSH candidate pairs (in each band bucket, every
  document is checked against the bucket's first document and its neighbour in
  key order). Its reference value is the same rate on a same-size seeded
  subsample of the reference (see :func:`draw_keys`: copies of one document are
  drawn independently, as a random subsample would).
* ``reference_copy_rate``: the share of candidate documents with a reference
  document at estimated Jaccard ``>= threshold`` (checked against the first
  reference document of each shared LSH bucket). Its reference value is the
  reference's leave-one-out copy rate: the share of reference documents with a
  near-copy among the *other* reference documents (those in a duplicate cluster
  of two or more). A candidate document is checked against n reference documents,
  a reference document against n - 1, so a second sample of the same corpus gets
  the same rate, boilerplate included. (Splitting the reference in halves by
  content hash put every copy of a document in the same half and gave corpora
  with boilerplate a near-zero baseline.)

LSH uses ``bands`` bands of ``num_perm / bands`` rows; by default the number
of bands whose S-curve midpoint sits just below ``threshold``. Documents
without any word are left out and counted in the details. CIs are the normal
approximation of a proportion over documents.

>>> m = NearDuplicateMetric(num_perm=64)
>>> text = "the quick brown fox jumps over the lazy dog near the river bank today"
>>> _ = m.update([text, text + " again", "a completely different sentence about cats and dogs"])
>>> _ = m.update_reference([text, "an unrelated reference document with other words in it"])
>>> r = m.result()
>>> round(r.value("duplicate_rate").value, 3), round(r.value("reference_copy_rate").value, 3)
(0.333, 0.667)
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from tailguard.errors import EmptyDatasetError, ParameterError
from tailguard.metrics.base import Metric, MetricResult, MetricValue, register_metric
from tailguard.metrics.minhash import MinHasher, band_keys, optimal_bands
from tailguard.metrics.tokenize import doc_keys, encode_texts
from tailguard.validation import Float, Int

_Z = 1.959963984540054
_VERIFY_CHUNK = 1 << 16


def _prop_ci(p: float, n: int) -> tuple[float, float]:
    if n <= 0 or not math.isfinite(p):
        return (math.nan, math.nan)
    se = math.sqrt(max(p * (1 - p), 0.0) / n)
    return (max(p - _Z * se, 0.0), min(p + _Z * se, 1.0))


def _similar(sig_a: np.ndarray, sig_b: np.ndarray, ia: np.ndarray, ib: np.ndarray, threshold: float) -> np.ndarray:
    """Estimated Jaccard of rows ``ia`` of ``sig_a`` and ``ib`` of ``sig_b`` is ``>= threshold``."""
    out = np.zeros(len(ia), dtype=bool)
    for lo in range(0, len(ia), _VERIFY_CHUNK):
        hi = lo + _VERIFY_CHUNK
        out[lo:hi] = np.mean(sig_a[ia[lo:hi]] == sig_b[ib[lo:hi]], axis=1) >= threshold
    return out


def draw_keys(keys: np.ndarray, seed: int) -> np.ndarray:
    """A seeded pseudo-random 64-bit draw per document, given content keys sorted ascending.

    Equal documents have equal content keys; the j-th copy of a document gets the
    hash of ``(key, j)``, so copies are drawn independently of each other while the
    draws still do not depend on arrival order or partitioning (mergeable).

    >>> k = np.array([5, 5, 9], dtype=np.uint64)
    >>> d = draw_keys(k, seed=0)
    >>> bool(d[0] != d[1]), bool(np.array_equal(d, draw_keys(k, seed=0)))
    (True, True)
    """
    n = len(keys)
    if n == 0:
        return np.zeros(0, dtype=np.uint64)
    new_run = np.ones(n, dtype=bool)
    new_run[1:] = keys[1:] != keys[:-1]
    starts = np.flatnonzero(new_run)
    occurrence = (np.arange(n) - starts[np.cumsum(new_run) - 1]).astype(np.uint64)
    with np.errstate(over="ignore"):
        h = keys ^ (occurrence * np.uint64(0x9E3779B97F4A7C15)) ^ np.uint64((seed * 0xD1B54A32D192ED03) % 2**64)
        # splitmix64 finaliser
        h ^= h >> np.uint64(30)
        h *= np.uint64(0xBF58476D1CE4E5B9)
        h ^= h >> np.uint64(27)
        h *= np.uint64(0x94D049BB133111EB)
        h ^= h >> np.uint64(31)
    return h


def duplicate_clusters(sig: np.ndarray, bands: int, threshold: float) -> np.ndarray:
    """Cluster label of every row: connected components of verified LSH pairs."""
    n = len(sig)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    keys = band_keys(sig, bands)
    src, dst = [], []
    for b in range(bands):
        order = np.argsort(keys[:, b], kind="stable")
        k = keys[order, b]
        same = k[1:] == k[:-1]
        if not same.any():
            continue
        first = np.ones(n, dtype=bool)
        first[1:] = ~same
        leader = order[np.flatnonzero(first)][np.cumsum(first) - 1]
        members = ~first
        # each member against its bucket's first document and its predecessor
        for a, c in ((leader[members], order[members]), (order[:-1][same], order[1:][same])):
            ok = _similar(sig, sig, a, c, threshold)
            src.append(a[ok])
            dst.append(c[ok])
    if not src:
        return np.arange(n, dtype=np.int64)
    s, d = np.concatenate(src), np.concatenate(dst)
    graph = coo_matrix((np.ones(len(s), dtype=np.int8), (s, d)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    return labels.astype(np.int64)


def near_copies(sig: np.ndarray, ref_sig: np.ndarray, bands: int, threshold: float) -> np.ndarray:
    """Mask of rows of ``sig`` with a row of ``ref_sig`` at estimated Jaccard ``>= threshold`` (via LSH)."""
    hit = np.zeros(len(sig), dtype=bool)
    if len(sig) == 0 or len(ref_sig) == 0:
        return hit
    ck, rk = band_keys(sig, bands), band_keys(ref_sig, bands)
    for b in range(bands):
        order = np.argsort(rk[:, b], kind="stable")
        sorted_keys = rk[order, b]
        pos = np.minimum(np.searchsorted(sorted_keys, ck[:, b], side="left"), len(sorted_keys) - 1)
        found = (sorted_keys[pos] == ck[:, b]) & ~hit
        rows = np.flatnonzero(found)
        if rows.size:
            ok = _similar(sig, ref_sig, rows, order[pos[rows]], threshold)
            hit[rows[ok]] = True
    return hit


class _Docs:
    def __init__(self) -> None:
        self.sigs: list[np.ndarray] = []
        self.keys: list[np.ndarray] = []
        self.n_empty = 0

    def add(self, sig: np.ndarray, keys: np.ndarray, empty: np.ndarray) -> None:
        self.sigs.append(sig[~empty])
        self.keys.append(keys[~empty])
        self.n_empty += int(empty.sum())

    def merge(self, other: _Docs) -> None:
        self.sigs.extend(other.sigs)
        self.keys.extend(other.keys)
        self.n_empty += other.n_empty

    def sorted(self, num_perm: int) -> tuple[np.ndarray, np.ndarray]:
        """Signatures and keys, sorted by key (equal keys are equal documents)."""
        if not self.keys:
            return np.zeros((0, num_perm), dtype=np.uint32), np.zeros(0, dtype=np.uint64)
        keys = np.concatenate(self.keys)
        order = np.argsort(keys, kind="stable")
        self.keys = [keys[order]]
        del keys
        # the chunks let go as soon as they are joined: two copies of the signatures at most, not three
        sig, self.sigs = np.concatenate(self.sigs), []
        self.sigs = [sig[order]]
        del sig
        return self.sigs[0], self.keys[0]


@register_metric
class NearDuplicateMetric(Metric):
    """Near-duplicate rate within the candidate and near-copies of the reference (see module doc)."""

    name: ClassVar[str] = "near_duplicates"
    family: ClassVar[str] = "duplicates"
    modalities: ClassVar[tuple[str, ...]] = ("text",)
    order: ClassVar[int] = 61
    value_names: ClassVar[tuple[str, ...]] = ("duplicate_rate", "reference_copy_rate")
    input_kind: ClassVar[str] = "text"
    higher_is_better: ClassVar[bool] = False
    requires_reference: ClassVar[bool] = False
    accepts_reference: ClassVar[bool] = True
    params: ClassVar[dict[str, Any]] = {
        "num_perm": Int(min=8, max=4096),
        "shingle_size": Int(min=1, max=5),
        "threshold": Float(0.0, 1.0, min_open=True),
        "bands": Int(min=1, optional=True),
        "seed": Int(min=0),
    }
    defaults: ClassVar[dict[str, Any]] = {
        "num_perm": 128,
        "shingle_size": 3,
        "threshold": 0.8,
        "bands": None,
        "seed": 0,
    }

    def __init__(self, **params: Any):
        super().__init__(**params)
        p = self._params
        if p["bands"] is not None and p["num_perm"] % p["bands"]:
            raise ParameterError(
                f"The 'bands' parameter of {type(self).__name__} must be an int that divides "
                f"num_perm={p['num_perm']}. Got {p['bands']!r}."
            )
        self._bands = p["bands"] or optimal_bands(p["num_perm"], p["threshold"])
        self._hasher = MinHasher(p["num_perm"], p["shingle_size"], p["seed"])
        self._sides = {False: _Docs(), True: _Docs()}

    def _update(self, batch: Any, *, reference: bool) -> None:
        what = "reference text batch" if reference else "candidate text batch"
        encoded = encode_texts(batch, what=what)
        if not encoded:
            return
        sig, empty = self._hasher.signatures(encoded, what=what)
        self._sides[reference].add(sig, doc_keys(encoded, self._params["seed"]), empty)

    def _merge(self, other: NearDuplicateMetric) -> None:
        for side in (False, True):
            self._sides[side].merge(other._sides[side])

    def _dup_rate(self, sig: np.ndarray) -> tuple[float, np.ndarray]:
        labels = duplicate_clusters(sig, self._bands, self._params["threshold"])
        n_clusters = len(np.unique(labels))
        return (1.0 - n_clusters / len(sig)) if len(sig) else math.nan, labels

    def result(self) -> MetricResult:
        p = self._params
        c_sig, _ = self._sides[False].sorted(p["num_perm"])
        r_sig, r_keys = self._sides[True].sorted(p["num_perm"])
        n, n_ref = len(c_sig), len(r_sig)
        if n == 0:
            raise EmptyDatasetError("near_duplicates: the candidate has no documents with words")
        rate, labels = self._dup_rate(c_sig)
        sizes = np.bincount(labels)
        details: dict[str, Any] = {
            "bands": float(self._bands),
            "rows_per_band": float(p["num_perm"] // self._bands),
            "candidate_clusters": float(len(sizes)),
            "largest_cluster": float(sizes.max()),
            "candidate_docs_in_clusters": float(sizes[sizes > 1].sum() / n),
            "candidate_empty_docs": float(self._sides[False].n_empty),
            "reference_empty_docs": float(self._sides[True].n_empty),
        }
        ref_rate = None
        copy_rate, ref_copy = math.nan, None
        if n_ref:
            order = np.argsort(draw_keys(r_keys, p["seed"]), kind="stable")
            ref_rate, _ = self._dup_rate(r_sig[np.sort(order[: min(n, n_ref)])])
            copy_rate = float(near_copies(c_sig, r_sig, self._bands, p["threshold"]).mean())
            if n_ref >= 2:
                ref_labels = duplicate_clusters(r_sig, self._bands, p["threshold"])
                ref_copy = float((np.bincount(ref_labels)[ref_labels] > 1).mean())
        values = [MetricValue("duplicate_rate", rate, False, ref_rate, _prop_ci(rate, n), "analytic")]
        if n_ref:
            values.append(
                MetricValue("reference_copy_rate", copy_rate, False, ref_copy, _prop_ci(copy_rate, n), "analytic")
            )
        return MetricResult(
            metric=self.name,
            family=self.family,
            config_id=self.config_id,
            n=n + self._sides[False].n_empty,
            n_reference=(n_ref + self._sides[True].n_empty) or None,
            values=tuple(values),
            details=details,
        )
