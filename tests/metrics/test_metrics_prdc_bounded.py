"""The pruned exact PRDC search gives exact search's answers, on data it was not tuned on.

Each case checks :func:`bounded_prdc_stats` against float64 truth computed here from every
pair. The search computes float32 distances, so a pair within float32 round-off (``eps``,
1e-5 of the largest centred squared norm) of a ball's edge may fall either way; any pair
farther inside a ball must be counted and any pair farther out must not. A neighbour the
bounds wrongly pruned fails that whatever its distance.
"""

from __future__ import annotations

import numpy as np
import pytest
from knn_datasets import BUILDERS
from threadpoolctl import threadpool_limits

from tailguard.metrics.fidelity import PRDC
from tailguard.metrics.prdc_bounded import bounded_prdc_stats, list_count
from tailguard.metrics.prdc_kernels import cluster_lists

pytest.importorskip("faiss")

K = 5


@pytest.fixture(autouse=True)
def _one_blas_thread():
    with threadpool_limits(1):
        yield


def _sq(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.maximum((a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T, 0.0)


def assert_exact(ref: np.ndarray, cand: np.ndarray, **kw) -> object:
    got, search = bounded_prdc_stats(ref, cand, K, **kw)
    mean = np.vstack([ref, cand]).mean(axis=0)
    r, c = ref - mean, cand - mean
    eps = 1e-5 * float(max((r * r).sum(1).max(), (c * c).sum(1).max()))
    rr, cc, cr = _sq(r, r), _sq(c, c), _sq(c, r)
    r_rad, c_rad = np.sort(rr, axis=1)[:, K], np.sort(cc, axis=1)[:, K]  # the point itself included
    assert np.abs(got.ref_sq_radii - r_rad).max() <= eps and np.abs(got.cand_sq_radii - c_rad).max() <= eps
    inside_lo, inside_hi = (cr <= r_rad[None, :] - eps).sum(1), (cr <= r_rad[None, :] + eps).sum(1)
    assert ((inside_lo <= got.inside) & (got.inside <= inside_hi)).all()
    rec_lo, rec_hi = (cr <= c_rad[:, None] - eps).any(0), (cr <= c_rad[:, None] + eps).any(0)
    assert (got.recalled[rec_lo]).all() and not got.recalled[~rec_hi].any()
    covered = got.nearest <= got.ref_sq_radii
    cov_lo, cov_hi = (cr <= r_rad[None, :] - eps).any(0), (cr <= r_rad[None, :] + eps).any(0)
    assert covered[cov_lo].all() and not covered[~cov_hi].any()
    return search


@pytest.mark.parametrize("name", ["clustered", "digits", "minilm"])
def test_the_pruned_search_is_exact_on_real_and_clustered_data(name: str) -> None:
    # max_share=1: searched with the bounds even where they rule out little (digits, MiniLM)
    ref, cand = BUILDERS[name](3000, seed=4)
    search = assert_exact(ref, cand, max_share=1.0)
    assert not search.fell_back and 0 < search.pair_share <= 1


def test_clusters_far_apart_are_never_compared() -> None:
    ref, cand = BUILDERS["clustered"](3000, seed=5)
    search = assert_exact(ref, cand)
    assert search.pair_share < 0.3, search  # 40 components: most list pairs are proved empty


def test_a_collapsed_candidate_is_counted_exactly() -> None:
    # the candidate keeps a third of the reference's components and piles up in them
    ref, _ = BUILDERS["clustered"](3000, seed=6)
    rng = np.random.default_rng(6)
    cand = ref[rng.integers(0, 1000, 3000)] + 0.3 * rng.normal(size=(3000, ref.shape[1]))
    assert_exact(ref, cand)


def test_one_first_probe_still_finds_every_neighbour() -> None:
    # with a single list searched first, every radius comes from the bounds' second round
    ref, cand = BUILDERS["clustered"](3000, seed=7)
    assert_exact(ref, cand, n_probe=1)


def test_duplicates_outliers_and_shifted_data_are_exact() -> None:
    # duplicated rows (radii 0, ties at the edge), far outliers (lists of huge spread) and
    # data far from the origin (float32 round-off grows with the norms)
    ref, cand = BUILDERS["clustered"](2000, seed=8)
    ref = np.vstack([np.repeat(ref[:100], 6, axis=0), ref[600:], ref[:5] * 40.0]) + 1e3
    cand = np.vstack([cand, cand[:50] * 30.0]) + 1e3
    assert_exact(ref, cand)


def test_lists_the_bounds_cannot_tell_apart_fall_back_to_flat_search() -> None:
    ref, cand = BUILDERS["isotropic"](3000, seed=9)
    search = assert_exact(ref, cand)
    assert search.fell_back and search.details()["knn_backend_used"] == "flat"


def test_given_lists_are_used_as_they_are() -> None:
    ref, cand = BUILDERS["digits"](2000, seed=10)
    lists = cluster_lists(ref, cand, n_lists=list_count(4000), seed=3)
    search = assert_exact(ref, cand, lists=lists)
    assert search.n_lists == lists.n_lists


def test_auto_prdc_beyond_flat_max_is_exact_and_says_so() -> None:
    ref, cand = BUILDERS["clustered"](6000, seed=11)
    auto = PRDC(k=K, baseline=False, ci_subsamples=0).update_reference(ref).update(cand).result()
    exact = PRDC(k=K, knn="exact", baseline=False, ci_subsamples=0).update_reference(ref).update(cand).result()
    assert auto.details["backend"] == "bounded" and auto.details["knn_backend_used"] == "bounded"
    assert 0 < auto.details["knn_pair_share"] < 1
    for name in ("precision", "recall", "density", "coverage"):
        assert auto.value(name).value == pytest.approx(exact.value(name).value, abs=1e-3), name
    # Naeem et al.: two samples of one distribution, density 1 and coverage 1 - 2^-k
    assert abs(auto.value("density").value - 1) <= 0.06
    assert abs(auto.value("coverage").value - (1 - 2.0**-K)) <= 0.015
