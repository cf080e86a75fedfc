"""Engines for SQLite and PostgreSQL, and write transactions that survive concurrency.

SQLite runs in WAL mode with a busy timeout; write transactions start with
``BEGIN IMMEDIATE`` so a writer takes the lock up front (never half-way through,
which is where "database is locked" comes from), and beginning is retried.

URLs are checked first (:func:`tailguard.ledger.urls.check_url`). Opening with
``create=False`` never creates a file or folder; driver errors become one-line typed
errors without the URL's password (:func:`open_error`).

>>> normalise_url("postgresql://u@h/db")
'postgresql+psycopg://u@h/db'
>>> normalise_url("sqlite:///x.db")
'sqlite:///x.db'
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.exc import DBAPIError, OperationalError

from tailguard.errors import (
    LedgerAccessError,
    LedgerError,
    LedgerNotFoundError,
    MissingDependencyError,
    NotALedgerError,
)
from tailguard.ledger.urls import check_url, redact_secrets, redact_url, sqlite_path

DEFAULT_URL = "sqlite:///.tailguard/ledger.db"
BUSY_TIMEOUT_MS = 30_000
BEGIN_RETRIES = 20


def resolve_url(url: str | None) -> str:
    """``url``, else ``$TAILGUARD_LEDGER``, else the default SQLite file."""
    return url or os.environ.get("TAILGUARD_LEDGER") or DEFAULT_URL


def normalise_url(url: str) -> str:
    """Pick the psycopg (v3) driver for plain ``postgresql://`` URLs."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def make_engine(url: str, *, create: bool = True) -> Engine:
    """Create the engine for a checked URL; for SQLite set WAL mode and the busy timeout.

    With ``create`` the SQLite file's folder is made; without it a missing file raises
    :class:`~tailguard.errors.LedgerNotFoundError` and nothing is written to disk.
    """
    check_url(url)
    url = normalise_url(url)
    path = sqlite_path(url)
    if path is not None:
        if not create and not path.exists():
            raise missing_ledger_error(url)
        if create:
            _make_folder(path.parent)
        engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})
        _configure_sqlite(engine)
        return engine
    try:
        return create_engine(url, pool_pre_ping=True)
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise MissingDependencyError(
            f"PostgreSQL ledgers need psycopg ({exc}). Install it with: pip install 'tailguard[postgres]'"
        ) from exc


def _make_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        blocker = next((p for p in (folder, *folder.parents) if p.exists() and not p.is_dir()), None)
        reason = f"{blocker} is a file, not a folder" if blocker is not None else (exc.strerror or str(exc))
        raise LedgerAccessError(f"cannot create the ledger folder {folder}: {reason}") from None


def _where(url: str) -> str:
    path = sqlite_path(url)
    return str(path) if path is not None else redact_url(url)


def missing_ledger_error(url: str) -> LedgerNotFoundError:
    """The error of a read-only open that found no ledger at ``url`` (names the file, never a password)."""
    return LedgerNotFoundError(f"no ledger at {_where(url)}; create one with 'tailguard init' or 'tailguard ingest'")


def missing_schema_error(url: str) -> LedgerError:
    """A read-only open reached ``url`` but found no tailguard tables there."""
    if sqlite_path(url) is not None:
        return NotALedgerError(f"{_where(url)} is not a tailguard ledger (a SQLite file without tailguard tables)")
    return missing_ledger_error(url)


def _is_read_only(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "readonly database" in text or "read-only" in text or "unable to open database file" in text


def open_error(url: str, exc: DBAPIError) -> LedgerError:
    """A one-line typed error for a driver error raised while opening ``url``; passwords are redacted."""
    detail = " ".join(redact_secrets(str(exc.orig), url).split())
    path = sqlite_path(url)
    if "not a database" in detail.lower():
        return NotALedgerError(f"{path} is not a tailguard ledger (SQLite: {detail})")
    if path is not None and path.is_dir():
        return NotALedgerError(f"{path} is a folder, not a tailguard ledger file")
    return LedgerAccessError(f"cannot open the ledger {_where(url)}: {detail}")


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn, _record):  # type: ignore[no-untyped-def]
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA synchronous = NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _begin(conn: Connection) -> None:
        mode = "IMMEDIATE" if conn.get_execution_options().get("tg_write") else "DEFERRED"
        conn.exec_driver_sql(f"BEGIN {mode}")


def _is_locked(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "database is locked" in text or "database is busy" in text


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """One atomic write transaction: all of it commits, or none of it (also when killed)."""
    attempt = 0
    while True:
        conn = engine.connect()
        conn.execution_options(tg_write=True)
        try:
            trans = conn.begin()
            break
        except OperationalError as exc:
            conn.close()
            if not _is_locked(exc) or attempt >= BEGIN_RETRIES:
                raise LedgerError(f"could not lock the ledger for writing: {exc.orig}") from exc
            attempt += 1
            time.sleep(min(0.05 * 2**attempt, 2.0))
    try:
        yield conn
        trans.commit()
    except BaseException as exc:
        if trans.is_active:
            trans.rollback()
        if isinstance(exc, OperationalError) and _is_read_only(exc):
            shown = _where(engine.url.render_as_string(hide_password=True))
            raise LedgerAccessError(f"cannot write to the ledger {shown}: {exc.orig}") from exc
        raise
    finally:
        conn.close()


@contextmanager
def read_connection(engine: Engine) -> Iterator[Connection]:
    """A connection for reading (one consistent snapshot)."""
    with engine.connect() as conn, conn.begin():
        yield conn


@contextmanager
def quick_write_transaction(engine: Engine) -> Iterator[Connection]:
    """A write transaction that does not wait for another writer: it raises (``OperationalError``) at once when
    the write lock is held, and any statement waiting over a moment for a row lock fails (PostgreSQL).

    For writes a reader may skip, such as storing figures it derived (:func:`tailguard.ledger.stats.persist`).
    """
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as conn:
        conn.execution_options(tg_write=True)
        if sqlite:  # on the DBAPI connection: a statement through SQLAlchemy would begin the transaction first
            conn.connection.driver_connection.execute("PRAGMA busy_timeout = 0")  # type: ignore[union-attr]
        try:
            with conn.begin():
                if not sqlite:
                    conn.exec_driver_sql("SET LOCAL lock_timeout = '200ms'")
                yield conn
        finally:
            if sqlite:
                conn.connection.driver_connection.execute(  # type: ignore[union-attr]
                    f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
