"""The export-format registry: built-in declarations, option and modality checks, plug-in formats (file,
entry point, reload), the CLI's --format."""

from __future__ import annotations

import contextlib
import doctest
import importlib
import sys
import textwrap

import pytest

from tailguard.cli.app import main
from tailguard.errors import BadInputError, ParameterError, RegistryConflictError, UnknownChoiceError
from tailguard.ledger import Box, Ledger, NewSample
from tailguard.ledger.export import (
    BUILTIN_EXPORT_FORMATS,
    EXPORT_FORMATS,
    ExportFormat,
    export_version,
    get_export_format,
    register_export_format,
    validate_export_format,
)
from tailguard.plugins import load_plugin, loaded_plugins
from tailguard.registry import RegistryReplacedWarning

PLUGIN = textwrap.dedent('''
    from tailguard.ledger.export import ExportFormat, atomic_path, register_export_format

    @register_export_format
    class Lines(ExportFormat):
        name = "{name}"
        modalities = ("text",)

        def write(self, job):
            target = job.out / "samples.lines"
            with atomic_path(target) as part, open(part, "w", encoding="utf-8") as handle:
                for row in job.rows():
                    handle.write(f"{{row['origin']}} {{row['text']}}\\n")
                    job.tick()
            return target
''')


def test_doctests() -> None:
    for name in ("tailguard.ledger.export.formats", "tailguard.ledger.export", "tailguard.ledger.export.base"):
        result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
        assert result.failed == 0 and result.attempted > 0, name


def test_the_builtin_formats_are_declared_as_before():
    from tailguard.cli.ledger import BUILTIN_EXPORT_NAMES, EXPORT_FORMAT_HELP

    assert set(BUILTIN_EXPORT_NAMES) == set(BUILTIN_EXPORT_FORMATS) <= set(EXPORT_FORMATS.names())
    assert all(name in EXPORT_FORMAT_HELP for name in BUILTIN_EXPORT_NAMES)
    formats = {name: get_export_format(name) for name in BUILTIN_EXPORT_FORMATS}
    for name, fmt in formats.items():
        assert validate_export_format(type(fmt)).name == name
        assert type(fmt).__module__ == BUILTIN_EXPORT_FORMATS[name]  # declared in its own writer module
    assert {n: f.modalities for n, f in formats.items() if f.modalities} == {
        "yolo": ("detection", "image"), "ultralytics-ndjson": ("detection", "image"), "hf": ("text", "tabular"), "csv": ("tabular",)}
    assert {n: f.options for n, f in formats.items() if f.options} == {
        "yolo": ("val_fraction", "val_from", "link", "task", "seed"), "ultralytics-ndjson": ("link",)}


def _text_version(ledger: Ledger, name: str = "t") -> None:
    ledger.add_samples([NewSample(content=t.encode(), uri=None, modality="text", origin=o)
                        for t, o in (("alpha", "human"), ("beta", "synthetic"))], as_version=name)


def test_options_a_format_does_not_take_are_refused_naming_the_formats_that_do(sqlite_ledger, tmp_path):
    _text_version(sqlite_ledger)
    cases = {"link": ({"link": True}, "format 'ultralytics-ndjson' or 'yolo' only. Got format 'jsonl'."),
             "seed": ({"seed": 3}, "format 'yolo' only. Got format 'jsonl'."),
             "task": ({"task": "detect"}, "format 'yolo' only. Got format 'jsonl'."),
             "val_from": ({"val_from": "t"}, "format 'yolo' only. Got format 'jsonl'.")}
    for key, (options, tail) in cases.items():
        with pytest.raises(ParameterError, match=rf"^The '{key}' parameter of export_version applies to {tail}$"):
            export_version(sqlite_ledger, "t", "jsonl", tmp_path / key, **options)
        assert not (tmp_path / key).exists()  # refused before anything is written
    assert export_version(sqlite_ledger, "t", "jsonl", tmp_path / "ok", seed=0, link=False).name == "samples.jsonl"
    with pytest.raises(UnknownChoiceError, match=r"^Unknown export format 'jsnl'. Did you mean 'jsonl'\?"):
        sqlite_ledger.export("t", "jsnl", tmp_path / "x")


@pytest.fixture
def lines_plugin(tmp_path):
    """A plug-in file registering the export format ``lines`` (text samples only); unregistered afterwards."""
    path = tmp_path / "tg_lines_export.py"
    path.write_text(PLUGIN.format(name="lines"))
    yield path
    with contextlib.suppress(UnknownChoiceError):
        EXPORT_FORMATS.unregister("lines")
    sys.modules.pop("tg_lines_export", None)


def test_a_plugin_format_writes_through_the_job_and_refuses_other_modalities(sqlite_ledger, tmp_path, lines_plugin):
    load_plugin(str(lines_plugin))
    assert "tg_lines_export" in [s.module for s in loaded_plugins()]  # sent to Ray workers like other plug-ins
    _text_version(sqlite_ledger)
    ticks: list[int] = []
    target = sqlite_ledger.export("t", "lines", tmp_path / "out", progress=ticks.append)
    assert sorted(target.read_text().splitlines()) == ["human alpha", "synthetic beta"] and ticks == [1, 1]
    image = tmp_path / "a.png"
    image.write_bytes(b"png bytes")
    sqlite_ledger.add_samples([NewSample(content=None, uri=str(image), modality="detection", origin="human",
                                         labels=(Box(0, .5, .5, .1, .1, "human"),))], as_version="mixed")
    sqlite_ledger.create_version("both", ["version:t", "version:mixed"])
    with pytest.raises(BadInputError, match=r"^both: --format lines exports text samples; sample \w+ is "
                                            r"detection \(formats that take detection: croissant, jsonl, parquet, "
                                            r"ultralytics-ndjson, yolo\)$"):
        sqlite_ledger.export("both", "lines", tmp_path / "both")
    assert list((tmp_path / "both").iterdir()) == []  # the half-written file was removed
    with pytest.raises(ParameterError, match=r"'val_fraction' parameter of export_version applies to format 'yolo' "
                                             r"only. Got format 'lines'"):
        sqlite_ledger.export("t", "lines", tmp_path / "vf", val_fraction=0.5)


class BoxCounts(ExportFormat):
    """Reads records and chosen labels through the job: one ``id count`` line per image."""

    name = "box-counts"
    modalities = ("detection",)

    def write(self, job):
        target = job.out / "counts.txt"
        target.write_text("".join(f"{rec.id} {len(job.labels(rec) or [])}\n" for rec in job.samples()))
        return target


def test_job_samples_and_labels_follow_the_chosen_origins_and_refuse_other_modalities(sqlite_ledger, tmp_path):
    register_export_format(BoxCounts)
    try:
        image = tmp_path / "a.png"
        image.write_bytes(b"png bytes")
        boxes = (Box(0, .5, .5, .1, .1, "human"), Box(1, .2, .2, .1, .1, "pseudo_label"),
                 Box(1, .7, .7, .1, .1, "pseudo_label"))
        sqlite_ledger.add_samples([NewSample(content=None, uri=str(image), modality="detection", origin="human",
                                             labels=boxes)], as_version="img")
        sid = next(sqlite_ledger.iter_samples("img")).id
        counts = {both: sqlite_ledger.export("img", "box-counts", tmp_path / both, both=both).read_text()
                  for both in ("prefer-human", "merge")}
        assert counts == {"prefer-human": f"{sid} 1\n", "merge": f"{sid} 3\n"}
        only = sqlite_ledger.export("img", "box-counts", tmp_path / "pl", origins=("pseudo_label",)).read_text()
        assert only == f"{sid} 2\n"
        _text_version(sqlite_ledger)
        with pytest.raises(BadInputError, match=r"^t: --format box-counts exports detection samples; sample \w+ is "
                                                r"text \(formats that take text: croissant, hf, jsonl, parquet\)$"):
            sqlite_ledger.export("t", "box-counts", tmp_path / "text")
    finally:
        EXPORT_FORMATS.unregister("box-counts")


def test_registering_again_replaces_with_a_warning_and_a_different_class_is_a_conflict(lines_plugin):
    module = load_plugin(str(lines_plugin))
    first = EXPORT_FORMATS.get("lines")
    with pytest.warns(RegistryReplacedWarning, match="export format 'lines' registered again"):
        exec(compile(lines_plugin.read_text(), str(lines_plugin), "exec"), module.__dict__)  # a notebook re-run
    assert EXPORT_FORMATS.get("lines") is not first

    class Other(ExportFormat):
        name = "lines"

        def write(self, job):
            return job.out

    with pytest.raises(RegistryConflictError, match="export format 'lines' is already registered"):
        register_export_format(Other)


def test_an_installed_format_loads_from_its_entry_point_on_first_use(tmp_path, monkeypatch, sqlite_ledger):
    (tmp_path / "tg_ep_export.py").write_text(PLUGIN.format(name="eplines"))
    dist = tmp_path / "tg_ep_export-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: tg-ep-export\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[tailguard.export_formats]\neplines = tg_ep_export\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    EXPORT_FORMATS.refresh_entry_points()
    try:
        assert "eplines" in EXPORT_FORMATS.names() and "tg_ep_export" not in sys.modules
        _text_version(sqlite_ledger)
        target = sqlite_ledger.export("t", "eplines", tmp_path / "out")
        assert "tg_ep_export" in sys.modules and len(target.read_text().splitlines()) == 2
    finally:
        with contextlib.suppress(UnknownChoiceError):
            EXPORT_FORMATS.unregister("eplines")
        EXPORT_FORMATS.refresh_entry_points()
        sys.modules.pop("tg_ep_export", None)


@pytest.mark.parametrize(("attrs", "message"), [
    ({"name": "Bad"}, "needs a name of lower-case letters"),
    ({"name": ""}, "needs a name of lower-case letters"),
    ({"write": None}, r"does not implement write\(job\)"),
    ({"modalities": ("audio",)}, "modalities must be a tuple of text, image, detection, tabular, vector"),
    ({"modalities": "text"}, "modalities must be a tuple"),
    ({"options": ("origins",)}, "options must be a tuple of val_fraction, val_from, link, task, seed"),
    ({"summary": None}, "summary must be a str"),
])
def test_validate_export_format_names_what_is_wrong(attrs, message):
    body = {"name": "okfmt", "write": lambda self, job: job.out, **attrs}
    with pytest.raises(ParameterError, match=message):
        validate_export_format(type("Fmt", (ExportFormat,), body))
    with pytest.raises(ParameterError, match=r"must be a subclass of tailguard\.ledger\.export\.ExportFormat"):
        validate_export_format(object)


def test_cli_exports_through_a_plugin_and_names_an_unknown_format_in_one_line(tmp_path, lines_plugin, sqlite_url,
                                                                               capsys):
    with Ledger.open(sqlite_url) as ledger:
        _text_version(ledger)
    out = tmp_path / "out"
    assert main(["--ledger", sqlite_url, "--plugin", str(lines_plugin), "export", "t", "--format", "lines",
                 "--out", str(out)]) == 0
    assert f"exported 't' as lines: {out / 'samples.lines'}" in capsys.readouterr().out
    assert main(["--ledger", sqlite_url, "export", "t", "--format", "lnes", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Unknown export format 'lnes'. Did you mean 'lines'?" in err, err
    assert main(["--ledger", sqlite_url, "export", "t", "--format", "jsonl", "--link", "--out", str(tmp_path / "y")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "applies to format 'lines'" not in err and "'ultralytics-ndjson' or 'yolo'" in err
