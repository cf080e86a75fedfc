"""The ingest-format registry: built-in declarations, --format auto, plug-in formats (file, entry point, reload)."""

from __future__ import annotations

import contextlib
import doctest
import importlib
import json
import sys
import textwrap
import warnings

import numpy as np
import pytest

from tailguard.cli.app import main
from tailguard.errors import ParameterError, RegistryConflictError, UnknownChoiceError
from tailguard.ledger import Ledger
from tailguard.ledger.ingest import (
    INGEST_FORMATS,
    IngestFormat,
    detect_format,
    get_ingest_format,
    open_reader,
    validate_ingest_format,
)
from tailguard.ledger.ingest.base import IngestOptions
from tailguard.ledger.ingest.formats import BUILTIN_INGEST_FORMATS
from tailguard.plugins import load_plugin
from tailguard.registry import RegistryReplacedWarning

PLUGIN = textwrap.dedent('''
    from tailguard.ledger.ingest import Item, IngestFormat, register_ingest_format
    from tailguard.ledger.types import NewSample

    @register_ingest_format
    class Lines(IngestFormat):
        name = "{name}"
        suffixes = ("{suffix}",)
        input = "file"

        def open(self, path, options):
            for number, line in enumerate(path.read_text().splitlines(), start=1):
                sample = NewSample(content=line.encode(), uri=None, modality="text",
                                   origin=options.origin or "unknown", extra={{"line": number}})
                yield Item(sample, f"{{path}}:{{number}}")
''')


def test_doctests() -> None:
    module = importlib.import_module("tailguard.ledger.ingest.formats")
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0


def test_the_builtin_formats_are_declared_as_before():
    from tailguard.cli.ledger import BUILTIN_INGEST_NAMES, INGEST_FORMAT_HELP

    assert set(BUILTIN_INGEST_NAMES) == set(BUILTIN_INGEST_FORMATS) <= set(INGEST_FORMATS.names())
    assert all(name in INGEST_FORMAT_HELP for name in BUILTIN_INGEST_NAMES)
    formats = {name: get_ingest_format(name) for name in BUILTIN_INGEST_FORMATS}
    for fmt in formats.values():
        validate_ingest_format(type(fmt))
    assert {n for n, f in formats.items() if f.validates_provenance} == {"jsonl", "csv", "parquet", "hf",
                                                                         "ultralytics-ndjson"}
    assert {n: f.input for n, f in formats.items() if f.input != "any"} == {
        "images": "folder", "jsonl": "file", "csv": "file", "parquet": "file", "npy": "file",
        "ultralytics-ndjson": "file"}
    assert {n: f.options for n, f in formats.items() if f.options} == {
        "yolo": ("task",), "hf": ("origin_column", "generator_column", "generation_column")}


def test_auto_detection_by_suffix_and_layout(tmp_path):
    cases = {"a.jsonl": "jsonl", "b.NDJSON": "jsonl", "c.csv": "csv", "d.parquet": "parquet", "e.pq": "parquet",
             "f.npy": "npy", "data.yaml": "yolo", "g.yml": "yolo"}
    for name, expected in cases.items():
        (tmp_path / name).write_text("x\n")
        assert detect_format(tmp_path / name) == expected, name
    (tmp_path / "p.ndjson").write_text(json.dumps({"type": "dataset", "task": "detect"}) + "\n")
    assert detect_format(tmp_path / "p.ndjson") == "ultralytics-ndjson"
    (tmp_path / "x.tsv").write_text("a\n")
    with pytest.raises(UnknownChoiceError, match=r"Unknown file suffix '\.tsv'. Did you mean '\.csv'"):
        detect_format(tmp_path / "x.tsv")
    folders = {"hf": ["state.json"], "hfdict": ["dataset_dict.json", "data.yaml"], "yolo": ["data.yaml"],
               "tree": ["images/", "labels/"], "cls": ["train/cat/", "train/dog/"], "pics": ["images/"]}
    for folder, entries in folders.items():
        for entry in entries:
            target = tmp_path / folder / entry
            target.mkdir(parents=True) if entry.endswith("/") else (target.parent.mkdir(parents=True, exist_ok=True),
                                                                    target.write_text("{}"))
    (tmp_path / "cls" / "train" / "cat" / "a.png").write_bytes(b"")
    (tmp_path / "cls" / "train" / "dog" / "b.png").write_bytes(b"")
    got = {folder: detect_format(tmp_path / folder) for folder in folders}
    assert got == {"hf": "hf", "hfdict": "hf", "yolo": "yolo", "tree": "yolo", "cls": "yolo", "pics": "images"}


def test_format_flags_and_input_kinds_are_refused_in_one_line(tmp_path):
    (tmp_path / "a.csv").write_text("text\nhello\n")
    with pytest.raises(ParameterError, match=r"^--task applies to --format yolo only. Got --format csv.$"):
        open_reader(tmp_path / "a.csv", "csv", IngestOptions(task="detect"))
    with pytest.raises(ParameterError, match=r"^--generator-column applies to --format hf only. Got --format csv"):
        open_reader(tmp_path / "a.csv", "csv", IngestOptions(generator_column="g"))
    with pytest.raises(ParameterError, match=r"--format csv needs a file. Got the folder"):
        open_reader(tmp_path, "csv", IngestOptions())
    with pytest.raises(ParameterError, match=r"--format images needs a folder. Got the file"):
        open_reader(tmp_path / "a.csv", "images", IngestOptions())
    with pytest.raises(UnknownChoiceError, match=r"^Unknown format 'jsnl'. Did you mean 'jsonl'\?"):
        get_ingest_format("jsnl")


@pytest.fixture
def lines_plugin(tmp_path):
    """A plug-in file registering the format ``lines`` (suffix .lines); unregistered afterwards."""
    path = tmp_path / "tg_lines_plugin.py"
    path.write_text(PLUGIN.format(name="lines", suffix=".lines"))
    yield path
    with contextlib.suppress(UnknownChoiceError):
        INGEST_FORMATS.unregister("lines")
    sys.modules.pop("tg_lines_plugin", None)


def test_a_plugin_format_is_detected_read_and_checked_by_the_ledger(tmp_path, lines_plugin, sqlite_url):
    load_plugin(str(lines_plugin))
    data = tmp_path / "notes.lines"
    data.write_text("one\ntwo\none\n")
    assert detect_format(data) == "lines" and not get_ingest_format("lines").validates_provenance
    with Ledger.open(sqlite_url) as ledger:
        report = ledger.ingest(data, origin="human", as_version="v1")
        assert (report.occurrences, report.added, report.duplicates) == (3, 2, 1)
        records = list(ledger.iter_samples("v1"))
        assert sorted(ledger.read_bytes(r).decode() for r in records) == ["one", "one", "two"]  # occurrences
        assert {r.origin for r in records} == {"human"} and {r.generation for r in records} == {0}
        with pytest.raises(ParameterError, match=r"--task applies to --format yolo only. Got --format lines"):
            ledger.ingest(data, task="detect")


def test_registering_again_replaces_with_a_warning_and_a_different_class_is_a_conflict(lines_plugin):
    module = load_plugin(str(lines_plugin))
    first = INGEST_FORMATS.get("lines")
    with pytest.warns(RegistryReplacedWarning, match="format 'lines' registered again"):
        exec(compile(lines_plugin.read_text(), str(lines_plugin), "exec"), module.__dict__)  # a notebook re-run
    assert INGEST_FORMATS.get("lines") is not first

    class Other(IngestFormat):
        name = "lines"

        def open(self, path, options):
            return iter(())

    from tailguard.ledger.ingest import register_ingest_format

    with pytest.raises(RegistryConflictError, match="format 'lines' is already registered"):
        register_ingest_format(Other)


def test_an_installed_format_loads_from_its_entry_point_on_first_use(tmp_path, monkeypatch):
    (tmp_path / "tg_ep_format.py").write_text(PLUGIN.format(name="epfmt", suffix=".epl"))
    dist = tmp_path / "tg_ep_format-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: tg-ep-format\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[tailguard.ingest_formats]\nepfmt = tg_ep_format\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    INGEST_FORMATS.refresh_entry_points()
    try:
        assert "epfmt" in INGEST_FORMATS.names() and "tg_ep_format" not in sys.modules
        (tmp_path / "x.epl").write_text("a\n")
        assert detect_format(tmp_path / "x.epl") == "epfmt"  # auto loads every format, installed ones too
        assert [i.sample.content for i in open_reader(tmp_path / "x.epl", "epfmt", IngestOptions())] == [b"a"]
    finally:
        with contextlib.suppress(UnknownChoiceError):
            INGEST_FORMATS.unregister("epfmt")
        INGEST_FORMATS.refresh_entry_points()
        sys.modules.pop("tg_ep_format", None)


def test_two_formats_of_one_priority_claiming_a_path_ask_for_format(tmp_path, lines_plugin):
    load_plugin(str(lines_plugin))

    class Rival(IngestFormat):
        name = "rival-lines"
        suffixes = (".lines",)

        def open(self, path, options):
            return iter(())

    from tailguard.ledger.ingest import register_ingest_format

    register_ingest_format(Rival)
    try:
        (tmp_path / "a.lines").write_text("x\n")
        with pytest.raises(ParameterError, match=r"recognised as format 'lines' and as 'rival-lines'; pass --format"):
            detect_format(tmp_path / "a.lines")
    finally:
        INGEST_FORMATS.unregister("rival-lines")


@pytest.mark.parametrize(("attrs", "message"), [
    ({"name": "auto"}, "needs a name of lower-case letters"),
    ({"name": "Bad"}, "needs a name of lower-case letters"),
    ({"suffixes": ("tsv",)}, "suffixes must be a tuple of lower-case suffixes"),
    ({"suffixes": ".tsv"}, "suffixes must be a tuple"),
    ({"validates_provenance": 1}, "validates_provenance must be True or False"),
    ({"priority": 1.5}, "priority must be an int"),
    ({"input": "stream"}, "input 'stream' is not one of file, folder, any"),
    ({"options": ("text_column",)}, "options must be a tuple of task, origin_column"),
])
def test_validate_ingest_format_names_what_is_wrong(attrs, message):
    body = {"name": "okfmt", "open": lambda self, path, options: iter(()), **attrs}
    with pytest.raises(ParameterError, match=message):
        validate_ingest_format(type("Fmt", (IngestFormat,), body))
    with pytest.raises(ParameterError, match=r"must be a subclass of tailguard\.ledger\.ingest\.IngestFormat"):
        validate_ingest_format(object)


def test_cli_reads_a_plugin_format_and_names_an_unknown_one_in_one_line(tmp_path, lines_plugin, sqlite_url, capsys):
    data = tmp_path / "notes.lines"
    data.write_text("alpha\nbeta\n")
    assert main(["--ledger", sqlite_url, "--plugin", str(lines_plugin), "ingest", str(data), "--origin", "human"]) == 0
    assert "2 samples; 2 new" in capsys.readouterr().out
    assert main(["--ledger", sqlite_url, "ingest", str(data), "--format", "lnes"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Unknown format 'lnes'. Did you mean 'lines'?" in err


def test_every_builtin_format_reads_a_tiny_file_through_the_registry(tmp_path):
    (tmp_path / "a.jsonl").write_text(json.dumps({"text": "hi", "origin": "human"}) + "\n")
    np.save(tmp_path / "a.npy", np.arange(6, dtype=np.float64).reshape(3, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = {fmt: len(list(open_reader(tmp_path / f"a.{fmt}", fmt, IngestOptions()))) for fmt in ("jsonl", "npy")}
    assert got == {"jsonl": 1, "npy": 3}
