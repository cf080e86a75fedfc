"""The typed, JSON-serialisable results of :mod:`tailguard.audit.losses`, and their sentences.

Each record round-trips through ``to_dict``/``from_dict``; :func:`describe` says a
:class:`Losses` in plain sentences built only from the numbers it holds.

>>> t = TailShare("alcohol", "upper", 0.95, 13.86, False, 9, 0, 0.05, 0.0, 1e-6, True)
>>> print(tail_sentence(t, "rows"))
column `alcohol`: 5.0% of the reference's rows (9) are above 13.86, 0.0% of the candidate's (0).
>>> TailShare.from_dict(t.to_dict()) == t
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any, ClassVar

#: Family-wise error level of each list's tests.
DEFAULT_ALPHA = 0.01


class _Record:
    """JSON round trip of the frozen result dataclasses (``items``: fields holding nested records)."""

    items: ClassVar[dict[str, type]] = {}

    def to_dict(self) -> dict[str, Any]:
        return {f.name: _jsonable(getattr(self, f.name)) for f in fields(self)}  # type: ignore[arg-type]

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Any:
        kwargs: dict[str, Any] = {}
        for f in fields(cls):  # type: ignore[arg-type]
            if f.name not in d:
                continue
            v, item = d[f.name], cls.items.get(f.name)
            if v is None:
                kwargs[f.name] = None
            elif item is not None:
                kwargs[f.name] = (
                    tuple(item.from_dict(x) for x in v)
                    if isinstance(v, list)  # type: ignore[attr-defined]
                    else item.from_dict(v)
                )  # type: ignore[attr-defined]
            elif isinstance(v, list):
                kwargs[f.name] = tuple(tuple(x) if isinstance(x, list) else x for x in v)
            elif str(f.type).startswith("float") and v in ("inf", "-inf", "nan"):
                kwargs[f.name] = float(v)
            else:
                kwargs[f.name] = v
        return cls(**kwargs)


def _jsonable(v: Any) -> Any:
    if isinstance(v, _Record):
        return v.to_dict()
    if isinstance(v, tuple | list):
        return [_jsonable(x) for x in v]
    if isinstance(v, float) and not math.isfinite(v):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
    return v


@dataclass(frozen=True)
class LostTerm(_Record):
    """A word or n-gram of the reference that the candidate never produces (document and occurrence counts)."""

    text: str
    reference_docs: int
    candidate_docs: int
    reference_count: int
    candidate_count: int
    p_value: float


@dataclass(frozen=True)
class TermLosses(_Record):
    """Lost n-grams of order ``n`` (1 = words).

    ``n_judged`` terms occur in at least ``min_docs`` documents of the two sides
    together, the fewest for which an absence from the candidate can reach the test
    level; ``n_lost`` of them are in the reference and never in the candidate, and
    ``lost`` lists the rarest of those first (at most ``max_items``).
    """

    n: int
    n_reference_docs: int
    n_candidate_docs: int
    n_judged: int
    min_docs: int
    n_lost: int
    lost: tuple[LostTerm, ...] = ()


@dataclass(frozen=True)
class TailShare(_Record):
    """The shares of both sides beyond a reference quantile of one feature.

    ``side`` ``upper`` counts values ``>`` ``threshold`` (``>=`` when ``inclusive``, chosen
    when ties at the quantile leave the strict tail nearly empty); ``lower`` counts ``<``
    (``<=``). ``quantile`` is the reference quantile level; ``lost``: the candidate's share
    is significantly below the reference's.
    """

    feature: str
    side: str
    quantile: float
    threshold: float
    inclusive: bool
    reference_count: int
    candidate_count: int
    reference_share: float
    candidate_share: float
    p_value: float
    lost: bool


@dataclass(frozen=True)
class ColumnLosses(_Record):
    """Per-column tails (``n_tested`` tails of ``n_columns`` columns); ``lost``: the
    significant ones, one per column and side (the more significant level)."""

    unit: str
    n_columns: int
    n_tested: int
    n_reference: int
    n_candidate: int
    lost: tuple[TailShare, ...] = ()


@dataclass(frozen=True)
class LengthLosses(_Record):
    """Document lengths in tokens: quantiles at ``levels``, tail shares and a histogram of both sides."""

    n_reference: int
    n_candidate: int
    levels: tuple[float, ...]
    reference_quantiles: tuple[float, ...]
    candidate_quantiles: tuple[float, ...]
    tails: tuple[TailShare, ...]
    edges: tuple[float, ...]
    reference_hist: tuple[int, ...]
    candidate_hist: tuple[int, ...]


@dataclass(frozen=True)
class ClassShare(_Record):
    """A class whose share fell significantly (``candidate_count`` 0: the class is gone)."""

    label: str
    reference_count: int
    candidate_count: int
    reference_share: float
    candidate_share: float
    p_value: float


@dataclass(frozen=True)
class ClassLosses(_Record):
    """Classes of ``unit`` (boxes, rows, images); ``named``: labels are class names, not ids.

    ``lost``: significantly smaller shares; ``absent``: reference classes the candidate
    does not hold at all but too rare to tell from chance at these sizes.
    """

    unit: str
    n_classes: int
    n_reference: int
    n_candidate: int
    named: bool
    lost: tuple[ClassShare, ...] = ()
    absent: tuple[ClassShare, ...] = ()


@dataclass(frozen=True)
class RareExample(_Record):
    """An uncovered reference point of the sparsest decile.

    ``index`` is its row in the audited reference (in canonical order), ``radius`` its
    k-NN radius among reference points, ``nearest`` its distance to the nearest candidate.
    Depending on the modality it carries an ``excerpt`` (text), a ``thumbnail`` (a PNG
    data URI of the image's pixel features), ``values`` ((column, value, reference
    percentile) of its most unusual columns) and a class ``label``.
    """

    index: int
    radius: float
    nearest: float
    label: str = ""
    excerpt: str = ""
    thumbnail: str = ""
    values: tuple[tuple[str, float, float], ...] = ()


@dataclass(frozen=True)
class RarityCoverage(_Record):
    """Reference points with a candidate within their k-NN radius, by rarity bin.

    Bins run densest to sparsest (10 of them, fewer when the reference is small):
    ``covered[i]`` of ``total[i]`` points are covered, ``radius_upper[i]`` is the bin's
    largest radius. The sparsest decile holds ``n_sparse`` points, ``n_uncovered`` of
    them uncovered. Two independent samples of one distribution leave a share
    ``expected_uncovered`` of reference points uncovered: with the candidate's points
    and the reference's other points exchangeable, a point is uncovered when its k
    nearest are all reference points, ``C(n_r - 1, k) / C(n_r - 1 + n_c, k)``; sparse
    points are covered at least as often. ``lost``: significantly more are uncovered
    (one-sided binomial test); ``examples`` are listed only then, most isolated first.
    """

    unit: str
    k: int
    n_reference: int
    n_candidate: int
    covered: tuple[int, ...]
    total: tuple[int, ...]
    radius_upper: tuple[float, ...]
    n_sparse: int
    n_uncovered: int
    expected_uncovered: float
    p_value: float
    lost: bool
    examples: tuple[RareExample, ...] = ()


@dataclass(frozen=True)
class Losses(_Record):
    """What the candidate lost. Sections that do not apply to the modality are empty or
    ``None``; ``notes`` say what could not be measured and why (never read as "nothing lost")."""

    modality: str
    alpha: float = DEFAULT_ALPHA
    terms: tuple[TermLosses, ...] = ()
    lengths: LengthLosses | None = None
    columns: ColumnLosses | None = None
    classes: ClassLosses | None = None
    rarity: RarityCoverage | None = None
    notes: tuple[str, ...] = ()

    @property
    def n_lost(self) -> int:
        """Items found lost over every section: terms, length tails, column tails, classes,
        and 1 for an uncovered sparsest decile."""
        n = sum(t.n_lost for t in self.terms)
        n += sum(t.lost for t in self.lengths.tails) if self.lengths else 0
        n += len(self.columns.lost) if self.columns else 0
        n += len(self.classes.lost) if self.classes else 0
        return n + (int(self.rarity.lost) if self.rarity else 0)

    def sentences(self) -> list[str]:
        """The losses in plain sentences, each made only from numbers stored here."""
        return describe(self)

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        out["n_lost"] = self.n_lost  # derived, for JSON readers (from_dict ignores both)
        out["summary"] = self.sentences()
        return out


TermLosses.items = {"lost": LostTerm}
ColumnLosses.items = {"lost": TailShare}
ClassLosses.items = {"lost": ClassShare, "absent": ClassShare}
LengthLosses.items = {"tails": TailShare}
RarityCoverage.items = {"examples": RareExample}
Losses.items = {
    "terms": TermLosses,
    "lengths": LengthLosses,
    "columns": ColumnLosses,
    "classes": ClassLosses,
    "rarity": RarityCoverage,
}


# ----------------------------------------------------------------------------- sentences
_ORDER_NAMES = {1: "words", 2: "bigrams", 3: "trigrams"}


def _num(v: float) -> str:
    """A threshold as a reader writes it: integers plain, others to 4 significant digits."""
    if float(v).is_integer() and abs(v) < 1e15:
        return str(int(v))
    return f"{v:.4g}"


def _pct(p: float) -> str:
    """A share as a percentage, keeping two significant digits below 1%."""
    return f"{100 * p:.2g}%" if 0 < p < 0.01 else f"{p:.1%}"


def _tail_phrase(t: TailShare, what: str) -> str:
    if what == "length":
        if t.side == "upper":
            return f"{_num(t.threshold)} tokens or longer" if t.inclusive else f"longer than {_num(t.threshold)} tokens"
        return f"{_num(t.threshold)} tokens or shorter" if t.inclusive else f"shorter than {_num(t.threshold)} tokens"
    word = {
        ("upper", False): "above",
        ("upper", True): "at or above",
        ("lower", False): "below",
        ("lower", True): "at or below",
    }[(t.side, t.inclusive)]
    return f"{word} {_num(t.threshold)}"


def tail_sentence(t: TailShare, unit: str, what: str = "column") -> str:
    """``column `alcohol`: 5.1% of the reference's rows (9) are above 13.86, 0.0% of the candidate's (0).``"""
    lead = "" if what == "length" else f"column `{t.feature}`: "
    body = (
        f"{t.reference_share:.1%} of the reference's {unit} ({t.reference_count}) are {_tail_phrase(t, what)}, "
        f"{t.candidate_share:.1%} of the candidate's ({t.candidate_count})"
    )
    return (lead + body[0].upper() + body[1:] if not lead else lead + body) + "."


def describe(losses: Losses) -> list[str]:
    """Plain sentences for ``losses``, every number taken from it."""
    out: list[str] = []
    for t in losses.terms:
        kind = _ORDER_NAMES.get(t.n, f"{t.n}-grams")
        if t.n_judged == 0:
            out.append(
                f"No {kind[:-1]} occurs in {t.min_docs} or more documents, the fewest whose absence "
                f"could be told from chance at {t.n_reference_docs} reference and "
                f"{t.n_candidate_docs} candidate documents."
            )
            continue
        seen = f"{kind} found in at least {t.min_docs} documents of the two sides"
        if not t.n_lost:
            out.append(f"None of the {t.n_judged} {seen} is missing from the candidate.")
            continue
        rarest = ", ".join(f"“{x.text}” ({x.reference_docs} reference documents)" for x in t.lost[:5])
        verb = "occurs" if t.n_lost == 1 else "occur"
        out.append(f"{t.n_lost} of the {t.n_judged} {seen} never {verb} in the candidate; the rarest: {rarest}.")
    if losses.lengths is not None:
        lg = losses.lengths
        q = dict(zip(lg.levels, zip(lg.reference_quantiles, lg.candidate_quantiles, strict=True), strict=True))

        def quantiles(i: int) -> str:
            return f"median {_num(q[0.5][i])}, 95th percentile {_num(q[0.95][i])}, 99th percentile {_num(q[0.99][i])}"

        out.append(f"Length in tokens: the reference has {quantiles(0)}; the candidate {quantiles(1)}.")
        lost = [t for t in lg.tails if t.lost]
        out.extend(tail_sentence(t, "documents", "length") for t in lost)
        if not lg.tails:
            out.append("The reference's lengths do not vary: there is no length tail to compare.")
        elif not lost:
            out.append(f"None of the {len(lg.tails)} length tails is significantly thinner in the candidate.")
    if losses.columns is not None:
        c = losses.columns
        out.extend(tail_sentence(t, c.unit) for t in c.lost[:10])
        if len(c.lost) > 10:
            out.append(f"{len(c.lost) - 10} more column tails are significantly thinner in the candidate.")
        if not c.n_tested:
            out.append(f"None of the {c.n_columns} columns has a reference tail to compare.")
        elif not c.lost:
            out.append(
                f"None of the {c.n_tested} tails of the {c.n_columns} columns is significantly thinner "
                f"in the candidate."
            )
    if losses.classes is not None:
        cl = losses.classes
        out.extend(
            f"class `{r.label}`: {r.reference_share:.1%} of the reference's {cl.unit} ({r.reference_count}), "
            f"{r.candidate_share:.1%} of the candidate's ({r.candidate_count})."
            for r in cl.lost[:10]
        )
        if len(cl.lost) > 10:
            out.append(f"{len(cl.lost) - 10} more classes have a significantly smaller share in the candidate.")
        if not cl.lost:
            out.append(f"None of the {cl.n_classes} classes has a significantly smaller share in the candidate.")
        if cl.absent:
            few = ", ".join(f"`{r.label}` ({r.reference_count} {cl.unit})" for r in cl.absent[:10])
            out.append(f"Absent from the candidate but too rare in the reference to tell from chance: {few}.")
    if losses.rarity is not None:
        r = losses.rarity
        share = r.n_uncovered / r.n_sparse
        out.append(
            f"{r.n_uncovered} of the {r.n_sparse} sparsest reference {r.unit} ({share:.1%}) "
            f"{'has' if r.n_uncovered == 1 else 'have'} no candidate "
            f"within their {r.k}-NN radius; two samples of one distribution at these sizes leave about "
            f"{_pct(r.expected_uncovered)} uncovered"
            + (f" (one-sided p = {r.p_value:.2g}: lost)." if r.lost else f" (one-sided p = {r.p_value:.2g}).")
        )
    out.extend(f"Not measured: {n}." for n in losses.notes)
    return out
