"""The tests behind :mod:`tailguard.audit.losses`: lost n-grams, thinner tails, smaller classes, uncovered rare points.

Every list is one family of one-sided conditional tests: with ``a`` reference and
``b`` candidate observations of an item and ``q`` the candidate's share of the two
sizes, ``b`` is Binomial(a + b, q) when both sides come from one distribution, and
the p-value is P(B <= b). The family-wise level ``alpha`` is split (Bonferroni) over
the items whose smallest possible p-value, ``(1 - q) ** (a + b)``, can reach it
(Tarone 1990), so rare items that could never be judged cost no power.

>>> tokens("The CAT's café_2 -- sat.")
['the', 'cat', 's', 'café_2', 'sat']
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tailguard.audit.loss_types import (
    DEFAULT_ALPHA,
    ClassLosses,
    ClassShare,
    ColumnLosses,
    LengthLosses,
    LostTerm,
    RareExample,
    RarityCoverage,
    TailShare,
    TermLosses,
)

#: Reference quantiles whose tails are compared (upper tails; lower tails use 1 - q).
TAIL_LEVELS = (0.95, 0.99)
#: Points (per side) in the k-NN rarity search; larger sides are subsampled (seeded).
MAX_POINTS = 4000

_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
# the text metrics' tokens: runs of ASCII letters, digits, "_" and any non-ASCII character
_WORD = re.compile(r"[0-9a-z_\u0080-\U0010ffff]+")


def tokens(text: str) -> list[str]:
    """The words of ``text`` as the text metrics count them (ASCII letters lower-cased)."""
    return _WORD.findall(text.translate(_ASCII_LOWER))


def tarone_level(totals: np.ndarray, q: float, alpha: float) -> tuple[float, int]:
    """Bonferroni level over the hypotheses that can reach it, and how many can (Tarone 1990).

    A conditional test with ``t`` observations on both sides, the candidate's share of
    the sizes being ``q``, has its smallest p-value ``(1 - q) ** t`` (no candidate
    observation). The level is ``alpha / m`` for the smallest ``m`` such that at most
    ``m`` hypotheses have a smallest p-value within ``alpha / m``.

    >>> tarone_level(np.array([1, 2, 30, 40]), 0.5, 0.01)
    (0.005, 2)
    """
    min_p = np.sort(np.power(1.0 - q, np.asarray(totals, dtype=np.float64)))
    lo, hi = 1, max(1, len(min_p))
    while lo < hi:
        mid = (lo + hi) // 2
        if np.searchsorted(min_p, alpha / mid, side="right") <= mid:
            hi = mid
        else:
            lo = mid + 1
    return alpha / lo, int(np.searchsorted(min_p, alpha / lo, side="right"))


def _min_total(level: float, q: float) -> int:
    """The fewest observations whose complete absence from the candidate reaches ``level``."""
    if q <= 0.0:
        return 0
    if q >= 1.0:
        return 1
    return max(1, math.ceil(math.log(level) / math.log(1.0 - q) - 1e-9))


def _lower_p(b: np.ndarray, t: np.ndarray, q: float) -> np.ndarray:
    """P(B <= b) for B ~ Binomial(t, q): the candidate holds no more than ``b`` of ``t``."""
    from scipy.stats import binom

    return np.asarray(binom.cdf(b, t, q), dtype=np.float64)


# ----------------------------------------------------------------------------- text
@dataclass(frozen=True)
class TokenizedDocs:
    """Documents with their tokens hashed as the text metrics hash them
    (:func:`tailguard.metrics.tokenize.tokenize`), so counts agree with theirs."""

    texts: Sequence[str]
    tokens: Any  # tailguard.metrics.tokenize.TokenizedBatch

    @classmethod
    def of(cls, texts: Sequence[str]) -> TokenizedDocs:
        from tailguard.metrics.tokenize import encode_texts, tokenize

        return cls(texts, tokenize(encode_texts(list(texts))))

    @property
    def lengths(self) -> np.ndarray:
        """Tokens per document."""
        return np.asarray(self.tokens.doc_lengths)


@dataclass(frozen=True)
class _Grams:
    keys: np.ndarray  # sorted distinct n-gram hashes
    docs: np.ndarray  # documents holding each
    count: np.ndarray  # occurrences of each
    first_doc: np.ndarray  # a document holding each (to read its words back)


def _grams(docs: TokenizedDocs, n: int) -> _Grams:
    from tailguard.metrics.tokenize import ngram_hashes

    h, doc = ngram_hashes(docs.tokens, n)
    order = np.lexsort((doc, h))
    h, doc = h[order], doc[order]
    key_start = np.ones(len(h), dtype=bool)
    key_start[1:] = h[1:] != h[:-1]
    new_doc = key_start.copy()
    new_doc[1:] |= doc[1:] != doc[:-1]
    group = np.cumsum(key_start) - 1
    starts = np.flatnonzero(key_start)
    return _Grams(
        h[key_start],
        np.bincount(group, weights=new_doc, minlength=len(starts)).astype(np.int64),
        np.diff(np.append(starts, len(h))),
        doc[key_start],
    )


def _gram_words(text: str, key: int, n: int) -> str:
    """The words of the n-gram hashed to ``key`` in ``text``."""
    from tailguard.metrics.tokenize import encode_texts, ngram_hashes, tokenize

    hashes, _ = ngram_hashes(tokenize(encode_texts([text])), n)
    words = tokens(text)
    at = np.flatnonzero(hashes == np.uint64(key))
    if not len(at) or len(words) < int(at[0]) + n:  # cannot happen: both read the same tokens
        return f"(n-gram {key:016x})"
    return " ".join(words[int(at[0]) : int(at[0]) + n])


def term_losses(
    candidate: TokenizedDocs,
    reference: TokenizedDocs,
    orders: Sequence[int] = (1, 2, 3),
    *,
    alpha: float = DEFAULT_ALPHA,
    max_items: int = 20,
) -> tuple[TermLosses, ...]:
    """For each n in ``orders``, the reference's n-grams that the candidate never produces.

    >>> ref = TokenizedDocs.of(["a rare word"] * 12 + ["plain"] * 30)
    >>> words, pairs = term_losses(TokenizedDocs.of(["plain"] * 40), ref, (1, 2))
    >>> [(x.text, x.reference_docs, x.candidate_docs) for x in words.lost]
    [('a', 12, 0), ('rare', 12, 0), ('word', 12, 0)]
    >>> [x.text for x in pairs.lost]
    ['a rare', 'rare word']
    """
    n_r, n_c = len(reference.texts), len(candidate.texts)
    q = n_c / (n_r + n_c) if n_r + n_c else 0.0
    out = []
    for n in orders:
        ref, cand = _grams(reference, n), _grams(candidate, n)
        pos = np.minimum(np.searchsorted(cand.keys, ref.keys), max(len(cand.keys) - 1, 0))
        found = cand.keys[pos] == ref.keys if len(cand.keys) else np.zeros(len(ref.keys), dtype=bool)
        a = ref.docs
        b = np.where(found, cand.docs[pos] if len(cand.keys) else 0, 0)
        level, n_judged = tarone_level(a + b, q, alpha)
        min_docs = _min_total(level, q)
        gone = np.flatnonzero((b == 0) & (a >= min_docs))
        rarest = gone[np.lexsort((ref.keys[gone], -ref.count[gone], a[gone]))][:max_items]
        lost = [
            LostTerm(
                _gram_words(reference.texts[int(ref.first_doc[i])], int(ref.keys[i]), n),
                int(a[i]),
                0,
                int(ref.count[i]),
                0,
                float((1.0 - q) ** a[i]),
            )
            for i in rarest
        ]
        lost.sort(key=lambda t: (t.reference_docs, -t.reference_count, t.text))
        out.append(TermLosses(n, n_r, n_c, n_judged, min_docs, len(gone), tuple(lost)))
    return tuple(out)


# ----------------------------------------------------------------------------- tails
def _tail_counts(ref: np.ndarray, cand: np.ndarray, level: float, side: str) -> tuple[float, bool, int, int] | None:
    """The reference ``level`` quantile and the counts beyond it (strict, or inclusive when
    ties leave the strict tail under half its nominal share); None when the reference has none."""
    thr = float(np.quantile(ref, level, method="inverted_cdf"))
    nominal = 1.0 - level if side == "upper" else level
    if side == "upper":
        strict, incl = int((ref > thr).sum()), int((ref >= thr).sum())
    else:
        strict, incl = int((ref < thr).sum()), int((ref <= thr).sum())
    inclusive = strict < 0.5 * nominal * len(ref) and incl <= 2.0 * nominal * len(ref)
    a = incl if inclusive else strict
    if a == 0:
        return None
    if side == "upper":
        b = int((cand >= thr).sum()) if inclusive else int((cand > thr).sum())
    else:
        b = int((cand <= thr).sum()) if inclusive else int((cand < thr).sum())
    return thr, inclusive, a, b


def tail_shares(
    candidate: np.ndarray,
    reference: np.ndarray,
    names: Sequence[str],
    *,
    upper: Sequence[float] = TAIL_LEVELS,
    lower: Sequence[float] | None = None,
    alpha: float = DEFAULT_ALPHA,
    display: Any = None,
) -> list[TailShare]:
    """Tail shares of every column at each level, tested together (one family).

    ``lower`` defaults to ``1 - upper``. ``display`` (optional) maps a column name to a
    monotone increasing function shown thresholds pass through (e.g. ``exp`` of a log).

    >>> rng = np.random.default_rng(0)
    >>> ref = rng.normal(size=(2000, 1))
    >>> cand = rng.normal(size=(2000, 1)).clip(max=1.0)
    >>> [(t.side, t.quantile, t.lost) for t in tail_shares(cand, ref, ["x"])]
    [('upper', 0.95, True), ('upper', 0.99, True), ('lower', 0.05, False), ('lower', 0.01, False)]
    """
    lower = [round(1.0 - u, 10) for u in upper] if lower is None else list(lower)
    n_r, n_c = len(reference), len(candidate)
    q = n_c / (n_r + n_c)
    found: list[tuple[str, str, float, float, bool, int, int]] = []
    for j, name in enumerate(names):
        ref, cand = reference[:, j], candidate[:, j]
        if not np.ptp(ref) > 0:
            continue
        for side, levels in (("upper", upper), ("lower", lower)):
            for level in levels:
                counted = _tail_counts(ref, cand, level, side)
                if counted is not None:
                    found.append((name, side, level, *counted))
    if not found:
        return []
    a = np.array([f[5] for f in found])
    b = np.array([f[6] for f in found])
    level, _ = tarone_level(a + b, q, alpha)
    p = _lower_p(b, a + b, q)
    out = []
    for (name, side, qlevel, thr, inclusive, ai, bi), pi in zip(found, p, strict=True):
        shown = float(display[name](thr)) if display and name in display else thr
        lost = bool(pi <= level and bi / n_c < ai / n_r)
        out.append(
            TailShare(
                name, side, float(qlevel), shown, inclusive, int(ai), int(bi), ai / n_r, bi / n_c, float(pi), lost
            )
        )
    return out


def column_losses(
    candidate: np.ndarray,
    reference: np.ndarray,
    names: Sequence[str],
    *,
    unit: str = "rows",
    alpha: float = DEFAULT_ALPHA,
    display: Any = None,
) -> ColumnLosses:
    """The columns and reference quantile values beyond which the candidate lost mass."""
    shares = tail_shares(candidate, reference, names, alpha=alpha, display=display)
    best: dict[tuple[str, str], TailShare] = {}
    for t in shares:
        key = (t.feature, t.side)
        if t.lost and (key not in best or t.p_value < best[key].p_value):
            best[key] = t
    lost = sorted(best.values(), key=lambda t: (t.p_value, t.feature, t.side))
    return ColumnLosses(unit, len(names), len(shares), len(reference), len(candidate), tuple(lost))


LENGTH_LEVELS = (0.05, 0.5, 0.95, 0.99)


def length_losses(candidate: Sequence[int], reference: Sequence[int], *, alpha: float = DEFAULT_ALPHA) -> LengthLosses:
    """Lengths in tokens: quantiles, long (95th/99th percentile) and short (5th) tails, histogram.

    >>> ref = list(range(1, 201))
    >>> t = length_losses([n for n in ref if n <= 150], ref).tails
    >>> [(x.side, x.threshold, x.reference_count, x.candidate_count, x.lost) for x in t]
    [('upper', 190.0, 10, 0, True), ('upper', 198.0, 2, 0, False), ('lower', 10.0, 9, 9, False)]
    """
    r = np.asarray(reference, dtype=np.float64)
    c = np.asarray(candidate, dtype=np.float64)
    tails = tail_shares(c[:, None], r[:, None], ["length"], upper=TAIL_LEVELS, lower=(0.05,), alpha=alpha)
    both = np.concatenate([r, c])
    span = both.max() - both.min()
    bins = int(min(40, max(1, span + 1))) if span < 40 else 40
    edges = np.histogram_bin_edges(both, bins=bins)
    return LengthLosses(
        len(r),
        len(c),
        LENGTH_LEVELS,
        tuple(float(v) for v in np.quantile(r, LENGTH_LEVELS, method="inverted_cdf")),
        tuple(float(v) for v in np.quantile(c, LENGTH_LEVELS, method="inverted_cdf")),
        tuple(tails),
        tuple(float(e) for e in edges),
        tuple(int(v) for v in np.histogram(r, edges)[0]),
        tuple(int(v) for v in np.histogram(c, edges)[0]),
    )


# ----------------------------------------------------------------------------- classes
def class_label(value: Any, names: Sequence[str] | None) -> str:
    """A class's name when ``names`` covers its id, else its value as text.

    >>> class_label(2, ("circle", "square", "triangle")), class_label(7, ("a",)), class_label("x", None)
    ('triangle', '7', 'x')
    """
    if names and isinstance(value, int | np.integer) and 0 <= int(value) < len(names):
        return str(names[int(value)])
    return str(value.item() if hasattr(value, "item") else value)


def class_losses(
    candidate: np.ndarray,
    reference: np.ndarray,
    *,
    names: Sequence[str] | None = None,
    unit: str = "samples",
    alpha: float = DEFAULT_ALPHA,
    max_items: int = 40,
) -> ClassLosses:
    """Classes whose share fell significantly, named when ``names`` maps their ids.

    >>> ref = np.array([0] * 50 + [1] * 40 + [2] * 30)
    >>> c = class_losses(np.array([0] * 60 + [1] * 60), ref, names=("circle", "square", "triangle"))
    >>> [(x.label, x.reference_count, x.candidate_count) for x in c.lost]
    [('triangle', 30, 0)]
    """
    classes, a = np.unique(reference, return_counts=True)
    cand_classes, cand_counts = np.unique(candidate, return_counts=True)
    cand_map = dict(zip(cand_classes.tolist(), cand_counts.tolist(), strict=True))
    b = np.array([cand_map.get(c, 0) for c in classes.tolist()], dtype=np.int64)
    n_r, n_c = len(reference), len(candidate)
    q = n_c / (n_r + n_c)
    level, _ = tarone_level(a + b, q, alpha)
    p = _lower_p(b, a + b, q)
    rows, absent = [], []
    for c, ai, bi, pi in zip(classes, a, b, p, strict=True):
        row = ClassShare(class_label(c, names), int(ai), int(bi), ai / n_r, bi / n_c, float(pi))
        if pi <= level and bi / n_c < ai / n_r:
            rows.append(row)
        elif bi == 0:
            absent.append(row)
    rows.sort(key=lambda r: (r.candidate_share / r.reference_share, -r.reference_count, r.label))
    absent.sort(key=lambda r: (-r.reference_count, r.label))
    return ClassLosses(unit, len(classes), n_r, n_c, bool(names), tuple(rows[:max_items]), tuple(absent[:max_items]))


# ----------------------------------------------------------------------------- rarity
def expected_uncovered(n_reference: int, n_candidate: int, k: int) -> float:
    """Share of reference points left uncovered by an independent sample of the same
    distribution: ``C(n_r - 1, k) / C(n_r - 1 + n_c, k)`` (about ``2 ** -k`` at equal sizes).

    >>> round(expected_uncovered(1000, 1000, 5), 4)
    0.031
    """
    out = 1.0
    for i in range(k):
        out *= max(n_reference - 1 - i, 0) / (n_reference - 1 + n_candidate - i)
    return out


def pooled_scaled(candidate: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both sides divided by the pooled per-column standard deviation (floored at a quarter
    of the median column scale), so no column's unit dominates the distances."""
    std = np.concatenate([candidate, reference]).std(axis=0)
    positive = std[std > 0]
    std = np.maximum(std, 0.25 * float(np.median(positive)) if positive.size else 1.0)
    return candidate / std, reference / std


def _knn_stats(ref: np.ndarray, cand: np.ndarray, k: int, block: int = 512) -> tuple[np.ndarray, ...]:
    """For every reference point, from one distance matrix to both sides (squared distances):
    its k-NN radius among the other reference points, its nearest candidate, and its k-NN
    radius in the pooled sample (rarity that does not depend on which side a point is from)."""
    from tailguard.metrics.knn import pairwise_sq_distances

    both = np.concatenate([ref, cand])
    n_r = len(ref)
    radius, nearest, pooled = (np.empty(n_r) for _ in range(3))
    for lo in range(0, n_r, block):
        d = pairwise_sq_distances(ref[lo : lo + block], both)  # the point itself is at 0 among refs
        radius[lo : lo + block] = np.partition(d[:, :n_r], k, axis=1)[:, k]
        nearest[lo : lo + block] = d[:, n_r:].min(axis=1)
        pooled[lo : lo + block] = np.partition(d, k, axis=1)[:, k]
    return radius, nearest, pooled


def rarity_coverage(
    candidate: np.ndarray,
    reference: np.ndarray,
    *,
    k: int = 5,
    unit: str = "rows",
    alpha: float = DEFAULT_ALPHA,
    seed: int = 0,
    max_points: int = MAX_POINTS,
    example: Any = None,
    max_examples: int = 5,
) -> RarityCoverage | None:
    """Coverage of reference points by rarity bin, and the sparsest decile's uncovered points.

    ``example(index, radius, nearest)`` builds a :class:`RareExample` for a reference row.
    None when the reference has fewer than 20 points (no decile to speak of).

    >>> rng = np.random.default_rng(0)
    >>> ref = rng.normal(size=(600, 2))
    >>> far = np.linalg.norm(ref, axis=1) > 2.0
    >>> cand = rng.normal(size=(1200, 2))
    >>> rarity_coverage(cand[np.linalg.norm(cand, axis=1) < 2.0], ref).lost
    True
    >>> rarity_coverage(cand[:600], ref).lost
    False
    """
    rng = np.random.default_rng(seed)
    ref_rows = np.arange(len(reference))
    if len(reference) > max_points:
        ref_rows = np.sort(rng.choice(len(reference), max_points, replace=False))
    if len(candidate) > max_points:
        candidate = candidate[np.sort(rng.choice(len(candidate), max_points, replace=False))]
    ref = reference[ref_rows]
    n_r, n_c = len(ref), len(candidate)
    if n_r < max(20, k + 2) or n_c < 1:
        return None
    sq_radius, sq_nearest, pooled = _knn_stats(ref, candidate, k)
    covered = sq_nearest <= sq_radius
    order = np.argsort(pooled, kind="stable")  # densest first
    groups = np.array_split(order, 10 if n_r >= 100 else max(2, n_r // 10))
    n_sparse = max(1, math.ceil(0.1 * n_r))
    sparse = order[n_r - n_sparse :]
    uncovered = sparse[~covered[sparse]]
    p0 = expected_uncovered(n_r, n_c, k)
    from scipy.stats import binom

    p_value = float(binom.sf(len(uncovered) - 1, n_sparse, p0)) if len(uncovered) else 1.0
    lost = bool(len(uncovered) and p_value <= alpha)
    examples: tuple[RareExample, ...] = ()
    if lost and example is not None:
        isolation = sq_nearest[uncovered] / np.maximum(sq_radius[uncovered], 1e-300)
        picked = uncovered[np.argsort(-isolation, kind="stable")[:max_examples]]
        examples = tuple(
            example(int(ref_rows[i]), math.sqrt(float(sq_radius[i])), math.sqrt(float(sq_nearest[i]))) for i in picked
        )
    return RarityCoverage(
        unit,
        k,
        n_r,
        n_c,
        tuple(int(covered[g].sum()) for g in groups),
        tuple(len(g) for g in groups),
        tuple(math.sqrt(float(pooled[g].max())) for g in groups),
        n_sparse,
        len(uncovered),
        p0,
        p_value,
        lost,
        examples,
    )
