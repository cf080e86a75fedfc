"""The composed detection dataset: reproducible, valid YOLO labels, long-tailed classes."""

import socket
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image
from scipy import stats

from tailguard.data import (
    DETECTION_CLASS_WEIGHTS,
    DIGIT_NAMES,
    class_weights,
    compose_detection,
    make_detection_dataset,
    rare_classes,
)
from tailguard.errors import BadInputError, ParameterError


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "data.yaml"
    }


def _read_labels(root: Path) -> list[np.ndarray]:
    out = []
    for path in sorted((root / "labels").rglob("*.txt")):
        rows = [line.split() for line in path.read_text().splitlines()]
        assert all(len(r) == 5 for r in rows), path
        out.append(np.array(rows, dtype=float).reshape(-1, 5))
    return out


def test_same_seed_gives_byte_identical_files(tmp_path):
    a = make_detection_dataset(tmp_path / "a", n_images=30, seed=7, imgsz=64)
    b = make_detection_dataset(tmp_path / "b", n_images=30, seed=7, imgsz=64)
    c = make_detection_dataset(tmp_path / "c", n_images=30, seed=8, imgsz=64)
    files_a, files_b = _files(a.parent), _files(b.parent)
    assert len(files_a) == 60
    assert files_a == files_b
    assert files_a != _files(c.parent)
    strip = [line for line in a.read_text().splitlines() if not line.startswith("path:")]
    assert strip == [line for line in b.read_text().splitlines() if not line.startswith("path:")]


def test_parallel_workers_write_the_same_bytes(tmp_path, monkeypatch):
    import tailguard.data.detection as detection

    monkeypatch.setattr(detection, "_CHUNK", 40)  # several work chunks per split: seams are covered
    one = make_detection_dataset(tmp_path / "one", n_images=120, seed=2, imgsz=32)
    two = make_detection_dataset(tmp_path / "two", n_images=120, seed=2, imgsz=32, workers=2, progress=True)
    files_one = _files(one.parent)
    assert len(files_one) == 240
    assert files_one == _files(two.parent)


def test_layout_yaml_and_label_validity(tmp_path):
    data_yaml = make_detection_dataset(tmp_path, n_images=40, seed=1, imgsz=96, split=(0.75, 0.25))
    spec = yaml.safe_load(data_yaml.read_text())
    assert Path(spec["path"]) == tmp_path.resolve()
    assert spec["train"] == "images/train" and spec["val"] == "images/val"
    assert spec["names"] == dict(enumerate(DIGIT_NAMES))
    assert len(list((tmp_path / "images/train").glob("*.png"))) == 30
    assert len(list((tmp_path / "images/val").glob("*.png"))) == 10
    for image in (tmp_path / "images").rglob("*.png"):
        label = tmp_path / "labels" / image.parent.name / (image.stem + ".txt")
        assert label.is_file()
        with Image.open(image) as im:
            assert im.size == (96, 96) and im.mode == "L"
    labels = _read_labels(tmp_path)
    assert all(1 <= len(lab) <= 4 for lab in labels)
    boxes = np.concatenate(labels)
    assert np.all(boxes[:, 0] == np.round(boxes[:, 0]))
    assert boxes[:, 0].min() >= 0 and boxes[:, 0].max() < 10
    assert np.all((boxes[:, 1:] >= 0) & (boxes[:, 1:] <= 1))
    # boxes lie wholly inside the image
    assert np.all(boxes[:, 1] - boxes[:, 3] / 2 >= -1e-6) and np.all(boxes[:, 1] + boxes[:, 3] / 2 <= 1 + 1e-6)
    assert np.all(boxes[:, 2] - boxes[:, 4] / 2 >= -1e-6) and np.all(boxes[:, 2] + boxes[:, 4] / 2 <= 1 + 1e-6)
    # sizes and aspect ratios vary
    area = boxes[:, 3] * boxes[:, 4]
    assert area.max() / area.min() > 5
    aspect = boxes[:, 3] / boxes[:, 4]
    assert aspect.max() / aspect.min() > 2


def test_boxes_hold_the_ink():
    ds = compose_detection(20, seed=4, imgsz=96)
    inside, outside = [], []
    for image, labels in zip(ds.images, ds.labels, strict=True):
        mask = np.zeros(image.shape, dtype=bool)
        for _, x, y, w, h in labels:
            x0, x1 = round((x - w / 2) * 96), round((x + w / 2) * 96)
            y0, y1 = round((y - h / 2) * 96), round((y + h / 2) * 96)
            mask[y0:y1, x0:x1] = True
        inside.append(np.percentile(image[mask], 95))
        outside.append(np.percentile(image[~mask], 95))
    # the brightest pixels (the ink) are inside the boxes
    assert np.all(np.array(inside) > np.array(outside) + 30)


def test_class_frequency_is_long_tailed():
    ds = compose_detection(600, seed=0, imgsz=32)
    counts = np.bincount(ds.class_ids(), minlength=10)
    assert counts.sum() > 1000
    # the observed counts fit the Zipf-like weights (a fixed seed, so this never flakes)
    assert stats.chisquare(counts, counts.sum() * DETECTION_CLASS_WEIGHTS).pvalue > 0.001
    rare = list(rare_classes())
    assert rare == [7, 8, 9]
    assert np.all(counts[rare] > 0), "rare classes must be present"
    assert counts[rare].sum() / counts.sum() < 0.1
    assert counts[0] > 10 * counts[9]


def test_class_weights_and_rare_classes():
    w = class_weights(10)
    assert np.isclose(w.sum(), 1.0) and np.all(np.diff(w) < 0)
    assert np.allclose(w, DETECTION_CLASS_WEIGHTS)
    assert rare_classes(10, 0.0) == ()  # uniform: nothing is rare
    assert rare_classes(4, 1.5) == ()
    with pytest.raises(ParameterError, match="'n_classes' parameter"):
        class_weights(11)


def test_compose_is_seeded():
    a = compose_detection(5, seed=3, imgsz=48)
    b = compose_detection(5, seed=3, imgsz=48)
    c = compose_detection(5, seed=4, imgsz=48)
    np.testing.assert_array_equal(a.images, b.images)
    assert all(np.array_equal(x, y) for x, y in zip(a.labels, b.labels, strict=True))
    assert not np.array_equal(a.images, c.images)
    # image i does not depend on how many images follow it
    np.testing.assert_array_equal(compose_detection(2, seed=3, imgsz=48).images, a.images[:2])


def test_fewer_classes_and_three_splits(tmp_path):
    data_yaml = make_detection_dataset(tmp_path, n_images=12, n_classes=3, split=(0.5, 0.25, 0.25), imgsz=48)
    spec = yaml.safe_load(data_yaml.read_text())
    assert spec["nc"] == 3 and spec["test"] == "images/test"
    assert np.concatenate(_read_labels(tmp_path))[:, 0].max() <= 2


def test_refuses_to_overwrite_and_bad_split(tmp_path):
    make_detection_dataset(tmp_path, n_images=3, imgsz=32)
    with pytest.raises(BadInputError, match="overwrite=True"):
        make_detection_dataset(tmp_path, n_images=3, imgsz=32)
    make_detection_dataset(tmp_path, n_images=2, imgsz=32, split=(1.0,), overwrite=True)
    assert not (tmp_path / "images/val").exists()
    assert len(list((tmp_path / "images/train").iterdir())) == 2
    with pytest.raises(ParameterError, match="must sum to 1"):
        make_detection_dataset(tmp_path / "x", n_images=3, split=(0.5, 0.2))
    with pytest.raises(ParameterError, match="'imgsz' parameter"):
        make_detection_dataset(tmp_path / "x", n_images=3, imgsz=8)


@pytest.mark.yolo
def test_ultralytics_accepts_the_yaml(tmp_path, monkeypatch):
    monkeypatch.setenv("YOLO_AUTOINSTALL", "false")  # never pip-install from inside a test
    monkeypatch.setenv("YOLO_OFFLINE", "true")
    pytest.importorskip("ultralytics", reason="needs the yolo extra")
    from ultralytics.data.utils import check_det_dataset

    data_yaml = make_detection_dataset(tmp_path, n_images=6, imgsz=64)
    info = check_det_dataset(str(data_yaml), autodownload=False)
    assert info["nc"] == 10
    assert Path(info["train"]) == tmp_path.resolve() / "images/train"
