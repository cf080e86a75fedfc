"""Text statistics: checked against direct Python computations, NLTK and theory."""

from __future__ import annotations

import itertools
import math
import pickle
import re
from collections import Counter

import numpy as np
import pytest

from tailguard.errors import EmptyDatasetError, ParameterError, TextFormatError, UnknownChoiceError
from tailguard.metrics.base import METRICS
from tailguard.metrics.bleu import sentence_self_bleu
from tailguard.metrics.hll import hll_add, hll_empty, hll_estimate, hll_merge
from tailguard.metrics.text import (
    TextStatsMetric,
    compression_ratio,
    distinct_ngrams,
    mattr_parts,
    repetition_parts,
    zipf_mle,
)
from tailguard.metrics.tokenize import doc_keys, encode_texts, iter_ngram_hashes, mix64, ngram_hashes, tokenize

WORD = re.compile(r"[a-z0-9_]+")


def zipf_docs(n_docs: int, vocab: int, seed: int, *, length: tuple[int, int] = (20, 80), a: float = 1.1) -> list[str]:
    """Documents of i.i.d. words drawn from a Zipf law over ``vocab`` words."""
    rng = np.random.default_rng(seed)
    p = 1.0 / np.arange(1, vocab + 1) ** a
    p /= p.sum()
    docs = []
    for _ in range(n_docs):
        k = int(rng.integers(*length))
        docs.append(" ".join(f"w{i}" for i in rng.choice(vocab, size=k, p=p)))
    return docs


def py_tokens(doc: str) -> list[str]:
    return WORD.findall(doc.lower())


# -- tokenisation --------------------------------------------------------------------------------
def test_token_hashes_match_regex_tokens():
    rng = np.random.default_rng(1)
    alphabet = list("abcXYZ019_ .,;!-\n\t")
    docs = ["".join(rng.choice(alphabet, size=int(rng.integers(0, 200)))) for _ in range(60)]
    tok = tokenize(encode_texts(docs))
    expected = [py_tokens(d) for d in docs]
    assert tok.doc_lengths.tolist() == [len(t) for t in expected]
    flat = [t for ts in expected for t in ts]
    # equal hashes exactly for equal token strings
    by_hash: dict[int, str] = {}
    for h, t in zip(tok.hashes.tolist(), flat, strict=True):
        assert by_hash.setdefault(h, t) == t
    assert len(by_hash) == len(set(flat))


M64 = (1 << 64) - 1
P_HASH = 0x9E3779B97F4A7C15 | 1
P_POWERS = [pow(P_HASH, j, 1 << 64) for j in range(4096)]
NGRAM_K = (0, 0, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB, 0xD6E8FEB86659FD93)


def py_mix64(x: int) -> int:
    z = (x + 0x9E3779B97F4A7C15) & M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def py_token_hashes(doc: str, seed: int) -> list[int]:
    """The documented definition in plain Python: sum of byte * P**min(j, 4095) mod 2**64, then mix64."""
    words = re.findall(rb"[a-z0-9_\x80-\xff]+", doc.encode("utf-8").lower())
    return [py_mix64(sum(b * P_POWERS[min(j, 4095)] for j, b in enumerate(w)) & M64 ^ seed) for w in words]


def test_token_hashes_equal_the_definition():
    rng = np.random.default_rng(4)
    words = ["a", "Zeta", "naïve", "日本語", "x_1", "w" * 4095, "v" * 4096, "u" * 9000]
    # tokens across the 64 KiB blocks the vectorised sum works in, long ones, multi-byte UTF-8
    docs = [" " * 65_530 + "straddles the edge", " ".join(rng.choice(words, size=400)), "", "...", "Q" * 70_000 + "!r"]
    docs += ["".join(rng.choice(list("abZ9_ .é"), size=int(rng.integers(0, 40_000)))) for _ in range(8)]
    for seed in (0, 5):
        tok = tokenize(encode_texts(docs), seed=seed)
        expected = [py_token_hashes(d, seed) for d in docs]
        assert tok.doc_lengths.tolist() == [len(e) for e in expected]
        assert tok.hashes.tolist() == [h for e in expected for h in e]
    # values pinned before the block-wise sum replaced per-byte offsets: hashes are stable across versions
    tok = tokenize(encode_texts(["Hello, wörld_2!", "x" * 5000 + " tail"]), seed=3)
    assert tok.hashes.tolist() == [3114296606131868592, 4919060809445265557, 11221788586800267831, 8971600716704324032]


def test_ngram_hashes_chain_token_hashes():
    docs = ["a b c d e", "f g", "h i j k"]
    tok = tokenize(encode_texts(docs))
    h = tok.hashes.tolist()
    orders = list(iter_ngram_hashes(tok, 4))
    assert [n for n, _, _ in orders] == [1, 2, 3, 4]
    for n, g, doc in orders:
        expected, owners = [], []
        for d, (lo, hi) in enumerate(zip(tok.doc_offsets[:-1], tok.doc_offsets[1:], strict=True)):
            for i in range(lo, hi - n + 1):
                x = h[i]
                for k in range(2, n + 1):
                    x = py_mix64((x * NGRAM_K[k] + h[i + k - 1]) & M64)
                expected.append(x)
                owners.append(d)
        assert g.tolist() == expected and doc.tolist() == owners
        g1, doc1 = ngram_hashes(tok, n)
        assert np.array_equal(g1, g) and np.array_equal(doc1, doc)


def test_ngrams_stay_inside_documents():
    docs = ["a b c", "d e", "", "f g h i"]
    tok = tokenize(encode_texts(docs))
    for n in (1, 2, 3, 4):
        g, doc = ngram_hashes(tok, n)
        expected = [max(len(py_tokens(d)) - n + 1, 0) for d in docs]
        assert np.bincount(doc, minlength=len(docs)).tolist() == expected
        assert len(g) == sum(expected)


def test_bad_text_input_is_named():
    m = TextStatsMetric()
    with pytest.raises(TextFormatError, match="candidate text batch item 1: expected str, got int"):
        m.update(["fine", 7])
    with pytest.raises(TextFormatError, match="reference text batch item 0: not valid UTF-8"):
        m.update_reference([b"\xff\xfe"])
    with pytest.raises(TextFormatError, match="not encodable"):
        m.update(["bad \ud800 surrogate"])
    with pytest.raises(TextFormatError, match="expected a sequence"):
        m.update("a single string")


def test_parameters_validated():
    with pytest.raises(ParameterError, match="The 'sample_size' parameter of TextStatsMetric must be an int"):
        TextStatsMetric(sample_size=5000)
    with pytest.raises(UnknownChoiceError, match="Did you mean 'mattr_window'"):
        TextStatsMetric(mattr_windw=10)


def test_empty_candidate_raises():
    m = TextStatsMetric()
    m.update_reference(["some words here"])
    with pytest.raises(EmptyDatasetError):
        m.result()


# -- exact statistics against plain Python ---------------------------------------------------------
def test_distinct_vocab_hapax_match_python():
    docs = zipf_docs(120, 400, seed=3)
    r = TextStatsMetric(sample_size=50).update(docs).result()
    toks = [py_tokens(d) for d in docs]
    for n in (1, 2, 3, 4):
        grams = [tuple(t[i : i + n]) for t in toks for i in range(len(t) - n + 1)]
        assert r.value(f"distinct_{n}").value == pytest.approx(len(set(grams)) / len(grams), abs=1e-12)
    counts = Counter(w for t in toks for w in t)
    assert r.value("vocabulary_size").value == len(counts)
    assert r.value("hapax_ratio").value == pytest.approx(sum(c == 1 for c in counts.values()) / len(counts))
    lengths = [len(t) for t in toks]
    assert r.value("length_mean").value == pytest.approx(np.mean(lengths))
    for v in r.values:
        assert v.ci is not None and v.ci[0] <= v.value + 1e-12 and v.value <= v.ci[1] + 1e-12, v.name


def test_distinct_ngrams_is_the_metrics_definition():
    docs = zipf_docs(80, 300, seed=8)
    toks = [py_tokens(d) for d in docs]
    ours = distinct_ngrams(docs, 4)
    r = TextStatsMetric(sample_size=20).update(docs).result()
    for n in (1, 2, 3, 4):
        grams = [tuple(t[i : i + n]) for t in toks for i in range(len(t) - n + 1)]
        assert ours[n - 1] == len(set(grams)) / len(grams)
        assert ours[n - 1] == r.value(f"distinct_{n}").value
    # joined into one string, n-grams cross documents
    flat = [w for t in toks for w in t]
    crossing = distinct_ngrams([" ".join(docs)], 2)[1]
    assert crossing == len(set(itertools.pairwise(flat))) / (len(flat) - 1)
    assert distinct_ngrams(["a b", "c"], 3) == (1.0, 1.0, pytest.approx(math.nan, nan_ok=True))
    with pytest.raises(ParameterError, match="max_n must be an int from 1 to 5, got 6"):
        distinct_ngrams(docs, 6)
    with pytest.raises(TextFormatError, match="distinct_ngrams documents item 1: expected str, got int"):
        distinct_ngrams(["ok", 1])


def test_compression_ratio_is_the_metrics_definition():
    zstandard = pytest.importorskip("zstandard")
    docs = zipf_docs(40, 200, seed=9)
    blob = "\n".join(docs).encode()
    assert compression_ratio(docs, level=5) == len(blob) / len(zstandard.ZstdCompressor(level=5).compress(blob))
    # text_stats compresses its sample, in the order of the documents' seeded keys: here all of them
    keys = doc_keys(encode_texts(docs), 0)
    in_key_order = [docs[i] for i in np.argsort(keys, kind="stable")]
    r = TextStatsMetric(sample_size=50).update(docs).result()
    assert r.value("compression_ratio").value == compression_ratio(in_key_order)
    assert math.isnan(compression_ratio([]))
    with pytest.raises(ParameterError, match="level must be an int from 1 to 22, got 0"):
        compression_ratio(docs, level=0)


@pytest.mark.parametrize("max_exact", [2_000_000, 1024])
def test_values_do_not_depend_on_which_orders_are_sorted_by_occurrence(max_exact):
    # n-gram orders that feed MATTR or the repetition rate are sorted by occurrence, the others by
    # value within each stratum; the distinct counts must not depend on which path an order took
    cand = zipf_docs(300, 2000, seed=12, a=0.8)
    ref = zipf_docs(500, 2000, seed=13, a=0.8)
    names = [f"distinct_{n}" for n in (1, 2, 3, 4)] + ["vocabulary_size", "hapax_ratio", "zipf_exponent"]
    got = []
    for rep_n in (1, 2, 3, 4):
        m = TextStatsMetric(sample_size=20, max_exact=max_exact, repetition_n=rep_n)
        r = m.update(cand[:150]).update(cand[150:]).update_reference(ref).result()
        got.append([(r.value(k).value, r.value(k).reference_value) for k in names])
    assert all(g == got[0] for g in got[1:])


def naive_mattr(tokens: list[str], w: int) -> tuple[float, int]:
    if len(tokens) < w:
        return (len(set(tokens)) / len(tokens), 1) if tokens else (0.0, 0)
    ttrs = [len(set(tokens[s : s + w])) / w for s in range(len(tokens) - w + 1)]
    return sum(ttrs), len(ttrs)


def test_mattr_and_repetition_match_naive():
    docs = [*zipf_docs(30, 40, seed=5, length=(0, 120)), "x x x x y", ""]
    tok = tokenize(encode_texts(docs))
    sums, windows = mattr_parts(tok, 25)
    rep, total = repetition_parts(tok, 3)
    for i, d in enumerate(docs):
        t = py_tokens(d)
        s, k = naive_mattr(t, 25)
        assert sums[i] == pytest.approx(s) and windows[i] == k
        grams = [tuple(t[j : j + 3]) for j in range(len(t) - 2)]
        assert total[i] == len(grams) and rep[i] == len(grams) - len(set(grams))


def test_self_bleu_matches_nltk():
    bleu = pytest.importorskip("nltk.translate.bleu_score")
    docs = zipf_docs(25, 30, seed=7, length=(3, 25))
    docs += [docs[0], "w1", "w999 w998"]  # an exact copy, a one-word doc, a doc with no match
    tok = tokenize(encode_texts(docs))
    ours = sentence_self_bleu(tok)
    toks = [py_tokens(d) for d in docs]
    smooth = bleu.SmoothingFunction().method1
    for i, hyp in enumerate(toks):
        refs = toks[:i] + toks[i + 1 :]
        theirs = bleu.sentence_bleu(refs, hyp, smoothing_function=smooth)
        assert ours[i] == pytest.approx(theirs, abs=1e-9), (i, hyp)


def test_zipf_mle_recovers_exponent():
    rng = np.random.default_rng(11)
    for alpha in (1.8, 2.5):
        s, se = zipf_mle(rng.zipf(alpha, size=20_000))
        assert abs(s - 1 / (alpha - 1)) < 4 * se + 0.01


# -- HyperLogLog ------------------------------------------------------------------------------------
def test_hll_accuracy_and_merge():
    h = mix64(np.arange(200_000, dtype=np.uint64))
    a = hll_add(hll_empty(14), h[:120_000], 14)
    b = hll_add(hll_empty(14), h[80_000:], 14)
    whole = hll_add(hll_empty(14), h, 14)
    assert np.array_equal(hll_merge(a, b), whole)
    # standard error 1.04/sqrt(2**14) = 0.8%; 4 sigma
    assert abs(hll_estimate(whole) / 200_000 - 1) < 0.033
    assert abs(hll_estimate(hll_add(hll_empty(14), h[:500], 14)) - 500) < 10  # linear counting


def test_vocabulary_switches_to_hll_past_the_bound():
    docs = zipf_docs(400, 20_000, seed=2, length=(50, 100), a=0.6)
    exact = TextStatsMetric(sample_size=20).update(docs).result()
    sketched = TextStatsMetric(sample_size=20, max_exact=2048).update(docs).result()
    assert exact.details["candidate_vocabulary_mode"] == "exact"
    assert sketched.details["candidate_vocabulary_mode"] == "hyperloglog"
    for name in ("vocabulary_size", "distinct_1", "distinct_2", "distinct_4"):
        assert sketched.value(name).value == pytest.approx(exact.value(name).value, rel=0.04), name
    # hapax ratio and Zipf exponent from a hash sample of about 2k types out of ~14k
    assert sketched.value("hapax_ratio").value == pytest.approx(exact.value("hapax_ratio").value, abs=0.05)
    assert sketched.value("zipf_exponent").value == pytest.approx(exact.value("zipf_exponent").value, rel=0.15)


# -- comparison with the reference --------------------------------------------------------------------
def test_reference_is_compared_at_the_candidates_size():
    cand = zipf_docs(150, 3000, seed=21)
    ref = zipf_docs(2400, 3000, seed=22)
    r = TextStatsMetric(sample_size=100).update(cand).update_reference(ref).result()
    assert r.details["compared_at_tokens"] == r.details["candidate_tokens"]
    full_ref = TextStatsMetric(sample_size=100).update(ref).result()
    for name in ("distinct_1", "distinct_2", "vocabulary_size", "hapax_ratio"):
        v = r.value(name)
        # same generator: equal within 6% at the same N ...
        assert v.ratio == pytest.approx(1.0, abs=0.06), name
        # ... while the full-size reference would be far off (so the subsampling matters)
        assert abs(v.value / full_ref.value(name).value - 1) > 0.15, name
    for name in ("mattr", "self_bleu", "length_mean", "compression_ratio"):
        assert r.value(name).ratio == pytest.approx(1.0, abs=0.1), name
    rep = r.value("repetition_rate")  # rare in i.i.d. text: compare on the absolute scale
    assert abs(rep.value - rep.reference_value) < 0.01


def test_collapsed_text_is_less_diverse():
    ref = zipf_docs(300, 3000, seed=31)
    rng = np.random.default_rng(0)
    # collapse: a tiny vocabulary and docs that are copies of a few templates
    templates = zipf_docs(10, 60, seed=32)
    cand = [templates[i] for i in rng.integers(0, 10, size=300)]
    r = TextStatsMetric(sample_size=200).update(cand).update_reference(ref).result()
    for name in ("distinct_1", "distinct_2", "distinct_4", "vocabulary_size", "mattr"):
        assert r.value(name).ratio < 0.8, name
    for name in ("self_bleu", "compression_ratio", "repetition_rate"):
        assert r.value(name).ratio > 1.2, name


def test_length_tails_lost():
    ref = zipf_docs(1000, 500, seed=41, length=(5, 400))
    cand = zipf_docs(1000, 500, seed=42, length=(150, 250))
    r = TextStatsMetric(sample_size=50).update(cand).update_reference(ref).result()
    t = r.value("length_tail_mass_0.05")
    assert t.reference_value == pytest.approx(0.10, abs=0.01)
    assert t.value == 0.0
    assert sum(r.details["length_hist_candidate"]) == 1000


# -- the accumulator contract ----------------------------------------------------------------------------
@pytest.mark.parametrize("max_exact", [2_000_000, 1500])
def test_merge_equals_union_and_pickles(max_exact):
    cand = zipf_docs(300, 3000, seed=51, a=0.8)
    ref = zipf_docs(500, 3000, seed=52, a=0.8)
    kw = {"sample_size": 60, "max_exact": max_exact}
    whole = TextStatsMetric(**kw).update(cand).update_reference(ref)
    a = TextStatsMetric(**kw).update(cand[:100]).update_reference(ref[300:])
    b = TextStatsMetric(**kw).update(cand[200:]).update(cand[100:200]).update_reference(ref[:300])
    b = pickle.loads(pickle.dumps(b))
    merged = a.merge(b)
    ra, rb = whole.result().to_dict(), merged.result().to_dict()
    assert ra["n"] == rb["n"] == 300 and ra["details"] == rb["details"]
    for va, vb in zip(ra["values"], rb["values"], strict=True):
        assert va["name"] == vb["name"]
        assert va["value"] == pytest.approx(vb["value"], rel=1e-9), va["name"]
        assert va["reference_value"] == pytest.approx(vb["reference_value"], rel=1e-9), va["name"]


def test_registered_and_json_serialisable():
    import json

    assert METRICS.get("text_stats") is TextStatsMetric
    r = TextStatsMetric(sample_size=10).update(["a b c", "d e f g"]).result()
    text = json.dumps(r.to_dict())
    assert all(v["reference_value"] is None for v in json.loads(text)["values"])
    assert not math.isnan(r.value("distinct_1").value)


def test_undefined_values_are_left_out_not_nan():
    import json

    r = TextStatsMetric(sample_size=10).update(["one two", "three"]).result()
    names = [v.name for v in r.values]
    assert "distinct_1" in names and "distinct_4" not in names and "zipf_exponent" not in names
    assert "distinct_4" in r.details["undefined"]
    json.dumps(r.to_dict(), allow_nan=False)
    with pytest.raises(EmptyDatasetError, match="the reference has no words"):
        TextStatsMetric().update(["a b"]).update_reference(["", "..."]).result()


def test_tokenize_in_chunks_equals_one_pass(monkeypatch):
    import tailguard.metrics.tokenize as tk

    docs = encode_texts(zipf_docs(200, 300, seed=61))
    whole = tokenize(docs)
    monkeypatch.setattr(tk, "_CHUNK_BYTES", 1000)
    chunked = tokenize(docs)
    assert np.array_equal(whole.hashes, chunked.hashes)
    assert np.array_equal(whole.doc_offsets, chunked.doc_offsets)
