"""MinHash + LSH near-duplicates: against exact Jaccard, datasketch and planted duplicates."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest

from tailguard.errors import EmptyDatasetError, ParameterError, TextFormatError
from tailguard.metrics.base import METRICS
from tailguard.metrics.duplicates import NearDuplicateMetric, draw_keys, duplicate_clusters
from tailguard.metrics.minhash import MinHasher, jaccard_estimate, optimal_bands


def random_docs(n: int, seed: int, length: tuple[int, int] = (40, 90)) -> list[list[str]]:
    rng = np.random.default_rng(seed)
    return [[f"w{i}" for i in rng.integers(0, 5000, size=int(rng.integers(*length)))] for _ in range(n)]


def edit(words: list[str], frac: float, rng: np.random.Generator) -> list[str]:
    return [w if rng.random() >= frac else f"z{rng.integers(10**9)}" for w in words]


def near_copy(words: list[str], rng: np.random.Generator) -> list[str]:
    """Two new words appended: exact Jaccard of 3-shingles >= 38/40 for docs of >= 40 words."""
    return [*words, f"z{rng.integers(10**9)}", f"z{rng.integers(10**9)}"]


def shingles(words: list[str], k: int = 3) -> set[tuple[str, ...]]:
    return {tuple(words[i : i + k]) for i in range(len(words) - k + 1)}


def exact_jaccard(a: list[str], b: list[str]) -> float:
    sa, sb = shingles(a), shingles(b)
    return len(sa & sb) / len(sa | sb)


@pytest.fixture(scope="module")
def pairs():
    rng = np.random.default_rng(0)
    base = random_docs(300, seed=1)
    other = [edit(d, rng.uniform(0, 0.6), rng) for d in base]
    exact = np.array([exact_jaccard(a, b) for a, b in zip(base, other, strict=True)])
    return [" ".join(d) for d in base], [" ".join(d) for d in other], exact


@pytest.mark.parametrize("num_perm", [128, 256])
def test_estimates_are_unbiased(pairs, num_perm):
    a, b, exact = pairs
    mh = MinHasher(num_perm=num_perm, shingle_size=3, seed=3)
    est = jaccard_estimate(mh.signatures(a)[0], mh.signatures(b)[0])
    assert abs(np.mean(est - exact)) < 0.01
    # per pair the sampling error of a MinHash estimate is about sqrt(J(1-J)/num_perm)
    assert np.mean(np.abs(est - exact)) < 1.6 * np.mean(np.sqrt(exact * (1 - exact) / num_perm)) + 0.01


def test_agrees_with_datasketch(pairs):
    datasketch = pytest.importorskip("datasketch")
    a, b, exact = pairs
    mh = MinHasher(num_perm=128, shingle_size=3, seed=0)
    ours = jaccard_estimate(mh.signatures(a)[0], mh.signatures(b)[0])
    theirs = []
    for x, y in zip(a, b, strict=True):
        m1, m2 = datasketch.MinHash(num_perm=128, seed=1), datasketch.MinHash(num_perm=128, seed=1)
        m1.update_batch([" ".join(s).encode() for s in shingles(x.split())])
        m2.update_batch([" ".join(s).encode() for s in shingles(y.split())])
        theirs.append(m1.jaccard(m2))
    theirs = np.array(theirs)
    assert abs(np.mean(ours) - np.mean(theirs)) < 0.02
    # both are estimators of the same Jaccard: similar error against the exact value
    assert np.mean(np.abs(ours - exact)) < np.mean(np.abs(theirs - exact)) + 0.015


def test_signatures_do_not_depend_on_batching():
    docs = [" ".join(d) for d in random_docs(50, seed=4)] + ["", "two words"]
    mh = MinHasher(num_perm=64, shingle_size=3, seed=5)
    whole, empty = mh.signatures(docs)
    parts = np.concatenate([mh.signatures(docs[:20])[0], mh.signatures(docs[20:])[0]])
    assert np.array_equal(whole, parts)
    assert empty.tolist() == [False] * 50 + [True, False]


def test_lsh_finds_close_pairs_and_skips_far_ones():
    rng = np.random.default_rng(6)
    base = random_docs(200, seed=7)
    close = [near_copy(d, rng) for d in base]
    far = [edit(d, 0.5, rng) for d in base]
    mh = MinHasher(num_perm=128, seed=8)
    bands = optimal_bands(128, 0.8)
    assert (bands, 128 // bands) == (16, 8)
    docs = [" ".join(d) for d in base + close]
    labels = duplicate_clusters(mh.signatures(docs)[0], bands, 0.8)
    assert np.mean(labels[:200] == labels[200:]) > 0.98
    docs = [" ".join(d) for d in base + far]
    labels = duplicate_clusters(mh.signatures(docs)[0], bands, 0.8)
    assert len(np.unique(labels)) == 400


def test_planted_duplicates_and_reference_copies():
    rng = np.random.default_rng(9)
    ref = random_docs(600, seed=10)
    fresh = random_docs(300, seed=11)
    copies_within = [near_copy(fresh[i], rng) for i in range(100)]
    copies_of_ref = [near_copy(ref[i], rng) for i in range(200)]
    cand = [" ".join(d) for d in fresh + copies_within + copies_of_ref]
    r = NearDuplicateMetric().update(cand).update_reference([" ".join(d) for d in ref]).result()
    dup = r.value("duplicate_rate")
    assert dup.value == pytest.approx(100 / 600, abs=0.01)
    assert dup.reference_value < 0.005
    copy = r.value("reference_copy_rate")
    assert copy.value == pytest.approx(200 / 600, abs=0.01)
    assert copy.reference_value < 0.005
    assert dup.ci[0] <= dup.value <= dup.ci[1]
    assert r.details["largest_cluster"] == 2


def test_merge_equals_union_and_pickles():
    rng = np.random.default_rng(12)
    ref = [" ".join(d) for d in random_docs(150, seed=13)]
    base = random_docs(100, seed=14)
    cand = [" ".join(d) for d in base] + [" ".join(near_copy(d, rng)) for d in base[:40]] + ref[:30]
    whole = NearDuplicateMetric(num_perm=64).update(cand).update_reference(ref).result().to_dict()
    a = NearDuplicateMetric(num_perm=64).update(cand[100:]).update_reference(ref[:70])
    b = NearDuplicateMetric(num_perm=64).update(cand[:100]).update_reference(ref[70:])
    merged = a.merge(pickle.loads(pickle.dumps(b))).result().to_dict()
    assert merged == whole
    json.dumps(whole)
    assert METRICS.get("near_duplicates") is NearDuplicateMetric


def test_bad_inputs_and_parameters():
    with pytest.raises(ParameterError, match="must be an int that divides num_perm=128"):
        NearDuplicateMetric(bands=3)
    with pytest.raises(ParameterError, match="The 'threshold' parameter of NearDuplicateMetric"):
        NearDuplicateMetric(threshold=0)
    with pytest.raises(TextFormatError, match="candidate text batch item 0"):
        NearDuplicateMetric().update([None])
    with pytest.raises(EmptyDatasetError):
        NearDuplicateMetric().update(["", "  "]).result()


def test_without_a_reference():
    docs = [" ".join(d) for d in random_docs(30, seed=15)]
    r = NearDuplicateMetric().update(docs + docs[:10]).result()
    assert [v.name for v in r.values] == ["duplicate_rate"]
    assert r.value("duplicate_rate").value == pytest.approx(10 / 40)
    assert r.value("duplicate_rate").reference_value is None


def test_reference_copy_baseline_counts_the_reference_own_boilerplate():
    # A corpus that repeats itself (each of 200 documents 3 times): a second sample
    # of it copies the reference about as often as the reference copies itself
    # (leave-one-out), while the old content-hash split put all copies of a document
    # in one half and gave a near-zero baseline.
    rng = np.random.default_rng(16)
    base = [" ".join(d) for d in random_docs(200, seed=17)] * 3
    uniq = [" ".join(d) for d in random_docs(600, seed=18)]
    corpus = base + uniq
    order = rng.permutation(len(corpus))
    ref, cand = [corpus[i] for i in order[:600]], [corpus[i] for i in order[600:]]
    copy = NearDuplicateMetric().update(cand).update_reference(ref).result().value("reference_copy_rate")
    assert copy.reference_value > 0.2
    assert copy.value == pytest.approx(copy.reference_value, abs=0.08)


def test_draw_keys_split_copies_independently():
    keys = np.sort(np.repeat(np.arange(500, dtype=np.uint64) * np.uint64(7919), 2))
    draws = draw_keys(keys, seed=3)
    assert len(np.unique(draws)) == len(draws)
    # Both copies of a document fall in the same half (lower draws) about half the time.
    low = draws < np.median(draws)
    assert np.mean(low[0::2] == low[1::2]) == pytest.approx(0.5, abs=0.1)
