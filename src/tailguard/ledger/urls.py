"""Ledger URLs: validation with one-line errors, the SQLite file they name, and password redaction.

A ledger must outlive the process, so URLs whose data would vanish at exit are refused
(``sqlite://``, ``sqlite:///``, ``sqlite:///:memory:``), and so is ``sqlite://name.db``:
its two slashes make ``name.db`` a host part, which SQLite ignores (the ledger would be
in memory). Passwords of PostgreSQL URLs never reach a message.

>>> check_url("sqlite:///ledger.db")
'sqlite:///ledger.db'
>>> check_url("sqlite://ledger.db")
Traceback (most recent call last):
...
tailguard.errors.LedgerURLError: The ledger URL 'sqlite://ledger.db' has a host part ('ledger.db'), which SQLite ignores: write sqlite:///ledger.db for a file relative to the working folder, or sqlite:////abs/path.db for an absolute one.
>>> redact_url("postgresql://ann:s3cret@db-host/ledger")
'postgresql://ann:***@db-host/ledger'
>>> sqlite_path("sqlite:///file:data/l.db?mode=ro&uri=true")
PosixPath('data/l.db')
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import quote, quote_plus

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from tailguard.errors import LedgerURLError

EXPECTED = "sqlite:///path.db (relative), sqlite:////abs/path.db or postgresql://user@host/database"
_USERINFO = re.compile(r"(://[^:/@\s]*:)[^@\s]*@")


def redact_url(url: str) -> str:
    """``url`` with its password replaced by ``***`` (unchanged when it has none)."""
    if "@" not in url:
        return url
    try:
        parsed = make_url(url)
    except ArgumentError:
        return _USERINFO.sub(r"\1***@", url)
    if parsed.password is None:
        return url
    return parsed.render_as_string(hide_password=True)


def url_password(url: str) -> str | None:
    """The password of ``url`` (decoded), or ``None``."""
    if "@" not in url:
        return None
    try:
        password = make_url(url).password
    except ArgumentError:
        match = re.search(r"://[^:/@\s]*:([^@\s]*)@", url)
        return match.group(1) if match else None
    return None if password is None else str(password)


def redact_secrets(text: str, url: str) -> str:
    """``text`` (a driver's message, say) with every spelling of ``url``'s password replaced by ``***``."""
    password = url_password(url)
    if not password:
        return text
    text = text.replace(url, redact_url(url))
    for spelling in sorted({password, quote(password, safe=""), quote_plus(password)}, key=len, reverse=True):
        text = text.replace(spelling, "***")
    return text


def check_url(url: str) -> str:
    """Return ``url`` when it can hold a lasting ledger; else raise :class:`LedgerURLError` (one line)."""
    shown = redact_url(url)
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise LedgerURLError(f"Cannot parse the ledger URL {shown!r}; expected {EXPECTED}.") from None
    backend = parsed.get_backend_name()
    if backend == "postgresql":
        return url
    if backend != "sqlite":
        raise LedgerURLError(f"The ledger URL must start with sqlite:/// or postgresql://. Got {shown!r}.")
    if parsed.host:
        rest = url.split("://", 1)[1]
        raise LedgerURLError(
            f"The ledger URL {shown!r} has a host part ({parsed.host!r}), which SQLite ignores: write "
            f"sqlite:///{rest} for a file relative to the working folder, or sqlite:////abs/path.db for an "
            "absolute one."
        )
    database = parsed.database or ""
    in_memory = (
        database in ("", ":memory:")
        or database.startswith("file::memory:")
        or parsed.query.get("mode") == "memory"
    )
    if in_memory:
        what = "names no file" if not database else "is in memory"
        raise LedgerURLError(
            f"The ledger URL {shown!r} {what}: everything recorded would be lost at exit. "
            "Name a file, e.g. sqlite:///ledger.db."
        )
    return url


def sqlite_path(url: str) -> Path | None:
    """The file a SQLite ledger URL names (also ``file:`` URIs with ``uri=true``); ``None`` otherwise."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    database = parsed.database
    if database.startswith("file:") and str(parsed.query.get("uri", "")).lower() in ("true", "1"):
        database = database[len("file:"):]
        if database.startswith("//"):  # file:///abs/path -> /abs/path
            database = database[2:]
    return Path(database).expanduser()


__all__ = ["check_url", "redact_secrets", "redact_url", "sqlite_path", "url_password"]
