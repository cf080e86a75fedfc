"""Tail mass, rare-mode coverage and k-NN distance tails against Gaussian theory; the row store; batch validation."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from scipy import stats
from threadpoolctl import threadpool_limits

from tailguard.errors import BadInputError, EmptyDatasetError, IncompatibleMergeError, NonFiniteValueError
from tailguard.metrics.bootstrap import wilson_ci
from tailguard.metrics.rows import RowStore, as_vectors
from tailguard.metrics.tails import NNDistanceTail, RareModeCoverage, TailMass, band_scores, band_thresholds, score_ci


@pytest.fixture(autouse=True)
def _one_blas_thread():
    with threadpool_limits(1):
        yield


def theory_ratio(alpha: float, scale: float) -> float:
    """Tail mass of N(0, scale²) beyond N(0,1)'s alpha/1-alpha quantiles, over 2·alpha."""
    z = stats.norm.ppf(1 - alpha)
    return 2 * stats.norm.sf(z / scale) / (2 * alpha)


@pytest.mark.parametrize("scale", [1.0, 0.9, 0.98])
def test_tail_mass_ratio_matches_gaussian_theory(scale: float) -> None:
    # n = 200k, d = 2: about 8000 reference tail cells at alpha = 0.01, so the
    # ratio's standard error is about 0.02; tolerance 0.06 (3 SE).
    rng = np.random.default_rng(1)
    ref, cand = rng.normal(size=(200_000, 2)), scale * rng.normal(size=(200_000, 2))
    res = TailMass(n_boot=20).update_reference(ref).update(cand).result()
    for alpha in (0.01, 0.05):
        v = res.value(f"tail_mass_{alpha:g}")
        assert v.reference_value == pytest.approx(2 * alpha, rel=0.01)
        assert v.ratio == pytest.approx(theory_ratio(alpha, scale), abs=0.06)
        assert v.ci[0] <= v.value <= v.ci[1]


def test_tail_mass_sees_a_2pct_shrink_that_psi_barely_notices() -> None:
    # The averages-trap numbers: SD x 0.98 drops the 1% tail mass ~14%.
    from tailguard.metrics.drift import PSI

    rng = np.random.default_rng(2)
    ref, cand = rng.normal(size=(200_000, 1)), 0.98 * rng.normal(size=(200_000, 1))
    tail = TailMass(n_boot=20).update_reference(ref).update(cand).result().value("tail_mass_0.01")
    psi = PSI(n_boot=10).update_reference(ref).update(cand).result().value("psi")
    assert tail.ratio < 0.93
    assert psi.value < 0.005


def test_tail_mass_details_point_at_the_shrunk_feature() -> None:
    rng = np.random.default_rng(3)
    ref = rng.normal(size=(20_000, 5))
    cand = rng.normal(size=(20_000, 5))
    cand[:, 3] *= 0.7
    res = TailMass(n_boot=10, n_hist_features=2).update_reference(ref).update(cand).result()
    assert res.details["worst_features"][0] == 3
    assert res.details["hist_0_feature"] == 3
    edges, hr, hc = (res.details[f"hist_0_{k}"] for k in ("edges", "reference", "candidate"))
    assert len(edges) == len(hr) + 1 == len(hc) + 1
    assert np.sum(np.diff(edges) * np.array(hr)) == pytest.approx(1.0)
    assert len(res.details["candidate_mass_0.01"]) == 5


def test_rare_mode_coverage_drops_when_the_rare_region_is_removed() -> None:
    rng = np.random.default_rng(4)
    ref = rng.normal(size=(4000, 3))
    same = rng.normal(size=(2000, 3))
    pool = rng.normal(size=(20_000, 3))
    core = pool[np.linalg.norm(pool, axis=1) < 1.8][:2000]  # rarest ~20% of mass removed
    r_same = RareModeCoverage().update_reference(ref).update(same).result()
    r_core = RareModeCoverage().update_reference(ref).update(core).result()
    v_same, v_core = r_same.value("rare_mode_coverage"), r_core.value("rare_mode_coverage")
    assert v_same.reference_value == pytest.approx(v_core.reference_value)  # same reference halves
    assert abs(v_same.ratio - 1) < 0.1
    assert v_core.ratio < 0.6
    deciles = r_core.details["coverage_by_decile"]
    assert len(deciles) == 10 and deciles[0] > 0.9 and deciles[-1] < 0.6
    assert r_core.details["m"] == 2000 and r_core.details["n_rare"] == 200


def test_rare_mode_coverage_without_baseline_uses_equal_n() -> None:
    rng = np.random.default_rng(5)
    res = RareModeCoverage(baseline=False).update_reference(rng.normal(size=(300, 2)))
    res = res.update(rng.normal(size=(900, 2))).result()
    assert res.details["m"] == 300 and res.value("rare_mode_coverage").reference_value is None


def test_row_store_bottom_k_is_order_and_partition_independent() -> None:
    rng = np.random.default_rng(6)
    x = rng.normal(size=(1000, 3)).astype(np.float32)
    whole = RowStore(cap=100, seed=1)
    whole.add(x)
    parts = [RowStore(cap=100, seed=1) for _ in range(3)]
    for i, chunk in enumerate(np.array_split(x[rng.permutation(1000)], 7)):
        parts[i % 3].add(chunk)
    parts[2].merge(parts[0])
    parts[2].merge(parts[1])
    assert parts[2].n_seen == 1000 and len(parts[2].rows()) == 100
    assert np.array_equal(parts[2].rows(), whole.rows())
    assert whole.rows().dtype == np.float32
    clone = pickle.loads(pickle.dumps(whole))
    assert np.array_equal(clone.rows(), whole.rows())
    other = RowStore(cap=None, seed=1)
    other.add(np.zeros((2, 4)))
    with pytest.raises(IncompatibleMergeError, match="3 and 4"):
        whole.merge(other)


def test_row_store_subsample_is_uniform() -> None:
    # The first m rows in key order are a uniform sample: their mean index is ~ N/2.
    x = np.arange(100_000, dtype=np.float64)[:, None]
    s = RowStore(cap=None, seed=0)
    s.add(x)
    head = s.rows()[:5000, 0]
    assert abs(head.mean() - 50_000) < 3 * 100_000 / np.sqrt(12 * 5000)


def test_bad_batches_get_typed_errors_naming_the_input() -> None:
    m = TailMass()
    with pytest.raises(NonFiniteValueError, match=r"candidate batch of tail_mass .* row 1, column 0"):
        m.update(np.array([[0.0, 1.0], [np.nan, 2.0]]))
    with pytest.raises(BadInputError, match="2-D"):
        m.update(np.zeros(3))
    with pytest.raises(BadInputError, match="numbers"):
        m.update([["a", "b"]])
    m.update(np.zeros((3, 2)))
    with pytest.raises(
        BadInputError, match="reference batch of tail_mass has 3 feature columns but earlier batches had 2"
    ):
        m.update_reference(np.zeros((3, 3)))
    with pytest.raises(EmptyDatasetError, match="reference"):
        m.result()
    assert as_vectors([[1, 2]]).dtype == np.float64
    assert as_vectors(np.ones((1, 2), np.float32)).dtype == np.float32


def _nn_ratios(cand: np.ndarray, ref: np.ndarray, **kw) -> dict[str, float]:
    r = NNDistanceTail(**kw).update_reference(ref).update(cand).result()
    return {v.name: v.ratio for v in r.values}


def test_nn_distance_tail_is_one_for_the_same_distribution() -> None:
    # Two samples of one distribution: both shares sit at the reference's own (1 - q).
    # Mean over 20 seeds of 1,000-row 8-d Gaussians; the per-trial ratio has a relative
    # SD of about 0.2 (binomial, ~50 rows beyond the 0.95 quantile), so the mean is
    # within 1 +- 0.1 (about 2 standard errors).
    rng = np.random.default_rng(40)
    ratios = [_nn_ratios(rng.normal(size=(1000, 8)), rng.normal(size=(1000, 8))) for _ in range(20)]
    for name in ("nn_tail_share_0.95", "radius_tail_share_0.95"):
        assert np.mean([r[name] for r in ratios]) == pytest.approx(1.0, abs=0.1), name
    r = NNDistanceTail().update_reference(rng.normal(size=(1000, 8))).update(rng.normal(size=(900, 8))).result()
    v = r.value("nn_tail_share_0.95")
    assert v.reference_value == pytest.approx(0.05, abs=0.002)  # the reference's own share
    assert v.ci[0] <= v.value <= v.ci[1]


def test_nn_distance_tail_sees_the_rarest_points_removed() -> None:
    # Removing the 5% of the candidate farthest from the centre empties the far end of
    # the k-NN distances; a 10% wider candidate fills it (ratio above 1).
    rng = np.random.default_rng(41)
    ref, cand = rng.normal(size=(2000, 16)), rng.normal(size=(2000, 16))
    norms = np.linalg.norm(cand, axis=1)
    kept = cand[norms < np.quantile(norms, 0.95)]
    lost = _nn_ratios(kept, ref)
    assert lost["nn_tail_share_0.95"] < 0.6 and lost["radius_tail_share_0.95"] < 0.6
    wide = _nn_ratios(1.1 * cand, ref)
    assert wide["nn_tail_share_0.95"] > 1.5


def test_nn_distance_tail_copies_are_not_in_the_tail_and_levels_are_named() -> None:
    rng = np.random.default_rng(42)
    ref = rng.normal(size=(300, 4))
    r = NNDistanceTail(k=1, levels=(0.9, 0.99), own_radius=False).update_reference(ref).update(ref[:100]).result()
    assert [v.name for v in r.values] == ["nn_tail_share_0.9", "nn_tail_share_0.99"]
    # A copy of a reference row is at distance 0 from it: never beyond the threshold.
    assert r.value("nn_tail_share_0.9").value == 0.0
    assert r.details["threshold_0.9"] < r.details["threshold_0.99"]
    assert sum(r.details["candidate_share_by_reference_decile"]) == pytest.approx(1.0)
    with pytest.raises(BadInputError, match="nn_distance_tail needs at least 3"):
        NNDistanceTail().update_reference(ref[:2]).update(ref).result()


def _grouped(rng: np.random.Generator, n_groups: int, size: int) -> np.ndarray:
    """``n_groups`` 4-d Gaussian points, each repeated ``size`` times: copies share their k-NN
    radius (k >= size), so the radius share moves in groups of ``size`` (design effect ``size``)."""
    return np.repeat(rng.normal(size=(n_groups, 4)), size, axis=0)


def _change_covers_zero(a, b) -> bool:
    # The baseline rule's interval of a - b: the two sides' ends in quadrature (Newcombe).
    d = a.value - b.value
    lo = d - np.hypot(a.value - a.ci[0], b.ci[1] - b.value)
    hi = d + np.hypot(a.ci[1] - a.value, b.value - b.ci[0])
    return bool(lo <= 0 <= hi)


def test_radius_share_interval_covers_at_its_level_on_grouped_data() -> None:
    # Two candidates of one distribution against one reference, 100 seeded trials, level 0.9:
    # the interval of their difference must cover 0 about 90% of the time. Rows come in groups
    # of 3 copies, so the share's variance is 3x a binomial count's: the Wilson interval alone
    # (ci_subsamples=0) is sqrt(3) too narrow and covers about 66%.
    rng = np.random.default_rng(43)
    covered = {8: [], 0: []}
    effects = []
    for t in range(100):
        ref, c1, c2 = (_grouped(rng, 200, 3) for _ in range(3))
        for b in covered:
            res = [NNDistanceTail(seed=t, ci_level=0.9, ci_subsamples=b).update_reference(ref).update(c).result()
                   for c in (c1, c2)]
            covered[b].append(_change_covers_zero(*(r.value("radius_tail_share_0.95") for r in res)))
            if b:
                effects.append(res[0].details["design_effect_0.95"])
    assert 2.0 < np.mean(effects) < 4.5  # about the group size
    assert np.mean(covered[8]) >= 0.83  # nominal 0.9; sd of a 100-trial rate about 0.03
    assert np.mean(covered[0]) < 0.78  # the old binomial-only interval under-covers


def test_radius_share_design_effect_is_one_on_independent_rows_and_comes_from_the_reference() -> None:
    rng = np.random.default_rng(44)
    ref = rng.normal(size=(1200, 4))
    effects = []
    for seed in range(10):
        r = NNDistanceTail(seed=seed).update_reference(ref).update(rng.normal(size=(1200, 4))).result()
        effects.append(r.details["design_effect_0.95"])
    assert 0.6 < np.mean(effects) < 1.5
    # The effect is the reference's: a candidate without its sparse points gets the same one,
    # so the loss does not widen its own interval.
    cand = rng.normal(size=(1200, 4))
    kept = cand[np.linalg.norm(cand, axis=1) < np.quantile(np.linalg.norm(cand, axis=1), 0.9)]
    full = NNDistanceTail(seed=3).update_reference(ref).update(rng.normal(size=kept.shape)).result()
    lost = NNDistanceTail(seed=3).update_reference(ref).update(kept).result()
    assert lost.details["design_effect_0.95"] == full.details["design_effect_0.95"]
    # Wilson's interval is the floor: an effect below 1 (noise on independent rows) never narrows it.
    wilson = NNDistanceTail(seed=3, ci_subsamples=0).update_reference(ref).update(kept).result().value("radius_tail_share_0.95")
    widened = lost.value("radius_tail_share_0.95")
    assert widened.ci[0] <= wilson.ci[0] and widened.ci[1] >= wilson.ci[1]
    off = NNDistanceTail(ci_subsamples=0).update_reference(ref).update(cand).result()
    assert "design_effect_0.95" not in off.details
    assert off.value("radius_tail_share_0.95").ci_method == "analytic"


def test_smoothed_share_is_the_hard_share_without_smoothing_and_near_one_minus_q_with_it() -> None:
    rng = np.random.default_rng(45)
    ref, cand = rng.normal(size=(1000, 8)), rng.normal(size=(1000, 8))
    hard = NNDistanceTail(smooth=False, ci_subsamples=0).update_reference(ref).update(cand).result()
    soft = NNDistanceTail(ci_subsamples=0).update_reference(ref).update(cand).result()
    for name in ("nn_tail_share_0.95", "radius_tail_share_0.95"):
        h, s = hard.value(name), soft.value(name)
        assert h.value * 1000 == pytest.approx(round(h.value * 1000))  # a count of rows
        assert h.ci == pytest.approx(wilson_ci(round(h.value * 1000), 1000, 0.95))  # the default level
        assert 0.035 < s.reference_value <= 0.05 and 0.03 < s.value < 0.07, name
        assert s.value * 1000 != pytest.approx(round(s.value * 1000), abs=1e-6)  # partial counts
    lo, hi = band_thresholds(np.arange(1001.0), 0.95)
    assert (lo, hi) == pytest.approx((925.0, 975.0))
    assert band_scores(np.array([925.0, 950.0, 975.0, 2000.0]), lo, hi).tolist() == pytest.approx([0, 0.5, 1, 1])


@pytest.mark.parametrize("n", [100, 569, 2000])
def test_score_interval_keeps_its_level_with_few_fractional_scores(n: int) -> None:
    # Scores like a candidate that lost its tail: ~0.4% of rows at 1, 1-3% spread over (0, 1).
    # The upper end is what a loss is judged on: it must miss the true mean at most at its
    # level (0.05 per side at 0.9) even with a handful of nonzero scores; the effective size
    # without the added score of 1 missed up to 8x its level there (docs/metrics.md).
    rng = np.random.default_rng(46 + n)
    for frac, ones in ((0.005, 0.0), (0.01, 0.0), (0.02, 0.004), (0.05, 0.025)):
        true = frac / 2 + ones
        above = below = 0
        trials = 1500
        for _ in range(trials):
            u = rng.random(n)
            sc = np.where(u < ones, 1.0, np.where(u < ones + frac, rng.random(n), 0.0))
            lo, hi = score_ci(sc, 0.9)
            above += true > hi
            below += true < lo
        assert above / trials <= 0.065, (frac, ones)  # nominal 0.05; sd of a 1,500-trial rate ~0.006
        assert below / trials <= 0.10, (frac, ones)  # Wilson's own lower end at small counts
    assert score_ci(np.array([0.0, 1.0, 1.0, 0.0]), 0.9) == pytest.approx(wilson_ci(2, 4, 0.9))


def _thirds(x: np.ndarray, rng: np.random.Generator) -> list[np.ndarray]:
    order = rng.permutation(len(x))
    m = len(x) // 3
    return [x[order[i * m : (i + 1) * m]] for i in range(3)]


@pytest.mark.parametrize("data", ["isotropic", "clustered", "digits"])
def test_smoothed_shares_change_interval_covers_at_its_level_on_null_thirds(data: str) -> None:
    # A reference and two independent candidates from one distribution (Gaussian; a mixture of
    # 12 tight clusters; the digits images in thirds): the baseline rule's interval of the change
    # must cover 0 about 90% of the time at level 0.9, for both smoothed shares.
    from tailguard.data.tabular import load_tabular

    rng = np.random.default_rng(47)
    centres = 6.0 * rng.normal(size=(12, 8))
    digits = load_tabular("digits").X.astype(np.float64)
    covered: dict[str, list[bool]] = {"nn_tail_share_0.95": [], "radius_tail_share_0.95": []}
    for t in range(40):
        if data == "isotropic":
            ref, c1, c2 = (rng.normal(size=(600, 8)) for _ in range(3))
        elif data == "clustered":
            ref, c1, c2 = (centres[rng.integers(0, 12, 600)] + 0.5 * rng.normal(size=(600, 8)) for _ in range(3))
        else:
            ref, c1, c2 = _thirds(digits, rng)
        res = [NNDistanceTail(seed=t, ci_level=0.9, ci_subsamples=16).update_reference(ref).update(c).result()
               for c in (c1, c2)]
        for name in covered:
            covered[name].append(_change_covers_zero(*(r.value(name) for r in res)))
    for name, hits in covered.items():
        assert np.mean(hits) >= 0.8, name  # nominal 0.9; sd of a 40-trial rate about 0.05
