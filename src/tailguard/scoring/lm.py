"""A word trigram language model over hashed tokens, and the per-document features it gives.

Machine text sampled from an n-gram model, or from any model that favours its
most probable continuations, is *more* predictable than people are under a
language model of the same domain: its mean token log-probability is higher and
its spread lower (the observation behind likelihood-based detectors such as
GLTR and DetectGPT). Text from outside the domain, or template spam, is the
opposite: many words and n-grams the reference never uses.

The same tables give the share of a document's 4- and 5-grams that the
reference also holds: text spliced together from the reference's spans (an
n-gram chain trained on it, a model that memorised it) shares long n-grams
with it far more often than a new human document does.

**Leave one document out.** A reference document is scored against the
counts of the *other* reference documents (its own n-grams are subtracted), so
it is scored exactly as a new document of the same corpus would be. Only then
can reference and candidate scores be compared.

The model is interpolated Witten-Bell (Witten & Bell 1991; Chen & Goodman
1998, section 2.5) over word 1-, 2- and 3-grams of the tokeniser of
:mod:`tailguard.metrics.tokenize`, with add-one unigrams over the reference
vocabulary plus one unknown word. Every count is a sorted table of 64-bit
n-gram hashes, so fitting and scoring stay in numpy.

>>> lm = NgramLM.fit(["the cat sat on the mat", "the cat ran to the mat"] * 5)
>>> f = lm.doc_features(["the cat sat on the mat", "zebra quantum glyph"])
>>> bool(f[0, FEATURES.index("mean_logprob")] > f[1, FEATURES.index("mean_logprob")])
True
>>> f[:, FEATURES.index("oov_share")].tolist()
[0.0, 1.0]
>>> own = lm.doc_features(["the cat sat on the mat", "the cat ran to the mat"] * 5, own=True)
>>> bool(own[0, FEATURES.index("seen_5gram_share")] == 1.0)   # its copies are other documents
True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tailguard.metrics.tokenize import TokenizedBatch, encode_texts, mix64, tokenize, unique_u64

_U64 = np.uint64
# odd multipliers that chain an (n-1)-gram hash with the next token
_NGRAM_K = (0, 0, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB, 0xD6E8FEB86659FD93, 0xA0761D6478BD642F)

#: Names of the columns :meth:`NgramLM.doc_features` returns, in order.
FEATURES: tuple[str, ...] = (
    "mean_logprob",  # mean natural-log probability of a token under the trigram model
    "std_logprob",  # its spread over the document's tokens
    "low_logprob_share",  # share of tokens less probable than 1 in 10 000
    "oov_share",  # share of tokens the reference never uses
    "novel_bigram_share",  # share of the document's bigrams the reference never uses
    "novel_trigram_share",  # the same for trigrams
    "seen_4gram_share",  # share of the document's 4-grams the reference also holds
    "seen_5gram_share",  # the same for 5-grams
    "log_tokens",  # log(1 + number of tokens)
    "distinct_share",  # distinct tokens / tokens (repetition inside the document)
)
_LOW = np.log(1e-4)
ORDER = 5  # longest n-gram counted (probabilities use orders 1-3)


def _grams(tok: TokenizedBatch) -> tuple[list[np.ndarray], np.ndarray]:
    """Per token, the hash of the n-gram of each order 1..ORDER that ends at it, and the token's
    position inside its document (an n-gram exists where position >= n - 1)."""
    h = tok.hashes
    n = len(h)
    pos = np.arange(n, dtype=np.int64) - np.repeat(tok.doc_offsets[:-1], tok.doc_lengths)
    grams = [h]
    with np.errstate(over="ignore"):
        for order in range(2, ORDER + 1):
            g = np.zeros(n, dtype=_U64)
            if n >= order:
                g[order - 1 :] = mix64(grams[-1][order - 2 : -1] * _U64(_NGRAM_K[order]) + h[order - 1 :])
            grams.append(g)
    return grams, pos


def _shift(x: np.ndarray) -> np.ndarray:
    """``x`` moved one token later (the context of the n-gram ending at each token)."""
    out = np.zeros_like(x)
    out[1:] = x[:-1]
    return out


@dataclass(frozen=True)
class _Table:
    """Sorted distinct keys with a count each; :meth:`get` looks keys up (0 when absent)."""

    keys: np.ndarray
    counts: np.ndarray

    @classmethod
    def of(cls, values: np.ndarray) -> _Table:
        keys, counts = unique_u64(values, counts=True)
        return cls(keys, counts.astype(np.int64))

    def get(self, values: np.ndarray) -> np.ndarray:
        if self.keys.size == 0:
            return np.zeros(len(values), dtype=np.int64)
        # binary searches in query order jump around a large table; in sorted order they stay in cache
        # (about 5x faster for millions of lookups, sort included)
        order = np.argsort(values)
        at = np.empty(len(values), dtype=np.int64)
        at[order] = np.searchsorted(self.keys, values[order])
        np.minimum(at, self.keys.size - 1, out=at)
        return np.where(self.keys[at] == values, self.counts[at], 0)


def _first_of(keys: np.ndarray) -> np.ndarray:
    """A mask of the first occurrence of each distinct value (in sorted order: returns (order, mask))."""
    order = np.argsort(keys, kind="stable")
    s = keys[order]
    first = np.ones(len(s), dtype=bool)
    first[1:] = s[1:] != s[:-1]
    return order[first]


def _in_doc(keys: np.ndarray, doc: np.ndarray) -> np.ndarray:
    """``keys`` made unique per document (the same n-gram in two documents gets two keys)."""
    with np.errstate(over="ignore"):
        return mix64(keys ^ mix64(doc.astype(_U64) + _U64(0x632BE59BD9B4E019)))


@dataclass(frozen=True)
class _Order:
    """Counts of the n-grams of one order, and (orders 2-3) of their contexts as Witten-Bell needs them."""

    grams: _Table
    contexts: _Table | None = None  # occurrences of a context as the prefix of an n-gram
    types: _Table | None = None  # distinct n-grams that extend it


@dataclass(frozen=True)
class NgramLM:
    """Interpolated Witten-Bell trigram counts of a reference corpus, plus 4- and 5-gram tables
    (see the module docstring)."""

    orders: tuple[_Order, ...]
    n_tokens: int
    vocabulary: int

    @classmethod
    def fit(cls, texts: Sequence[str] | Sequence[bytes] | TokenizedBatch) -> NgramLM:
        """Count the n-grams of ``texts`` (n-grams never cross documents)."""
        tok = _tokens(texts, "reference texts")
        grams, pos = _grams(tok)
        orders = []
        for n, g in enumerate(grams, start=1):
            ok = pos >= n - 1
            if n in (2, 3):
                ctx = _shift(grams[n - 2])[ok]
                first = _first_of(g[ok])
                orders.append(_Order(_Table.of(g[ok]), _Table.of(ctx), _Table.of(ctx[first])))
            else:
                orders.append(_Order(_Table.of(g[ok])))
        return cls(tuple(orders), n_tokens=int(tok.n_tokens), vocabulary=int(orders[0].grams.keys.size))

    def _unknown(self, n_tokens: float) -> float:
        return 1.0 / (n_tokens + self.vocabulary + 1.0)

    def doc_features(self, texts: Sequence[str] | Sequence[bytes] | TokenizedBatch, *, own: bool = False) -> np.ndarray:
        """One row of :data:`FEATURES` per document.

        ``own=True`` says ``texts`` are the very documents the model was fitted on: each is then
        scored against the counts of the others (leave one document out). A document without words
        gets the worst case: the probability of an unseen word, every novelty share 1, seen shares 0.
        """
        tok = _tokens(texts, "texts")
        n_docs = tok.n_docs
        out = np.zeros((n_docs, len(FEATURES)))
        worst = [np.log(self._unknown(self.n_tokens)), 0.0, 1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 1.0]
        if tok.n_tokens == 0:
            out[:] = worst
            return out
        grams, pos = _grams(tok)
        doc = tok.doc_index()
        counts, seen = self._counts(grams, pos, doc, own)
        c1 = counts[0]
        # add-one unigrams: a left-out document's own tokens leave the total, and its own words the vocabulary
        total = self.n_tokens - (tok.doc_lengths[doc] if own else 0)
        vocabulary = self.vocabulary - (self._own_words(grams[0], doc, c1, tok.n_docs)[doc] if own else 0)
        p = (c1 + 1.0) / (total + vocabulary + 1.0)
        for n in (2, 3):
            ok = pos >= n - 1
            c, c_ctx, t_ctx = (x[ok].astype(float) for x in seen[n])
            p[ok] = np.where(c_ctx > 0, (c + t_ctx * p[ok]) / np.maximum(c_ctx + t_ctx, 1.0), p[ok])
        logp = np.log(p)
        lens = tok.doc_lengths
        safe = np.maximum(lens, 1)

        def mean_of(values: np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
            if mask is None:
                return np.bincount(doc, values, n_docs) / safe
            den = np.bincount(doc[mask], minlength=n_docs)
            return np.where(den > 0, np.bincount(doc[mask], values[mask], n_docs) / np.maximum(den, 1), np.nan)

        mean = mean_of(logp)
        out[:, 0] = mean
        out[:, 1] = np.sqrt(np.maximum(mean_of(logp * logp) - mean * mean, 0.0))
        out[:, 2] = mean_of((logp < _LOW).astype(float))
        out[:, 3] = mean_of((c1 == 0).astype(float))
        for col, n, novel in ((4, 2, True), (5, 3, True), (6, 4, False), (7, 5, False)):
            ok = pos >= n - 1
            hit = (counts[n - 1] == 0) if novel else (counts[n - 1] > 0)
            share = mean_of(hit.astype(float), ok)
            # a document too short for any n-gram of this order reads as its words do
            out[:, col] = np.where(np.isnan(share), out[:, 3] if novel else 1.0 - out[:, 3], share)
        out[:, 8] = np.log1p(lens)
        out[:, 9] = _distinct_share(tok, doc)
        out[lens == 0] = worst
        return out

    @staticmethod
    def _own_words(tokens: np.ndarray, doc: np.ndarray, left: np.ndarray, n_docs: int) -> np.ndarray:
        """Per document: its distinct words that no other document uses (``left``: counts less its own)."""
        firsts = _first_of(_in_doc(tokens, doc))
        return np.bincount(doc[firsts][left[firsts] == 0], minlength=n_docs)

    def _counts(
        self, grams: list[np.ndarray], pos: np.ndarray, doc: np.ndarray, own: bool
    ) -> tuple[list[np.ndarray], dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]]:
        """Per token and order: the n-gram's count, and for orders 2-3 (count, context count, context types),
        each less the document's own share when ``own``."""
        counts = []
        for n, g in enumerate(grams, start=1):
            c = self.orders[n - 1].grams.get(g)
            if own:
                ok = pos >= n - 1
                keyed = _in_doc(g, doc)
                c = c - np.where(ok, _Table.of(keyed[ok]).get(keyed), 0)
            counts.append(c)
        seen = {}
        for n in (2, 3):
            order = self.orders[n - 1]
            assert order.contexts is not None and order.types is not None
            ctx = _shift(grams[n - 2])
            c_ctx = order.contexts.get(ctx)
            t_ctx = order.types.get(ctx)
            if own:
                ok = pos >= n - 1
                ctx_keyed = _in_doc(ctx, doc)
                c_ctx = c_ctx - np.where(ok, _Table.of(ctx_keyed[ok]).get(ctx_keyed), 0)
                # an n-gram only this document holds stops being a type of its context
                keyed = _in_doc(grams[n - 1], doc)
                idx = np.flatnonzero(ok)
                firsts = idx[_first_of(keyed[idx])]
                lone = firsts[counts[n - 1][firsts] == 0]
                t_ctx = t_ctx - np.where(ok, _Table.of(ctx_keyed[lone]).get(ctx_keyed), 0)
            seen[n] = (counts[n - 1], c_ctx, t_ctx)
        return counts, seen


def _tokens(texts: Sequence[str] | Sequence[bytes] | TokenizedBatch, what: str) -> TokenizedBatch:
    return texts if isinstance(texts, TokenizedBatch) else tokenize(encode_texts(texts, what=what))


def _distinct_share(tok: TokenizedBatch, doc: np.ndarray) -> np.ndarray:
    """Distinct tokens / tokens per document (1 for an empty one)."""
    firsts = _first_of(_in_doc(tok.hashes, doc))
    distinct = np.bincount(doc[firsts], minlength=tok.n_docs)
    lens = tok.doc_lengths
    return np.where(lens > 0, distinct / np.maximum(lens, 1), 1.0)
