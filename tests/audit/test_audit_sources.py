"""Reading candidates and references: in-memory objects and paths by format, with typed errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tailguard.audit.inputs import as_input, infer_modality
from tailguard.audit.sources import Source
from tailguard.errors import (
    BadInputError,
    EmptyDatasetError,
    MissingInputError,
    NonFiniteValueError,
    TextFormatError,
    UnknownChoiceError,
)


def test_infer_modality():
    assert infer_modality(np.ones((4, 2))) == "vectors"
    assert infer_modality(np.array([1, 2, 3])) == "categorical"
    assert infer_modality(np.array(["a", "b"])) == "categorical"
    assert infer_modality(["some text", "more"]) == "text"


def test_vectors_are_checked():
    with pytest.raises(NonFiniteValueError, match="candidate: sample 1"):
        as_input(np.array([[0.0, 1.0], [np.nan, 2.0]]))
    with pytest.raises(EmptyDatasetError):
        as_input(np.empty((0, 3)))
    with pytest.raises(BadInputError, match="ambiguous"):
        as_input("just one string")
    with pytest.raises(BadInputError, match="item 1"):
        as_input(["ok", 3], modality="text")
    with pytest.raises(UnknownChoiceError, match="vectros"):
        as_input(np.ones((3, 2)), modality="vectros")


def test_npy_csv_parquet(tmp_path):
    x = np.arange(20.0).reshape(10, 2)
    np.save(tmp_path / "x.npy", x)
    side = Source(str(tmp_path / "x.npy")).load()
    assert side.modality == "vectors" and np.array_equal(side.vectors, x)

    (tmp_path / "t.csv").write_text("a,b,name\n1,2,x\n3,4,y\n")
    side = Source(str(tmp_path / "t.csv")).load()
    assert side.vectors.tolist() == [[1.0, 2.0], [3.0, 4.0]] and side.feature_names == ("a", "b")

    import pandas as pd

    pd.DataFrame({"u": [1.0, 2.0, 3.0]}).to_parquet(tmp_path / "t.parquet")
    assert Source(str(tmp_path / "t.parquet")).load().n == 3

    np.save(tmp_path / "cats.npy", np.array([0, 1, 1, 2]))
    assert Source(str(tmp_path / "cats.npy")).load().modality == "categorical"


def test_csv_with_a_gap_names_the_line(tmp_path):
    (tmp_path / "gap.csv").write_text("a,b\n1,2\n3,\n")
    with pytest.raises(BadInputError, match=r"gap.csv:3"):
        Source(str(tmp_path / "gap.csv")).load()


def test_text_files(tmp_path):
    pytest.importorskip("tailguard.features")
    lines = [json.dumps({"text": f"document number {i} about cats"}) for i in range(5)]
    (tmp_path / "d.jsonl").write_text("\n".join(lines) + "\n")
    side = Source(str(tmp_path / "d.jsonl")).load()
    assert side.modality == "text" and side.n == 5 and side.texts[2] == "document number 2 about cats"
    assert side.vectors is not None and side.vectors.shape[0] == 5


def test_text_errors_name_file_and_line(tmp_path):
    (tmp_path / "bad.jsonl").write_text('{"text": "fine"}\n{oops\n')
    with pytest.raises(TextFormatError, match=r"bad.jsonl:2"):
        Source(str(tmp_path / "bad.jsonl")).load()
    (tmp_path / "nokey.jsonl").write_text('{"title": "x"}\n')
    with pytest.raises(TextFormatError, match=r"nokey.jsonl:1.*text field"):
        Source(str(tmp_path / "nokey.jsonl")).load()
    (tmp_path / "latin.txt").write_bytes(b"fine\nalso fine\ncaf\xe9\n")
    with pytest.raises(TextFormatError, match=r"latin.txt:3: not valid UTF-8"):  # the line, as --stream names it
        Source(str(tmp_path / "latin.txt")).load()


def test_missing_and_unknown_paths(tmp_path):
    with pytest.raises(MissingInputError, match=r"nope\.npy"):
        Source(str(tmp_path / "nope.npy")).load()
    (tmp_path / "x.weird").write_text("1")
    with pytest.raises(UnknownChoiceError, match=r"\.weird"):
        Source(str(tmp_path / "x.weird")).load()
    (tmp_path / "empty").mkdir()
    with pytest.raises(EmptyDatasetError, match="empty"):
        Source(str(tmp_path / "empty")).load()
    (tmp_path / "header.csv").write_text("a,b\n")
    with pytest.raises(EmptyDatasetError, match=r"header.csv: table has no rows \(columns: a, b\)"):
        Source(str(tmp_path / "header.csv")).load()
    for name in ("blank.csv", "blank.parquet"):  # a 0-byte table is an empty dataset, not a parse error
        (tmp_path / name).write_bytes(b"")
        with pytest.raises(EmptyDatasetError, match=rf"{name}: empty file"):
            Source(str(tmp_path / name)).load()


def test_take_subsamples_every_view():
    side = as_input(np.arange(10.0).reshape(5, 2), labels=np.array([0, 1, 0, 1, 2]))
    sub = side.take(np.array([0, 4]))
    assert sub.n == 2 and sub.vectors.tolist() == [[0.0, 1.0], [8.0, 9.0]] and sub.categories.tolist() == [0, 2]


# ----------------------------------------------------------------------------- label origins (detection)
def _pseudo_copy(data_yaml, dst, drop_class=None):
    """The same images (byte for byte) with the same boxes, minus every box of ``drop_class``."""
    import shutil

    shutil.copytree(data_yaml.parent, dst)
    for label in (dst / "labels").rglob("*.txt"):
        kept = [line for line in label.read_text().splitlines() if int(line.split()[0]) != drop_class]
        label.write_text("".join(f"{line}\n" for line in kept))
    text = (dst / "data.yaml").read_text().replace(f"path: {data_yaml.parent}", f"path: {dst}")
    (dst / "data.yaml").write_text(text)
    return dst / "data.yaml"


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    from tailguard.data import make_detection_dataset

    return make_detection_dataset(tmp_path_factory.mktemp("det") / "digits", n_images=60, seed=0, imgsz=64,
                                  split=(1.0,))


def _ledger_with_pseudo_labels(tmp_path, digits, drop_class):
    """Human boxes ingested as version 'human'; a labeller's boxes of the same images as version 'pl'."""
    from tailguard.cli.app import main

    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    assert main(["--ledger", url, "ingest", str(digits), "--origin", "human", "--as-version", "human"]) == 0
    pseudo = _pseudo_copy(digits, tmp_path / "pseudo", drop_class)
    assert main(["--ledger", url, "ingest", str(pseudo), "--origin", "pseudo_label", "--generator", "labeller@1",
                 "--as-version", "pl"]) == 0
    return url


def _audit_json(url, out, *args):
    from tailguard.cli.app import main

    code = main(["--ledger", url, "audit", *args, "--quick", "--out", str(out), "--fail-on", "warn"])
    return code, json.loads((out / "report.json").read_text())


def test_origins_pick_the_boxes_of_one_detection_version(tmp_path, digits):
    url = _ledger_with_pseudo_labels(tmp_path, digits, drop_class=None)
    human_boxes = sum(len(p.read_text().splitlines()) for p in (digits.parent / "labels").rglob("*.txt"))
    both = Source("pl", url).load()
    human = Source("pl", url, origins="human").load()
    pseudo = Source("pl", url, origins=["pseudo_label"]).load()
    assert human.n == pseudo.n == both.n == 60  # every image of the version is on each side
    assert human.boxes.n_boxes == pseudo.boxes.n_boxes == human_boxes and both.boxes.n_boxes == 2 * human_boxes
    assert np.isnan(human.boxes.confidences).all()
    # the human version was made before the pseudo-labels arrived: it sees the human boxes only
    assert Source("human", url).load().boxes.n_boxes == human_boxes
    with pytest.raises(EmptyDatasetError, match=r"no boxes of origin synthetic in 60 images \(boxes held: "
                                                 rf"{human_boxes} human, {human_boxes} pseudo_label\)"):
        Source("pl", url, origins="synthetic").load()
    with pytest.raises(UnknownChoiceError, match="Did you mean 'human'"):
        Source("pl", url, origins="humann")
    (tmp_path / "x.npy").write_bytes(b"")
    with pytest.raises(BadInputError, match=r"label origins \(human\) apply to detection data"):
        Source(str(tmp_path / "x.npy"), url, origins="human").load()


def test_audit_of_pseudo_labels_against_the_human_boxes_reacts_to_a_dropped_rare_class(tmp_path, digits):
    """End to end on the CLI: ingest, pseudo-labels for the same images, `audit --origins/--ref-origins`."""
    rare = 7  # "seven": one of the built-in set's rare classes
    counts = np.bincount([int(line.split()[0]) for p in (digits.parent / "labels").rglob("*.txt")
                          for line in p.read_text().splitlines()], minlength=10)
    assert 0 < counts[rare] <= 0.05 * counts.sum()
    verdicts = {}
    for case, drop in (("faithful", None), ("dropped", rare)):
        url = _ledger_with_pseudo_labels(tmp_path / case, digits, drop)
        code, report = _audit_json(url, tmp_path / case / "audit", "pl", "--origins", "pseudo_label",
                                   "--reference", "pl", "--ref-origins", "human")
        assert report["candidate"] == "pl (pseudo_label boxes)" and report["reference"] == "pl (human boxes)"
        verdicts[case] = (code, report["verdict"], {m["name"]: m["status"] for m in report["metrics"]})
        # the human version is the same reference as the version's own human boxes
        code_h, report_h = _audit_json(url, tmp_path / case / "audit-h", "pl", "--origins", "pseudo_label",
                                       "--reference", "human")
        assert (code_h, report_h["verdict"]) == verdicts[case][:2]
    code, verdict, statuses = verdicts["faithful"]
    # nothing flagged; the 1% box tails of 60 images are too thin to judge and say so
    assert (code, verdict) == (0, "ok") and set(statuses.values()) == {"ok", "insufficient"}
    assert statuses["tail_mass_0.01"] == "insufficient"
    code, verdict, statuses = verdicts["dropped"]
    assert code == 3 and verdict in ("warn", "collapse")
    assert statuses["lost_category_share"] != "ok" and statuses["lost_reference_mass"] != "ok"
    # without --origins both sides hold every box of the same images: nothing to see
    code, report = _audit_json(url, tmp_path / "all", "pl", "--reference", "pl")
    assert code == 0 and report["verdict"] == "ok"


def test_audit_cli_origins_errors_are_one_line(tmp_path, digits, capsys):
    from tailguard.cli.app import main

    url = _ledger_with_pseudo_labels(tmp_path, digits, drop_class=None)
    capsys.readouterr()
    for args, expected in ((["--origins", "pseudo"], "Unknown label origin 'pseudo'. Did you mean 'pseudo_label'?"),
                           (["--ref-origins", "synthetic"], "no boxes of origin synthetic in 60 images")):
        code = main(["--ledger", url, "audit", "pl", "--reference", "pl", *args, "--out", str(tmp_path / "o")])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and len(err) == 1 and expected in err[0], err
