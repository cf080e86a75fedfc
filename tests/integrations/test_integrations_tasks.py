"""Segmentation, classification, pose and oriented boxes against real Ultralytics training and inference.

Each task's dataset is built locally (shapes with masks, keypoints and oriented boxes;
folders of real handwritten digits), ingested as human, exported from the ledger and
trained on for one epoch at imgsz 32 from the model YAML (``yolo26n-seg.yaml`` ...; no
downloaded weights). The one-epoch models are untrained in any useful sense, so the tests
check formats, provenance and bookkeeping, never accuracy; pseudo-labelling uses a very
low confidence so that they still return rows.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tailguard.ledger.types import Box

pytestmark = pytest.mark.yolo

TASK_IMGSZ = 32
MODEL_YAML = {"segment": "yolo26n-seg.yaml", "classify": "yolo26n-cls.yaml", "pose": "yolo26n-pose.yaml",
              "obb": "yolo26n-obb.yaml"}


@dataclass
class TaskRun:
    task: str
    data: Path  # the dataset as built (data.yaml, or the classification folder)
    export: Path
    weights: Path
    metrics: Any
    state: Any  # attach()'s LedgerCallbacks
    rare: tuple[str, ...]


@pytest.fixture(scope="module")
def task_ledger(tmp_path_factory: pytest.TempPathFactory) -> Any:
    pytest.importorskip("ultralytics", reason="needs the yolo extra: pip install 'tailguard[yolo]'")
    from tailguard.ledger import Ledger

    root = tmp_path_factory.mktemp("tasks")
    ledger = Ledger.open(f"sqlite:///{root / 'ledger.db'}")
    ledger.root = root  # type: ignore[attr-defined]
    yield ledger
    ledger.close()


@pytest.fixture(scope="module")
def runs(task_ledger: Any) -> dict[str, TaskRun]:
    """Every task: built, ingested as human, exported from the ledger and trained on for one epoch."""
    from tailguard.data import make_classification_dataset, make_shapes_dataset
    from tailguard.integrations.ultralytics import attach, load_ultralytics, offline_train_args

    root: Path = task_ledger.root
    out = {}
    for seed, task in enumerate(MODEL_YAML):
        if task == "classify":
            data = make_classification_dataset(root / task, n_images=40, seed=seed, imgsz=TASK_IMGSZ)
        else:
            data = make_shapes_dataset(root / task, task, n_images=8, seed=10 + seed, imgsz=64)
        task_ledger.ingest(data, origin="human", verified_by="tests", as_version=task)
        export = task_ledger.export(task, "yolo", root / f"export-{task}")
        names = task_ledger.class_names(task)
        rare = (names[-1], names[-2])  # an earlier generation found these perfectly
        earlier = task_ledger.record_model_run(f"earlier-{task}/best@0", task, extra={"class_names": names})
        task_ledger.record_run_metrics(earlier, {**{f"recall/{c}": 1.0 for c in rare}, "map50_95": 0.5, "top1": 0.9})
        model = load_ultralytics().YOLO(MODEL_YAML[task])
        state = attach(model, ledger=task_ledger, policy="anchor:0.3", rare_classes=rare, recall_drop=0.05)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            metrics = model.train(data=str(export), **offline_train_args(
                epochs=1, imgsz=TASK_IMGSZ, batch=8, device="cpu", workers=0, project=str(root / "runs"), name=task,
                seed=0, verbose=False))
        weights = root / "runs" / task / "weights" / "best.pt"
        assert weights.exists()
        out[task] = TaskRun(task, data, export, weights, metrics, state, rare)
    return out


@pytest.mark.parametrize("task", list(MODEL_YAML))
def test_ultralytics_trains_on_every_tasks_export(runs: dict[str, TaskRun], task: str) -> None:
    run = runs[task]
    kind = {"segment": "SegmentMetrics", "classify": "ClassifyMetrics", "pose": "PoseMetrics", "obb": "OBBMetrics"}
    assert type(run.metrics).__name__ == kind[task]  # Ultralytics read the export as that task's dataset
    from tailguard.integrations.ultralytics import load_checkpoint

    _model, info = load_checkpoint(run.weights, tasks=(task,))
    assert info.task == task and info.names[:2] == (("eight", "five") if task == "classify" else ("circle", "triangle"))


@pytest.mark.parametrize("task", list(MODEL_YAML))
def test_pseudo_labels_of_every_task_keep_provenance_beside_the_human_labels(
        runs: dict[str, TaskRun], task_ledger: Any, task: str) -> None:
    from tailguard.integrations.ultralytics import pseudo_label

    run = runs[task]
    images = sorted(p for p in run.export.parent.rglob("*.png") if "train" in p.parts) if task != "classify" else \
        sorted((run.export / "train").rglob("*.png"))
    human_before = {r.id: sorted(b.identity() for b in r.labels if b.origin == "human")
                    for r in task_ledger.iter_samples(task)}
    report = pseudo_label(run.weights, images[:4], ledger=task_ledger, conf=0.0001, imgsz=TASK_IMGSZ,
                          as_version=f"pl-{task}", max_vertices=12)
    assert report.task == task and report.n_boxes > 0 and report.training_version == task
    assert report.generation == 1 and report.existing == 4 and report.added == 0
    records = list(task_ledger.iter_samples(f"pl-{task}"))
    pseudo: list[Box] = [b for r in records for b in r.labels if b.origin == "pseudo_label"]
    assert len(pseudo) == report.n_boxes and {b.task for b in pseudo} == {task}
    assert all(b.generator == report.generator and 0.0 <= b.confidence <= 1.0 for b in pseudo)
    for r in records:  # human rows untouched
        assert sorted(b.identity() for b in r.labels if b.origin == "human") == human_before[r.id]
    if task == "segment":
        assert all(3 <= len(b.points) // 2 <= 12 for b in pseudo)
        simple = report.simplification
        assert simple["max_vertices"] == 12 and simple["tolerance"] == 0.002
        assert simple["max_tolerance_used"] >= 0.002 and simple["vertices_after"] <= simple["vertices_before"]
        stored = {m.name: m.value for m in task_ledger.run_metrics(report.run_id)}
        assert stored["pseudo_label/max_tolerance_used"] == simple["max_tolerance_used"]
        assert stored["pseudo_label/max_vertices"] == 12
    if task == "classify":
        assert all(len([b for b in r.labels if b.origin == "pseudo_label"]) == 1 for r in records)
    if task == "pose":
        assert all(len(b.points) == 9 and set(b.points[2::3]) <= {0.0, 2.0} for b in pseudo)
    if task == "obb":
        assert all(len(b.points) == 8 for b in pseudo)
    # the export of the pseudo-labels alone writes the task's format back
    out = task_ledger.export(f"pl-{task}", "yolo", task_ledger.root / f"pl-export-{task}",
                             origins=("pseudo_label",), val_fraction=0.5)
    if task == "classify":
        assert sum(1 for _ in out.rglob("*.png")) == 4
    else:
        lines = [line.split() for p in (out.parent / "labels").rglob("*.txt") for line in p.read_text().splitlines()]
        assert len(lines) == report.n_boxes
        width = {"pose": 5 + 9, "obb": 9}.get(task)
        assert all((len(f) == width) if width else (len(f) % 2 == 1 and len(f) >= 7) for f in lines)


PER_TASK = {"segment": ("mask_map50_95", "map50_95"), "pose": ("pose_map50_95", "map50_95"),
            "obb": ("map50_95", "recall"), "classify": ("top1", "top5")}


@pytest.mark.parametrize("task", list(MODEL_YAML))
def test_attach_records_each_tasks_per_class_validation_and_checks_rare_recall(
        runs: dict[str, TaskRun], task_ledger: Any, task: str) -> None:
    run = runs[task]
    final = run.state.final_metrics
    assert set(PER_TASK[task]) <= set(final)
    names = task_ledger.class_names(task)
    per_class = [k for k in final if k.startswith("recall/")]
    assert per_class and all(k.split("/", 1)[1] in names for k in per_class)  # classes by name
    if task == "segment":
        assert any(k.startswith("mask_map50_95/") for k in final) and any(k.startswith("map50_95/") for k in final)
    if task == "pose":
        assert any(k.startswith("pose_map50_95/") for k in final)
    stored = {m.name: m.value for m in task_ledger.run_metrics(run.state.run_id) if m.step is None}
    assert {k: stored[k] for k in final} == final
    recorded = next(r for r in task_ledger.model_runs() if r.id == run.state.run_id)
    assert recorded.trained_on == task
    # the rare classes an earlier run found perfectly: an alert exactly for those whose recall fell > 0.05
    fell = {c for c in run.rare if final.get(f"recall/{c}", 0.0) < 0.95}
    assert {a.class_name for a in run.state.alerts} == fell
    overall = "top-1 accuracy" if task == "classify" else "mAP50-95"
    assert all(overall in a.message() for a in run.state.alerts)


def test_the_gate_refuses_a_pseudo_label_only_segmentation_set_before_training(
        runs: dict[str, TaskRun], task_ledger: Any) -> None:
    from tailguard.data import make_shapes_dataset
    from tailguard.errors import GateRefusedError
    from tailguard.integrations.ultralytics import attach, load_ultralytics, offline_train_args, pseudo_label

    fresh = make_shapes_dataset(task_ledger.root / "fresh-seg", "segment", n_images=4, seed=99, split=(1.0,))
    pseudo_label(runs["segment"].weights, fresh.parent / "images", ledger=task_ledger, conf=0.0001,
                 imgsz=TASK_IMGSZ, as_version="pl-only")
    export = task_ledger.export("pl-only", "yolo", task_ledger.root / "pl-only", val_fraction=0.5,
                                origins=("pseudo_label",))
    model = load_ultralytics().YOLO(MODEL_YAML["segment"])
    attach(model, ledger=task_ledger, policy="anchor:0.3")
    with pytest.raises(GateRefusedError, match=r"human fraction 0\.00 < 0\.30"):
        model.train(data=str(export), **offline_train_args(epochs=1, imgsz=TASK_IMGSZ, device="cpu", workers=0,
                                                           project=str(task_ledger.root / "runs"), name="refused"))


def test_a_task_model_is_refused_where_detection_is_needed(runs: dict[str, TaskRun]) -> None:
    from tailguard.errors import BadInputError
    from tailguard.integrations.ultralytics import load_checkpoint

    with pytest.raises(BadInputError, match=r"it is a 'segment' model; this needs a 'detect' model"):
        load_checkpoint(runs["segment"].weights)
