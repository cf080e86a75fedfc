"""Heuristic paraphrases of human documents: synonyms from a small built-in table,
swapped clauses and dropped function words. Close to human text by design, so they are
the hard case for a machine-made-text detector.

>>> paraphrase_texts(["The old man said that the road was very long."], 3, rate=0.9)
['The ancient fellow declared street was long.']
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import chain
from typing import Any

import numpy as np

from tailguard.data.seeded import as_generator, text_list
from tailguard.validation import Float, validate_params

# Each group: words that can stand in for one another (the first sense of each word).
_SYNONYM_GROUPS = """
big large huge | small little tiny | quick fast rapid swift | begin start commence
finish conclude complete | help aid assist | show display reveal | make create produce
get obtain acquire | use employ utilise | buy purchase | need require | try attempt
give grant provide | keep retain | choose select pick | answer reply respond | ask inquire
think believe suppose | understand comprehend grasp | happy glad joyful | sad unhappy sorrowful
angry furious wrathful | afraid fearful frightened | wise sage prudent | foolish silly unwise
old ancient aged | new fresh novel | strong mighty powerful | weak feeble frail | rich wealthy
poor needy | true correct accurate | false untrue | good fine decent | bad awful terrible
beautiful lovely pretty | ugly hideous | important significant | simple easy plain
difficult hard tough | often frequently | always forever | perhaps maybe possibly | almost nearly
usually normally generally | quickly rapidly swiftly | slowly gradually | however nevertheless
therefore thus hence | because since | about regarding concerning | enough sufficient
whole entire | many numerous | people folk | man person fellow | woman lady | child kid youngster
house home dwelling | road street | land country nation | city town | king ruler monarch
word term | way method manner | part portion section | kind sort type | idea notion concept
problem issue difficulty | reason cause | place spot location | money cash funds | work labour toil
job task duty | food meal fare | friend companion comrade | enemy foe adversary | heart soul spirit
speak talk | said stated declared | say state declare | tell inform | see behold observe
look gaze glance | go proceed travel | come arrive approach | went travelled journeyed | came arrived
took seized grabbed | gave granted handed | saw beheld noticed | made created formed
find discover locate | found discovered located | love adore cherish | hate despise loathe | kill slay
die perish | destroy ruin wreck | build construct erect | live dwell reside | walk stroll
run dash sprint | eat consume devour | sleep rest slumber | wait linger | allow permit
forbid prohibit ban | bring fetch carry | send dispatch | fight battle combat | win triumph prevail
wrong mistaken | quiet silent calm | loud noisy | dark dim gloomy | bright brilliant shining
holy sacred | evil wicked | anger wrath rage | fear dread terror | joy delight gladness
sorrow grief sadness | power might strength | thing object item | computer machine | program software
error fault mistake | function routine | value amount quantity | number figure
"""
# Archaic words and their modern forms, one way only (modern "you" must not become "thou").
_ARCHAIC = {
    "unto": "to", "thou": "you", "thee": "you", "thy": "your", "thine": "yours", "ye": "you",
    "hath": "has", "doth": "does", "saith": "says", "shalt": "shall", "wilt": "will", "hast": "have",
}  # fmt: skip


def _table() -> dict[str, tuple[str, ...]]:
    table: dict[str, tuple[str, ...]] = {}
    for group in _SYNONYM_GROUPS.replace("\n", " | ").split("|"):
        words = group.split()
        for word in words:
            table.setdefault(word, tuple(w for w in words if w != word))
    for old, new in _ARCHAIC.items():
        table[old] = (new,)
    return table


SYNONYMS: dict[str, tuple[str, ...]] = _table()
"""Lower-case word -> the words :func:`paraphrase_texts` may put in its place."""

FUNCTION_WORDS = frozenset({"the", "a", "an", "that", "very", "really", "just", "then", "so", "also", "quite"})
"""Lower-case words :func:`paraphrase_texts` may drop."""

_CORE = re.compile(r"^([^\w]*)([A-Za-z]+)([^\w]*)$")  # a word with punctuation around it, not "man's"
_CLAUSE_BREAKERS = frozenset(';:()[]"')


def _match_case(word: str, like: str) -> str:
    if like.isupper() and len(like) > 1:
        return word.upper()
    if like[:1].isupper():
        return word[:1].upper() + word[1:]
    return word


def _replacements(token: str) -> tuple[str, ...] | None:
    """What ``token`` may become: its synonyms with its case and punctuation, ``("",)``
    for a bare lower-case function word, or ``None``."""
    found = _CORE.match(token)
    if found is None:
        return None
    before, word, after = found.groups()
    key = word.lower()
    if key in SYNONYMS:
        return tuple(before + _match_case(w, word) + after for w in SYNONYMS[key])
    if key in FUNCTION_WORDS and token == key:
        return ("",)
    return None


def _lower_first(token: str) -> str:
    if token == "I" or token.startswith("I'") or (token.isupper() and len(token) > 1):
        return token
    return token[:1].lower() + token[1:]


def _first_per_group(flags: np.ndarray, group: np.ndarray, n_groups: int) -> np.ndarray:
    """Per group, the index of its first True flag, or -1."""
    first = np.full(n_groups, -1, dtype=np.int64)
    where = np.flatnonzero(flags)[::-1]
    first[group[where]] = where  # the last write per group is its smallest index
    return first


def paraphrase_texts(docs: Sequence[str], rng: np.random.Generator | int, *, rate: float = 0.25) -> list[str]:
    """A heuristic paraphrase of each document, in order.

    - each word in :data:`SYNONYMS` is replaced by one of its synonyms (capitalisation and
      the punctuation around it kept) with probability ``rate``;
    - each bare lower-case word in :data:`FUNCTION_WORDS` is dropped with probability ``rate``;
    - each sentence of two clauses, ``First part, second part.`` (a capital first, one
      comma, no ``;:()"``), becomes ``Second part, first part.`` with probability ``rate``.

    A document that comes out unchanged gets its first possible word edit, or else its
    first possible clause swap; one with nothing to edit comes back as it was. Words are
    split on whitespace and rejoined with single spaces. Every decision is drawn for all
    documents at once (one uniform per word, then one per sentence), so large batches are fast.
    """
    import pandas as pd  # factorize: distinct words in C, not a Python loop

    validate_params("paraphrase_texts", {"rate": rate}, {"rate": Float(min=0, max=1, min_open=True)})
    docs = text_list("docs", docs)
    rng = as_generator(rng)
    out: list[str] = []
    for start in range(0, len(docs), _CHUNK):  # bounded memory; fixed chunks keep results seed-exact
        out.extend(_paraphrase_chunk(docs[start : start + _CHUNK], rng, float(rate), pd))
    return out


_CHUNK = 50_000


def _paraphrase_chunk(docs: list[str], rng: np.random.Generator, rate: float, pd: Any) -> list[str]:
    split = [d.split() for d in docs]
    sizes = np.fromiter(map(len, split), dtype=np.int64, count=len(split))
    tokens = list(chain.from_iterable(split))
    n_tokens = len(tokens)
    if n_tokens == 0:
        return docs
    ids, vocab = pd.factorize(pd.Series(tokens, dtype=object), sort=False)
    vocab = vocab.tolist()
    # per distinct token: its replacements and the flags the clause rule reads
    options = [_replacements(t) for t in vocab]
    n_options = np.array([len(o) if o else 0 for o in options], dtype=np.int64)
    flat_options = np.array([""] + [w for o in options if o for w in o], dtype=object)
    option_start = 1 + np.concatenate([[0], np.cumsum(n_options)[:-1]]).astype(np.int64)
    ends_stop = np.array([t[-1] in ".!?" and (len(t) == 1 or t[-2].isalnum()) for t in vocab])[ids]
    ends_comma = np.array([t.endswith(",") and t[:-1].isalnum() for t in vocab])[ids]
    breaks = np.array([not _CLAUSE_BREAKERS.isdisjoint(t) or t.count(",") > t.endswith(",") for t in vocab])[ids]
    upper = np.array([t[:1].isupper() for t in vocab])[ids]
    lower = np.array([t[:1].islower() for t in vocab])[ids]
    doc_start = np.concatenate([[0], np.cumsum(sizes)[:-1]])[sizes > 0]
    doc_of = np.repeat(np.arange(len(docs)), sizes)
    # sentences: a new one after each . ! ? word and at each document start
    starts = np.zeros(n_tokens, dtype=bool)
    starts[1:] = ends_stop[:-1]
    starts[doc_start] = True
    sentence = np.cumsum(starts) - 1
    first_tok = np.flatnonzero(starts)
    last_tok = np.append(first_tok[1:], n_tokens) - 1
    n_commas = np.add.reduceat(ends_comma.astype(np.int64), first_tok)
    n_breaks = np.add.reduceat(breaks.astype(np.int64), first_tok)
    comma = _first_per_group(ends_comma, sentence, len(first_tok))
    swappable = (n_commas == 1) & (n_breaks == 0) & ends_stop[last_tok] & upper[first_tok]
    swappable &= (comma >= 0) & (comma < last_tok)
    swappable[swappable] &= lower[np.minimum(comma[swappable] + 1, n_tokens - 1)]
    # the draws: one uniform per word, then one per sentence
    u = rng.random(n_tokens)
    count = n_options[ids]
    edit = (count > 0) & (u < rate)
    choice = np.minimum((u / rate * np.maximum(count, 1)).astype(np.int64), np.maximum(count - 1, 0))
    swap = swappable & (rng.random(len(first_tok)) < rate)
    # the first word of a swapped second clause becomes capitalised: never drop it
    keep_word = comma[swap] + 1
    keep_word = keep_word[count[keep_word] > 0]
    edit[keep_word[flat_options[option_start[ids[keep_word]]] == ""]] = False
    # an unchanged document gets its first possible edit
    changed = np.zeros(len(docs), dtype=bool)
    changed[doc_of[edit]] = True
    changed[doc_of[first_tok[swap]]] = True
    first_editable = _first_per_group(count > 0, doc_of, len(docs))
    force = ~changed & (first_editable >= 0)
    edit[first_editable[force]] = True
    choice[first_editable[force]] = 0
    changed |= force
    first_swappable = _first_per_group(swappable, doc_of[first_tok], len(docs))
    force = ~changed & (first_swappable >= 0)
    swap[first_swappable[force]] = True
    changed |= force
    out = np.array(tokens, dtype=object)
    out[edit] = flat_options[option_start[ids[edit]] + choice[edit]]
    # swap: the end mark and the comma trade places, the clauses their capitals
    a, k, b = first_tok[swap], comma[swap], last_tok[swap]
    for i, j, m in zip(a.tolist(), k.tolist(), b.tolist(), strict=True):
        mark = out[m][-1]
        out[i] = _lower_first(out[i])
        out[j] = out[j][:-1] + mark
        out[j + 1] = out[j + 1][:1].upper() + out[j + 1][1:]
        out[m] = out[m][:-1] + ","
    rank = np.zeros(n_tokens + 1, dtype=np.int64)
    np.add.at(rank, a, 1)
    np.add.at(rank, k + 1, -1)
    order = np.argsort(sentence * 2 + np.cumsum(rank[:-1]), kind="stable")
    words = out[order].tolist()
    bounds = np.concatenate([[0], np.cumsum(sizes)]).tolist()
    return [
        " ".join(filter(None, words[bounds[i] : bounds[i + 1]])) if changed[i] else doc for i, doc in enumerate(docs)
    ]
