"""What differs between SQLite and PostgreSQL, behind one small strategy.

Everything else in the ledger is SQLAlchemy Core and runs unchanged on both.

>>> from sqlalchemy import create_engine
>>> dialect_for(create_engine("sqlite://")).name
'sqlite'
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, DateTime, Engine, Float, Integer, LargeBinary, String, Table, select

from tailguard.ledger import schema

ANALYZE_AFTER = 50_000  # rows; PostgreSQL re-plans with fresh statistics after bulk changes


class Dialect:
    """Portable defaults; subclasses take each backend's fast path."""

    name = "generic"
    overlaps_writes = False  # write batches in a background thread while the next one is read
    inserts_first = False  # bulk_insert reports exactly which keys it inserted, so writes may insert first

    insert_module = "sqlalchemy.dialects.sqlite"  # whose insert() knows ON CONFLICT DO NOTHING

    def insert_ignore(self, table: Table) -> Any:
        """``INSERT … ON CONFLICT DO NOTHING`` for ``table``."""
        import importlib

        return importlib.import_module(self.insert_module).insert(table).on_conflict_do_nothing()

    def bulk_insert(self, conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]], *,
                    returning: str | None = None) -> set[Any] | None:
        """Insert many rows (tuples in ``columns`` order), ignoring ones whose key exists;
        with ``returning`` (a column name), the values of that column in the rows inserted."""
        if not rows:
            return set()
        stmt = self.insert_ignore(table)
        params = [dict(zip(columns, r, strict=True)) for r in rows]
        if returning is not None:
            return set(conn.execute(stmt.returning(table.c[returning]), params).scalars())
        conn.execute(stmt, params)
        return None

    def insert_new(self, conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """Insert rows that cannot exist yet (a new version's manifest): no conflict handling needed."""
        self.bulk_insert(conn, table, columns, rows)

    def samples_by_id(self, conn: Connection, ids: Sequence[str], columns: str) -> Any:
        """``(id, *columns)`` rows of the stored samples among ``ids`` (``columns``: a fixed SQL list)."""
        s = schema.samples
        cols = [s.c[c.strip()] for c in columns.split(",")]
        return conn.execute(select(s.c.id, *cols).where(s.c.id.in_(list(ids))))

    def known_samples(self, conn: Connection, ids: Sequence[str]) -> Any:
        """``(id, origin, dataset_id)`` rows of the stored samples among ``ids``."""
        return self.samples_by_id(conn, ids, "origin, dataset_id")

    def analyze(self, conn: Connection, *tables: str, rows: int) -> None:
        """Refresh planner statistics after a bulk change of ``rows`` rows (PostgreSQL only)."""

    def member_ids(self, conn: Connection, version_id: int) -> list[str]:
        """The sample id of every member row of a version, in no promised order: a content held under two
        origins is listed twice."""
        vm = schema.version_members
        return list(conn.execute(select(vm.c.sample_id).where(vm.c.version_id == version_id)).scalars())

    def _raw_member_ids(self, conn: Connection, sql: str, version_id: int) -> list[str]:
        # the driver's own cursor: building a SQLAlchemy row per member costs more than the scan
        cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cur.execute(sql, (version_id,))
            return [r[0] for r in cur.fetchall()]
        finally:
            cur.close()


class SQLiteDialect(Dialect):
    """SQLite: BEGIN IMMEDIATE serialises writers, so nothing races and rows go straight to executemany."""

    name = "sqlite"

    def bulk_insert(self, conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]], *,
                    returning: str | None = None) -> set[Any] | None:
        # cursor.executemany: SQLAlchemy's per-row parameter processing would otherwise dominate ingest time
        if not rows:
            return set()
        sql = (f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))}) "
               "ON CONFLICT DO NOTHING")
        stamps = [i for i, k in enumerate(columns) if isinstance(table.c[k].type, DateTime)]
        params: Sequence[Sequence[Any]] = rows
        if stamps:
            cache: dict[dt.datetime, str] = {}

            def stamp(value: dt.datetime | None) -> str | None:
                if value is None:
                    return None
                text = cache.get(value)
                if text is None:
                    text = cache[value] = value.strftime("%Y-%m-%d %H:%M:%S.%f")  # SQLAlchemy's SQLite format
                return text

            converted = []
            for r in rows:
                values = list(r)
                for i in stamps:
                    values[i] = stamp(values[i])
                converted.append(tuple(values))
            params = converted
        conn.exec_driver_sql(sql, params)  # type: ignore[arg-type]
        if returning is None:
            return None
        at = list(columns).index(returning)
        return {r[at] for r in rows}  # BEGIN IMMEDIATE: no other writer can have inserted them meanwhile

    def member_ids(self, conn: Connection, version_id: int) -> list[str]:
        # one string built by SQLite and split here: half the time of a Python string per fetched row. The
        # count says whether an id held the separator (not a content id); then, or when the string would pass
        # SQLite's length limit (about 30M members), the rows are fetched one by one
        import sqlite3

        try:
            n, joined = conn.connection.driver_connection.execute(  # type: ignore[union-attr]
                "SELECT count(*), group_concat(sample_id, ',') FROM version_members WHERE version_id = ?",
                (version_id,)).fetchone()
        except sqlite3.Error:
            n, joined = -1, None
        ids = joined.split(",") if joined is not None else []
        if len(ids) == n:
            return ids
        return self._raw_member_ids(conn, "SELECT sample_id FROM version_members WHERE version_id = ?", version_id)

    def samples_by_id(self, conn: Connection, ids: Sequence[str], columns: str) -> Any:
        # plain placeholders: compiling a 5,000-item IN costs more than the query
        marks = ",".join("?" * len(ids))
        return conn.exec_driver_sql(f"SELECT id, {columns} FROM samples WHERE id IN ({marks})", tuple(ids))


class PostgresDialect(Dialect):
    """PostgreSQL: COPY into a staging table, then INSERT … SELECT … ON CONFLICT DO NOTHING RETURNING.

    That stays exact when concurrent ingests race for the same keys.
    """

    name = "postgresql"
    overlaps_writes = True  # the server works while the client parses: its share of the time overlaps
    inserts_first = True
    insert_module = "sqlalchemy.dialects.postgresql"

    def bulk_insert(self, conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]], *,
                    returning: str | None = None) -> set[Any] | None:
        if not rows:
            return set()
        cols = ", ".join(columns)
        stage = f"tg_stage_{table.name}"
        raw = conn.connection.driver_connection
        with raw.cursor() as cur:  # type: ignore[union-attr]
            cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS {stage} AS SELECT {cols} FROM {table.name} WITH NO DATA")
            cur.execute(f"TRUNCATE {stage}")
            with cur.copy(f"COPY {stage} ({cols}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(copy_types(table, columns))
                for r in rows:
                    copy.write_row(r)
            sql = f"INSERT INTO {table.name} ({cols}) SELECT {cols} FROM {stage} ORDER BY 1 ON CONFLICT DO NOTHING"
            if returning is None:
                cur.execute(sql)
                return None
            cur.execute(sql + f" RETURNING {returning}")
            return {row[0] for row in cur.fetchall()}

    def insert_new(self, conn: Connection, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        # straight COPY into the table: half the server's work of the staging path
        if not rows:
            return
        raw = conn.connection.driver_connection
        sql = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)"
        with raw.cursor() as cur, cur.copy(sql) as copy:  # type: ignore[union-attr]
            copy.set_types(copy_types(table, columns))
            for r in rows:
                copy.write_row(r)

    def samples_by_id(self, conn: Connection, ids: Sequence[str], columns: str) -> Any:
        return conn.exec_driver_sql(f"SELECT id, {columns} FROM samples WHERE id = ANY(%(ids)s)", {"ids": list(ids)})

    def member_ids(self, conn: Connection, version_id: int) -> list[str]:
        return self._raw_member_ids(conn, "SELECT sample_id FROM version_members WHERE version_id = %s", version_id)

    def analyze(self, conn: Connection, *tables: str, rows: int) -> None:
        if rows >= ANALYZE_AFTER:
            for table in tables:
                conn.exec_driver_sql(f"ANALYZE {table}")


def copy_types(table: Table, columns: Sequence[str]) -> list[str]:
    """The PostgreSQL types of ``columns`` for a binary COPY (no text to format, nor for the server to parse).

    >>> copy_types(schema.version_members, ["version_id", "sample_id", "multiplicity"])
    ['int4', 'text', 'int4']
    """
    names = []
    for name in columns:
        kind = table.c[name].type
        if isinstance(kind, Integer):
            names.append("int4")
        elif isinstance(kind, String):  # Text and VARCHAR share one wire format
            names.append("text")
        elif isinstance(kind, LargeBinary):
            names.append("bytea")
        elif isinstance(kind, DateTime):
            names.append("timestamptz" if kind.timezone else "timestamp")
        elif isinstance(kind, Float):
            names.append("float8")
        else:
            raise TypeError(f"no binary COPY type for {table.name}.{name} ({kind!r})")
    return names


_DIALECTS: dict[str, type[Dialect]] = {"sqlite": SQLiteDialect, "postgresql": PostgresDialect}


def dialect_for(engine: Engine) -> Dialect:
    """The strategy for ``engine``'s backend (portable defaults for any other)."""
    return _DIALECTS.get(engine.dialect.name, Dialect)()
