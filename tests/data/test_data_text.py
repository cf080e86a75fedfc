"""The built-in text is real English from CPython's documentation, cleaned minimally."""

import re
from collections import Counter
from pydoc_data.topics import topics

import numpy as np

from tailguard.data import (
    clean_markup,
    load_python_docs,
    python_docs_paragraphs,
    python_docs_sentences,
    python_docs_tokens,
    python_docs_topics,
)


def test_one_document_per_topic():
    docs = load_python_docs()
    assert len(docs) == len(topics) == len(python_docs_topics())
    assert all(isinstance(d, str) and d.strip() for d in docs)
    # every word of the original survives the cleaning (only markup characters go)
    key = python_docs_topics()[5]
    original_words = set(re.findall(r"[A-Za-z]{4,}", topics[key]))
    cleaned_words = set(re.findall(r"[A-Za-z]{4,}", docs[5]))
    assert original_words == cleaned_words


def test_markup_is_removed():
    joined = "\n".join(load_python_docs())
    assert not re.search(r"(?m)^\s*([*=~])\1{2,}\s*$", joined), "heading underlines left"
    assert "-[ Footnotes ]-" not in joined
    assert clean_markup("An *iterable* and **PEP 8**.\n") == "An iterable and PEP 8.\n"
    assert clean_markup("def f(*args, **kwargs): ...\n") == "def f(*args, **kwargs): ...\n"


def test_text_is_real_english():
    words = [w for s in python_docs_tokens() for w in s if w.isalpha()]
    assert len(words) > 30_000
    counts = Counter(words)
    top = [w for w, _ in counts.most_common(10)]
    # the most frequent English function words lead, as in any English corpus
    assert {"the", "of", "is", "a", "to"} <= set(top[:10])
    assert counts["the"] / len(words) > 0.04  # about 5-7 % in English prose
    mean_len = np.mean([len(w) for w in words])
    assert 3.5 < mean_len < 6.5
    # Zipf's law: rank-frequency slope on log-log axes near -1
    freqs = np.sort(np.fromiter(counts.values(), dtype=float))[::-1][:1000]
    slope = np.polyfit(np.log(np.arange(1, len(freqs) + 1)), np.log(freqs), 1)[0]
    assert -1.4 < slope < -0.7


def test_sentences_and_paragraphs():
    sentences = python_docs_sentences()
    paragraphs = python_docs_paragraphs()
    assert len(sentences) > 2000 and len(paragraphs) > 1000
    assert all("\n" not in s and len(s.split()) >= 3 for s in sentences)
    assert sum(s[0].isupper() or s[0] == '"' for s in sentences) / len(sentences) > 0.9
    assert sum(s.endswith((".", ":", "?", "!")) for s in sentences) / len(sentences) > 0.9
    assert not any("::=" in p for p in paragraphs)
    assert python_docs_sentences() == sentences  # deterministic
