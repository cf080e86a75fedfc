"""The Ultralytics integration against real ultralytics training, validation and inference.

Sizes are CI-sized (16 images, imgsz 64, 1 epoch on CPU): the models are untrained in any
useful sense, so the tests check provenance, gating and bookkeeping, never accuracy.
Pseudo-labelling uses conf 0.001 so a one-epoch model still returns boxes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from yolo_helpers import IMGSZ, Trained, train_args

pytestmark = pytest.mark.yolo

LOW_CONF = 0.001


@pytest.fixture(scope="module")
def pseudo(trained: Trained, yolo_ledger: Any, fresh_images: Path, digits_yaml: Path) -> Any:
    """Pseudo-labels of the fresh images plus one image the ledger already holds as human."""
    from tailguard.integrations.ultralytics import pseudo_label

    human_image = sorted((digits_yaml.parent / "images" / "train").iterdir())[0]
    return pseudo_label(
        trained.weights, [fresh_images, human_image], ledger=yolo_ledger, conf=LOW_CONF, imgsz=IMGSZ, as_version="pl-1"
    ), human_image


def labels_of(data_yaml: Path, image_id: str) -> set[tuple[float, ...]]:
    """The exported boxes of one image (found by its content hash), rounded to 4 digits."""
    from tailguard.ledger.hashing import file_id

    root = data_yaml.parent
    images = [p for p in (root / "images").rglob("*.png") if file_id(p) == image_id]
    assert len(images) == 1
    label = root / "labels" / images[0].relative_to(root / "images").with_suffix(".txt")
    return {tuple(round(float(v), 4) for v in line.split()) for line in label.read_text().splitlines()}


# ----------------------------------------------------------------------------- attach
def test_attach_records_per_class_metrics_linked_to_run_and_version(trained: Trained, yolo_ledger: Any) -> None:
    from tailguard.ledger.hashing import file_id

    state = trained.state
    run = next(r for r in yolo_ledger.model_runs() if r.id == state.run_id)
    assert run.trained_on == "human"
    assert run.model_id == f"human/best@{file_id(trained.weights)}"
    final = {m.name: m.value for m in yolo_ledger.run_metrics(run.id) if m.step is None}
    for name in ("precision", "recall", "map50", "map50_95"):
        assert name in final and 0.0 <= final[name] <= 1.0
    # one value of each kind for every class with validation instances
    val_classes = set()
    for label in (trained.export_yaml.parent / "labels" / "val").glob("*.txt"):
        val_classes |= {int(line.split()[0]) for line in label.read_text().splitlines()}
    names = yolo_ledger.class_names("human")
    assert val_classes
    for cid in val_classes:
        for kind in ("precision", "recall", "map50", "map50_95"):
            assert f"{kind}/{names[cid]}" in final
    assert {k: v for k, v in final.items() if not k.startswith("alert/")} == state.final_metrics


def test_recall_drop_warns_even_when_map_holds(trained: Trained, yolo_ledger: Any) -> None:
    from tailguard.integrations.ultralytics import RecallDropWarning

    recall_now = trained.state.final_metrics["recall/zero"]
    assert recall_now < 0.95  # a one-epoch model is far below the planted earlier recall of 1.0
    alerts = [a for a in trained.state.alerts if a.class_name == "zero"]
    assert len(alerts) == 1 and alerts[0].best_recall == 1.0
    assert alerts[0].drop == pytest.approx(1.0 - recall_now)
    messages = [str(w.message) for w in trained.caught if issubclass(w.category, RecallDropWarning)]
    assert len(messages) == 1 and "'zero'" in messages[0] and "mAP50-95" in messages[0]
    stored = {m.name: m.value for m in yolo_ledger.run_metrics(trained.state.run_id)}
    assert stored["alert/recall_drop/zero"] == pytest.approx(1.0 - recall_now)


# ----------------------------------------------------------------------------- pseudo-labels
def test_pseudo_label_provenance_round_trips_through_ledger(pseudo: Any, trained: Trained, yolo_ledger: Any) -> None:
    from tailguard.ledger.hashing import file_id

    report, human_image = pseudo
    generator = f"human/best@{file_id(trained.weights)}"
    assert report.generator == generator
    assert report.training_version == "human"  # found from the run attach() recorded
    assert report.generation == 1  # human version: synthetic depth 0, + 1
    assert report.n_images == 7 and report.n_boxes > 0
    assert report.added == 6 and report.existing == 1
    records = {r.id: r for r in yolo_ledger.iter_samples("pl-1")}
    human_id = file_id(human_image)
    for sid, rec in records.items():
        pseudo_boxes = [b for b in rec.labels if b.origin == "pseudo_label"]
        assert all(b.generator == generator and 0.0 < b.confidence <= 1.0 for b in pseudo_boxes)
        if sid == human_id:
            assert rec.origin == "human" and rec.generator is None
            assert any(b.origin == "human" for b in rec.labels)  # the human labels are still there
        else:
            assert rec.origin == "pseudo_label" and rec.generator == generator
            assert rec.generation == 1 and rec.synthetic_depth == 1
            assert all(b.origin == "pseudo_label" for b in rec.labels)
    # the boxes the ledger holds are the model's predictions, confidence included
    total = sum(len([b for b in r.labels if b.origin == "pseudo_label"]) for r in records.values())
    assert total == report.n_boxes
    # lineage: the samples were produced by the run, which was trained on "human"
    lineage = yolo_ledger.lineage(next(s for s in records if s != human_id))
    relations = {e.relation for e in lineage.edges}
    assert {"produced_by", "trained_on"} <= relations


def test_export_chooses_origins_and_never_loses_human_labels(pseudo: Any, yolo_ledger: Any, yolo_root: Path) -> None:
    from tailguard.ledger.export import ExportWarning, export_version
    from tailguard.ledger.hashing import file_id

    report, human_image = pseudo
    human_lines = human_image.parent.parent.parent / "labels" / "train" / human_image.with_suffix(".txt").name
    expected_human = {tuple(round(float(v), 4) for v in line.split()) for line in human_lines.read_text().splitlines()}

    human_id = file_id(human_image)
    # pl-1 holds train images only: its val images come from the human version (--val-from human)
    prefer = export_version(yolo_ledger, "pl-1", "yolo", yolo_root / "exp-prefer", val_from="human")
    assert labels_of(prefer, human_id) == expected_human
    merged = export_version(yolo_ledger, "pl-1", "yolo", yolo_root / "exp-merge", both="merge", val_from="human")
    got = labels_of(merged, human_id)
    assert expected_human < got  # human boxes plus the pseudo boxes
    with pytest.warns(ExportWarning, match="no label file"):  # the human val images have no pseudo boxes
        only_pseudo = export_version(yolo_ledger, "pl-1", "yolo", yolo_root / "exp-pseudo",
                                     origins=("pseudo_label",), val_from="human")
    n_lines = sum(len(p.read_text().splitlines()) for p in (only_pseudo.parent / "labels").rglob("*.txt"))
    assert n_lines == report.n_boxes


# ----------------------------------------------------------------------------- the gate
def test_gate_refuses_all_pseudo_label_version_before_training(
    pseudo: Any, trained: Trained, yolo_ledger: Any, yolo_root: Path
) -> None:
    from tailguard.errors import GateRefusedError
    from tailguard.integrations.ultralytics import attach, load_ultralytics
    from tailguard.ledger.export import ExportWarning, export_version

    new_ids = [r.id for r in yolo_ledger.iter_samples("pl-1") if r.origin == "pseudo_label"]
    yolo_ledger.create_version("pl-only", sample_ids=new_ids)
    with pytest.warns(ExportWarning, match="16 exported image"):  # the human val images: no pseudo boxes
        data = export_version(yolo_ledger, "pl-only", "yolo", yolo_root / "exp-pl-only", origins=("pseudo_label",),
                              val_from="human")
    model = load_ultralytics().YOLO(str(trained.weights))
    attach(model, ledger=yolo_ledger, policy="anchor:0.3")
    with pytest.raises(GateRefusedError) as err:
        model.train(data=str(data), **train_args(yolo_root, "refused"))
    assert "human fraction 0.00 < 0.30 required by anchor:0.3" in str(err.value)
    assert "\n" not in str(err.value)
    run_dir = yolo_root / "runs" / "refused"  # Ultralytics makes the folder before the callback runs
    assert not list(run_dir.rglob("*.pt")) and not (run_dir / "results.csv").exists()  # no epoch ran


def test_gate_accepts_compliant_mix_and_ultralytics_trains_on_the_export(
    pseudo: Any, trained: Trained, yolo_ledger: Any, yolo_root: Path
) -> None:
    from tailguard.integrations.ultralytics import attach, load_ultralytics
    from tailguard.ledger.export import export_version

    human_ids = yolo_ledger.version_sample_ids("human")
    pl_ids = [r.id for r in yolo_ledger.iter_samples("pl-1") if r.origin == "pseudo_label"]
    yolo_ledger.create_version("mix-1", sample_ids=human_ids + pl_ids)
    summary = yolo_ledger.version_summary("mix-1")
    assert summary.human_fraction >= 0.3 and summary.max_synthetic_depth == 1
    data = export_version(yolo_ledger, "mix-1", "yolo", yolo_root / "exp-mix")  # default labels
    # the default export holds the pseudo-labels of the images without human labels, box for box
    pseudo_records = [r for r in yolo_ledger.iter_samples("mix-1", ids=pl_ids) if r.labels]
    assert pseudo_records
    for rec in pseudo_records:
        boxes = {tuple(round(float(v), 4) for v in b.line().split()) for b in rec.labels}
        assert {b.origin for b in rec.labels} == {"pseudo_label"} and labels_of(data, rec.id) == boxes
    model = load_ultralytics().YOLO(str(trained.weights))
    state = attach(model, ledger=yolo_ledger, policy="accumulate+anchor:0.3")
    model.train(data=str(data), **train_args(yolo_root, "gen1"))
    assert (yolo_root / "runs" / "gen1" / "weights" / "best.pt").exists()
    run = next(r for r in yolo_ledger.model_runs() if r.id == state.run_id)
    assert run.trained_on == "mix-1" and run.extra["synthetic_depth"] == 1
    # a model trained on a depth-1 mix pseudo-labels at generation 2
    from tailguard.integrations.ultralytics import pseudo_label

    images = [p for p in (yolo_root / "fresh" / "images" / "train").iterdir()][:2]
    rep = pseudo_label(
        yolo_root / "runs" / "gen1" / "weights" / "best.pt", images, ledger=yolo_ledger, conf=LOW_CONF, imgsz=IMGSZ
    )
    assert rep.training_version == "mix-1" and rep.generation == 2


# ----------------------------------------------------------------------------- bad input
def test_not_a_yolo_checkpoint_is_one_line_error(yolo_root: Path, yolo_ledger: Any, fresh_images: Path) -> None:
    import torch

    from tailguard.errors import BadInputError
    from tailguard.integrations.ultralytics import load_checkpoint, pseudo_label

    text = yolo_root / "notes.pt"
    text.write_text("these are not weights")
    state_dict = yolo_root / "state_dict.pt"
    torch.save({"layer.weight": torch.zeros(2, 2)}, state_dict)
    yaml_model = yolo_root / "model.yaml"
    yaml_model.write_text("nc: 2\n")
    for bad in (text, state_dict, yaml_model):
        with pytest.raises(BadInputError) as err:
            load_checkpoint(bad)
        message = str(err.value)
        assert message.startswith(str(bad)) and "not a YOLO checkpoint" in message and "\n" not in message
    with pytest.raises(BadInputError):
        pseudo_label(text, fresh_images, ledger=yolo_ledger)


def test_undecodable_images_fail_or_are_skipped_and_reported(
    trained: Trained, yolo_ledger: Any, fresh_images: Path, yolo_root: Path
) -> None:
    import shutil

    from tailguard.errors import CorruptFileError
    from tailguard.integrations.ultralytics import pseudo_label

    folder = yolo_root / "with-broken"
    folder.mkdir()
    for p in sorted(fresh_images.iterdir())[:2]:
        shutil.copy(p, folder / p.name)
    broken = folder / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    with pytest.raises(CorruptFileError) as err:
        pseudo_label(trained.weights, folder, ledger=yolo_ledger, conf=LOW_CONF, imgsz=IMGSZ)
    assert str(err.value).startswith(str(broken)) and "--skip-bad" in str(err.value)
    report = pseudo_label(trained.weights, folder, ledger=yolo_ledger, conf=LOW_CONF, imgsz=IMGSZ, skip_bad=True)
    assert report.n_images == 2
    assert [s.item for s in report.skipped] == [str(broken)]
    recorded = [s for s in yolo_ledger.skipped() if s.item == str(broken)]
    assert len(recorded) == 1 and recorded[0].reason  # in the ledger too, with its reason


def test_empty_pseudo_label_result_is_an_error_and_stores_nothing(
    trained: Trained, yolo_ledger: Any, fresh_images: Path
) -> None:
    from tailguard.errors import EmptyDatasetError, VersionExistsError
    from tailguard.integrations.ultralytics import pseudo_label

    n_before = yolo_ledger.count_samples()
    with pytest.raises(EmptyDatasetError) as err:
        pseudo_label(trained.weights, fresh_images, ledger=yolo_ledger, conf=0.99, imgsz=IMGSZ, as_version="empty")
    assert "no box at conf 0.99" in str(err.value)
    assert yolo_ledger.count_samples() == n_before
    yolo_ledger.create_version("empty", sample_ids=yolo_ledger.version_sample_ids("human"))  # name still free
    with pytest.raises(VersionExistsError):
        yolo_ledger.create_version("empty", sample_ids=yolo_ledger.version_sample_ids("human"))


def test_data_yaml_with_other_class_names_is_refused(trained: Trained, yolo_ledger: Any, yolo_root: Path) -> None:
    import yaml

    from tailguard.errors import BadInputError
    from tailguard.integrations.ultralytics import attach, load_ultralytics

    cfg = yaml.safe_load(trained.export_yaml.read_text())
    cfg["names"] = {**cfg["names"], 7: "seven-ish"}
    bad = trained.export_yaml.parent / "renamed.yaml"
    bad.write_text(yaml.safe_dump(cfg))
    model = load_ultralytics().YOLO("yolo26n.yaml")
    attach(model, ledger=yolo_ledger, version="human")
    with pytest.raises(BadInputError) as err:
        model.train(data=str(bad), **train_args(yolo_root, "renamed"))
    assert "class names disagree with ledger version 'human'" in str(err.value)
    assert "'seven-ish' vs 'seven'" in str(err.value)


# ----------------------------------------------------------------------------- embedder
def test_yolo_embedder_pools_backbone_features(trained: Trained, fresh_images: Path) -> None:
    """Rows equal the global average pool of the backbone's last layer, captured with a torch hook."""
    from PIL import Image

    from tailguard.integrations.ultralytics import YoloEmbedder, load_ultralytics

    images = sorted(fresh_images.iterdir())[:3]
    emb = YoloEmbedder(trained.weights, imgsz=IMGSZ)
    x = emb.transform(images)
    model = load_ultralytics().YOLO(str(trained.weights))
    assert emb.layer == len(model.model.yaml["backbone"]) - 1  # the last backbone layer (C2PSA in yolo26n)
    captured = []
    layer = model.model.model[emb.layer]
    handle = layer.register_forward_hook(lambda _m, _i, out: captured.append(out.mean(dim=(2, 3))))
    try:
        for path in images:
            model.predict(Image.open(path).convert("RGB"), imgsz=IMGSZ, verbose=False)
    finally:
        handle.remove()
    expected = np.concatenate([c.detach().cpu().numpy() for c in captured])
    assert x.shape == expected.shape == (3, emb.dim)
    np.testing.assert_allclose(x, expected, rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(x, emb.transform(images))  # deterministic
    # a one-epoch backbone washes deep features out; an early layer still separates images
    early = YoloEmbedder(trained.weights, imgsz=IMGSZ, layer=2).transform(images)
    assert np.abs(early[0] - early[1]).max() > 1e-5
    assert emb.config_id != YoloEmbedder(trained.weights, imgsz=IMGSZ, layer=2).config_id


# ----------------------------------------------------------------------------- CLI
def test_cli_pseudo_label_and_its_one_line_errors(
    trained: Trained, yolo_ledger: Any, fresh_images: Path, yolo_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tailguard.cli.app import main

    url = str(yolo_ledger.url)
    code = main(
        [
            "--ledger",
            url,
            "pseudo-label",
            str(trained.weights),
            str(fresh_images),
            "--conf",
            str(LOW_CONF),
            "--imgsz",
            str(IMGSZ),
            "--as-version",
            "cli-pl",
            "--device",
            "cpu",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert "pseudo-labelled 6 images" in out and "generation 1, trained on human" in out
    assert yolo_ledger.get_version("cli-pl").n_members == 6
    notes = yolo_root / "cli-notes.pt"
    notes.write_text("not weights")
    code = main(["--ledger", url, "pseudo-label", str(notes), str(fresh_images)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert err[0].startswith(f"error: {notes}: not a YOLO checkpoint")
    code = main(["--ledger", url, "pseudo-label", str(trained.weights), str(yolo_root / "missing-dir")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "missing-dir" in err[0]


def test_detection_audit_uses_labels_and_yolo_image_embeddings(pseudo: Any, trained: Trained, yolo_ledger: Any) -> None:
    from tailguard.audit import AuditConfig, audit
    from tailguard.features import get_embedder
    from tailguard.integrations.ultralytics import YoloEmbedder, detection_audit_input

    emb = get_embedder("yolo", weights=str(trained.weights), imgsz=IMGSZ)
    assert isinstance(emb, YoloEmbedder)
    ref = detection_audit_input(yolo_ledger, "human", embedder=emb, origins=("human",))
    cand = detection_audit_input(yolo_ledger, "pl-1", embedder=emb, origins=("pseudo_label",))
    assert ref.n == len(yolo_ledger.version_sample_ids("human")) and ref.vectors.shape == (ref.n, emb.dim)
    assert cand.vectors.shape == (7, emb.dim)
    assert int(cand.boxes.class_ids.size) == pseudo[0].n_boxes
    report = audit(cand, ref, config=AuditConfig(quick=True))
    families = {row.family for row in report.metrics}
    assert len(families) >= 2  # label metrics and metrics over the image embeddings
    # 7 pseudo-labelled images are too few to judge a tail or diversity row: measured, shown, not judged
    assert report.modality == "detection" and report.verdict == "insufficient"
    assert "candidate 7" in " ".join(row.reason for row in report.metrics if row.status == "insufficient")


def test_audit_cli_embeds_detection_images_with_the_users_checkpoint(
    pseudo: Any, trained: Trained, yolo_ledger: Any, tmp_path: Path
) -> None:
    import json

    from tailguard.cli.app import main

    code = main(["--ledger", yolo_ledger.url, "audit", "pl-1", "--reference", "human", "--weights",
                 str(trained.weights), "--quick", "--out", str(tmp_path / "audit")])
    assert code in (0, 3)
    report = json.loads((tmp_path / "audit" / "report.json").read_text())
    families = {m["family"] for m in report["metrics"]}
    assert report["modality"] == "detection"
    assert "labels" in families and len(families) >= 2  # label metrics plus metrics over YOLO image features
    assert main(["--ledger", yolo_ledger.url, "audit", "pl-1", "--reference", "human", "--weights",
                 str(tmp_path / "missing.pt"), "--out", str(tmp_path / "bad")]) == 2


# ----------------------------------------------------------------------------- the user's arguments
def test_offline_train_args_return_the_users_arguments_and_refuse_downloads(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from tailguard.errors import ParameterError
    from tailguard.integrations.ultralytics import load_ultralytics, offline_train_args

    utils = load_ultralytics().utils
    mine = {"exist_ok": True, "verbose": False, "workers": 4, "deterministic": False, "plots": False, "amp": False}
    assert offline_train_args(**mine) == mine
    assert offline_train_args(epochs=2, verbose=True) == {"plots": False, "amp": False, "epochs": 2, "verbose": True}
    monkeypatch.setattr(utils, "USER_CONFIG_DIR", tmp_path)  # where Ultralytics keeps (or downloads) its font
    monkeypatch.setattr(utils, "WEIGHTS_DIR", tmp_path)  # where its AMP check finds (or downloads) yolo26n.pt
    from matplotlib import font_manager

    if not any("Arial.ttf" in f.fname for f in font_manager.fontManager.ttflist):  # else no download happens
        with pytest.raises(ParameterError) as err:
            offline_train_args(plots=True)
        assert "plots=True" in str(err.value) and "Arial.ttf" in str(err.value) and "\n" not in str(err.value)
    (tmp_path / "Arial.ttf").write_bytes(b"a font")
    assert offline_train_args(plots=True)["plots"] is True
    with pytest.raises(ParameterError, match=r"amp=True would make Ultralytics download yolo26n.pt"):
        offline_train_args(amp=True, device="0")
    assert offline_train_args(amp=True, device="cpu")["amp"] is True  # Ultralytics skips the AMP check on CPU
    (tmp_path / "yolo26n.pt").write_bytes(b"weights")
    assert offline_train_args(amp=True, device="0")["amp"] is True


def test_a_second_run_with_the_same_name_keeps_the_recorded_weights_and_prints_its_epoch_table(
    trained: Trained, yolo_ledger: Any, yolo_root: Path
) -> None:
    import logging

    from tailguard.integrations.ultralytics import attach, load_ultralytics
    from tailguard.ledger.hashing import file_id

    first = next(r for r in yolo_ledger.model_runs() if r.id == trained.state.run_id)
    assert first.extra["weights_hash"] == file_id(trained.weights)

    class Collect(logging.Handler):
        def __init__(self) -> None:
            super().__init__(logging.INFO)
            self.lines: list[str] = []

        def emit(self, record: logging.LogRecord) -> None:
            self.lines.append(record.getMessage())

    collect = Collect()
    logger = logging.getLogger("ultralytics")
    logger.addHandler(collect)
    model = load_ultralytics().YOLO("yolo26n.yaml")
    state = attach(model, ledger=yolo_ledger, policy="anchor:0.3")
    try:
        model.train(data=str(trained.export_yaml), **train_args(yolo_root, "human"))  # the first run's name
    finally:
        logger.removeHandler(collect)
    assert file_id(trained.weights) == first.extra["weights_hash"]  # the recorded file is untouched
    run = next(r for r in yolo_ledger.model_runs() if r.id == state.run_id)
    second = Path(run.extra["weights"])  # Ultralytics' next free name beside the first run (human-2 in 8.4)
    folder = second.parent.parent
    assert folder.parent == trained.weights.parent.parent.parent and folder.name.startswith("human")
    assert folder != trained.weights.parent.parent and second.is_file()
    assert run.model_id == f"{folder.name}/best@{file_id(second)}" == f"{folder.name}/best@{run.extra['weights_hash']}"
    assert any("Epoch" in line and "box_loss" in line for line in collect.lines)  # Ultralytics' own table


def test_exist_ok_into_a_recorded_run_folder_is_refused_before_training(
    trained: Trained, yolo_ledger: Any, yolo_root: Path
) -> None:
    from tailguard.errors import BadInputError
    from tailguard.integrations.ultralytics import attach, load_ultralytics
    from tailguard.ledger.hashing import file_id

    before = file_id(trained.weights)
    model = load_ultralytics().YOLO("yolo26n.yaml")
    attach(model, ledger=yolo_ledger, policy="anchor:0.3")
    with pytest.raises(BadInputError) as err:
        model.train(data=str(trained.export_yaml), **train_args(yolo_root, "human", exist_ok=True))
    message = str(err.value)
    assert message.startswith(str(trained.weights)) and "\n" not in message
    assert f"recorded run {trained.state.run_id[:12]} (human/best)" in message and "exist_ok" in message
    assert file_id(trained.weights) == before


def test_audit_origins_compare_a_models_pseudo_labels_with_the_human_boxes_of_the_same_images(
    trained: Trained, digits_yaml: Path, tmp_path: Path
) -> None:
    import json

    from tailguard.audit import Source
    from tailguard.cli.app import main
    from tailguard.integrations.ultralytics import pseudo_label
    from tailguard.ledger import Ledger

    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    with Ledger.open(url) as ledger:
        ledger.ingest(digits_yaml, format="yolo", origin="human", as_version="human")
        report = pseudo_label(trained.weights, digits_yaml.parent / "images", ledger=ledger, conf=LOW_CONF,
                              imgsz=IMGSZ, trained_on="human", as_version="pl")
    assert (report.existing, report.added, report.n_images) == (16, 0, 16)
    n_human = sum(len(p.read_text().splitlines()) for p in (digits_yaml.parent / "labels").rglob("*.txt"))
    pseudo = Source("pl", url, origins="pseudo_label").load()
    human = Source("pl", url, origins="human").load()
    assert pseudo.n == human.n == 16
    assert (pseudo.boxes.n_boxes, human.boxes.n_boxes) == (report.n_boxes, n_human)
    out = tmp_path / "audit"
    code = main(["--ledger", url, "audit", "pl", "--origins", "pseudo_label", "--reference", "pl", "--ref-origins",
                 "human", "--weights", str(trained.weights), "--quick", "--out", str(out)])
    assert code in (0, 3)
    audit = json.loads((out / "report.json").read_text())
    assert (audit["candidate"], audit["reference"]) == ("pl (pseudo_label boxes)", "pl (human boxes)")
    rows = {m["name"]: m for m in audit["metrics"]}
    assert rows["objects_per_image"]["value"] == pytest.approx(report.n_boxes / 16)
    assert rows["objects_per_image"]["reference_value"] == pytest.approx(n_human / 16)
    assert len({m["family"] for m in audit["metrics"]}) >= 2  # label metrics and the backbone's image features
