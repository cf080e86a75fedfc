"""Notebook inputs: pandas Series and DataFrames get the same audit as the files they came from."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tailguard.audit import AuditConfig, AuditReport, Source, audit
from tailguard.audit.inputs import as_input
from tailguard.data.text import python_docs_sentences
from tailguard.errors import BadInputError, UnknownChoiceError

QUICK = AuditConfig(quick=True)


def _same(a: AuditReport, b: AuditReport) -> None:
    assert a.verdict == b.verdict
    assert [(r.name, r.status, r.value) for r in a.metrics] == [(r.name, r.status, r.value) for r in b.metrics]


@pytest.fixture(scope="module")
def text_frames():
    docs = python_docs_sentences()
    ref = pd.DataFrame({"text": docs[:300], "source": "docs"})
    cand = pd.DataFrame({"text": [docs[400 + i % 10] for i in range(300)], "source": "model"})
    return cand, ref


def test_a_series_of_strings_is_text_not_categories(text_frames):
    cand, ref = text_frames
    report = audit(cand["text"], ref["text"], config=QUICK)
    assert report.modality == "text"
    assert report.diagnosis.mode == "mode_collapse"
    _same(report, audit(list(cand["text"]), list(ref["text"]), config=QUICK))


def test_a_dataframe_with_a_text_column_is_its_documents(text_frames, tmp_path):
    cand, ref = text_frames
    by_frame = audit(cand, ref, config=QUICK)
    cand.to_csv(tmp_path / "cand.csv", index=False)
    ref.to_parquet(tmp_path / "ref.parquet")
    by_path = audit(Source(str(tmp_path / "cand.csv")), Source(str(tmp_path / "ref.parquet")), config=QUICK)
    assert by_frame.modality == "text"
    _same(by_frame, by_path)


def test_text_column_picks_the_documents():
    docs = python_docs_sentences()
    ref = pd.DataFrame({"body": docs[:200], "n": range(200)})
    cand = pd.DataFrame({"body": docs[200:400], "n": range(200)})
    assert audit(cand, ref, config=QUICK, text_column="body").modality == "text"
    assert audit(cand, ref, config=QUICK).modality == "vectors"  # without it: the numeric column
    with pytest.raises(UnknownChoiceError, match="Did you mean 'body'"):
        audit(cand, ref, text_column="bdy")


def test_a_dataframe_without_numbers_names_the_text_column():
    frame = pd.DataFrame({"content": ["a b", "c d"]})
    with pytest.raises(BadInputError, match="text_column='content'"):
        as_input(frame)


def test_a_numeric_dataframe_matches_its_csv(tmp_path):
    from sklearn.datasets import load_wine

    wine = load_wine(as_frame=True).frame.drop(columns=["target"])
    ref, cand = wine.iloc[::2], wine.iloc[1::2] * 0.9
    by_frame = audit(cand, ref, config=QUICK)
    ref.to_csv(tmp_path / "ref.csv", index=False)
    cand[list(reversed(cand.columns))].assign(origin="synthetic").to_csv(tmp_path / "cand.csv", index=False)
    by_path = audit(Source(str(tmp_path / "cand.csv")), Source(str(tmp_path / "ref.csv")), config=QUICK)
    _same(by_frame, by_path)
    assert by_frame.modality == "vectors"


def test_nan_in_a_dataframe_is_one_line_naming_the_row():
    frame = pd.DataFrame({"x": [1.0, np.nan, 3.0]})
    with pytest.raises(BadInputError, match="row 2"):
        as_input(frame, name="df")


def test_integer_and_float_series():
    assert as_input(pd.Series([1, 2, 2, 3])).modality == "categorical"
    side = as_input(pd.Series([0.5, 1.5, 2.0]))
    assert side.modality == "vectors" and side.vectors.shape == (3, 1)


def test_report_repr_is_short_and_has_notebook_views():
    rng = np.random.default_rng(0)
    report = audit(0.6 * rng.normal(size=(500, 4)), rng.normal(size=(500, 4)), config=QUICK)
    text = repr(report)
    assert len(text) < 300 and "verdict='collapse'" in text and "collapse" in text
    assert str(report) == text
    frame = report.to_pandas()
    assert list(frame["name"]) == [r.name for r in report.metrics]
    assert (frame.loc[frame["name"] == "tail_mass_0.01", "status"] == report.row("tail_mass_0.01").status).all()
    html = report._repr_html_()
    assert "<table>" in html and "tail_mass_0.01" in html and len(html) < 20000
    assert html.index(">collapse<") < html.index(">ok<")  # flagged rows first
