"""Word n-gram Markov chains trained on human documents: locally fluent, globally
incoherent machine-made text.

>>> from tailguard.data import python_docs_paragraphs
>>> out = markov_texts(python_docs_paragraphs()[:300], 2, 0)
>>> len(out), all(len(t.split()) >= 5 for t in out)
(2, True)
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from tailguard.data.seeded import as_generator, read_only, text_list
from tailguard.errors import EmptyDatasetError
from tailguard.validation import Int, validate_params

_SENTENCE_END = re.compile(r"[.!?][\"')\]]*$")


def _unique_rows(rows: np.ndarray, base: int) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(rows, axis=0, return_inverse=True)`` for non-negative ints below ``base``,
    through one int64 key per row when the keys fit (much faster)."""
    if float(base) ** rows.shape[1] >= 2.0**62:
        unique, inverse = np.unique(rows, axis=0, return_inverse=True)
        return unique, inverse.reshape(-1)
    keys = np.zeros(rows.shape[0], dtype=np.int64)
    for column in rows.T:
        keys = keys * base + column
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    return rows[first], inverse.reshape(-1)


def _ranges(lengths: np.ndarray) -> np.ndarray:
    """``concatenate([arange(k) for k in lengths])`` without the loop."""
    starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
    return np.arange(int(lengths.sum()), dtype=np.int64) - starts


@dataclass(frozen=True, eq=False)
class MarkovModel:
    """A word n-gram chain over whitespace tokens (case and punctuation kept).

    Each document is padded with ``order - 1`` start marks and one end mark. Transitions
    are stored flat and grouped by context, the end-of-document one last: ``cum`` holds
    cumulative counts, ``word`` and ``next_context`` the word a transition emits and the
    context it leads to (``-1`` for the end). :meth:`sample` runs a whole batch of chains
    in lock-step, one vectorised draw per word position.

    >>> model = MarkovModel.fit(["the cat sat on the mat .", "the dog sat on the rug ."], order=3)
    >>> model.order, model.n_contexts, len(model.vocab)
    (3, 12, 8)
    >>> sorted(set(model.sample(20, 0))) == sorted(
    ...     f"the {a} sat on the {b} ." for a in ("cat", "dog") for b in ("mat", "rug"))
    True
    """

    order: int
    vocab: tuple[str, ...]
    lengths: np.ndarray  # words per training document: the target lengths
    cum: np.ndarray
    word: np.ndarray
    next_context: np.ndarray
    first: np.ndarray  # per context: its first transition
    last: np.ndarray  # per context: its last transition
    total: np.ndarray  # per context: the count of all its transitions
    stop: np.ndarray  # per context: the count of its end-of-document transition
    start_context: int

    @property
    def n_contexts(self) -> int:
        return int(self.first.shape[0])

    @classmethod
    def fit(cls, train_docs: Sequence[str], order: int = 3) -> MarkovModel:
        """Count the ``order``-grams of ``train_docs`` (split on whitespace)."""
        validate_params("MarkovModel", {"order": order}, {"order": Int(min=2, max=8)})
        docs = [d.split() for d in text_list("train_docs", train_docs)]
        docs = [d for d in docs if d]
        if not docs:
            raise EmptyDatasetError("train_docs: no document has a word")
        index: dict[str, int] = {}
        ids = np.fromiter((index.setdefault(w, len(index)) for d in docs for w in d), dtype=np.int64)
        end, begin = len(index), len(index) + 1  # the end mark sorts after every word
        lengths = np.fromiter((len(d) for d in docs), dtype=np.int64, count=len(docs))
        # the padded documents end to end: [begin] * (order - 1) + words + [end]
        offsets = np.concatenate([[0], np.cumsum(lengths + order)])
        flat = np.full(int(offsets[-1]), begin, dtype=np.int64)
        flat[np.repeat(offsets[:-1] + order - 1, lengths) + _ranges(lengths)] = ids
        flat[offsets[1:] - 1] = end
        starts = np.repeat(offsets[:-1], lengths + 1) + _ranges(lengths + 1)
        grams = flat[starts[:, None] + np.arange(order)]
        base = len(index) + 2
        contexts, ctx_of_gram = _unique_rows(grams[:, :-1], base)
        pairs, counts = np.unique(ctx_of_gram * base + grams[:, -1], return_counts=True)
        t_ctx, t_word = pairs // base, pairs % base
        # the context a transition leads to: drop the oldest word, append the new one
        following = np.concatenate([contexts[t_ctx][:, 1:], t_word[:, None]], axis=1)
        _, inverse = _unique_rows(np.concatenate([contexts, following]), base)
        context_id = np.full(int(inverse.max()) + 1, -1, dtype=np.int64)
        context_id[inverse[: len(contexts)]] = np.arange(len(contexts))
        next_context = np.where(t_word == end, -1, context_id[inverse[len(contexts) :]])
        if np.any(next_context[t_word != end] < 0):  # cannot happen: every word is followed by something
            raise AssertionError("MarkovModel.fit: a transition leads to an unseen context")
        first = np.searchsorted(t_ctx, np.arange(len(contexts)))
        last = np.append(first[1:], len(counts)) - 1
        return cls(
            order=int(order),
            vocab=tuple(index),
            lengths=read_only(lengths),
            cum=read_only(np.cumsum(counts)),
            word=read_only(t_word),
            next_context=read_only(next_context),
            first=read_only(first),
            last=read_only(last),
            total=read_only(np.add.reduceat(counts, first)),
            stop=read_only(np.where(t_word[last] == end, counts[last], 0)),
            start_context=int(np.flatnonzero((contexts == begin).all(axis=1))[0]),
        )

    def sample(self, n: int, rng: np.random.Generator | int, *, max_overrun: int = 30) -> list[str]:
        """``n`` documents, words joined by single spaces.

        Each document draws a target length from the training documents' lengths and
        cannot end before it. Past it, it ends at the chain's next end of document or of
        sentence (a word ending in ``.``, ``!`` or ``?``), or ``max_overrun`` words later.
        A chain that reaches a context seen only at the ends of documents stops there,
        short of its target.
        """
        validate_params(
            "MarkovModel.sample", {"n": n, "max_overrun": max_overrun}, {"n": Int(min=0), "max_overrun": Int(min=0)}
        )
        rng = as_generator(rng)
        target = self.lengths[rng.integers(len(self.lengths), size=n)]
        ends_sentence = np.array([bool(_SENTENCE_END.search(w)) for w in self.vocab] + [False, False])
        cum_before = np.concatenate([[0], self.cum])[self.first]
        active = np.arange(n)
        context = np.full(n, self.start_context, dtype=np.int64)
        made = np.zeros(n, dtype=np.int64)
        doc_parts, word_parts = [np.zeros(0, dtype=np.int64)], [np.zeros(0, dtype=np.int64)]
        while active.size:
            ctx = context[active]
            early = made[active] < target[active]
            allowed = self.total[ctx] - np.where(early, self.stop[ctx], 0)
            pick = np.minimum((rng.random(active.size) * allowed).astype(np.int64), np.maximum(allowed - 1, 0))
            move = self.first[ctx]  # the only transition of most contexts
            several = self.last[ctx] > move
            move[several] = np.searchsorted(self.cum, cum_before[ctx[several]] + pick[several], side="right")
            alive = (allowed > 0) & (self.next_context[move] >= 0)
            docs, move, early = active[alive], move[alive], early[alive]
            words = self.word[move]
            doc_parts.append(docs)
            word_parts.append(words)
            made[docs] += 1
            context[docs] = self.next_context[move]
            done = (~early & ends_sentence[words]) | (made[docs] >= target[docs] + max_overrun)
            active = docs[~done]
        doc_of, words = np.concatenate(doc_parts), np.concatenate(word_parts)
        tokens = np.array(self.vocab, dtype=object)[words[np.argsort(doc_of, kind="stable")]].tolist()
        bounds = np.concatenate([[0], np.cumsum(made)]).tolist()
        return [" ".join(tokens[a:b]) for a, b in pairwise(bounds)]


def markov_texts(
    train_docs: Sequence[str], n: int, rng: np.random.Generator | int, *, order: int = 3, max_overrun: int = 30
) -> list[str]:
    """``n`` documents from a word ``order``-gram chain (trigrams by default) trained on
    ``train_docs``, with lengths like theirs (see :meth:`MarkovModel.sample`).

    Every ``order`` consecutive words of an output document, counting the start marks,
    occur in ``train_docs``. Train on documents disjoint from the reference and from the
    candidate's human part (:func:`~tailguard.data.machine_text.split_human`): the chain
    copies long runs of its training text.
    """
    return MarkovModel.fit(train_docs, order).sample(n, rng, max_overrun=max_overrun)
