"""The ledger: samples with provenance, immutable versions, model runs and lineage.

One code path (SQLAlchemy 2 Core) for the embedded SQLite file and PostgreSQL.

>>> import tempfile, os
>>> url = "sqlite:///" + os.path.join(tempfile.mkdtemp(), "ledger.db")
>>> with Ledger.open(url) as ledger:
...     report = ledger.add_samples(
...         [NewSample(content=b"a cat", uri=None, modality="text", origin="human")], as_version="v1"
...     )
...     print(report.added, ledger.get_version("v1").n_members)
...     print([r.origin for r in ledger.iter_samples("v1")])
1 1
['human']
"""

from __future__ import annotations

import datetime as dt
import json
import os
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Unpack

from sqlalchemy import (
    Connection,
    DateTime,
    Engine,
    Integer,
    and_,
    func,
    insert,
    literal,
    select,
    tuple_,
    update,
)
from sqlalchemy.exc import DBAPIError, IntegrityError, ProgrammingError

from tailguard.errors import (
    EmptyDatasetError,
    IncompatibleMergeError,
    LedgerError,
    LedgerUpgradeRequiredError,
    MissingInputError,
    ParameterError,
    UnknownChoiceError,
    VersionExistsError,
)
from tailguard.ledger import schema
from tailguard.ledger.engine import (
    make_engine,
    missing_schema_error,
    open_error,
    read_connection,
    resolve_url,
    write_transaction,
)
from tailguard.ledger.hashing import PROVENANCE_FIELDS, content_id, file_id, label_key, provenance_digest
from tailguard.ledger.manifest import (
    DigestCheck,
    check_digest,
    member_depth_sql,
    selection,
    version_digest,
    visible_labels,
)
from tailguard.ledger.types import (
    MODALITIES,
    ORIGINS,
    Box,
    Conflict,
    IngestReport,
    Lineage,
    ModelRun,
    NewSample,
    RunMetric,
    SampleRecord,
    SkippedItem,
    VerifyProblem,
    VerifyReport,
    VersionDiff,
    VersionInfo,
    VersionSummary,
)
from tailguard.ledger.urls import redact_url

if TYPE_CHECKING:
    from tailguard.ledger.export import ExportOptions

CHUNK = 2_000
IN_CHUNK = 5_000
ANALYZE_AFTER = 50_000  # rows; PostgreSQL re-plans with fresh statistics after bulk changes

s_t = schema.samples
vm_t = schema.version_members
v_t = schema.versions
l_t = schema.labels


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class _Clock:
    """``_now()`` at most once per millisecond-ish batch: bulk ingest stamps rows without a syscall each."""

    def __init__(self) -> None:
        self._value = _now()
        self._calls = 0

    def __call__(self) -> dt.datetime:
        self._calls += 1
        if self._calls % 1000 == 0:
            self._value = _now()
        return self._value


_clock = _Clock()
_ENCODER = json.JSONEncoder(sort_keys=True, default=str, separators=(",", ":"))


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value


def _dumps(value: Any) -> str:
    return _ENCODER.encode(value)


def _chunks(seq: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(seq), size):
        yield seq[start : start + size]


def default_depth(origin: str, generation: int | None) -> int:
    """Synthetic depth before any model run is linked: human 0, machine-made its generation (>= 1)."""
    if origin == "human":
        return 0
    if origin in ("synthetic", "pseudo_label"):
        return generation if generation is not None else 1
    return generation if generation is not None else 0


def schema_mismatch(url: str, have: int) -> LedgerError:
    """The error for a ledger whose schema is not this tailguard's."""
    url = redact_url(url)
    if have < schema.SCHEMA_VERSION:
        return LedgerUpgradeRequiredError(
            f"the ledger {url} was written by an older tailguard (schema {have}; this one uses "
            f"{schema.SCHEMA_VERSION}): run 'tailguard upgrade' to migrate it in place (a backup is kept)")
    return LedgerError(f"the ledger {url} was written by a newer tailguard (schema {have}; this one "
                       f"understands {schema.SCHEMA_VERSION}): upgrade tailguard")


def _member_depth(origin: str, stored_depth: int) -> int:
    """Synthetic depth of an occurrence: 0 when it is human, at least 1 when machine-made."""
    if origin == "human":
        return 0
    if origin in ("synthetic", "pseudo_label"):
        return max(stored_depth, 1)
    return stored_depth


@dataclass
class Prepared:
    """A sample ready to write (id computed, row built)."""

    id: str
    row: dict[str, Any]
    labels: tuple[Box, ...]
    parents: tuple[str, ...]
    item: str
    conflicts: list[tuple[str, str, str, str]] = field(default_factory=list)


@dataclass
class _Accumulator:
    added: int = 0  # contents new to the ledger
    existing: int = 0  # occurrences whose content the ledger already had before this ingest
    duplicates: int = 0  # occurrences whose content came earlier in this same ingest
    sample_ids: list[str] = field(default_factory=list)  # one per occurrence, in input order
    members: list[tuple[str, str]] = field(default_factory=list)  # (sample id, origin) per occurrence
    conflicts: list[Conflict] = field(default_factory=list)
    skipped: list[SkippedItem] = field(default_factory=list)
    seen: set[str] = field(default_factory=set)
    # (source, sample id, origin) -> [multiplicity, generation, generator, verified_by, first item]
    occurrences: dict[tuple[str, str, str], list[Any]] = field(default_factory=dict)

    def report(self, version: str | None, ingest_id: int | None) -> IngestReport:
        return IngestReport(self.added, self.existing, self.skipped, self.conflicts, version, self.sample_ids,
                            ingest_id, duplicates=self.duplicates)


class Ledger:
    """Provenance ledger over a SQLite file or a PostgreSQL database (see module doc)."""

    def __init__(self, engine: Engine, url: str):
        self._engine = engine
        self.url = url
        self._dataset_cache: dict[str, int] = {}

    # ------------------------------------------------------------------ lifecycle
    @classmethod
    def open(cls, url: str | None = None, *, create: bool = True) -> Ledger:
        """Open (and create, with its folder and schema) the ledger at ``url``.

        ``None`` means ``$TAILGUARD_LEDGER``, then ``sqlite:///.tailguard/ledger.db``.
        ``create=False`` opens an existing ledger only: nothing is created, and a missing
        one raises :class:`~tailguard.errors.LedgerNotFoundError`.
        """
        resolved = resolve_url(url)
        engine = make_engine(resolved, create=create)
        ledger = cls(engine, resolved)
        try:
            if create:
                ledger._create_schema()
            elif not ledger._schema_ready():
                raise missing_schema_error(resolved)
        except DBAPIError as exc:
            engine.dispose()
            raise open_error(resolved, exc) from exc
        except BaseException:
            engine.dispose()
            raise
        return ledger

    def _schema_ready(self) -> bool:
        from sqlalchemy import inspect

        with read_connection(self._engine) as conn:
            if not inspect(conn).has_table(schema.meta.name):
                return False
            have = conn.execute(
                select(schema.meta.c.value).where(schema.meta.c.key == "schema_version")).scalar()
        if have is not None and int(have) != schema.SCHEMA_VERSION:
            raise schema_mismatch(self.url, int(have))
        return have is not None

    def _create_schema(self) -> None:
        if self._schema_ready():  # opening must not wait for the write lock a long ingest holds
            return
        for attempt in range(5):
            try:
                with write_transaction(self._engine) as conn:
                    schema.metadata.create_all(conn)
                    have = conn.execute(
                        select(schema.meta.c.value).where(schema.meta.c.key == "schema_version")
                    ).scalar()
                    if have is None:
                        conn.execute(
                            insert(schema.meta).values(key="schema_version", value=str(schema.SCHEMA_VERSION))
                        )
                    elif int(have) != schema.SCHEMA_VERSION:
                        raise schema_mismatch(self.url, int(have))
                return
            except (IntegrityError, ProgrammingError):  # another process created it at the same time
                if attempt == 4:
                    raise

    def close(self) -> None:
        """Release the database connections."""
        self._engine.dispose()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self._engine.dialect.name

    def _bulk_insert(self, conn: Connection, table: Any, rows: list[dict[str, Any]], *,
                     returning: Any = None) -> set[Any] | None:
        """Insert many rows, ignoring ones whose key exists; optionally return the inserted keys.

        On SQLite (where BEGIN IMMEDIATE serialises writers, so nothing races) rows go
        straight to ``cursor.executemany``; SQLAlchemy's per-row parameter processing
        would otherwise dominate ingest time. On PostgreSQL rows are COPY'd into a
        temporary staging table, then moved with ``INSERT … SELECT … ON CONFLICT DO
        NOTHING RETURNING`` (exact even when concurrent ingests race).
        """
        if not rows:
            return set()
        if self.dialect == "postgresql":
            return self._copy_insert(conn, table, rows, returning)
        if self.dialect != "sqlite":  # pragma: no cover - other SQLAlchemy dialects
            stmt = self._insert_ignore(table)
            if returning is not None:
                return set(conn.execute(stmt.returning(returning), rows).scalars())
            conn.execute(stmt, rows)
            return None
        keys = list(rows[0])
        sql = (f"INSERT INTO {table.name} ({', '.join(keys)}) VALUES ({', '.join('?' * len(keys))}) "
               "ON CONFLICT DO NOTHING")
        stamps = [i for i, k in enumerate(keys) if isinstance(table.c[k].type, DateTime)]
        if stamps:
            cache: dict[dt.datetime, str] = {}

            def stamp(value: dt.datetime | None) -> str | None:
                if value is None:
                    return None
                text = cache.get(value)
                if text is None:
                    text = cache[value] = value.strftime("%Y-%m-%d %H:%M:%S.%f")  # SQLAlchemy's SQLite format
                return text

            params = []
            for r in rows:
                values = [r[k] for k in keys]
                for i in stamps:
                    values[i] = stamp(values[i])
                params.append(tuple(values))
        else:
            params = [tuple(r[k] for k in keys) for r in rows]
        conn.exec_driver_sql(sql, params)
        return {r[returning.name] for r in rows} if returning is not None else None

    def _copy_insert(self, conn: Connection, table: Any, rows: list[dict[str, Any]], returning: Any) -> set[Any] | None:
        keys = list(rows[0])
        cols = ", ".join(keys)
        stage = f"tg_stage_{table.name}"
        raw = conn.connection.driver_connection
        with raw.cursor() as cur:  # type: ignore[union-attr]
            cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS {stage} AS SELECT {cols} FROM {table.name} WITH NO DATA")
            cur.execute(f"TRUNCATE {stage}")
            with cur.copy(f"COPY {stage} ({cols}) FROM STDIN") as copy:
                for r in rows:
                    copy.write_row([r[k] for k in keys])
            sql = f"INSERT INTO {table.name} ({cols}) SELECT {cols} FROM {stage} ORDER BY 1 ON CONFLICT DO NOTHING"
            if returning is None:
                cur.execute(sql)
                return None
            cur.execute(sql + f" RETURNING {returning.name}")
            return {row[0] for row in cur.fetchall()}

    def _insert_ignore(self, table: Any) -> Any:
        if self.dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as dialect_insert
        else:
            from sqlalchemy.dialects.sqlite import insert as dialect_insert
        return dialect_insert(table).on_conflict_do_nothing()

    # ------------------------------------------------------------------ samples
    def prepare(
        self,
        sample: NewSample,
        *,
        sample_id: str | None = None,
        item: str | None = None,
        ingest_id: int | None = None,
        conn: Connection | None = None,
    ) -> Prepared:
        """Validate a :class:`NewSample` and compute its id (the content hash)."""
        if sample.modality not in MODALITIES:
            raise UnknownChoiceError("modality", str(sample.modality), MODALITIES, path=item)
        if sample.origin not in ORIGINS:
            raise UnknownChoiceError("origin", str(sample.origin), ORIGINS, path=item)
        for box in sample.labels:
            if box.origin not in ORIGINS:
                raise UnknownChoiceError("label origin", str(box.origin), ORIGINS, path=item)
        if sample_id is None:
            if sample.content is not None:
                sample_id = content_id(sample.content)
            elif sample.uri is not None:
                if not os.path.isfile(sample.uri):
                    raise MissingInputError("file not found", path=sample.uri)
                sample_id = file_id(sample.uri)
            else:
                raise ParameterError("A NewSample needs content or a uri. Got neither.")
        generation = sample.generation
        if generation is None and sample.origin == "human":
            generation = 0
        extra = dict(sample.extra)
        dataset_id = None
        names = extra.pop("class_names", None)
        if names is not None:
            dataset_id = self._dataset_id(list(map(str, names)), conn)
        now = _clock()
        row = {
            "id": sample_id,
            "uri": sample.uri,
            "content": sample.content if sample.uri is None else None,
            "modality": sample.modality,
            "origin": sample.origin,
            "verified_by": sample.verified_by,
            "verified_at": now if sample.verified_by else None,
            "generator": sample.generator,
            "generation": generation,
            "source": sample.source,
            "created_at": now,
            "extra": _dumps(extra),
            "dataset_id": dataset_id,
            "synthetic_depth": default_depth(sample.origin, generation),
            "ingest_id": ingest_id,
        }
        row["provenance_digest"] = provenance_digest(row)
        return Prepared(sample_id, row, tuple(sample.labels), tuple(map(str, sample.parents)),
                        item or sample.uri or sample_id)

    def _dataset_id(self, names: list[str], conn: Connection | None) -> int:
        key = content_id(_dumps(names).encode())
        if key in self._dataset_cache:
            return self._dataset_cache[key]
        d = schema.datasets

        def lookup(c: Connection) -> int:
            found = c.execute(select(d.c.id).where(d.c.names_hash == key)).scalar()
            if found is None:
                c.execute(self._insert_ignore(d).values(names_hash=key, names=_dumps(names)))
                found = c.execute(select(d.c.id).where(d.c.names_hash == key)).scalar_one()
            return int(found)

        if conn is not None:
            value = lookup(conn)
        else:
            with write_transaction(self._engine) as c:
                value = lookup(c)
        self._dataset_cache[key] = value
        return value

    def _write_chunk(self, conn: Connection, items: list[Prepared], ingest_id: int | None, acc: _Accumulator) -> None:
        ids = list({p.id for p in items})
        known: dict[str, tuple[str, int | None]] = {}
        for part in _chunks(ids, IN_CHUNK):
            if self.dialect == "sqlite":  # plain placeholders: compiling a 5,000-item IN costs more than the query
                marks = ",".join("?" * len(part))
                found = conn.exec_driver_sql(
                    f"SELECT id, origin, dataset_id FROM samples WHERE id IN ({marks})", tuple(part))
            elif self.dialect == "postgresql":
                found = conn.exec_driver_sql(
                    "SELECT id, origin, dataset_id FROM samples WHERE id = ANY(%(ids)s)", {"ids": list(part)})
            else:
                found = conn.execute(select(s_t.c.id, s_t.c.origin, s_t.c.dataset_id).where(s_t.c.id.in_(part)))
            for sid, origin, ds in found:
                known[sid] = (origin, ds)
        new_rows: list[dict[str, Any]] = []
        label_rows: dict[str, dict[str, Any]] = {}
        label_groups: dict[tuple[str, str, str | None], set[str]] = {}
        parent_rows: list[dict[str, str]] = []
        conflict_rows: list[dict[str, Any]] = []
        upgrades: list[dict[str, Any]] = []
        now = _clock()

        def add_conflict(p: Prepared, kind: str, claimed: str, other: str, detail: str) -> None:
            conflict_rows.append(
                {"sample_id": p.id, "kind": kind, "claimed": claimed, "other": other, "detail": detail,
                 "item": p.item, "ingest_id": ingest_id, "created_at": now}
            )
            acc.conflicts.append(Conflict(p.id, kind, claimed, other, detail, p.item))

        for p in items:
            origin = p.row["origin"]
            occurrence_origin = origin
            if p.id in known:
                if p.id in acc.seen:
                    acc.duplicates += 1
                else:
                    acc.existing += 1
                prev_origin, prev_ds = known[p.id]
                if origin == "unknown":
                    occurrence_origin = prev_origin  # the ledger knows more about these bytes than this claim
                elif prev_origin != origin:
                    if prev_origin == "unknown":
                        upgrades.append({"b_id": p.id, "b_origin": origin, "b_vby": p.row["verified_by"],
                                         "b_vat": p.row["verified_at"],
                                         "b_depth": p.row["synthetic_depth"], "b_gen": p.row["generation"]})
                        known[p.id] = (origin, prev_ds)
                    elif origin != "unknown":
                        add_conflict(p, "claim", origin, prev_origin,
                                     f"{p.item} claims {origin} but the same bytes are recorded as {prev_origin}")
                ds = p.row["dataset_id"]
                if ds is not None and prev_ds is not None and ds != prev_ds:
                    add_conflict(p, "class_names", str(ds), str(prev_ds),
                                 f"{p.item} comes with class names (set {ds}) that differ from the recorded ones "
                                 f"(set {prev_ds})")
            else:
                new_rows.append(p.row)
                known[p.id] = (origin, p.row["dataset_id"])
                acc.added += 1
            for kind, claimed, other, detail in p.conflicts:
                add_conflict(p, kind, claimed, other, detail)
            for box in p.labels:
                key = label_key(p.id, box.origin, box.line(), box.generator)
                label_rows[key] = {"key": key, "sample_id": p.id, "class_id": int(box.class_id),
                                   "x": float(box.x), "y": float(box.y), "w": float(box.w), "h": float(box.h),
                                   "origin": box.origin, "confidence": box.confidence, "generator": box.generator,
                                   "ingest_id": ingest_id or 0, "retired_by": None}
                label_groups.setdefault((p.id, box.origin, box.generator), set()).add(key)
            parent_rows.extend({"sample_id": p.id, "parent_id": parent} for parent in p.parents)
            acc.sample_ids.append(p.id)
            acc.members.append((p.id, occurrence_origin))
            acc.seen.add(p.id)
            key = (p.row["source"] or f"ingest:{ingest_id}", p.id, occurrence_origin)
            occ = acc.occurrences.get(key)
            if occ is None:
                acc.occurrences[key] = [1, p.row["generation"], p.row["generator"], p.row["verified_by"], p.item]
            else:
                occ[0] += 1
        if new_rows:
            new_rows.sort(key=lambda r: r["id"])  # one lock order for concurrent writers (PostgreSQL)
            inserted = self._bulk_insert(conn, s_t, new_rows, returning=s_t.c.id) or set()
            raced = len(new_rows) - len(inserted)  # committed by a concurrent ingest meanwhile
            acc.added -= raced
            acc.existing += raced
        if upgrades:
            from sqlalchemy import bindparam

            stored = {r.id: r for r in conn.execute(
                select(s_t.c.id, s_t.c.uri, s_t.c.modality, s_t.c.generator, s_t.c.source)
                .where(s_t.c.id.in_([u["b_id"] for u in upgrades])))}
            for u in upgrades:  # the ledger's own edit: its provenance digest follows
                r = stored[u["b_id"]]
                u["b_digest"] = provenance_digest({
                    "id": r.id, "uri": r.uri, "modality": r.modality, "origin": u["b_origin"],
                    "generation": u["b_gen"], "generator": r.generator, "verified_by": u["b_vby"],
                    "source": r.source})

            conn.execute(
                update(s_t)
                .where(s_t.c.id == bindparam("b_id"))
                .values(origin=bindparam("b_origin"), verified_by=bindparam("b_vby"),
                        verified_at=bindparam("b_vat"), synthetic_depth=bindparam("b_depth"),
                        generation=bindparam("b_gen"), provenance_digest=bindparam("b_digest")),
                upgrades,
            )
        if label_groups:
            active = self._update_label_groups(conn, label_groups, ingest_id or 0)
            fresh = [row for key, row in label_rows.items() if key not in active]
            self._bulk_insert(conn, l_t, fresh)
        if parent_rows:
            self._bulk_insert(conn, schema.sample_parents, parent_rows)
        if conflict_rows:
            conn.execute(insert(schema.conflicts), conflict_rows)

    def _update_label_groups(self, conn: Connection, groups: dict[tuple[str, str, str | None], set[str]],
                             ingest_id: int) -> set[str]:
        """New boxes for (sample, origin, generator) replace that group's current boxes.

        Replaced boxes are retired, not deleted, so versions made earlier keep exactly
        the boxes they had. Returns the keys of boxes that are current and stay so
        (re-adding them is a no-op: ingest is idempotent).
        """
        sample_ids = sorted({g[0] for g in groups})
        retire: list[int] = []
        keep: set[str] = set()
        for part in _chunks(sample_ids, IN_CHUNK):
            current = conn.execute(
                select(l_t.c.id, l_t.c.key, l_t.c.sample_id, l_t.c.origin, l_t.c.generator)
                .where(and_(l_t.c.sample_id.in_(part), l_t.c.retired_by.is_(None)))
            )
            for row in current:
                keys = groups.get((row.sample_id, row.origin, row.generator))
                if keys is None:
                    continue
                if row.key in keys:
                    keep.add(row.key)
                else:
                    retire.append(row.id)
        for part in _chunks(retire, IN_CHUNK):
            conn.execute(update(l_t).where(l_t.c.id.in_(part)).values(retired_by=ingest_id))
        return keep

    def _analyze_if_bulk(self, conn: Connection, acc: _Accumulator) -> None:
        if self.dialect == "postgresql" and acc.added >= ANALYZE_AFTER:
            conn.exec_driver_sql("ANALYZE samples")
            conn.exec_driver_sql("ANALYZE labels")

    def _begin_ingest(self, conn: Connection, path: str | None, fmt: str, origin: str | None) -> int:
        result = conn.execute(
            insert(schema.ingests).values(path=path, format=fmt, origin=origin, started_at=_now(),
                                          n_added=0, n_existing=0, n_skipped=0)
        )
        return int(result.inserted_primary_key[0])

    def _write_occurrences(self, conn: Connection, ingest_id: int, acc: _Accumulator) -> None:
        """Each source's occurrences become what this ingest read there (re-ingesting replaces, never adds)."""
        o_t = schema.occurrences
        sources = sorted({key[0] for key in acc.occurrences})
        for part in _chunks(sources, IN_CHUNK):
            conn.execute(o_t.delete().where(o_t.c.source.in_(part)))
        rows = [{"source": src, "sample_id": sid, "origin": origin, "multiplicity": mult, "generation": gen,
                 "generator": generator, "verified_by": vby, "item": item, "ingest_id": ingest_id}
                for (src, sid, origin), (mult, gen, generator, vby, item) in sorted(acc.occurrences.items())]
        for part in _chunks(rows, 20_000):
            self._bulk_insert(conn, o_t, list(part))

    def _finish_ingest(self, conn: Connection, ingest_id: int, acc: _Accumulator, version: str | None) -> None:
        self._write_occurrences(conn, ingest_id, acc)
        if acc.skipped:
            conn.execute(
                insert(schema.skipped),
                [{"ingest_id": ingest_id, "item": s.item, "reason": s.reason} for s in acc.skipped],
            )
        conn.execute(
            update(schema.ingests)
            .where(schema.ingests.c.id == ingest_id)
            .values(n_added=acc.added, n_existing=acc.existing + acc.duplicates, n_skipped=len(acc.skipped),
                    version=version)
        )

    def add_samples(
        self,
        samples: Iterable[NewSample],
        *,
        as_version: str | None = None,
        skipped: Iterable[SkippedItem] = (),
    ) -> IngestReport:
        """Add samples in one atomic transaction (re-adding the same bytes is idempotent).

        With ``as_version`` the added samples also become a new immutable version.
        ``skipped`` lists items the caller left out (e.g. images that failed to decode
        under ``--skip-bad``); they are recorded with this ingest, like a file ingest's.
        """
        acc = _Accumulator(skipped=list(skipped))
        with write_transaction(self._engine) as conn:
            if as_version is not None:
                self._check_new_version(conn, as_version)
            ingest_id = self._begin_ingest(conn, None, "api", None)
            batch: list[Prepared] = []
            for sample in samples:
                batch.append(self.prepare(sample, ingest_id=ingest_id, conn=conn))
                if len(batch) >= CHUNK:
                    self._write_chunk(conn, batch, ingest_id, acc)
                    batch = []
            if batch:
                self._write_chunk(conn, batch, ingest_id, acc)
            self._analyze_if_bulk(conn, acc)
            if as_version is not None:
                if not acc.sample_ids:
                    raise EmptyDatasetError(f"no samples given for version {as_version!r}")
                self._create_version(conn, as_version, (), acc.members, "", {"ingest_id": ingest_id})
            self._finish_ingest(conn, ingest_id, acc, as_version)
        return acc.report(as_version, ingest_id)

    def ingest(
        self,
        path: str | Path,
        *,
        format: str = "auto",
        origin: str | None = None,
        generator: str | None = None,
        generation: int | None = None,
        verified_by: str | None = None,
        as_version: str | None = None,
        skip_bad: bool = False,
        progress: bool | Callable[[int], None] = False,
    ) -> IngestReport:
        """Ingest a file or folder (yolo, images, jsonl, csv, parquet, npy) atomically.

        See :func:`tailguard.ledger.ingest.run_ingest` for the formats and the origin rules.
        """
        from tailguard.ledger.ingest import run_ingest

        return run_ingest(self, path, format=format, origin=origin, generator=generator, generation=generation,
                          verified_by=verified_by, as_version=as_version, skip_bad=skip_bad, progress=progress)

    # ------------------------------------------------------------------ versions
    def _version_row(self, conn: Connection, name: str) -> Any:
        row = conn.execute(select(v_t).where(v_t.c.name == name)).first()
        if row is None:
            names = [n for (n,) in conn.execute(select(v_t.c.name).limit(10_000))]
            if names:
                raise UnknownChoiceError("version", name, names)
            raise MissingInputError(f"version {name!r} does not exist (the ledger has no versions yet)")
        return row

    def _check_new_version(self, conn: Connection, name: str) -> None:
        if not isinstance(name, str) or not name.strip() or len(name) > 255 or any(c in name for c in "\n\r\t"):
            raise ParameterError(f"A version name must be a non-empty single-line string. Got {name!r}.")
        if conn.execute(select(v_t.c.id).where(v_t.c.name == name)).first() is not None:
            raise VersionExistsError(f"version {name!r} already exists; versions are immutable, pick a new name")

    def _create_version(
        self,
        conn: Connection,
        name: str,
        selectors: Sequence[str],
        members: Iterable[str | tuple[str, str | None]] | None,
        description: str,
        extra: dict[str, Any] | None,
    ) -> int:
        """Write a version: its manifest (a multiset), counts, class names, watermark and digest.

        ``members`` lists one entry per occurrence: a sample id (its stored origin) or a
        ``(sample_id, origin)`` pair. With ``selectors`` as well, only members the
        selectors match are kept.
        """
        self._check_new_version(conn, name)
        extra = dict(extra or {})
        explicit_names = extra.pop("class_names", None)
        if selectors:
            extra["selectors"] = list(selectors)
        try:
            vid = int(conn.execute(
                insert(v_t).values(name=name, created_at=_now(), description=description, extra=_dumps(extra),
                                   n_members=0, n_distinct=0, label_watermark=0)
            ).inserted_primary_key[0])
        except IntegrityError as exc:
            raise VersionExistsError(f"version {name!r} already exists; versions are immutable") from exc

        def version_id_of(n: str) -> int:
            return int(self._version_row(conn, n).id)

        if members is None:
            query = selection(selectors, version_id_of, vid)
            conn.execute(insert(vm_t).from_select(
                ["version_id", "sample_id", "origin", "multiplicity", "generation"], query))
        else:
            self._insert_members(conn, vid, name, selectors, members, version_id_of)
        n, n_distinct = conn.execute(
            select(func.coalesce(func.sum(vm_t.c.multiplicity), 0), func.count(func.distinct(vm_t.c.sample_id)))
            .where(vm_t.c.version_id == vid)).one()
        if n == 0:
            raise EmptyDatasetError(
                f"version {name!r} would be empty: no sample matches {' '.join(selectors) or 'the given ids'}"
            )
        if self.dialect == "postgresql" and n_distinct >= ANALYZE_AFTER:
            # fresh planner statistics: without them a diff of two big versions can pick a nested loop
            conn.exec_driver_sql("ANALYZE version_members")
        names = explicit_names if explicit_names is not None else self._member_class_names(conn, vid, name)
        watermark = int(conn.execute(select(func.max(schema.ingests.c.id))).scalar() or 0)
        root, chunks = version_digest(conn, vid, watermark)
        conn.execute(
            update(v_t).where(v_t.c.id == vid).values(
                n_members=int(n), n_distinct=int(n_distinct), label_watermark=watermark,
                class_names=_dumps([str(x) for x in names]) if names is not None else None,
                digest=root, chunk_digests=_dumps(chunks),
            )
        )
        return vid

    def _insert_members(self, conn: Connection, vid: int, name: str, selectors: Sequence[str],
                        members: Iterable[str | tuple[str, str | None]],
                        version_id_of: Callable[[str], int]) -> None:
        counts: dict[tuple[str, str | None], int] = {}
        for m in members:
            key = (m, None) if isinstance(m, str) else (str(m[0]), m[1])
            if key[1] is not None and key[1] not in ORIGINS:
                raise UnknownChoiceError("origin", str(key[1]), ORIGINS)
            counts[key] = counts.get(key, 0) + 1
        ids = sorted({sid for sid, _ in counts})
        rows: dict[tuple[str, str], dict[str, Any]] = {}
        for part in _chunks(ids, IN_CHUNK):
            allowed: set[tuple[str, str]] | None = None
            if selectors:  # keep only the (sample, origin) pairs the selectors match
                query = selection(selectors, version_id_of, vid)
                sid_col = query.selected_columns[1]
                allowed = {(r[1], r[2]) for r in conn.execute(query.where(sid_col.in_(part)))}
            known = {r.id: (r.origin, r.generation) for r in conn.execute(
                select(s_t.c.id, s_t.c.origin, s_t.c.generation).where(s_t.c.id.in_(part)))}
            for sid in part:
                if sid not in known:
                    raise MissingInputError(f"sample {sid!r} is not in the ledger (version {name!r})")
            for sid in part:
                sample_origin, generation = known[sid]
                for origin in (*ORIGINS, None):
                    mult = counts.get((sid, origin))
                    if not mult:
                        continue
                    resolved = sample_origin if origin is None or origin == "unknown" else origin
                    if allowed is not None and (sid, resolved) not in allowed:
                        continue
                    row = rows.get((sid, resolved))
                    if row is None:
                        rows[(sid, resolved)] = {"version_id": vid, "sample_id": sid, "origin": resolved,
                                                 "multiplicity": mult, "generation": generation}
                    else:
                        row["multiplicity"] += mult
        ordered = [rows[k] for k in sorted(rows)]
        for part in _chunks(ordered, 50_000):
            self._bulk_insert(conn, vm_t, list(part))

    def _member_class_names(self, conn: Connection, vid: int, name: str) -> list[str] | None:
        d = schema.datasets
        ds_ids = select(s_t.c.dataset_id).distinct().select_from(
            vm_t.join(s_t, s_t.c.id == vm_t.c.sample_id)
        ).where(and_(vm_t.c.version_id == vid, s_t.c.dataset_id.is_not(None)))
        sets = [json.loads(n) for (n,) in conn.execute(select(d.c.names).where(d.c.id.in_(ds_ids)))]
        if not sets:
            return None
        longest = max(sets, key=len)
        for other in sets:
            if longest[: len(other)] != other:
                raise IncompatibleMergeError(
                    f"version {name!r} mixes samples whose class names disagree: {longest} vs {other}"
                )
        return list(longest)

    def create_version(
        self,
        name: str,
        selectors: Sequence[str] = (),
        *,
        sample_ids: Iterable[str] | None = None,
        description: str = "",
        extra: dict[str, Any] | None = None,
        exclusions: Iterable[tuple[str, str]] = (),
    ) -> VersionInfo:
        """Create an immutable version from selectors and/or explicit sample ids.

        Selectors: ``version:NAME``, ``origin:human``, ``generation:<=2``, ``source:PATH``
        (same key OR'ed, different keys AND'ed). ``extra={"class_names": [...]}`` sets the
        detection class names explicitly. Reusing a name raises VersionExistsError.
        ``exclusions`` ((sample_id, reason) pairs a policy left out) are written in the
        same transaction, so a version never exists without its exclusion records.
        """
        if isinstance(selectors, str):
            selectors = (selectors,)
        with write_transaction(self._engine) as conn:
            self._create_version(conn, name, tuple(selectors), sample_ids, description, extra)
            self._insert_exclusions(conn, name, exclusions)
        return self.get_version(name)

    def _info(self, row: Any) -> VersionInfo:
        return VersionInfo(row.name, _aware(row.created_at), int(row.n_members), row.description or "",
                           json.loads(row.extra or "{}"), int(row.n_distinct), row.digest)

    def get_version(self, name: str) -> VersionInfo:
        """The version called ``name`` (UnknownChoiceError with suggestions when absent)."""
        with read_connection(self._engine) as conn:
            return self._info(self._version_row(conn, name))

    def list_versions(self) -> list[VersionInfo]:
        """Every version, oldest first."""
        with read_connection(self._engine) as conn:
            return [self._info(r) for r in conn.execute(select(v_t).order_by(v_t.c.id))]

    def version_sample_ids(self, name: str) -> list[str]:
        """Sample ids of a version, sorted, one per occurrence (a content that occurs twice is listed twice)."""
        with read_connection(self._engine) as conn:
            vid = self._version_row(conn, name).id
            rows = conn.execute(select(vm_t.c.sample_id, vm_t.c.multiplicity).where(vm_t.c.version_id == vid)
                                .order_by(vm_t.c.sample_id, vm_t.c.origin))
            return [sid for sid, mult in rows for _ in range(int(mult))]

    def check_digest(self, name: str) -> DigestCheck:
        """Recompute the manifest digest of version ``name`` from the database (no file is read)."""
        with read_connection(self._engine) as conn:
            return check_digest(conn, self._version_row(conn, name))

    def class_names(self, version: str) -> list[str]:
        """Detection class names recorded for a version (from data.yaml); [] when none are known."""
        with read_connection(self._engine) as conn:
            row = self._version_row(conn, version)
            return list(json.loads(row.class_names)) if row.class_names else []

    # ------------------------------------------------------------------ reading
    def _records(self, conn: Connection, rows: list[Any], watermark: int | None) -> list[SampleRecord]:
        ids = list(dict.fromkeys(r.id for r in rows))
        labels: dict[str, list[Box]] = {}
        parents: dict[str, list[str]] = {}
        for part in _chunks(ids, IN_CHUNK):
            q = select(l_t).where(and_(l_t.c.sample_id.in_(part), visible_labels(watermark))).order_by(l_t.c.id)
            for lb in conn.execute(q):
                labels.setdefault(lb.sample_id, []).append(
                    Box(lb.class_id, lb.x, lb.y, lb.w, lb.h, lb.origin, lb.confidence, lb.generator)
                )
            sp = schema.sample_parents
            for sid, pid in conn.execute(select(sp.c.sample_id, sp.c.parent_id).where(sp.c.sample_id.in_(part))):
                parents.setdefault(sid, []).append(pid)
        return [
            SampleRecord(
                id=r.id, uri=r.uri, modality=r.modality, origin=r.origin, verified_by=r.verified_by,
                verified_at=_aware(r.verified_at), generator=r.generator, generation=r.generation,
                parents=tuple(sorted(parents.get(r.id, ()))), source=r.source, created_at=_aware(r.created_at),
                extra=json.loads(r.extra or "{}"), labels=tuple(labels.get(r.id, ())),
                synthetic_depth=_member_depth(r.origin, int(r.synthetic_depth)),
            )
            for r in rows
        ]

    _COLS = (s_t.c.id, s_t.c.uri, s_t.c.modality, s_t.c.verified_by, s_t.c.verified_at, s_t.c.generator,
             s_t.c.generation, s_t.c.source, s_t.c.created_at, s_t.c.extra, s_t.c.synthetic_depth)

    def _iter_rows(
        self, version: str | None, ids: Iterable[str] | None, batch_size: int, with_content: bool
    ) -> Iterator[tuple[list[Any], int | None, Connection]]:
        """Batches of stored rows, one per content (and origin, in a version) with its ``multiplicity``.

        Without a version every stored content is one row of multiplicity 1.
        """
        if batch_size < 1:
            raise ParameterError(f"The 'batch_size' parameter of Ledger.iter_samples must be an int >= 1. "
                                 f"Got {batch_size}.")
        cols = list(self._COLS) + ([s_t.c.content] if with_content else [])
        with read_connection(self._engine) as conn:
            vrow = self._version_row(conn, version) if version is not None else None
            watermark = vrow.label_watermark if vrow is not None else None
            if vrow is None:
                base = select(*cols, s_t.c.origin, literal(1, Integer).label("multiplicity"))
            else:
                base = (select(*cols, vm_t.c.origin, vm_t.c.multiplicity)
                        .select_from(vm_t.join(s_t, s_t.c.id == vm_t.c.sample_id))
                        .where(vm_t.c.version_id == vrow.id))
            if ids is not None:
                wanted = list(dict.fromkeys(ids))
                id_col = s_t.c.id if vrow is None else vm_t.c.sample_id
                for part in _chunks(wanted, min(batch_size, IN_CHUNK)):
                    by_id: dict[str, list[Any]] = {}
                    for r in conn.execute(base.where(id_col.in_(part)).order_by(id_col)):
                        by_id.setdefault(r.id, []).append(r)
                    missing = [i for i in part if i not in by_id]
                    if missing:
                        where = f" in version {version!r}" if version else ""
                        raise MissingInputError(f"sample {missing[0]!r} is not in the ledger{where}")
                    yield [r for i in part for r in by_id[i]], watermark, conn
                return
            if vrow is None:
                last: tuple[str, ...] = ("",)
                keys: tuple[Any, ...] = (s_t.c.id,)
            else:
                last = ("", "")
                keys = (vm_t.c.sample_id, vm_t.c.origin)
            while True:
                after = keys[0] > last[0] if len(keys) == 1 else tuple_(*keys) > tuple_(*map(literal, last))
                rows = conn.execute(base.where(after).order_by(*keys).limit(batch_size)).all()
                if not rows:
                    return
                yield rows, watermark, conn
                last = (rows[-1].id,) if len(keys) == 1 else (rows[-1].id, rows[-1].origin)

    def iter_samples(
        self, version: str | None = None, *, ids: Iterable[str] | None = None, batch_size: int = 10_000
    ) -> Iterator[SampleRecord]:
        """Stream sample records (with labels and synthetic depth), ordered by id.

        A version yields one record per occurrence: a content that occurs three times
        is yielded three times, as training would see it. In a version, each record
        carries the origin it had when the version was made and only the labels that
        existed then. Without a version, each stored content is yielded once.
        """
        for rows, watermark, conn in self._iter_rows(version, ids, batch_size, False):
            for rec, row in zip(self._records(conn, rows, watermark), rows, strict=True):
                for _ in range(int(row.multiplicity)):
                    yield rec

    def iter_bytes(
        self, version: str | None = None, *, ids: Iterable[str] | None = None, batch_size: int = 2_000,
        read_files: bool = True,
    ) -> Iterator[tuple[SampleRecord, bytes | None]]:
        """Like :meth:`iter_samples` but also yields each sample's bytes (inline or read from its file).

        With ``read_files=False`` samples stored by reference (images) yield ``None``.
        """
        for rows, watermark, conn in self._iter_rows(version, ids, batch_size, True):
            for rec, row in zip(self._records(conn, rows, watermark), rows, strict=True):
                if row.content is not None:
                    data: bytes | None = bytes(row.content)
                else:
                    data = self._file_bytes(rec.id, rec.uri) if read_files else None
                for _ in range(int(row.multiplicity)):
                    yield rec, data

    @staticmethod
    def _file_bytes(sample_id: str, uri: str | None) -> bytes:
        """The bytes of a sample stored by reference (its file)."""
        if uri is None:
            raise MissingInputError(f"sample {sample_id!r} has neither inline content nor a uri")
        try:
            return Path(uri).read_bytes()
        except FileNotFoundError as exc:
            raise MissingInputError("file not found", path=uri) from exc

    def read_bytes(self, record: SampleRecord | str) -> bytes:
        """The sample's content: stored inline (text, tabular, vector rows) or the file at its uri."""
        sid = record if isinstance(record, str) else record.id
        with read_connection(self._engine) as conn:
            row = conn.execute(select(s_t.c.content, s_t.c.uri).where(s_t.c.id == sid)).first()
        if row is None:
            raise MissingInputError(f"sample {sid!r} is not in the ledger")
        if row.content is not None:
            return bytes(row.content)
        return self._file_bytes(sid, row.uri)

    # ------------------------------------------------------------------ summaries
    def _conflicts_for(self, conn: Connection, vid: int) -> list[Conflict]:
        c = schema.conflicts
        rows = conn.execute(
            select(c).where(c.c.sample_id.in_(select(vm_t.c.sample_id).where(vm_t.c.version_id == vid)))
            .order_by(c.c.id)
        )
        return [Conflict(r.sample_id, r.kind, r.claimed, r.other, r.detail, r.item) for r in rows]

    def conflicts(self, version: str | None = None) -> list[Conflict]:
        """Recorded provenance conflicts (all, or those of a version's members)."""
        with read_connection(self._engine) as conn:
            if version is not None:
                return self._conflicts_for(conn, self._version_row(conn, version).id)
            c = schema.conflicts
            return [Conflict(r.sample_id, r.kind, r.claimed, r.other, r.detail, r.item)
                    for r in conn.execute(select(c).order_by(c.c.id))]

    def version_summary(self, name: str) -> VersionSummary:
        """Occurrence counts by origin, generation and class (boxes of every origin), depth and conflicts."""
        with read_connection(self._engine) as conn:
            vrow = self._version_row(conn, name)
            vid = vrow.id
            mult = func.sum(vm_t.c.multiplicity)
            by_origin = {o: int(n) for o, n in conn.execute(
                select(vm_t.c.origin, mult).where(vm_t.c.version_id == vid).group_by(vm_t.c.origin))}
            by_generation = {g: int(n) for g, n in conn.execute(
                select(vm_t.c.generation, mult).where(vm_t.c.version_id == vid).group_by(vm_t.c.generation))}
            # a box is trained on as often as its image occurs
            per_member = (select(vm_t.c.sample_id, func.sum(vm_t.c.multiplicity).label("m"))
                          .where(vm_t.c.version_id == vid).group_by(vm_t.c.sample_id).subquery())
            by_class = {int(k): int(n) for k, n in conn.execute(
                select(l_t.c.class_id, func.sum(per_member.c.m))
                .select_from(per_member.join(l_t, l_t.c.sample_id == per_member.c.sample_id))
                .where(visible_labels(vrow.label_watermark))
                .group_by(l_t.c.class_id).order_by(l_t.c.class_id))}
            depth = conn.execute(
                select(func.max(member_depth_sql())).select_from(vm_t.join(s_t, s_t.c.id == vm_t.c.sample_id))
                .where(vm_t.c.version_id == vid)
            ).scalar()
            conflicts = self._conflicts_for(conn, vid)
        n = sum(by_origin.values())
        return VersionSummary(
            n=n, by_origin=dict(sorted(by_origin.items())),
            by_generation=dict(sorted(by_generation.items(), key=lambda kv: (kv[0] is None, kv[0] or 0))),
            by_class=by_class, human_fraction=by_origin.get("human", 0) / n if n else 0.0,
            unknown_fraction=by_origin.get("unknown", 0) / n if n else 0.0,
            max_synthetic_depth=int(depth or 0), conflicts=conflicts, n_distinct=int(vrow.n_distinct),
        )

    def diff(self, a: str, b: str) -> VersionDiff:
        """Contents added in ``b``, removed from ``a``, and members whose origin or count changed."""
        from tailguard.ledger.diff import diff_versions

        with read_connection(self._engine) as conn:
            return diff_versions(conn, self._version_row(conn, a).id, self._version_row(conn, b).id)

    def verify(self, name: str, *, progress: Callable[[int], None] | None = None) -> VerifyReport:
        """Check a version end to end: its manifest digest, its sample rows, and every content's bytes.

        Each distinct content is rehashed once (its file, or its inline bytes); the
        digest is recomputed from the database, so edited members, counts, origins,
        generations or boxes are caught as well as changed files.
        """
        ok = 0
        missing: list[VerifyProblem] = []
        changed: list[VerifyProblem] = []
        with read_connection(self._engine) as conn:
            vrow = self._version_row(conn, name)
            digest = check_digest(conn, vrow)
            contents = select(vm_t.c.sample_id).where(vm_t.c.version_id == vrow.id).distinct().subquery()
            rows = conn.execute(
                select(contents.c.sample_id.label("member"), s_t.c.content, s_t.c.provenance_digest,
                       *[s_t.c[k] for k in PROVENANCE_FIELDS])
                .select_from(contents.outerjoin(s_t, s_t.c.id == contents.c.sample_id))
                .order_by(contents.c.sample_id).execution_options(yield_per=2_000)
            )
            done = 0
            for row in rows:
                sid, content, uri = row.id, row.content, row.uri
                done += 1
                if progress is not None and done % 2_000 == 0:
                    progress(2_000)
                if sid is None:
                    missing.append(VerifyProblem(row.member, None, "its sample row was deleted from the ledger"))
                    continue
                if row.provenance_digest != provenance_digest(row):
                    changed.append(VerifyProblem(sid, uri, "its provenance record (origin, generation, generator, "
                                                           "verified_by, source or uri) was edited in the database"))
                    continue
                if content is not None:
                    actual = content_id(bytes(content))
                elif uri is None:
                    missing.append(VerifyProblem(sid, None, "no content and no uri"))
                    continue
                else:
                    try:
                        actual = file_id(uri)
                    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
                        missing.append(VerifyProblem(sid, uri, "file not found"))
                        continue
                    except OSError as exc:
                        missing.append(VerifyProblem(sid, uri, f"unreadable: {exc.strerror or exc}"))
                        continue
                if actual != sid:
                    changed.append(VerifyProblem(sid, uri, f"content hash is now {actual}"))
                else:
                    ok += 1
            if progress is not None and done % 2_000:
                progress(done % 2_000)
        return VerifyReport(ok=ok, missing=missing, changed=changed, occurrences=int(vrow.n_members),
                            digest_problem=digest.describe(name))

    # ------------------------------------------------------------------ runs
    def record_model_run(
        self,
        model_id: str,
        trained_on: str | None,
        *,
        produced: Iterable[str] = (),
        config: dict[str, Any] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> str:
        """Record a model run trained on version ``trained_on``; returns the run id."""
        run_id = uuid.uuid4().hex
        with write_transaction(self._engine) as conn:
            if trained_on is not None:
                self._version_row(conn, trained_on)
            conn.execute(insert(schema.model_runs).values(
                id=run_id, model_id=str(model_id), trained_on=trained_on, created_at=_now(),
                config=_dumps(config or {}), extra=_dumps(extra or {})))
            self._link(conn, run_id, list(produced))
        return run_id

    def _link(self, conn: Connection, run_id: str, sample_ids: list[str]) -> None:
        run = conn.execute(select(schema.model_runs).where(schema.model_runs.c.id == run_id)).first()
        if run is None:
            raise MissingInputError(f"model run {run_id!r} is not in the ledger")
        if not sample_ids:
            return
        ids = list(dict.fromkeys(sample_ids))
        for part in _chunks(ids, IN_CHUNK):
            found = set(conn.execute(select(s_t.c.id).where(s_t.c.id.in_(part))).scalars())
            if len(found) < len(part):
                missing = next(i for i in part if i not in found)
                raise MissingInputError(f"sample {missing!r} is not in the ledger (outputs of run {run_id})")
        conn.execute(self._insert_ignore(schema.run_outputs), [{"run_id": run_id, "sample_id": i} for i in ids])
        if run.trained_on is not None:
            vid = self._version_row(conn, run.trained_on).id
            parent_depth = conn.execute(
                select(func.max(s_t.c.synthetic_depth)).select_from(vm_t.join(s_t, s_t.c.id == vm_t.c.sample_id))
                .where(vm_t.c.version_id == vid)
            ).scalar() or 0
            for part in _chunks(ids, IN_CHUNK):
                conn.execute(update(s_t).where(and_(s_t.c.id.in_(part), s_t.c.origin != "human"))
                             .values(synthetic_depth=int(parent_depth) + 1))

    def link_run_outputs(self, run_id: str, sample_ids: Iterable[str]) -> None:
        """Record that a run produced these samples (sets their synthetic depth)."""
        with write_transaction(self._engine) as conn:
            self._link(conn, run_id, list(sample_ids))

    def record_run_metrics(self, run_id: str, metrics: Mapping[str, float], *, step: int | None = None) -> None:
        """Store metrics of a run, e.g. ``{"recall/class_7": 0.4}``."""
        import math

        rows = []
        for name, value in metrics.items():
            v = float(value)
            if not math.isfinite(v):
                from tailguard.errors import NonFiniteValueError

                raise NonFiniteValueError(f"metric {name!r} of run {run_id} is {v}; metrics must be finite")
            rows.append({"run_id": run_id, "name": str(name), "value": v, "step": step, "recorded_at": _now()})
        with write_transaction(self._engine) as conn:
            if conn.execute(select(schema.model_runs.c.id).where(schema.model_runs.c.id == run_id)).first() is None:
                raise MissingInputError(f"model run {run_id!r} is not in the ledger")
            if rows:
                conn.execute(insert(schema.run_metrics), rows)

    def run_metrics(self, run_id: str) -> list[RunMetric]:
        """Metrics recorded for a run, in recording order."""
        m = schema.run_metrics
        with read_connection(self._engine) as conn:
            return [RunMetric(r.name, r.value, r.step, _aware(r.recorded_at))
                    for r in conn.execute(select(m).where(m.c.run_id == run_id).order_by(m.c.id))]

    def model_runs(self) -> list[ModelRun]:
        """Every recorded model run, oldest first."""
        r_t, o_t = schema.model_runs, schema.run_outputs
        counts = select(o_t.c.run_id, func.count().label("n")).group_by(o_t.c.run_id).subquery()
        with read_connection(self._engine) as conn:
            rows = conn.execute(
                select(r_t, counts.c.n).select_from(r_t.outerjoin(counts, counts.c.run_id == r_t.c.id))
                .order_by(r_t.c.created_at, r_t.c.id)
            )
            return [ModelRun(r.id, r.model_id, r.trained_on, _aware(r.created_at), json.loads(r.config),
                             json.loads(r.extra), int(r.n or 0)) for r in rows]

    # ------------------------------------------------------------------ exclusions
    def record_exclusions(self, version: str, exclusions: Iterable[tuple[str, str]]) -> None:
        """Record samples a policy left out of ``version``, each with its reason."""
        with write_transaction(self._engine) as conn:
            self._insert_exclusions(conn, version, exclusions)

    def _insert_exclusions(self, conn: Connection, version: str, exclusions: Iterable[tuple[str, str]]) -> None:
        vid = self._version_row(conn, version).id  # an unknown version is an error even with nothing to record
        rows = [{"version_id": vid, "sample_id": str(s), "reason": str(r)} for s, r in exclusions]
        for part in _chunks(rows, CHUNK):
            conn.execute(insert(schema.exclusions), list(part))

    def exclusions(self, version: str) -> list[tuple[str, str]]:
        """(sample_id, reason) pairs recorded for ``version``."""
        e = schema.exclusions
        with read_connection(self._engine) as conn:
            vid = self._version_row(conn, version).id
            return [(s, r) for s, r in conn.execute(
                select(e.c.sample_id, e.c.reason).where(e.c.version_id == vid).order_by(e.c.id))]

    def skipped(self, ingest_id: int | None = None) -> list[SkippedItem]:
        """Items ``--skip-bad`` left out (of one ingest, or of all)."""
        k = schema.skipped
        q = select(k.c.item, k.c.reason).order_by(k.c.id)
        if ingest_id is not None:
            q = q.where(k.c.ingest_id == ingest_id)
        with read_connection(self._engine) as conn:
            return [SkippedItem(i, r) for i, r in conn.execute(q)]

    # ------------------------------------------------------------------ lineage / export
    def lineage(self, target: str) -> Lineage:
        """Ancestry of a sample (id or unique prefix) or a version, with synthetic depths."""
        from tailguard.ledger.lineage import build_lineage

        with read_connection(self._engine) as conn:
            return build_lineage(self, conn, target)

    def export(self, version: str, format: str, out: str | Path, **options: Unpack[ExportOptions]) -> Path:
        """Export a version as ``yolo``, ``jsonl`` or ``parquet``; ``options`` as for
        :func:`tailguard.ledger.export.export_version` (every occurrence is written)."""
        from tailguard.ledger.export import export_version

        return export_version(self, version, format, Path(out), **options)

    def count_samples(self) -> int:
        """Number of samples in the ledger."""
        with read_connection(self._engine) as conn:
            return int(conn.execute(select(func.count()).select_from(s_t)).scalar_one())
