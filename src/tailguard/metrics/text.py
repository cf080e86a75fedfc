"""Text statistics: the ways generated text loses diversity, compared with human text.

:class:`TextStatsMetric` (registered as ``text_stats``) streams batches of
documents (lists of ``str``) and reports, for the candidate and the reference:

=====================  ==========================================================  ======
value                  definition                                                  better
=====================  ==========================================================  ======
``distinct_1..4``      distinct word n-grams / all n-grams (n-grams inside docs)   higher
``vocabulary_size``    distinct words; exact up to ``max_exact``, then HyperLogLog higher
``hapax_ratio``        words seen once / distinct words                            higher
``zipf_exponent``      ``s`` of rank-frequency ``f(r) ~ r**-s`` (MLE, see below)   lower
``mattr``              moving-average type-token ratio, window ``mattr_window``    higher
``repetition_rate``    share of a doc's ``repetition_n``-grams that repeat an      lower
                       earlier one in the same doc (ratio of sums over docs)
``compression_ratio``  raw bytes / zstd bytes of the seeded document sample:       lower
                       **higher ratio = more redundant = less diverse**
``self_bleu``          mean BLEU-4 of each sampled doc against the others          lower
``length_mean``        mean document length in words                               higher
``length_tail_mass_a`` share of docs shorter than the reference's ``a`` quantile   higher
                       or longer than its ``1 - a`` quantile (one per ``alphas``)
=====================  ==========================================================  ======

**Same N.** Distinct-n, vocabulary, hapax ratio and the Zipf exponent depend on
how much text there is. When a reference is given, both sides are evaluated at
the smaller side's token count: the larger side is subsampled by document
content hash (nested hash strata, see
:mod:`tailguard.metrics.distinct_store`) and its value is interpolated in
log(tokens) between the two nested subsamples that bracket the target.
Self-BLEU and the compression ratio use the same number of sampled documents on
both sides (the ``sample_size`` documents with the smallest seeded content
hash, at most 1000). MATTR, the repetition rate and the length statistics are
per-document averages and use all documents.

:func:`distinct_ngrams` and :func:`compression_ratio` compute the distinct-n and compression
definitions on all of a list of documents at once (no strata, sketch or sample).

**Zipf exponent.** The discrete power-law MLE (Clauset, Shalizi & Newman 2009)
is fitted to the word frequencies ``f >= 1``: ``P(f) ∝ f**-alpha``, maximising
``-alpha Σ log f - n log ζ(alpha)``; a rank-frequency law ``f(r) ∝ r**-s``
has ``alpha = 1 + 1/s``, so ``s = 1 / (alpha - 1)``. Its CI is from the Fisher
information (delta method). A larger ``s`` means mass concentrated on fewer words.

**CIs** are analytic: binomial (normal approximation) for distinct-n, hapax
and tail shares, with the HyperLogLog error added in quadrature when the
sketch is in use; ratio-estimator standard errors over documents for MATTR and
the repetition rate; the standard error of the mean for self-BLEU and lengths;
half-sampling without replacement (``n_half_samples`` seeded draws) for the
compression ratio. Documents are treated as independent.

>>> m = TextStatsMetric(sample_size=10)
>>> _ = m.update(["the cat sat on the mat", "a dog ran"] * 3)
>>> _ = m.update_reference(["the quick brown fox", "jumps over the lazy dog", "hello world"])
>>> r = m.result()
>>> round(r.value("distinct_1").value, 3) < round(r.value("distinct_1").reference_value, 3)
True
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
from scipy import optimize, special

from tailguard.errors import EmptyDatasetError, ParameterError
from tailguard.metrics.base import Metric, MetricResult, MetricValue, register_metric
from tailguard.metrics.bleu import self_bleu_summary, sentence_self_bleu
from tailguard.metrics.distinct_store import DistinctStore, strata_of
from tailguard.metrics.hll import hll_relative_error
from tailguard.metrics.tokenize import (
    MAX_NGRAM_N,
    TokenizedBatch,
    doc_keys,
    encode_texts,
    iter_ngram_hashes,
    ngram_hashes,
    tokenize,
    unique_u64,
)
from tailguard.validation import FloatTuple, Int

N_STRATA = 16
_MAX_N = 4
_CHUNK_BYTES = 4 << 20
_Z = 1.959963984540054


# -- per-document statistics ---------------------------------------------------------------
def occurrence_runs(h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One sort of the hashes ``h`` by (hash, position).

    Returns the positions in sorted order and, per sorted element, whether it has
    the same hash as the element before it (so each run lists the occurrences of
    one value in order). The sort key keeps the high bits of the hash above the
    position bits; runs are then split wherever the *full* hashes differ, so
    distinct values are never merged (in the rare case where two values share
    their high bits, an occurrence may be reported as a first one: the stores
    deduplicate, the per-document statistics can be off by one).
    """
    n = len(h)
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=bool)
    bits = np.uint64(max(1, int(n).bit_length()))
    keys = (h >> bits << bits) | np.arange(n, dtype=np.uint64)
    s = np.sort(keys)
    pos = (s & ((np.uint64(1) << bits) - np.uint64(1))).astype(np.int64)
    hs = h[pos]
    same = np.zeros(n, dtype=bool)
    same[1:] = hs[1:] == hs[:-1]
    return pos, same


def _new_group(same: np.ndarray, group_sorted: np.ndarray) -> np.ndarray:
    """Sorted elements that start a new (value, group) run."""
    new = ~same
    new[1:] |= group_sorted[1:] != group_sorted[:-1]
    return new


def mattr_from_runs(
    tok: TokenizedBatch, pos: np.ndarray, same: np.ndarray, window: int
) -> tuple[np.ndarray, np.ndarray]:
    """MATTR parts (see :func:`mattr_parts`) from the occurrence runs of the token hashes."""
    n = tok.n_tokens
    n_docs = tok.n_docs
    lengths = tok.doc_lengths
    if n == 0:
        return np.zeros(n_docs), np.zeros(n_docs, dtype=np.int64)
    doc = tok.doc_index()
    ds = doc[pos]
    linked = same.copy()
    linked[1:] &= ds[1:] == ds[:-1]
    # the previous occurrence of each word in its document (a position in the batch), or -1
    prev = np.full(n, -1, dtype=np.int64)
    prev[pos[1:][linked[1:]]] = pos[:-1][linked[1:]]
    # word i is new in the windows that start in (prev(i), i], inside its document
    starts = tok.doc_offsets[:-1]
    i = np.arange(n, dtype=np.int64)
    lo = np.maximum(np.maximum(prev + 1, i - (window - 1)), starts[doc])
    hi = np.minimum(i, (starts + lengths - window)[doc])  # the last window starts at doc end - window
    contrib = hi - lo + 1
    np.maximum(contrib, 0, out=contrib)
    short = (lengths < window)[doc]  # a shorter document is one window: its first occurrences count
    if short.any():
        contrib[short] = prev[short] < 0
    new_per_doc = np.bincount(doc, weights=contrib, minlength=n_docs)
    width = np.where(lengths >= window, window, np.maximum(lengths, 1))
    windows = np.where(lengths >= window, lengths - window + 1, (lengths > 0).astype(np.int64))
    return new_per_doc / width, windows.astype(np.int64)


def repetition_from_runs(
    doc: np.ndarray, n_docs: int, pos: np.ndarray, same: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Repetition parts (see :func:`repetition_parts`) from the occurrence runs of n-gram hashes."""
    total = np.bincount(doc, minlength=n_docs).astype(np.int64)
    if len(pos) == 0:
        return np.zeros(n_docs, dtype=np.int64), total
    ds = doc[pos]
    distinct = np.bincount(ds[_new_group(same, ds)], minlength=n_docs)
    return total - distinct, total


def mattr_parts(tok: TokenizedBatch, window: int) -> tuple[np.ndarray, np.ndarray]:
    """Per document: the sum over its windows of the type-token ratio, and the number of windows.

    A document of ``L >= window`` words has ``L - window + 1`` windows; a shorter
    non-empty one counts as one window over all its words. Runs in O(N log N)
    for the sort that finds each word's previous occurrence, and O(N) after it:
    word ``j`` is new in every window starting in ``(prev(j), j]``.
    """
    pos, same = occurrence_runs(tok.hashes)
    return mattr_from_runs(tok, pos, same, window)


def repetition_parts(tok: TokenizedBatch, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Per document: how many of its n-grams repeat an earlier one in it, and how many n-grams it has."""
    g, doc = ngram_hashes(tok, n)
    pos, same = occurrence_runs(g)
    return repetition_from_runs(doc, tok.n_docs, pos, same)


# -- one-shot statistics ---------------------------------------------------------------------
def distinct_ngrams(docs: Sequence[str | bytes], max_n: int = _MAX_N, *, seed: int = 0) -> tuple[float, ...]:
    """Distinct-1..``max_n`` of all of ``docs`` at once: distinct word n-grams / all n-grams.

    The definition of ``text_stats``' ``distinct_n`` values (same tokens, n-grams
    inside documents, counted by their 64-bit hashes), on the whole input with no
    same-N subsampling and no HyperLogLog; ``nan`` for an order with no n-grams.
    Pass the documents joined into one string for n-grams that cross documents.

    >>> distinct_ngrams(["a b a b", "a b"], 2)
    (0.3333333333333333, 0.5)
    """
    if not isinstance(max_n, int) or isinstance(max_n, bool) or not 1 <= max_n <= MAX_NGRAM_N:
        raise ParameterError(f"distinct_ngrams: max_n must be an int from 1 to {MAX_NGRAM_N}, got {max_n!r}")
    tok = tokenize(encode_texts(docs, what="distinct_ngrams documents"), seed=seed)
    out = []
    for _, g, _ in iter_ngram_hashes(tok, max_n):
        s = np.sort(g)  # numpy's default sort: the fastest on unsorted hashes
        out.append((1 + int(np.count_nonzero(s[1:] != s[:-1]))) / len(g) if len(g) else math.nan)
    return tuple(out)


def compression_ratio(docs: Sequence[str | bytes], level: int = 3) -> float:
    """Raw bytes / zstd bytes (``level``) of the documents joined by newlines; ``nan`` when empty.

    The definition of ``text_stats``' ``compression_ratio``, which applies it to its
    document sample. Higher means more redundant text.

    >>> compression_ratio(["abc " * 100]) > compression_ratio(["the quick brown fox"])
    True
    """
    import zstandard

    if not isinstance(level, int) or isinstance(level, bool) or not 1 <= level <= 22:
        raise ParameterError(f"compression_ratio: level must be an int from 1 to 22, got {level!r}")
    return _zstd_ratio(zstandard.ZstdCompressor(level=level), encode_texts(docs, what="compression_ratio documents"))


def _zstd_ratio(cctx: Any, parts: list[bytes]) -> float:
    blob = b"\n".join(parts)
    return len(blob) / len(cctx.compress(blob)) if blob else math.nan


# -- estimators ------------------------------------------------------------------------------
def zipf_mle(freqs: np.ndarray) -> tuple[float, float]:
    """Rank-frequency Zipf exponent ``s`` and its standard error from word frequencies (see module doc).

    >>> rng = np.random.default_rng(0)
    >>> f = rng.zipf(2.0, size=20_000)          # frequencies with alpha = 2, i.e. s = 1
    >>> s, se = zipf_mle(f)
    >>> abs(s - 1.0) < 4 * se + 0.02
    True
    """
    f = np.asarray(freqs, dtype=np.float64)
    f = f[f >= 1]
    n = f.size
    if n < 2 or np.all(f == 1):
        return math.nan, math.nan
    sum_log = float(np.log(f).sum())

    def nll(a: float) -> float:
        return a * sum_log + n * math.log(special.zeta(a, 1.0))

    res = optimize.minimize_scalar(nll, bounds=(1.0 + 1e-6, 20.0), method="bounded", options={"xatol": 1e-10})
    a = float(res.x)
    h = 1e-4 * max(a - 1.0, 1e-3)
    logz = [math.log(special.zeta(a + k * h, 1.0)) for k in (-1, 0, 1)]
    info = n * (logz[0] - 2 * logz[1] + logz[2]) / (h * h)
    se_a = 1.0 / math.sqrt(info) if info > 0 else math.nan
    s = 1.0 / (a - 1.0)
    return s, se_a / (a - 1.0) ** 2


def _binomial_ci(p: float, n: float, rel_extra: float = 0.0) -> tuple[float, float]:
    if not math.isfinite(p) or n <= 0:
        return (math.nan, math.nan)
    se = math.sqrt(max(p * (1 - p), 0.0) / n + (p * rel_extra) ** 2)
    return (p - _Z * se, p + _Z * se)


def _ratio_ci(y: np.ndarray, x: np.ndarray) -> tuple[float, tuple[float, float]]:
    """Ratio of sums Σy/Σx with the linearised (ratio-estimator) standard error."""
    sx = float(x.sum())
    if sx <= 0:
        return math.nan, (math.nan, math.nan)
    r = float(y.sum()) / sx
    k = len(x)
    if k < 2:
        return r, (r, r)
    resid = y - r * x
    se = math.sqrt(k / (k - 1) * float(np.sum(resid * resid))) / sx
    return r, (r - _Z * se, r + _Z * se)


def _finite_values(values: list[MetricValue]) -> tuple[list[MetricValue], list[str]]:
    """Drop values that are undefined on this data (e.g. distinct-4 of 3-word documents), so results
    stay strict JSON; a non-finite reference value becomes ``None`` and a non-finite CI collapses."""
    kept, undefined = [], []
    for v in values:
        if not math.isfinite(v.value):
            undefined.append(v.name)
            continue
        ref = v.reference_value if v.reference_value is not None and math.isfinite(v.reference_value) else None
        ci = v.ci if v.ci is not None and all(math.isfinite(c) for c in v.ci) else (v.value, v.value)
        kept.append(MetricValue(v.name, v.value, v.higher_is_better, ref, ci, v.ci_method))
    return kept, undefined


# -- one side's accumulated state ------------------------------------------------------------
class _Side:
    def __init__(self, max_exact: int, p: int):
        self.tokens = np.zeros(N_STRATA, dtype=np.int64)
        self.ngrams = np.zeros((N_STRATA, _MAX_N + 1), dtype=np.int64)
        self.docs = np.zeros(N_STRATA, dtype=np.int64)
        self.stores = [
            DistinctStore(n_strata=N_STRATA, max_exact=max_exact, p=p, counts=(n == 1)) for n in range(1, _MAX_N + 1)
        ]
        self.per_doc: dict[str, list[np.ndarray]] = {
            "length": [],
            "mattr_sum": [],
            "mattr_windows": [],
            "rep": [],
            "rep_total": [],
        }
        self.sample: list[tuple[int, str]] = []

    @property
    def n_docs(self) -> int:
        return int(self.docs.sum())

    def doc_array(self, name: str) -> np.ndarray:
        parts = self.per_doc[name]
        if len(parts) > 1:
            self.per_doc[name] = parts = [np.concatenate(parts)]
        return parts[0] if parts else np.zeros(0)

    def merge(self, other: _Side, sample_size: int) -> None:
        self.tokens += other.tokens
        self.ngrams += other.ngrams
        self.docs += other.docs
        for a, b in zip(self.stores, other.stores, strict=True):
            a.merge(b)
        for k in self.per_doc:
            self.per_doc[k].extend(other.per_doc[k])
        self.sample = sorted(self.sample + other.sample)[:sample_size]

    def level_tokens(self) -> np.ndarray:
        """Tokens in the union of strata >= L, for every L."""
        return np.cumsum(self.tokens[::-1])[::-1]


@register_metric
class TextStatsMetric(Metric):
    """Distinct-n, vocabulary, hapax ratio, Zipf exponent, MATTR, repetition, compression,
    self-BLEU and length tails of a text candidate against a human reference (see module doc)."""

    name: ClassVar[str] = "text_stats"
    family: ClassVar[str] = "text"
    modalities: ClassVar[tuple[str, ...]] = ("text",)
    order: ClassVar[int] = 60
    value_names: ClassVar[tuple[str, ...]] = (
        *(f"distinct_{n}" for n in range(1, _MAX_N + 1)),
        "vocabulary_size", "hapax_ratio", "zipf_exponent", "mattr", "repetition_rate",
        "compression_ratio", "self_bleu", "length_mean", "length_tail_mass_0.01", "length_tail_mass_0.05",
    )
    default_rules: ClassVar[tuple[tuple[str, dict[str, Any]], ...]] = (
        # Self-BLEU's interval treats overlapping pairs as independent, and the 1% length
        # tails hold a dozen documents at n ~ 1k with integer lengths tied at the quantiles;
        # both get wider limits.
        ("text/*/self_bleu", {"kind": "ratio", "warn": 0.2, "collapse": 0.5}),
        ("text/*/length_tail_mass_0.01", {"kind": "info"}),
        ("text/*/length_tail_mass*", {"kind": "ratio", "warn": 0.6, "collapse": 0.9}),
    )

    @classmethod
    def output_names(cls, params: Mapping[str, Any] | None = None) -> tuple[str, ...]:
        alphas = {**cls.defaults, **(params or {})}["alphas"]
        fixed = tuple(n for n in cls.value_names if not n.startswith("length_tail_mass_"))
        return (*fixed, *(f"length_tail_mass_{float(a):g}" for a in alphas))
    input_kind: ClassVar[str] = "text"
    higher_is_better: ClassVar[bool] = True
    requires_reference: ClassVar[bool] = False
    accepts_reference: ClassVar[bool] = True

    params: ClassVar[dict[str, Any]] = {
        "seed": Int(min=0),
        "max_exact": Int(min=1024),
        "hll_precision": Int(min=8, max=18),
        "mattr_window": Int(min=2),
        "repetition_n": Int(min=1, max=_MAX_N),
        "sample_size": Int(min=2, max=1000),
        "zstd_level": Int(min=1, max=22),
        "alphas": FloatTuple(0.0, 0.5),
        "n_half_samples": Int(min=10),
    }
    defaults: ClassVar[dict[str, Any]] = {
        "seed": 0,
        "max_exact": 2_000_000,
        "hll_precision": 14,
        "mattr_window": 50,
        "repetition_n": 3,
        "sample_size": 1000,
        "zstd_level": 3,
        "alphas": (0.01, 0.05),
        "n_half_samples": 20,
    }

    def __init__(self, **params: Any):
        super().__init__(**params)
        p = self._params
        self._sides = {
            False: _Side(p["max_exact"], p["hll_precision"]),
            True: _Side(p["max_exact"], p["hll_precision"]),
        }

    # -- accumulation ------------------------------------------------------------------------
    def _update(self, batch: Any, *, reference: bool) -> None:
        what = "reference text batch" if reference else "candidate text batch"
        encoded = encode_texts(batch, what=what)
        if not encoded:
            return
        side = self._sides[reference]
        seed = self._params["seed"]
        keys = doc_keys(encoded, seed)
        strata = strata_of(keys, N_STRATA)
        order = np.argsort(strata, kind="stable")
        start = 0
        sizes = np.fromiter((len(d) for d in encoded), dtype=np.int64, count=len(encoded))[order]
        cum = np.cumsum(sizes)
        while start < len(order):
            stop = int(np.searchsorted(cum, (cum[start - 1] if start else 0) + _CHUNK_BYTES, side="right"))
            stop = max(stop, start + 1)
            idx = order[start:stop]
            self._update_chunk(side, [encoded[i] for i in idx], keys[idx], strata[idx])
            start = stop
        self._update_sample(side, encoded, keys)

    def _update_chunk(self, side: _Side, encoded: list[bytes], keys: np.ndarray, strata: np.ndarray) -> None:
        """Fold documents in non-decreasing order of ``strata`` (as :meth:`_update` passes them) into ``side``."""
        p = self._params
        tok = tokenize(encoded, seed=p["seed"])
        side.per_doc["length"].append(tok.doc_lengths.astype(np.int64))
        side.docs += np.bincount(strata, minlength=N_STRATA)
        # per n-gram order one sort: by occurrence for words and the repetition order (the per-stratum
        # distinct values, with counts for words, the previous occurrence of each word for MATTR and
        # the repeats inside documents), by value within each stratum for the other orders
        for n, g, doc in iter_ngram_hashes(tok, _MAX_N):
            g_strata = strata[doc]
            side.ngrams[:, n] += np.bincount(g_strata, minlength=N_STRATA)
            if n == 1:
                side.tokens += np.bincount(g_strata, minlength=N_STRATA)
            if n not in (1, p["repetition_n"]):
                # only the distinct values are needed: the documents come sorted by stratum (see
                # _update), so each stratum's n-grams are one slice, sorted on its own
                bounds = np.searchsorted(g_strata, np.arange(N_STRATA + 1))
                for st in range(N_STRATA):
                    if bounds[st + 1] > bounds[st]:
                        side.stores[n - 1].add(st, unique_u64(g[bounds[st] : bounds[st + 1]], runs=False))
                continue
            pos, same = occurrence_runs(g)
            if n == 1:
                msum, mwin = mattr_from_runs(tok, pos, same, p["mattr_window"])
                side.per_doc["mattr_sum"].append(msum)
                side.per_doc["mattr_windows"].append(mwin)
            if n == p["repetition_n"]:
                rep, rep_total = repetition_from_runs(doc, tok.n_docs, pos, same)
                side.per_doc["rep"].append(rep)
                side.per_doc["rep_total"].append(rep_total)
            if len(g) == 0:
                continue
            ss = g_strata[pos]
            starts = np.flatnonzero(_new_group(same, ss))
            uniq, u_strata = g[pos[starts]], ss[starts]
            counts = np.diff(np.append(starts, len(pos))) if n == 1 else None
            # strata are < 16: a stable argsort of bytes is a radix sort
            order = np.argsort(u_strata.astype(np.uint8), kind="stable")
            bounds = np.searchsorted(u_strata[order], np.arange(N_STRATA + 1))
            for st in range(N_STRATA):
                lo, hi = bounds[st], bounds[st + 1]
                if hi > lo:
                    idx = order[lo:hi]
                    side.stores[n - 1].add(st, uniq[idx], counts[idx] if counts is not None else None)

    def _update_sample(self, side: _Side, encoded: list[bytes], keys: np.ndarray) -> None:
        k = self._params["sample_size"]
        if len(side.sample) >= k:
            limit = side.sample[-1][0]
            cand = np.flatnonzero(keys <= np.uint64(limit))
        else:
            cand = np.argsort(keys, kind="stable")[:k]
        new = [(int(keys[i]), encoded[i].decode("utf-8")) for i in cand]
        side.sample = sorted(side.sample + new)[:k]

    def _merge(self, other: TextStatsMetric) -> None:
        k = self._params["sample_size"]
        for ref in (False, True):
            self._sides[ref].merge(other._sides[ref], k)

    # -- results -----------------------------------------------------------------------------
    def _level_stats(self, side: _Side, level: int) -> dict[str, float]:
        out: dict[str, float] = {}
        for n in range(1, _MAX_N + 1):
            total = float(side.ngrams[level:, n].sum())
            distinct = side.stores[n - 1].distinct(level) if n > 1 else None
            if n == 1:
                counts = side.stores[0].type_counts(level)
                store = side.stores[0]
                vocab = float(len(counts)) if store.exact else store.distinct(level)
                out["vocabulary_size"] = vocab
                distinct = vocab
                out["hapax_ratio"] = float(np.mean(counts == 1)) if counts.size else math.nan
                out["_types"] = float(counts.size)
                s, se = zipf_mle(counts)
                out["zipf_exponent"], out["_zipf_se"] = s, se
            out[f"distinct_{n}"] = distinct / total if total > 0 else math.nan
            out[f"_total_{n}"] = total
        return out

    def _stats_at(self, side: _Side, target_tokens: float) -> dict[str, float]:
        """Statistics of ``side`` at ``target_tokens`` tokens (log-interpolated between hash strata)."""
        lt = side.level_tokens()
        if target_tokens >= lt[0]:
            return self._level_stats(side, 0)
        level = int(np.flatnonzero(lt >= target_tokens)[-1])
        upper = self._level_stats(side, level)
        if level + 1 >= N_STRATA or lt[level + 1] <= 0:
            return upper
        lower = self._level_stats(side, level + 1)
        w = (math.log(target_tokens) - math.log(lt[level + 1])) / (math.log(lt[level]) - math.log(lt[level + 1]))
        return {k: lower[k] + w * (upper[k] - lower[k]) for k in upper}

    def _sample_stats(self, docs: Sequence[str]) -> dict[str, Any]:
        import zstandard

        p = self._params
        tok = tokenize(encode_texts(list(docs)), seed=p["seed"])
        bleu, bleu_ci = self_bleu_summary(sentence_self_bleu(tok))
        raw = [d.encode("utf-8") for d in docs]
        cctx = zstandard.ZstdCompressor(level=p["zstd_level"])

        comp = _zstd_ratio(cctx, raw)
        rng = np.random.default_rng(p["seed"])
        half = len(raw) // 2
        if half >= 1:
            draws = [
                _zstd_ratio(cctx, [raw[i] for i in np.sort(rng.choice(len(raw), half, replace=False))])
                for _ in range(p["n_half_samples"])
            ]
            sd = float(np.std(draws, ddof=1))
            comp_ci = (comp - _Z * sd, comp + _Z * sd)
        else:
            comp_ci = (comp, comp)
        return {"self_bleu": (bleu, bleu_ci), "compression_ratio": (comp, comp_ci)}

    def result(self) -> MetricResult:
        p = self._params
        cand, ref = self._sides[False], self._sides[True]
        if cand.n_docs == 0:
            raise EmptyDatasetError("text_stats: the candidate has no documents")
        has_ref = ref.n_docs > 0
        tc = float(cand.tokens.sum())
        tr = float(ref.tokens.sum()) if has_ref else math.nan
        target = min(tc, tr) if has_ref else tc
        if tc <= 0:
            raise EmptyDatasetError("text_stats: the candidate has no words")
        if has_ref and tr <= 0:
            raise EmptyDatasetError("text_stats: the reference has no words")
        cs = self._stats_at(cand, target)
        rs = self._stats_at(ref, target) if has_ref else None
        hll_err = {
            n: hll_relative_error(p["hll_precision"]) if not cand.stores[n - 1].exact else 0.0
            for n in range(1, _MAX_N + 1)
        }

        values: list[MetricValue] = []

        def add(name: str, hib: bool, v: float, rv: float | None, ci: tuple[float, float] | None) -> None:
            values.append(MetricValue(name, float(v), hib, None if rv is None else float(rv), ci, "analytic"))

        for n in range(1, _MAX_N + 1):
            key = f"distinct_{n}"
            add(key, True, cs[key], rs[key] if rs else None, _binomial_ci(cs[key], cs[f"_total_{n}"], hll_err[n]))
        v = cs["vocabulary_size"]
        lo, hi = _binomial_ci(v / cs["_total_1"], cs["_total_1"], hll_err[1])
        add(
            "vocabulary_size",
            True,
            v,
            rs["vocabulary_size"] if rs else None,
            (lo * cs["_total_1"], hi * cs["_total_1"]),
        )
        add(
            "hapax_ratio",
            True,
            cs["hapax_ratio"],
            rs["hapax_ratio"] if rs else None,
            _binomial_ci(cs["hapax_ratio"], cs["_types"]),
        )
        z, zse = cs["zipf_exponent"], cs["_zipf_se"]
        add("zipf_exponent", False, z, rs["zipf_exponent"] if rs else None, (z - _Z * zse, z + _Z * zse))

        def doc_ratio(side: _Side, y: str, x: str) -> tuple[float, tuple[float, float]]:
            return _ratio_ci(side.doc_array(y).astype(np.float64), side.doc_array(x).astype(np.float64))

        m, mci = doc_ratio(cand, "mattr_sum", "mattr_windows")
        add("mattr", True, m, doc_ratio(ref, "mattr_sum", "mattr_windows")[0] if has_ref else None, mci)
        r, rci = doc_ratio(cand, "rep", "rep_total")
        add("repetition_rate", False, r, doc_ratio(ref, "rep", "rep_total")[0] if has_ref else None, rci)

        k = min(len(cand.sample), len(ref.sample)) if has_ref else len(cand.sample)
        c_sample = self._sample_stats([t for _, t in cand.sample[:k]])
        r_sample = self._sample_stats([t for _, t in ref.sample[:k]]) if has_ref else None
        for name in ("compression_ratio", "self_bleu"):
            val, ci = c_sample[name]
            values.append(
                MetricValue(
                    name,
                    float(val),
                    False,
                    r_sample[name][0] if r_sample else None,
                    ci,
                    "half-sampling" if name == "compression_ratio" else "analytic",
                )
            )

        c_len = cand.doc_array("length").astype(np.float64)
        mean = float(c_len.mean())
        se = float(c_len.std(ddof=1) / math.sqrt(c_len.size)) if c_len.size > 1 else 0.0
        r_len = ref.doc_array("length").astype(np.float64) if has_ref else None
        add(
            "length_mean",
            True,
            mean,
            float(r_len.mean()) if r_len is not None else None,
            (mean - _Z * se, mean + _Z * se),
        )
        details: dict[str, Any] = {
            "compared_at_tokens": target,
            "candidate_tokens": tc,
            "reference_tokens": tr if has_ref else None,
            "candidate_vocabulary_mode": "exact" if cand.stores[0].exact else "hyperloglog",
            "sample_documents": k,
        }
        if r_len is not None:
            for a in p["alphas"]:
                q_lo, q_hi = np.quantile(r_len, [a, 1 - a])
                cm = float(np.mean((c_len < q_lo) | (c_len > q_hi)))
                rm = float(np.mean((r_len < q_lo) | (r_len > q_hi)))
                add(f"length_tail_mass_{a:g}", True, cm, rm, _binomial_ci(cm, c_len.size))
                details[f"length_quantiles_{a:g}"] = [float(q_lo), float(q_hi)]
            top = float(np.quantile(np.concatenate([c_len, r_len]), 0.999))
            edges = np.linspace(0.0, max(top, 1.0), 31)
            details["length_hist_edges"] = edges.tolist()
            details["length_hist_candidate"] = np.histogram(np.minimum(c_len, edges[-1]), edges)[0].tolist()
            details["length_hist_reference"] = np.histogram(np.minimum(r_len, edges[-1]), edges)[0].tolist()
        kept, undefined = _finite_values(values)
        if undefined:
            details["undefined"] = ", ".join(undefined)
        return MetricResult(
            metric=self.name,
            family=self.family,
            config_id=self.config_id,
            n=cand.n_docs,
            n_reference=ref.n_docs if has_ref else None,
            values=tuple(kept),
            details=details,
        )
