"""Audits of text, detection labels, categories and image folders through the real metrics."""

from __future__ import annotations

import numpy as np
import pytest

from tailguard.audit import AuditConfig, Source, audit, suite_for
from tailguard.data.text import python_docs_sentences


def test_text_mode_collapse_is_diagnosed():
    """One output repeated over and over: duplicates explode and Vendi shrinks."""
    sentences = python_docs_sentences()
    ref = sentences[:400]
    cand = [sentences[500 + i % 8] for i in range(400)]  # 8 sentences, each 50 times
    report = audit(cand, ref, config=AuditConfig(metrics=["near_duplicates", "vendi", "text_stats"], strict=True))
    assert report.modality == "text"
    assert report.verdict == "collapse"
    assert report.row("duplicate_rate").value > 0.9
    assert report.diagnosis.mode == "mode_collapse", report.diagnosis
    assert any("near-duplicate" in e for e in report.diagnosis.evidence)


def test_detection_labels_lost_rare_class():
    from tailguard.data.detection import compose_detection
    from tailguard.features import DetectionLabelArrays

    ref = DetectionLabelArrays.from_yolo_arrays(compose_detection(300, seed=1, imgsz=64).labels)
    cand_labels = [lab[lab[:, 0] < 7] for lab in compose_detection(300, seed=2, imgsz=64).labels]  # no 7, 8, 9
    cand = DetectionLabelArrays.from_yolo_arrays(cand_labels)
    report = audit(cand, ref, config=AuditConfig(strict=True))
    assert report.modality == "detection"
    assert report.n_candidate == 300
    assert report.verdict == "collapse"
    assert report.row("rare_class_share").status == "collapse"
    assert set(report.figures["class_shares"]["lost"]) == {"7", "8", "9"}


def test_categorical_lost_categories():
    rng = np.random.default_rng(0)
    weights = 1.0 / np.arange(1, 31) ** 1.2
    weights /= weights.sum()
    ref = rng.choice(30, size=3000, p=weights)
    cand = rng.choice(20, size=3000, p=weights[:20] / weights[:20].sum())  # the 10 rarest are gone
    report = audit(cand, ref, config=AuditConfig(strict=True))
    assert report.modality == "categorical"
    assert report.row("lost_category_share").status != "ok"
    assert report.verdict != "ok"
    same = audit(rng.choice(30, size=3000, p=weights), ref, config=AuditConfig(strict=True))
    assert same.row("lost_category_share").status == "ok"


def test_image_folders(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    for side, scale in (("ref", 1.0), ("cand", 0.3)):
        folder = tmp_path / side
        folder.mkdir()
        for i in range(60):
            noise = 128 + scale * rng.normal(0, 60, size=(16, 16))
            Image.fromarray(np.clip(noise, 0, 255).astype(np.uint8)).save(folder / f"{i}.png")
    report = audit(Source(str(tmp_path / "cand")), Source(str(tmp_path / "ref")),
                   config=AuditConfig(metrics=["tail_mass", "covariance"], strict=True))
    assert report.modality == "images" and report.n_candidate == 60
    assert report.verdict == "collapse"  # a third of the pixel spread is gone


@pytest.mark.parametrize("modality", ["vectors", "text"])
def test_quick_suites_run_every_registered_metric(modality):
    rng = np.random.default_rng(3)
    if modality == "text":
        docs = python_docs_sentences()
        order = rng.permutation(len(docs))  # two random halves of the same corpus
        cand, ref = [docs[i] for i in order[:600]], [docs[i] for i in order[600:1200]]
    else:
        cand, ref = rng.normal(size=(300, 5)), rng.normal(size=(300, 5))
    report = audit(cand, ref, config=AuditConfig(quick=True, strict=True))
    assert report.skipped == [], report.skipped
    expected = {e.names[0] for e in suite_for(modality, quick=True) if not e.optional}
    assert {r["metric"] for r in report.results} == expected
    # (False-alarm rates are measured by the calibration tests, not on one draw.)
