"""Hugging Face datasets in and out: Arrow-batch ingest with per-row provenance, the dataset card, the export,
and the audit of a dataset object.

The tests under "with datasets" use the real ``datasets`` package (the ``hf`` extra: ``Dataset.from_dict``,
``save_to_disk``, ``load_from_disk``, ``load_dataset``, ``IterableDataset``); the others exercise the same
reader through ``pyarrow`` tables, which is what a ``Dataset`` hands over batch by batch, and one hides
``datasets`` to check the message shown when it is missing.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tailguard.audit import audit
from tailguard.audit.sources import Source
from tailguard.cli.app import main
from tailguard.dependencies import is_available
from tailguard.errors import BadInputError, MissingDependencyError, ParameterError, UnknownChoiceError
from tailguard.integrations.huggingface.card import ProvenanceCounts, card_header, render_card
from tailguard.ledger import Ledger, NewSample
from tailguard.ledger.ingest.base import IngestOptions
from tailguard.ledger.ingest.hf import BATCH_ROWS, SplitBatches, read_splits


def _table() -> pa.Table:
    return pa.table({
        "text": ["a cat sat", "a dog ran", "a cat sat", "the bird sang"],
        "origin": ["human", "synthetic", None, "synthetic"],
        "model_name": [None, "gpt2-tiny", None, "llama-mini"],
        "gen": [0, 1, None, 2],
        "score": [0.5, 0.1, 0.5, 0.9],
    })


# ------------------------------------------------------------------------------ ingest (Arrow)
def test_per_row_provenance_from_columns_else_the_flags(sqlite_ledger: Ledger):
    report = sqlite_ledger.ingest(_table(), origin="human", generator_column="model_name", generation_column="gen",
                                  generation=0, as_version="v")
    assert (report.added, report.duplicates, report.occurrences) == (3, 1, 4)
    assert [c.detail.split(" says ", 1)[1] for c in report.conflicts] == [
        "synthetic but --origin says human"] * 2  # a row's own origin against the flag: recorded, never resolved
    recs = sorted(sqlite_ledger.iter_samples("v"), key=lambda r: r.extra["row"])
    assert [(r.origin, r.generator, r.generation) for r in recs] == [
        ("human", None, 0), ("human", None, 0), ("synthetic", "gpt2-tiny", 1), ("synthetic", "llama-mini", 2)]
    assert {r.modality for r in recs} == {"text"} and recs[0].extra["score"] == 0.5
    again = sqlite_ledger.ingest(_table(), origin="human", generator_column="model_name", generation_column="gen")
    assert again.added == 0 and again.existing == 3 and again.duplicates == 1


def test_without_columns_the_flags_apply_to_every_row(sqlite_ledger: Ledger):
    table = pa.table({"text": ["x y", "z w"]})
    sqlite_ledger.ingest(table, origin="synthetic", generator="gpt2", generation=3, as_version="v")
    assert {(r.origin, r.generator, r.generation) for r in sqlite_ledger.iter_samples("v")} == {
        ("synthetic", "gpt2", 3)}


def test_rows_without_a_text_column_are_tabular_samples_like_a_parquet_row(sqlite_ledger: Ledger, tmp_path: Path):
    table = pa.table({"x": [1.0, 2.0, 3.0], "y": [4, 5, 6], "origin": ["human"] * 3})
    pq.write_table(table, tmp_path / "t.parquet")
    from_file = sqlite_ledger.ingest(tmp_path / "t.parquet", as_version="file")
    from_table = sqlite_ledger.ingest(table, as_version="table")
    assert from_file.added == 3 and from_table.added == 0  # the same canonical JSON rows, the same ids
    assert sorted(from_file.sample_ids) == sorted(from_table.sample_ids)


def test_a_dataframe_ingests_as_its_arrow_table(sqlite_ledger: Ledger):
    table = _table()
    from_table = sqlite_ledger.ingest(table, generator_column="model_name", generation_column="gen")
    from_frame = sqlite_ledger.ingest(table.to_pandas(), generator_column="model_name", generation_column="gen")
    assert from_frame.sample_ids == from_table.sample_ids and from_frame.added == 0


def test_bad_inputs_are_one_line_errors(sqlite_ledger: Ledger):
    with pytest.raises(UnknownChoiceError, match=r"Unknown origin column 'source'"):
        sqlite_ledger.ingest(_table(), origin_column="source")
    with pytest.raises(BadInputError, match=r"the text column 'gen' holds int64, not strings"):
        sqlite_ledger.ingest(_table(), text_column="gen")
    with pytest.raises(UnknownChoiceError, match=r"\[?:?1?.*Unknown origin 'humanish'. Did you mean 'human'"):
        sqlite_ledger.ingest(pa.table({"text": ["a", "b"], "origin": ["human", "humanish"]}))
    err = None
    try:
        sqlite_ledger.ingest(pa.table({"text": ["a", "b"], "origin": ["human", "humanish"]}))
    except UnknownChoiceError as exc:
        err = str(exc)
    assert err is not None and err.startswith("arrow:Table(2 rows):1: ") and "\n" not in err
    skipped = sqlite_ledger.ingest(pa.table({"text": ["a", "b"], "origin": ["human", "humanish"]}), skip_bad=True)
    assert skipped.occurrences == 1 and len(skipped.skipped) == 1
    with pytest.raises(ParameterError, match="--origin-column applies to --format hf only"):
        sqlite_ledger.ingest(Path(__file__), format="jsonl", origin_column="o")
    with pytest.raises(BadInputError, match="cannot ingest a dict"):
        sqlite_ledger.ingest({"text": ["a"]})


def test_a_tampered_export_row_is_refused(sqlite_ledger: Ledger):
    from tailguard.ledger.hashing import content_id

    table = pa.table({"text": ["kept", "edited"], "tg_sample_id": [content_id(b"kept"), content_id(b"original")]})
    with pytest.raises(BadInputError, match=r":1: tg_sample_id .* does not match the row's content"):
        sqlite_ledger.ingest(table)


def test_rows_are_read_one_batch_at_a_time():
    pulled: list[int] = []
    schema = pa.schema([("text", pa.string())])

    def batches():
        for k in range(3):
            pulled.append(k)
            yield pa.record_batch([pa.array([f"doc {k} {i}" for i in range(BATCH_ROWS)])], schema=schema)

    reader = read_splits([SplitBatches("train", schema, batches())], IngestOptions(origin="human"),
                         where="big", source="big")
    first = next(reader)
    assert pulled == [0] and first.sample.extra == {"row": 0, "split": "train"}
    for _ in range(BATCH_ROWS):
        next(reader)
    assert pulled == [0, 1]  # the second batch is read only once the first one's rows are used


# ------------------------------------------------------------------------------ card
def test_card_header_and_body_come_from_the_counts():
    stats = ProvenanceCounts()
    for _ in range(3):
        stats.add("human", None, 0, (), "/data/a.jsonl", "train", verified=False)
    stats.add("synthetic", "gpt2-tiny", 1, (), "hf:gen@1", "test", verified=False)
    header = card_header(stats)
    assert header["language_creators"] == ["found", "machine-generated"]
    assert header["annotations_creators"] == ["found", "machine-generated"]
    assert header["source_datasets"] == ["/data/a.jsonl", "hf:gen@1"] and header["size_categories"] == ["n<1K"]
    card = render_card(stats, "mix", "abc123", modality="text")
    assert card.startswith("---\n") and "| human | 3 | 75.0% |" in card and "| synthetic | 1 | 25.0% |" in card
    assert "25.0% of the rows are synthetic" in card and "| 1 | synthetic | 1 |" in card and "| gpt2-tiny | 1 |" in card
    human_only = ProvenanceCounts()
    human_only.add("human", None, 0, (), None, None, verified=True)
    assert card_header(human_only)["language_creators"] == ["found"]
    assert card_header(human_only)["annotations_creators"] == ["expert-generated"]
    assert card_header(human_only)["source_datasets"] == ["original"]


# ------------------------------------------------------------------------------ audit
def test_audit_of_an_arrow_table_equals_the_dataframe_the_parquet_and_the_version(sqlite_url: str, tmp_path: Path):
    rng = np.random.default_rng(0)
    ref = pa.table({"x": rng.normal(size=300), "y": rng.normal(size=300)})
    cand_frame = pd.DataFrame({"x": rng.normal(size=200) * 0.3, "y": rng.normal(size=200) * 0.3})
    cand = pa.Table.from_pandas(cand_frame, preserve_index=False)
    pq.write_table(cand, tmp_path / "c.parquet")
    with Ledger.open(sqlite_url) as ledger:
        ledger.ingest(tmp_path / "c.parquet", origin="synthetic", as_version="cand")
    tagged = cand.append_column("tg_generation", pa.array([1] * 200))  # an export's provenance column is no feature
    reports = [audit(c, ref, seed=1) for c in (cand, tagged, cand_frame, Source(str(tmp_path / "c.parquet")),
                                               Source("cand", ledger_url=sqlite_url))]
    first = reports[0]
    assert first.verdict in ("warn", "collapse")
    for other in reports[1:]:
        assert other.verdict == first.verdict
        assert [(m.name, m.value) for m in other.metrics] == [(m.name, m.value) for m in first.metrics]


def test_text_audit_of_an_arrow_table_and_a_dataset_equals_the_jsonl_and_the_version(sqlite_url: str, tmp_path: Path):
    from tailguard.data import python_docs_paragraphs

    docs = python_docs_paragraphs()
    reference = docs[:300]
    candidate = [d[: len(d) // 3] for d in docs[300:500]] + docs[300:310]  # shortened, with repeats
    table = pa.table({"text": candidate, "tg_origin": ["synthetic"] * len(candidate)})
    (tmp_path / "c.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in candidate))
    with Ledger.open(sqlite_url) as ledger:
        ledger.ingest(table, as_version="cand")
    import datasets

    dataset = datasets.Dataset.from_dict({"text": candidate})
    reports = [audit(c, reference, seed=2) for c in (table, dataset, Source(str(tmp_path / "c.jsonl")),
                                                       Source("cand", ledger_url=sqlite_url))]
    for other in reports[1:]:
        assert other.verdict == reports[0].verdict
        assert [(m.name, m.value) for m in other.metrics] == [(m.name, m.value) for m in reports[0].metrics]
    assert reports[0].verdict in ("warn", "collapse")


# ------------------------------------------------------------------------------ without datasets
def test_missing_datasets_is_one_line_with_the_install_hint(sqlite_ledger: Ledger, tmp_path: Path, monkeypatch):
    monkeypatch.setitem(sys.modules, "datasets", None)  # an import of datasets now fails as when it is not installed
    assert not is_available("datasets")
    folder = tmp_path / "saved"
    folder.mkdir()
    (folder / "state.json").write_text("{}")
    with pytest.raises(MissingDependencyError, match=r"pip install 'tailguard\[hf\]'"):
        sqlite_ledger.ingest(folder)  # auto: a save_to_disk folder is format hf
    sqlite_ledger.add_samples([NewSample(content=b"t", uri=None, modality="text", origin="human")], as_version="v")
    with pytest.raises(MissingDependencyError, match=r"export --format hf needs"):
        sqlite_ledger.export("v", "hf", tmp_path / "out")


# ------------------------------------------------------------------------------ with datasets
def _mixed_dict():  # type: ignore[no-untyped-def]
    import datasets

    train = datasets.Dataset.from_dict({"text": ["a human line", "another human line", "a model line"],
                                        "model_name": [None, None, "gpt2-tiny"],
                                        "origin": ["human", "human", "synthetic"]})
    test = datasets.Dataset.from_dict({"text": ["held out human line"], "model_name": [None],
                                       "origin": ["human"]})
    return datasets.DatasetDict({"train": train, "test": test})


def test_dataset_dict_splits_become_one_version_with_split_labels(sqlite_ledger: Ledger):
    report = sqlite_ledger.ingest(_mixed_dict(), generator_column="model_name", as_version="v")
    assert report.added == 4
    recs = {r.extra["split"]: r for r in sqlite_ledger.iter_samples("v") if r.generator}
    assert set(recs) == {"train"} and recs["train"].origin == "synthetic"
    assert sorted(r.extra["split"] for r in sqlite_ledger.iter_samples("v")) == ["test", "train", "train", "train"]


def test_iterable_and_shuffled_datasets_read_through_arrow(sqlite_ledger: Ledger):
    import datasets

    ds = datasets.Dataset.from_dict({"text": [f"line {i}" for i in range(50)]})
    picked = ds.shuffle(seed=0).select(range(10))  # an indices mapping: only the selected rows
    assert sqlite_ledger.ingest(picked, origin="human").added == 10
    iterable = ds.to_iterable_dataset()
    assert sqlite_ledger.ingest(iterable, origin="human").added == 40


def test_save_to_disk_cli_ingest_export_and_reingest(capsys, sqlite_url: str, tmp_path: Path):
    import datasets

    saved = tmp_path / "saved"
    _mixed_dict().save_to_disk(str(saved))
    code = main(["--ledger", sqlite_url, "ingest", str(saved), "--format", "hf", "--generator-column", "model_name",
                 "--as-version", "v", "--json"])
    out = capsys.readouterr().out
    assert code == 0 and json.loads(out)["added"] == 4
    exported = tmp_path / "exported"
    assert main(["--ledger", sqlite_url, "export", "v", "--format", "hf", "--out", str(exported)]) == 0
    back = datasets.load_from_disk(str(exported))
    assert set(back) == {"train", "test"}
    assert {"text", "tg_sample_id", "tg_origin", "tg_generator", "tg_generation"} <= set(back["train"].column_names)
    assert sorted(back["train"]["tg_origin"]) == ["human", "human", "synthetic"]
    card = (exported / "README.md").read_text()
    assert "machine-generated" in card.split("---")[1] and "| synthetic | 1 | 25.0% |" in card
    capsys.readouterr()
    code = main(["--ledger", sqlite_url, "ingest", str(exported), "--json"])
    assert code == 0 and json.loads(capsys.readouterr().out)["added"] == 0


def test_local_data_files_go_through_the_same_path(sqlite_ledger: Ledger, tmp_path: Path):
    import datasets

    (tmp_path / "a.csv").write_text("text,origin\nfirst line,human\nsecond line,synthetic\n")
    (tmp_path / "a.txt").write_text("first line\nthird line\n")
    loaded = datasets.load_dataset("csv", data_files=str(tmp_path / "a.csv"))
    assert sqlite_ledger.ingest(loaded).added == 2
    report = sqlite_ledger.ingest(tmp_path / "a.txt", format="hf", origin="human")
    assert report.added == 1 and report.existing == 1  # "first line" is the same text sample


def test_audit_of_a_dataset_equals_its_path_dataframe_and_version(sqlite_url: str, tmp_path: Path):
    import datasets

    rng = np.random.default_rng(0)
    ref = pd.DataFrame({"x": rng.normal(size=300), "y": rng.normal(size=300)})
    frame = pd.DataFrame({"x": rng.normal(size=200) * 0.3, "y": rng.normal(size=200) * 0.3})
    ds = datasets.Dataset.from_pandas(frame, preserve_index=False)
    ds.save_to_disk(str(tmp_path / "saved"))
    frame.to_parquet(tmp_path / "c.parquet", index=False)
    with Ledger.open(sqlite_url) as ledger:
        ledger.ingest(ds, origin="synthetic", as_version="cand")
    reports = [audit(c, ref, seed=1) for c in (ds, frame, Source(str(tmp_path / "c.parquet")),
                                               Source(str(tmp_path / "saved")), Source("cand", ledger_url=sqlite_url))]
    for other in reports[1:]:
        assert other.verdict == reports[0].verdict
        assert [(m.name, m.value) for m in other.metrics] == [(m.name, m.value) for m in reports[0].metrics]
    assert reports[0].verdict in ("warn", "collapse")  # the candidate lost most of the spread: not a trivial match


# ------------------------------------------------------------------------------ CLI
def test_cli_column_flags_and_export_formats(capsys, sqlite_url: str, tmp_path: Path):
    texts = tmp_path / "t.jsonl"
    texts.write_text('{"text": "a human line", "origin": "human"}\n'
                     '{"text": "a model line", "origin": "synthetic", "generator": "gpt2-tiny", "generation": 1}\n')
    code = main(["--ledger", sqlite_url, "ingest", str(texts), "--origin-column", "origin"])
    err = capsys.readouterr().err
    assert code == 2 and err.strip().count("\n") == 0 and "--origin-column applies to --format hf only" in err
    assert main(["--ledger", sqlite_url, "ingest", str(texts), "--as-version", "v"]) == 0
    capsys.readouterr()
    assert main(["--ledger", sqlite_url, "export", "v", "--format", "croissant", "--out", str(tmp_path / "c")]) == 0
    doc = json.loads((tmp_path / "c" / "croissant.json").read_text())
    assert doc["conformsTo"] == "http://mlcommons.org/croissant/1.1" and "1 synthetic (50.0%)" in doc[
        "rai:dataCollection"]
    code = main(["--ledger", sqlite_url, "export", "v", "--format", "ultralytics-ndjson", "--out", str(tmp_path / "n")])
    err = capsys.readouterr().err
    assert code == 2 and "--format ultralytics-ndjson exports images" in err


# ------------------------------------------------------------------------------ export plan (no datasets needed)
def test_export_plan_columns_splits_and_refusals(sqlite_ledger: Ledger):
    from tailguard.integrations.huggingface.export import export_plan

    sqlite_ledger.ingest(pa.table({"text": ["a", "b", "c"], "origin": ["human", "synthetic", "human"],
                                   "generator": [None, "gpt2-tiny", None]}), as_version="text")
    schema, modality, by_split, stats = export_plan(sqlite_ledger, "text")
    assert schema.names == ["text", "tg_sample_id", "tg_origin", "tg_generator", "tg_generation", "tg_parents"]
    assert modality == "text" and not by_split and stats.n == 3 and stats.by_origin["synthetic"] == 1
    sqlite_ledger.ingest(pa.table({"y": [1, 2], "x": [0.5, None]}), origin="human", as_version="rows")
    schema, modality, _, _ = export_plan(sqlite_ledger, "rows")
    assert modality == "tabular" and schema.names[:2] == ["x", "y"] and str(schema.field("x").type) == "double"
    sqlite_ledger.create_version("both", ["version:text", "version:rows"])
    with pytest.raises(BadInputError, match="mixes text and tabular samples"):
        export_plan(sqlite_ledger, "both")
    sqlite_ledger.add_samples([NewSample(content=b"s", uri=None, modality="text", origin="human",
                                         extra={"split": "train/x"})], as_version="badsplit")
    with pytest.raises(BadInputError, match="split name 'train/x' is not a datasets split name"):
        export_plan(sqlite_ledger, "badsplit")


def test_format_hf_refuses_what_datasets_would_not_read(capsys, sqlite_url: str, tmp_path: Path):
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "a.txt").write_text("x\n")
    code = main(["--ledger", sqlite_url, "ingest", str(plain), "--format", "hf"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err and "not a datasets save_to_disk folder" in err
    odd = tmp_path / "a.xyz"
    odd.write_text("x")
    code = main(["--ledger", sqlite_url, "ingest", str(odd), "--format", "hf"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "Unknown file suffix for --format hf '.xyz'" in err
