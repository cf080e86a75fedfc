"""Machine-made text from real human documents, and mixtures with exact ground truth."""

import re
from collections import Counter

import numpy as np
import pytest

from tailguard.data import (
    MACHINE_KINDS,
    MarkovModel,
    build_mixture,
    fortunes_texts,
    markov_texts,
    paraphrase_texts,
    python_docs_paragraphs,
    split_human,
    template_spam,
)
from tailguard.data.paraphrase import FUNCTION_WORDS, SYNONYMS
from tailguard.data.spam import SPAM_TEMPLATES
from tailguard.errors import ParameterError, UnknownChoiceError


@pytest.fixture(scope="module")
def pools():
    """reference, candidate-human and source (Markov training / paraphrase) splits."""
    return split_human(python_docs_paragraphs(), np.random.default_rng(0), 3)


def _grams(doc: str, order: int) -> set[tuple[str, ...]]:
    words = ["<s>"] * (order - 1) + doc.split()
    return {tuple(words[i : i + order]) for i in range(len(words) - order + 1)}


# --------------------------------------------------------------------------------------
# split_human


def test_split_human_gives_disjoint_parts_covering_the_unique_texts():
    docs = python_docs_paragraphs()
    parts = split_human(docs + docs[:50], 7, 3)
    assert [len(p) for p in parts] == [len(c) for c in np.array_split(np.arange(len(set(docs))), 3)]
    assert sorted(t for p in parts for t in p) == sorted(set(docs))
    assert all(set(a).isdisjoint(b) for i, a in enumerate(parts) for b in parts[i + 1 :])
    assert split_human(docs, 7, 3) == split_human(docs, np.random.default_rng(7), 3)
    assert split_human(docs, 8, 3) != split_human(docs, 7, 3)
    ref, rest = split_human(docs, 1, [0.25, 0.5])
    assert (len(ref), len(rest)) == (int(0.25 * len(set(docs))), int(0.5 * len(set(docs))))
    with pytest.raises(ParameterError, match="fractions"):
        split_human(docs, 1, [0.7, 0.7])
    with pytest.raises(ParameterError, match="sequence of strings"):
        split_human("not a list", 1, 2)


# --------------------------------------------------------------------------------------
# Markov chains


@pytest.mark.parametrize("order", [2, 3, 4, 8])  # 8: contexts too wide for one int64 key
def test_markov_output_uses_only_ngrams_seen_in_training(pools, order):
    _, _, train = pools
    seen = set().union(*(_grams(d, order) for d in train))
    out = markov_texts(train, 300, np.random.default_rng(order), order=order)
    assert len(out) == 300 and all(out)
    unseen = [g for doc in out for g in _grams(doc, order) if g not in seen]
    assert unseen == []
    # low orders make new text; a long context mostly copies its training documents
    copies = sum(doc in set(train) for doc in out) / len(out)
    assert copies < 0.5 if order <= 4 else copies > 0.5


def test_markov_lengths_follow_the_training_documents(pools):
    _, _, train = pools
    out = markov_texts(train, 2000, 1)
    made = np.array([len(d.split()) for d in out])
    human = np.array([len(d.split()) for d in train])
    assert 0.6 < made.mean() / human.mean() < 1.3
    assert 0.5 < np.median(made) / np.median(human) < 1.5
    # past its target a document ends at a sentence end (or 30 words later, or a dead end)
    assert np.mean([d.endswith((".", "!", "?", ":", ")", '"')) for d in out]) > 0.9


def test_markov_is_seeded():
    docs = python_docs_paragraphs()[:500]
    model = MarkovModel.fit(docs)
    assert model.sample(50, 3) == model.sample(50, np.random.default_rng(3)) == markov_texts(docs, 50, 3)
    assert model.sample(50, 4) != model.sample(50, 3)
    assert model.sample(0, 3) == []
    # the same document i whatever follows it is not promised, but the batch is reproducible
    assert len(set(model.sample(200, 5))) > 150


def test_markov_refuses_bad_input():
    with pytest.raises(ParameterError, match="'order'"):
        MarkovModel.fit(["a b c"], order=1)
    with pytest.raises(Exception, match="no document has a word"):
        MarkovModel.fit(["", "  "])
    with pytest.raises(ParameterError, match="sequence of strings"):
        markov_texts([1, 2], 3, 0)


# --------------------------------------------------------------------------------------
# Paraphrases


def test_paraphrase_edits_follow_the_rules():
    # the only editable word is "big" ("The" starts the sentence and stays)
    out = paraphrase_texts(["The big zebra grazes."] * 40, 0, rate=1.0)
    assert {o.split()[1] for o in out} == set(SYNONYMS["big"])
    assert all(o.startswith("The ") and o.endswith(" zebra grazes.") for o in out)
    # a bare function word is dropped, one with punctuation stays
    assert paraphrase_texts(["Zebras graze the grass; zebras chew the."], 0, rate=1.0) == [
        "Zebras graze grass; zebras chew the."
    ]
    # two clauses swap, capitals move with them
    assert paraphrase_texts(["Zebras graze, lions yawn."], 0, rate=1.0) == ["Lions yawn, zebras graze."]
    assert paraphrase_texts(["LORD yawns, zebras graze."], 0, rate=1.0) == ["Zebras graze, LORD yawns."]
    # capitalisation and punctuation around a replaced word are kept
    assert paraphrase_texts(['"Big!" he cried'], 0, rate=1.0)[0].split()[0] in {f'"{w.capitalize()}!"' for w in SYNONYMS["big"]}
    assert {"the", "a", "that"} <= FUNCTION_WORDS


def test_paraphrase_changes_every_document_it_can(pools):
    _, _, source = pools
    docs = source[:400]
    # at a tiny rate nothing is drawn, so one edit is forced in each document that has one
    editable = [o != d for o, d in zip(paraphrase_texts(docs, 1, rate=1.0), docs, strict=True)]
    changed = [o != d for o, d in zip(paraphrase_texts(docs, 1, rate=1e-9), docs, strict=True)]
    assert changed == editable and sum(changed) > 0.7 * len(docs)
    assert paraphrase_texts(["Zebra xylophone qwerty."], 0) == ["Zebra xylophone qwerty."]  # nothing to edit


def test_paraphrases_stay_close_to_their_source_and_grow_with_rate(pools):
    _, _, source = pools
    docs = source[:300]

    def kept(rate):
        out = paraphrase_texts(docs, 2, rate=rate)
        return np.mean([len(set(o.split()) & set(d.split())) / len(set(d.split())) for o, d in zip(out, docs, strict=True)])

    low, mid, high = kept(0.1), kept(0.25), kept(0.6)
    # more edits at a higher rate, still mostly the same words
    assert low < 0.99, f"rate 0.1 kept {low:.3f} of the words: nearly no edits were made"
    assert low - mid > 0.01 and mid - high > 0.01, (low, mid, high)
    assert high > 0.5, f"rate 0.6 kept only {high:.3f} of the source's words"
    assert paraphrase_texts(docs, 5) == paraphrase_texts(docs, np.random.default_rng(5))
    assert paraphrase_texts(docs, 5) != paraphrase_texts(docs, 6)
    with pytest.raises(ParameterError, match="'rate'"):
        paraphrase_texts(docs, 0, rate=0)


# --------------------------------------------------------------------------------------
# Template spam


def _template_pattern(template: str) -> re.Pattern[str]:
    parts = re.split(r"\{\w+\}", template)
    return re.compile("^" + "(.+?)".join(re.escape(p) for p in parts) + "$")


def test_spam_cluster_ids_are_the_templates():
    texts, cluster = template_spam(3000, 11)
    patterns = [_template_pattern(t) for t in SPAM_TEMPLATES]
    for text, c in zip(texts, cluster.tolist(), strict=True):
        matching = [i for i, p in enumerate(patterns) if p.match(text)]
        assert matching == [c], text
    counts = np.bincount(cluster, minlength=len(SPAM_TEMPLATES))
    assert counts.min() > 0.7 * 3000 / len(SPAM_TEMPLATES)  # uniform draws
    assert len(set(texts)) > 0.99 * len(texts)  # the fillers differ
    assert not cluster.flags.writeable and cluster.dtype == np.int64


def test_spam_is_near_duplicate_within_clusters_only():
    texts, cluster = template_spam(400, 3)
    words = [set(t.split()) for t in texts]
    rng = np.random.default_rng(0)
    pairs = rng.integers(400, size=(3000, 2))
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    jaccard = np.array([len(words[a] & words[b]) / len(words[a] | words[b]) for a, b in pairs])
    same = cluster[pairs[:, 0]] == cluster[pairs[:, 1]]
    assert jaccard[same].min() > 0.4 and jaccard[~same].max() < 0.3


def test_spam_is_seeded_and_checks_templates():
    assert template_spam(20, 1)[0] == template_spam(20, np.random.default_rng(1))[0]
    assert template_spam(20, 1)[0] != template_spam(20, 2)[0]
    assert template_spam(0, 1)[0] == []
    with pytest.raises(ParameterError, match=r"templates\[0\]"):
        template_spam(2, 0, templates=["{no_such_slot}"])


# --------------------------------------------------------------------------------------
# Mixtures


@pytest.mark.parametrize("share", [0.0, 0.1, 0.3, 0.6, 1.0])
@pytest.mark.parametrize("n", [1, 7, 333])
def test_mixture_has_the_exact_share(pools, share, n):
    _, human, source = pools
    mix = build_mixture(human, MACHINE_KINDS, share, n, 0, source_docs=source)
    assert mix.n == len(mix.texts) == n
    assert mix.n_machine == round(share * n) and mix.share == round(share * n) / n
    for array in (mix.doc_id, mix.kind, mix.is_machine, mix.cluster, mix.source_index):
        assert array.shape == (n,) and not array.flags.writeable
    assert np.array_equal(mix.is_machine, mix.kind != "human")
    counts = Counter(mix.kind.tolist())
    per_kind = [counts[k] for k in MACHINE_KINDS]
    assert sum(per_kind) == mix.n_machine and max(per_kind) - min(per_kind) <= 1
    assert len(set(mix.doc_id.tolist())) == n


def test_mixture_truth_points_at_the_right_documents(pools):
    reference, human, source = pools
    mix = build_mixture(human, MACHINE_KINDS, 0.6, 600, 4, source_docs=source)
    for text, kind, cluster, index in zip(mix.texts, mix.kind, mix.cluster.tolist(), mix.source_index.tolist(), strict=True):
        if kind == "human":
            assert text == human[index] and cluster == -1
        elif kind == "paraphrase":
            assert text != source[index] and cluster == -1
            assert len(set(text.split()) & set(source[index].split())) > 0.5 * len(set(source[index].split()))
        elif kind == "spam":
            assert _template_pattern(SPAM_TEMPLATES[cluster]).match(text) and index == -1
        else:
            assert kind == "markov" and cluster == -1 and index == -1
    machine = {t for t, m in zip(mix.texts, mix.is_machine, strict=True) if m}
    assert machine.isdisjoint(human) and machine.isdisjoint(reference)
    humans = [t for t, k in zip(mix.texts, mix.kind, strict=True) if k == "human"]
    assert len(set(humans)) == len(humans)  # drawn without replacement
    rows = mix.records(truth=True)
    assert rows[0] == {
        "doc_id": "doc-000000", "text": mix.texts[0], "kind": str(mix.kind[0]),
        "is_machine": bool(mix.is_machine[0]), "cluster": int(mix.cluster[0]),
    }  # fmt: skip
    assert set(mix.records()[0]) == {"doc_id", "text"}


def test_mixture_is_seeded_and_shuffled(pools):
    _, human, source = pools
    a = build_mixture(human, ("markov", "spam"), 0.3, 300, 9, source_docs=source)
    b = build_mixture(human, ("markov", "spam"), 0.3, 300, np.random.default_rng(9), source_docs=source)
    c = build_mixture(human, ("markov", "spam"), 0.3, 300, 10, source_docs=source)
    assert a.texts == b.texts and np.array_equal(a.kind, b.kind) and np.array_equal(a.cluster, b.cluster)
    assert a.texts != c.texts
    positions = np.flatnonzero(a.is_machine)
    assert positions.min() < 50 and positions.max() > 250  # machine documents are spread out


def test_mixture_refuses_what_would_make_the_truth_wrong(pools):
    _, human, source = pools
    with pytest.raises(ParameterError, match="share 5 texts"):
        build_mixture(human, "markov", 0.5, 10, 0, source_docs=source + human[:5])
    with pytest.raises(ParameterError, match="need source_docs"):
        build_mixture(human, "paraphrase", 0.5, 10, 0)
    assert build_mixture(human, "spam", 0.5, 10, 0).n_machine == 5  # spam needs no source
    with pytest.raises(ParameterError, match="replace=True"):
        build_mixture(human[:10], "spam", 0.1, 100, 0)
    big = build_mixture(human[:10], "spam", 0.1, 100, 0, replace=True)
    assert Counter(big.kind.tolist()) == {"human": 90, "spam": 10}
    with pytest.raises(UnknownChoiceError, match="Did you mean 'markov'"):
        build_mixture(human, "markow", 0.5, 10, 0, source_docs=source)
    with pytest.raises(ParameterError, match="'share'"):
        build_mixture(human, "spam", 1.5, 10, 0)
    with pytest.raises(ParameterError, match="twice"):
        build_mixture(human, ("spam", "spam"), 0.5, 10, 0)


def test_mixture_of_debian_text(installed):
    docs = installed(fortunes_texts)
    reference, human, source = split_human(docs, 0, 3)
    mix = build_mixture(human, MACHINE_KINDS, 0.3, 3000, 1, source_docs=source)
    assert mix.n_machine == 900 and set(mix.texts).isdisjoint(reference)
