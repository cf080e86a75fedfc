"""Bad ledger URLs and unusable ledgers on the command line: one ``error:`` line, exit 2, no password."""

from __future__ import annotations

import socket

import pytest

from tailguard.cli.app import main

SECRET = "s3cret-Pw"


def cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def one_line(err: str) -> bool:
    return err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite://", "error: The ledger URL 'sqlite://' names no file: everything recorded would be lost at exit. "
                      "Name a file, e.g. sqlite:///ledger.db.\n"),
        ("sqlite:///", "names no file"),
        ("sqlite:///:memory:", "is in memory"),
        ("sqlite://relative.db", "write sqlite:///relative.db for a file relative to the working folder"),
    ],
)
@pytest.mark.parametrize("command", [["init"], ["version", "list"]])
def test_refused_urls(capsys, tmp_path, monkeypatch, url, expected, command):
    monkeypatch.chdir(tmp_path)
    code, out, err = cli(capsys, *command, "--ledger", url)
    assert code == 2 and out == "" and one_line(err)
    assert expected in err
    assert list(tmp_path.iterdir()) == []


def test_refused_url_from_the_environment(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TAILGUARD_LEDGER", "sqlite://ledger.db")
    code, _, err = cli(capsys, "init")
    assert code == 2 and one_line(err) and "write sqlite:///ledger.db" in err


def test_file_that_is_not_a_ledger(capsys, tmp_path):
    notes = tmp_path / "notes.txt"
    notes.write_text("not a database at all\n" * 50)
    for command in (["init"], ["version", "list"], ["runs", "list"]):
        code, _, err = cli(capsys, *command, "--ledger", f"sqlite:///{notes}")
        assert code == 2 and one_line(err)
        assert err == f"error: {notes} is not a tailguard ledger (SQLite: file is not a database)\n"
    assert notes.read_text() == "not a database at all\n" * 50


def test_unwritable_folder(capsys, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    url = f"sqlite:///{blocker / 'ledger.db'}"
    code, _, err = cli(capsys, "init", "--ledger", url)
    assert code == 2 and err == f"error: cannot create the ledger folder {blocker}: {blocker} is a file, not a folder\n"
    code, _, err = cli(capsys, "version", "list", "--ledger", url)
    assert code == 2 and err.startswith(f"error: no ledger at {blocker / 'ledger.db'};")


def test_read_only_database_file(capsys, tmp_path):
    db = tmp_path / "ledger.db"
    texts = tmp_path / "t.jsonl"
    texts.write_text('{"text": "a"}\n')
    assert cli(capsys, "ingest", str(texts), "--origin", "human", "--as-version", "v1", "--ledger", f"sqlite:///{db}")[0] == 0
    read_only = f"sqlite:///file:{db}?mode=ro&uri=true"
    code, out, _ = cli(capsys, "version", "list", "--ledger", read_only)
    assert code == 0 and "v1" in out
    texts.write_text('{"text": "b"}\n')
    code, _, err = cli(capsys, "ingest", str(texts), "--origin", "human", "--ledger", read_only)
    assert code == 2 and one_line(err)
    assert err == f"error: cannot write to the ledger {db}: attempt to write a readonly database\n"
    code, _, err = cli(capsys, "version", "create", "v2", "--from", "version:v1", "--ledger", read_only)
    assert code == 2 and one_line(err) and "attempt to write a readonly database" in err


@pytest.mark.postgres
def test_postgres_init_prints_the_url_without_its_password(capsys, postgres_url):
    url = postgres_url.replace("postgres@", f"postgres:{SECRET}@")  # the test server trusts: any password works
    code, out, err = cli(capsys, "init", "--ledger", url)
    assert code == 0, err
    assert SECRET not in out + err
    assert out == f"ledger ready: {url.replace(SECRET, '***')} (0 samples, 0 versions)\n"
    code, out, err = cli(capsys, "version", "list", "--ledger", url)
    assert code == 0 and SECRET not in out + err


@pytest.mark.postgres
def test_postgres_errors_hide_the_password(capsys, postgres_server, postgres_url):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    for url in (f"postgresql://ann:{SECRET}@127.0.0.1:{port}/ledger",
                f"postgresql://postgres:{SECRET}@127.0.0.1:{postgres_server.port}/no_such_db"):
        for command in (["init"], ["version", "list"]):
            code, out, err = cli(capsys, *command, "--ledger", url)
            assert code == 2 and one_line(err) and SECRET not in out + err
            assert ":***@127.0.0.1" in err
    fresh = postgres_url.replace("postgres@", f"postgres:{SECRET}@")
    code, _, err = cli(capsys, "runs", "list", "--ledger", fresh)  # reachable, but no ledger there yet
    assert code == 2 and SECRET not in err
    assert err == (f"error: no ledger at {fresh.replace(SECRET, '***')}; "
                   "create one with 'tailguard init' or 'tailguard ingest'\n")


def test_debug_raises_the_typed_error(tmp_path, monkeypatch):
    from tailguard.errors import LedgerURLError

    monkeypatch.chdir(tmp_path)
    with pytest.raises(LedgerURLError, match="names no file"):
        main(["init", "--ledger", "sqlite://", "--debug"])
