"""Real human-written English: the Python documentation bundled with CPython, and the
Debian text packages ``fortunes``, ``bible-kjv-text`` and ``dict-gcide`` where installed.

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

import gzip
import re
import shutil
import subprocess
import textwrap
from functools import lru_cache
from pathlib import Path

from tailguard.errors import CorruptFileError, MissingDependencyError, ParameterError

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


# --------------------------------------------------------------------------------------
# Debian text packages. Each loader reads the files a Debian package installs; when the
# package is missing it raises MissingDependencyError naming the apt-get command. The
# paths are module attributes, so a test can point them elsewhere.

FORTUNES_DIR = Path("/usr/share/games/fortunes")
BIBLE_PROGRAM = "bible"  # the reader from Debian's bible-kjv (the text is compressed)
BIBLE_DATA = Path("/usr/lib/bible.data")
GCIDE_DICT = Path("/usr/share/dictd/gcide.dict.dz")  # dictzip: readable as plain gzip
GCIDE_INDEX = Path("/usr/share/dictd/gcide.index")

_SKIPPED_FORTUNE_FILES = frozenset({"ascii-art"})  # pictures, not prose


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _is_wordy(text: str) -> bool:
    """Mostly letters and spaces: drops ASCII art, code and tables."""
    return sum(ch.isalpha() or ch == " " for ch in text) >= 0.75 * len(text)


def _check_word_bounds(min_words: int, max_words: int) -> None:
    if not 1 <= min_words <= max_words:
        raise ParameterError(f"min_words={min_words} and max_words={max_words}: need 1 <= min_words <= max_words")


def _fortune_files(directory: Path) -> list[Path]:
    if not directory.is_dir():
        return []
    return sorted(
        p
        for p in directory.iterdir()
        if p.is_file()
        and not p.is_symlink()
        and p.suffix not in (".dat", ".u8")
        and p.name not in _SKIPPED_FORTUNE_FILES
        and p.with_name(p.name + ".dat").exists()
    )


@lru_cache(maxsize=4)
def _fortunes(directory: Path, min_words: int, max_words: int) -> tuple[str, ...]:
    files = _fortune_files(directory)
    if not files:
        raise MissingDependencyError(
            f"no fortune files in {directory}; install them with `apt-get install fortunes`"
        )
    seen: dict[str, None] = {}
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as err:
            raise CorruptFileError(f"not UTF-8 at byte {err.start}", path=path) from None
        for cookie in re.split(r"(?m)^%[ \t]*$", text):
            doc = _one_line(cookie)
            if doc and min_words <= len(doc.split()) <= max_words and _is_wordy(doc):
                seen.setdefault(doc, None)
    return tuple(seen)


def fortunes_texts(*, min_words: int = 8, max_words: int = 200) -> list[str]:
    """The fortune cookies of Debian's ``fortunes`` package, one document per cookie.

    Every cookie file with a ``.dat`` index in :data:`FORTUNES_DIR` is read, in file-name
    order (``ascii-art`` is left out). Each cookie is joined onto one line; cookies with
    fewer than ``min_words`` or more than ``max_words`` words, or that are less than 75 %
    letters and spaces (drawings, code), are dropped, and repeats are kept once.

    Raises :class:`~tailguard.errors.MissingDependencyError` when the package is missing.

    >>> try:
    ...     docs = fortunes_texts()
    ...     ok = len(docs) > 10_000 and len(set(docs)) == len(docs)
    ... except MissingDependencyError as err:  # without the package: one line with the fix
    ...     ok = "apt-get install fortunes" in str(err)
    >>> ok
    True
    """
    _check_word_bounds(min_words, max_words)
    return list(_fortunes(FORTUNES_DIR, min_words, max_words))


_VERSE = re.compile(r"^ +(\d+) (.*)$")
_CHAPTER = re.compile(r"^\S.* \d+$")


@lru_cache(maxsize=2)
def _bible_chapters(program: str, data: Path) -> tuple[tuple[str, ...], ...]:
    found = shutil.which(program)
    if found is None:
        raise MissingDependencyError(
            f"the KJV reader {program!r} is not installed; install it with `apt-get install bible-kjv bible-kjv-text`"
        )
    if not data.is_file():
        raise MissingDependencyError(
            f"the KJV text {data} is missing; install it with `apt-get install bible-kjv-text`"
        )
    cmd = [found, "-p", str(data.parent), "-d", data.name, "-l100000", "gen1:1-rev22:21"]
    done = subprocess.run(cmd, capture_output=True, env={"PATH": "/usr/bin:/bin", "LC_ALL": "C"}, check=False)
    if done.returncode != 0:
        why = _one_line(done.stderr.decode("utf-8", "replace") or done.stdout.decode("utf-8", "replace"))
        raise CorruptFileError(f"{program} could not read it (exit {done.returncode}): {why}", path=data)
    chapters: list[list[str]] = []
    for line in done.stdout.decode("utf-8", "replace").splitlines():
        verse = _VERSE.match(line)
        if verse:
            if not chapters:
                raise CorruptFileError(f"{program} printed a verse before any chapter heading", path=data)
            chapters[-1].append(_one_line(verse.group(2)))
        elif _CHAPTER.match(line):
            chapters.append([])
        elif line.strip():
            raise CorruptFileError(f"{program} printed an unexpected line: {line[:60]!r}", path=data)
    if not any(chapters):
        raise CorruptFileError(f"{program} printed no verses", path=data)
    return tuple(tuple(c) for c in chapters)


def bible_passages(verses_per_passage: int = 2) -> list[str]:
    """The King James Bible (Debian's ``bible-kjv-text``, read with its ``bible`` program
    from ``bible-kjv``) cut into passages of ``verses_per_passage`` consecutive verses.

    Passages never cross a chapter; the last passage of a chapter may be shorter. They come
    in canonical order, Genesis 1:1 first, as one line each without verse numbers; a passage
    that repeats an earlier one word for word (the offerings of Numbers 7) is kept once.
    With the default of 2 there are about 15,800 passages of about 50 words.

    Raises :class:`~tailguard.errors.MissingDependencyError` when either package is missing.

    >>> try:
    ...     ok = bible_passages()[0].startswith("In the beginning God created the heaven")
    ... except MissingDependencyError as err:
    ...     ok = "apt-get install bible-kjv" in str(err)
    >>> ok
    True
    """
    if isinstance(verses_per_passage, bool) or not isinstance(verses_per_passage, int) or verses_per_passage < 1:
        raise ParameterError(f"verses_per_passage={verses_per_passage!r}: need an integer >= 1")
    return list(_bible_passages(BIBLE_PROGRAM, BIBLE_DATA, verses_per_passage))


@lru_cache(maxsize=4)
def _bible_passages(program: str, data: Path, verses_per_passage: int) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for chapter in _bible_chapters(program, data):
        for start in range(0, len(chapter), verses_per_passage):
            seen.setdefault(" ".join(chapter[start : start + verses_per_passage]), None)
    return tuple(seen)


_B64 = {ch: i for i, ch in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")}
# \pro"nun*ci*a`tion\ after the headword, and an optional (pronunciation in [markup]).
_GCIDE_PRONUNCIATION = re.compile(r"\\[^\\\n]*\\(?:,?\s*\([^()\n]*[\[\]\"*`][^()\n]*\))?")
_GCIDE_ACCENT = re.compile(r"\[([^\]\s]{1,3})\]")  # caf['e] -> cafe, [ae] -> ae
_GCIDE_BRACKETS = re.compile(r"\[[^\[\]]*\]")  # etymology, inflections, [Obs.], sources
_GCIDE_SOURCE = re.compile(r"\[[^\[\]]*(?:Webster|WordNet|PJC|Century|Chambers|Suppl|Bouvier)[^\[\]]*\]")
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([,.;:])")


def _dictd_number(code: str, path: Path, line: int) -> int:
    value = 0
    for ch in code:
        if ch not in _B64:
            raise CorruptFileError(f"bad base-64 number {code!r}", path=path, line=line)
        value = value * 64 + _B64[ch]
    return value


def _clean_gcide(entry: str, max_words: int) -> str:
    start = re.search(r"(?m)^\S", entry)  # an entry starts with its headword in column 0
    entry = entry[start.start() :] if start else ""
    sources = list(_GCIDE_SOURCE.finditer(entry))
    if sources:
        tail = entry[sources[-1].end() :]
        if len(tail.split()) <= 3:  # stray headwords of the next entry after the last source tag
            entry = entry[: sources[-1].end()]
    entry = _GCIDE_PRONUNCIATION.sub("", entry)  # one per headword: "Aaronic \\..\\, Aaronical \\..\\"
    entry = _GCIDE_ACCENT.sub(lambda m: "".join(ch for ch in m.group(1) if ch.isalpha()), entry)
    previous = None
    while previous != entry:  # innermost brackets first: etymologies hold [imac]-style codes
        previous, entry = entry, _GCIDE_BRACKETS.sub("", entry)
    entry = entry.replace("{", "").replace("}", "")
    out: list[str] = []
    words = 0
    for block in re.split(r"\n[ \t]*\n", entry):
        block = _one_line(block)
        n = len(block.split())
        if not n:
            continue
        if out and words + n > max_words:
            break  # keep the leading senses of a long entry
        out.append(block)
        words += n
    return _SPACE_BEFORE_PUNCT.sub(r"\1", " ".join(out))


@lru_cache(maxsize=4)
def _gcide(dict_path: Path, index_path: Path, min_words: int, max_words: int) -> tuple[str, ...]:
    if not dict_path.is_file() or not index_path.is_file():
        raise MissingDependencyError(
            f"the GCIDE dictionary {dict_path} is missing; install it with `apt-get install dict-gcide`"
        )
    spans: set[tuple[int, int]] = set()
    header_end = 0  # the dictionary's own notices ("00-database-info", ...) come first
    with open(index_path, encoding="utf-8", errors="replace") as index:
        for number, line in enumerate(index, 1):
            fields = line.rstrip("\n").split("\t")
            if len(fields) != 3:
                raise CorruptFileError(f"expected 3 tab-separated fields, got {len(fields)}", path=index_path, line=number)
            span = (_dictd_number(fields[1], index_path, number), _dictd_number(fields[2], index_path, number))
            if fields[0].startswith("00-"):
                header_end = max(header_end, span[0] + span[1])
            else:
                spans.add(span)
    try:
        with gzip.open(dict_path) as fh:
            raw = fh.read()
    except (OSError, EOFError) as err:
        raise CorruptFileError(f"not a readable dictzip/gzip file ({err})", path=dict_path) from None
    seen: dict[str, None] = {}
    for offset, length in sorted(spans):
        if offset < header_end:
            continue  # index lines that point into the notices
        chunk = raw[offset : offset + length]
        try:
            entry = chunk.decode("utf-8")
        except UnicodeDecodeError:
            entry = chunk.decode("cp1252", "replace")  # a handful of entries carry Windows quotes
        doc = _clean_gcide(entry, max_words)
        if min_words <= len(doc.split()) <= max_words:
            seen.setdefault(doc, None)
    if not seen:
        raise CorruptFileError("no dictionary entries found", path=dict_path)
    return tuple(seen)


def gcide_entries(*, min_words: int = 8, max_words: int = 120) -> list[str]:
    """The entries of the GNU Collaborative International Dictionary of English (Debian's
    ``dict-gcide``), in dictionary order, one line each.

    The pronunciation, bracketed etymologies and source tags (``[1913 Webster]``) and the
    ``{cross-reference}`` braces are removed; the headword, part of speech, definitions
    and quotations stay. A long entry keeps its leading senses up to ``max_words`` words;
    entries shorter than ``min_words`` are dropped and repeats kept once.

    Raises :class:`~tailguard.errors.MissingDependencyError` when the package is missing.

    >>> try:
    ...     entry = "Abandon, n. A complete giving up to natural impulses; freedom from artificial"
    ...     ok = entry + " constraint; careless freedom or ease." in gcide_entries()
    ... except MissingDependencyError as err:
    ...     ok = "apt-get install dict-gcide" in str(err)
    >>> ok
    True
    """
    _check_word_bounds(min_words, max_words)
    return list(_gcide(GCIDE_DICT, GCIDE_INDEX, min_words, max_words))
