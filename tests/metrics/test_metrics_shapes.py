"""The segmentation, pose and oriented-box label metrics: they fall when the task's tails go."""

from __future__ import annotations

from types import SimpleNamespace as NS

import numpy as np
import pytest

from tailguard.errors import BadInputError, EmptyDatasetError
from tailguard.metrics.shapes import KeypointMetric, MaskShapeMetric, ObbAngleMetric


def _square(size: float, cls: int = 0) -> NS:
    return NS(class_id=cls, origin="human", task="segment", point_dim=2,
              points=(0.1, 0.1, 0.1 + size, 0.1, 0.1 + size, 0.1 + size, 0.1, 0.1 + size))


def test_mask_shape_sees_small_masks_go_and_stay():
    rng = np.random.default_rng(0)
    ref = [NS(labels=(_square(float(s)),)) for s in rng.uniform(0.02, 0.5, 400)]
    big = [NS(labels=(_square(float(s)),)) for s in rng.uniform(0.2, 0.5, 400)]
    alike = [NS(labels=(_square(float(s)),)) for s in rng.uniform(0.02, 0.5, 400)]
    lost = MaskShapeMetric().update(big).update_reference(ref).result()
    kept = MaskShapeMetric().update(alike).update_reference(ref).result()
    assert lost.value("small_mask_share").value == 0.0 and lost.value("thin_mask_share").value == 0.0
    assert kept.value("small_mask_share").value == pytest.approx(0.05, abs=0.03)
    assert lost.value("small_mask_share").reference_value == pytest.approx(0.05, abs=0.01)


def test_shape_metrics_need_their_tasks_labels():
    boxes_only = [NS(labels=(NS(class_id=0, origin="human", task="detect", points=(), point_dim=0),))]
    with pytest.raises(EmptyDatasetError, match="no segment labels"):
        MaskShapeMetric().update(boxes_only).update_reference([NS(labels=(_square(0.2),))]).result()
    with pytest.raises(BadInputError, match="expected MaskArrays or records"):
        MaskShapeMetric().update("labels.txt")


def _pose(points: tuple[float, ...], w: float = 0.4) -> NS:
    return NS(labels=(NS(class_id=0, origin="human", task="pose", x=0.5, y=0.5, w=w, h=w, points=points,
                         point_dim=3),))


def test_keypoints_name_the_keypoint_that_is_never_seen():
    rng = np.random.default_rng(1)
    ref = [_pose((0.3, 0.5, 2, 0.3 + float(d), 0.5, 2, 0.6, 0.6, 2 if i % 3 else 0))
           for i, d in enumerate(rng.uniform(0.05, 0.2, 90))]
    cand = [_pose((0.3, 0.5, 2, 0.4, 0.5, 2, 0.6, 0.6, 0)) for _ in range(90)]
    r = KeypointMetric().update(cand).update_reference(ref).result()
    assert r.details["rarest_keypoint"] == "k2" and r.value("rarest_keypoint_visible_share").value == 0.0
    assert r.value("rarest_keypoint_visible_share").reference_value == pytest.approx(2 / 3)
    assert r.value("limb_length_spread").value < 0.01 < r.value("limb_length_spread").reference_value
    with pytest.raises(BadInputError, match="3 keypoints, the reference's 2"):
        KeypointMetric().update(cand).update_reference([_pose((0.3, 0.5, 2, 0.4, 0.5, 2))] * 3).result()


def _obb(theta: float) -> NS:
    d = np.array([np.cos(theta), np.sin(theta)]) * 0.2
    e = np.array([-np.sin(theta), np.cos(theta)]) * 0.05
    c = np.array([0.5, 0.5])
    pts = np.concatenate([c - d - e, c + d - e, c + d + e, c - d + e])
    return NS(labels=(NS(class_id=0, origin="human", task="obb", points=tuple(pts.tolist()), point_dim=2),))


def test_obb_angles_lose_their_rare_directions():
    ref = [_obb(t) for t in np.r_[np.full(180, 0.2), np.linspace(0.5, 3.0, 20)]]
    cand = [_obb(0.2) for _ in range(200)]
    r = ObbAngleMetric().update(cand).update_reference(ref).result()
    assert r.value("angle_tail_mass").value == 0.0 < r.value("angle_tail_mass").reference_value
    assert r.value("angle_tv").value == pytest.approx(0.1)  # the 10% of boxes at rare angles, moved
    assert r.value("angle_tv").value > 2 * r.value("angle_tv").reference_value
    assert r.details["rare_angle_bins"]  # named as degree ranges
