"""Detection-label arrays from ledger records (duck-typed stand-ins here)."""

from types import SimpleNamespace as NS

import numpy as np
import pytest

from tailguard.data import compose_detection
from tailguard.errors import LabelFormatError, UnknownChoiceError
from tailguard.features import KNOWN_ORIGINS, DetectionLabelArrays


def box(c, w, h, origin="human", confidence=None):
    return NS(class_id=c, x=0.5, y=0.5, w=w, h=h, origin=origin, confidence=confidence)


RECORDS = [
    NS(id="img1", uri="a.png", labels=(box(0, 0.2, 0.1), box(2, 0.3, 0.3, "pseudo_label", 0.9))),
    NS(id="img2", uri="b.png", labels=(box(1, 0.1, 0.4),)),
    NS(id="img3", uri="c.png", labels=()),
]


def test_all_origins():
    arrays = DetectionLabelArrays.from_records(RECORDS)
    assert arrays.class_ids.tolist() == [0, 2, 1]
    np.testing.assert_allclose(arrays.areas, [0.02, 0.09, 0.04])
    np.testing.assert_allclose(arrays.aspect_ratios, [2.0, 1.0, 0.25])
    assert arrays.objects_per_image.tolist() == [2, 1, 0]
    assert arrays.image_index.tolist() == [0, 0, 1]
    assert np.isnan(arrays.confidences[0]) and arrays.confidences[1] == 0.9
    assert arrays.class_counts(4).tolist() == [1, 1, 1, 0]
    assert arrays.n_boxes == 3 and arrays.n_images == 3


def test_origin_filter_keeps_images_without_boxes():
    human = DetectionLabelArrays.from_records(RECORDS, origins=["human"])
    assert human.class_ids.tolist() == [0, 1]
    assert human.objects_per_image.tolist() == [1, 1, 0]
    pseudo = DetectionLabelArrays.from_records(iter(RECORDS), origins={"pseudo_label"})
    assert pseudo.class_ids.tolist() == [2] and pseudo.objects_per_image.tolist() == [1, 0, 0]
    with pytest.raises(UnknownChoiceError, match="Did you mean 'pseudo_label'"):
        DetectionLabelArrays.from_records(RECORDS, origins=["pseudo"])


def test_degenerate_box_is_named():
    records = [NS(id="x", uri="bad.png", labels=(box(0, 0.2, 0.0),))]
    with pytest.raises(LabelFormatError, match=r"bad\.png: box 0 has width 0\.2 and height 0\.0"):
        DetectionLabelArrays.from_records(records)


def test_from_yolo_arrays_matches_records():
    ds = compose_detection(30, seed=5, imgsz=64)
    from_arrays = DetectionLabelArrays.from_yolo_arrays(ds.labels)
    records = [
        NS(id=str(i), labels=tuple(box(int(c), w, h) for c, _, _, w, h in lab)) for i, lab in enumerate(ds.labels)
    ]
    from_records = DetectionLabelArrays.from_records(records)
    for field in ("class_ids", "areas", "aspect_ratios", "objects_per_image", "image_index"):
        np.testing.assert_array_equal(getattr(from_arrays, field), getattr(from_records, field))
    assert from_arrays.box_matrix().shape == (from_arrays.n_boxes, 2)
    assert from_arrays.objects_per_image.sum() == from_arrays.n_boxes


def test_real_ledger_boxes_and_origins():
    types = pytest.importorskip("tailguard.ledger.types")
    assert set(KNOWN_ORIGINS) == set(types.ORIGINS)
    b = types.Box(class_id=3, x=0.5, y=0.5, w=0.4, h=0.2, origin="synthetic", confidence=0.5)
    arrays = DetectionLabelArrays.from_records([NS(id="s", labels=(b,))], origins=["synthetic"])
    assert arrays.class_ids.tolist() == [3] and arrays.aspect_ratios.tolist() == [2.0]
