"""Label metrics of the segmentation, pose and oriented-box tasks (the shapes a collapsing labeller loses).

Batches are the task's arrays (:mod:`tailguard.features.shapes`) or records with
``.labels`` rows of that task (every origin; filter beforehand). The state is the arrays
themselves, with image offsets, so ``merge(A, B)`` equals ``update(A ∪ B)``. Every metric
needs the reference: its tails are the reference's quantiles.

* :class:`MaskShapeMetric` (``mask_shape``, segment): the share of candidate masks smaller
  than the reference's ``alpha`` area quantile (``small_mask_share``), with a
  perimeter-to-area ratio above its ``1 - alpha`` quantile (``thin_mask_share``: thin and
  small objects), with a vertex count outside its ``[alpha, 1 - alpha]`` quantiles
  (``vertex_tail_share``), each beside the reference's own share; and masks per image.
* :class:`KeypointMetric` (``keypoints``, pose): the share of keypoints visible, that share
  for the keypoint the reference shows least (``rarest_keypoint_visible_share``), and the
  spread of limb lengths (``limb_length_spread``: the mean coefficient of variation of each
  limb's length over the box diagonal). Details name every keypoint and limb.
* :class:`ObbAngleMetric` (``obb_angle``, obb): the long-side angles in ``bins`` bins over
  [0, 180) degrees; ``angle_tail_mass`` is the candidate's share in the reference's rare bins
  (its least filled bins covering at most ``rare_fraction`` of its boxes, at least one bin),
  ``angle_tv`` the total-variation distance between the two histograms (reference value:
  the mean distance of ``n_draws`` seeded candidate-size draws from the reference's).

CIs are ratio-estimator intervals over images for shares (rows of one image are not
independent), the standard error for means, and the coefficient of variation's
large-sample standard error for spreads.

>>> from types import SimpleNamespace as NS
>>> def poly(w, h, k=4):
...     return NS(class_id=0, origin="human", task="segment", point_dim=2,
...               points=(0.1, 0.1, 0.1 + w, 0.1, 0.1 + w, 0.1 + h, 0.1, 0.1 + h)[: 2 * k])
>>> ref = [NS(labels=(poly(0.3, 0.3), poly(0.02, 0.3))), NS(labels=(poly(0.2, 0.2), poly(0.05, 0.05)))]
>>> cand = [NS(labels=(poly(0.3, 0.3),)), NS(labels=(poly(0.2, 0.2),))]
>>> r = MaskShapeMetric(alpha=0.3).update(cand).update_reference(ref).result()
>>> r.value("small_mask_share").value, r.value("small_mask_share").reference_value
(0.0, 0.25)
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from tailguard.errors import BadInputError, EmptyDatasetError
from tailguard.features.shapes import AngleArrays, KeypointArrays, MaskArrays
from tailguard.metrics.base import Metric, MetricResult, MetricValue, register_metric
from tailguard.metrics.labels import image_ratio, rare_classes
from tailguard.validation import Float, Int

_Z = 1.959963984540054


class _Side:
    """The arrays of one side, concatenated lazily, image indices offset per batch."""

    def __init__(self) -> None:
        self.parts: list[Any] = []
        self.offsets: list[int] = []
        self.n_images = 0

    def add(self, arrays: Any) -> None:
        self.parts.append(arrays)
        self.offsets.append(self.n_images)
        self.n_images += arrays.n_images

    def merge(self, other: _Side) -> None:
        for part, offset in zip(other.parts, other.offsets, strict=True):
            self.parts.append(part)
            self.offsets.append(offset + self.n_images)
        self.n_images += other.n_images

    def column(self, name: str) -> np.ndarray:
        if not self.parts:
            return np.zeros(0)
        return np.concatenate([np.asarray(getattr(p, name)) for p in self.parts])

    def images(self) -> np.ndarray:
        if not self.parts:
            return np.zeros(0, dtype=np.int64)
        return np.concatenate([np.asarray(p.image_index) + o for p, o in zip(self.parts, self.offsets, strict=True)])

    def per_image(self) -> np.ndarray:
        return self.column("objects_per_image").astype(np.float64)


class _ShapeMetric(Metric):
    family: ClassVar[str] = "labels"
    requires_reference: ClassVar[bool] = True
    modalities: ClassVar[tuple[str, ...]] = ("detection",)
    optional_in: ClassVar[tuple[str, ...]] = ("detection",)
    higher_is_better: ClassVar[bool] = True
    arrays: ClassVar[type]
    task: ClassVar[str]

    def __init__(self, **params: Any):
        super().__init__(**params)
        self._sides = {False: _Side(), True: _Side()}

    def _as_arrays(self, batch: Any, what: str) -> Any:
        if isinstance(batch, self.arrays):
            return batch
        if isinstance(batch, str | bytes) or not hasattr(batch, "__iter__"):
            raise BadInputError(f"{what}: expected {self.arrays.__name__} or records with .labels, "
                                f"got {type(batch).__name__}")
        records = list(batch)
        for i, rec in enumerate(records):
            if not hasattr(rec, "labels"):
                raise BadInputError(f"{what} item {i}: expected a record with .labels, got {type(rec).__name__}")
        return self.arrays.from_records(records)

    def _update(self, batch: Any, *, reference: bool) -> None:
        what = f"{'reference' if reference else 'candidate'} {self.task} label batch"
        self._sides[reference].add(self._as_arrays(batch, what))

    def _merge(self, other: _ShapeMetric) -> None:
        for side in (False, True):
            self._sides[side].merge(other._sides[side])

    def _checked(self, column: str) -> tuple[_Side, _Side]:
        cand, ref = self._sides[False], self._sides[True]
        for side, name in ((cand, "candidate"), (ref, "reference")):
            if len(side.column(column)) == 0:
                raise EmptyDatasetError(f"{self.name}: the {name} has no {self.task} labels")
        return cand, ref

    def _result(self, values: list[MetricValue], details: dict[str, Any]) -> MetricResult:
        cand, ref = self._sides[False], self._sides[True]
        return MetricResult(self.name, self.family, self.config_id, cand.n_images, ref.n_images or None,
                            tuple(values), details)

    @staticmethod
    def _share(mask: np.ndarray, side: _Side) -> tuple[float, tuple[float, float]]:
        return image_ratio(mask, side.images(), side.n_images)

    @staticmethod
    def _mean(values: np.ndarray) -> tuple[float, tuple[float, float]]:
        mean = float(values.mean())
        se = float(values.std(ddof=1) / math.sqrt(values.size)) if values.size > 1 else 0.0
        return mean, (mean - _Z * se, mean + _Z * se)


def _polygons(rng: np.random.Generator, n: int, shift: float) -> list[Any]:
    from types import SimpleNamespace as NS

    def row() -> Any:
        k = int(rng.integers(3, 12 if shift else 24))
        r = rng.uniform(0.02, 0.3) * (1 - 0.5 * shift)
        stretch = rng.uniform(0.2 + 0.6 * shift, 1.0)
        t = np.sort(rng.uniform(0, 2 * np.pi, k))
        pts = np.column_stack([0.5 + r * np.cos(t), 0.5 + r * stretch * np.sin(t)]).ravel()
        return NS(class_id=int(rng.integers(0, 3)), origin="human", task="segment", points=tuple(pts), point_dim=2)

    return [NS(labels=tuple(row() for _ in range(int(rng.integers(1, 4))))) for _ in range(n)]


@register_metric
class MaskShapeMetric(_ShapeMetric):
    """Small, thin and unusual-outline masks against the reference's tails (see module doc)."""

    name: ClassVar[str] = "mask_shape"
    input_kind: ClassVar[str] = "masks"
    order: ClassVar[int] = 72
    task: ClassVar[str] = "segment"
    arrays: ClassVar[type] = MaskArrays
    value_names: ClassVar[tuple[str, ...]] = ("small_mask_share", "thin_mask_share", "vertex_tail_share",
                                              "masks_per_image")
    params: ClassVar[dict[str, Any]] = {"alpha": Float(0.0, 0.5, min_open=True, max_open=True)}
    defaults: ClassVar[dict[str, Any]] = {"alpha": 0.05}

    @classmethod
    def example_batch(cls, rng: Any, n: int, *, shift: float = 0.0) -> Any:
        return _polygons(rng, n, shift)

    def result(self) -> MetricResult:
        cand, ref = self._checked("areas")
        a = self._params["alpha"]
        values: list[MetricValue] = []
        details: dict[str, Any] = {}
        tests = (
            ("small_mask_share", "areas", lambda r: (lambda x: x < np.quantile(r, a)), "area_quantile"),
            ("thin_mask_share", "perimeter_to_area", lambda r: (lambda x: x > np.quantile(r, 1 - a)),
             "perimeter_to_area_quantile"),
            ("vertex_tail_share", "vertex_counts",
             lambda r: (lambda x: (x < np.quantile(r, a)) | (x > np.quantile(r, 1 - a))), "vertex_quantiles"),
        )
        for value_name, column, make, detail in tests:
            r = ref.column(column).astype(np.float64)
            test = make(r)
            share, ci = self._share(test(cand.column(column).astype(np.float64)), cand)
            values.append(MetricValue(value_name, share, True, float(np.mean(test(r))), ci, "analytic"))
            details[detail] = [float(np.quantile(r, a)), float(np.quantile(r, 1 - a))]
        mean, ci = self._mean(cand.per_image())
        values.append(MetricValue("masks_per_image", mean, True, float(ref.per_image().mean()), ci, "analytic"))
        details["vertex_count_mean"] = [float(cand.column("vertex_counts").mean()),
                                        float(ref.column("vertex_counts").mean())]
        return self._result(values, details)


def _poses(rng: np.random.Generator, n: int, shift: float) -> list[Any]:
    from types import SimpleNamespace as NS

    def row() -> Any:
        pts = []
        for i in range(3):
            visible = rng.uniform() >= (0.1 + 0.4 * shift * (i == 2))
            scale = 0.1 * (1 + (1 - shift) * rng.uniform(-0.5, 0.5))
            pts.extend([0.3 + scale * i, 0.5, 2.0 if visible else 0.0])
        return NS(class_id=0, origin="human", task="pose", x=0.5, y=0.5, w=0.4, h=0.4, points=tuple(pts),
                  point_dim=3)

    return [NS(labels=tuple(row() for _ in range(int(rng.integers(1, 3))))) for _ in range(n)]


def _cv(values: np.ndarray) -> tuple[float, float]:
    """Coefficient of variation and its large-sample standard error (NaN below 2 values)."""
    values = values[np.isfinite(values)]
    if values.size < 2 or values.mean() <= 0:
        return math.nan, math.nan
    cv = float(values.std(ddof=1) / values.mean())
    return cv, cv / math.sqrt(2 * values.size) * math.sqrt(1 + 2 * cv * cv)


@register_metric
class KeypointMetric(_ShapeMetric):
    """Keypoint visibility and limb-length spread against the reference (see module doc)."""

    name: ClassVar[str] = "keypoints"
    input_kind: ClassVar[str] = "keypoints"
    order: ClassVar[int] = 73
    task: ClassVar[str] = "pose"
    arrays: ClassVar[type] = KeypointArrays
    value_names: ClassVar[tuple[str, ...]] = ("visible_share", "rarest_keypoint_visible_share",
                                              "limb_length_spread")
    params: ClassVar[dict[str, Any]] = {}
    defaults: ClassVar[dict[str, Any]] = {}

    @classmethod
    def example_batch(cls, rng: Any, n: int, *, shift: float = 0.0) -> Any:
        return _poses(rng, n, shift)

    def _stack(self, side: _Side, name: str) -> np.ndarray:
        parts = [np.asarray(getattr(p, name)) for p in side.parts]
        widths = {p.shape[1] for p in parts}
        if len(widths) > 1:
            raise BadInputError(f"{self.name}: poses with different keypoint counts {sorted(widths)}")
        return np.concatenate(parts) if parts else np.zeros((0, 0))

    def result(self) -> MetricResult:
        cand, ref = self._checked("class_ids")
        cv, rv = self._stack(cand, "visible"), self._stack(ref, "visible")
        if cv.shape[1] != rv.shape[1]:
            raise BadInputError(f"{self.name}: the candidate's poses have {cv.shape[1]} keypoints, the "
                                f"reference's {rv.shape[1]}")
        names = ref.parts[0].keypoint_names
        k = cv.shape[1]
        pose_image = cand.images()
        image = np.repeat(pose_image, k)
        share, ci = image_ratio(cv.ravel(), image, cand.n_images)
        values = [MetricValue("visible_share", share, True, float(rv.mean()), ci, "analytic")]
        ref_shares = rv.mean(axis=0)
        rarest = int(np.argmin(ref_shares))
        rshare, rci = image_ratio(cv[:, rarest], pose_image, cand.n_images)
        values.append(MetricValue("rarest_keypoint_visible_share", rshare, True, float(ref_shares[rarest]), rci,
                                  "analytic"))
        cl, rl = self._stack(cand, "limbs"), self._stack(ref, "limbs")
        limb_cv = [(_cv(cl[:, j]), _cv(rl[:, j])) for j in range(cl.shape[1])]
        usable = [(c, r) for c, r in limb_cv if math.isfinite(c[0]) and math.isfinite(r[0])]
        if not usable:
            raise EmptyDatasetError(f"{self.name}: no limb has two visible lengths on both sides")
        spread = float(np.mean([c[0] for c, _ in usable]))
        se = math.sqrt(sum(c[1] ** 2 for c, _ in usable)) / len(usable)
        values.append(MetricValue("limb_length_spread", spread, True, float(np.mean([r[0] for _, r in usable])),
                                  (spread - _Z * se, spread + _Z * se), "analytic"))
        limbs = ref.parts[0].limb_names()
        details = {
            "keypoint_names": list(names),
            "candidate_visible_share": cv.mean(axis=0).tolist(),
            "reference_visible_share": ref_shares.tolist(),
            "rarest_keypoint": names[rarest],
            "limb_names": limbs,
            "candidate_limb_spread": [c[0] if math.isfinite(c[0]) else None for c, _ in limb_cv],
            "reference_limb_spread": [r[0] if math.isfinite(r[0]) else None for _, r in limb_cv],
        }
        return self._result(values, details)


def _oriented(rng: np.random.Generator, n: int, shift: float) -> list[Any]:
    from types import SimpleNamespace as NS

    def row() -> Any:
        theta = rng.uniform(0, np.pi) if rng.uniform() > 0.7 * shift else rng.normal(0.3, 0.1)
        d = np.array([np.cos(theta), np.sin(theta)]) * 0.2
        e = np.array([-np.sin(theta), np.cos(theta)]) * 0.05
        c = np.array([0.5, 0.5])
        pts = np.concatenate([c - d - e, c + d - e, c + d + e, c - d + e])
        return NS(class_id=int(rng.integers(0, 3)), origin="human", task="obb", points=tuple(pts), point_dim=2)

    return [NS(labels=tuple(row() for _ in range(int(rng.integers(1, 4))))) for _ in range(n)]


@register_metric
class ObbAngleMetric(_ShapeMetric):
    """The oriented boxes' angle distribution and its rare angles against the reference (see module doc)."""

    name: ClassVar[str] = "obb_angle"
    input_kind: ClassVar[str] = "angles"
    order: ClassVar[int] = 74
    task: ClassVar[str] = "obb"
    arrays: ClassVar[type] = AngleArrays
    value_names: ClassVar[tuple[str, ...]] = ("angle_tail_mass", "angle_tv")
    default_rules: ClassVar[tuple[tuple[str, dict[str, Any]], ...]] = (
        ("*/obb_angle/angle_tv", {"kind": "excess", "warn": 0.05, "collapse": 0.15}),
    )
    params: ClassVar[dict[str, Any]] = {
        "rare_fraction": Float(0.0, 1.0, min_open=True, max_open=True),
        "bins": Int(min=2, max=180),
        "seed": Int(min=0),
        "n_draws": Int(min=1),
    }
    defaults: ClassVar[dict[str, Any]] = {"rare_fraction": 0.1, "bins": 18, "seed": 0, "n_draws": 50}

    @classmethod
    def example_batch(cls, rng: Any, n: int, *, shift: float = 0.0) -> Any:
        return _oriented(rng, n, shift)

    def result(self) -> MetricResult:
        cand, ref = self._checked("angles")
        bins = self._params["bins"]
        edges = np.linspace(0.0, 180.0, bins + 1)
        c_bin = np.clip(np.searchsorted(edges, cand.column("angles"), side="right") - 1, 0, bins - 1)
        r_bin = np.clip(np.searchsorted(edges, ref.column("angles"), side="right") - 1, 0, bins - 1)
        c_hist, r_hist = np.bincount(c_bin, minlength=bins), np.bincount(r_bin, minlength=bins)
        rare = rare_classes({int(b): int(n) for b, n in enumerate(r_hist)}, self._params["rare_fraction"])
        share, ci = self._share(np.isin(c_bin, rare), cand)
        values = [MetricValue("angle_tail_mass", share, True, float(np.isin(r_bin, rare).mean()), ci, "analytic")]
        c_p, r_p = c_hist / c_hist.sum(), r_hist / r_hist.sum()
        tv = 0.5 * float(np.abs(c_p - r_p).sum())
        rng = np.random.default_rng(self._params["seed"])
        size = int(c_hist.sum())
        tvs = np.array([0.5 * np.abs(rng.multinomial(size, r_p) / size - r_p).sum()
                        for _ in range(self._params["n_draws"])])
        sd = float(tvs.std(ddof=1)) if len(tvs) > 1 else 0.0
        values.append(MetricValue("angle_tv", tv, False, float(tvs.mean()), (max(tv - _Z * sd, 0.0), tv + _Z * sd),
                                  "subsample"))
        details = {"angle_bin_edges_degrees": edges.tolist(), "candidate_hist": c_hist.tolist(),
                   "reference_hist": r_hist.tolist(),
                   "rare_angle_bins": [f"{edges[b]:g}-{edges[b + 1]:g}" for b in rare]}
        return self._result(values, details)
