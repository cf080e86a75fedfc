"""The ledger: samples with provenance, immutable versions, model runs and lineage.

One code path (SQLAlchemy 2 Core) for the embedded SQLite file and PostgreSQL; what
differs between them is in :mod:`~tailguard.ledger.dialect`. :class:`Ledger` is a thin
facade over the modules that do the work: :mod:`~tailguard.ledger.writes` (the one
write transaction of ``add_samples`` and every ingest), :mod:`~tailguard.ledger.versions`,
:mod:`~tailguard.ledger.reads`, :mod:`~tailguard.ledger.runs`,
:mod:`~tailguard.ledger.manifest` (selection, digests) and :mod:`~tailguard.ledger.diff`.

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

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Unpack

from sqlalchemy import Engine, func, insert, select
from sqlalchemy.exc import DBAPIError, IntegrityError, ProgrammingError

from tailguard.errors import LedgerError, LedgerUpgradeRequiredError
from tailguard.ledger import manifest, reads, schema, stats, versions
from tailguard.ledger.audits import AuditPoint, AuditStore, AuditSummary
from tailguard.ledger.dialect import dialect_for
from tailguard.ledger.engine import (
    make_engine,
    missing_schema_error,
    open_error,
    read_connection,
    resolve_url,
    write_transaction,
)
from tailguard.ledger.runs import RunStore
from tailguard.ledger.types import (
    Conflict,
    IngestReport,
    Lineage,
    ModelRun,
    NewSample,
    RunMetric,
    SampleRecord,
    SkippedItem,
    VerifyReport,
    VersionComposition,
    VersionDiff,
    VersionInfo,
    VersionSummary,
)
from tailguard.ledger.urls import redact_url
from tailguard.ledger.writes import LedgerWriter, open_writer

if TYPE_CHECKING:
    from tailguard.ledger.export import ExportOptions
    from tailguard.ledger.manifest import DigestCheck

s_t = schema.samples
vm_t = schema.version_members
v_t = schema.versions


def schema_mismatch(url: str, have: int) -> LedgerError:
    """The error for a ledger whose schema is not this tailguard's."""
    url = redact_url(url)
    if have < schema.SCHEMA_VERSION:
        return LedgerUpgradeRequiredError(
            f"the ledger {url} was written by an older tailguard (schema {have}; this one uses "
            f"{schema.SCHEMA_VERSION}): run 'tailguard upgrade' to migrate it in place (a backup is kept)")
    return LedgerError(f"the ledger {url} was written by a newer tailguard (schema {have}; this one "
                       f"understands {schema.SCHEMA_VERSION}): upgrade tailguard")


class Ledger:
    """Provenance ledger over a SQLite file or a PostgreSQL database (see module doc)."""

    def __init__(self, engine: Engine, url: str):
        self._engine = engine
        self.url = url
        self._dialect = dialect_for(engine)
        self._runs = RunStore(engine, self._dialect)
        self._audits = AuditStore(engine)
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
        with read_connection(self._engine) as conn:
            have = schema.stored_schema_version(conn)
        if have is not None and have != schema.SCHEMA_VERSION:
            raise schema_mismatch(self.url, have)
        return have is not None

    def _create_schema(self) -> None:
        if self._schema_ready():  # opening must not wait for the write lock a long ingest holds
            return
        for attempt in range(5):
            try:
                with write_transaction(self._engine) as conn:
                    schema.metadata.create_all(conn)
                    have = conn.execute(
                        select(schema.meta.c.value).where(schema.meta.c.key == "schema_version")).scalar()
                    if have is None:
                        conn.execute(insert(schema.meta).values(key="schema_version",
                                                                value=str(schema.SCHEMA_VERSION)))
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

    # ------------------------------------------------------------------ writing
    def write(self, *, path: str | None = None, fmt: str = "api", origin: str | None = None,
              as_version: str | None = None,
              progress: Callable[[int], None] | None = None) -> AbstractContextManager[LedgerWriter]:
        """One atomic write: ``with ledger.write(as_version="v") as w: w.add(sample)``; then ``w.report``.

        Every ingest and :meth:`add_samples` go through it (see :mod:`tailguard.ledger.writes`).
        """
        return open_writer(self._engine, self._dialect, path=path, fmt=fmt, origin=origin, as_version=as_version,
                           dataset_cache=self._dataset_cache, progress=progress)

    def add_samples(
        self,
        samples: Iterable[NewSample],
        *,
        as_version: str | None = None,
        skipped: Iterable[SkippedItem] = (),
    ) -> IngestReport:
        """Add samples in one atomic transaction (re-adding the same bytes is idempotent).

        Each sample given is one occurrence. With ``as_version`` they also become a new
        immutable version. ``skipped`` lists items the caller left out (e.g. images that
        failed to decode under ``--skip-bad``); they are recorded with this write.
        """
        with self.write(as_version=as_version) as writer:
            for item in skipped:
                writer.skip(item.item, item.reason)
            for sample in samples:
                writer.add(sample)
        assert writer.report is not None
        return writer.report

    def ingest(
        self,
        path: str | Path | Any,
        *,
        format: str = "auto",
        origin: str | None = None,
        generator: str | None = None,
        generation: int | None = None,
        verified_by: str | None = None,
        as_version: str | None = None,
        skip_bad: bool = False,
        progress: bool | Callable[[int], None] = False,
        text_column: str | None = None,
        task: str | None = None,
        origin_column: str | None = None,
        generator_column: str | None = None,
        generation_column: str | None = None,
    ) -> IngestReport:
        """Ingest a file or folder (yolo, images, jsonl, csv, parquet, npy, hf) atomically, or a Hugging Face
        ``datasets`` object or ``pyarrow.Table``.

        See :func:`tailguard.ledger.ingest.run_ingest` for the formats, the origin rules and
        ``text_column`` (CSV/Parquet rows as text samples), ``task`` (the Ultralytics task of a YOLO
        dataset) and the per-row provenance columns of a Hugging Face dataset.
        """
        from tailguard.ledger.ingest import run_ingest

        return run_ingest(self, path, format=format, origin=origin, generator=generator, generation=generation,
                          verified_by=verified_by, as_version=as_version, skip_bad=skip_bad, progress=progress,
                          text_column=text_column, task=task, origin_column=origin_column,
                          generator_column=generator_column, generation_column=generation_column)

    # ------------------------------------------------------------------ versions
    def create_version(
        self,
        name: str,
        selectors: Sequence[str] = (),
        *,
        sample_ids: Iterable[str] | None = None,
        description: str = "",
        extra: dict[str, Any] | None = None,
        exclusions: Iterable[tuple[Any, ...]] = (),
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
            versions.create_version(conn, self._dialect, name, tuple(selectors), sample_ids, description, extra)
            versions.insert_exclusions(conn, name, exclusions)
        return self.get_version(name)


    def get_version(self, name: str) -> VersionInfo:
        """The version called ``name`` (UnknownChoiceError with suggestions when absent)."""
        with read_connection(self._engine) as conn:
            return versions.version_info(versions.version_row(conn, name))


    def list_versions(self) -> list[VersionInfo]:
        """Every version, oldest first."""
        with read_connection(self._engine) as conn:
            return [versions.version_info(r) for r in conn.execute(select(v_t).order_by(v_t.c.id))]


    def version_sample_ids(self, name: str) -> list[str]:
        """Sample ids of a version, sorted, one per occurrence (a content that occurs twice is listed twice)."""
        with read_connection(self._engine) as conn:
            vid = versions.version_row(conn, name).id
            rows = conn.execute(select(vm_t.c.sample_id, vm_t.c.multiplicity).where(vm_t.c.version_id == vid)
                                .order_by(vm_t.c.sample_id, vm_t.c.origin))
            return [sid for sid, mult in rows for _ in range(int(mult))]


    def check_digest(self, name: str) -> DigestCheck:
        """Recompute the manifest digest of version ``name`` from the database (no file is read)."""
        with read_connection(self._engine) as conn:
            return manifest.check_digest(conn, versions.version_row(conn, name))


    def class_names(self, version: str) -> list[str]:
        """Detection class names recorded for a version (from data.yaml); [] when none are known."""
        with read_connection(self._engine) as conn:
            row = versions.version_row(conn, version)
            return list(json.loads(row.class_names)) if row.class_names else []


    def conflicts(self, version: str | None = None) -> list[Conflict]:
        """Recorded provenance conflicts (all, or those of a version's members)."""
        with read_connection(self._engine) as conn:
            if version is not None:
                return versions.conflicts_for(conn, versions.version_row(conn, version).id)
            c = schema.conflicts
            return [Conflict(r.sample_id, r.kind, r.claimed, r.other, r.detail, r.item)
                    for r in conn.execute(select(c).order_by(c.c.id))]


    def record_exclusions(self, version: str, exclusions: Iterable[tuple[Any, ...]]) -> None:
        """Record samples a policy left out of ``version``, each with its reason."""
        with write_transaction(self._engine) as conn:
            versions.insert_exclusions(conn, version, exclusions)


    def exclusions(self, version: str, *, scores: bool = False) -> list[tuple[Any, ...]]:
        """(sample_id, reason) pairs recorded for ``version``; with ``scores=True``
        (sample_id, reason, score) triples (score None where the step gave none)."""
        e = schema.exclusions
        with read_connection(self._engine) as conn:
            vid = versions.version_row(conn, version).id
            rows = conn.execute(
                select(e.c.sample_id, e.c.reason, e.c.score).where(e.c.version_id == vid).order_by(e.c.id))
            return [(s, r, sc) if scores else (s, r) for s, r, sc in rows]


    def skipped(self, ingest_id: int | None = None) -> list[SkippedItem]:
        """Items ``--skip-bad`` left out (of one ingest, or of all)."""
        k = schema.skipped
        q = select(k.c.item, k.c.reason).order_by(k.c.id)
        if ingest_id is not None:
            q = q.where(k.c.ingest_id == ingest_id)
        with read_connection(self._engine) as conn:
            return [SkippedItem(i, r) for i, r in conn.execute(q)]


    def lineage(self, target: str) -> Lineage:
        """Ancestry of a sample (id or unique prefix) or a version, with synthetic depths."""
        from tailguard.ledger.lineage import build_lineage

        return self._read_with_figures(lambda conn, reader: build_lineage(self, conn, target, reader))

    def _read_with_figures(self, read: Callable[[Any, stats.StatsReader], Any]) -> Any:
        """``read(conn, reader)`` in one read connection, then the figures it had to read from manifests
        stored (:func:`tailguard.ledger.stats.persist`: never waits, skipped on a locked ledger)."""
        with read_connection(self._engine) as conn:
            reader = stats.StatsReader(conn)
            found = read(conn, reader)
        stats.persist(self._engine, self._dialect, reader.fresh.values())
        return found


    def export(self, version: str, format: str, out: str | Path, **options: Unpack[ExportOptions]) -> Path:
        """Export a version in a registered format (``yolo``, ``jsonl``, ``parquet``, ``hf``, ``croissant``,
        ``ultralytics-ndjson`` or a plug-in's); ``options`` as for
        :func:`tailguard.ledger.export.export_version` (every occurrence is written)."""
        from tailguard.ledger.export import export_version

        return export_version(self, version, format, Path(out), **options)


    def count_samples(self) -> int:
        """Number of samples in the ledger."""
        with read_connection(self._engine) as conn:
            return int(conn.execute(select(func.count()).select_from(s_t)).scalar_one())

    # ------------------------------------------------------------------ reading
    def iter_samples(
        self, version: str | None = None, *, ids: Iterable[str] | None = None, batch_size: int = 10_000
    ) -> Iterator[SampleRecord]:
        """Stream sample records (with labels and synthetic depth), ordered by id.

        A version yields one record per occurrence, with the origin it had when the
        version was made and only the labels that existed then. Without a version,
        each stored content is yielded once.
        """
        return reads.iter_samples(self._engine, version, ids=ids, batch_size=batch_size)

    def iter_bytes(
        self, version: str | None = None, *, ids: Iterable[str] | None = None, batch_size: int = 2_000,
        read_files: bool = True, id_range: tuple[str, str | None] | None = None,
    ) -> Iterator[tuple[SampleRecord, bytes | None]]:
        """Like :meth:`iter_samples` but also yields each sample's bytes (inline or read from its file).

        With ``read_files=False`` samples stored by reference (images) yield ``None``. ``id_range``
        ``(after, until)`` keeps the sample ids ``after < id <= until`` (``until`` None: to the
        end), one shard of :meth:`version_cuts`.
        """
        return reads.iter_bytes(self._engine, version, ids=ids, batch_size=batch_size, read_files=read_files,
                                id_range=id_range)

    def version_cuts(self, name: str, rows: int) -> list[str]:
        """Sample ids cutting version ``name`` into runs of about ``rows`` occurrences (a content's
        occurrences never split): shard ``i`` is ``iter_bytes(name, id_range=(cuts[i-1], cuts[i]))``,
        the first starting at ``""`` and the last ending at ``None``."""
        return reads.version_cuts(self._engine, name, rows)

    def read_bytes(self, record: SampleRecord | str) -> bytes:
        """The sample's content: stored inline (text, tabular, vector rows) or the file at its uri."""
        return reads.read_bytes(self._engine, record)

    # ------------------------------------------------------------------ summaries
    def version_summary(self, name: str) -> VersionSummary:
        """Occurrence counts by origin, generation and class (boxes of every origin), depth and conflicts."""
        with read_connection(self._engine) as conn:
            return versions.version_summary(conn, name)

    def diff(self, a: str, b: str) -> VersionDiff:
        """Contents added in ``b``, removed from ``a``, and members whose origin or count changed."""
        from tailguard.ledger.diff import diff_versions

        with read_connection(self._engine) as conn:
            return diff_versions(conn, versions.version_row(conn, a).id, versions.version_row(conn, b).id,
                                 dialect=self._dialect)

    def verify(self, name: str, *, progress: Callable[[int], None] | None = None) -> VerifyReport:
        """Check a version's manifest digest, its sample rows and every content's bytes (see ``versions``)."""
        with read_connection(self._engine) as conn:
            return versions.verify_version(conn, name, progress=progress)

    # ------------------------------------------------------------------ runs
    def record_model_run(self, model_id: str, trained_on: str | None, *, produced: Iterable[str] = (),
                         config: dict[str, Any] | None = None, extra: dict[str, Any] | None = None) -> str:
        """Record a model run trained on version ``trained_on``; returns the run id."""
        return self._runs.record_model_run(model_id, trained_on, produced=produced, config=config, extra=extra)

    def link_run_outputs(self, run_id: str, sample_ids: Iterable[str]) -> None:
        """Record that a run produced these samples (sets their synthetic depth)."""
        self._runs.link_run_outputs(run_id, sample_ids)

    def record_run_metrics(self, run_id: str, metrics: Mapping[str, float], *, step: int | None = None) -> None:
        """Store metrics of a run, e.g. ``{"recall/class_7": 0.4}``."""
        self._runs.record_run_metrics(run_id, metrics, step=step)

    def run_metrics(self, run_id: str) -> list[RunMetric]:
        """Metrics recorded for a run, in recording order."""
        return self._runs.run_metrics(run_id)

    def model_runs(self) -> list[ModelRun]:
        """Every recorded model run, oldest first."""
        return self._runs.model_runs()

    # ------------------------------------------------------------------ audits
    def record_audit(self, report: Mapping[str, Any], *, source: str | None = None) -> int:
        """Store an audit report (``AuditReport.to_dict()``); returns its id (see :mod:`~tailguard.ledger.audits`).

        :func:`tailguard.audit.record.record_audit` takes the report object itself."""
        return self._audits.record(report, source=source)

    def audits(self, *, reference: str | None = None, candidate: str | None = None) -> list[AuditSummary]:
        """Recorded audits, oldest first (of one reference and/or candidate, or all)."""
        return self._audits.list(reference=reference, candidate=candidate)

    def audit_points(self, *, reference: str | None = None, last: int | None = None) -> list[AuditPoint]:
        """Every metric row of the recorded audits (of one reference, or all; of the ``last`` N audits only) with
        its audit's time and verdict, oldest audit first: the history of each metric (see ``AuditStore.points``)."""
        return self._audits.points(reference=reference, last=last)

    def audit_references(self) -> list[tuple[str, int]]:
        """The references audits were recorded against, each with its number of audits, by name."""
        return self._audits.references()

    def version_compositions(self, names: Iterable[str] | None = None) -> dict[str, VersionComposition]:
        """Versions' occurrences by origin and by generation (every version, oldest first, or those ``names``;
        unknown names are left out), in one grouped read."""
        return self._read_with_figures(lambda conn, reader: versions.compositions(conn, names, reader))

    def audit_document(self, audit_id: int) -> dict[str, Any]:
        """The stored report of a recorded audit in its JSON form (nothing recomputed)."""
        return self._audits.document(audit_id)
