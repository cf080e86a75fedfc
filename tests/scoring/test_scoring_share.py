"""The machine-made share: best bin on known mixtures of scores, its CI's coverage, and the adjusted count."""

from __future__ import annotations

import numpy as np
import pytest

from tailguard.errors import EmptyDatasetError
from tailguard.scoring.share import adjusted_count_share, best_bin_share, machine_probability


def _scores(rng, share, n=3000, overlap=0.3):
    """Human scores uniform on [0, 1]; machine-made ones uniform on [0, overlap]: the top bin is pure."""
    ref = rng.uniform(size=n)
    m = round(share * n)
    cand = np.r_[rng.uniform(size=n - m), rng.uniform(0, overlap, size=m)]
    return ref, cand


@pytest.mark.parametrize("share", [0.0, 0.1, 0.3, 0.6])
def test_the_estimate_is_near_the_truth_and_its_ci_covers_it(share):
    covered, errors = 0, []
    for seed in range(40):
        ref, cand = _scores(np.random.default_rng([seed, 1]), share)
        est = best_bin_share(ref, cand, seed=seed, bootstrap=500)
        errors.append(est.estimate - share)
        covered += est.ci[0] <= share <= est.ci[1]
    assert np.max(np.abs(errors)) < 0.07
    assert covered >= 34  # a 95% interval: 38 of 40 expected; 34 or more with probability > 0.99


def test_identical_distributions_give_zero_inside_the_ci():
    # the identity: a candidate drawn like the reference is 0% machine-made
    rng = np.random.default_rng(5)
    hits = 0
    for seed in range(30):
        ref, cand = rng.normal(size=2000), rng.normal(size=2000)
        est = best_bin_share(ref, cand, seed=seed, bootstrap=500)
        hits += est.ci[0] == 0.0
        assert est.estimate < 0.06
    assert hits >= 27


def test_inseparable_machine_text_is_under_estimated_as_the_assumption_says():
    rng = np.random.default_rng(0)
    ref, cand = rng.uniform(size=3000), rng.uniform(size=3000)  # "30% machine-made" but scored like humans
    est = best_bin_share(ref, cand, seed=0)
    assert est.estimate < 0.1 and "under-estimated" in est.assumption


def test_too_few_documents_is_a_named_error():
    with pytest.raises(EmptyDatasetError, match="at least 50 documents"):
        best_bin_share(np.zeros(10), np.zeros(100))


def test_adjusted_count_corrects_a_detector_that_errs():
    rng = np.random.default_rng(1)
    # a detector with fpr 0.15 and tpr 0.7 on a 20% candidate: it calls 26% machine-made
    ref = (rng.uniform(size=4000) < 0.15).astype(float)
    syn = (rng.uniform(size=4000) < 0.7).astype(float)
    truth = rng.uniform(size=4000) < 0.2
    cand = np.where(truth, rng.uniform(size=4000) < 0.7, rng.uniform(size=4000) < 0.15).astype(float)
    est = adjusted_count_share(ref, syn, cand, seed=0)
    assert est.estimate == pytest.approx(0.2, abs=0.04) and est.ci[0] < 0.2 < est.ci[1]
    assert abs(cand.mean() - 0.2) > 0.04  # the raw count is off: the correction is what got it right


def test_machine_probability_is_one_minus_the_human_posterior():
    assert machine_probability(np.array([2.0]), 0.0).tolist() == [0.0]
    assert machine_probability(np.array([1.0]), 0.3).tolist() == pytest.approx([0.3])
