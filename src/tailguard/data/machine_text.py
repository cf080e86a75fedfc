"""Mixtures of real human documents and seeded machine-made text, with exact ground truth.

The generators (each in its own module, re-exported here):

- :func:`markov_texts` (:mod:`tailguard.data.markov`): a word n-gram Markov chain
  (trigrams by default) trained on human documents: locally fluent, globally incoherent;
- :func:`paraphrase_texts` (:mod:`tailguard.data.paraphrase`): heuristic paraphrases of
  human documents (synonyms, swapped clauses, dropped function words): close to human text;
- :func:`template_spam` (:mod:`tailguard.data.spam`): fill-in-the-slot templates, near-
  duplicates of each other, with the template id as the exact cluster.

:func:`build_mixture` places exactly ``round(share * n)`` machine-made documents among
human ones; :func:`split_human` cuts a pool of human documents into disjoint parts: the
usual cut is ``reference, candidate_human, source`` (the source trains the Markov chain and
is paraphrased), so no candidate or reference text was seen by a generator.

>>> import numpy as np
>>> from tailguard.data import python_docs_paragraphs
>>> reference, human, source = split_human(python_docs_paragraphs(), np.random.default_rng(0), 3)
>>> mix = build_mixture(human, "markov", 0.3, 200, np.random.default_rng(1), source_docs=source)
>>> mix.n, mix.n_machine, sorted(set(mix.kind.tolist()))
(200, 60, ['human', 'markov'])
>>> mix = build_mixture(human, ("markov", "spam"), 0.1, 50, 2, source_docs=source)
>>> [int((mix.kind == k).sum()) for k in ("human", "markov", "spam")]
[45, 3, 2]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tailguard.data.markov import MarkovModel, markov_texts
from tailguard.data.paraphrase import FUNCTION_WORDS, SYNONYMS, paraphrase_texts
from tailguard.data.seeded import as_generator, read_only, text_list
from tailguard.data.spam import SPAM_TEMPLATES, template_spam
from tailguard.errors import ParameterError, UnknownChoiceError
from tailguard.validation import Float, Int, validate_params

MACHINE_KINDS = ("markov", "paraphrase", "spam")
"""The kinds of machine-made text :func:`build_mixture` can place."""


def split_human(docs: Sequence[str], rng: np.random.Generator | int, parts: int | Sequence[float]) -> list[list[str]]:
    """Shuffle ``docs`` and cut them into disjoint parts.

    ``parts`` is a number of (near-)equal parts, or the fraction of the documents in each
    part (summing to at most 1; the rest is left out). A text that occurs more than once is
    kept once, so no text lies in two parts.

    >>> a, b = split_human(["x", "y", "z", "x", "w"], 0, 2)
    >>> sorted(a + b), set(a) & set(b)
    (['w', 'x', 'y', 'z'], set())
    >>> [len(p) for p in split_human([str(i) for i in range(10)], 0, [0.5, 0.2])]
    [5, 2]
    """
    unique = list(dict.fromkeys(text_list("docs", docs)))
    order = as_generator(rng).permutation(len(unique))
    if isinstance(parts, int | np.integer) and not isinstance(parts, bool):
        validate_params("split_human", {"parts": parts}, {"parts": Int(min=1)})
        sizes = [len(c) for c in np.array_split(order, int(parts))]
    else:
        fractions = [float(f) for f in parts]
        if not fractions or any(not f > 0 for f in fractions) or sum(fractions) > 1 + 1e-9:
            raise ParameterError(f"split_human: parts={list(parts)!r}: need positive fractions summing to at most 1")
        sizes = [int(f * len(unique)) for f in fractions]
    out, start = [], 0
    for size in sizes:
        out.append([unique[i] for i in order[start : start + size]])
        start += size
    return out


@dataclass(frozen=True, eq=False)
class Mixture:
    """A candidate corpus with the truth of every document (arrays read-only, length ``n``).

    - ``texts``: the documents, shuffled;
    - ``doc_id``: ``"<prefix>-000000"``, ... in that order;
    - ``kind``: ``"human"``, ``"markov"``, ``"paraphrase"`` or ``"spam"``;
    - ``is_machine``: ``kind != "human"``;
    - ``cluster``: the spam template id, ``-1`` for the other kinds;
    - ``source_index``: the index of the document in ``human_docs`` (human) or in
      ``source_docs`` (the paraphrased original), ``-1`` for Markov text and spam.
    """

    texts: list[str]
    doc_id: np.ndarray
    kind: np.ndarray
    is_machine: np.ndarray
    cluster: np.ndarray
    source_index: np.ndarray

    @property
    def n(self) -> int:
        return len(self.texts)

    @property
    def n_machine(self) -> int:
        return int(self.is_machine.sum())

    @property
    def share(self) -> float:
        """The machine-made share, exactly ``n_machine / n``."""
        return self.n_machine / self.n if self.n else 0.0

    def __len__(self) -> int:
        return self.n

    def records(self, *, truth: bool = False) -> list[dict[str, Any]]:
        """One ``{"doc_id", "text"}`` dict per document, ready for a JSONL file; with
        ``truth=True`` also ``kind``, ``is_machine`` and ``cluster`` (for checking, not for
        the candidate a scorer sees)."""
        rows: list[dict[str, Any]] = [
            {"doc_id": d, "text": t} for d, t in zip(self.doc_id.tolist(), self.texts, strict=True)
        ]
        if truth:
            for row, kind, machine, cluster in zip(
                rows, self.kind.tolist(), self.is_machine.tolist(), self.cluster.tolist(), strict=True
            ):
                row.update(kind=kind, is_machine=machine, cluster=cluster)
        return rows

    def __repr__(self) -> str:
        kinds = {str(k): int(c) for k, c in zip(*np.unique(self.kind, return_counts=True), strict=True)}
        return f"Mixture(n={self.n}, share={self.share:.3f}, kinds={kinds})"


def _kinds(machine_kind: str | Sequence[str]) -> list[str]:
    kinds = [machine_kind] if isinstance(machine_kind, str) else list(machine_kind)
    if not kinds:
        raise ParameterError("build_mixture: machine_kind names no kind")
    for kind in kinds:
        if kind not in MACHINE_KINDS:
            raise UnknownChoiceError("machine kind", str(kind), MACHINE_KINDS)
    if len(set(kinds)) != len(kinds):
        raise ParameterError(f"build_mixture: machine_kind {kinds!r} names a kind twice")
    return kinds


def _draw(pool: int, k: int, rng: np.random.Generator, replace: bool, what: str) -> np.ndarray:
    if k > pool and not replace:
        raise ParameterError(f"build_mixture: {k} {what} needed but only {pool} given; pass replace=True to reuse them")
    if k and not pool:
        raise ParameterError(f"build_mixture: {k} {what} needed but none given")
    return rng.choice(pool, size=k, replace=replace) if k else np.zeros(0, dtype=np.int64)


def _paraphrases(
    source: list[str], k: int, rng: np.random.Generator, rate: float, replace: bool
) -> tuple[list[str], np.ndarray]:
    """``k`` paraphrases of documents drawn from ``source``, each different from its
    original: only documents the rules can change are drawn (see :func:`paraphrase_texts`),
    and the rare one that still comes out the same is redrawn."""
    pool = np.flatnonzero([p != d for p, d in zip(paraphrase_texts(source, 0, rate=1.0), source, strict=True)])
    index = pool[_draw(len(pool), k, rng, replace, "source documents the paraphrase rules can change")]
    texts = paraphrase_texts([source[i] for i in index], rng, rate=rate)
    for _ in range(100):
        same = [j for j, i in enumerate(index.tolist()) if texts[j] == source[i]]
        if not same:
            return texts, index
        for j in same:
            index[j] = pool[rng.integers(len(pool))]
            texts[j] = paraphrase_texts([source[index[j]]], rng, rate=rate)[0]
    raise ParameterError("build_mixture: the paraphrases keep coming out the same as their source_docs")


def build_mixture(
    human_docs: Sequence[str],
    machine_kind: str | Sequence[str],
    share: float,
    n: int,
    rng: np.random.Generator | int,
    *,
    source_docs: Sequence[str] | None = None,
    order: int = 3,
    paraphrase_rate: float = 0.25,
    spam_templates: Sequence[str] = SPAM_TEMPLATES,
    replace: bool = False,
    id_prefix: str = "doc",
) -> Mixture:
    """A shuffled candidate of ``n`` documents of which exactly ``round(share * n)`` are
    machine-made (Python's ``round``), with the truth per document.

    - ``machine_kind``: one of :data:`MACHINE_KINDS`, or several, which then split the
      machine-made documents as evenly as possible (the first kinds take the remainder);
    - ``human_docs``: the pool the human documents are drawn from;
    - ``source_docs``: the human documents the Markov chain (word ``order``-grams) trains
      on and the paraphrases are made from. Needed for ``"markov"`` and ``"paraphrase"``,
      and refused when it shares a text with ``human_docs``: cut the pools with
      :func:`split_human`, keeping a third part as the reference;
    - ``replace``: draw human documents (and paraphrase sources) with replacement, for a
      candidate larger than its pools; without it a pool too small is an error.

    Documents are drawn in a fixed order from ``rng``, so one seed gives one mixture.
    """
    validate_params(
        "build_mixture",
        {"share": share, "n": n, "paraphrase_rate": paraphrase_rate},
        {"share": Float(min=0, max=1), "n": Int(min=1), "paraphrase_rate": Float(min=0, max=1, min_open=True)},
    )
    kinds = _kinds(machine_kind)
    human = text_list("human_docs", human_docs)
    source = text_list("source_docs", source_docs) if source_docs is not None else None
    rng = as_generator(rng)
    n_machine = round(float(share) * int(n))
    per_kind = [n_machine // len(kinds) + (i < n_machine % len(kinds)) for i in range(len(kinds))]
    needs_source = any(k in ("markov", "paraphrase") and c for k, c in zip(kinds, per_kind, strict=True))
    if needs_source:
        if not source:
            raise ParameterError(
                "build_mixture: markov and paraphrase text need source_docs (human, disjoint from human_docs)"
            )
        shared = set(source).intersection(human)
        if shared:
            raise ParameterError(
                f"build_mixture: source_docs and human_docs share {len(shared)} texts; cut them apart with split_human"
            )
    human_index = _draw(len(human), int(n) - n_machine, rng, replace, "human documents")
    texts = [human[i] for i in human_index]
    kind = ["human"] * len(texts)
    cluster = [-1] * len(texts)
    source_index = human_index.tolist()
    for name, count in zip(kinds, per_kind, strict=True):
        if name == "markov":
            made = MarkovModel.fit(source, order).sample(count, rng) if count else []
            origin = [-1] * count
            groups = [-1] * count
        elif name == "paraphrase":
            made, index = (
                _paraphrases(source, count, rng, float(paraphrase_rate), replace) if count else ([], np.zeros(0))
            )
            origin = index.astype(np.int64).tolist()
            groups = [-1] * count
        else:
            made, spam_cluster = template_spam(count, rng, templates=spam_templates)
            origin = [-1] * count
            groups = spam_cluster.tolist()
        texts.extend(made)
        kind.extend([name] * count)
        cluster.extend(groups)
        source_index.extend(origin)
    perm = rng.permutation(len(texts))
    kind_array = np.array(kind, dtype="<U10")[perm]
    width = max(6, len(str(len(texts) - 1)))
    return Mixture(
        texts=[texts[i] for i in perm],
        doc_id=read_only(np.array([f"{id_prefix}-{i:0{width}d}" for i in range(len(texts))])),
        kind=read_only(kind_array),
        is_machine=read_only(kind_array != "human"),
        cluster=read_only(np.array(cluster, dtype=np.int64)[perm]),
        source_index=read_only(np.array(source_index, dtype=np.int64)[perm]),
    )


__all__ = [
    "FUNCTION_WORDS",
    "MACHINE_KINDS",
    "SPAM_TEMPLATES",
    "SYNONYMS",
    "MarkovModel",
    "Mixture",
    "build_mixture",
    "markov_texts",
    "paraphrase_texts",
    "split_human",
    "template_spam",
]
