"""The ledger's tables (SQLAlchemy 2 Core; the same schema on SQLite and PostgreSQL).

A version is a manifest table (``version_members``), never a file per sample. A
version is a multiset: each member row is one stored content with the origin its
occurrences had when the version was made, and how many times it occurs
(``multiplicity``), so repeated samples weigh in as they do in training. Versions
stay immutable even when a sample's origin is later upgraded from ``unknown``; each
carries a digest over its manifest (see :mod:`tailguard.ledger.manifest`).

``occurrences`` is the per-source record: how many times each content occurs in each
source (a file path, or one API call), with the provenance claimed there.

Schema 1 (tailguard 0.1) kept versions as sets; schema 2 kept three ``samples`` indexes
no query used and, on PostgreSQL, compared content ids by the database's locale; schema 3
had no ``exclusions.score``; schema 4 no ``labels.shape`` (every label was a detection box);
schema 5 no recorded audits (``audits``, ``audit_metrics``); schema 6 no stored version figures
(``version_stats``); :mod:`tailguard.ledger.upgrade` migrates each in place.
"""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Connection,
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
    inspect,
    select,
)

SCHEMA_VERSION = 7

metadata = MetaData()

# a content id (hex digits): on PostgreSQL compared bytewise (COLLATE "C"), whatever the database's
# locale: the order Python sorts them in (the manifest digest's), and no locale rules to apply on every
# index insertion (SQLite compares bytes already)
ID = String(32).with_variant(String(32, collation="C"), "postgresql")

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
    Column("provenance_digest", ID),  # hashing.provenance_digest of the row, rewritten by the ledger's own updates
    # no index on origin, source or generation: selectors filter occurrences and manifests (schema 3 dropped them)
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
    # the row's own geometry (tailguard.tasks.base.encode_shape): NULL for a detection box, else
    # "<task> <point_dim> <numbers>" (polygon vertices, oriented-box corners, keypoints; "classify 0")
    Column("shape", Text),
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
    Column("n_distinct", Integer, nullable=False, default=0),  # distinct contents (n_members counts occurrences)
    Column("digest", String(64)),  # Merkle root over the manifest (NULL only while being written)
    Column("chunk_digests", Text),  # JSON list of the leaf-chunk digests, to say where an edit is
)

version_members = Table(
    "version_members",
    metadata,
    Column("version_id", Integer, primary_key=True),
    Column("sample_id", ID, primary_key=True),
    Column("origin", String(16), primary_key=True),  # the same bytes can be human in one source, synthetic in another
    Column("multiplicity", Integer, nullable=False, default=1),
    Column("generation", Integer),
    sqlite_with_rowid=False,  # clustered on (version_id, sample_id, origin): one B-tree, sorted scans for diff
)

occurrences = Table(
    "occurrences",
    metadata,
    Column("source", Text, primary_key=True),  # resolved file path, or "ingest:N" for an API call without one
    Column("sample_id", ID, primary_key=True),
    Column("origin", String(16), primary_key=True),
    Column("multiplicity", Integer, nullable=False),
    Column("generation", Integer),
    Column("generator", Text),
    Column("verified_by", Text),
    Column("item", Text),  # the first item (file:line) it occurs at
    Column("ingest_id", Integer, nullable=False),
    Index("ix_occurrences_sample", "sample_id"),
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
    Column("score", Float),  # the step's score of the sample (filter: P(machine-made)); NULL where it gives none
    Index("ix_exclusions_version", "version_id"),
)

# recorded audits (``audit --record``, ``audit(ledger=)``, ``monitor --record``): one row per audit with its
# verdict and diagnosis, one row per judged number in ``audit_metrics``; ``report`` is the rest of the stored
# report (figures, losses, config, raw results) as JSON, so a report re-renders without recomputing anything
audits = Table(
    "audits",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("created_at", DateTime, nullable=False),
    Column("candidate", Text, nullable=False),
    Column("reference", Text, nullable=False),
    Column("baseline", Text),
    Column("config_id", String(64)),
    Column("modality", String(16), nullable=False),
    Column("verdict", String(16), nullable=False),
    Column("diagnosis", String(64), nullable=False),  # the mode; its summary and evidence are in ``report``
    Column("confidence", Float, nullable=False),
    Column("n_candidate", Integer, nullable=False),
    Column("n_reference", Integer, nullable=False),
    Column("n_baseline", Integer, nullable=False, default=0),
    Column("source", Text),  # what recorded it ("audit", "monitor:PATH#window") for the history
    Column("report", Text, nullable=False),
    Index("ix_audits_reference", "reference", "created_at"),
    Index("ix_audits_candidate", "candidate", "created_at"),
)

audit_metrics = Table(
    "audit_metrics",
    metadata,
    Column("audit_id", Integer, primary_key=True),
    Column("position", Integer, primary_key=True),  # the row's place in the report
    Column("name", Text, nullable=False),
    Column("metric", Text, nullable=False),
    Column("family", String(64), nullable=False),
    Column("value", Float),  # NULL with the number in ``nonfinite`` when it is not finite
    Column("reference_value", Float),
    Column("ratio", Float),
    Column("higher_is_better", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("ci_low", Float),
    Column("ci_high", Float),
    Column("ci_method", String(64)),
    Column("degradation", Float),
    Column("reason", Text, nullable=False, default=""),
    Column("rule", Text, nullable=False, default=""),
    Column("baseline_value", Float),
    Column("baseline_ci_low", Float),
    Column("baseline_ci_high", Float),
    Column("baseline_status", String(16)),
    Column("change_ci_low", Float),
    Column("change_ci_high", Float),
    # JSON {column: "inf" | "-inf" | "nan"} of the float columns whose value is not finite (SQLite stores
    # NaN as NULL, so the columns alone cannot say)
    Column("nonfinite", Text, nullable=False, default="{}"),
    Index("ix_audit_metrics_name", "name"),
)

# a version's figures, derived from its manifest (see :mod:`tailguard.ledger.stats`): written with the version, or
# on first read for a version made before schema 7. ``by_origin`` and ``by_generation`` come from the member rows
# (immutable, covered by the version's digest); the synthetic-depth histogram also reads the samples' current
# depth, which linking a run's outputs or learning an unknown sample's origin changes, so it holds only while
# ``depth_token`` equals the ledger's (tg_meta ``depth_token``, replaced by every write that changes a depth)
version_stats = Table(
    "version_stats",
    metadata,
    Column("version_id", Integer, primary_key=True),
    Column("by_origin", Text, nullable=False),  # JSON [[origin, occurrences], ...]
    Column("by_generation", Text, nullable=False),  # JSON [[generation or null, occurrences], ...]
    Column("depths", Text),  # JSON [[depth, occurrences], ...]; NULL: not read yet
    Column("depth_token", String(64)),  # the tg_meta depth_token the depths were read under
)


def is_id_column(column: Column) -> bool:  # type: ignore[type-arg]
    """Whether ``column`` holds content ids (:data:`ID`).

    >>> is_id_column(samples.c.id), is_id_column(samples.c.origin)
    (True, False)
    """
    return isinstance(column.type, String) and column.type.length == ID.length


def stored_schema_version(conn: Connection) -> int | None:
    """The schema version a database holds (``None``: no tailguard ledger there)."""
    if not inspect(conn).has_table(meta.name):
        return None
    have = conn.execute(select(meta.c.value).where(meta.c.key == "schema_version")).scalar()
    return None if have is None else int(have)
