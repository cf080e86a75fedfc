"""``tailguard audit``'s table at 80 columns, and ``-m`` with metric, family and value names."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tailguard.cli.app import main
from tailguard.data.detection import make_detection_dataset
from tailguard.data.text import python_docs_sentences


def run(argv, capsys):
    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """Candidate/reference pairs of the text, categorical, vectors-with-long-names and detection suites."""
    root = tmp_path_factory.mktemp("table")
    docs = python_docs_sentences()
    order = np.random.default_rng(0).permutation(len(docs))
    for side, idx in (("cand", order[:300]), ("ref", order[300:600])):
        (root / f"{side}.jsonl").write_text("".join(json.dumps({"text": docs[i]}) + "\n" for i in idx))
    rng = np.random.default_rng(1)
    weights = 1.0 / np.arange(1, 31) ** 1.2
    np.save(root / "cat_ref.npy", rng.choice(30, size=2000, p=weights / weights.sum()))
    np.save(root / "cat_cand.npy", rng.choice(20, size=2000, p=weights[:20] / weights[:20].sum()))
    np.save(root / "vec_ref.npy", rng.normal(size=(400, 5)))
    np.save(root / "vec_cand.npy", 0.8 * rng.normal(size=(400, 5)))
    det_ref = make_detection_dataset(root / "det_ref", n_images=60, seed=1, imgsz=64)
    det_cand = make_detection_dataset(root / "det_cand", n_images=60, seed=2, imgsz=64)
    return {
        "text": (root / "cand.jsonl", root / "ref.jsonl"),
        "categorical": (root / "cat_cand.npy", root / "cat_ref.npy"),
        "vectors": (root / "vec_cand.npy", root / "vec_ref.npy"),
        "detection": (det_cand, det_ref),
    }


@pytest.mark.parametrize("modality", ["text", "categorical", "vectors", "detection"])
def test_table_at_80_columns_keeps_every_metric_name_whole(modality, inputs, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("COLUMNS", "80")
    cand, ref = inputs[modality]
    args = ["audit", str(cand), "--reference", str(ref), "--out", str(tmp_path / "rep")]
    code, out, err = run([*args, *([] if modality == "vectors" else ["--quick"])], capsys)
    assert code == 0, err
    report = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert report["modality"] == modality
    rows = report["metrics"]
    assert len(rows) >= 7, [r["name"] for r in rows]
    lines = [line for line in out.splitlines() if not line.startswith("report: ")]  # (the paths' line)
    assert max(len(line) for line in lines) <= 80
    first_cells = [line.split()[0] for line in lines if line.strip()]
    for row in rows:
        assert row["name"] in first_cells, f"{row['name']} is cut or missing at 80 columns"
        line = next(line for line in lines if line.split() and line.split()[0] == row["name"])
        assert row["status"] in line.split()
    for family in {r["family"] for r in rows}:  # the family column became headings
        assert family in [line.strip() for line in lines]
    assert "…" not in out.split("diagnosis:")[0]


def test_table_at_80_columns_has_the_longest_names(inputs, capsys, monkeypatch, tmp_path):
    """The names that used to come out as ``tail_mas…``: at least one of 20+ characters in each suite."""
    monkeypatch.setenv("COLUMNS", "80")
    cand, ref = inputs["text"]
    code, out, _ = run(["audit", str(cand), "--reference", str(ref), "--out", str(tmp_path / "r"), "--quick"], capsys)
    assert code == 0
    for name in ("length_tail_mass_0.05", "radius_tail_share_0.95", "drifted_feature_share", "reference_copy_rate"):
        assert any(line.startswith(name + " ") for line in out.splitlines()), name


@pytest.mark.parametrize(
    ("selection", "metrics", "names"),
    [
        (["-m", "recall"], {"prdc"}, ["precision", "recall", "density", "coverage"]),
        (["-m", "tail_mass_0.01"], {"tail_mass"}, ["tail_mass_0.01", "tail_mass_0.05"]),
        (["-m", "prdc", "-m", "vendi"], {"prdc", "vendi"}, ["precision", "recall", "density", "coverage", "vendi"]),
        (["-m", "tails"], {"tail_mass", "rare_mode_coverage", "nn_distance_tail"}, None),
    ],
)
def test_metric_option_takes_metric_family_and_value_names(selection, metrics, names, inputs, capsys, tmp_path):
    cand, ref = inputs["vectors"]
    code, _, err = run(["audit", str(cand), "--reference", str(ref), "--out", str(tmp_path / "r"), *selection],
                       capsys)
    assert code == 0, err
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    assert {r["metric"] for r in report["results"]} == metrics
    if names is not None:
        assert [r["name"] for r in report["metrics"]] == names


def test_metric_option_typo_is_one_line_with_the_nearest_name(inputs, capsys, tmp_path):
    cand, ref = inputs["vectors"]
    code, out, err = run(["audit", str(cand), "--reference", str(ref), "--out", str(tmp_path / "r"), "-m", "recal"],
                         capsys)
    assert code == 2 and out == ""
    assert err.startswith("error: Unknown metric, family or value name 'recal'. Did you mean 'recall'")
    assert err.count("\n") == 1
    assert not (tmp_path / "r").exists()
