"""``tail-preserve``: regions of the reference and a stratified draw that keeps their shares.

Regions are the reference's **classes** when both the reference and the pool
carry class labels; otherwise they are **k-NN density bands** of the features:
the reference's k-NN radii (distance to the k-th nearest other reference point)
are cut at their ``1/B, 2/B, ...`` quantiles, and an item falls in the band of
its own k-th-nearest-reference distance. Band 0 is the densest, band ``B-1``
(and anything farther out) the sparsest, so each band holds ``1/B`` of the
reference and of any fresh sample from the same distribution. A collapsing
generator piles its samples into the dense bands; the stratified draw gives the
sparse ones back their share.

>>> import numpy as np
>>> model = RegionModel.from_classes(np.array([0, 0, 0, 1]))
>>> model.shares.tolist(), model.assign_classes(np.array([1, 2])).tolist()
([0.75, 0.25], [1, -1])
>>> rng = np.random.default_rng(0)
>>> picked = stratified_draw(np.array([0, 0, 0, 0, 1]), np.array([0.5, 0.5]), 4, rng, allow_repeats=True)
>>> np.bincount(np.array([0, 0, 0, 0, 1])[picked]).tolist()
[2, 2]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tailguard.errors import EmptyDatasetError
from tailguard.policy.neighbors import knn_radii, nearest


def apportion(weights: np.ndarray, total: int) -> np.ndarray:
    """Split ``total`` into integers proportional to ``weights`` (largest remainder).

    >>> apportion(np.array([1.0, 1.0, 1.0]), 10).tolist()
    [4, 3, 3]
    """
    weights = np.asarray(weights, dtype=np.float64)
    if total <= 0 or weights.sum() <= 0:
        return np.zeros(weights.shape[0], dtype=np.int64)
    exact = weights / weights.sum() * total
    base = np.floor(exact).astype(np.int64)
    left = int(total - base.sum())
    if left:
        order = np.argsort(-(exact - base), kind="stable")
        base[order[:left]] += 1
    return base


@dataclass(frozen=True, eq=False)
class RegionModel:
    """Reference regions and their shares; ``assign_*`` maps items to region ids (-1: unseen)."""

    shares: np.ndarray
    categories: np.ndarray | None = None
    reference: np.ndarray | None = None
    thresholds: np.ndarray | None = None
    k: int = 5

    @classmethod
    def from_classes(cls, classes: np.ndarray) -> RegionModel:
        if classes.shape[0] == 0:
            raise EmptyDatasetError("tail-preserve: the reference holds no classes")
        cats, counts = np.unique(classes, return_counts=True)
        return cls(shares=counts / counts.sum(), categories=cats)

    @classmethod
    def from_features(cls, reference: np.ndarray, *, k: int, bands: int) -> RegionModel:
        radii = knn_radii(reference, k)
        thresholds = np.quantile(radii, np.arange(1, bands) / bands)
        counts = np.bincount(np.searchsorted(thresholds, radii, side="right"), minlength=bands)
        return cls(shares=counts / counts.sum(), reference=reference, thresholds=thresholds, k=k)

    @property
    def uses_classes(self) -> bool:
        return self.categories is not None

    def assign_classes(self, classes: np.ndarray) -> np.ndarray:
        assert self.categories is not None
        pos = np.searchsorted(self.categories, classes)
        pos = np.clip(pos, 0, len(self.categories) - 1)
        return np.where(self.categories[pos] == classes, pos, -1).astype(np.int64)

    def assign_features(self, features: np.ndarray) -> np.ndarray:
        assert self.reference is not None and self.thresholds is not None
        if features.shape[0] == 0:
            return np.zeros(0, dtype=np.int64)
        dist, _ = nearest(self.reference, features, self.k)
        return np.searchsorted(self.thresholds, dist[:, -1], side="right").astype(np.int64)


def stratified_draw(
    regions: np.ndarray, shares: np.ndarray, count: int, rng: np.random.Generator, *, allow_repeats: bool
) -> np.ndarray:
    """Positions (into ``regions``) of ``count`` items whose region mix follows ``shares``.

    Each region gets its quota (largest remainder of ``shares × count``), drawn
    without replacement. A region with too few items is topped up by drawing its
    items again when ``allow_repeats``; otherwise, and for regions with no items,
    the shortfall goes to regions with spare items, in proportion to their share
    (regions unseen in the reference, ``-1``, come last).
    """
    n = regions.shape[0]
    count = int(count) if allow_repeats else min(int(count), n)
    n_regions = shares.shape[0] + 1  # the last bucket holds unseen regions (-1)
    bucket = np.where(regions < 0, n_regions - 1, regions)
    avail = np.bincount(bucket, minlength=n_regions)
    weights = np.append(shares, 0.0)
    quota = apportion(weights, count)
    take = np.minimum(quota, avail)
    repeat = np.zeros(n_regions, dtype=np.int64)
    if allow_repeats:
        repeat = np.where(avail > 0, quota - take, 0)
    short = int(count - take.sum() - repeat.sum())
    while short > 0:
        spare = avail - take
        if not spare.any():
            break
        w = np.where(spare > 0, weights, 0.0)
        if w.sum() <= 0:
            w = spare.astype(np.float64)
        extra = np.minimum(apportion(w, short), spare)
        if extra.sum() == 0:  # rounding put the units on full regions: give one to the largest spare
            extra[np.argmax(spare)] = 1
        take += extra
        short -= int(extra.sum())
    order = np.lexsort((rng.random(n), bucket))
    starts = np.concatenate(([0], np.cumsum(avail)[:-1]))
    position = np.arange(n) - starts[bucket[order]]
    chosen = order[position < take[bucket[order]]]
    if repeat.any():
        extra_items = [rng.choice(np.flatnonzero(bucket == r), size=int(c)) for r, c in enumerate(repeat) if c > 0]
        chosen = np.concatenate([chosen, *extra_items])
    return np.sort(chosen)
