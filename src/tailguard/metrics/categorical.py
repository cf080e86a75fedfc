"""Categorical tails and diversity: Hill numbers, Good–Turing missing mass, lost categories.

Batches are sequences of hashable labels (str, int, tuples...). Every metric
here keeps exact counts per label (a mergeable counter), so ``merge(A, B)``
equals the counter of ``A ∪ B``.

* :class:`HillNumbersMetric` (``hill_numbers``): the effective number of
  categories of order q (Hill 1973): ``q = 0`` richness, ``q = 1``
  ``exp(Shannon entropy)``, ``q = 2`` inverse Simpson ``1 / Σ p²``.
* :class:`MissingMassMetric` (``missing_mass``): the Good–Turing estimate
  ``n1 / N`` of the probability of a category never seen (``n1`` =
  categories seen exactly once). Collapsed data lose their singletons, so
  higher is better: it measures how much tail is left.
* :class:`LostCategoriesMetric` (``lost_categories``): reference categories
  absent from the candidate, their count, share and reference mass; the
  details list them (most frequent in the reference first, capped).

**Same N.** Richness, missing mass and lost categories depend on the sample
size, so the reference value is the mean over ``n_draws`` seeded subsamples of
the reference, drawn without replacement at the candidate's size
(multivariate hypergeometric); when the candidate is larger than the
reference, the candidate is subsampled the same way. The reference value of
``lost_categories`` is how many reference categories a same-size subsample of
the reference itself misses: what sampling alone would lose.

**CIs**: Hill numbers use a seeded multinomial bootstrap (``n_boot``); the
missing mass uses Esty's (1983) normal approximation
``Var ≈ (n1 + 2 n2 - n1²/N) / N²``; lost-category counts use the spread of the
subsample draws.

>>> m = HillNumbersMetric(n_boot=50).update(["a", "a", "b", "c"]).update_reference(list("abcdabcd"))
>>> r = m.result()
>>> r.value("hill_q0").value        # 3 categories among 4 items
3.0
>>> 3.0 <= r.value("hill_q0").reference_value < 4.0   # 4 categories, subsampled to 4 items
True
>>> LostCategoriesMetric().update(["a"] * 8).update_reference(list("aabbc")).result().value("lost_categories").value
2.0
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable, Iterable
from typing import Any, ClassVar

import numpy as np

from tailguard.errors import BadInputError, EmptyDatasetError
from tailguard.metrics.base import Metric, MetricResult, MetricValue, register_metric
from tailguard.metrics.vectors import VECTOR_MODALITIES
from tailguard.validation import Int

_Z = 1.959963984540054


def hill_numbers(counts: np.ndarray) -> tuple[float, float, float]:
    """Hill numbers of order 0, 1 and 2 of a vector of category counts.

    >>> hill_numbers(np.array([5, 5]))
    (2.0, 2.0, 2.0)
    """
    c = np.asarray(counts, dtype=np.float64)
    c = c[c > 0]
    if c.size == 0:
        return (0.0, math.nan, math.nan)
    p = c / c.sum()
    h = float(-(p * np.log(p)).sum())
    return float(c.size), math.exp(h), float(1.0 / np.sum(p * p))


def good_turing_missing_mass(counts: np.ndarray) -> tuple[float, float]:
    """Good–Turing missing mass ``n1/N`` and Esty's standard error.

    >>> good_turing_missing_mass(np.array([1, 1, 2, 6]))[0]
    0.2
    """
    c = np.asarray(counts, dtype=np.int64)
    n = float(c.sum())
    if n <= 0:
        return math.nan, math.nan
    n1 = float(np.count_nonzero(c == 1))
    n2 = float(np.count_nonzero(c == 2))
    var = max(n1 + 2 * n2 - n1 * n1 / n, 0.0) / (n * n)
    return n1 / n, math.sqrt(var)


def _labels(batch: Any, what: str) -> list[Hashable]:
    if isinstance(batch, str | bytes) or not isinstance(batch, Iterable):
        raise BadInputError(f"{what}: expected a sequence of category labels, got {type(batch).__name__}")
    out = list(batch.tolist() if isinstance(batch, np.ndarray) else batch)
    for i, label in enumerate(out):
        if label is None or (isinstance(label, float) and math.isnan(label)):
            raise BadInputError(f"{what} item {i}: missing category label ({label!r})")
        try:
            hash(label)
        except TypeError:
            raise BadInputError(
                f"{what} item {i}: category labels must be hashable, got {type(label).__name__}"
            ) from None
    return out


def _label_key(label: Hashable) -> tuple[str, str]:
    """A total order over labels of mixed types (for deterministic arrays)."""
    return (type(label).__name__, repr(label))


class _CategoricalMetric(Metric):
    """Shared state: exact label counters for the candidate and the reference."""

    input_kind: ClassVar[str] = "categories"
    requires_reference: ClassVar[bool] = True
    params: ClassVar[dict[str, Any]] = {"seed": Int(min=0), "n_draws": Int(min=1), "n_boot": Int(min=10)}
    defaults: ClassVar[dict[str, Any]] = {"seed": 0, "n_draws": 20, "n_boot": 200}

    def __init__(self, **params: Any):
        super().__init__(**params)
        self._counts: dict[bool, Counter[Hashable]] = {False: Counter(), True: Counter()}

    def _update(self, batch: Any, *, reference: bool) -> None:
        what = "reference category batch" if reference else "candidate category batch"
        self._counts[reference].update(_labels(batch, what))

    def _merge(self, other: _CategoricalMetric) -> None:
        for side in (False, True):
            self._counts[side].update(other._counts[side])

    # -- helpers ---------------------------------------------------------------------------------
    def _arrays(self) -> tuple[list[Hashable], np.ndarray, np.ndarray]:
        """All labels in a fixed order with candidate and reference counts."""
        cand, ref = self._counts[False], self._counts[True]
        labels = sorted(set(cand) | set(ref), key=_label_key)
        c = np.array([cand.get(k, 0) for k in labels], dtype=np.int64)
        r = np.array([ref.get(k, 0) for k in labels], dtype=np.int64)
        if c.sum() == 0:
            raise EmptyDatasetError(f"{self.name}: the candidate has no labels")
        return labels, c, r

    def _subsamples(self, counts: np.ndarray, size: int, salt: int) -> np.ndarray:
        """``n_draws`` seeded subsamples (rows) of ``counts`` without replacement, of ``size`` items."""
        rng = np.random.default_rng([self._params["seed"], salt])
        if size >= counts.sum():
            return counts[None, :].copy()
        return np.stack([rng.multivariate_hypergeometric(counts, size) for _ in range(self._params["n_draws"])])

    def _footing(self, c: np.ndarray, r: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Candidate and reference count draws at the same size (the smaller side's)."""
        nc, nr = int(c.sum()), int(r.sum())
        if nr == 0:
            return c[None, :], np.zeros((0, len(c)), dtype=np.int64)
        size = min(nc, nr)
        return self._subsamples(c, size, 1), self._subsamples(r, size, 2)

    def _result(self, values: list[MetricValue], details: dict[str, Any]) -> MetricResult:
        n_ref = sum(self._counts[True].values())
        return MetricResult(
            metric=self.name,
            family=self.family,
            config_id=self.config_id,
            n=sum(self._counts[False].values()),
            n_reference=n_ref or None,
            values=tuple(values),
            details=details,
        )


@register_metric
class HillNumbersMetric(_CategoricalMetric):
    """Hill numbers q = 0, 1, 2 (effective numbers of categories); see the module docstring."""

    name: ClassVar[str] = "hill_numbers"
    family: ClassVar[str] = "diversity"
    modalities: ClassVar[tuple[str, ...]] = ("categorical", "detection", *VECTOR_MODALITIES)
    optional_in: ClassVar[tuple[str, ...]] = VECTOR_MODALITIES  # there only with per-sample labels
    order: ClassVar[int] = 82
    value_names: ClassVar[tuple[str, ...]] = ("hill_q0", "hill_q1", "hill_q2")
    higher_is_better: ClassVar[bool] = True
    requires_reference: ClassVar[bool] = False
    accepts_reference: ClassVar[bool] = True

    def result(self) -> MetricResult:
        _, c, r = self._arrays()
        cd, rd = self._footing(c, r)
        cand_vals = np.array([hill_numbers(row) for row in cd]).mean(axis=0)
        ref_vals = np.array([hill_numbers(row) for row in rd]).mean(axis=0) if len(rd) else None
        rng = np.random.default_rng([self._params["seed"], 3])
        base = cd[0]
        p = base / base.sum()
        boot = np.array([hill_numbers(rng.multinomial(int(base.sum()), p)) for _ in range(self._params["n_boot"])])
        values = []
        for q in range(3):
            lo, hi = np.nanpercentile(boot[:, q], [2.5, 97.5])
            values.append(
                MetricValue(
                    f"hill_q{q}",
                    float(cand_vals[q]),
                    True,
                    float(ref_vals[q]) if ref_vals is not None else None,
                    (float(min(lo, cand_vals[q])), float(max(hi, cand_vals[q]))),
                    "bootstrap",
                )
            )
        return self._result(values, {"compared_at_n": float(cd[0].sum())})


@register_metric
class MissingMassMetric(_CategoricalMetric):
    """Good–Turing missing mass n1/N; see the module docstring."""

    name: ClassVar[str] = "missing_mass"
    family: ClassVar[str] = "tails"
    modalities: ClassVar[tuple[str, ...]] = ("categorical", "detection", *VECTOR_MODALITIES)
    optional_in: ClassVar[tuple[str, ...]] = VECTOR_MODALITIES  # there only with per-sample labels
    order: ClassVar[int] = 81
    value_names: ClassVar[tuple[str, ...]] = ("good_turing_missing_mass",)
    default_rules: ClassVar[tuple[tuple[str, dict[str, Any]], ...]] = (
        ("*/missing_mass/*", {"kind": "excess", "warn": 0.02, "collapse": 0.1}),
    )
    higher_is_better: ClassVar[bool] = True
    requires_reference: ClassVar[bool] = False
    accepts_reference: ClassVar[bool] = True

    def result(self) -> MetricResult:
        _, c, r = self._arrays()
        cd, rd = self._footing(c, r)
        est = np.array([good_turing_missing_mass(row) for row in cd])
        value, se = float(est[:, 0].mean()), float(est[:, 1].mean())
        ref_value = float(np.mean([good_turing_missing_mass(row)[0] for row in rd])) if len(rd) else None
        v = MetricValue(
            "good_turing_missing_mass", value, True, ref_value, (value - _Z * se, value + _Z * se), "analytic"
        )
        return self._result(
            [v],
            {"singletons": float(np.count_nonzero(c == 1)), "compared_at_n": float(cd[0].sum())},
        )


@register_metric
class LostCategoriesMetric(_CategoricalMetric):
    """Reference categories that the candidate no longer has; see the module docstring."""

    name: ClassVar[str] = "lost_categories"
    family: ClassVar[str] = "tails"
    modalities: ClassVar[tuple[str, ...]] = ("categorical", "detection", *VECTOR_MODALITIES)
    optional_in: ClassVar[tuple[str, ...]] = VECTOR_MODALITIES  # there only with per-sample labels
    order: ClassVar[int] = 80
    value_names: ClassVar[tuple[str, ...]] = ("lost_categories", "lost_category_share", "lost_reference_mass")
    default_rules: ClassVar[tuple[tuple[str, dict[str, Any]], ...]] = (
        # Counts are shown, shares judged against a same-size reference draw.
        ("*/lost_categories/lost_categories", {"kind": "info"}),
        ("*/lost_categories/lost_category_share", {"kind": "excess", "warn": 0.05, "collapse": 0.2}),
        ("*/lost_categories/lost_reference_mass", {"kind": "excess", "warn": 0.01, "collapse": 0.05}),
    )
    higher_is_better: ClassVar[bool] = False
    params: ClassVar[dict[str, Any]] = {**_CategoricalMetric.params, "max_listed": Int(min=0)}
    defaults: ClassVar[dict[str, Any]] = {**_CategoricalMetric.defaults, "max_listed": 50}

    def result(self) -> MetricResult:
        labels, c, r = self._arrays()
        if r.sum() == 0:
            raise EmptyDatasetError("lost_categories: the reference has no labels")
        in_ref = r > 0
        lost = in_ref & (c == 0)
        n_ref_cats = int(in_ref.sum())
        n_lost = float(lost.sum())
        lost_mass = float(r[lost].sum() / r.sum())
        # what a same-size subsample of the reference itself misses
        size = int(min(c.sum(), r.sum()))
        draws = self._subsamples(r, size, 2)
        missed = ((draws == 0) & in_ref).sum(axis=1).astype(np.float64)
        missed_mass = np.array([r[(row == 0) & in_ref].sum() / r.sum() for row in draws])
        sd = float(missed.std(ddof=1)) if len(missed) > 1 else 0.0
        sd_mass = float(missed_mass.std(ddof=1)) if len(missed) > 1 else 0.0
        values = [
            MetricValue(
                "lost_categories",
                n_lost,
                False,
                float(missed.mean()),
                (max(n_lost - _Z * sd, 0.0), n_lost + _Z * sd),
                "subsample",
            ),
            MetricValue(
                "lost_category_share",
                n_lost / n_ref_cats,
                False,
                float(missed.mean() / n_ref_cats),
                (max(n_lost - _Z * sd, 0.0) / n_ref_cats, (n_lost + _Z * sd) / n_ref_cats),
                "subsample",
            ),
            MetricValue(
                "lost_reference_mass",
                lost_mass,
                False,
                float(missed_mass.mean()),
                (max(lost_mass - _Z * sd_mass, 0.0), lost_mass + _Z * sd_mass),
                "subsample",
            ),
        ]
        order = np.flatnonzero(lost)
        order = order[np.argsort(-r[order], kind="stable")][: self._params["max_listed"]]
        details = {
            "lost": [str(labels[i]) for i in order],
            "lost_reference_counts": [float(r[i]) for i in order],
            "n_reference_categories": float(n_ref_cats),
            "n_candidate_categories": float(np.count_nonzero(c)),
            "compared_at_n": float(size),
        }
        return self._result(values, details)
