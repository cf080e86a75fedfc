"""filter, dedup and tail-preserve: the support test against a peer library (prdc), k-NN bands against theory."""

from __future__ import annotations

import numpy as np
import pytest

from tailguard.policy import Origin, Pool, parse_policy
from tailguard.policy.tails import RegionModel, apportion, stratified_draw
from tailguard.scoring.support import radius_ratios


@pytest.mark.parametrize("shift", [0.0, 1.0, 3.0])
def test_radius_ratio_at_most_one_is_prdc_precision(shift):
    # prdc checks every reference ball; we check the 50 nearest. Stated tolerance: 0.01 absolute.
    prdc = pytest.importorskip("prdc")
    rng = np.random.default_rng(1)
    real = rng.normal(size=(400, 3))
    fake = rng.normal(loc=shift, size=(300, 3))
    ours = (radius_ratios(real, fake, k=5).candidate <= 1.0).mean()
    theirs = prdc.compute_prdc(real_features=real, fake_features=fake, nearest_k=5)["precision"]
    assert ours == pytest.approx(theirs, abs=0.01)


def test_filter_drops_off_distribution_rows_and_keeps_the_stated_share_of_human_like_ones():
    rng = np.random.default_rng(0)
    human = rng.normal(size=(600, 2))
    like_human = rng.normal(size=(300, 2))
    far = rng.normal(loc=4.0, scale=0.5, size=(100, 2))
    feats = np.vstack([human, like_human, far])
    origin = np.r_[np.zeros(600, int), np.ones(400, int)]
    pool = Pool(origin=origin, round=np.r_[np.zeros(600, int), np.ones(400, int)], features=feats)
    sel = parse_policy("accumulate+filter:keep_human=0.9").compose(pool, rng=0)
    excluded = dict(sel.excluded_pairs())
    assert all(r.startswith("filter: machine-made score") for r in excluded.values())
    assert pool.is_human[sel.indices].sum() == 600  # human rows are never dropped
    kept_like = np.isin(np.arange(600, 900), sel.indices).mean()
    kept_far = np.isin(np.arange(900, 1000), sel.indices).mean()
    # the threshold keeps 90% of reference-like rows; binomial spread over 300 rows is about 1.7%
    assert 0.84 <= kept_like <= 0.96
    assert kept_far <= 0.05
    scores = dict((row, s) for row, _, s in sel.excluded_triples())
    assert np.nanmean([scores[r] for r in scores if r >= 900]) > 0.8  # P(machine-made) of the far rows


def test_dedup_drops_synthetic_copies_but_never_human_rows():
    rng = np.random.default_rng(0)
    human = rng.normal(size=(300, 2))
    synth = rng.normal(size=(100, 2))
    synth[10:20] = synth[0]  # nine exact copies of row 0 (pool row 303)
    synth[30] = human[5] + 1e-9  # a near-copy of a human row
    feats = np.vstack([human, human[:3], synth])  # three human duplicates: never dropped
    origin = np.r_[np.zeros(303, int), np.ones(100, int)]
    pool = Pool(origin=origin, round=np.r_[np.zeros(303, int), np.ones(100, int)], features=feats)
    sel = parse_policy("accumulate+dedup").compose(pool, rng=0)
    excluded = dict(sel.excluded_pairs())
    dup_rows = [303 + i for i in range(10, 20)] + [303 + 30]
    assert all(excluded[r].startswith("dedup: near-duplicate") for r in dup_rows)
    assert 303 in set(sel.indices.tolist())  # the first copy stays
    assert pool.is_human[sel.indices].sum() == 303
    # the radius is about the smallest spacing between reference rows: a few genuine rows may fall that close
    assert len(excluded) <= len(dup_rows) + 6


def test_filter_uses_an_explicit_reference_when_given():
    rng = np.random.default_rng(3)
    pool = Pool(origin=np.ones(200, int), round=np.ones(200, int), features=rng.normal(loc=10, size=(200, 2)))
    far_ref = Pool.human(300, features=rng.normal(size=(300, 2)))
    near_ref = Pool.human(300, features=rng.normal(loc=10, size=(300, 2)))
    with pytest.raises(Exception, match="every candidate was filtered out"):
        parse_policy("filter").compose(pool, reference=far_ref, rng=0)
    assert len(parse_policy("filter").compose(pool, reference=near_ref, rng=0)) >= 170


def test_density_bands_hold_equal_shares_of_a_fresh_sample():
    # Each of B=5 bands should receive 1/5 of a same-distribution sample; with 4000 draws the
    # binomial standard error is 0.0063, so 0.03 is a ~5-sigma tolerance.
    rng = np.random.default_rng(4)
    model = RegionModel.from_features(rng.normal(size=(2000, 2)), k=5, bands=5)
    assert np.allclose(model.shares, 0.2, atol=0.002)
    bands = model.assign_features(rng.normal(size=(4000, 2)))
    assert np.allclose(np.bincount(bands, minlength=5) / 4000, 0.2, atol=0.03)
    # A collapsed sample (sd 0.3) piles into the densest band.
    collapsed = model.assign_features(rng.normal(scale=0.3, size=(1000, 2)))
    assert np.mean(collapsed == 0) > 0.5


def test_tail_preserve_restores_the_reference_class_shares():
    ref = Pool.human(1000, classes=np.repeat([0, 1, 2, 3], [700, 200, 90, 10]))
    # A drifting synthetic pool: the rare classes have thinned out.
    classes = np.repeat([0, 1, 2, 3], [1800, 150, 45, 5])
    pool = Pool(origin=np.ones(2000, int), round=np.ones(2000, int), classes=classes)
    sel = parse_policy("accumulate-subsample+tail-preserve").compose(
        pool, target_size=400, reference=ref, rng=0, allow_repeats=False
    )
    counts = np.bincount(classes[sel.indices], minlength=4)
    assert counts.tolist() == [280, 80, 36, 4]  # exactly 0.7/0.2/0.09/0.01 of 400
    plain = parse_policy("accumulate-subsample").compose(pool, target_size=400, rng=0)
    assert np.bincount(classes[plain.indices], minlength=4)[3] < 4 + 3  # ~1 expected without it


def test_tail_preserve_with_repeats_upweights_a_thinned_class_under_replace():
    ref = Pool.human(100, classes=np.repeat([0, 1], [80, 20]))
    classes = np.repeat([0, 1], [98, 2])
    pool = Pool(origin=np.ones(100, int), round=np.ones(100, int), classes=classes)
    sel = parse_policy("replace+tail-preserve").compose(pool, target_size=100, reference=ref, rng=0)
    assert len(sel) == 100
    assert np.bincount(classes[sel.indices]).tolist() == [80, 20]
    assert set(sel.indices[classes[sel.indices] == 1].tolist()) == {98, 99}
    no_repeats = parse_policy("replace+tail-preserve").compose(
        pool, target_size=100, reference=ref, rng=0, allow_repeats=False
    )
    assert len(np.unique(no_repeats.indices)) == len(no_repeats) == 100


def test_tail_preserve_on_features_rebalances_density_bands():
    rng = np.random.default_rng(5)
    ref_feats = rng.normal(size=(1000, 1))
    synth = np.r_[rng.normal(scale=0.2, size=(900, 1)), rng.normal(size=(100, 1))]
    pool = Pool(origin=np.ones(1000, int), round=np.ones(1000, int), features=synth)
    ref = Pool.human(1000, features=ref_feats)
    sel = parse_policy("accumulate-subsample+tail-preserve:bands=4").compose(
        pool, target_size=200, reference=ref, rng=0, allow_repeats=False
    )
    model = RegionModel.from_features(ref_feats, k=5, bands=4)
    picked = np.bincount(model.assign_features(synth[sel.indices]), minlength=4) / len(sel)
    before = np.bincount(model.assign_features(synth), minlength=4) / len(synth)
    assert picked[3] > 2 * before[3]  # the sparsest band gets its share back
    assert np.std(synth[sel.indices]) > np.std(synth)


def test_stratified_draw_redistributes_shortfall_without_repeats():
    regions = np.r_[np.zeros(50, int), np.ones(2, int), np.full(3, -1)]
    picked = stratified_draw(regions, np.array([0.5, 0.5]), 20, np.random.default_rng(0), allow_repeats=False)
    counts = np.bincount(np.where(regions[picked] < 0, 2, regions[picked]), minlength=3)
    assert counts.tolist() == [18, 2, 0]
    assert len(np.unique(picked)) == 20
    everything = stratified_draw(regions, np.array([0.5, 0.5]), 100, np.random.default_rng(0), allow_repeats=False)
    assert everything.tolist() == list(range(55))


def test_apportion_sums_to_total_and_follows_weights():
    rng = np.random.default_rng(0)
    for _ in range(50):
        w = rng.random(7)
        total = int(rng.integers(0, 500))
        parts = apportion(w, total)
        assert parts.sum() == total
        assert np.all(np.abs(parts - w / w.sum() * total) < 1.0)


def test_origin_codes_accept_strings_and_ints():
    assert Pool(origin=["pseudo_label", "unknown"]).origin.tolist() == [Origin.PSEUDO_LABEL, Origin.UNKNOWN]
    assert Pool(origin=np.array([0, 2])).origin.tolist() == [0, 2]


@pytest.mark.parametrize("dim", [1, 3])
@pytest.mark.parametrize("growth", [1, 10, 50])
def test_duplicate_radius_is_calibrated_whatever_the_pool_size(dim, growth):
    # With duplicate_quantile q, a genuine same-distribution sample should have about q of its rows
    # within r_dup of a neighbour (each close pair flags one row: ~q/2), whether the pool is as large as
    # the reference or 50 times larger. Stated tolerance: between q/10 and 2q, with q = 0.05.
    from tailguard.policy.dedup import vector_duplicates

    rng = np.random.default_rng(dim * 100 + growth)
    ref = rng.normal(size=(400, dim))
    pool = rng.normal(size=(400 * growth, dim))
    drop, _ = vector_duplicates(pool, np.zeros(len(pool), bool), ref, duplicate_quantile=0.05)
    assert 0.05 / 10 <= drop.mean() <= 2 * 0.05


def test_intrinsic_dimension_of_a_plane_in_five_dimensions():
    from tailguard.policy.dedup import intrinsic_dimension

    rng = np.random.default_rng(0)
    plane = rng.normal(size=(2000, 2)) @ rng.normal(size=(2, 5))
    assert intrinsic_dimension(plane) == pytest.approx(2.0, abs=0.3)
