"""The ledger schema of tailguard 0.1 (schema 1), frozen to build 0.1 ledgers for the upgrade tests.

A version is a manifest table (``version_members``), never a file per sample, and
keeps the origin each member had when the version was made, so versions stay
immutable even when a sample's origin is later upgraded from ``unknown``.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
)

SCHEMA_VERSION = 1

metadata = MetaData()

ID = String(32)

meta = Table(
    "tg_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

datasets = Table(
    "datasets",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("names_hash", ID, nullable=False, unique=True),
    Column("names", Text, nullable=False),  # JSON list of class names
)

ingests = Table(
    "ingests",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("path", Text),
    Column("format", String(16), nullable=False),
    Column("origin", String(16)),
    Column("started_at", DateTime, nullable=False),
    Column("n_added", Integer, nullable=False, default=0),
    Column("n_existing", Integer, nullable=False, default=0),
    Column("n_skipped", Integer, nullable=False, default=0),
    Column("version", Text),
)

samples = Table(
    "samples",
    metadata,
    Column("id", ID, primary_key=True),
    Column("uri", Text),
    Column("content", LargeBinary),
    Column("modality", String(16), nullable=False),
    Column("origin", String(16), nullable=False),
    Column("verified_by", Text),
    Column("verified_at", DateTime),
    Column("generator", Text),
    Column("generation", Integer),
    Column("source", Text),
    Column("created_at", DateTime, nullable=False),
    Column("extra", Text, nullable=False, default="{}"),
    Column("dataset_id", Integer, ForeignKey("datasets.id")),
    Column("synthetic_depth", Integer, nullable=False, default=0),
    Column("ingest_id", Integer),
    Index("ix_samples_origin", "origin"),
    Index("ix_samples_source", "source"),
    Index("ix_samples_generation", "generation"),
)

sample_parents = Table(
    "sample_parents",
    metadata,
    Column("sample_id", ID, primary_key=True),
    Column("parent_id", ID, primary_key=True),
    Index("ix_sample_parents_parent", "parent_id"),
)

labels = Table(
    "labels",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", ID, nullable=False),  # hash of (sample, origin, generator, line): the same box, re-added
    Column("sample_id", ID, nullable=False),
    Column("class_id", Integer, nullable=False),
    Column("x", Float, nullable=False),
    Column("y", Float, nullable=False),
    Column("w", Float, nullable=False),
    Column("h", Float, nullable=False),
    Column("origin", String(16), nullable=False),
    Column("confidence", Float),
    Column("generator", Text),
    Column("ingest_id", Integer, nullable=False, default=0),  # the ingest (or add_samples call) that added it
    Column("retired_by", Integer),  # the ingest whose label file replaced it (NULL: current)
    Index("ix_labels_sample", "sample_id"),
    Index("ux_labels_key_ingest", "key", "ingest_id", unique=True),
)

conflicts = Table(
    "conflicts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("sample_id", ID, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("claimed", Text, nullable=False),
    Column("other", Text, nullable=False),
    Column("detail", Text, nullable=False),
    Column("item", Text),
    Column("ingest_id", Integer),
    Column("created_at", DateTime, nullable=False),
    Index("ix_conflicts_sample", "sample_id"),
)

skipped = Table(
    "skipped",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("ingest_id", Integer, nullable=False),
    Column("item", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Index("ix_skipped_ingest", "ingest_id"),
)

versions = Table(
    "versions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(255), nullable=False, unique=True),
    Column("created_at", DateTime, nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("extra", Text, nullable=False, default="{}"),
    Column("n_members", Integer, nullable=False, default=0),
    Column("class_names", Text),  # JSON list, or NULL when no detection names are known
    # labels visible in the version: ingest_id <= label_watermark and not retired by then
    Column("label_watermark", Integer, nullable=False, default=0),
)

version_members = Table(
    "version_members",
    metadata,
    Column("version_id", Integer, primary_key=True),
    Column("sample_id", ID, primary_key=True),
    Column("origin", String(16), nullable=False),
    sqlite_with_rowid=False,  # clustered on (version_id, sample_id): one B-tree, sorted scans for diff
)

model_runs = Table(
    "model_runs",
    metadata,
    Column("id", ID, primary_key=True),
    Column("model_id", Text, nullable=False),
    Column("trained_on", String(255)),
    Column("created_at", DateTime, nullable=False),
    Column("config", Text, nullable=False, default="{}"),
    Column("extra", Text, nullable=False, default="{}"),
)

run_outputs = Table(
    "run_outputs",
    metadata,
    Column("run_id", ID, primary_key=True),
    Column("sample_id", ID, primary_key=True),
    Index("ix_run_outputs_sample", "sample_id"),
)

run_metrics = Table(
    "run_metrics",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", ID, nullable=False),
    Column("name", Text, nullable=False),
    Column("value", Float, nullable=False),
    Column("step", Integer),
    Column("recorded_at", DateTime, nullable=False),
    Index("ix_run_metrics_run", "run_id"),
)

exclusions = Table(
    "exclusions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("version_id", Integer, nullable=False),
    Column("sample_id", ID, nullable=False),
    Column("reason", Text, nullable=False),
    Index("ix_exclusions_version", "version_id"),
)
