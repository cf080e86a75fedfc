"""Drift tests: MMD permutation p-value validity, KS + Holm against scipy, PSI by hand, C2ST, bulk."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from threadpoolctl import threadpool_limits

from tailguard.metrics.bootstrap import holm
from tailguard.metrics.bulk import BulkMoments
from tailguard.metrics.drift import C2ST, KS, MMD, PSI


@pytest.fixture(autouse=True)
def _one_blas_thread():
    with threadpool_limits(1):
        yield


def test_mmd_p_value_is_valid_under_the_null() -> None:
    # 300 seeded H0 trials (n = 25 per side, B = 99). A valid p-value has
    # P(p <= a) <= a: the rejection rate at a = 0.05 and 0.2 must stay within
    # 3 binomial SEs of a (0.088 and 0.27), and the mean p must be ~0.5 (±0.06).
    rng = np.random.default_rng(0)
    ps = []
    for t in range(300):
        m = MMD(n_permutations=99, n_boot=10, seed=t, bandwidth=1.5)
        ps.append(m.update_reference(rng.normal(size=(25, 2))).update(rng.normal(size=(25, 2))).result())
    p = np.array([r.value("p_value").value for r in ps])
    assert (p <= 0.05).mean() <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / 300)
    assert (p <= 0.2).mean() <= 0.2 + 3 * np.sqrt(0.2 * 0.8 / 300)
    assert abs(p.mean() - 0.5) < 0.06
    assert p.min() >= 1 / 100  # never below 1/(B+1)


def test_mmd_p_value_counts_the_observed_statistic() -> None:
    rng = np.random.default_rng(1)
    r = MMD(n_permutations=49).update_reference(rng.normal(size=(100, 3))).update(rng.normal(size=(100, 3)) + 3)
    res = r.result()
    assert res.value("p_value").value == 1 / 50  # (1 + 0) / (1 + B), not 0
    lo, hi = res.value("mmd2").ci
    assert lo <= res.value("mmd2").value <= hi and lo > res.details["permutation_quantile_95"]


def test_mmd_random_features_match_exact() -> None:
    # Same data above and below rff_threshold: MMD² agrees within 15% with 4096 features.
    rng = np.random.default_rng(2)
    ref, cand = rng.normal(size=(600, 4)), rng.normal(size=(600, 4)) * 1.3
    kw = {"bandwidth": 2.0, "n_permutations": 50, "n_boot": 10}
    exact = MMD(**kw).update_reference(ref).update(cand).result()
    rff = MMD(**kw, rff_threshold=100, rff_dim=4096).update_reference(ref).update(cand).result()
    assert exact.details["method"] == "exact" and rff.details["method"] == "rff"
    assert rff.value("mmd2").value == pytest.approx(exact.value("mmd2").value, rel=0.15)
    assert rff.value("p_value").value <= 0.05 and exact.value("p_value").value <= 0.05


def test_ks_matches_scipy_per_feature_with_holm() -> None:
    rng = np.random.default_rng(3)
    ref = rng.normal(size=(2000, 8))
    cand = rng.normal(size=(1500, 8))
    cand[:, [2, 5]] += 0.5
    res = KS().update_reference(ref).update(cand).result()
    raw = [stats.ks_2samp(cand[:, j], ref[:, j]) for j in range(8)]
    assert np.allclose(res.details["statistic"], [r.statistic for r in raw])
    assert np.allclose(res.details["p_adjusted"], holm([r.pvalue for r in raw]))
    assert res.value("drifted_feature_share").value == 0.25
    assert res.value("max_ks_statistic").value == pytest.approx(max(r.statistic for r in raw))


def test_holm_against_definition() -> None:
    p = np.array([0.04, 0.001, 0.03, 0.2, 0.01])
    adj = holm(p)
    order = np.argsort(p)
    expected = np.minimum(1, np.maximum.accumulate([(5 - i) * p[j] for i, j in enumerate(order)]))
    assert np.allclose(adj[order], expected)
    assert np.all(adj >= p)


def test_psi_by_hand_and_null_scale() -> None:
    rng = np.random.default_rng(4)
    ref = rng.normal(size=(10_000, 1))
    cand = rng.normal(size=(10_000, 1)) + 0.3
    res = PSI(n_boot=10).update_reference(ref).update(cand).result()
    edges = np.quantile(ref[:, 0], np.linspace(0, 1, 11)[1:-1])
    r = np.bincount(np.searchsorted(edges, ref[:, 0], side="right"), minlength=10) / 10_000
    c = np.bincount(np.searchsorted(edges, cand[:, 0], side="right"), minlength=10) / 10_000
    assert res.value("psi").value == pytest.approx(float(((c - r) * np.log(c / r)).sum()))
    null = PSI(n_boot=10).update_reference(ref).update(rng.normal(size=(10_000, 1))).result()
    assert null.value("psi").value < 0.01 < res.value("psi").value


def test_c2st_auc_near_half_under_null_and_high_under_shift() -> None:
    rng = np.random.default_rng(5)
    ref = rng.normal(size=(1000, 5))
    null = C2ST().update_reference(ref).update(rng.normal(size=(1000, 5))).result().value("auc")
    # n = 1000 per side: SE(AUC) ~ 0.013 under H0, so |AUC - 0.5| < 0.06 is > 4 SE.
    assert abs(null.value - 0.5) < 0.06
    assert null.ci[0] < null.value < null.ci[1] and null.ci[1] - null.ci[0] < 0.08
    moved = C2ST(classifier="hgb").update_reference(ref).update(rng.normal(size=(1000, 5)) * 2).result()
    assert moved.value("auc").value > 0.8  # a variance change: only a non-linear classifier sees it


def test_bulk_moments_blind_to_spread_but_see_location() -> None:
    rng = np.random.default_rng(6)
    ref = rng.normal(size=(20_000, 4))
    shrunk = BulkMoments(n_boot=10).update_reference(ref).update(0.9 * rng.normal(size=(20_000, 4))).result()
    moved = BulkMoments(n_boot=10).update_reference(ref).update(rng.normal(size=(20_000, 4)) + 0.5).result()
    assert shrunk.value("mean_shift").value < 0.03 and shrunk.value("median_shift").value < 0.04
    assert moved.value("mean_shift").value == pytest.approx(0.5, abs=0.03)
    assert moved.value("median_shift").value == pytest.approx(0.5, abs=0.04)


@pytest.mark.parametrize("kind", ["clustered", "digits"])
def test_mmd_random_features_match_exact_on_clustered_and_real_rows(kind: str) -> None:
    # Clustered Gaussians with a rare cluster dropped, and digits 0-4 against 5-9 (real pixels):
    # 4,096 random features against the exact kernel sum, same bandwidth; within 15%.
    rng = np.random.default_rng(5)
    if kind == "clustered":
        centres = rng.normal(scale=3.0, size=(5, 6))
        ref = centres[rng.integers(0, 5, 600)] + rng.normal(size=(600, 6))
        cand = centres[rng.integers(0, 4, 600)] + rng.normal(size=(600, 6))
    else:
        from tailguard.data.tabular import load_digits

        d = load_digits()
        ref, cand = np.asarray(d.X[d.y < 5][:600]), np.asarray(d.X[d.y >= 5][:600])
    kw = {"n_permutations": 50, "n_boot": 10}
    exact = MMD(**kw).update_reference(ref).update(cand).result()
    rff = MMD(**kw, bandwidth=exact.details["bandwidth"], rff_threshold=100, rff_dim=4096)
    rff_res = rff.update_reference(ref).update(cand).result()
    assert rff_res.details["method"] == "rff"
    assert rff_res.value("mmd2").value == pytest.approx(exact.value("mmd2").value, rel=0.15)
