"""``tailguard upgrade``: migrate a ledger written by an older tailguard in place, keeping a backup.

Schema 1 (tailguard 0.1) kept each version as a set of contents. Schema 2 keeps
versions as multisets (``version_members.multiplicity``), records each source's
occurrences, and stores a digest per version. A schema-1 version cannot know how
often its contents occurred, so each member migrates with multiplicity 1 and the
report says so; new ingests count every occurrence. Schema 3 drops three indexes of
``samples`` (origin, source, generation) that no query uses since those filters read
the occurrences: every ingest kept them up to date for nothing. On PostgreSQL it also
makes content-id columns compare bytewise (``COLLATE "C"``): the order the manifest
digest is computed in, without the locale's rules on every index insertion. Schema 4 gives
each exclusion a score (``filter`` records the sample's ``P(machine-made)``); exclusions
recorded before have none. Schema 5 adds ``labels.shape``, the geometry of segmentation,
pose, oriented-box and classification rows; an older ledger holds detection boxes only,
whose shape is NULL, so no version digest changes. Schema 6 adds the recorded audits
(``audits``, ``audit_metrics``), empty in an upgraded ledger. Schema 7 adds ``version_stats``, each
version's figures (occurrences by origin and generation, synthetic-depth histogram), filled by the upgrade
for every version (one read of each manifest). The steps run in
order, so a schema-1 ledger goes to 2, 3, 4, 5, 6, then 7.

Before anything changes a backup is written: for SQLite a copy of the file
(``VACUUM INTO``, next to it), for PostgreSQL a schema ``tg_backup_schema<N>_<time>``
holding a copy of every table. The migration itself is one transaction.

>>> import os, tempfile
>>> from tailguard.ledger import Ledger
>>> url = "sqlite:///" + os.path.join(tempfile.mkdtemp(), "ledger.db")
>>> Ledger.open(url).close()
>>> upgrade_ledger(url).already_current
True
"""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Connection, Engine, bindparam, func, inspect, select, text, update

from tailguard.errors import LedgerError
from tailguard.ledger import schema
from tailguard.ledger.dialect import Dialect, dialect_for
from tailguard.ledger.engine import make_engine, read_connection, resolve_url, write_transaction
from tailguard.ledger.hashing import PROVENANCE_FIELDS, provenance_digest
from tailguard.ledger.manifest import version_digest
from tailguard.ledger.urls import redact_url

V1_TABLES = ("tg_meta", "datasets", "ingests", "samples", "sample_parents", "labels", "conflicts", "skipped",
             "versions", "version_members", "model_runs", "run_outputs", "run_metrics", "exclusions")


@dataclass(frozen=True)
class UpgradeReport:
    """What ``upgrade`` did: schema versions, the backup's location, counts and the time it took."""

    url: str
    from_schema: int
    to_schema: int
    backup: str | None
    n_versions: int = 0
    n_members: int = 0
    n_samples: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    @property
    def already_current(self) -> bool:
        return self.from_schema == self.to_schema


def upgrade_ledger(url: str | None = None) -> UpgradeReport:
    """Migrate the ledger at ``url`` to the current schema in place (a no-op when it is current)."""
    resolved = resolve_url(url)
    engine = make_engine(resolved)
    try:
        with read_connection(engine) as conn:
            have = schema.stored_schema_version(conn)
        if have is None:
            raise LedgerError(f"{redact_url(resolved)} holds no tailguard ledger to upgrade")
        if have == schema.SCHEMA_VERSION:
            return UpgradeReport(redact_url(resolved), have, have, None)
        if have > schema.SCHEMA_VERSION:
            raise LedgerError(f"the ledger {redact_url(resolved)} was written by a newer tailguard (schema {have}); "
                              f"this one understands {schema.SCHEMA_VERSION}")
        start = time.perf_counter()
        backup = _backup(engine, have)
        notes = []
        with write_transaction(engine) as conn:
            _bytewise_ids(conn)  # first: the tables a step creates have them, and joins must agree
            _migrate_4_to_5(conn)  # before 1 -> 2: its version digests read labels.shape
            if have == 1:
                _migrate_1_to_2(conn)
                notes.append("versions made by schema 1 were sets: each member migrated with multiplicity 1")
            if have <= 2:
                _migrate_2_to_3(conn)
            _migrate_3_to_4(conn)
            _migrate_5_to_6(conn)
            _migrate_6_to_7(conn, dialect_for(engine))
            conn.execute(update(schema.meta).where(schema.meta.c.key == "schema_version")
                         .values(value=str(schema.SCHEMA_VERSION)))
            counts = _counts(conn)
        return UpgradeReport(
            redact_url(resolved), have, schema.SCHEMA_VERSION, backup, *counts, seconds=time.perf_counter() - start,
            notes=notes,
        )
    finally:
        engine.dispose()


def _stamp() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")


def _backup(engine: Engine, have: int) -> str:
    if engine.dialect.name == "sqlite":
        db = Path(engine.url.database or "")
        target = db.with_name(f"{db.name}.schema{have}-backup-{_stamp()}")
        raw = engine.raw_connection()  # VACUUM cannot run inside the transaction a Connection opens
        try:
            raw.cursor().execute("VACUUM INTO ?", (str(target),))
        finally:
            raw.close()
        return str(target)
    backup_schema = f"tg_backup_schema{have}_{_stamp().lower()}"
    with write_transaction(engine) as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{backup_schema}"')
        present = set(inspect(conn).get_table_names())
        for table in dict.fromkeys([*V1_TABLES, *schema.metadata.tables]):
            if table in present:
                conn.exec_driver_sql(f'CREATE TABLE "{backup_schema}"."{table}" AS TABLE "{table}"')
    return f"schema {backup_schema}"


def _digest_samples(conn: Connection) -> None:
    """Write every sample's provenance digest (chunked by id, so memory stays flat)."""
    s_t = schema.samples
    last = ""
    while True:
        rows = conn.execute(select(*[s_t.c[k] for k in PROVENANCE_FIELDS]).where(s_t.c.id > last)
                            .order_by(s_t.c.id).limit(20_000)).all()
        if not rows:
            return
        conn.execute(update(s_t).where(s_t.c.id == bindparam("b_id")).values(provenance_digest=bindparam("b_d")),
                     [{"b_id": r.id, "b_d": provenance_digest(r)} for r in rows])
        last = rows[-1].id


def _migrate_1_to_2(conn: Connection) -> None:
    """The migration proper (one transaction): new columns and tables, members with counts, digests."""
    for column, ddl in (("n_distinct", "INTEGER NOT NULL DEFAULT 0"), ("digest", "VARCHAR(64)"),
                        ("chunk_digests", "TEXT")):
        conn.exec_driver_sql(f"ALTER TABLE versions ADD COLUMN {column} {ddl}")
    # a new manifest table beside the old one, then swap (keeps PostgreSQL's constraint names distinct)
    conn.exec_driver_sql("ALTER TABLE version_members RENAME TO version_members_schema1")
    schema.version_members.create(conn)
    conn.exec_driver_sql(
        "INSERT INTO version_members (version_id, sample_id, origin, multiplicity, generation) "
        "SELECT m.version_id, m.sample_id, m.origin, 1, s.generation FROM version_members_schema1 m "
        "LEFT JOIN samples s ON s.id = m.sample_id ORDER BY m.version_id, m.sample_id, m.origin")
    conn.exec_driver_sql("DROP TABLE version_members_schema1")
    conn.exec_driver_sql("ALTER TABLE samples ADD COLUMN provenance_digest VARCHAR(32)")
    _digest_samples(conn)
    schema.occurrences.create(conn)
    conn.exec_driver_sql(
        "INSERT INTO occurrences (source, sample_id, origin, multiplicity, generation, generator, verified_by, "
        "item, ingest_id) SELECT COALESCE(source, 'ingest:' || CAST(COALESCE(ingest_id, 0) AS TEXT)), id, origin, "
        "1, generation, generator, verified_by, NULL, COALESCE(ingest_id, 0) FROM samples")
    v_t = schema.versions
    rows = conn.execute(select(v_t.c.id, v_t.c.n_members, v_t.c.label_watermark)).all()
    for vid, n, watermark in rows:
        root, chunks = version_digest(conn, vid, watermark)
        conn.execute(update(v_t).where(v_t.c.id == vid).values(
            n_distinct=n, digest=root, chunk_digests=json.dumps(chunks, separators=(",", ":"))))


SCHEMA2_UNUSED_INDEXES = ("ix_samples_origin", "ix_samples_source", "ix_samples_generation")


def _migrate_2_to_3(conn: Connection) -> None:
    """Drop the ``samples`` indexes no query uses (origin, source and generation filters read occurrences);
    content ids compare bytewise on PostgreSQL."""
    for name in SCHEMA2_UNUSED_INDEXES:
        conn.exec_driver_sql(f"DROP INDEX IF EXISTS {name}")
    _bytewise_ids(conn)


def _migrate_3_to_4(conn: Connection) -> None:
    """Exclusions get a nullable score."""
    columns = {c["name"] for c in inspect(conn).get_columns("exclusions")}
    if "score" not in columns:
        conn.exec_driver_sql("ALTER TABLE exclusions ADD COLUMN score FLOAT")


def _migrate_4_to_5(conn: Connection) -> None:
    """``labels.shape``: NULL for every stored row, a detection box."""
    columns = {c["name"] for c in inspect(conn).get_columns("labels")}
    if "shape" not in columns:
        conn.exec_driver_sql("ALTER TABLE labels ADD COLUMN shape TEXT")


def _migrate_5_to_6(conn: Connection) -> None:
    """The recorded-audit tables (``audit --record``), created empty."""
    for table in (schema.audits, schema.audit_metrics):
        table.create(conn, checkfirst=True)


def _migrate_6_to_7(conn: Connection, dialect: Dialect) -> None:
    """The table of versions' stored figures (``version_stats``), filled for every version now (one read of each
    manifest, about 4 s per million members), so no page or command pays for it on a first read after the
    upgrade. A version that still lacks them (a figure deleted by hand) is read and stored on first use
    (:mod:`tailguard.ledger.stats`)."""
    from tailguard.ledger import stats

    schema.version_stats.create(conn, checkfirst=True)
    for vid in conn.execute(select(schema.versions.c.id).order_by(schema.versions.c.id)).scalars().all():
        stats.store(conn, dialect, int(vid))


def _bytewise_ids(conn: Connection) -> None:
    """PostgreSQL: every content-id column not yet ``COLLATE "C"`` becomes so (its indexes are rebuilt)."""
    if conn.dialect.name != "postgresql":
        return  # SQLite compares bytes already
    found = {(t, c): collation for t, c, collation in conn.exec_driver_sql(
        "SELECT table_name, column_name, collation_name FROM information_schema.columns "
        "WHERE table_schema = current_schema()")}
    for table in schema.metadata.sorted_tables:
        for column in table.c:
            key = (table.name, column.name)
            if schema.is_id_column(column) and key in found and found[key] != "C":
                conn.exec_driver_sql(f'ALTER TABLE {table.name} ALTER COLUMN {column.name} '
                                     f'TYPE VARCHAR({schema.ID.length}) COLLATE "C"')


def _counts(conn: Connection) -> tuple[int, int, int]:
    """(versions, their members, samples) of the migrated ledger, for the report."""
    n_versions, n_members = conn.execute(
        select(func.count(), func.coalesce(func.sum(schema.versions.c.n_members), 0))).one()
    n_samples = int(conn.execute(text("SELECT COUNT(*) FROM samples")).scalar_one())
    return int(n_versions), int(n_members), n_samples
