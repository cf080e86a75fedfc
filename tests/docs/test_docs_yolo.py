"""docs/yolo.md's per-task walkthroughs run as written."""

import json
import re
from pathlib import Path

import pytest
from walkthroughs import bash_block, run_bash

DOC = Path(__file__).resolve().parents[2] / "docs" / "yolo.md"
TASKS = ("segment", "classify", "pose", "obb")


def _block(marker: str) -> str:
    return bash_block(DOC, marker)


_run = run_bash


@pytest.fixture(scope="module")
def walked(tmp_path_factory):
    cwd = tmp_path_factory.mktemp("yolo-doc")
    return cwd, {task: _run(_block(f"{task} walkthrough"), cwd) for task in TASKS}


@pytest.mark.parametrize("task", TASKS)
def test_task_walkthrough_runs(walked, task):
    cwd, procs = walked
    proc = procs[task]
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    short = {"segment": "seg", "classify": "cls", "pose": "pose", "obb": "obb"}[task]
    report = json.loads((cwd / "audit" / short / "report.json").read_text())
    names = {m["name"] for m in report["metrics"]}
    expected = {"segment": {"small_mask_share", "thin_mask_share", "vertex_tail_share", "rare_class_share"},
                "classify": {"lost_categories", "hill_q1", "rare_class_share"},
                "pose": {"visible_share", "limb_length_spread"},
                "obb": {"angle_tail_mass", "angle_tv"}}[task]
    assert expected <= names
    if task == "classify":
        assert any("`nine`" in line for line in report["losses"]["summary"])
        assert (cwd / "export" / "cls-human" / "val" / "nine").is_dir()
    else:
        assert f"task: {task}" in (cwd / "export" / f"{short}-human" / "data.yaml").read_text()


@pytest.mark.yolo
def test_segment_training_runs(walked):
    pytest.importorskip("ultralytics")
    cwd, procs = walked
    if procs["segment"].returncode != 0:
        pytest.fail("the segment walkthrough failed; see test_task_walkthrough_runs")
    proc = _run(_block("segment training"), cwd)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "recorded run " in proc.stdout and "mask mAP50-95 of circle" in proc.stdout
    found = re.search(r"model.val\(\) recorded: (\d+) validation, (\d+) values", proc.stdout)
    assert found and int(found.group(1)) == 1 and int(found.group(2)) > 4  # per-class values of the val() run
    assert "refused before training:" in proc.stdout and "human fraction 0.00 < 0.30" in proc.stdout
    assert "polygons simplified to <= 32 vertices" in proc.stdout
