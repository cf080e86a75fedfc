"""Shared fixtures: ledgers on SQLite and on a real, throwaway PostgreSQL server.

``ledger`` is parametrised over ``sqlite`` and ``postgresql``; ``sqlite_ledger`` is
SQLite only. The PostgreSQL cluster is started once per test session (per xdist
worker) with the server binaries under ``/usr/lib/postgresql/*/bin``; as root it runs
through ``runuser -u postgres``. Without the binaries the PostgreSQL cases skip,
saying how to enable them, unless ``TAILGUARD_REQUIRE_POSTGRES=1`` makes that a failure.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

ENABLE_HINT = (
    "PostgreSQL server binaries not found (initdb, pg_ctl); install them with "
    "`apt-get install postgresql` to run the ledger suite against a real server"
)


def _pg_bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PostgresServer:
    """A throwaway PostgreSQL cluster on 127.0.0.1 with trust authentication."""

    def __init__(self, bindir: Path):
        self.bindir = bindir
        self.as_root = os.geteuid() == 0
        self.base = Path(tempfile.mkdtemp(prefix="tg-pg-"))
        self.data = self.base / "data"
        self.port = _free_port()
        if self.as_root:
            shutil.chown(self.base, user="postgres", group="postgres")
            self.base.chmod(0o700)

    def _run(self, *args: str) -> None:
        prefix = ["runuser", "-u", "postgres", "--"] if self.as_root else []
        result = subprocess.run([*prefix, *args], capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            log = self.base / "server.log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise RuntimeError(f"{' '.join(args)} failed: {result.stderr or result.stdout}\n{tail}")

    def start(self) -> None:
        self._run(str(self.bindir / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
                  "-E", "UTF8", "--no-sync")
        for attempt in range(3):  # another xdist worker may grab the same free port first
            options = (f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 -c fsync=off "
                       "-c synchronous_commit=off -c full_page_writes=off -c max_connections=100")
            try:
                self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-o", options, "-l",
                          str(self.base / "server.log"), "-w", "-t", "60", "start")
                return
            except RuntimeError:
                if attempt == 2:
                    raise
                self.port = _free_port()

    def stop(self) -> None:
        try:
            self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.base, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres",
                             autocommit=True) as conn:
            conn.execute(sql)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A running PostgreSQL server for this session (skips, or fails in CI, without binaries)."""
    bindir = _pg_bindir()
    if bindir is None:
        if os.environ.get("TAILGUARD_REQUIRE_POSTGRES") == "1":
            pytest.fail(ENABLE_HINT + " (TAILGUARD_REQUIRE_POSTGRES=1 forbids skipping)")
        pytest.skip(ENABLE_HINT)
    try:
        import psycopg  # noqa: F401
    except ImportError:
        if os.environ.get("TAILGUARD_REQUIRE_POSTGRES") == "1":
            pytest.fail("psycopg is not installed: pip install 'tailguard[postgres]'")
        pytest.skip("psycopg is not installed: pip install 'tailguard[postgres]'")
    server = PostgresServer(bindir)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """URL of a fresh, empty database on the session's server (dropped afterwards)."""
    name = f"tg_{uuid.uuid4().hex[:12]}"
    postgres_server.admin(f"CREATE DATABASE {name}")
    yield postgres_server.url(name)
    postgres_server.admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """URL of a fresh SQLite ledger file."""
    return f"sqlite:///{tmp_path / 'ledger' / 'ledger.db'}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def ledger_url(request: pytest.FixtureRequest) -> str:
    """A fresh ledger URL, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def ledger(ledger_url: str):  # type: ignore[no-untyped-def]
    """An open, empty ledger on SQLite and on PostgreSQL."""
    from tailguard.ledger import Ledger

    with Ledger.open(ledger_url) as opened:
        yield opened


@pytest.fixture
def sqlite_ledger(sqlite_url: str):  # type: ignore[no-untyped-def]
    """An open, empty SQLite ledger."""
    from tailguard.ledger import Ledger

    with Ledger.open(sqlite_url) as opened:
        yield opened


def write_yolo_dataset(
    root: Path,
    *,
    n_train: int = 3,
    n_val: int = 2,
    names: tuple[str, ...] = ("cat", "dog"),
    seed: int = 0,
) -> Path:
    """Write a tiny YOLO dataset (PNG images + label txts + data.yaml); returns the data.yaml.

    Every image differs (random pixels), and image i of a split gets one box of class i % nc.
    """
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    for split, n in (("train", n_train), ("val", n_val)):
        (root / "images" / split).mkdir(parents=True, exist_ok=True)
        (root / "labels" / split).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            pixels = rng.integers(0, 256, size=(32, 32, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / "images" / split / f"img{i}.png")
            (root / "labels" / split / f"img{i}.txt").write_text(f"{i % len(names)} 0.5 0.5 0.25 0.25\n")
    data = root / "data.yaml"
    data.write_text(f"path: {root}\ntrain: images/train\nval: images/val\nnames: {list(names)}\n")
    return data


@pytest.fixture
def make_yolo_dataset(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Factory: ``make_yolo_dataset(name="ds", **kw) -> data.yaml`` under tmp_path."""

    def make(name: str = "ds", **kwargs) -> Path:  # type: ignore[no-untyped-def]
        return write_yolo_dataset(tmp_path / name, **kwargs)

    return make
