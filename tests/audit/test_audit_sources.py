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
    (tmp_path / "latin.txt").write_bytes(b"caf\xe9\n")
    with pytest.raises(TextFormatError, match="UTF-8"):
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


def test_take_subsamples_every_view():
    side = as_input(np.arange(10.0).reshape(5, 2), labels=np.array([0, 1, 0, 1, 2]))
    sub = side.take(np.array([0, 4]))
    assert sub.n == 2 and sub.vectors.tolist() == [[0.0, 1.0], [8.0, 9.0]] and sub.categories.tolist() == [0, 2]
