"""filter removes degenerate texts (the audit's repetition criteria), dedup near-duplicates; both keep every human text."""

from __future__ import annotations

import numpy as np
import pytest

from tailguard.data import python_docs_paragraphs
from tailguard.features import HashedTextFeatures
from tailguard.ledger import Ledger, NewSample
from tailguard.metrics.duplicates import NearDuplicateMetric
from tailguard.policy import Pool, mix, parse_policy
from tailguard.policy.dedup import text_duplicates
from tailguard.policy.degenerate import degenerate_texts, repetition_shares


def _planted() -> tuple[list[str], list[str], dict[str, list[str]]]:
    """Human paragraphs, genuine synthetic ones, and planted degenerate outputs by kind."""
    paras = python_docs_paragraphs()
    long = [p for p in paras[700:] if len(p.split()) >= 60]
    human, genuine = paras[:400], paras[400:600]
    base, copied = long[0], long[1]
    words = base.split()
    planted = {
        "no words": ["", "   ", "...", ". . . .", "\n\n", "-- ** --"],
        "repetitive": [
            "the " * 30,
            "is a " * 20,
            "the value the value the value the value the value the value",
            "return return return return",
            " ".join(["an object of the class"] * 8),
        ],
        # collapse onto one output: 40 copies of it (one may stay)
        "copies": [copied] * 40,
        # near-duplicates: one word of a long text changed, 30 ways, plus the text itself (one may stay)
        "near": [base] + [" ".join([*words[:i], "zzz", *words[i + 1 :]]) for i in range(5, 35)],
        # copies of human texts: never needed again
        "human copies": [human[3], human[7], human[3]],
    }
    return human, genuine, planted


def _pool(human, genuine, planted):
    deg = [t for kind in planted.values() for t in kind]
    texts = human + genuine + deg
    n_h = len(human)
    origin = ["human"] * n_h + ["synthetic"] * (len(texts) - n_h)
    features = HashedTextFeatures().transform(texts)
    pool = Pool(origin=origin, round=[0] * n_h + [1] * (len(texts) - n_h), features=features, texts=texts)
    return pool, n_h, n_h + len(genuine)


def test_planted_degenerate_texts_are_all_removed_and_human_texts_all_kept():
    human, genuine, planted = _planted()
    pool, n_h, start = _pool(human, genuine, planted)
    sel = parse_policy("accumulate+filter+dedup").compose(pool, rng=0)
    kept = set(sel.indices.tolist())
    assert set(range(n_h)) <= kept  # every human text stays
    excluded = dict(sel.excluded_pairs())
    pos = start
    for kind, texts in planted.items():
        rows = list(range(pos, pos + len(texts)))
        pos += len(texts)
        left = [r for r in rows if r in kept]
        if kind in ("copies", "near"):
            # a collapsed cluster keeps at most its first output
            assert left in ([], [rows[0]]), (kind, left)
            assert all(excluded[r].startswith(("filter:", "dedup:")) for r in rows if r not in kept)
        else:
            assert left == [], (kind, [pool.texts[r] for r in left])
    reasons = {excluded[r] for r in range(start, pos) if r in excluded}
    assert "filter: degenerate text (no words)" in reasons
    assert any(r.startswith("filter: degenerate text (repetitive") for r in reasons)
    assert any(r.startswith("dedup: near-duplicate text") for r in reasons)


def test_the_mix_that_is_left_holds_no_more_duplicates_than_its_human_texts_by_the_audit_metric():
    human, genuine, planted = _planted()
    pool, n_h, _ = _pool(human, genuine, planted)
    sel = parse_policy("accumulate+filter+dedup").compose(pool, rng=0)
    mixed = [pool.texts[i] for i in sel.indices]

    def rate(texts):
        return NearDuplicateMetric().update(texts).result().value("duplicate_rate").value

    before = rate(list(pool.texts))
    assert before > 0.1  # the planted collapse is visible to the audit
    assert rate(mixed) <= rate(human) + 1e-12
    synthetic_kept = [pool.texts[i] for i in sel.indices if i >= n_h]
    assert repetition_shares(synthetic_kept)[0].max() < 0.5


def test_genuine_texts_are_not_read_as_degenerate():
    paras = python_docs_paragraphs()
    human, other = paras[:600], paras[600:1200]
    out = degenerate_texts(other, np.zeros(len(other), bool), human)
    assert not out.empty.any() and not out.repetitive.any()
    # the Python docs repeat some paragraphs verbatim (boilerplate): those are real duplicates, few of them
    assert text_duplicates(other, np.zeros(len(other), bool), jaccard=0.8).mean() < 0.1
    both = degenerate_texts(human + other, np.r_[np.ones(600, bool), np.zeros(600, bool)], human)
    assert not both.any[:600].any()  # human texts are never flagged


def test_repetition_threshold_follows_a_repetitive_reference():
    ref = ["0 1 0 1 0 1 0 1 0 1 0 1", "a b a b a b a b"] * 600  # a human reference of repeated patterns
    out = degenerate_texts(["x y x y x y x y x y x y"], [False], ref, repetition=0.5)
    assert out.repetition_threshold > 0.5 and not out.repetitive[0]


def test_mix_on_the_ledger_records_why_each_degenerate_text_went(tmp_path):
    human, genuine, planted = _planted()
    with Ledger.open(f"sqlite:///{tmp_path}/l.db") as ledger:
        ledger.add_samples([NewSample(t.encode(), None, "text", "human", generation=0) for t in human],
                           as_version="h")
        synth = genuine + planted["no words"][:1] + planted["repetitive"] + planted["copies"]
        ledger.add_samples([NewSample(t.encode(), None, "text", "synthetic", generation=1) for t in synth],
                           as_version="s")
        report = mix(ledger, "accumulate+filter", human="h", synthetic="s", as_version="m")
        kept = {ledger.read_bytes(r).decode() for r in ledger.iter_samples("m")}
        reasons = dict(ledger.exclusions("m"))
    assert set(human) <= kept
    assert not kept & set(planted["repetitive"] + planted["no words"][:1])
    assert sum(r.startswith("filter: degenerate text") for r in reasons.values()) == 1 + len(planted["repetitive"])
    assert report.reason_counts.get("filter: degenerate text (no words)") == 1


@pytest.mark.parametrize("bad", [[b"bytes"], [3]])
def test_pool_texts_must_be_strings(bad):
    from tailguard.errors import BadInputError

    with pytest.raises(BadInputError, match=r"Pool\.texts"):
        Pool(origin=["human"], texts=bad)
