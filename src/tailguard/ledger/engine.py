"""Engines for SQLite and PostgreSQL, and write transactions that survive concurrency.

SQLite runs in WAL mode with a busy timeout; write transactions start with
``BEGIN IMMEDIATE`` so a writer takes the lock up front (never half-way through,
which is where "database is locked" comes from), and beginning is retried.

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
from sqlalchemy.exc import OperationalError

from tailguard.errors import LedgerError, MissingDependencyError, ParameterError

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


def make_engine(url: str) -> Engine:
    """Create the engine; for SQLite create the file's folder and set WAL + busy timeout."""
    url = normalise_url(url)
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[1] if ":///" in url else ""
        if path and path != ":memory:":
            Path(path).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})
        _configure_sqlite(engine)
        return engine
    if url.startswith("postgresql"):
        try:
            return create_engine(url, pool_pre_ping=True)
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise MissingDependencyError(
                f"PostgreSQL ledgers need psycopg ({exc}). Install it with: pip install 'tailguard[postgres]'"
            ) from exc
    raise ParameterError(f"The ledger URL must start with sqlite:/// or postgresql://. Got {url!r}.")


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
    except BaseException:
        if trans.is_active:
            trans.rollback()
        raise
    finally:
        conn.close()


@contextmanager
def read_connection(engine: Engine) -> Iterator[Connection]:
    """A connection for reading (one consistent snapshot)."""
    with engine.connect() as conn, conn.begin():
        yield conn
