"""Ledger URLs: refused URLs, read-only opens, files that are not ledgers, unwritable places, passwords."""

from __future__ import annotations

import doctest
import re
import socket
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import inspect
from sqlalchemy.exc import OperationalError

import tailguard.ledger.urls
from tailguard.errors import (
    LedgerAccessError,
    LedgerError,
    LedgerNotFoundError,
    LedgerURLError,
    MissingInputError,
    NotALedgerError,
    ParameterError,
)
from tailguard.ledger import Ledger, NewSample
from tailguard.ledger.engine import open_error
from tailguard.ledger.urls import check_url, redact_secrets, redact_url, sqlite_path

SECRET = "s3cret-Pw"


def sample(text: str) -> NewSample:
    return NewSample(content=text.encode(), uri=None, modality="text", origin="human")


def test_doctests():
    result = doctest.testmod(tailguard.ledger.urls, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0


@pytest.mark.parametrize(
    ("url", "match"),
    [
        ("sqlite://", "names no file: everything recorded would be lost at exit"),
        ("sqlite:///", "names no file: everything recorded would be lost at exit"),
        ("sqlite:///:memory:", "is in memory: everything recorded would be lost at exit"),
        ("sqlite:///file::memory:?uri=true", "is in memory"),
        ("sqlite:///file:x?mode=memory&uri=true", "is in memory"),
        ("sqlite://relative.db", r"has a host part \('relative.db'\), which SQLite ignores: write sqlite:///relative.db"),
        ("sqlite://data/l.db", "write sqlite:///data/l.db for a file relative"),
        ("mysql://u@h/db", "must start with sqlite:/// or postgresql://"),
        ("ledger.db", "Cannot parse the ledger URL 'ledger.db'"),
    ],
)
def test_refused_urls(url, match, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(LedgerURLError, match=match) as info:
        Ledger.open(url)
    assert isinstance(info.value, ParameterError) and "\n" not in str(info.value)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("url", ["sqlite:///l.db", "sqlite:////abs/l.db", "postgresql://u@h/db",
                                 "postgresql+psycopg://u:p@h:5432/db", "sqlite:///file:l.db?mode=ro&uri=true"])
def test_accepted_urls(url):
    assert check_url(url) == url


def test_sqlite_path():
    assert sqlite_path("sqlite:///a/b.db") == Path("a/b.db")
    assert sqlite_path("sqlite:////abs/b.db") == Path("/abs/b.db")
    assert sqlite_path("sqlite:///file:/abs/b.db?mode=ro&uri=true") == Path("/abs/b.db")
    assert sqlite_path("sqlite:///file:///abs/b.db?mode=ro&uri=true") == Path("/abs/b.db")
    assert sqlite_path("postgresql://u@h/db") is None


def test_redaction():
    url = f"postgresql://ann:{SECRET}@db-host:5432/ledger"
    assert redact_url(url) == "postgresql://ann:***@db-host:5432/ledger"
    assert redact_url("postgresql://ann@db-host/ledger") == "postgresql://ann@db-host/ledger"
    assert redact_url("weird://ann:pw@") == "weird://ann:***@"
    encoded = "postgresql://ann:p%40ss%2Fw@h/db"
    message = f"connect failed for {encoded}: password p@ss/w (p%40ss%2Fw) rejected"
    assert "p@ss" not in redact_secrets(message, encoded) and "p%40ss" not in redact_secrets(message, encoded)


def test_driver_errors_are_redacted_one_line():
    url = f"postgresql+psycopg://ann:{SECRET}@db-host/ledger"
    exc = OperationalError("SELECT 1", {}, Exception(f"could not connect:\n  dsn 'password={SECRET} host=db-host'"))
    err = open_error(url, exc)
    assert isinstance(err, LedgerAccessError)
    assert SECRET not in str(err) and "\n" not in str(err)
    assert str(err) == ("cannot open the ledger postgresql+psycopg://ann:***@db-host/ledger: could not connect: "
                        "dsn 'password=*** host=db-host'")


def test_read_only_open_creates_nothing(tmp_path):
    db = tmp_path / "a" / "b" / "ledger.db"
    with pytest.raises(LedgerNotFoundError, match=re.escape(f"no ledger at {db}; create one with 'tailguard init'")) as info:
        Ledger.open(f"sqlite:///{db}", create=False)
    assert isinstance(info.value, MissingInputError)
    assert list(tmp_path.iterdir()) == []
    with Ledger.open(f"sqlite:///{db}") as ledger:  # the default still creates it
        ledger.add_samples([sample("x")], as_version="v1")
    with Ledger.open(f"sqlite:///{db}", create=False) as ledger:
        assert [v.name for v in ledger.list_versions()] == ["v1"]


def test_file_that_is_not_sqlite_is_not_a_ledger(tmp_path):
    notes = tmp_path / "notes.db"
    notes.write_text("these are my notes, not a database\n" * 20)
    before = notes.read_bytes()
    for create in (True, False):
        with pytest.raises(NotALedgerError, match=re.escape(f"{notes} is not a tailguard ledger (SQLite: file is not a database)")):
            Ledger.open(f"sqlite:///{notes}", create=create)
    assert notes.read_bytes() == before
    foreign = tmp_path / "foreign.db"
    sqlite3.connect(foreign).close()  # an empty SQLite file without tailguard tables
    with pytest.raises(NotALedgerError, match=r"is not a tailguard ledger \(a SQLite file without tailguard tables\)"):
        Ledger.open(f"sqlite:///{foreign}", create=False)
    with pytest.raises(NotALedgerError, match="is a folder, not a tailguard ledger file"):
        Ledger.open(f"sqlite:///{tmp_path}", create=False)


def test_folder_under_a_regular_file_is_unwritable(tmp_path):
    blocker = tmp_path / "plain-file"
    blocker.write_text("x")
    url = f"sqlite:///{blocker / 'sub' / 'ledger.db'}"
    with pytest.raises(LedgerAccessError, match=re.escape(f"cannot create the ledger folder {blocker / 'sub'}: "
                                                          f"{blocker} is a file, not a folder")):
        Ledger.open(url)
    with pytest.raises(LedgerNotFoundError):
        Ledger.open(url, create=False)
    assert blocker.read_text() == "x"


def test_read_only_database_file_refuses_writes_in_one_line(tmp_path):
    db = tmp_path / "ledger.db"
    with Ledger.open(f"sqlite:///{db}") as ledger:
        ledger.add_samples([sample("x")], as_version="v1")
    read_only = f"sqlite:///file:{db}?mode=ro&uri=true"
    with Ledger.open(read_only) as ledger:  # an initialised ledger opens without writing
        assert ledger.get_version("v1").n_members == 1
        with pytest.raises(LedgerAccessError, match=re.escape(f"cannot write to the ledger {db}: attempt to write a readonly")):
            ledger.add_samples([sample("y")], as_version="v2")
        with pytest.raises(LedgerError):
            ledger.record_model_run("m", "v1")
    with Ledger.open(f"sqlite:///{db}", create=False) as ledger:
        assert [v.name for v in ledger.list_versions()] == ["v1"] and ledger.count_samples() == 1
    with pytest.raises(LedgerAccessError, match="unable to open database file"):
        Ledger.open(f"sqlite:///file:{tmp_path / 'new.db'}?mode=ro&uri=true")


@pytest.mark.postgres
def test_postgres_password_never_shown_and_read_only_open_creates_no_tables(postgres_server, postgres_url):
    url = postgres_url.replace("postgres@", f"postgres:{SECRET}@")  # the test server trusts; the password is unused
    with pytest.raises(LedgerNotFoundError) as info:
        Ledger.open(url, create=False)
    assert SECRET not in str(info.value) and "postgres:***@" in str(info.value)
    from sqlalchemy import create_engine

    engine = create_engine(postgres_url)
    with engine.connect() as conn:
        assert inspect(conn).get_table_names() == []
    engine.dispose()
    with Ledger.open(url) as ledger:
        assert ledger.count_samples() == 0


@pytest.mark.postgres
def test_postgres_connection_errors_hide_the_password(postgres_server):
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    unreachable = f"postgresql://ann:{SECRET}@127.0.0.1:{port}/ledger"
    with pytest.raises(LedgerAccessError) as info:
        Ledger.open(unreachable)
    assert SECRET not in str(info.value) and "ann:***@127.0.0.1" in str(info.value) and "\n" not in str(info.value)
    missing_db = f"postgresql://postgres:{SECRET}@127.0.0.1:{postgres_server.port}/no_such_db"
    with pytest.raises(LedgerAccessError, match='database "no_such_db" does not exist') as info:
        Ledger.open(missing_db, create=False)
    assert SECRET not in str(info.value)
