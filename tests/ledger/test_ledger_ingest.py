"""Ingest: every format, origins from flags and records, idempotency, typed errors with file:line, --skip-bad."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from PIL import Image

from tailguard.errors import (
    BadInputError,
    CorruptFileError,
    EmptyDatasetError,
    LabelFormatError,
    MissingInputError,
    NonFiniteValueError,
    TextFormatError,
    UnknownChoiceError,
    UnsafePathError,
)
from tailguard.ledger import Ledger
from tailguard.ledger.hashing import content_id, file_id


def test_yolo_data_yaml(ledger: Ledger, make_yolo_dataset):
    data = make_yolo_dataset(n_train=3, n_val=2)
    report = ledger.ingest(data, origin="human", verified_by="ann", as_version="v1")
    assert (report.added, report.existing, report.skipped, report.conflicts) == (5, 0, [], [])
    records = list(ledger.iter_samples("v1"))
    assert {r.extra["split"] for r in records} == {"train", "val"}
    rec = next(r for r in records if r.extra["name"] == "train/img1.png")
    assert rec.modality == "detection" and rec.origin == "human" and rec.verified_by == "ann"
    assert rec.id == file_id(data.parent / "images" / "train" / "img1.png")
    assert [(b.class_id, b.origin, b.line()) for b in rec.labels] == [(1, "human", "1 0.5 0.5 0.25 0.25")]
    assert ledger.class_names("v1") == ["cat", "dog"]
    assert ledger.version_summary("v1").by_class == {0: 3, 1: 2}
    again = ledger.ingest(data, origin="human")
    assert (again.added, again.existing) == (0, 5)


def test_yolo_tree_without_yaml_and_pseudo_labels_attach(ledger: Ledger, make_yolo_dataset, tmp_path):
    data = make_yolo_dataset(n_train=2, n_val=0)
    ledger.ingest(data, origin="human", as_version="human")
    # the same images with machine labels (another label folder) attach to the same ids
    pseudo = tmp_path / "pseudo"
    (pseudo / "images").mkdir(parents=True)
    (pseudo / "labels").mkdir()
    for i in range(2):
        os.link(data.parent / "images" / "train" / f"img{i}.png", pseudo / "images" / f"img{i}.png")
        (pseudo / "labels" / f"img{i}.txt").write_text("1 0.4 0.4 0.1 0.1 0.87\n")
    report = ledger.ingest(pseudo, origin="pseudo_label", generator="yolo26n", as_version="pseudo")
    assert report.existing == 2 and report.added == 0
    # same bytes claimed human and pseudo_label: a recorded conflict; each version keeps its occurrences' origin
    assert {c.kind for c in report.conflicts} == {"claim"}
    rec = next(ledger.iter_samples("pseudo"))
    assert rec.origin == "pseudo_label"
    assert next(ledger.iter_samples("human")).origin == "human"
    assert ledger.version_summary("pseudo").human_fraction == 0.0
    assert sorted(b.origin for b in rec.labels) == ["human", "pseudo_label"]
    pseudo_box = next(b for b in rec.labels if b.origin == "pseudo_label")
    assert pseudo_box.confidence == pytest.approx(0.87) and pseudo_box.generator == "yolo26n"
    assert len(ledger.version_summary("pseudo").conflicts) == 2


def test_data_yaml_follows_absolute_paths_and_txt_lists(sqlite_ledger: Ledger, make_yolo_dataset, tmp_path):
    data = make_yolo_dataset(n_train=2, n_val=1)
    listing = tmp_path / "lists" / "train.txt"
    listing.parent.mkdir()
    listing.write_text("\n".join(str(p) for p in sorted((data.parent / "images" / "train").iterdir())) + "\n")
    other = tmp_path / "elsewhere" / "data.yaml"
    other.parent.mkdir()
    other.write_text(f"train: {listing}\nval: {data.parent / 'images' / 'val'}\nnames: {{0: cat, 1: dog}}\n")
    report = sqlite_ledger.ingest(other, origin="human", as_version="v")
    assert report.added == 3 and sqlite_ledger.class_names("v") == ["cat", "dog"]


def test_a_roboflow_export_ingests_as_ultralytics_reads_it(sqlite_ledger: Ledger, tmp_path):
    """Roboflow writes ``train: ../train/images`` beside data.yaml in the dataset's own folder; Ultralytics
    falls back to the path without ``../``, and so does ingest (a real ``../`` path still wins)."""
    root = tmp_path / "roboflow"
    for split, n in (("train", 3), ("valid", 2)):
        (root / split / "images").mkdir(parents=True)
        (root / split / "labels").mkdir()
        for i in range(n):
            Image.fromarray(np.full((16, 16, 3), 40 * i + (split == "valid"), np.uint8)).save(
                root / split / "images" / f"{split}{i}.jpg")
            (root / split / "labels" / f"{split}{i}.txt").write_text(f"{i % 2} 0.5 0.5 0.2 0.2\n")
    (root / "data.yaml").write_text("train: ../train/images\nval: ../valid/images\nnc: 2\nnames: ['a', 'b']\n")
    report = sqlite_ledger.ingest(root / "data.yaml", origin="human", as_version="rf")
    assert report.added == 5 and not report.skipped
    splits = sorted(r.extra["split"] for r in sqlite_ledger.iter_samples("rf"))
    assert splits == ["train"] * 3 + ["val"] * 2
    (root / "data.yaml").write_text("train: ../nowhere/images\nval: ../valid/images\nnames: ['a', 'b']\n")
    with pytest.raises(MissingInputError, match=r"'\.\./nowhere/images' does not exist"):
        sqlite_ledger.ingest(root / "data.yaml", origin="human")


@pytest.mark.parametrize(
    ("line", "message"),
    [("0 0.5 0.5 0.2", "expected 5 fields"), ("2 0.5 0.5 0.2 0.2", "class id 2 is not in data.yaml"),
     ("0 1.5 0.5 0.2 0.2", "normalised to"), ("x 0.5 0.5 0.2 0.2", "non-numeric"),
     ("0.5 0.5 0.5 0.2 0.2", "non-negative integer")],
)
def test_bad_label_lines_name_file_and_line(sqlite_ledger: Ledger, make_yolo_dataset, line, message):
    data = make_yolo_dataset(n_train=2, n_val=0)
    label = data.parent / "labels" / "train" / "img1.txt"
    label.write_text("0 0.5 0.5 0.2 0.2\n" + line + "\n")
    with pytest.raises(LabelFormatError, match=message) as info:
        sqlite_ledger.ingest(data, origin="human")
    assert str(info.value).startswith(f"{label}:2: ")
    assert sqlite_ledger.count_samples() == 0  # atomic: the good image was not kept either

    report = sqlite_ledger.ingest(data, origin="human", skip_bad=True, as_version="v")
    assert report.added == 1 and len(report.skipped) == 1
    assert report.skipped[0].item.endswith("img1.png") and message in report.skipped[0].reason
    assert sqlite_ledger.skipped(report.ingest_id) == report.skipped  # recorded in the ledger


def test_corrupt_image_and_missing_listed_image(sqlite_ledger: Ledger, make_yolo_dataset):
    data = make_yolo_dataset(n_train=2, n_val=1)
    bad = data.parent / "images" / "train" / "img0.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    with pytest.raises(CorruptFileError, match=f"^{bad}: cannot decode image"):
        sqlite_ledger.ingest(data)
    (data.parent / "images" / "val" / "img0.png").unlink()
    os.symlink(data.parent / "nowhere.png", data.parent / "images" / "val" / "dangling.png")
    report = sqlite_ledger.ingest(data, skip_bad=True)
    reasons = sorted(s.reason for s in report.skipped)
    assert report.added == 1 and len(reasons) == 2
    assert any("cannot decode" in r for r in reasons)
    assert any("dangling.png" in r and "not found" in r for r in reasons)


def test_symlink_loops_are_refused(sqlite_ledger: Ledger, tmp_path):
    folder = tmp_path / "imgs"
    (folder / "sub").mkdir(parents=True)
    Image.new("RGB", (4, 4)).save(folder / "sub" / "a.png")
    os.symlink(folder, folder / "sub" / "loop")
    with pytest.raises(UnsafePathError, match="symlink loop"):
        sqlite_ledger.ingest(folder, origin="human")
    report = sqlite_ledger.ingest(folder, origin="human", skip_bad=True)
    assert report.added == 1 and "symlink loop" in report.skipped[0].reason


def test_jsonl_origins_per_record_and_errors(ledger: Ledger, tmp_path):
    path = tmp_path / "t.jsonl"
    lines = [
        json.dumps({"text": "a human line", "topic": "x"}),
        json.dumps({"text": "a generated line", "origin": "synthetic", "generator": "gpt", "generation": 2}),
        "",
        json.dumps({"text": "pseudo", "origin": "pseudo_label", "parents": [content_id(b"a human line")]}),
    ]
    path.write_text("\n".join(lines) + "\n")
    report = ledger.ingest(path, origin="human", as_version="t")
    assert report.added == 3
    assert sorted((c.claimed, c.other) for c in report.conflicts) == [("pseudo_label", "human"),
                                                                      ("synthetic", "human")]
    recs = {ledger.read_bytes(r).decode(): r for r in ledger.iter_samples("t")}
    assert recs["a human line"].origin == "human" and recs["a human line"].extra == {"topic": "x", "line": 1}
    gen = recs["a generated line"]
    assert (gen.origin, gen.generator, gen.generation, gen.synthetic_depth) == ("synthetic", "gpt", 2, 2)
    assert recs["pseudo"].parents == (content_id(b"a human line"),)

    bad = tmp_path / "bad.jsonl"
    bad.write_bytes(b'{"text": "ok"}\n{"text": "\xff\xfe"}\n{not json}\n{"txt": 1}\n{"text": "x", "origin": "ai"}\n')
    with pytest.raises(TextFormatError, match=f"^{bad}:2: not valid UTF-8"):
        ledger.ingest(bad)
    report = ledger.ingest(bad, skip_bad=True)
    assert report.added == 1
    assert [s.item for s in report.skipped] == [f"{bad}:{n}" for n in (2, 3, 4, 5)]
    assert "invalid JSON" in report.skipped[1].reason and "Unknown origin 'ai'" in report.skipped[3].reason


def test_csv_parquet_npy(ledger: Ledger, tmp_path):
    import pandas as pd

    csv = tmp_path / "t.csv"
    csv.write_text("a,b,origin\n1,x,human\n2,y,synthetic\n1,x,human\n3\n")
    with pytest.raises(BadInputError, match=f"^{csv}:5: expected 3 fields"):
        ledger.ingest(csv)
    report = ledger.ingest(csv, skip_bad=True, as_version="csv")
    assert (report.added, report.existing, report.duplicates, len(report.skipped)) == (2, 0, 1, 1)
    assert ledger.get_version("csv").n_members == 3  # the repeated row is a second occurrence
    by_origin = {r.origin: json.loads(ledger.read_bytes(r)) for r in ledger.iter_samples("csv")}
    assert by_origin == {"human": {"a": 1, "b": "x"}, "synthetic": {"a": 2, "b": "y"}}  # typed: numbers

    pq = tmp_path / "t.parquet"
    pd.DataFrame({"u": [1.5, 2.5], "generation": [1, 3]}).to_parquet(pq)
    report = ledger.ingest(pq, origin="synthetic", as_version="pq")
    assert report.added == 2
    assert sorted(r.generation for r in ledger.iter_samples("pq")) == [1, 3]

    vecs = np.arange(12, dtype=np.float32).reshape(4, 3)
    vecs[2, 1] = np.nan
    npy = tmp_path / "e.npy"
    np.save(npy, vecs)
    with pytest.raises(NonFiniteValueError, match=f"^{npy}:3: "):
        ledger.ingest(npy)
    report = ledger.ingest(npy, origin="synthetic", generator="emb", skip_bad=True, as_version="npy")
    assert report.added == 3
    got = sorted(np.frombuffer(ledger.read_bytes(r), r.extra["dtype"]).tolist() for r in ledger.iter_samples("npy"))
    assert got == [vecs[0].tolist(), vecs[1].tolist(), vecs[3].tolist()]


def test_missing_empty_and_unknown_inputs(sqlite_ledger: Ledger, tmp_path):
    with pytest.raises(MissingInputError, match="no such file"):
        sqlite_ledger.ingest(tmp_path / "nope.jsonl")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    with pytest.raises(EmptyDatasetError, match=str(empty)):
        sqlite_ledger.ingest(empty)
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(UnknownChoiceError, match="file suffix"):
        sqlite_ledger.ingest(tmp_path / "x.txt")
    with pytest.raises(UnknownChoiceError, match="Did you mean 'jsonl'"):
        sqlite_ledger.ingest(empty, format="jsnl")
    with pytest.raises(UnknownChoiceError, match="origin"):
        sqlite_ledger.ingest(empty, origin="people")
    yaml_bad = tmp_path / "data.yaml"
    yaml_bad.write_text("train: images/train\n")
    with pytest.raises(BadInputError, match="names"):
        sqlite_ledger.ingest(yaml_bad)
    yaml_bad.write_text("train: nowhere\nnames: [a]\n")
    with pytest.raises(MissingInputError, match="nowhere"):
        sqlite_ledger.ingest(yaml_bad)
    assert sqlite_ledger.count_samples() == 0 and sqlite_ledger.list_versions() == []


def test_class_name_mismatch_is_detected(sqlite_ledger: Ledger, make_yolo_dataset):
    data = make_yolo_dataset(n_train=2, n_val=0)
    sqlite_ledger.ingest(data, origin="human", as_version="a")
    data.write_text(data.read_text().replace("[cat, dog]", "['dog', 'cat']").replace("['cat', 'dog']",
                                                                                      "['dog', 'cat']"))
    report = sqlite_ledger.ingest(data, origin="human")
    assert {c.kind for c in report.conflicts} == {"class_names"}


def test_corrected_label_files_replace_boxes_but_old_versions_keep_theirs(ledger: Ledger, make_yolo_dataset):
    data = make_yolo_dataset(n_train=1, n_val=0)
    label = data.parent / "labels" / "train" / "img0.txt"
    ledger.ingest(data, origin="human", as_version="v1")
    label.write_text("1 0.4 0.4 0.3 0.3\n0 0.2 0.2 0.1 0.1\n")  # a corrected label file
    ledger.ingest(data, origin="human", as_version="v2")
    label.write_text("0 0.5 0.5 0.25 0.25\n")  # back to the original box
    ledger.ingest(data, origin="human", as_version="v3")
    again = ledger.ingest(data, origin="human", as_version="v4")  # unchanged: idempotent
    assert again.added == 0

    def lines(version: str | None) -> list[str]:
        (rec,) = list(ledger.iter_samples(version))
        return sorted(b.line() for b in rec.labels)

    assert lines("v1") == lines("v3") == lines("v4") == lines(None) == ["0 0.5 0.5 0.25 0.25"]
    assert lines("v2") == ["0 0.2 0.2 0.1 0.1", "1 0.4 0.4 0.3 0.3"]
    assert ledger.version_summary("v2").by_class == {0: 1, 1: 1}
    assert ledger.version_summary("v4").by_class == {0: 1}


def test_field_validation_doctests():
    import doctest

    from tailguard.ledger import fields

    result = doctest.testmod(fields, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0


def test_csv_is_typed_with_line_numbers(sqlite_ledger: Ledger, tmp_path):
    csv = tmp_path / "typed.csv"
    csv.write_text('n,x,word,big,generation,generator\n'
                   '1,2.5,cat,12345678901234567890,1,007\n'
                   '\n'
                   '"2",,"dog\nhouse",1,,\n'
                   '3,-1e3,,2,2,m\n'
                   '4,inf,eel,3,0,m\n'
                   '5,nan,fox,4,0\n')
    with pytest.raises(NonFiniteValueError, match=f"^{csv}:7: column 'x' holds inf"):
        list(_reader(csv))
    report = sqlite_ledger.ingest(csv, origin="synthetic", skip_bad=True, as_version="typed")
    assert report.added == 3
    assert [s.item for s in report.skipped] == [f"{csv}:7", f"{csv}:8"]
    assert report.skipped[1].reason == f"{csv}:8: expected 6 fields like the header, got 5"
    rows = {r.extra["row"]: (json.loads(sqlite_ledger.read_bytes(r)), r) for r in sqlite_ledger.iter_samples("typed")}
    assert sorted(rows) == [2, 4, 6]  # physical lines: the blank line and the quoted newline count
    assert rows[2][0] == {"n": 1, "x": 2.5, "word": "cat", "big": 12345678901234567890.0}
    assert rows[4][0] == {"n": 2, "x": None, "word": "dog\nhouse", "big": 1.0}  # empty cell -> null
    assert rows[6][0] == {"n": 3, "x": -1000.0, "word": None, "big": 2.0}
    assert rows[2][1].generator == "007" and rows[2][1].generation == 1  # provenance columns stay names
    assert rows[4][1].generation is None and rows[4][1].generator is None
    stored = sqlite_ledger.read_bytes(rows[2][1])
    assert stored == b'{"big":1.2345678901234567e+19,"n":1,"word":"cat","x":2.5}'  # canonical JSON numbers


def _reader(path):  # type: ignore[no-untyped-def]
    from tailguard.ledger.ingest import open_reader
    from tailguard.ledger.ingest.base import BadItem, IngestOptions

    for entry in open_reader(path, "csv", IngestOptions()):
        if isinstance(entry, BadItem):
            raise entry.error
        yield entry


def test_text_column_makes_table_rows_text_samples(ledger: Ledger, tmp_path):
    import pandas as pd

    from tailguard.ledger.ingest import run_ingest

    parent = content_id(b"the parent")
    pq = tmp_path / "t.parquet"
    pd.DataFrame({"text": ["first doc", "second doc"], "score": [0.5, 0.7], "origin": ["synthetic", None],
                  "parents": [[parent], None],
                  "generation": pd.array([2, None], dtype="Int64")}).to_parquet(pq)  # nullable ints, not floats
    report = run_ingest(ledger, pq, origin="human", as_version="pq")
    assert report.added == 2 and sorted(report.sample_ids) == sorted(content_id(t) for t in (b"first doc",
                                                                                              b"second doc"))
    recs = {ledger.read_bytes(r): r for r in ledger.iter_samples("pq")}
    first = recs[b"first doc"]
    assert (first.modality, first.origin, first.generation, first.parents) == ("text", "synthetic", 2, (parent,))
    assert first.extra == {"score": 0.5, "row": 1}
    assert recs[b"second doc"].origin == "human" and recs[b"second doc"].generation == 0

    csv = tmp_path / "t.csv"
    csv.write_text("body,label\nhello there,1\n,2\n")
    with pytest.raises(TextFormatError, match=f"^{csv}:3: the text column 'body' is empty"):
        run_ingest(ledger, csv, text_column="body")
    report = run_ingest(ledger, csv, text_column="body", skip_bad=True, as_version="csv")
    (rec,) = list(ledger.iter_samples("csv"))
    assert rec.modality == "text" and ledger.read_bytes(rec) == b"hello there" and rec.extra["label"] == 1
    with pytest.raises(UnknownChoiceError, match="Did you mean 'body'"):
        run_ingest(ledger, csv, text_column="bdy")
    tabular = run_ingest(ledger, pq, text_column="", as_version="rows")  # '' : rows stay tabular
    assert {r.modality for r in ledger.iter_samples("rows")} == {"tabular"} and tabular.added == 2


@pytest.mark.parametrize("fmt", ["jsonl", "parquet"])
def test_reingesting_an_export_adds_nothing(ledger: Ledger, tmp_path, fmt):
    from tailguard.ledger.ingest import run_ingest

    src = tmp_path / "docs.jsonl"
    human = [f"human paragraph {i}" for i in range(5)]
    lines = [json.dumps({"text": t}) for t in human]
    lines += [json.dumps({"text": f"generated {i}", "origin": "synthetic", "generator": "ngram", "generation": 1,
                          "parents": [content_id(human[i].encode())]}) for i in range(3)]
    src.write_text("\n".join(lines) + "\n")
    ledger.ingest(src, origin="human", verified_by="ann", as_version="docs")
    target = ledger.export("docs", fmt, tmp_path / "out", origins=("human", "synthetic"))
    again = run_ingest(ledger, target)
    assert (again.added, again.existing, again.skipped) == (0, 8, [])
    assert sorted(again.sample_ids) == sorted(r.id for r in ledger.iter_samples("docs"))

    from tailguard.ledger import Ledger as Fresh

    with Fresh.open(f"sqlite:///{tmp_path / 'fresh.db'}") as fresh:  # the same ids and provenance elsewhere
        run_ingest(fresh, target, as_version="copy")
        want = {r.id: (r.modality, r.origin, r.generator, r.generation, r.parents, r.verified_by)
                for r in ledger.iter_samples("docs")}
        got = {r.id: (r.modality, r.origin, r.generator, r.generation, r.parents, r.verified_by)
               for r in fresh.iter_samples("copy")}
        assert got == want


def test_reingesting_a_yolo_export_adds_nothing(sqlite_ledger: Ledger, make_yolo_dataset, tmp_path):
    data = make_yolo_dataset(n_train=3, n_val=2)
    sqlite_ledger.ingest(data, origin="human", as_version="det")
    exported = sqlite_ledger.export("det", "yolo", tmp_path / "export")
    again = sqlite_ledger.ingest(exported, origin="human", as_version="det-again")
    assert (again.added, again.existing, again.conflicts) == (0, 5, [])
    lines = {r.id: sorted(b.line() for b in r.labels) for r in sqlite_ledger.iter_samples("det")}
    assert {r.id: sorted(b.line() for b in r.labels) for r in sqlite_ledger.iter_samples("det-again")} == lines


def _wine_csvs(tmp_path):  # type: ignore[no-untyped-def]
    from sklearn.datasets import load_wine

    frame = load_wine(as_frame=True).frame.drop(columns=["target"])
    ref, cand = tmp_path / "ref.csv", tmp_path / "cand.csv"
    frame.iloc[:100].to_csv(ref, index=False)
    (frame.iloc[100:] * 0.98).to_csv(cand, index=False)  # real rows, shrunk: no duplicates
    return ref, cand


def _metrics(report) -> dict[str, float]:  # type: ignore[no-untyped-def]
    return {m.name: m.value for m in report.metrics}


def test_csv_ingested_version_audits_like_its_file(sqlite_url, tmp_path, capsys):
    from tailguard.audit import AuditConfig, Source, audit
    from tailguard.cli.app import main

    ref, cand = _wine_csvs(tmp_path)
    for path, name, origin in ((ref, "ref", "human"), (cand, "cand", "synthetic")):
        assert main(["--ledger", sqlite_url, "ingest", str(path), "--origin", origin, "--as-version", name]) == 0
    config = AuditConfig(quick=True)
    by_version = audit(Source("cand", sqlite_url), Source("ref", sqlite_url), config=config)  # numeric columns now
    assert by_version.verdict in ("ok", "warn", "collapse")
    for version, path in (("ref", ref), ("cand", cand)):
        stored = Source(version, sqlite_url).load()
        from_file = Source(str(path)).load()
        names = list(from_file.feature_names)
        columns = [names.index(c) for c in sorted(names)]  # stored rows are canonical JSON: sorted keys
        file_rows = {tuple(row): row for row in from_file.vectors[:, columns]}
        assert len(file_rows) == stored.n == from_file.n
        reordered = np.array([file_rows[tuple(row)] for row in stored.vectors])  # stored rows: sample-id order
        assert np.array_equal(reordered, stored.vectors)  # the same numbers, bit for bit
    file_report = audit(Source(str(cand)), Source(str(ref)), config=config)
    assert [m.name for m in file_report.metrics] == [m.name for m in by_version.metrics]


def test_csv_ingested_version_audits_exactly_like_its_file(sqlite_url, tmp_path):
    from tailguard.audit import AuditConfig, Source, audit
    from tailguard.cli.app import main

    ref, cand = _wine_csvs(tmp_path)
    for path, name in ((ref, "ref"), (cand, "cand")):
        assert main(["--ledger", sqlite_url, "ingest", str(path), "--origin", "human", "--as-version", name]) == 0
    config = AuditConfig(quick=True)
    by_version = audit(Source("cand", sqlite_url), Source("ref", sqlite_url), config=config)
    by_file = audit(Source(str(cand)), Source(str(ref)), config=config)
    assert _metrics(by_version) == pytest.approx(_metrics(by_file), rel=1e-9)


@pytest.mark.parametrize(
    ("fields", "says"),
    [({"generation": -1}, "'generation' must be an int in 0..10000; got -1"),
     ({"generation": True}, "got True"),
     ({"generator": "g" * 201}, "'generator' is 201 characters long"),
     ({"verified_by": "ann\x00"}, "'verified_by' holds the control character '\\x00'"),
     ({"parents": ("not-an-id",)}, "item 0 is 'not-an-id'"),
     ({"parents": "0123456789abcdef0123456789abcdef"}, "'parents' must be a list"),
     ({"extra": {"deep": [[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]}}, None)],
)
def test_validate_sample_for_the_library_api(fields, says):
    from tailguard.errors import ProvenanceFieldError
    from tailguard.ledger import NewSample
    from tailguard.ledger.fields import validate_sample

    sample = NewSample(content=b"x", uri=None, modality="text", origin="synthetic", **fields)
    if says is None:  # 21 levels: allowed
        validate_sample(sample, item="api sample 0")
        return
    with pytest.raises(ProvenanceFieldError, match=r"^api sample 0: ") as info:
        validate_sample(sample, item="api sample 0")
    assert says in str(info.value)
