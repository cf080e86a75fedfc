"""PRDC against the ``prdc`` 0.2 package, its strict-``<`` tie bug, and the faiss backend."""

from __future__ import annotations

import contextlib
import io

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from tailguard.metrics.fidelity import PRDC

prdc = pytest.importorskip("prdc", reason="the peer package prdc==0.2 (bench extra)")

NAMES = ("precision", "recall", "density", "coverage")


@pytest.fixture(autouse=True)
def _one_blas_thread():
    with threadpool_limits(1):
        yield


def peer(ref: np.ndarray, cand: np.ndarray, k: int) -> dict[str, float]:
    with contextlib.redirect_stdout(io.StringIO()):  # prdc prints the sizes
        return {k_: float(v) for k_, v in prdc.compute_prdc(ref, cand, k).items()}


def ours(ref: np.ndarray, cand: np.ndarray, **kw) -> dict[str, float]:
    res = PRDC(**kw).update_reference(ref).update(cand).result()
    return {n: res.value(n).value for n in NAMES}


@pytest.mark.parametrize("k", [3, 5])
def test_equals_prdc_package(k: int) -> None:
    # Continuous data: no ties, so `<` and `<=` agree; same sets, same k => same numbers.
    rng = np.random.default_rng(0)
    ref = rng.normal(size=(1000, 16))
    cand = 0.9 * rng.normal(size=(1200, 16)) + 0.1
    theirs = peer(ref, cand, k)
    mine = ours(ref, cand, k=k, equal_n=False, knn="exact")
    for n in NAMES:
        assert mine[n] == pytest.approx(theirs[n], abs=1e-12), n


def test_ties_count_identical_sets_get_coverage_one() -> None:
    # Every point repeated k+1 times: k-NN radii are 0, so prdc's strict `<` misses them.
    x = np.repeat(np.random.default_rng(1).normal(size=(60, 4)), 6, axis=0)
    mine = ours(x, x, k=5)
    assert mine["coverage"] == 1.0 and mine["precision"] == 1.0 and mine["recall"] == 1.0
    assert peer(x, x, 5)["coverage"] < 1.0


def test_faiss_backend_close_to_exact() -> None:
    # Clustered data (like embeddings); IVF with nprobe=16 of ~50 lists. Tolerance 0.02.
    rng = np.random.default_rng(2)
    centres = rng.normal(scale=4, size=(20, 16))
    ref = centres[rng.integers(0, 20, 3000)] + rng.normal(size=(3000, 16))
    cand = centres[rng.integers(0, 20, 3000)] + 0.8 * rng.normal(size=(3000, 16))
    exact = ours(ref, cand, knn="exact")
    approx = ours(ref, cand, knn="faiss")
    for n in NAMES:
        assert approx[n] == pytest.approx(exact[n], abs=0.02), n


def test_equal_n_and_collapse_direction() -> None:
    rng = np.random.default_rng(3)
    ref = rng.normal(size=(500, 8))
    res = PRDC().update_reference(ref).update(0.5 * rng.normal(size=(1500, 8))).result()
    assert res.details["n_candidate_used"] == 500 and res.details["n_reference_used"] == 500
    same = ours(ref, rng.normal(size=(500, 8)))
    shrunk = {n: res.value(n).value for n in NAMES}
    assert shrunk["recall"] < same["recall"] - 0.3  # collapse loses recall/coverage...
    assert shrunk["coverage"] < same["coverage"]
    assert shrunk["precision"] >= same["precision"] - 0.02  # ...but not precision
    for n in NAMES:
        lo, hi = res.value(n).ci
        assert lo <= res.value(n).value <= hi


def test_split_reference_baseline_gives_reference_values() -> None:
    # Same distribution: each value is close to its reference-vs-reference baseline
    # (two disjoint halves of the reference). Tolerances: 0.05 on the shares, 0.15 on
    # density (sd of a mean of ball counts at n = 400-800).
    rng = np.random.default_rng(4)
    ref = rng.normal(size=(1600, 8))
    res = PRDC().update_reference(ref).update(rng.normal(size=(800, 8))).result()
    assert res.details["n_baseline"] == 800
    for n in NAMES:
        v = res.value(n)
        assert v.reference_value is not None
        assert v.value == pytest.approx(v.reference_value, abs=0.15 if n == "density" else 0.05), n
    shrunk = PRDC().update_reference(ref).update(0.5 * rng.normal(size=(800, 8))).result()
    assert shrunk.value("recall").ratio < 0.7 and shrunk.value("coverage").ratio < 0.9
    plain = PRDC(baseline=False).update_reference(ref).update(rng.normal(size=(800, 8))).result()
    assert all(v.reference_value is None for v in plain.values)
    assert all(v.reference_value is None for v in PRDC(equal_n=False).update_reference(ref).update(ref).result().values)
