"""Detection-label metrics on long-tailed label sets (the class weights of ``tailguard.data``)."""

from __future__ import annotations

import json
import pickle
from types import SimpleNamespace as NS

import numpy as np
import pytest

from tailguard.data.detection import class_weights
from tailguard.errors import BadInputError, EmptyDatasetError, LabelFormatError, ParameterError
from tailguard.features.detection import DetectionLabelArrays
from tailguard.metrics.base import METRICS
from tailguard.metrics.labels import BoxGeometryMetric, ClassShareMetric, rare_classes


def make_records(n_images: int, seed: int, *, weights=None, log_area_sd: float = 0.6, drop=()) -> list[NS]:
    """Images with 1-4 boxes, long-tailed classes, log-normal areas and aspect ratios."""
    rng = np.random.default_rng(seed)
    w = class_weights(10) if weights is None else np.asarray(weights, dtype=float)
    w = w.copy()
    w[list(drop)] = 0
    w /= w.sum()
    records = []
    for i in range(n_images):
        boxes = []
        for _ in range(int(rng.integers(1, 5))):
            area = float(np.exp(rng.normal(np.log(0.02), log_area_sd)))
            aspect = float(np.exp(rng.normal(0.0, 0.3)))
            bw, bh = np.sqrt(area * aspect), np.sqrt(area / aspect)
            boxes.append(NS(class_id=int(rng.choice(10, p=w)), x=0.5, y=0.5, w=bw, h=bh, origin="human"))
        records.append(NS(id=f"img{i}", labels=tuple(boxes)))
    return records


def test_rare_class_rule():
    assert rare_classes({0: 90, 1: 6, 2: 4}, 0.1) == [1, 2]
    assert rare_classes({0: 80, 1: 6, 2: 4, 3: 10}, 0.1) == [1, 2]
    assert rare_classes({5: 10}, 0.1) == [5]  # at least one class


def test_same_distribution_is_ok_and_dropped_rare_classes_are_flagged():
    ref = make_records(1500, seed=1)
    same = make_records(800, seed=2)
    collapsed = make_records(800, seed=3, drop=(7, 8, 9))
    ok = ClassShareMetric().update(same).update_reference(ref).result()
    bad = ClassShareMetric().update(collapsed).update_reference(ref).result()
    assert ok.details["rare_classes"] == bad.details["rare_classes"]
    assert set(ok.details["rare_classes"]) >= {8, 9}
    share = ok.value("rare_class_share")
    assert share.ci[0] <= share.reference_value <= share.ci[1]
    assert bad.value("rare_class_share").ratio < 0.5
    # class-distribution distance: within sampling noise for the same distribution, far beyond it after collapse
    assert ok.value("class_share_tv").ratio < 2.0
    assert bad.value("class_share_tv").ratio > 2.0
    assert len(ok.details["candidate_share"]) == len(ok.details["reference_share"]) == len(ok.details["class_ids"])
    assert sum(ok.details["candidate_share"]) == pytest.approx(1.0)


def test_box_geometry_tails():
    ref = make_records(1500, seed=4)
    same = make_records(1500, seed=5)
    narrow = make_records(1500, seed=6, log_area_sd=0.3)
    ok = BoxGeometryMetric().update(same).update_reference(ref).result()
    bad = BoxGeometryMetric().update(narrow).update_reference(ref).result()
    for a in (0.01, 0.05):
        assert ok.value(f"area_tail_mass_{a:g}").reference_value == pytest.approx(2 * a, abs=0.002)
        assert ok.value(f"area_tail_mass_{a:g}").ratio == pytest.approx(1.0, abs=0.5 if a == 0.01 else 0.25)
        assert bad.value(f"area_tail_mass_{a:g}").ratio < 0.2
        # aspect ratios were not changed
        assert bad.value(f"aspect_tail_mass_{a:g}").ratio == pytest.approx(1.0, abs=0.5 if a == 0.01 else 0.25)
    opi = ok.value("objects_per_image")
    assert opi.value == pytest.approx(2.5, abs=0.1) and opi.reference_value == pytest.approx(2.5, abs=0.1)
    assert sum(ok.details["log_area_hist_candidate"]) == sum(len(r.labels) for r in same)


def test_arrays_and_records_agree():
    ref, cand = make_records(200, seed=7), make_records(150, seed=8)
    a = ClassShareMetric().update(cand).update_reference(ref).result().to_dict()
    b = (
        ClassShareMetric()
        .update(DetectionLabelArrays.from_records(cand))
        .update_reference(DetectionLabelArrays.from_records(ref))
        .result()
        .to_dict()
    )
    assert a == b


@pytest.mark.parametrize("cls", [ClassShareMetric, BoxGeometryMetric])
def test_merge_equals_union_pickles_and_serialises(cls):
    ref, cand = make_records(300, seed=9), make_records(200, seed=10)
    whole = cls().update(cand).update_reference(ref).result().to_dict()
    a = cls().update(cand[:50]).update_reference(ref[:100])
    b = cls().update(cand[120:]).update(cand[50:120]).update_reference(ref[100:])
    merged = a.merge(pickle.loads(pickle.dumps(b))).result().to_dict()
    assert merged["details"] == whole["details"]
    for x, y in zip(merged["values"], whole["values"], strict=True):
        assert x["value"] == pytest.approx(y["value"], rel=1e-12)
        assert x["reference_value"] == pytest.approx(y["reference_value"], rel=1e-12)
        assert x["ci"] == pytest.approx(y["ci"], rel=1e-9)
    json.dumps(whole)
    assert METRICS.get(cls.name) is cls


def test_bad_inputs():
    m = ClassShareMetric()
    with pytest.raises(BadInputError, match=r"candidate label batch item 1: expected a record with \.labels"):
        m.update([NS(labels=()), 3])
    bad_box = NS(class_id=0, x=0.5, y=0.5, w=0.0, h=0.1, origin="human")
    with pytest.raises(LabelFormatError, match=r"img9: box 0 has width 0\.0"):
        m.update_reference([NS(id="img9", labels=(bad_box,))])
    with pytest.raises(EmptyDatasetError):
        ClassShareMetric().update([NS(labels=())]).result()
    with pytest.raises(ParameterError, match="The 'rare_fraction' parameter of ClassShareMetric"):
        ClassShareMetric(rare_fraction=1.5)


def test_without_a_reference():
    cand = make_records(100, seed=11)
    share = ClassShareMetric().update(cand).result()
    assert share.value("rare_class_share").reference_value is None
    assert share.details["rare_classes"]  # chosen from the candidate's own counts
    geo = BoxGeometryMetric().update(cand).result()
    assert [v.name for v in geo.values] == ["objects_per_image"]
