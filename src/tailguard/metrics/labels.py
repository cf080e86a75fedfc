"""Detection-label metrics: rare-class share, class shares, box-geometry tails, objects per image.

Batches are either a :class:`tailguard.features.detection.DetectionLabelArrays`
or a sequence of records with a ``.labels`` tuple of boxes (ledger
``SampleRecord``s; every box is used; filter origins beforehand with
``DetectionLabelArrays.from_records(records, origins=...)``). The state is the
per-box class ids, areas and aspect ratios, the image each box belongs to and
the boxes per image, so ``merge(A, B)`` equals ``update(A ∪ B)``.

* :class:`ClassShareMetric` (``class_share``):

  - ``rare_class_share``: share of boxes whose class is *rare*. **Rare
    classes** are the reference's least frequent classes: classes sorted by
    reference count (ascending, ties by id), the longest prefix whose
    cumulative reference share is at most ``rare_fraction`` (default 10%),
    and at least the single least frequent class. The ratio to the
    reference's own share is the rare-class share ratio (higher is better).
  - ``class_share_tv``: total-variation distance between the candidate's and
    the reference's class distributions (lower is better); its reference
    value is the mean distance of ``n_draws`` seeded same-size subsamples of
    the reference to the whole reference, i.e. what sampling alone gives.
  - details carry the per-class shares for the report's per-class bars.

* :class:`BoxGeometryMetric` (``box_geometry``): for each ``alpha``, the share
  of candidate boxes whose area (``w*h``), or aspect ratio (``w/h``), lies
  beyond the reference's ``alpha`` and ``1 - alpha`` quantiles (exact
  quantiles of the stored reference), beside the reference's own share; and
  the mean number of objects per image.

CIs are analytic: ratio-estimator standard errors over images for box shares
(boxes in one image are not independent), the standard error of the mean for
objects per image.

>>> from types import SimpleNamespace as NS
>>> box = lambda c, w=0.1, h=0.1: NS(class_id=c, x=0.5, y=0.5, w=w, h=h, origin="human")
>>> ref = [NS(labels=(box(0), box(0), box(1))), NS(labels=(box(0), box(2)))]
>>> cand = [NS(labels=(box(0), box(0))), NS(labels=(box(0),))]
>>> r = ClassShareMetric(rare_fraction=0.25).update(cand).update_reference(ref).result()
>>> r.details["rare_classes"], r.value("rare_class_share").value, r.value("rare_class_share").reference_value
([1], 0.0, 0.2)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from tailguard.errors import BadInputError, EmptyDatasetError, LabelFormatError
from tailguard.metrics.base import Metric, MetricResult, MetricValue, register_metric
from tailguard.validation import Float, FloatTuple, Int

_Z = 1.959963984540054


def _as_arrays(batch: Any, what: str) -> Any:
    from tailguard.features.detection import DetectionLabelArrays

    if isinstance(batch, DetectionLabelArrays) or all(
        hasattr(batch, a) for a in ("class_ids", "areas", "aspect_ratios", "objects_per_image", "image_index")
    ):
        areas = np.asarray(batch.areas, dtype=np.float64)
        aspects = np.asarray(batch.aspect_ratios, dtype=np.float64)
        bad = ~(np.isfinite(areas) & np.isfinite(aspects) & (areas > 0) & (aspects > 0))
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise LabelFormatError(
                f"{what}: box {i} has area {areas[i]} and aspect ratio {aspects[i]}; both must be > 0"
            )
        return batch
    if isinstance(batch, str | bytes) or not hasattr(batch, "__iter__"):
        raise BadInputError(
            f"{what}: expected DetectionLabelArrays or records with .labels, got {type(batch).__name__}"
        )
    records = list(batch)
    for i, rec in enumerate(records):
        if not hasattr(rec, "labels"):
            raise BadInputError(f"{what} item {i}: expected a record with .labels, got {type(rec).__name__}")
    return DetectionLabelArrays.from_records(records)


class _Boxes:
    """Concatenated per-box and per-image arrays of one side."""

    def __init__(self) -> None:
        self.parts: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []  # class, area, aspect, image
        self.per_image: list[np.ndarray] = []
        self.n_images = 0

    def add(self, arr: Any) -> None:
        image = np.asarray(arr.image_index, dtype=np.int64) + self.n_images
        self.parts.append(
            (
                np.asarray(arr.class_ids, dtype=np.int64),
                np.asarray(arr.areas, dtype=np.float64),
                np.asarray(arr.aspect_ratios, dtype=np.float64),
                image,
            )
        )
        per = np.asarray(arr.objects_per_image, dtype=np.int64)
        self.per_image.append(per)
        self.n_images += len(per)

    def merge(self, other: _Boxes) -> None:
        for cls_, area, aspect, image in other.parts:
            self.parts.append((cls_, area, aspect, image + self.n_images))
        self.per_image.extend(other.per_image)
        self.n_images += other.n_images

    def column(self, i: int) -> np.ndarray:
        if not self.parts:
            return np.zeros(0, dtype=np.int64 if i in (0, 3) else np.float64)
        return np.concatenate([p[i] for p in self.parts])

    def objects(self) -> np.ndarray:
        return np.concatenate(self.per_image) if self.per_image else np.zeros(0, dtype=np.int64)


def image_ratio(mask: np.ndarray, image: np.ndarray, n_images: int) -> tuple[float, tuple[float, float]]:
    """Share of boxes in ``mask`` with its ratio-estimator CI over images."""
    y = np.bincount(image, weights=mask.astype(np.float64), minlength=n_images)
    x = np.bincount(image, minlength=n_images).astype(np.float64)
    sx = float(x.sum())
    if sx == 0:
        return math.nan, (math.nan, math.nan)
    r = float(y.sum()) / sx
    k = int(np.count_nonzero(x))
    if k < 2:
        return r, (r, r)
    resid = (y - r * x)[x > 0]
    se = math.sqrt(k / (k - 1) * float(np.sum(resid * resid))) / sx
    return r, (r - _Z * se, r + _Z * se)


class _LabelMetric(Metric):
    input_kind: ClassVar[str] = "boxes"
    family: ClassVar[str] = "labels"
    requires_reference: ClassVar[bool] = False
    accepts_reference: ClassVar[bool] = True

    def __init__(self, **params: Any):
        super().__init__(**params)
        self._sides = {False: _Boxes(), True: _Boxes()}

    def _update(self, batch: Any, *, reference: bool) -> None:
        what = "reference label batch" if reference else "candidate label batch"
        self._sides[reference].add(_as_arrays(batch, what))

    def _merge(self, other: _LabelMetric) -> None:
        for side in (False, True):
            self._sides[side].merge(other._sides[side])

    def _check(self) -> tuple[_Boxes, _Boxes, bool]:
        cand, ref = self._sides[False], self._sides[True]
        if cand.n_images == 0 or len(cand.column(0)) == 0:
            raise EmptyDatasetError(f"{self.name}: the candidate has no boxes")
        return cand, ref, len(ref.column(0)) > 0

    def _result(self, values: list[MetricValue], details: dict[str, Any]) -> MetricResult:
        cand, ref = self._sides[False], self._sides[True]
        return MetricResult(
            metric=self.name,
            family=self.family,
            config_id=self.config_id,
            n=cand.n_images,
            n_reference=ref.n_images or None,
            values=tuple(values),
            details=details,
        )


def rare_classes(reference_counts: dict[int, int], rare_fraction: float) -> list[int]:
    """The reference's least frequent classes covering at most ``rare_fraction`` of its boxes (>= 1 class).

    >>> rare_classes({0: 90, 1: 6, 2: 4}, 0.1)
    [1, 2]
    >>> rare_classes({0: 50, 1: 50}, 0.1)
    [0]
    """
    items = sorted(reference_counts.items(), key=lambda kv: (kv[1], kv[0]))
    total = sum(reference_counts.values())
    out, cum = [], 0
    for cls_, count in items:
        if out and (cum + count) / total > rare_fraction:
            break
        out.append(cls_)
        cum += count
    return sorted(out)


@register_metric
class ClassShareMetric(_LabelMetric):
    """Rare-class share and per-class instance shares against the reference (see module doc)."""

    name: ClassVar[str] = "class_share"
    #: categorical: the classification task's image classes, whose rows come as boxes (skipped without them)
    modalities: ClassVar[tuple[str, ...]] = ("categorical", "detection")
    optional_in: ClassVar[tuple[str, ...]] = ("categorical",)
    order: ClassVar[int] = 70
    value_names: ClassVar[tuple[str, ...]] = ("rare_class_share", "class_share_tv")
    default_rules: ClassVar[tuple[tuple[str, dict[str, Any]], ...]] = (
        ("*/class_share/class_share_tv", {"kind": "excess", "warn": 0.05, "collapse": 0.15}),
    )
    higher_is_better: ClassVar[bool] = True
    params: ClassVar[dict[str, Any]] = {
        "rare_fraction": Float(0.0, 1.0, min_open=True, max_open=True),
        "seed": Int(min=0),
        "n_draws": Int(min=1),
    }
    defaults: ClassVar[dict[str, Any]] = {"rare_fraction": 0.1, "seed": 0, "n_draws": 50}

    def result(self) -> MetricResult:
        cand, ref, has_ref = self._check()
        c_cls, c_img = cand.column(0), cand.column(3)
        r_cls = ref.column(0)
        classes = np.union1d(c_cls, r_cls)
        c_counts = np.array([np.count_nonzero(c_cls == k) for k in classes], dtype=np.int64)
        r_counts = np.array([np.count_nonzero(r_cls == k) for k in classes], dtype=np.int64)
        basis = r_counts if has_ref else c_counts
        rare = rare_classes(
            {int(k): int(n) for k, n in zip(classes, basis, strict=True) if n > 0}, self._params["rare_fraction"]
        )
        share, ci = image_ratio(np.isin(c_cls, rare), c_img, cand.n_images)
        ref_share = float(np.isin(r_cls, rare).mean()) if has_ref else None
        c_p = c_counts / c_counts.sum()
        values = [MetricValue("rare_class_share", share, True, ref_share, ci, "analytic")]
        details: dict[str, Any] = {
            "class_ids": [int(k) for k in classes],
            "candidate_share": c_p.tolist(),
            "rare_classes": [int(k) for k in rare],
        }
        if has_ref:
            r_p = r_counts / r_counts.sum()
            tv = 0.5 * float(np.abs(c_p - r_p).sum())
            rng = np.random.default_rng(self._params["seed"])
            size = int(min(c_counts.sum(), r_counts.sum()))
            draws = [rng.multivariate_hypergeometric(r_counts, size) for _ in range(self._params["n_draws"])]
            tvs = np.array([0.5 * np.abs(d / size - r_p).sum() for d in draws])
            sd = float(tvs.std(ddof=1)) if len(tvs) > 1 else 0.0
            values.append(
                MetricValue(
                    "class_share_tv", tv, False, float(tvs.mean()), (max(tv - _Z * sd, 0.0), tv + _Z * sd), "subsample"
                )
            )
            details["reference_share"] = r_p.tolist()
        return self._result(values, details)


@register_metric
class BoxGeometryMetric(_LabelMetric):
    """Box area and aspect-ratio tail masses and objects per image (see module doc)."""

    name: ClassVar[str] = "box_geometry"
    modalities: ClassVar[tuple[str, ...]] = ("detection",)
    order: ClassVar[int] = 71
    value_names: ClassVar[tuple[str, ...]] = (
        "area_tail_mass_0.01", "area_tail_mass_0.05", "aspect_tail_mass_0.01", "aspect_tail_mass_0.05",
        "objects_per_image",
    )

    @classmethod
    def output_names(cls, params: Mapping[str, Any] | None = None) -> tuple[str, ...]:
        alphas = [float(a) for a in {**cls.defaults, **(params or {})}["alphas"]]
        tails = (f"{side}_tail_mass_{a:g}" for side in ("area", "aspect") for a in alphas)
        return (*tails, "objects_per_image")
    higher_is_better: ClassVar[bool] = True
    params: ClassVar[dict[str, Any]] = {"alphas": FloatTuple(0.0, 0.5)}
    defaults: ClassVar[dict[str, Any]] = {"alphas": (0.01, 0.05)}

    def result(self) -> MetricResult:
        cand, ref, has_ref = self._check()
        values: list[MetricValue] = []
        details: dict[str, Any] = {}
        c_img = cand.column(3)
        if has_ref:
            for col, label in ((1, "area"), (2, "aspect")):
                c, r = cand.column(col), ref.column(col)
                for a in self._params["alphas"]:
                    lo, hi = np.quantile(r, [a, 1 - a])
                    share, ci = image_ratio((c < lo) | (c > hi), c_img, cand.n_images)
                    ref_share = float(np.mean((r < lo) | (r > hi)))
                    values.append(MetricValue(f"{label}_tail_mass_{a:g}", share, True, ref_share, ci, "analytic"))
                    details[f"{label}_quantiles_{a:g}"] = [float(lo), float(hi)]
                # log-scale histograms for the report
                lr, lc = np.log(r), np.log(c)
                edges = np.linspace(min(lr.min(), lc.min()), max(lr.max(), lc.max()) + 1e-12, 31)
                details[f"log_{label}_hist_edges"] = edges.tolist()
                details[f"log_{label}_hist_candidate"] = np.histogram(lc, edges)[0].tolist()
                details[f"log_{label}_hist_reference"] = np.histogram(lr, edges)[0].tolist()
        objs = cand.objects().astype(np.float64)
        mean = float(objs.mean())
        se = float(objs.std(ddof=1) / math.sqrt(objs.size)) if objs.size > 1 else 0.0
        ref_objs = ref.objects().astype(np.float64)
        values.append(
            MetricValue(
                "objects_per_image",
                mean,
                True,
                float(ref_objs.mean()) if ref_objs.size else None,
                (mean - _Z * se, mean + _Z * se),
                "analytic",
            )
        )
        return self._result(values, details)
