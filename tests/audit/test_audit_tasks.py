"""Label audits of every Ultralytics task: a candidate that lost a task's tails is caught by name.

Each reference is a built-in dataset; each candidate is the same kind of dataset with the
tail a collapsing labeller loses first taken away (rare classes, small and thin masks,
occluded keypoints and varied limbs, rare angles).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tailguard.cli.app import main
from tailguard.data import make_classification_dataset, make_shapes_dataset
from tailguard.features.shapes import polygon_area_perimeter


def _audit(cand: Path, ref: Path, out: Path) -> dict:
    assert main(["audit", str(cand), "--reference", str(ref), "--out", str(out)]) == 0
    return json.loads((out / "report.json").read_text())


def _values(report: dict) -> dict[str, dict]:
    return {m["name"]: m for m in report["metrics"]}


def _rewrite(root: Path, edit) -> None:
    for p in sorted((root / "labels").rglob("*.txt")):
        p.write_text("".join(f"{line}\n" for line in (edit(f.split()) for f in p.read_text().splitlines()) if line))


def test_segmentation_audit_catches_lost_small_thin_and_rare_masks(tmp_path: Path) -> None:
    ref = make_shapes_dataset(tmp_path / "ref", "segment", n_images=300, seed=1)  # ~580 masks: 5% tails of ~29
    cand = make_shapes_dataset(tmp_path / "cand", "segment", n_images=300, seed=2)

    def drop_tails(f: list[str]) -> str:  # rare classes, and masks below ~the reference's 15% area quantile
        area, _perimeter = polygon_area_perimeter([float(v) for v in f[1:]])
        return "" if int(f[0]) >= 3 or area < 0.02 else " ".join(f)

    _rewrite(cand.parent, drop_tails)
    report = _audit(cand, ref, tmp_path / "report")
    v = _values(report)
    assert v["small_mask_share"]["value"] < v["small_mask_share"]["reference_value"]
    assert v["small_mask_share"]["status"] != "ok" and v["thin_mask_share"]["status"] != "ok"
    assert v["rare_class_share"]["value"] == 0.0 < v["rare_class_share"]["reference_value"]
    assert {"vertex_tail_share", "masks_per_image", "class_share_tv"} <= set(v)
    assert report["verdict"] == "collapse"
    assert any("class `pentagon`" in line for line in report["losses"]["summary"])  # classes by name
    same = _audit(make_shapes_dataset(tmp_path / "twin", "segment", n_images=300, seed=3), ref, tmp_path / "r2")
    w = _values(same)
    assert w["small_mask_share"]["status"] == "ok" and w["thin_mask_share"]["status"] == "ok"


def test_classification_audit_names_lost_classes_with_hill_numbers(tmp_path: Path) -> None:
    ref = make_classification_dataset(tmp_path / "ref", n_images=80, seed=1)
    cand = make_classification_dataset(tmp_path / "cand", n_images=80, seed=2)
    for name in ("seven", "eight", "nine"):  # the rare digits, gone from the candidate
        for split in ("train", "val"):
            shutil.rmtree(cand / split / name)
    report = _audit(cand, ref, tmp_path / "report")
    v = _values(report)
    assert v["lost_categories"]["value"] == 3.0
    assert v["hill_q0"]["value"] == 7.0 and v["hill_q0"]["reference_value"] == 10.0
    assert "rare_class_share" in v and "class_share_tv" in v
    assert "box_geometry" not in json.dumps(report["metrics"])  # the whole image is no box to measure
    text = " ".join(report["losses"]["summary"])
    assert all(f"`{name}`" in text for name in ("seven", "eight", "nine")), text


def test_pose_audit_reports_visibility_per_keypoint_by_name_and_limb_spread(tmp_path: Path) -> None:
    ref = make_shapes_dataset(tmp_path / "ref", "pose", n_images=60, seed=1)
    cand = make_shapes_dataset(tmp_path / "cand", "pose", n_images=60, seed=2)

    def rigid(f: list[str]) -> str:  # every pose the same shape: limbs stop varying; 'right' never visible
        x, y, w, h = (float(v) for v in f[1:5])
        kp = [(x - w / 4, y - h / 4, 2), (x + w / 4, y + h / 4, 2), (0.0, 0.0, 0)]  # half the diagonal apart
        return " ".join(f[:5] + [f"{a:.6f} {b:.6f} {c}" for a, b, c in kp])

    _rewrite(cand.parent, rigid)
    report = _audit(cand, ref, tmp_path / "report")
    v = _values(report)
    assert v["limb_length_spread"]["value"] < 0.01 < v["limb_length_spread"]["reference_value"]
    assert v["limb_length_spread"]["status"] != "ok"
    assert v["visible_share"]["value"] == pytest.approx(2 / 3)
    details = next(r for r in report["results"] if r["metric"] == "keypoints")["details"]
    assert details["keypoint_names"] == ["tip", "left", "right"]
    assert details["candidate_visible_share"][2] == 0.0 < details["reference_visible_share"][2]
    assert details["limb_names"] == ["tip-left", "left-right"]


def test_obb_audit_catches_angles_that_collapsed(tmp_path: Path) -> None:
    ref = make_shapes_dataset(tmp_path / "ref", "obb", n_images=60, seed=1)
    cand = make_shapes_dataset(tmp_path / "cand", "obb", n_images=60, seed=2)

    def upright(f: list[str]) -> str:
        xs, ys = [float(v) for v in f[1::2]], [float(v) for v in f[2::2]]
        x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
        return " ".join([f[0], *(f"{v:.6f}" for v in (x0, y0, x1, y0, x1, y1, x0, y1))])

    _rewrite(cand.parent, upright)
    report = _audit(cand, ref, tmp_path / "report")
    v = _values(report)
    assert v["angle_tv"]["value"] > 0.5 and v["angle_tv"]["status"] != "ok"
    assert "angle_tail_mass" in v


def test_ledger_versions_of_a_task_audit_alike(sqlite_url: str, tmp_path: Path, capsys) -> None:
    from tailguard.ledger import Ledger

    with Ledger.open(sqlite_url) as ledger:
        ledger.ingest(make_shapes_dataset(tmp_path / "a", "obb", n_images=30, seed=1), origin="human", as_version="a")
        ledger.ingest(make_shapes_dataset(tmp_path / "b", "obb", n_images=30, seed=2), origin="human", as_version="b")
        ledger.ingest(make_shapes_dataset(tmp_path / "c", "segment", n_images=10, seed=9), origin="human",
                      as_version="c")
        ledger.create_version("mixed", ["version:a", "version:c"])
    assert main(["--ledger", sqlite_url, "audit", "b", "--reference", "a", "--out", str(tmp_path / "r")]) == 0
    v = _values(json.loads((tmp_path / "r" / "report.json").read_text()))
    assert {"angle_tail_mass", "angle_tv", "rare_class_share", "area_tail_mass_0.05"} <= set(v)
    assert main(["--ledger", sqlite_url, "audit", "mixed", "--reference", "a", "--out", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "labels are of several tasks" in err[0] and "obb" in err[0] and "segment" in err[0]
