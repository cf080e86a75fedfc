"""Vectorised self-BLEU (Zhu et al. 2018, Texygen) over hashed tokens.

Each document of a sample is scored with sentence BLEU-4 against all the
*other* documents as references, and self-BLEU is the mean score. Higher
self-BLEU means the documents repeat each other: less diversity.

The definition follows NLTK's ``sentence_bleu`` with uniform weights and
``SmoothingFunction().method1`` (epsilon 0.1 added to zero n-gram matches),
the setting Texygen uses:

* clipped n-gram counts use, for each n-gram, the largest count in any one
  other document (computed for all documents at once from the largest and the
  second-largest count of each n-gram held by more than one document);
* the brevity penalty uses the reference length closest to the hypothesis
  length (ties to the shorter one);
* a document with no unigram match scores 0.

>>> import numpy as np
>>> from tailguard.metrics.tokenize import encode_texts, tokenize
>>> tok = tokenize(encode_texts(["a b c d e", "a b c d e", "v w x y z"]))
>>> scores = sentence_self_bleu(tok)
>>> [round(float(s), 3) for s in scores]
[1.0, 1.0, 0.0]
"""

from __future__ import annotations

import math

import numpy as np

from tailguard.metrics.tokenize import TokenizedBatch, iter_ngram_hashes, mix64

_EPSILON = 0.1


def _clipped_counts(g: np.ndarray, doc: np.ndarray, n_docs: int) -> np.ndarray:
    """Per document: sum over its n-grams of min(count in doc, max count in any other doc)."""
    if g.size == 0:
        return np.zeros(n_docs)
    doc_bits = max(1, int(n_docs).bit_length())
    low = np.uint64((1 << doc_bits) - 1)
    keys = np.sort((mix64(g) >> np.uint64(doc_bits) << np.uint64(doc_bits)) | doc.astype(np.uint64))
    # runs of equal (n-gram, doc): one row per n-gram present in a doc, with its count
    new = np.ones(len(keys), dtype=bool)
    new[1:] = keys[1:] != keys[:-1]
    starts = np.flatnonzero(new)
    cnt = np.diff(np.append(starts, len(keys)))
    uk = keys[starts]
    ud = (uk & low).astype(np.int64)
    ug = uk >> np.uint64(doc_bits)
    first = np.ones(len(ug), dtype=bool)
    first[1:] = ug[1:] != ug[:-1]
    # an n-gram held by one document matches nothing in the others (adds 0): keep the shared ones
    shared = ~first
    shared[:-1] |= ~first[1:]
    cnt, ud, first = cnt[shared], ud[shared], first[shared]
    if cnt.size == 0:
        return np.zeros(n_docs)
    # n-gram groups are contiguous: largest count, the first doc holding it, and the second largest
    gstart = np.flatnonzero(first)
    gid = np.cumsum(first) - 1
    gmax = np.maximum.reduceat(cnt, gstart)
    at_max = np.flatnonzero(cnt == gmax[gid])
    lead = np.ones(len(at_max), dtype=bool)
    lead[1:] = gid[at_max[1:]] != gid[at_max[:-1]]
    argmax_pos = at_max[lead]  # one per group, in group order
    rest = cnt.copy()
    rest[argmax_pos] = 0
    gsecond = np.maximum.reduceat(rest, gstart)
    # min(count, largest count in another doc) is the count itself, except at the first largest
    clipped = cnt.copy()
    clipped[argmax_pos] = gsecond
    return np.bincount(ud, weights=clipped, minlength=n_docs)


def _closest_ref_lengths(lengths: np.ndarray) -> np.ndarray:
    """For each document, the length of the closest *other* document (ties: the shorter)."""
    n = len(lengths)
    order = np.argsort(lengths, kind="stable")
    s = lengths[order].astype(np.float64)
    left = np.full(n, np.inf)
    right = np.full(n, np.inf)
    left[1:] = s[:-1]
    right[:-1] = s[1:]
    dl = np.abs(s - left)
    dr = np.abs(right - s)
    best = np.where(dl <= dr, left, right)
    out = np.empty(n)
    out[order] = best
    return out


def sentence_self_bleu(tok: TokenizedBatch, max_n: int = 4) -> np.ndarray:
    """BLEU-``max_n`` of every document against all the others (see the module docstring)."""
    n_docs = tok.n_docs
    if n_docs < 2:
        return np.zeros(n_docs)
    lengths = tok.doc_lengths.astype(np.float64)
    log_p = np.zeros(n_docs)
    unigram_match = None
    for n, g, doc in iter_ngram_hashes(tok, max_n):
        num = _clipped_counts(g, doc, n_docs)
        den = np.maximum(lengths - n + 1, 1.0)
        if n == 1:
            unigram_match = num
        p = np.where(num == 0, _EPSILON / den, num / den)
        log_p += np.log(p) / max_n
    ref_len = _closest_ref_lengths(lengths)
    with np.errstate(divide="ignore", invalid="ignore"):
        bp = np.where(lengths > ref_len, 1.0, np.exp(1.0 - ref_len / np.maximum(lengths, 1e-300)))
    bp[lengths == 0] = 0.0
    score = bp * np.exp(log_p)
    assert unigram_match is not None
    score[unigram_match == 0] = 0.0
    return score


def self_bleu_summary(scores: np.ndarray) -> tuple[float, tuple[float, float]]:
    """Mean self-BLEU and its normal-approximation 95% interval over documents."""
    if scores.size == 0:
        return math.nan, (math.nan, math.nan)
    mean = float(scores.mean())
    se = float(scores.std(ddof=1) / math.sqrt(scores.size)) if scores.size > 1 else 0.0
    return mean, (mean - 1.96 * se, mean + 1.96 * se)
