"""Reading documents to score: ids from the user's column, one-line errors that name the file and line."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tailguard.errors import BadInputError, EmptyDatasetError, MissingInputError, TextFormatError, UnknownChoiceError
from tailguard.scoring.documents import read_documents


def test_csv_parquet_txt_and_npy(tmp_path):
    frame = pd.DataFrame({"url": ["u1", "u2"], "body": ["first text", "second text"]})
    frame.to_csv(tmp_path / "d.csv", index=False)
    frame.to_parquet(tmp_path / "d.parquet")
    for name in ("d.csv", "d.parquet"):
        docs = read_documents(str(tmp_path / name), text_column="body", id_column="url")
        assert docs.items == ["first text", "second text"] and docs.ids == ["u1", "u2"]
    (tmp_path / "d.txt").write_text("one\n\ntwo\n")
    assert read_documents(str(tmp_path / "d.txt")).ids == [1, 3]  # line numbers, blank lines skipped
    np.save(tmp_path / "v.npy", np.zeros((3, 2)))
    assert read_documents(str(tmp_path / "v.npy")).items.shape == (3, 2)


def test_errors(tmp_path):
    with pytest.raises(MissingInputError, match=r"nope\.jsonl"):
        read_documents(str(tmp_path / "nope.jsonl"))
    (tmp_path / "x.xml").write_text("<a/>")
    with pytest.raises(UnknownChoiceError, match="document format"):
        read_documents(str(tmp_path / "x.xml"))
    pd.DataFrame({"text": ["a"]}).to_csv(tmp_path / "c.csv", index=False)
    with pytest.raises(UnknownChoiceError, match="Did you mean 'text'"):
        read_documents(str(tmp_path / "c.csv"), text_column="txt")
    (tmp_path / "n.jsonl").write_text('{"text": 3}\n')
    with pytest.raises(TextFormatError, match=r"n.jsonl:1: field 'text' is int"):
        read_documents(str(tmp_path / "n.jsonl"))
    (tmp_path / "i.jsonl").write_text('{"text": "a"}\n')
    with pytest.raises(BadInputError, match=r"i.jsonl:1: no 'doc_id' field"):
        read_documents(str(tmp_path / "i.jsonl"), id_column="doc_id")
    np.save(tmp_path / "e.npy", np.zeros((0, 2)))
    with pytest.raises(EmptyDatasetError, match="non-empty"):
        read_documents(str(tmp_path / "e.npy"))


def test_an_image_folder_scores_as_the_audits_image_features(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    for i in range(3):
        Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(tmp_path / f"im{i}.png")
    docs = read_documents(str(tmp_path))
    assert docs.ids == ["im0.png", "im1.png", "im2.png"] and docs.items.shape[0] == 3
    (tmp_path / "empty").mkdir()
    with pytest.raises(EmptyDatasetError, match="no images"):
        read_documents(str(tmp_path / "empty"))
