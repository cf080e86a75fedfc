"""Diversity of a small sample of generated texts: distinct-n and rare-word coverage.

Words are the lower-cased runs of letters, digits and apostrophes, so punctuation and case
do not make two uses of a word count as two words.

>>> distinct_n(["the cat sat", "the cat ran"], 1)
0.6666666666666666
>>> distinct_n(["the cat sat", "the cat ran"], 2)
0.75
>>> sorted(rare_words(["a a a b", "a c"], max_count=1))
['b', 'c']
>>> rare_word_coverage(["b b d"], frozenset({"b", "c"}))
0.5
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence

_WORD = re.compile(r"[\w']+")


def words(text: str) -> list[str]:
    """The lower-cased words of ``text``.

    >>> words("The cat's hat, THE hat.")
    ['the', "cat's", 'hat', 'the', 'hat']
    """
    return _WORD.findall(text.lower())


def distinct_n(texts: Sequence[str], n: int) -> float:
    """Distinct n-grams over all n-grams of ``texts`` (n-grams never cross two texts); NaN when there are none."""
    seen: set[tuple[str, ...]] = set()
    total = 0
    for text in texts:
        w = words(text)
        for i in range(len(w) - n + 1):
            seen.add(tuple(w[i:i + n]))
            total += 1
    return len(seen) / total if total else float("nan")


def rare_words(texts: Iterable[str], *, max_count: int = 2) -> frozenset[str]:
    """The words seen at most ``max_count`` times in ``texts`` (a corpus's tail)."""
    counts: Counter[str] = Counter()
    for text in texts:
        counts.update(words(text))
    return frozenset(w for w, k in counts.items() if k <= max_count)


def rare_word_coverage(texts: Sequence[str], rare: frozenset[str]) -> float:
    """The share of ``rare`` words that occur in ``texts``; NaN when ``rare`` is empty."""
    if not rare:
        return float("nan")
    produced = {w for text in texts for w in words(text)}
    return len(rare & produced) / len(rare)
