"""The data the HTML report draws, computed once by the audit and stored in the report.

- ``tail_histograms``: reference vs candidate histograms of the features whose
  tail mass (beyond the reference's 1%/99% quantiles) changed most, only for
  modalities whose features a reader can name (:func:`per_feature_figures`:
  tabular columns and detection box sizes, never a hashed text projection or a pixel);
- ``coverage_by_decile``: the share of reference points, binned by rarity
  decile (k-NN radius), that have a candidate within their radius (``<=``),
  with fewer bins when the reference is small and the counts behind each share;
- ``class_shares``: per-class shares of both sides, classes named when the names are known.

The report renders these lists; it never recomputes them.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> ref, cand = rng.normal(size=(400, 3)), 0.5 * rng.normal(size=(400, 3))
>>> h = tail_histograms(cand, ref, n_features=2)
>>> len(h), h[0]["candidate_tail_mass"] < h[0]["reference_tail_mass"]
(2, True)
>>> cov = coverage_by_decile(cand, ref, k=5)
>>> cov["coverage"][-1] < cov["coverage"][0]
True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tailguard.audit.loss_stats import class_label

#: Modalities whose vector features are named quantities (columns, box area and aspect ratio).
PER_FEATURE_MODALITIES = ("vectors", "detection")


def per_feature_figures(modality: str) -> bool:
    """Whether per-feature figures mean something for ``modality``.

    Text embeddings (hashed n-gram projections, MiniLM) and image features have no
    feature a reader can name, so their reports show lengths, n-grams and examples instead.

    >>> per_feature_figures("vectors"), per_feature_figures("text"), per_feature_figures("images")
    (True, False, False)
    """
    return modality in PER_FEATURE_MODALITIES


def tail_histograms(
    candidate: np.ndarray,
    reference: np.ndarray,
    *,
    alpha: float = 0.01,
    n_features: int = 4,
    bins: int = 40,
    feature_names: tuple[str, ...] | None = None,
) -> list[dict[str, Any]]:
    """Histograms of the ``n_features`` features whose two-sided tail mass moved most."""
    lo = np.quantile(reference, alpha, axis=0)
    hi = np.quantile(reference, 1 - alpha, axis=0)
    ref_tail = ((reference < lo) | (reference > hi)).mean(axis=0)
    cand_tail = ((candidate < lo) | (candidate > hi)).mean(axis=0)
    spread = reference.std(axis=0)
    change = np.where(spread > 0, np.abs(cand_tail - ref_tail), -1.0)
    order = np.argsort(-change, kind="stable")[:n_features]
    out = []
    for j in order:
        if spread[j] == 0:
            continue
        both = np.concatenate([reference[:, j], candidate[:, j]])
        edges = np.histogram_bin_edges(both, bins=bins)
        out.append(
            {
                "feature": feature_names[j] if feature_names else f"feature {int(j)}",
                "edges": edges.tolist(),
                "reference": np.histogram(reference[:, j], edges)[0].tolist(),
                "candidate": np.histogram(candidate[:, j], edges)[0].tolist(),
                "lower_quantile": float(lo[j]),
                "upper_quantile": float(hi[j]),
                "alpha": alpha,
                "reference_tail_mass": float(ref_tail[j]),
                "candidate_tail_mass": float(cand_tail[j]),
            }
        )
    return out


def coverage_by_decile(
    candidate: np.ndarray, reference: np.ndarray, *, k: int = 5, max_points: int = 1500, seed: int = 0
) -> dict[str, Any]:
    """Coverage of reference points by rarity decile (decile 10 = the sparsest 10%)."""
    from sklearn.neighbors import NearestNeighbors

    rng = np.random.default_rng(seed)
    if len(reference) > max_points:
        reference = reference[rng.choice(len(reference), max_points, replace=False)]
    if len(candidate) > max_points:
        candidate = candidate[rng.choice(len(candidate), max_points, replace=False)]
    k = min(k, len(reference) - 1)
    if k < 1:
        return {"deciles": [], "coverage": [], "k": k}
    nn = NearestNeighbors(n_neighbors=k + 1).fit(reference)
    radius = nn.kneighbors(reference)[0][:, -1]  # the point itself is neighbour 0
    nearest = NearestNeighbors(n_neighbors=1).fit(candidate).kneighbors(reference)[0][:, 0]
    covered = nearest <= radius
    order = np.argsort(radius, kind="stable")
    groups = np.array_split(order, rarity_bins(len(reference)))
    return {
        "deciles": list(range(1, len(groups) + 1)),
        "coverage": [float(covered[g].mean()) if len(g) else 0.0 for g in groups],
        "covered": [int(covered[g].sum()) for g in groups],
        "total": [len(g) for g in groups],
        "radius_upper": [float(radius[g].max()) if len(g) else 0.0 for g in groups],
        "k": int(k),
    }


def rarity_bins(n: int) -> int:
    """Rarity bins for ``n`` reference points: deciles from 100 points, else about 10 points a bin.

    >>> rarity_bins(1500), rarity_bins(45), rarity_bins(12)
    (10, 4, 2)
    """
    return 10 if n >= 100 else max(2, n // 10)


def class_shares(
    candidate: np.ndarray, reference: np.ndarray, *, max_classes: int = 40, names: Sequence[str] | None = None
) -> dict[str, Any]:
    """Per-class shares of both sides, classes ordered by the reference's share (rarest last).

    ``names`` maps integer class ids to their names (a YOLO ``data.yaml``'s).

    >>> class_shares(np.array([0, 0, 1]), np.array([0, 1, 2]), names=("circle", "square", "triangle"))["lost"]
    ['triangle']
    """
    classes, ref_counts = np.unique(reference, return_counts=True)
    cand_classes, cand_counts = np.unique(candidate, return_counts=True)
    all_classes = np.union1d(classes, cand_classes)
    ref_map = dict(zip(classes.tolist(), ref_counts.tolist(), strict=True))
    cand_map = dict(zip(cand_classes.tolist(), cand_counts.tolist(), strict=True))
    order = sorted(all_classes.tolist(), key=lambda c: (-ref_map.get(c, 0), str(c)))[:max_classes]
    n_ref, n_cand = max(len(reference), 1), max(len(candidate), 1)
    label = {c: class_label(c, names) for c in order}
    return {
        "classes": [label[c] for c in order],
        "reference": [ref_map.get(c, 0) / n_ref for c in order],
        "candidate": [cand_map.get(c, 0) / n_cand for c in order],
        "lost": [label[c] for c in order if ref_map.get(c, 0) > 0 and cand_map.get(c, 0) == 0],
    }

