"""The built-in text is real English from CPython's documentation, cleaned minimally."""

import gzip
import re
from collections import Counter
from pydoc_data.topics import topics

import numpy as np
import pytest

from tailguard.data import (
    bible_passages,
    clean_markup,
    fortunes_texts,
    gcide_entries,
    load_python_docs,
    python_docs_paragraphs,
    python_docs_sentences,
    python_docs_tokens,
    python_docs_topics,
)
from tailguard.data import text as text_module
from tailguard.errors import CorruptFileError, MissingDependencyError, ParameterError


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


# --------------------------------------------------------------------------------------
# Debian text packages: fortunes, bible-kjv(-text), dict-gcide



def _check_documents(docs, min_words, max_words):
    assert docs and len(set(docs)) == len(docs)
    assert all(isinstance(d, str) and "\n" not in d and d == " ".join(d.split()) for d in docs)
    words = np.array([len(d.split()) for d in docs])
    assert words.min() >= min_words and words.max() <= max_words
    return words


def _english(docs):
    counts = Counter(w.lower().strip(".,;:!?\"'") for d in docs for w in d.split())
    return [w for w, _ in counts.most_common(12)]


def test_fortunes_are_real_short_texts(installed):
    docs = installed(fortunes_texts)
    words = _check_documents(docs, 8, 200)
    assert len(docs) > 5_000
    assert 10 < np.median(words) < 60  # paragraph-sized
    assert {"the", "a", "to", "of"} <= set(_english(docs))
    assert fortunes_texts() == docs  # cached, deterministic
    fortunes_texts().append("x")  # callers get their own list
    assert fortunes_texts() == docs


def test_bible_passages_are_the_kjv_in_order(installed):
    verses = installed(bible_passages, verses_per_passage=1)
    assert 30_000 < len(verses) <= 31_102  # 31,102 verses, a few repeat word for word
    assert verses[0] == "In the beginning God created the heaven and the earth."
    # Revelation 22:21 repeats 2 Thessalonians 3:18 word for word, so it is kept there, once
    assert verses[-1].startswith("He which testifieth these things saith, Surely I come quickly.")
    assert verses.index("The grace of our Lord Jesus Christ be with you all. Amen.") < len(verses) - 1000
    docs = bible_passages()
    words = _check_documents(docs, 3, 200)
    assert docs[0] == " ".join(verses[:2])
    assert 40 < np.mean(words) < 60
    assert {"the", "and", "of", "unto"} <= set(_english(docs))
    assert len(bible_passages(4)) < len(docs) < len(verses)
    with pytest.raises(ParameterError, match="verses_per_passage"):
        bible_passages(0)


def test_gcide_entries_are_clean_definitions(installed):
    docs = installed(gcide_entries)
    words = _check_documents(docs, 8, 120)
    assert len(docs) > 50_000
    assert 10 < np.median(words) < 60
    assert "Abandon, n. A complete giving up to natural impulses; freedom from artificial constraint; careless freedom or ease." in docs
    assert not any("[1913 Webster]" in d or "{" in d or "}" in d for d in docs)
    # what is left of the markup: unbalanced brackets and backslashes in GCIDE's own source
    leftover = sum("\\" in d or "[" in d or "]" in d for d in docs)
    assert leftover / len(docs) < 0.002
    assert not any(d.startswith(("00-", "A dictionary containing")) for d in docs[:5])  # the notices are skipped


def test_missing_packages_name_the_install_command(monkeypatch, tmp_path):
    monkeypatch.setattr(text_module, "FORTUNES_DIR", tmp_path / "no-fortunes")
    with pytest.raises(MissingDependencyError, match=r"apt-get install fortunes") as err:
        fortunes_texts()
    assert "\n" not in str(err.value) and isinstance(err.value, ImportError)
    monkeypatch.setattr(text_module, "BIBLE_PROGRAM", "no-such-bible-reader")
    with pytest.raises(MissingDependencyError, match=r"apt-get install bible-kjv bible-kjv-text"):
        bible_passages()
    monkeypatch.setattr(text_module, "BIBLE_PROGRAM", "true")  # a program that exists: now the text is missing
    monkeypatch.setattr(text_module, "BIBLE_DATA", tmp_path / "bible.data")
    with pytest.raises(MissingDependencyError, match=r"apt-get install bible-kjv-text"):
        bible_passages()
    monkeypatch.setattr(text_module, "GCIDE_DICT", tmp_path / "gcide.dict.dz")
    with pytest.raises(MissingDependencyError, match=r"apt-get install dict-gcide"):
        gcide_entries()


def test_fortune_files_are_split_filtered_and_deduplicated(monkeypatch, tmp_path):
    long_cookie = "Twelve words in this cookie make it long enough to be kept here."
    (tmp_path / "b").write_text(f"short one\n%\n{long_cookie}\n\t\t-- Someone\n%\n{long_cookie}\n\t\t-- Someone\n%\n")
    (tmp_path / "a").write_text("A cookie from file a, read before file b since files go in name order.\n%\n")
    (tmp_path / "ascii-art").write_text("Pictures are skipped even when they have words enough in them here.\n")
    (tmp_path / "nodat").write_text("A file without its .dat index is not a cookie file and is not read.\n")
    (tmp_path / "code").write_text("#### ==== ++++ ---- |||| ;;;; **** //// <<<< >>>> ~~~~ @@@@\n")
    for name in ("a", "b", "ascii-art", "code"):
        (tmp_path / f"{name}.dat").write_bytes(b"")
    monkeypatch.setattr(text_module, "FORTUNES_DIR", tmp_path)
    assert fortunes_texts() == [
        "A cookie from file a, read before file b since files go in name order.",
        long_cookie + " -- Someone",
    ]
    broken = tmp_path / "broken"  # a new folder: the loader caches by path
    broken.mkdir()
    (broken / "c").write_bytes(b"\xff\xfe not utf-8 at all, many words here to pass the filter\n")
    (broken / "c.dat").write_bytes(b"")
    monkeypatch.setattr(text_module, "FORTUNES_DIR", broken)
    with pytest.raises(CorruptFileError, match=r"/c: not UTF-8"):
        fortunes_texts()


def _dictd_number(value):  # dictd writes offsets in base 64, its own alphabet
    digits = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    out = ""
    while True:
        out = digits[value % 64] + out
        value //= 64
        if not value:
            return out


def test_gcide_markup_is_removed(monkeypatch, tmp_path):
    notice = "00-database-short\n   A made-up dictionary for a test\n\n"
    stray = "      A quotation left over from the notices, before the first entry.\n"
    entry = (
        "Caf['e] \\Ca*f['e]\\ ([.a]*b), n. [F. caf['e], fr. L. ?.]\n"
        "   1. A coffee house; a {restaurant} serving light meals in many towns.\n"
        "      [1913 Webster]\n\n"
        "   2. The second sense, quoted often. --Shak.\n"
        "      [Webster 1913 Suppl.] Nextword\n"
    )
    short = "Ox \\Ox\\, n. A bull.\n   [1913 Webster]\n"
    data = (notice + stray + entry + short).encode()
    spans = [("00-database-short", 0, len(notice)), ("0", len(notice), len(stray) + len(entry))]
    spans += [("Cafe", len(notice) + len(stray), len(entry)), ("Ox", len(data) - len(short), len(short))]
    (tmp_path / "gcide.index").write_text(
        "".join(f"{h}\t{_dictd_number(o)}\t{_dictd_number(n)}\n" for h, o, n in spans)
    )
    (tmp_path / "gcide.dict.dz").write_bytes(gzip.compress(data))
    monkeypatch.setattr(text_module, "GCIDE_DICT", tmp_path / "gcide.dict.dz")
    monkeypatch.setattr(text_module, "GCIDE_INDEX", tmp_path / "gcide.index")
    cafe = "Cafe, n. 1. A coffee house; a restaurant serving light meals in many towns."
    # the stray notice line before "Cafe" is cut, so the "0" span gives the "Cafe" entry again: kept once
    assert gcide_entries(min_words=4) == [cafe + " 2. The second sense, quoted often. --Shak.", "Ox, n. A bull."]
    assert gcide_entries(min_words=4, max_words=14) == [cafe, "Ox, n. A bull."]  # a long entry keeps its first senses
    assert gcide_entries(min_words=5) == [cafe + " 2. The second sense, quoted often. --Shak."]
    (tmp_path / "broken.dict.dz").write_bytes(b"not gzip at all")
    monkeypatch.setattr(text_module, "GCIDE_DICT", tmp_path / "broken.dict.dz")
    with pytest.raises(CorruptFileError, match="dictzip/gzip"):
        gcide_entries()
