"""Vendi against the ``vendi-score`` package and theory; covariance spread against theory."""

from __future__ import annotations

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from tailguard.metrics.diversity import CovarianceSpread, Vendi

vendi = pytest.importorskip("vendi_score.vendi", reason="the peer package vendi-score==0.0.3 (bench extra)")


@pytest.fixture(autouse=True)
def _one_blas_thread():
    with threadpool_limits(1):
        yield


def test_cosine_vendi_equals_vendi_score_at_2k() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2000, 32))
    x[:600] += 2.5
    mine = Vendi(n_boot=10).update(x).result().value("vendi")
    assert mine.value == pytest.approx(vendi.score_X(x), abs=1e-6)
    assert mine.ci[0] <= mine.value <= mine.ci[1]


def test_rbf_vendi_exact_equals_vendi_score_kernel() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(300, 5))
    bw = 1.7
    k = np.exp(-((x[:, None, :] - x[None, :, :]) ** 2).sum(-1) / (2 * bw**2))
    mine = Vendi(kernel="rbf", bandwidth=bw, n_boot=10).update(x).result().value("vendi")
    assert mine.value == pytest.approx(vendi.score_K(k), abs=1e-6)


def test_rbf_random_features_approximate_the_exact_value() -> None:
    # Beyond exact_max, random Fourier features (2048) stand in; tolerance 10% relative.
    rng = np.random.default_rng(2)
    x = rng.normal(size=(600, 3))
    exact = Vendi(kernel="rbf", bandwidth=1.0, n_boot=10).update(x).result().value("vendi").value
    approx = Vendi(kernel="rbf", bandwidth=1.0, n_boot=10, exact_max=100, rff_dim=2048).update(x)
    assert approx.result().value("vendi").value == pytest.approx(exact, rel=0.1)


@pytest.mark.parametrize("k", [1, 3, 7])
def test_vendi_counts_orthogonal_modes(k: int) -> None:
    # k equally-weighted orthogonal directions: K/N has k eigenvalues 1/k, Vendi = k (any q).
    rows = np.repeat(np.eye(8)[:k], 30, axis=0)
    for q in (0.5, 1.0, 2.0):
        assert Vendi(q=q, n_boot=10).update(rows).result().value("vendi").value == pytest.approx(k, abs=1e-9)


def test_vendi_reference_value_on_equal_n() -> None:
    rng = np.random.default_rng(3)
    modes = rng.normal(size=(10, 16))
    ref = modes[rng.integers(0, 10, 3000)] + 0.1 * rng.normal(size=(3000, 16))
    cand = modes[rng.integers(0, 2, 500)] + 0.1 * rng.normal(size=(500, 16))
    v = Vendi(n_boot=10).update_reference(ref).update(cand).result().value("vendi")
    assert v.ratio < 0.5


def test_covariance_ratios_match_theory() -> None:
    # SD x 0.9 in d = 4: trace and det^(1/d) ratios are 0.81; effective rank of an
    # isotropic Gaussian is ~d. n = 20k: relative SE of a variance ~1%; tolerance 0.03.
    rng = np.random.default_rng(4)
    ref, cand = rng.normal(size=(20_000, 4)), 0.9 * rng.normal(size=(20_000, 4))
    res = CovarianceSpread(n_boot=20).update_reference(ref).update(cand).result()
    assert res.value("trace").ratio == pytest.approx(0.81, abs=0.03)
    assert res.value("geomean_eigenvalue").ratio == pytest.approx(0.81, abs=0.03)
    assert res.value("effective_rank").value == pytest.approx(4.0, abs=0.05)
    for v in res.values:
        assert v.ci[0] <= v.value <= v.ci[1]


def test_covariance_grouped_bootstrap_path_for_large_inputs() -> None:
    # N*d^2*n_boot above the row-bootstrap budget switches to the grouped bootstrap;
    # its CI must still cover the known trace (64) of a standard Gaussian in d = 64 at n=60k.
    rng = np.random.default_rng(5)
    x = rng.normal(size=(60_000, 64)).astype(np.float32)
    res = CovarianceSpread(n_boot=100).update_reference(x[:30_000]).update(x[30_000:]).result()
    lo, hi = res.value("trace").ci
    assert lo < 64.0 < hi and hi - lo < 2.0


def _datasets() -> dict[str, np.ndarray]:
    """Isotropic, clustered and real rows: digits pixels and hashed features of Python-docs sentences."""
    from tailguard.data.tabular import load_digits
    from tailguard.data.text import python_docs_sentences
    from tailguard.features.text import HashedTextFeatures

    rng = np.random.default_rng(7)
    centres = rng.normal(scale=4.0, size=(6, 16))
    sentences = HashedTextFeatures(dim=48).transform(python_docs_sentences()[:1000])
    return {
        "isotropic": rng.normal(size=(900, 16)),
        "clustered": centres[rng.integers(0, 6, 900)] + 0.3 * rng.normal(size=(900, 16)),
        "digits": np.asarray(load_digits().X[:900]),
        "sentences": sentences[np.linalg.norm(sentences, axis=1) > 0][:900],  # a few sentences hash to nothing
    }


@pytest.mark.parametrize("name", ["isotropic", "clustered", "digits", "sentences"])
def test_cosine_vendi_dual_equals_the_n_by_n_kernel(name: str) -> None:
    # The d x d dual Z^T Z / N and the N x N kernel Z Z^T / N share their non-zero spectrum, so the
    # dual (cosine_vendi, the metric) must equal vendi-score's score_K on the exact N x N kernel.
    from tailguard.metrics.diversity import cosine_vendi

    x = _datasets()[name]
    z = x / np.linalg.norm(x, axis=1, keepdims=True)
    exact = vendi.score_K(z @ z.T)
    assert cosine_vendi(x) == pytest.approx(exact, rel=1e-9)
    assert cosine_vendi(x.astype(np.float32)) == pytest.approx(exact, rel=1e-4)  # float32 products
    assert Vendi(n_boot=10).update(x).result().value("vendi").value == pytest.approx(exact, rel=1e-9)


def test_cosine_vendi_blocks_accumulate_like_one_product() -> None:
    # More rows than one 8,192-row block: the blockwise float64 sum equals score_dual in float64.
    rng = np.random.default_rng(8)
    x = rng.normal(size=(20_000, 12)) + rng.integers(0, 3, (20_000, 1))
    from tailguard.metrics.diversity import cosine_vendi

    assert cosine_vendi(x) == pytest.approx(float(vendi.score_dual(x)), rel=1e-10)


@pytest.mark.parametrize("name", ["isotropic", "clustered", "digits"])
def test_rbf_random_features_against_exact_on_each_kind_of_data(name: str) -> None:
    # 2,048 random Fourier features against the exact N x N RBF kernel (median-distance bandwidth).
    x = _datasets()[name][:600]
    exact = Vendi(kernel="rbf", n_boot=10).update(x).result()
    approx = Vendi(kernel="rbf", n_boot=10, exact_max=100, rff_dim=2048).update(x).result()
    assert approx.details["bandwidth"] == exact.details["bandwidth"]
    assert approx.value("vendi").value == pytest.approx(exact.value("vendi").value, rel=0.1)
