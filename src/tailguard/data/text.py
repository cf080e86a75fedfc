"""Real human-written English: the Python documentation bundled with CPython.

``pydoc_data.topics`` ships the reference-manual sections behind ``help("for")``; it
is installed with every Python, so it is real text available offline. Markup is cleaned
minimally: heading underlines go, ``-[ Footnotes ]-`` becomes ``Footnotes`` and
``*emphasis*`` loses its asterisks; code examples stay in the documents.

>>> docs = load_python_docs()
>>> len(docs) > 50
True
>>> docs[0].splitlines()[0]
'The "assert" statement'
>>> sentences = python_docs_sentences()
>>> sentences[0]
'Assert statements are a convenient way to insert debugging assertions into a program:'
"""

from __future__ import annotations

import re
import textwrap
from functools import lru_cache

_UNDERLINE = re.compile(r"^[ \t]*([*=\-~^#])\1{2,}[ \t]*$", re.MULTILINE)
_FOOTNOTES = re.compile(r"^-\[ (.+?) \]-$", re.MULTILINE)
_EMPHASIS = re.compile(r"(?<![\w*])\*{1,2}([A-Za-z][\w '\-]*\w)\*{1,2}(?![\w*])")
_BLANKS = re.compile(r"\n{3,}")
# A sentence ends at . ! or ? followed by whitespace and an upper-case letter or a quote,
# except after common abbreviations.
_SENTENCE_END = re.compile(r"(?<!\be\.g)(?<!\bi\.e)(?<!\betc)(?<!\bvs)(?<=[.!?])\s+(?=[A-Z\"(])")


def clean_markup(text: str) -> str:
    """Remove the reStructuredText leftovers of a pydoc topic, keeping every word.

    >>> clean_markup('Title\\n*****\\n\\nAn *iterable* object.\\n\\n-[ Footnotes ]-\\n')
    'Title\\n\\nAn iterable object.\\n\\nFootnotes\\n'
    """
    text = _UNDERLINE.sub("", text)
    text = _FOOTNOTES.sub(r"\1", text)
    text = _EMPHASIS.sub(r"\1", text)
    text = re.sub(r"(?m)^(.+)\n\n(?=\n)", r"\1\n", text)  # the blank line an underline left
    text = _BLANKS.sub("\n\n", text)
    return text.strip("\n") + "\n"


@lru_cache(maxsize=1)
def _documents() -> tuple[str, ...]:
    from pydoc_data.topics import topics

    return tuple(clean_markup(topics[key]) for key in sorted(topics))


def python_docs_topics() -> tuple[str, ...]:
    """The topic keys of ``pydoc_data.topics`` in the order :func:`load_python_docs` uses."""
    from pydoc_data.topics import topics

    return tuple(sorted(topics))


def load_python_docs() -> list[str]:
    """One document per pydoc topic (sorted by topic key), with markup cleaned minimally."""
    return list(_documents())


def _is_prose(paragraph: str) -> bool:
    lines = textwrap.dedent(paragraph).splitlines()
    if not lines or any(line[:1].isspace() for line in lines[1:]):
        return False  # code examples and grammar have ragged indentation
    if "::=" in paragraph or lines[0].startswith((">>>", "+", "|", "...")):
        return False
    if not paragraph.rstrip().endswith((".", ":", "?", "!", ")")):
        return False
    return sum(ch.isalpha() or ch == " " for ch in paragraph) > 0.8 * len(paragraph.strip())


@lru_cache(maxsize=1)
def _paragraphs() -> tuple[str, ...]:
    out = []
    for doc in _documents():
        for block in doc.split("\n\n"):
            block = block.strip("\n")
            if _is_prose(block) and len(block.split()) >= 5:
                out.append(" ".join(block.split()))
    return tuple(out)


def python_docs_paragraphs() -> list[str]:
    """The prose paragraphs of the documents (code, grammar, tables and headings left out),
    each joined onto one line. A few thousand paragraphs: handy as independent text samples.

    >>> len(python_docs_paragraphs()) > 1000
    True
    """
    return list(_paragraphs())


@lru_cache(maxsize=1)
def _sentences() -> tuple[str, ...]:
    out = []
    for paragraph in _paragraphs():
        for sentence in _SENTENCE_END.split(paragraph):
            sentence = sentence.strip()
            if len(sentence.split()) >= 3:
                out.append(sentence)
    return tuple(out)


def python_docs_sentences() -> list[str]:
    """The prose of the documents split into sentences (>= 3 words each), in document order.

    This is the training corpus of the simulator's n-gram language-model family.
    """
    return list(_sentences())


def python_docs_tokens(lowercase: bool = True) -> list[list[str]]:
    """Each sentence of :func:`python_docs_sentences` as a list of word and punctuation tokens.

    >>> python_docs_tokens()[0][:4]
    ['assert', 'statements', 'are', 'a']
    """
    pattern = re.compile(r"\w+(?:['’\-]\w+)*|[^\w\s]")
    return [pattern.findall(s.lower() if lowercase else s) for s in _sentences()]
