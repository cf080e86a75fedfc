"""Spread and diversity of vectors: covariance spectrum and the Vendi score.

Both are functions of a spectrum: the eigenvalues of the covariance matrix
(trace, geometric-mean eigenvalue, effective rank) or of the kernel matrix K/N
(Vendi). Eigenvalues come from the smaller of the primal (N x N) and dual
(d x d) forms, which share their non-zero spectrum, so a cosine-kernel Vendi of
1M x 768 rows is one d x d Gram matrix.

CIs use a seeded bootstrap over rows: replicate weights w (multinomial) give
the weighted Gram ``Z^T diag(w) Z`` directly. When that is too costly
(N·d²·n_boot above ~2·10^10 flops) the rows, which are in random (hash)
order, are cut into 50 contiguous groups and the groups are resampled
instead (a grouped bootstrap), so each replicate costs 50·d² plus one
eigendecomposition.

>>> import numpy as np
>>> from tailguard.metrics.diversity import Vendi
>>> x = np.random.default_rng(0).normal(size=(300, 8))
>>> r = Vendi(n_boot=20).update(x).result()
>>> 1.0 < r.value("vendi").value <= 8.0
True
"""

from __future__ import annotations

import contextlib
import itertools
import math
from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np

from tailguard.metrics.base import MetricValue, register_metric
from tailguard.metrics.bootstrap import percentile_interval
from tailguard.metrics.knn import ExactIndex, pairwise_sq_distances
from tailguard.metrics.vectors import COMMON_DEFAULTS, COMMON_PARAMS, VECTOR_MODALITIES, VectorMetric, equal_n
from tailguard.validation import Float, Int, OneOf

_ROW_BOOT_FLOPS = 2e10
_GROUPS = 50
_GROUPED_MAX_D = 2048  # 50 d x d float64 Gram matrices: 1.6 GB at d = 2048


def _weighted_spectrum(z: np.ndarray, w: np.ndarray, *, center: bool) -> np.ndarray:
    """Eigenvalues of the weighted second-moment (or covariance) matrix of the rows of ``z``.

    ``w`` are non-negative row weights (bootstrap counts). Uses the N x N or
    d x d form, whichever is smaller; the non-zero spectra agree.
    """
    keep = w > 0
    z, w = z[keep], w[keep].astype(z.dtype)
    total = float(w.sum())
    if center:
        mu = (w @ z) / total
        z = z - mu
        denom = total - 1.0 if total > 1 else 1.0
    else:
        denom = total
    zs = z * np.sqrt(w)[:, None]
    gram = zs @ zs.T if zs.shape[0] < zs.shape[1] else zs.T @ zs
    eig = np.linalg.eigvalsh(gram.astype(np.float64) / denom)
    return np.clip(eig, 0.0, None)


def _gram(a: np.ndarray) -> np.ndarray:
    """``a.T @ a`` in float64 through BLAS syrk (half the flops of a general product)."""
    from scipy.linalg import blas

    syrk = blas.ssyrk if a.dtype == np.float32 else blas.dsyrk
    c = syrk(1.0, a.T, trans=0).astype(np.float64)  # a.T is Fortran-ordered: no copy
    return np.triu(c) + np.triu(c, 1).T


class _GroupedGram:
    """Per-group counts, sums and Gram matrices of contiguous row blocks, for the grouped bootstrap."""

    def __init__(self, z: np.ndarray, groups: int):
        bounds = np.linspace(0, len(z), groups + 1).astype(int)
        self.n = np.diff(bounds).astype(np.float64)
        self.s = np.stack([z[a:b].sum(axis=0, dtype=np.float64) for a, b in itertools.pairwise(bounds)])
        self.g = np.stack([_gram(z[a:b]) for a, b in itertools.pairwise(bounds)])

    def spectrum(self, w: np.ndarray, *, center: bool) -> np.ndarray:
        n = float(w @ self.n)
        m = np.tensordot(w, self.g, axes=1)
        if center:
            mu = (w @ self.s) / n
            m = (m - n * np.outer(mu, mu)) / (n - 1.0)
        else:
            m = m / n
        return np.clip(np.linalg.eigvalsh(m), 0.0, None)


def _one_blas_thread() -> contextlib.AbstractContextManager[Any]:
    """Small eigendecompositions run faster (and far faster on busy machines) on one BLAS thread."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl ships with scikit-learn
        return contextlib.nullcontext()
    return threadpool_limits(1, user_api="blas")


def spectral_stat(
    z: np.ndarray,
    stat: Callable[[np.ndarray], np.ndarray],
    *,
    center: bool,
    n_boot: int,
    seed: int,
    level: float,
) -> tuple[np.ndarray, list[tuple[float, float]]]:
    """Point values of ``stat(eigenvalues)`` (a vector) and a bootstrap CI for each entry."""
    n, d = z.shape
    rng = np.random.default_rng([seed, 0x5BEC])
    reps = []
    # Row-level bootstrap when affordable or when the N x N primal is the small form;
    # otherwise (d < N, d x d Gram) resample 50 groups of rows.
    if d >= n or n * d * d * n_boot <= _ROW_BOOT_FLOPS or n <= _GROUPS or d > _GROUPED_MAX_D:
        value = stat(_weighted_spectrum(z, np.ones(n), center=center))
        with _one_blas_thread():
            for _ in range(n_boot):
                w = rng.multinomial(n, np.full(n, 1.0 / n)).astype(np.float64)
                reps.append(stat(_weighted_spectrum(z, w, center=center)))
    else:
        grouped = _GroupedGram(z, _GROUPS)  # one pass over the rows; the value is their sum
        with _one_blas_thread():
            value = stat(grouped.spectrum(np.ones(_GROUPS), center=center))
            for _ in range(n_boot):
                w = rng.multinomial(_GROUPS, np.full(_GROUPS, 1.0 / _GROUPS)).astype(np.float64)
                reps.append(stat(grouped.spectrum(w, center=center)))
    if not reps:
        return value, [(float(v), float(v)) for v in value]
    arr = np.array(reps)
    # Resampling duplicates rows, which lowers spectral diversity: centre the
    # replicates on their mean and put the point value at the centre.
    cis = []
    for i in range(len(value)):
        lo, hi = percentile_interval(arr[:, i] - arr[:, i].mean(), level)
        cis.append((float(value[i] + lo), float(value[i] + hi)))
    return value, cis


def _entropy(p: np.ndarray, q: float) -> float:
    p = p[p > 0]
    p = p / p.sum()
    if q == 1:
        return float(-(p * np.log(p)).sum())
    return float(np.log((p**q).sum()) / (1 - q))


def _cov_stats(eig: np.ndarray) -> np.ndarray:
    total = float(eig.sum())
    floor = 1e-12 * max(total / max(len(eig), 1), 1e-300)
    geo = math.exp(float(np.log(np.maximum(eig, floor)).mean()))
    erank = math.exp(_entropy(eig, 1.0)) if total > 0 else 0.0
    return np.array([total, geo, erank])


@register_metric
class CovarianceSpread(VectorMetric):
    """Spread of the covariance matrix: trace, geometric-mean eigenvalue and effective rank.

    - ``trace``: total variance; its ratio to the reference's is the trace ratio.
    - ``geomean_eigenvalue``: det(Σ)^(1/d) (eigenvalues floored at 1e-12 of their
      mean), so the ratio is the determinant ratio per dimension,
      (det Σ_c / det Σ_r)^(1/d), which does not under- or overflow in high d.
    - ``effective_rank``: exp of the Shannon entropy of the normalised covariance
      eigenvalues (Roy & Vetterli 2007).

    The reference is subsampled to the candidate's size (effective rank depends
    on N when N is near d). CIs: seeded bootstrap over rows (see module doc).
    """

    name: ClassVar[str] = "covariance"
    family: ClassVar[str] = "diversity"
    modalities: ClassVar[tuple[str, ...]] = VECTOR_MODALITIES
    order: ClassVar[int] = 30
    value_names: ClassVar[tuple[str, ...]] = ("trace", "geomean_eigenvalue", "effective_rank")
    default_rules: ClassVar[tuple[tuple[str, dict[str, Any]], ...]] = (
        # The determinant (geometric-mean eigenvalue) swings wildly when the covariance is
        # near-singular (constant pixels in digits); trace and effective rank carry the signal.
        ("*/covariance/geomean*", {"kind": "info"}),
        ("*/covariance/*det*", {"kind": "info"}),
    )
    higher_is_better: ClassVar[bool] = True
    params = {**COMMON_PARAMS, "n_boot": Int(min=10)}
    defaults = {**COMMON_DEFAULTS, "n_boot": 50}
    min_rows = 3

    def _compute(self, cand: np.ndarray, ref: np.ndarray | None) -> tuple[list[MetricValue], dict[str, Any]]:
        assert ref is not None
        p = self._params
        ref = equal_n(ref, len(cand))
        kw = {"center": True, "n_boot": p["n_boot"], "seed": p["seed"], "level": p["ci_level"]}
        cv, cci = spectral_stat(cand, _cov_stats, **kw)
        rv, _ = spectral_stat(ref, _cov_stats, **{**kw, "n_boot": 0})
        names = ("trace", "geomean_eigenvalue", "effective_rank")
        values = [MetricValue(nm, float(cv[i]), True, float(rv[i]), cci[i], "bootstrap") for i, nm in enumerate(names)]
        return values, {"n_reference_used": len(ref)}


def median_bandwidth(x: np.ndarray, seed: int, m: int = 1000) -> float:
    """Median pairwise Euclidean distance on a seeded subsample of at most ``m`` rows."""
    rng = np.random.default_rng([seed, 0xBA4D])
    sub = x if len(x) <= m else x[np.sort(rng.choice(len(x), m, replace=False))]
    idx = ExactIndex(sub.astype(np.float64))
    d = idx.search(sub, len(sub))[0][:, 1:]
    med = float(np.sqrt(np.median(d))) if d.size else 1.0
    return med if med > 0 else 1.0


def rff_features(x: np.ndarray, bandwidth: float, dim: int, seed: int) -> np.ndarray:
    """Random Fourier features of the RBF kernel exp(-|x-y|²/(2·bandwidth²)), ``dim`` of them.

    >>> import numpy as np
    >>> z = rff_features(np.zeros((2, 3)), 1.0, 4000, 0)
    >>> round(float(z[0] @ z[1]), 1)
    1.0
    """
    rng = np.random.default_rng([seed, 0xFF7])
    omega = rng.normal(scale=1.0 / bandwidth, size=(x.shape[1], dim)).astype(x.dtype)
    phase = rng.uniform(0, 2 * np.pi, size=dim).astype(x.dtype)
    out = np.empty((len(x), dim), dtype=x.dtype)
    step = max(1, 2**22 // dim)
    for lo in range(0, len(x), step):
        np.cos(x[lo : lo + step] @ omega + phase, out=out[lo : lo + step])
    out *= np.sqrt(2.0 / dim).astype(x.dtype)
    return out


_DUAL_CHUNK = 8192


def cosine_vendi(x: np.ndarray, q: float = 1.0) -> float:
    """The exact cosine-kernel Vendi score of the rows of ``x`` (a point estimate, no CI).

    This is what ``vendi_score.vendi.score_dual`` computes: rows are scaled to unit
    length (zero rows stay zero; the spectrum is normalised to sum 1), and the eigenvalues of the d x d dual
    ``Z^T Z / N`` equal the non-zero eigenvalues of the N x N kernel ``Z Z^T / N``
    (the N x N primal is used when N < d). The dual is accumulated in float64 over
    blocks of 8,192 rows, each block's product in the input's precision (float32
    stays float32), so memory beyond the input is one block and one d x d matrix.
    The :class:`Vendi` metric gives the same value with a bootstrap CI.

    >>> import numpy as np
    >>> rows = np.repeat(np.eye(6)[:3], 50, axis=0)   # 3 equal orthogonal modes
    >>> round(cosine_vendi(rows), 9)
    3.0
    """
    x = np.asarray(x)
    if x.ndim != 2 or len(x) == 0:
        raise ValueError(f"cosine_vendi needs a non-empty 2-D array; got shape {x.shape}")
    if x.dtype not in (np.float32, np.float64):
        x = x.astype(np.float64)
    n, d = x.shape
    if n < d:
        norms = np.linalg.norm(x, axis=1, keepdims=True)
        z = (x / np.where(norms > 0, norms, 1.0)).astype(np.float64)
        gram = z @ z.T
    else:
        gram = np.zeros((d, d))
        for lo in range(0, n, _DUAL_CHUNK):
            block = x[lo : lo + _DUAL_CHUNK]
            norms = np.sqrt(np.einsum("ij,ij->i", block, block))  # einsum: 10x np.linalg.norm here
            block = block * (1.0 / np.where(norms > 0, norms, 1.0)).astype(block.dtype)[:, None]
            gram += block.T @ block  # numpy runs a.T @ a as one syrk
    eig = np.clip(np.linalg.eigvalsh(gram / n), 0.0, None)
    return math.exp(_entropy(eig, float(q))) if eig.sum() > 0 else 0.0


@register_metric
class Vendi(VectorMetric):
    """Vendi score: exp of the entropy (order q) of the eigenvalues of K/N (Friedman & Dieng 2023).

    Kernels: ``cosine`` (default, as ``vendi_score.vendi.score_X``) is computed
    exactly at any N through the d x d dual ``Z^T Z / N`` of the row-normalised
    data (or the N x N primal when N < d). ``rbf``, exp(-|x-y|²/(2·bandwidth²)),
    is exact (eigenvalues of the N x N kernel) up to ``exact_max`` rows and uses
    ``rff_dim`` random Fourier features beyond; its bandwidth defaults to the
    median pairwise distance of the reference (else the candidate), so both sides
    share one kernel. A reference is optional: when given, ``reference_value`` is
    its Vendi on the same N (seeded subsample). CIs: seeded bootstrap over rows,
    centred on the point value (resampling duplicates rows, which lowers Vendi).
    """

    name: ClassVar[str] = "vendi"
    family: ClassVar[str] = "diversity"
    modalities: ClassVar[tuple[str, ...]] = VECTOR_MODALITIES
    order: ClassVar[int] = 31
    value_names: ClassVar[tuple[str, ...]] = ("vendi",)
    higher_is_better: ClassVar[bool] = True
    requires_reference: ClassVar[bool] = False
    accepts_reference: ClassVar[bool] = True
    params = {
        **COMMON_PARAMS,
        "kernel": OneOf(("cosine", "rbf")),
        "q": Float(min=0.0),
        "bandwidth": Float(min=0.0, min_open=True, optional=True),
        "exact_max": Int(min=1),
        "rff_dim": Int(min=16),
        "n_boot": Int(min=10),
    }
    defaults = {
        **COMMON_DEFAULTS,
        "kernel": "cosine",
        "q": 1.0,
        "bandwidth": None,
        "exact_max": 5000,
        "rff_dim": 1024,
        "n_boot": 50,
    }

    def _score(self, eig: np.ndarray) -> np.ndarray:
        return np.array([math.exp(_entropy(eig, float(self._params["q"])))])

    def _vendi(self, x: np.ndarray, bandwidth: float | None, n_boot: int) -> tuple[float, tuple[float, float] | None]:
        p = self._params
        kw = {"center": False, "n_boot": n_boot, "seed": p["seed"], "level": p["ci_level"]}
        if p["kernel"] == "cosine":
            norms = np.linalg.norm(x, axis=1, keepdims=True)
            z = x / np.where(norms > 0, norms, 1.0)
            v, ci = spectral_stat(z, self._score, **kw)
            return float(v[0]), ci[0] if n_boot else None
        assert bandwidth is not None
        if len(x) > p["exact_max"]:
            z = rff_features(x, bandwidth, p["rff_dim"], p["seed"])
            v, ci = spectral_stat(z, self._score, **kw)
            return float(v[0]), ci[0] if n_boot else None
        xf = x.astype(np.float64)
        k = np.exp(-pairwise_sq_distances(xf, xf) / (2 * bandwidth**2))
        n = len(xf)
        value = float(self._score(np.clip(np.linalg.eigvalsh(k / n), 0, None))[0])
        if not n_boot:
            return value, None
        rng = np.random.default_rng([p["seed"], 0x5BEC])
        reps = []
        for _ in range(n_boot):
            w = rng.multinomial(n, np.full(n, 1.0 / n))
            keep = np.flatnonzero(w)
            sw = np.sqrt(w[keep] / n)
            reps.append(self._score(np.clip(np.linalg.eigvalsh(k[np.ix_(keep, keep)] * np.outer(sw, sw)), 0, None))[0])
        lo, hi = percentile_interval(np.array(reps) - np.mean(reps), p["ci_level"])
        return value, (value + lo, value + hi)

    def _compute(self, cand: np.ndarray, ref: np.ndarray | None) -> tuple[list[MetricValue], dict[str, Any]]:
        p = self._params
        bandwidth = p["bandwidth"]
        if p["kernel"] == "rbf" and bandwidth is None:
            bandwidth = median_bandwidth(ref if ref is not None else cand, p["seed"])
        value, ci = self._vendi(cand, bandwidth, p["n_boot"])
        ref_value = None
        if ref is not None:
            ref_value, _ = self._vendi(equal_n(ref, len(cand)), bandwidth, 0)
        details: dict[str, Any] = {"kernel": p["kernel"]}
        if bandwidth is not None:
            details["bandwidth"] = float(bandwidth)
        return [MetricValue("vendi", value, True, ref_value, ci, "bootstrap")], details
