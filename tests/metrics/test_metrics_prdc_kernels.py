"""The cluster-blocked PRDC kernel: exact when every list is probed, close to exact otherwise."""

from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from tailguard.metrics.fidelity import PRDC
from tailguard.metrics.prdc_kernels import cluster_prdc_stats

pytest.importorskip("faiss")

NAMES = ("precision", "recall", "density", "coverage")


@pytest.fixture(autouse=True)
def _one_blas_thread():
    with threadpool_limits(1):
        yield


def clustered(rng: np.random.Generator, n: int, d: int, spread: float = 1.0) -> np.ndarray:
    centres = np.random.default_rng(99).normal(scale=4.0, size=(20, d))
    return centres[rng.integers(0, 20, n)] + spread * rng.normal(size=(n, d))


def values(s, k: int) -> dict[str, float]:
    return {
        "precision": float((s.inside > 0).mean()),
        "recall": float(s.recalled.mean()),
        "density": float(s.inside.mean() / k),
        "coverage": float((s.nearest <= s.ref_sq_radii).mean()),
    }


def exact(ref: np.ndarray, cand: np.ndarray, k: int) -> dict[str, float]:
    res = PRDC(k=k, equal_n=False, knn="exact").update_reference(ref).update(cand).result()
    return {n: res.value(n).value for n in NAMES}


def test_all_lists_probed_is_exact() -> None:
    # Every list searched against every list: the only difference from exact float64
    # is float32 round-off, which on continuous data flips at most a point or two.
    rng = np.random.default_rng(0)
    ref, cand = clustered(rng, 1500, 12), clustered(rng, 1200, 12, 0.8)
    s = cluster_prdc_stats(ref, cand, 5, n_probe=10_000)
    got, want = values(s, 5), exact(ref, cand, 5)
    for n in NAMES:
        assert got[n] == pytest.approx(want[n], abs=2 / 1200), n


def test_probed_subset_close_to_exact_and_seeded() -> None:
    rng = np.random.default_rng(1)
    ref, cand = clustered(rng, 4000, 32), clustered(rng, 4000, 32, 0.8)
    s = cluster_prdc_stats(ref, cand, 5, n_probe=8, seed=3)
    got, want = values(s, 5), exact(ref, cand, 5)
    for n in NAMES:  # 8 of 89 lists probed; tolerance 0.02
        assert got[n] == pytest.approx(want[n], abs=0.02), n
    again = cluster_prdc_stats(ref, cand, 5, n_probe=8, seed=3)
    assert np.array_equal(s.inside, again.inside) and np.array_equal(s.recalled, again.recalled)


def test_auto_uses_the_bounded_search_beyond_flat_max_and_faiss_only_when_asked() -> None:
    rng = np.random.default_rng(2)
    ref, cand = clustered(rng, 600, 8), clustered(rng, 600, 8)
    res = PRDC(exact_max=500, flat_max=500).update_reference(ref).update(cand).result()
    assert res.details["backend"] == "bounded"
    want = exact(ref, cand, 5)
    for n in NAMES:  # exact float32 search: equal but for pairs on a ball's edge to the last bit
        assert res.value(n).value == pytest.approx(want[n], abs=2 / 600), n
    asked = PRDC(exact_max=500, flat_max=500, knn="faiss").update_reference(ref).update(cand).result()
    assert asked.details["backend"] == "faiss"
    assert asked.value("coverage").value == pytest.approx(want["coverage"], abs=0.02)
