"""Drift tests between candidate and reference vectors: MMD, per-feature KS, PSI, C2ST.

>>> import numpy as np
>>> from tailguard.metrics.drift import MMD
>>> rng = np.random.default_rng(0)
>>> r = MMD(n_permutations=99).update_reference(rng.normal(size=(200, 2))).update(rng.normal(size=(200, 2)) + 1).result()
>>> r.value("p_value").value   # (1 + 0) / (1 + 99): the observed statistic counts
0.01
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from tailguard.dependencies import require
from tailguard.metrics.base import MetricValue, register_metric
from tailguard.metrics.bootstrap import bootstrap_ci, clopper_pearson_ci, holm, percentile_interval, wilson_ci
from tailguard.metrics.diversity import median_bandwidth, rff_features
from tailguard.metrics.knn import pairwise_sq_distances
from tailguard.metrics.vectors import COMMON_DEFAULTS, COMMON_PARAMS, VECTOR_MODALITIES, VectorMetric, equal_n
from tailguard.validation import Float, Int, OneOf

_CHUNK = 65536
_GROUPS = 50


def _mmd_exact(z: np.ndarray, cols: np.ndarray, bandwidth: float) -> np.ndarray:
    """``a^T K a`` for every column ``a`` of ``cols`` (RBF kernel over the pooled rows ``z``), in row blocks."""
    out = np.zeros(cols.shape[1])
    step = max(1, 2**22 // len(z))
    for lo in range(0, len(z), step):
        k = np.exp(-pairwise_sq_distances(z[lo : lo + step], z) / (2 * bandwidth**2))
        out += np.einsum("ij,ij->j", cols[lo : lo + step], k @ cols)
    return out


@register_metric
class MMD(VectorMetric):
    """Maximum mean discrepancy (RBF kernel) with a permutation test.

    The statistic is the biased (V-statistic) MMD² between candidate and
    reference: ``a^T K a`` with ``a = (1/n_x, ..., -1/n_y, ...)``, computed
    exactly in blocks up to ``rff_threshold`` rows per side and with ``rff_dim``
    random Fourier features beyond (then MMD² = |mean φ(X) − mean φ(Y)|²), so
    memory stays linear. The bandwidth defaults to the median pairwise distance of
    a seeded pooled subsample. The p-value counts the observed statistic:
    p = (1 + #{stat_perm >= stat_obs}) / (1 + B), with B seeded permutations of
    the pooled rows, and its CI is the Clopper–Pearson interval of that Monte
    Carlo estimate. The CI of ``mmd2`` is a seeded bootstrap within each side:
    Poisson row weights on the exact path, 50 random row groups per side on the
    random-feature path.
    """

    name: ClassVar[str] = "mmd"
    family: ClassVar[str] = "drift"
    modalities: ClassVar[tuple[str, ...]] = VECTOR_MODALITIES
    order: ClassVar[int] = 52
    quick: ClassVar[bool] = False  # a permutation test
    value_names: ClassVar[tuple[str, ...]] = ("mmd2", "p_value")
    higher_is_better: ClassVar[bool] = False
    params = {
        **COMMON_PARAMS,
        "n_permutations": Int(min=1),
        "n_boot": Int(min=10),
        "bandwidth": Float(min=0.0, min_open=True, optional=True),
        "rff_threshold": Int(min=2),
        "rff_dim": Int(min=16),
    }
    defaults = {
        **COMMON_DEFAULTS,
        "n_permutations": 200,
        "n_boot": 100,
        "bandwidth": None,
        "rff_threshold": 10_000,
        "rff_dim": 256,
    }

    def _compute(self, cand: np.ndarray, ref: np.ndarray | None) -> tuple[list[MetricValue], dict[str, Any]]:
        assert ref is not None
        p = self._params
        bandwidth = p["bandwidth"] or median_bandwidth(np.vstack([equal_n(cand, 500), equal_n(ref, 500)]), p["seed"])
        rng = np.random.default_rng([p["seed"], 0x3D3D])
        n_x, n_y = len(cand), len(ref)
        n = n_x + n_y
        perms = np.zeros((p["n_permutations"], n), dtype=bool)  # True = on the candidate side
        for b in range(p["n_permutations"]):
            perms[b, rng.permutation(n)[:n_x]] = True
        use_rff = max(n_x, n_y) > p["rff_threshold"]
        if use_rff:
            stat, perm_stats, boot = self._rff(cand, ref, perms, bandwidth)
        else:
            stat, perm_stats, boot = self._exact(cand, ref, perms, bandwidth)
        exceed = int((perm_stats >= stat).sum())
        b = p["n_permutations"]
        p_value = (1 + exceed) / (1 + b)
        lo, hi = clopper_pearson_ci(exceed, b, p["ci_level"])
        p_ci = ((1 + lo * b) / (1 + b), (1 + hi * b) / (1 + b))
        values = [
            MetricValue("mmd2", float(stat), False, None, percentile_interval(boot, p["ci_level"]), "bootstrap"),
            MetricValue("p_value", p_value, True, None, p_ci, "permutation"),
        ]
        details = {
            "bandwidth": float(bandwidth),
            "method": "rff" if use_rff else "exact",
            "n_permutations": b,
            "permutation_quantile_95": float(np.quantile(perm_stats, 0.95)),
        }
        return values, details

    def _boot_weights(self, chunk: int, rows: int) -> np.ndarray:
        rng = np.random.default_rng([self._params["seed"], 0xB0B, chunk])
        return rng.poisson(1.0, size=(self._params["n_boot"], rows)).astype(np.float64)

    def _exact(
        self, cand: np.ndarray, ref: np.ndarray, perms: np.ndarray, bandwidth: float
    ) -> tuple[float, np.ndarray, np.ndarray]:
        n_x, n_y = len(cand), len(ref)
        z = np.vstack([cand, ref]).astype(np.float64)
        obs = np.concatenate([np.full(n_x, 1.0 / n_x), np.full(n_y, -1.0 / n_y)])
        perm_cols = np.where(perms, 1.0 / n_x, -1.0 / n_y).T
        wx, wy = self._boot_weights(0, n_x), self._boot_weights(1, n_y)
        boot_cols = np.hstack([wx / wx.sum(axis=1, keepdims=True), -wy / wy.sum(axis=1, keepdims=True)]).T
        cols = np.hstack([obs[:, None], perm_cols, boot_cols])
        out = _mmd_exact(z, cols, bandwidth)
        b = perms.shape[0]
        return float(out[0]), out[1 : 1 + b], out[1 + b :]

    def _rff(
        self, cand: np.ndarray, ref: np.ndarray, perms: np.ndarray, bandwidth: float
    ) -> tuple[float, np.ndarray, np.ndarray]:
        p = self._params
        n_x, n_y = len(cand), len(ref)
        dtype = np.float32
        dim = p["rff_dim"]
        perm_acc = np.zeros((perms.shape[0], dim))
        # Bootstrap over _GROUPS random groups of rows per side (rows are in hash
        # order, so contiguous blocks are random groups): per-group feature sums.
        gsum = {"x": np.zeros((_GROUPS, dim)), "y": np.zeros((_GROUPS, dim))}
        gcount = {"x": np.zeros(_GROUPS), "y": np.zeros(_GROUPS)}
        offset = 0
        for side, x in (("x", cand), ("y", ref)):
            for lo in range(0, len(x), _CHUNK):
                phi = rff_features(x[lo : lo + _CHUNK].astype(dtype), bandwidth, dim, p["seed"])
                rows = len(phi)
                signs = np.where(perms[:, offset : offset + rows], 1.0 / n_x, -1.0 / n_y).astype(dtype)
                perm_acc += signs @ phi
                g = (np.arange(lo, lo + rows) * _GROUPS) // len(x)
                starts = np.flatnonzero(np.diff(g, prepend=-1))
                gsum[side][g[starts]] += np.add.reduceat(phi, starts, axis=0)
                gcount[side][g[starts]] += np.diff(np.append(starts, rows))
                offset += rows
        diff = gsum["x"].sum(axis=0) / n_x - gsum["y"].sum(axis=0) / n_y
        stat = float(diff @ diff)
        perm_stats = (perm_acc**2).sum(axis=1)
        rng = np.random.default_rng([p["seed"], 0xB0B])
        w = {s_: rng.multinomial(_GROUPS, np.full(_GROUPS, 1.0 / _GROUPS), size=p["n_boot"]) for s_ in ("x", "y")}
        means = {s_: (w[s_] @ gsum[s_]) / (w[s_] @ gcount[s_])[:, None] for s_ in ("x", "y")}
        return stat, perm_stats, ((means["x"] - means["y"]) ** 2).sum(axis=1)


@register_metric
class KS(VectorMetric):
    """Per-feature two-sample Kolmogorov–Smirnov tests with Holm correction.

    Values: ``max_ks_statistic`` (the largest per-feature statistic; CI from the
    Dvoretzky–Kiefer–Wolfowitz bound, ± sqrt(ln(2/α)/2n) per side),
    ``drifted_feature_share`` (features whose Holm-adjusted p-value is below
    ``alpha``; Wilson CI) and ``p_value`` (the smallest Holm-adjusted p-value, a
    valid global test; exact given the data, so its CI is the point). ``details``
    has per-feature statistics and adjusted p-values. Tests use scipy's
    ``ks_2samp`` (exact method for small samples, asymptotic beyond 10k x 10k).
    """

    name: ClassVar[str] = "ks"
    family: ClassVar[str] = "drift"
    modalities: ClassVar[tuple[str, ...]] = VECTOR_MODALITIES
    order: ClassVar[int] = 51
    value_names: ClassVar[tuple[str, ...]] = ("max_ks_statistic", "drifted_feature_share", "p_value")
    default_rules: ClassVar[tuple[tuple[str, dict[str, Any]], ...]] = (
        ("*/ks/drifted_feature_share", {"kind": "value", "warn": 0.1}),  # drift alone warns
    )
    higher_is_better: ClassVar[bool] = False
    params = {**COMMON_PARAMS, "alpha": Float(min=0.0, max=1.0, min_open=True, max_open=True)}
    defaults = {**COMMON_DEFAULTS, "alpha": 0.05}

    def _compute(self, cand: np.ndarray, ref: np.ndarray | None) -> tuple[list[MetricValue], dict[str, Any]]:
        assert ref is not None
        from scipy.stats import ks_2samp

        p = self._params
        method = "auto" if len(cand) * len(ref) <= 10_000**2 else "asymp"
        res = ks_2samp(cand, ref, axis=0, method=method)
        stat = np.atleast_1d(res.statistic).astype(np.float64)
        adj = holm(np.atleast_1d(res.pvalue))
        a = 1 - p["ci_level"]
        eps = math.sqrt(math.log(2 / a) / (2 * len(cand))) + math.sqrt(math.log(2 / a) / (2 * len(ref)))
        top = float(stat.max())
        drifted = int((adj < p["alpha"]).sum())
        d = len(stat)
        values = [
            MetricValue("max_ks_statistic", top, False, None, (max(0.0, top - eps), min(1.0, top + eps)), "analytic"),
            MetricValue(
                "drifted_feature_share", drifted / d, False, None, wilson_ci(drifted, d, p["ci_level"]), "analytic"
            ),
            MetricValue("p_value", float(adj.min()), True, None, (float(adj.min()), float(adj.min())), "exact"),
        ]
        return values, {"statistic": stat.tolist(), "p_adjusted": adj.tolist(), "method": method}


def _psi_bins(ref: np.ndarray, bins: int) -> list[np.ndarray]:
    qs = np.quantile(ref, np.linspace(0, 1, bins + 1)[1:-1], axis=0)
    return [np.unique(qs[:, j]) for j in range(ref.shape[1])]


def _bin_index(x: np.ndarray, edges: list[np.ndarray], bins: int) -> np.ndarray:
    out = np.empty(x.shape, dtype=np.int64)
    for j, e in enumerate(edges):
        out[:, j] = np.searchsorted(e, x[:, j], side="right") + j * bins
    return out


def _psi_from_counts(c: np.ndarray, r: np.ndarray, eps: float) -> np.ndarray:
    c = np.maximum(c / c.sum(axis=1, keepdims=True), eps)
    r = np.maximum(r / r.sum(axis=1, keepdims=True), eps)
    return ((c - r) * np.log(c / r)).sum(axis=1)


@register_metric
class PSI(VectorMetric):
    """Population stability index on the reference's decile bins, averaged over features.

    Per feature: bins at the reference's quantiles (``bins`` equal-mass bins,
    merged where quantiles tie), PSI = Σ (c − r)·ln(c / r) with proportions
    floored at 1e-4. The value ``psi`` is the mean over features (the usual
    0.1 / 0.25 rule-of-thumb scale applies); ``details`` has every feature's PSI.
    PSI is a bulk measure: it barely moves when only the tails thin out. CI: seeded
    m-out-of-n bootstrap over candidate rows (m ≤ 10k).
    """

    name: ClassVar[str] = "psi"
    family: ClassVar[str] = "drift"
    modalities: ClassVar[tuple[str, ...]] = VECTOR_MODALITIES
    order: ClassVar[int] = 50
    value_names: ClassVar[tuple[str, ...]] = ("psi",)
    default_rules: ClassVar[tuple[tuple[str, dict[str, Any]], ...]] = (
        # PSI on B = 10 bins has a sampling floor of about (B - 1)(1/n + 1/m) (a chi-square
        # over n); it is subtracted before the usual 0.1 / 0.25 rule of thumb.
        ("*/*/psi*", {"kind": "value", "warn": 0.1, "collapse": 0.25, "noise": 9.0}),
    )
    higher_is_better: ClassVar[bool] = False
    params = {**COMMON_PARAMS, "bins": Int(min=2, max=100), "n_boot": Int(min=10)}
    defaults = {**COMMON_DEFAULTS, "bins": 10, "n_boot": 50}

    def _compute(self, cand: np.ndarray, ref: np.ndarray | None) -> tuple[list[MetricValue], dict[str, Any]]:
        assert ref is not None
        p = self._params
        nb, d = p["bins"], cand.shape[1]
        edges = _psi_bins(ref, nb)
        rc = np.bincount(_bin_index(ref, edges, nb).ravel(), minlength=nb * d).reshape(d, nb)
        ci_idx = _bin_index(cand, edges, nb)

        def psi_of(idx: np.ndarray) -> np.ndarray:
            cc = np.bincount(ci_idx[idx].ravel(), minlength=nb * d).reshape(d, nb)
            return _psi_from_counts(cc.astype(np.float64), rc.astype(np.float64), 1e-4)

        per_feature = psi_of(np.arange(len(cand)))
        value = float(per_feature.mean())
        ci = bootstrap_ci(
            lambda idx: float(psi_of(idx).mean()),
            len(cand),
            n_boot=p["n_boot"],
            seed=p["seed"],
            level=p["ci_level"],
            max_m=10_000,
            value=value,
        )
        details = {"per_feature": per_feature.tolist(), "max": float(per_feature.max())}
        return [MetricValue("psi", value, False, None, ci, "bootstrap")], details


@register_metric
class C2ST(VectorMetric):
    """Classifier two-sample test: out-of-fold AUC of a classifier telling candidate from reference.

    Both sides are brought to the same size (at most ``max_per_side``, seeded
    hash subsample), a scikit-learn classifier (``logistic``: standardised
    logistic regression; ``hgb``: histogram gradient boosting) is fitted in
    ``n_folds`` seeded stratified folds, and the AUC of the out-of-fold scores is
    the value: 0.5 means indistinguishable (``reference_value`` is 0.5), 1 means
    fully separable. CI: Hanley–McNeil analytic interval.
    """

    name: ClassVar[str] = "c2st"
    family: ClassVar[str] = "drift"
    modalities: ClassVar[tuple[str, ...]] = VECTOR_MODALITIES
    order: ClassVar[int] = 53
    quick: ClassVar[bool] = False  # trains a classifier per fold
    value_names: ClassVar[tuple[str, ...]] = ("auc",)
    default_rules: ClassVar[tuple[tuple[str, dict[str, Any]], ...]] = (
        ("*/c2st*/*auc*", {"kind": "value", "warn": 0.65, "collapse": 0.8}),  # out-of-fold AUC
    )
    higher_is_better: ClassVar[bool] = False
    params = {
        **COMMON_PARAMS,
        "classifier": OneOf(("logistic", "hgb")),
        "n_folds": Int(min=2, max=20),
        "max_per_side": Int(min=10),
    }
    defaults = {**COMMON_DEFAULTS, "classifier": "logistic", "n_folds": 5, "max_per_side": 5000}
    min_rows = 10

    def _compute(self, cand: np.ndarray, ref: np.ndarray | None) -> tuple[list[MetricValue], dict[str, Any]]:
        assert ref is not None
        p = self._params
        require("sklearn", extra="all", feature="the classifier two-sample test")
        from sklearn.ensemble import HistGradientBoostingClassifier
        from sklearn.linear_model import LogisticRegression
        from sklearn.metrics import roc_auc_score
        from sklearn.model_selection import StratifiedKFold, cross_val_predict
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        m = min(len(cand), len(ref), p["max_per_side"])
        x = np.vstack([equal_n(cand, m), equal_n(ref, m)]).astype(np.float64)
        y = np.concatenate([np.ones(m), np.zeros(m)])
        if p["classifier"] == "logistic":
            clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
        else:
            clf = HistGradientBoostingClassifier(random_state=p["seed"], max_iter=100)
        folds = StratifiedKFold(n_splits=p["n_folds"], shuffle=True, random_state=p["seed"])
        score = cross_val_predict(clf, x, y, cv=folds, method="predict_proba")[:, 1]
        auc = float(roc_auc_score(y, score))
        ci = _hanley_mcneil(auc, m, m, p["ci_level"])
        return [MetricValue("auc", auc, False, 0.5, ci, "analytic")], {"n_per_side": m, "classifier": p["classifier"]}


def _hanley_mcneil(auc: float, n_pos: int, n_neg: int, level: float) -> tuple[float, float]:
    from scipy.stats import norm

    q1, q2 = auc / (2 - auc), 2 * auc * auc / (1 + auc)
    var = (auc * (1 - auc) + (n_pos - 1) * (q1 - auc**2) + (n_neg - 1) * (q2 - auc**2)) / (n_pos * n_neg)
    half = float(norm.ppf(0.5 + level / 2)) * math.sqrt(max(var, 0.0))
    return (max(0.0, auc - half), min(1.0, auc + half))
