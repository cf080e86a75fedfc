"""The approximate k-NN paths stay accurate on any data: Naeem's identities on every backend.

Two independent samples of one distribution (``knn_datasets``) must give density ≈ 1 and
coverage ≈ 1 − 2^-k on every PRDC backend, and the checked approximate backend must agree with
exact search within 0.01. Before the self-check, the approximate backend gave density 0.68 and
coverage 0.85 on the isotropic 64-d pair at 10k per side. Single-sample noise at 10k per side
(measured over seeds on exact search): density ± 0.02, coverage ± 0.003, so the identity bounds
are 0.06 and 0.012 (3 sigma-ish); the agreement with exact is the sharp test.
"""

from __future__ import annotations

import numpy as np
import pytest
from knn_datasets import BUILDERS
from threadpoolctl import threadpool_limits

from tailguard.metrics.fidelity import PRDC
from tailguard.metrics.prdc_check import checked_prdc_stats, flat_prdc_stats

pytest.importorskip("faiss")

K = 5
COVERAGE = 1 - 2.0**-K


@pytest.fixture(autouse=True)
def _one_blas_thread():
    with threadpool_limits(1):
        yield


_CACHE: dict[tuple[str, int], tuple[np.ndarray, np.ndarray]] = {}


def pair(name: str, n: int) -> tuple[np.ndarray, np.ndarray]:
    if (name, n) not in _CACHE:
        _CACHE[(name, n)] = BUILDERS[name](n, seed=0)
    return _CACHE[(name, n)]


def prdc(ref: np.ndarray, cand: np.ndarray, knn: str) -> tuple[dict[str, float], dict]:
    r = PRDC(k=K, knn=knn, baseline=False, ci_subsamples=0).update_reference(ref).update(cand).result()
    return {v.name: v.value for v in r.values}, r.details


def test_self_check_fixes_isotropic_10k() -> None:
    ref, cand = pair("isotropic", 10_000)
    got, details = prdc(ref, cand, "faiss")
    want = {n: float(v) for n, v in zip(("precision", "recall", "density", "coverage"),
                                         _values(flat_prdc_stats(ref, cand, K)), strict=True)}
    assert details["backend"] == "faiss" and details["knn_backend_used"] == "flat" and details["knn_fell_back"]
    for name in want:
        assert abs(got[name] - want[name]) <= 0.01, (name, got[name], want[name])
    assert abs(got["density"] - 1) <= 0.06 and abs(got["coverage"] - COVERAGE) <= 0.012, got


def _values(s) -> tuple[float, float, float, float]:
    return float((s.inside > 0).mean()), float(s.recalled.mean()), float(s.inside.mean() / K), \
        float((s.nearest <= s.ref_sq_radii).mean())


@pytest.mark.parametrize("name", ["clustered", "digits"])
def test_self_check_keeps_lists_where_they_work(name: str) -> None:
    # low intrinsic dimension: the checked kernel keeps its 16 probes and matches exact float32 search
    ref, cand = pair(name, 10_000)
    s, check = checked_prdc_stats(ref, cand, K)
    assert check.backend == "faiss" and not check.fell_back and check.error_bound is not None
    assert check.error_bound <= 0.01 and check.recall is not None and check.recall > 0.95
    for got, want in zip(_values(s), _values(flat_prdc_stats(ref, cand, K)), strict=True):
        assert abs(got - want) <= 0.01


def test_widening_is_measured() -> None:
    # probes forced low and allowed up to every list: the check widens until the bound holds
    ref, cand = pair("clustered", 10_000)
    s, check = checked_prdc_stats(ref, cand, K, n_probe=1, max_probe_share=1.0)
    assert check.backend == "faiss" and check.nprobe[0] >= 1 and check.error_bound is not None
    assert check.error_bound <= 0.01
    for got, want in zip(_values(s), _values(flat_prdc_stats(ref, cand, K)), strict=True):
        assert abs(got - want) <= 0.01


@pytest.mark.slow
@pytest.mark.parametrize("name", ["isotropic", "clustered", "digits", "minilm"])
def test_naeem_identities_every_backend_10k(name: str) -> None:
    ref, cand = pair(name, 10_000)
    exact, _ = prdc(ref, cand, "exact")
    for knn in ("flat", "faiss", "bounded", "auto"):
        got, details = prdc(ref, cand, knn)
        for metric in ("precision", "recall", "density", "coverage"):
            assert abs(got[metric] - exact[metric]) <= 0.01, (knn, metric, got[metric], exact[metric], details)
    assert abs(exact["density"] - 1) <= 0.06 and abs(exact["coverage"] - COVERAGE) <= 0.012, exact


@pytest.mark.slow
def test_auto_20k_isotropic_matches_exact() -> None:
    ref, cand = pair("isotropic", 20_000)
    got, details = prdc(ref, cand, "auto")
    exact, _ = prdc(ref, cand, "exact")
    assert abs(got["density"] - exact["density"]) <= 0.01 and abs(got["coverage"] - exact["coverage"]) <= 0.01
    assert details["knn_backend_used"] == "flat"


@pytest.mark.slow
@pytest.mark.parametrize("name", ["clustered", "digits"])
def test_naeem_identities_auto_50k(name: str) -> None:
    # 50k per side: exact float64 search takes minutes here, so the identities alone (1.4x tighter
    # noise than at 10k) and the run-time check's own bound
    ref, cand = pair(name, 50_000)
    got, details = prdc(ref, cand, "auto")
    assert details["backend"] == "bounded"  # exact: nothing to bound
    assert abs(got["density"] - 1) <= 0.05 and abs(got["coverage"] - COVERAGE) <= 0.01, (got, details)
