"""Shared, session-scoped fixtures for the Ultralytics integration tests.

Everything is real: the built-in digits detection set, a SQLite ledger, and YOLO26n
trained from ``yolo26n.yaml`` for one epoch at imgsz 64 on CPU (no downloaded weights).
The whole module is skipped when the ``yolo`` extra (ultralytics, torch) is missing.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest
from yolo_helpers import IMGSZ, Trained, train_args


@pytest.fixture(scope="session")
def yolo_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("ultralytics", reason="needs the yolo extra: pip install 'tailguard[yolo]'")
    return tmp_path_factory.mktemp("yolo")


@pytest.fixture(scope="session")
def digits_yaml(yolo_root: Path) -> Path:
    from tailguard.data import make_detection_dataset

    return make_detection_dataset(yolo_root / "digits", n_images=16, seed=0, imgsz=IMGSZ, split=(0.75, 0.25))


@pytest.fixture(scope="session")
def fresh_images(yolo_root: Path) -> Path:
    """Unlabelled images: a second seed of the digits set, labels removed."""
    import shutil

    from tailguard.data import make_detection_dataset

    data = make_detection_dataset(yolo_root / "fresh", n_images=6, seed=1, imgsz=IMGSZ, split=(1.0,))
    shutil.rmtree(data.parent / "labels")
    return data.parent / "images" / "train"


@pytest.fixture(scope="session")
def yolo_ledger(yolo_root: Path, digits_yaml: Path) -> Any:
    from tailguard.ledger import Ledger

    ledger = Ledger.open(f"sqlite:///{yolo_root / 'ledger.db'}")
    ledger.ingest(digits_yaml, format="yolo", origin="human", verified_by="tests", as_version="human")
    yield ledger
    ledger.close()


@pytest.fixture(scope="session")
def trained(yolo_root: Path, yolo_ledger: Any) -> Trained:
    """YOLO26n trained on the exported human version with attach(policy='anchor:0.3').

    Before training, an "earlier generation" run with recall 1.0 on class ``zero`` is put in
    the ledger, so the recall-drop monitor has something to compare with.
    """
    from tailguard.integrations.ultralytics import attach, load_ultralytics

    names = yolo_ledger.class_names("human")
    earlier = yolo_ledger.record_model_run("earlier/best@0", "human", extra={"class_names": names})
    yolo_ledger.record_run_metrics(earlier, {"recall/zero": 1.0, "map50_95": 0.01})
    export_yaml = yolo_ledger.export("human", "yolo", yolo_root / "export-human")
    model = load_ultralytics().YOLO("yolo26n.yaml")
    state = attach(model, ledger=yolo_ledger, policy="anchor:0.3", rare_classes=["zero"], recall_drop=0.05)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.train(data=str(export_yaml), **train_args(yolo_root, "human"))
    weights = yolo_root / "runs" / "human" / "weights" / "best.pt"
    assert weights.exists()
    return Trained(weights, state, list(caught), export_yaml)
