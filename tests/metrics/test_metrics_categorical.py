"""Hill numbers, Good–Turing missing mass and lost categories, checked against theory."""

from __future__ import annotations

import json
import math
import pickle

import numpy as np
import pytest
from scipy import special, stats

from tailguard.errors import BadInputError, EmptyDatasetError, ParameterError
from tailguard.metrics.base import METRICS
from tailguard.metrics.categorical import (
    HillNumbersMetric,
    LostCategoriesMetric,
    MissingMassMetric,
    good_turing_missing_mass,
    hill_numbers,
)


def zipf_p(k: int, a: float = 1.2) -> np.ndarray:
    p = 1.0 / np.arange(1, k + 1) ** a
    return p / p.sum()


def test_hill_numbers_theory():
    assert hill_numbers(np.full(7, 3)) == pytest.approx((7, 7, 7))
    counts = np.array([50, 30, 15, 4, 1])
    p = counts / counts.sum()
    q0, q1, q2 = hill_numbers(counts)
    assert q0 == 5
    assert q1 == pytest.approx(math.exp(stats.entropy(p)))
    assert q2 == pytest.approx(1 / np.sum(p**2))
    assert q0 >= q1 >= q2  # Hill numbers never increase with q


def test_missing_mass_unbiased_and_ci_covers():
    rng = np.random.default_rng(0)
    p = zipf_p(5000)
    ests, truths, covered = [], [], 0
    trials = 150
    for _ in range(trials):
        counts = rng.multinomial(2000, p)
        est, se = good_turing_missing_mass(counts)
        truth = float(p[counts == 0].sum())
        ests.append(est)
        truths.append(truth)
        covered += abs(est - truth) <= 1.96 * se
    assert np.mean(ests) == pytest.approx(np.mean(truths), abs=0.01)
    assert covered / trials >= 0.85  # nominal 95%; Esty's approximation, 150 trials


def test_reference_is_compared_at_the_candidates_size():
    rng = np.random.default_rng(1)
    p = zipf_p(3000)
    ref = rng.choice(3000, size=20_000, p=p)
    cand = rng.choice(3000, size=2_000, p=p)
    hill = HillNumbersMetric(n_boot=50).update(cand).update_reference(ref).result()
    for q in range(3):
        assert hill.value(f"hill_q{q}").ratio == pytest.approx(1.0, abs=0.08)
    assert hill.details["compared_at_n"] == 2000
    mm = MissingMassMetric().update(cand).update_reference(ref).result().value("good_turing_missing_mass")
    assert mm.ratio == pytest.approx(1.0, abs=0.15)
    # without the size matching the reference's own richness would be far larger
    assert hill_numbers(np.bincount(ref))[0] > 1.5 * hill.value("hill_q0").value


def test_lost_categories_and_the_sampling_baseline():
    rng = np.random.default_rng(2)
    p = zipf_p(400)
    ref = rng.choice(400, size=5000, p=p)
    rc = np.bincount(ref, minlength=400)
    # collapse: the candidate keeps only the 100 most frequent reference categories
    keep = np.argsort(-rc, kind="stable")[:100]
    q = np.zeros(400)
    q[keep] = p[keep]
    cand = rng.choice(400, size=1000, p=q / q.sum())
    m = LostCategoriesMetric(n_draws=200, max_listed=10).update(cand).update_reference(ref)
    r = m.result()
    lost = set(np.flatnonzero(rc > 0)) - set(cand.tolist())
    assert r.value("lost_categories").value == len(lost)
    assert r.value("lost_reference_mass").value == pytest.approx(rc[sorted(lost)].sum() / rc.sum())
    # the baseline: expected number of reference categories a same-size subsample misses (Hurlbert 1971)
    n, size = rc.sum(), 1000
    present = rc[rc > 0]
    expected = np.sum(
        np.exp(
            special.gammaln(n - present + 1)
            - special.gammaln(n - present - size + 1)
            - special.gammaln(n + 1)
            + special.gammaln(n - size + 1)
        )
    )
    baseline = r.value("lost_categories").reference_value
    assert baseline == pytest.approx(expected, rel=0.05)
    assert r.value("lost_categories").value > 1.5 * baseline
    listed = r.details["lost"]
    assert len(listed) == 10
    counts = r.details["lost_reference_counts"]
    assert counts == sorted(counts, reverse=True)


@pytest.mark.parametrize("cls", [HillNumbersMetric, MissingMassMetric, LostCategoriesMetric])
def test_merge_equals_union_pickles_and_serialises(cls):
    rng = np.random.default_rng(3)
    cand = [f"c{i}" for i in rng.choice(300, size=900, p=zipf_p(300))]
    ref = [f"c{i}" for i in rng.choice(300, size=1500, p=zipf_p(300))]
    whole = cls().update(cand).update_reference(ref).result().to_dict()
    a = cls().update(cand[:400]).update_reference(ref[:700])
    b = pickle.loads(pickle.dumps(cls().update(cand[400:]).update_reference(ref[700:])))
    merged = a.merge(b).result().to_dict()
    assert merged == whole
    assert json.loads(json.dumps(whole)) == whole
    assert METRICS.get(cls.name) is cls


def test_bad_labels_and_parameters():
    m = HillNumbersMetric()
    with pytest.raises(BadInputError, match="candidate category batch item 1: missing category label"):
        m.update(["a", None])
    with pytest.raises(BadInputError, match="reference category batch item 0: category labels must be hashable"):
        m.update_reference([["a"]])
    with pytest.raises(BadInputError, match="expected a sequence"):
        m.update("abc")
    with pytest.raises(EmptyDatasetError):
        HillNumbersMetric().update_reference(["a"]).result()
    with pytest.raises(ParameterError, match="The 'n_draws' parameter of MissingMassMetric must be an int >= 1"):
        MissingMassMetric(n_draws=0)


def test_reference_is_optional_except_for_lost_categories():
    labels = ["a", "a", "b", "c"]
    assert HillNumbersMetric.requires_reference is False and HillNumbersMetric.uses_reference()
    r = HillNumbersMetric(n_boot=20).update(labels).result()
    assert r.value("hill_q0").value == 3 and r.value("hill_q0").reference_value is None
    assert MissingMassMetric().update(labels).result().value("good_turing_missing_mass").value == 0.5
    assert LostCategoriesMetric.requires_reference is True
    with pytest.raises(EmptyDatasetError, match="the reference has no labels"):
        LostCategoriesMetric().update(labels).result()
