"""Calibration of the audit's verdict: false-alarm rate and power on real human data.

A *null* scenario audits two independent halves of the same human data (the
verdict should be ``ok``); a *power* scenario perturbs the candidate half the
way recursive training does (the verdict should be ``warn`` or ``collapse``):

- ``shrink_std``: every feature's deviation from its mean shrunk by 10%;
- ``drop_rarest``: the rarest 5% of the candidate (largest k-NN radius) removed;
- ``ngram_text``: half of the candidate sentences replaced by sentences from a
  bigram model fitted to the candidate half.

Datasets: ``digits`` (1,797 x 64) and ``wine`` (178 x 13) from scikit-learn,
``docs`` (Python documentation sentences) and ``gaussian`` (a 16-d standard
normal at n = 5,000, the size the issue names). The real datasets are split in
halves, so n is about 900 for digits, 89 for wine and 1,300 for docs.

``benchmarks/calibration.py`` runs many trials; the tests run fewer.

>>> s = SCENARIOS["wine/null"]
>>> cand, ref = make_pair(s, seed=0)
>>> cand.shape, ref.shape
((89, 13), (89, 13))
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

from tailguard.audit.config import AuditConfig
from tailguard.audit.inputs import AuditInput
from tailguard.audit.thresholds import is_flagged
from tailguard.errors import UnknownChoiceError

DATASETS = ("digits", "wine", "docs", "gaussian")
PERTURBATIONS = ("none", "shrink_std", "drop_rarest", "ngram_text")


@dataclass(frozen=True)
class Scenario:
    """A dataset, a perturbation of the candidate half, and what the verdict should be."""

    name: str
    dataset: str
    perturbation: str
    expect_flag: bool
    gaussian_n: int = 5000
    gaussian_d: int = 16

    def __post_init__(self) -> None:
        if self.dataset not in DATASETS:
            raise UnknownChoiceError("calibration dataset", self.dataset, DATASETS)
        if self.perturbation not in PERTURBATIONS:
            raise UnknownChoiceError("perturbation", self.perturbation, PERTURBATIONS)


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("digits/null", "digits", "none", False),
        Scenario("wine/null", "wine", "none", False),
        Scenario("docs/null", "docs", "none", False),
        Scenario("gaussian/null", "gaussian", "none", False),
        Scenario("digits/shrink_std", "digits", "shrink_std", True),
        Scenario("digits/drop_rarest", "digits", "drop_rarest", True),
        Scenario("gaussian/shrink_std", "gaussian", "shrink_std", True),
        Scenario("gaussian/drop_rarest", "gaussian", "drop_rarest", True),
        Scenario("docs/ngram_text", "docs", "ngram_text", True),
    )
}


# -- perturbations ---------------------------------------------------------------------
def shrink_std(x: np.ndarray, factor: float = 0.9) -> np.ndarray:
    """Shrink every feature's deviation from its mean by ``factor`` (0.9 = a 10% smaller std).

    >>> x = np.array([[0.0], [2.0]])
    >>> [round(float(v), 6) for v in shrink_std(x).ravel()]
    [0.1, 1.9]
    """
    mean = x.mean(axis=0)
    return mean + factor * (x - mean)


def drop_rarest(x: np.ndarray, fraction: float = 0.05, k: int = 5) -> np.ndarray:
    """``x`` without its rarest ``fraction`` of rows (largest distance to the k-th neighbour)."""
    from sklearn.neighbors import NearestNeighbors

    k = min(k, len(x) - 1)
    radius = NearestNeighbors(n_neighbors=k + 1).fit(x).kneighbors(x)[0][:, -1]
    n_drop = round(fraction * len(x))
    keep = np.sort(np.argsort(radius, kind="stable")[: len(x) - n_drop])
    return x[keep]


_TOKEN = re.compile(r"\w+(?:['’\-]\w+)*|[^\w\s]")


def _tokens(sentence: str) -> list[str]:
    return _TOKEN.findall(sentence)


def _detokenise(tokens: Sequence[str]) -> str:
    text = " ".join(tokens)
    return re.sub(r" ([.,;:!?)\]])", r"\1", re.sub(r"([(\[]) ", r"\1", text))


def bigram_sentences(corpus: Sequence[str], n: int, rng: np.random.Generator, max_len: int = 60) -> list[str]:
    """``n`` sentences sampled from a maximum-likelihood bigram model of ``corpus``.

    >>> out = bigram_sentences(["the cat sat .", "the dog sat ."], 3, np.random.default_rng(0))
    >>> len(out), all(s.startswith("the") for s in out)
    (3, True)
    """
    start, end = "<s>", "</s>"
    successors: dict[str, Counter[str]] = {}
    for sentence in corpus:
        toks = [start, *_tokens(sentence), end]
        for a, b in itertools.pairwise(toks):
            successors.setdefault(a, Counter())[b] += 1
    tables = {
        a: (list(c.keys()), np.array(list(c.values()), dtype=np.float64) / sum(c.values()))
        for a, c in successors.items()
    }
    out = []
    for _ in range(n):
        word, toks = start, []
        while len(toks) < max_len:
            words, probs = tables[word]
            word = words[int(rng.choice(len(words), p=probs))]
            if word == end:
                break
            toks.append(word)
        out.append(_detokenise(toks))
    return out


def ngram_text(sentences: Sequence[str], rng: np.random.Generator, fraction: float = 0.5) -> list[str]:
    """Replace ``fraction`` of ``sentences`` (chosen at random) by bigram-model sentences
    fitted to ``sentences`` themselves."""
    out = list(sentences)
    idx = rng.choice(len(out), round(fraction * len(out)), replace=False)
    for i, s in zip(idx, bigram_sentences(sentences, len(idx), rng), strict=True):
        out[i] = s
    return out


# -- data ------------------------------------------------------------------------------
def _dataset(name: str) -> Any:
    if name == "docs":
        from tailguard.data.text import python_docs_sentences

        return python_docs_sentences()
    from tailguard.data.tabular import load_tabular

    return load_tabular(name).X


@lru_cache(maxsize=1)
def _docs_embedded() -> tuple[tuple[str, ...], np.ndarray]:
    """The docs sentences and their default (hashed) embeddings, computed once: the
    embedding of a sentence does not depend on which half it lands in."""
    from tailguard.audit.inputs import embed_texts

    docs = tuple(_dataset("docs"))
    return docs, embed_texts(list(docs))


def _text_side(texts: list[str], vectors: np.ndarray, name: str) -> AuditInput:
    return AuditInput("text", len(texts), name, vectors=vectors, texts=texts)


def make_pair(scenario: Scenario, seed: int, *, embedded: bool = False) -> tuple[Any, Any]:
    """``(candidate, reference)`` for one seeded trial of ``scenario``.

    With ``embedded``, text sides come as :class:`AuditInput` with their hashed
    embeddings looked up from a cache (what the audit would compute itself).
    """
    cand, ref, _ = _make_sides(scenario, seed, embedded=embedded, parts=2)
    return cand, ref


def make_triple(scenario: Scenario, seed: int, *, embedded: bool = False) -> tuple[Any, Any, Any]:
    """``(candidate, reference, baseline)``: three independent thirds of the data, the
    candidate perturbed as the scenario says, the baseline clean (a generation 0 that lost
    nothing), for calibrating baseline-relative statuses.

    >>> cand, ref, base = make_triple(SCENARIOS["wine/null"], seed=0)
    >>> cand.shape, ref.shape, base.shape
    ((59, 13), (59, 13), (59, 13))
    """
    return _make_sides(scenario, seed, embedded=embedded, parts=3)  # type: ignore[return-value]


def _make_sides(scenario: Scenario, seed: int, *, embedded: bool, parts: int) -> tuple[Any, Any, Any]:
    rng = np.random.default_rng([seed, 0xCA1] if parts == 2 else [seed, 0xCA1, parts])
    base: Any = None
    if scenario.dataset == "gaussian":
        ref = rng.normal(size=(scenario.gaussian_n, scenario.gaussian_d))
        cand = rng.normal(size=(scenario.gaussian_n, scenario.gaussian_d))
        if parts == 3:
            base = rng.normal(size=(scenario.gaussian_n, scenario.gaussian_d))
    elif scenario.dataset == "docs" and embedded:
        docs, vectors = _docs_embedded()
        order = rng.permutation(len(docs))
        half = len(docs) // parts
        a, b = order[:half], order[half : 2 * half]
        ref = _text_side([docs[i] for i in a], vectors[a], "reference")
        if parts == 3:
            c = order[2 * half : 3 * half]
            base = _text_side([docs[i] for i in c], vectors[c], "baseline")
        cand_texts, cand_vectors = [docs[i] for i in b], vectors[b].copy()
        if scenario.perturbation == "ngram_text":
            from tailguard.audit.inputs import embed_texts

            new_texts = ngram_text(cand_texts, rng)
            changed = [i for i, (x, y) in enumerate(zip(cand_texts, new_texts, strict=True)) if x != y]
            if changed:
                cand_vectors[changed] = embed_texts([new_texts[i] for i in changed])
            cand_texts = new_texts
        return _text_side(cand_texts, cand_vectors, "candidate"), ref, base
    else:
        data = _dataset(scenario.dataset)
        order = rng.permutation(len(data))
        half = len(data) // parts
        a, b, c = order[:half], order[half : 2 * half], order[2 * half : 3 * half]
        if isinstance(data, np.ndarray):
            ref, cand = data[a], data[b]
            base = data[c] if parts == 3 else None
        else:
            ref, cand = [data[i] for i in a], [data[i] for i in b]
            base = [data[i] for i in c] if parts == 3 else None
    if scenario.perturbation == "shrink_std":
        cand = shrink_std(cand)
    elif scenario.perturbation == "drop_rarest":
        cand = drop_rarest(cand)
    elif scenario.perturbation == "ngram_text":
        cand = ngram_text(cand, rng)
    return cand, ref, base


# -- trials ----------------------------------------------------------------------------
@dataclass
class CalibrationResult:
    """Outcome of ``trials`` audits of one scenario.

    ``rate`` is the share of trials with the expected outcome: ``ok`` for a null
    scenario (1 - false-alarm rate), ``warn``/``collapse`` for a power scenario (power).
    ``flagged`` counts, per metric row, the trials where it was not ``ok``.
    """

    scenario: str
    n_candidate: int
    n_reference: int
    trials: int
    verdicts: Counter[str] = field(default_factory=Counter)
    flagged: Counter[str] = field(default_factory=Counter)
    expect_flag: bool = False
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        good = (self.verdicts["warn"] + self.verdicts["collapse"]) if self.expect_flag else self.verdicts["ok"]
        return good / max(self.trials, 1)

    def line(self) -> str:
        what = "power" if self.expect_flag else "ok-rate (1 - false alarms)"
        top = ", ".join(f"{k} {v}" for k, v in self.flagged.most_common(4))
        return (
            f"{self.scenario:24s} n={self.n_candidate}/{self.n_reference} trials={self.trials} "
            f"{what}={self.rate:.3f} verdicts={dict(self.verdicts)} flagged-by: {top or '-'}"
        )


def run_trials(
    scenario: Scenario | str,
    trials: int,
    *,
    seed: int = 0,
    config: AuditConfig | None = None,
    baseline: bool = False,
) -> CalibrationResult:
    """Audit ``trials`` seeded pairs of ``scenario`` and count the verdicts.

    With ``baseline``, each trial audits the candidate against the reference with an
    independent clean baseline (:func:`make_triple`): the statuses are then the
    baseline-relative ones.

    BLAS runs single-threaded here: many small eigen-decompositions on a shared
    machine are far faster that way (and results do not depend on it).
    """
    import time

    from threadpoolctl import threadpool_limits

    from tailguard.audit.core import audit

    if isinstance(scenario, str):
        try:
            scenario = SCENARIOS[scenario]
        except KeyError:
            raise UnknownChoiceError("calibration scenario", scenario, SCENARIOS) from None
    out = CalibrationResult(scenario.name, 0, 0, trials, expect_flag=scenario.expect_flag)
    start = time.perf_counter()
    for t in range(trials):
        if baseline:
            cand, ref, base = make_triple(scenario, seed + t, embedded=True)
        else:
            (cand, ref), base = make_pair(scenario, seed + t, embedded=True), None
        with threadpool_limits(limits=1):
            report = audit(cand, ref, config=config, seed=seed + t, baseline=base)
        out.n_candidate, out.n_reference = report.n_candidate, report.n_reference
        out.verdicts[report.verdict] += 1
        for row in report.metrics:
            if is_flagged(row.status):
                out.flagged[row.name] += 1
    out.seconds = time.perf_counter() - start
    return out
