"""Ledgers written by older schemas open with a clear message and migrate in place, with a backup.

``data/ledger_v01.sql`` is a SQLite dump of a ledger that tailguard 0.1 itself wrote
(text versions with a repeat, a mix, a detection version with boxes, a model run).
The PostgreSQL case copies the same rows into tables made by the frozen 0.1 schema.
A schema-2 ledger is today's tables plus the three ``samples`` indexes schema 3 dropped
and, on PostgreSQL, content ids compared by the database's locale (the only differences
between them), stamped 2.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import create_engine, insert, inspect, select, update

from tailguard.cli.app import main
from tailguard.errors import LedgerUpgradeRequiredError
from tailguard.ledger import Ledger, schema
from tailguard.ledger.engine import normalise_url
from tailguard.ledger.upgrade import SCHEMA2_UNUSED_INDEXES, upgrade_ledger

DUMP = Path(__file__).parent / "data" / "ledger_v01.sql"


def _v01_sqlite(path: Path) -> Path:
    con = sqlite3.connect(path)
    con.executescript(DUMP.read_text())
    con.close()
    return path


def _v01_postgres(url: str, tmp_path: Path) -> None:
    import schema_v01

    source = create_engine(f"sqlite:///{_v01_sqlite(tmp_path / 'src.db')}")
    target = create_engine(normalise_url(url))
    with source.connect() as src, target.begin() as dst:
        schema_v01.metadata.create_all(dst)
        for table in schema_v01.metadata.sorted_tables:
            rows = [dict(r._mapping) for r in src.execute(select(table))]
            if rows:
                dst.execute(insert(table), rows)
            if "id" in table.c and table.c.id.autoincrement is True:  # explicit ids do not advance the sequence
                dst.exec_driver_sql(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                                    f"COALESCE((SELECT MAX(id) FROM {table.name}), 0) + 1, false)")
    source.dispose()
    target.dispose()


@pytest.fixture
def v01_url(ledger_url: str, tmp_path: Path) -> str:
    if ledger_url.startswith("sqlite"):
        return f"sqlite:///{_v01_sqlite(tmp_path / 'old.db')}"
    _v01_postgres(ledger_url, tmp_path)
    return ledger_url


def test_a_01_ledger_says_how_to_upgrade(v01_url: str, capsys):
    with pytest.raises(LedgerUpgradeRequiredError, match="tailguard upgrade"):
        Ledger.open(v01_url)
    assert main(["--ledger", v01_url, "version", "list"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "tailguard upgrade" in err[0]


def test_upgrade_migrates_in_place_and_keeps_a_backup(v01_url: str, capsys):
    assert main(["--ledger", v01_url, "upgrade"]) == 0
    out = capsys.readouterr().out
    assert "schema 1 -> 7" in out and "backup" in out
    if v01_url.startswith("postgresql"):
        assert _id_collations(v01_url) == {"C"}
    with Ledger.open(v01_url) as ledger:
        names = [v.name for v in ledger.list_versions()]
        assert names == ["human-v1", "synth-v1", "mix-v1", "det-v1"]
        # 0.1 kept sets: the repeated "the cat sat" of human-v1 was one member, and stays one
        assert ledger.get_version("human-v1").n_members == 3
        assert ledger.version_summary("mix-v1").by_origin == {"human": 3, "synthetic": 1}
        assert ledger.version_summary("det-v1").by_class == {0: 1, 1: 1}
        for name in ("human-v1", "synth-v1", "mix-v1"):
            assert ledger.verify(name).passed, name
        det = ledger.verify("det-v1")
        assert det.digest_problem == ""  # image files of the 0.1 run are gone; the records are intact
        assert [r.model_id for r in ledger.model_runs()] == ["yolo-tiny"]
        # the upgraded ledger keeps working: new ingests count occurrences
        ledger.add_samples([])
    backup = out.split("backup: ", 1)[1].split()[0] if "backup: " in out else ""
    if v01_url.startswith("sqlite"):
        assert Path(backup).is_file()
        con = sqlite3.connect(backup)
        assert con.execute("SELECT value FROM tg_meta WHERE key='schema_version'").fetchone() == ("1",)
        con.close()
    assert upgrade_ledger(v01_url).already_current


def _id_columns() -> list[tuple[str, str]]:
    return [(t.name, c.name) for t in schema.metadata.sorted_tables for c in t.c if schema.is_id_column(c)]


def _id_collations(url: str) -> set[str | None]:
    """The collations of the content-id columns (PostgreSQL)."""
    engine = create_engine(normalise_url(url))
    try:
        with engine.connect() as conn:
            found = {(t, c): coll for t, c, coll in conn.exec_driver_sql(
                "SELECT table_name, column_name, collation_name FROM information_schema.columns "
                "WHERE table_schema = current_schema()")}
    finally:
        engine.dispose()
    return {found[key] for key in _id_columns()}


def _indexes(url: str) -> set[str]:
    engine = create_engine(normalise_url(url))
    try:
        with engine.connect() as conn:
            return {ix["name"] for ix in inspect(conn).get_indexes("samples")}
    finally:
        engine.dispose()


def _schema2(url: str, tmp_path: Path) -> None:
    """A ledger as schema 2 left it: the same tables, the three samples indexes, schema_version 2."""
    data = tmp_path / "texts.jsonl"
    data.write_text("".join(json.dumps({"text": t}) + "\n" for t in ("a", "b", "a", "c")))
    with Ledger.open(url) as ledger:
        ledger.ingest(data, origin="human", as_version="v2")
    engine = create_engine(normalise_url(url))
    with engine.begin() as conn:
        for name in SCHEMA2_UNUSED_INDEXES:
            conn.exec_driver_sql(f"CREATE INDEX {name} ON samples ({name.removeprefix('ix_samples_')})")
        if conn.dialect.name == "postgresql":
            for table, column in _id_columns():
                conn.exec_driver_sql(f'ALTER TABLE {table} ALTER COLUMN {column} TYPE VARCHAR(32) COLLATE "default"')
        conn.exec_driver_sql("ALTER TABLE labels DROP COLUMN shape")  # schema 5 added it
        conn.exec_driver_sql("ALTER TABLE exclusions DROP COLUMN score")  # schema 4 added it
        conn.execute(update(schema.meta).where(schema.meta.c.key == "schema_version").values(value="2"))
    engine.dispose()


def test_a_schema4_detection_ledger_upgrades_with_every_digest_unchanged(ledger_url: str, tmp_path: Path, capsys):
    """Schema 4 had no labels.shape: the column is added, detection boxes keep NULL, versions still verify."""
    from tailguard.data import make_detection_dataset

    data = make_detection_dataset(tmp_path / "det", n_images=4, seed=2, imgsz=64)
    with Ledger.open(ledger_url) as ledger:
        ledger.ingest(data, origin="human", as_version="det")
        boxes = sum(len(r.labels) for r in ledger.iter_samples("det"))
    engine = create_engine(normalise_url(ledger_url))
    with engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE labels DROP COLUMN shape")
        conn.execute(update(schema.meta).where(schema.meta.c.key == "schema_version").values(value="4"))
    engine.dispose()
    with pytest.raises(LedgerUpgradeRequiredError, match=r"schema 4; this one uses 7"):
        Ledger.open(ledger_url)
    assert main(["--ledger", ledger_url, "upgrade"]) == 0
    assert "schema 4 -> 7" in capsys.readouterr().out
    with Ledger.open(ledger_url) as ledger:
        assert ledger.verify("det").passed  # the stored digest, made before the column existed, still matches
        assert sum(len(r.labels) for r in ledger.iter_samples("det")) == boxes > 0
        assert {b.task for r in ledger.iter_samples("det") for b in r.labels} == {"detect"}


def test_a_schema2_ledger_says_how_to_upgrade_and_upgrades(ledger_url: str, tmp_path: Path, capsys):
    _schema2(ledger_url, tmp_path)
    assert set(SCHEMA2_UNUSED_INDEXES) <= _indexes(ledger_url)
    postgres = ledger_url.startswith("postgresql")
    if postgres:
        assert _id_collations(ledger_url) == {None}
    with pytest.raises(LedgerUpgradeRequiredError, match=r"schema 2; this one uses 7.*tailguard upgrade"):
        Ledger.open(ledger_url)
    assert main(["--ledger", ledger_url, "upgrade"]) == 0
    out = capsys.readouterr().out
    assert "schema 2 -> 7" in out and "(1 versions, 4 members, 3 samples)" in out and "backup: " in out
    assert not set(SCHEMA2_UNUSED_INDEXES) & _indexes(ledger_url)
    if postgres:  # content ids compare bytewise, in every table
        assert _id_collations(ledger_url) == {"C"}
    with Ledger.open(ledger_url) as ledger:
        assert ledger.get_version("v2").n_members == 4
        assert ledger.verify("v2").passed  # digest, rows and contents unchanged by the migration
    backup = out.split("backup: ", 1)[1].splitlines()[0]
    if ledger_url.startswith("sqlite"):
        con = sqlite3.connect(backup)
        assert con.execute("SELECT value FROM tg_meta WHERE key='schema_version'").fetchone() == ("2",)
        con.close()
    else:  # the PostgreSQL backup schema holds a copy of every table, occurrences included
        engine = create_engine(normalise_url(ledger_url))
        with engine.connect() as conn:
            copied = set(inspect(conn).get_table_names(schema=backup.removeprefix("schema ")))
        engine.dispose()
        assert {"samples", "occurrences", "version_members", "tg_meta"} <= copied
    assert upgrade_ledger(ledger_url).already_current


def test_a_schema3_ledger_gains_exclusion_scores(ledger_url: str, tmp_path: Path, capsys):
    """Schema 4 adds a nullable score to exclusions: old exclusions keep their reason and read None."""
    data = tmp_path / "texts.jsonl"
    data.write_text("".join(json.dumps({"text": t}) + "\n" for t in ("a", "b", "c")))
    with Ledger.open(ledger_url) as ledger:
        ledger.ingest(data, origin="human", as_version="v")
        ids = [s.id for s in ledger.iter_samples("v")]
        ledger.create_version("m", sample_ids=ids[:2], exclusions=[(ids[2], "left out")])
    engine = create_engine(normalise_url(ledger_url))
    with engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE exclusions DROP COLUMN score")
        conn.exec_driver_sql("ALTER TABLE labels DROP COLUMN shape")  # schema 5 added it
        conn.execute(update(schema.meta).where(schema.meta.c.key == "schema_version").values(value="3"))
    engine.dispose()
    with pytest.raises(LedgerUpgradeRequiredError, match=r"schema 3; this one uses 7"):
        Ledger.open(ledger_url)
    assert main(["--ledger", ledger_url, "upgrade"]) == 0
    assert "schema 3 -> 7" in capsys.readouterr().out
    with Ledger.open(ledger_url) as ledger:
        assert ledger.exclusions("m", scores=True) == [(ids[2], "left out", None)]
        ledger.create_version("n", sample_ids=ids[:1], exclusions=[(ids[1], "scored", 0.75)])
        assert ledger.exclusions("n", scores=True) == [(ids[1], "scored", 0.75)]
        assert ledger.exclusions("n") == [(ids[1], "scored")]


def test_a_schema5_ledger_gains_the_recorded_audit_tables(ledger_url: str, tmp_path: Path, capsys):
    """Schema 6 adds audits and audit_metrics: created empty, the versions untouched, audits recordable."""
    from tailguard.audit import AuditReport, MetricRow

    data = tmp_path / "texts.jsonl"
    data.write_text("".join(json.dumps({"text": t}) + "\n" for t in ("a", "b", "c")))
    with Ledger.open(ledger_url) as ledger:
        ledger.ingest(data, origin="human", as_version="v")
    engine = create_engine(normalise_url(ledger_url))
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE audit_metrics")
        conn.exec_driver_sql("DROP TABLE audits")
        conn.execute(update(schema.meta).where(schema.meta.c.key == "schema_version").values(value="5"))
    engine.dispose()
    with pytest.raises(LedgerUpgradeRequiredError, match=r"schema 5; this one uses 7"):
        Ledger.open(ledger_url)
    assert main(["--ledger", ledger_url, "audits", "list"]) == 2
    assert "tailguard upgrade" in capsys.readouterr().err
    assert main(["--ledger", ledger_url, "upgrade"]) == 0
    assert "schema 5 -> 7" in capsys.readouterr().out
    report = AuditReport(verdict="warn", modality="text", metrics=[
        MetricRow("vendi", "vendi", "diversity", 9.0, 10.0, 0.9, True, "warn", (8.0, 9.5))])
    with Ledger.open(ledger_url) as ledger:
        assert ledger.verify("v").passed and ledger.audits() == []
        audit_id = ledger.record_audit(report.to_dict())
        assert AuditReport.from_dict(ledger.audit_document(audit_id)).metrics == report.metrics
