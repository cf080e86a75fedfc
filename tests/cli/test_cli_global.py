"""Global options: --version, and --ledger / --debug before or after the subcommand."""

from __future__ import annotations

import importlib.metadata
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer.main

import tailguard
from tailguard.cli.app import app, hoist_global_options, main, package_version


@pytest.fixture
def texts(tmp_path: Path) -> Path:
    path = tmp_path / "t.jsonl"
    path.write_text('{"text": "a human line"}\n{"text": "another human line"}\n')
    return path


@pytest.fixture
def url_with_v1(tmp_path: Path, texts: Path, capsys: pytest.CaptureFixture[str]) -> str:
    url = f"sqlite:///{tmp_path / 'l.db'}"
    assert main(["--ledger", url, "ingest", str(texts), "--origin", "human", "--as-version", "v1"]) == 0
    capsys.readouterr()
    return url


def test_version_prints_the_distribution_version_and_exits_0(capsys):
    assert main(["--version"]) == 0
    out = capsys.readouterr().out
    assert re.fullmatch(r"tailguard \d+\.\d+\.\d+\S*\n", out)
    try:
        expected = importlib.metadata.version("tailguard")
    except importlib.metadata.PackageNotFoundError:
        expected = tailguard.__version__
    assert out == f"tailguard {expected}\n" and package_version() == expected


def test_version_is_fast_and_loads_no_library():
    code = ("import sys; from tailguard.cli.app import main; code = main(['--version']); "
            "print(code, sorted(m for m in ('sqlalchemy', 'numpy', 'rich.console') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60).stdout
    assert out.splitlines()[-1] == "0 []"
    proc = subprocess.run([sys.executable, "-m", "tailguard.cli.app", "--version"], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0 and proc.stdout.startswith("tailguard ") and proc.stderr == ""


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["version", "list", "--ledger", "U"], ["--ledger", "U", "version", "list"]),
        (["version", "list", "--ledger=U", "--debug"], ["--ledger=U", "--debug", "version", "list"]),
        (["--debug", "lineage", "v1", "--json"], ["--debug", "lineage", "v1", "--json"]),
        (["ingest", "x", "--", "--debug"], ["ingest", "x", "--", "--debug"]),
        (["version", "list", "--ledger"], ["--ledger", "version", "list"]),
    ],
)
def test_hoist_global_options(argv, expected):
    assert hoist_global_options(argv) == expected


@pytest.mark.parametrize(
    "command",
    [
        ["version", "list", "--json"],
        ["version", "show", "v1"],
        ["version", "verify", "v1"],
        ["lineage", "v1"],
        ["runs", "list"],
        ["gate", "v1"],
    ],
)
def test_ledger_option_before_or_after_the_command(capsys, url_with_v1, command, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # the default ledger would be ./.tailguard/ledger.db: it must not be used
    monkeypatch.delenv("TAILGUARD_LEDGER", raising=False)
    outputs = []
    for argv in (["--ledger", url_with_v1, *command], [*command, "--ledger", url_with_v1],
                 [command[0], f"--ledger={url_with_v1}", *command[1:]]):
        code = main(argv)
        captured = capsys.readouterr()
        assert code == 0, (argv, captured.err)
        outputs.append(captured.out)
    assert outputs[0] == outputs[1] == outputs[2]
    assert not (tmp_path / ".tailguard").exists()


def test_writers_take_the_ledger_option_after_the_command(capsys, tmp_path, texts):
    url = f"sqlite:///{tmp_path / 'after.db'}"
    assert main(["init", "--ledger", url]) == 0
    assert main(["ingest", str(texts), "--origin", "human", "--as-version", "v1", "--ledger", url]) == 0
    assert main(["version", "create", "v2", "--from", "version:v1", "--ledger", url]) == 0
    capsys.readouterr()
    assert main(["version", "list", "--json", "--ledger", url]) == 0
    assert [v["name"] for v in json.loads(capsys.readouterr().out)] == ["v1", "v2"]


def test_env_var_is_the_default_and_the_option_wins(capsys, tmp_path, url_with_v1, monkeypatch):
    monkeypatch.setenv("TAILGUARD_LEDGER", url_with_v1)
    assert main(["version", "list", "--json"]) == 0
    assert [v["name"] for v in json.loads(capsys.readouterr().out)] == ["v1"]
    other = f"sqlite:///{tmp_path / 'missing.db'}"
    assert main(["version", "list", "--ledger", other]) == 2
    assert "no ledger at" in capsys.readouterr().err


def test_debug_after_the_command_shows_the_traceback(capsys, url_with_v1):
    assert main(["version", "show", "nope", "--ledger", url_with_v1]) == 2
    assert capsys.readouterr().err.startswith("error: ")
    with pytest.raises(KeyError, match="Unknown version 'nope'"):
        main(["version", "show", "nope", "--ledger", url_with_v1, "--debug"])
    # the debug flag does not leak into the next call of the same process
    assert main(["version", "show", "nope", "--ledger", url_with_v1]) == 2


def test_no_subcommand_defines_a_global_option_name():
    root = typer.main.get_command(app)

    def walk(command, path):
        for param in command.params:
            names = set(getattr(param, "opts", [])) | set(getattr(param, "secondary_opts", []))
            if path:  # the root's own --ledger/--debug are the global ones
                assert not names & {"--ledger", "--debug"}, f"{' '.join(path)} defines {names}"
        for name, sub in getattr(command, "commands", {}).items():
            walk(sub, [*path, name])

    walk(root, [])
    assert {"runs", "lineage", "version", "export"} <= set(root.commands)


@pytest.mark.parametrize(("argv", "said"), [
    (["ingest", "x.csv", "--name", "y"], "error: No such option: --name (see 'tailguard ingest --help')"),
    (["audit"], "error: Missing argument 'candidate'. (see 'tailguard audit --help')"),
    (["audt"], "error: No such command 'audt'. Did you mean 'audit', 'audits'? (see 'tailguard --help')"),
    (["audit", "a.npy", "--reference", "b.npy", "--fail-on", "bogus"],
     "error: Invalid value for '--fail-on': Value error, 'bogus' is not one of 'warn', 'collapse'."),
])
def test_a_usage_error_is_one_line_naming_the_help_to_read(argv, said, capsys):
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith(said) and captured.err.count("\n") == 1 and captured.out == ""


def test_help_and_a_bare_group_still_show_their_help(capsys):
    assert main(["audit", "--help"]) == 0
    assert capsys.readouterr().out.startswith("Usage: tailguard audit [OPTIONS]")
    assert main(["version"]) == 2  # as typer's standalone mode: help on stdout, the usage exit code
    assert capsys.readouterr().out.startswith("Usage: tailguard version [OPTIONS] COMMAND")
