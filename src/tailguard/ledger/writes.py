"""Writing samples: one public write transaction that ``add_samples`` and every ingest go through.

A :class:`LedgerWriter` validates each sample, computes its id (the content hash),
stores new contents once, counts every occurrence (per source), records claim
conflicts, replaces label groups, and at the end writes the occurrences, the
ingest row and, when asked, the version, all in the one transaction that
:func:`open_writer` holds: a crash or kill leaves nothing behind.

>>> import os, tempfile
>>> from tailguard.ledger import Ledger, NewSample
>>> ledger = Ledger.open("sqlite:///" + os.path.join(tempfile.mkdtemp(), "l.db"))
>>> with ledger.write(as_version="v") as writer:
...     for text in (b"a", b"b", b"a"):
...         writer.add(NewSample(content=text, uri=None, modality="text", origin="human"))
>>> writer.report.added, writer.report.duplicates, ledger.get_version("v").n_members
(2, 1, 3)
>>> ledger.close()
"""

from __future__ import annotations

import gc
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, and_, insert, select, update
from sqlalchemy.exc import IntegrityError

from tailguard.errors import EmptyDatasetError, LedgerError, MissingInputError, ParameterError, UnknownChoiceError
from tailguard.ledger import schema
from tailguard.ledger.dialect import Dialect
from tailguard.ledger.encoding import chunks, clock, dumps, now
from tailguard.ledger.engine import write_transaction
from tailguard.ledger.fields import validate_sample
from tailguard.ledger.hashing import content_id, file_id, label_key, provenance_digest, provenance_digest_of
from tailguard.ledger.manifest import Manifest, bare_digest
from tailguard.ledger.stats import new_depth_token
from tailguard.ledger.types import MODALITIES, ORIGINS, Conflict, IngestReport, NewSample, SkippedItem
from tailguard.ledger.versions import check_new_version, create_version
from tailguard.tasks.base import encode_shape

CHUNK = 2_000  # samples written per batch
_ORIGIN_ONLY = {origin: (origin, None) for origin in ORIGINS}  # shared values of WriteStats.seen

s_t = schema.samples
l_t = schema.labels


def default_depth(origin: str, generation: int | None) -> int:
    """Synthetic depth before any model run is linked: human 0, machine-made its generation (>= 1)."""
    if origin == "human":
        return 0
    if origin in ("synthetic", "pseudo_label"):
        return generation if generation is not None else 1
    return generation if generation is not None else 0


SAMPLE_COLUMNS = ("id", "uri", "content", "modality", "origin", "verified_by", "verified_at", "generator",
                  "generation", "source", "created_at", "extra", "dataset_id", "synthetic_depth", "ingest_id",
                  "provenance_digest")
LABEL_COLUMNS = ("key", "sample_id", "class_id", "x", "y", "w", "h", "origin", "confidence", "generator",
                 "ingest_id", "retired_by", "shape")
PARENT_COLUMNS = ("sample_id", "parent_id")
OCCURRENCE_COLUMNS = ("source", "sample_id", "origin", "multiplicity", "generation", "generator", "verified_by",
                      "item", "ingest_id")


@dataclass(slots=True)
class Prepared:
    """A validated sample with its id; its ``samples`` row is built only if its content is inserted
    (a repeat, or bytes the ledger already holds, never needs one)."""

    id: str
    sample: NewSample
    origin: str
    generation: int | None  # human: 0 when not given
    dataset_id: int | None
    item: str
    extra: dict[str, Any]
    parents: tuple[str, ...] = ()
    conflicts: list[tuple[str, str, str, str]] | tuple[()] = ()

    def row(self, ingest_id: int) -> tuple[Any, ...]:
        """The ``samples`` row, in :data:`SAMPLE_COLUMNS` order."""
        s = self.sample
        stamp = clock()
        generation = self.generation
        digest = provenance_digest_of(self.id, s.uri, s.modality, self.origin, generation, s.generator,
                                      s.verified_by, s.source)
        return (self.id, s.uri, s.content if s.uri is None else None, s.modality, self.origin, s.verified_by,
                stamp if s.verified_by else None, s.generator, generation, s.source, stamp, dumps(self.extra),
                self.dataset_id, default_depth(self.origin, generation), ingest_id, digest)


@dataclass
class WriteStats:
    """What a write has done so far."""

    added: int = 0  # contents new to the ledger
    existing: int = 0  # occurrences whose content the ledger already had before this write
    duplicates: int = 0  # occurrences whose content came earlier in this same write
    boxes: int = 0  # label rows written
    sample_ids: list[str] = field(default_factory=list)  # one per occurrence, in input order
    conflicts: list[Conflict] = field(default_factory=list)
    skipped: list[SkippedItem] = field(default_factory=list)
    # every content this write has met -> (origin, dataset id) when the write inserted it itself (no other
    # writer can change it before this one commits, so its repeats need no lookup), else None
    seen: dict[str, tuple[str, int | None] | None] = field(default_factory=dict)
    # (source, sample id, origin) -> [multiplicity, generation, generator, verified_by, first item]
    occurrences: dict[tuple[str, str, str], list[Any]] = field(default_factory=dict)


class LedgerWriter:
    """One atomic write (see module doc). Made by :func:`open_writer` / ``Ledger.write``."""

    def __init__(self, conn: Connection, dialect: Dialect, ingest_id: int, *, path: str | None, fmt: str,
                 as_version: str | None, dataset_cache: dict[str, int],
                 progress: Callable[[int], None] | None = None):
        self._conn = conn
        self._dialect = dialect
        self.ingest_id = ingest_id
        self._path = path
        self._fmt = fmt
        self._as_version = as_version
        self._dataset_cache = dataset_cache
        self._progress = progress
        self._batch: list[Prepared] = []
        self._pool: Any = None
        self._pending: tuple[Any, int] | None = None
        self._class_names: list[str] | None = None
        self.stats = WriteStats()
        self.report: IngestReport | None = None

    def add(self, sample: NewSample, *, sample_id: str | None = None, item: str | None = None,
            class_names: list[str] | None = None, conflicts: Iterable[tuple[str, str, str, str]] = (),
            validated: bool = False) -> None:
        """Add one occurrence of ``sample``.

        ``class_names``: its detection dataset's; ``conflicts``: found by a reader;
        ``validated``: an ingest reader already checked its provenance fields (naming the line).
        """
        prepared = self.prepare(sample, sample_id=sample_id, item=item, validated=validated)
        if class_names is not None:
            prepared.dataset_id = self.dataset_id(class_names)
            self._class_names = class_names
        if conflicts:
            prepared.conflicts = list(conflicts)
        self._batch.append(prepared)
        if len(self._batch) >= CHUNK:
            self._flush()

    def skip(self, item: str, reason: str) -> None:
        """Record an item ``--skip-bad`` left out, with the reason."""
        self.stats.skipped.append(SkippedItem(item, reason))

    def _flush(self, *, last: bool = False) -> None:
        """Write the batch: on a server backend in a background thread, so reading the next batch
        overlaps the server's work (one batch in flight at most, in order; errors surface here)."""
        batch, self._batch = self._batch, []
        if batch and not last:
            self._background(self._write_chunk, batch, progress=len(batch))
            return
        self._drain()  # the last: everything written when this returns
        if batch:
            self._write_chunk(batch)
            if self._progress is not None:
                self._progress(len(batch))

    def _background(self, fn: Callable[..., None], *args: Any, progress: int = 0) -> None:
        """Run ``fn(*args)`` on the connection once the work in flight is done: in the background
        thread where the backend overlaps writes (the caller may compute meanwhile, but not use the
        connection before :meth:`_drain`), else right here."""
        self._drain()
        if not self._dialect.overlaps_writes:
            fn(*args)
            if progress and self._progress is not None:
                self._progress(progress)
            return
        import concurrent.futures

        if self._pool is None:
            self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="tailguard-write")
        self._pending = (self._pool.submit(fn, *args), progress)

    def _drain(self) -> None:
        """Wait for the batch in flight (the connection is then free for this thread again)."""
        if self._pending is not None:
            future, n = self._pending
            self._pending = None
            future.result()
            if n and self._progress is not None:
                self._progress(n)

    def close(self, *, quiet: bool = False) -> None:
        """Wait for any batch in flight and stop the background thread (``quiet``: an error is already
        on its way, so the batch's own failure must not replace it)."""
        try:
            self._drain()
        except Exception:
            if not quiet:
                raise
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
                self._pool = None

    def finish(self) -> IngestReport:
        """Write what is pending, the occurrences, the version (when asked) and the ingest row."""
        self._flush(last=True)
        acc = self.stats
        conn, dialect = self._conn, self._dialect
        if self._fmt != "api" and not acc.sample_ids and not acc.skipped:
            raise EmptyDatasetError(f"no {self._fmt} samples found", path=self._path)
        version = self._as_version if acc.sample_ids else None
        if self._as_version is not None and not acc.sample_ids and self._fmt == "api":
            raise EmptyDatasetError(f"no samples given for version {self._as_version!r}")
        # the server's share of the end overlaps the client's: statistics, then the occurrences, are
        # written in the background while the manifest (and, when it can be, its digest) is computed
        self._background(self._analyze)
        # (sample id, origin, source) order: the manifest's, and one index position after the next for the
        # occurrences of a source
        order = sorted(acc.occurrences.items(), key=member_order)
        sources = sorted({key[0] for key in acc.occurrences})
        manifest = None
        if version is not None:
            members = [(k[1], k[2], v[0], v[1]) for k, v in order]
            manifest = Manifest(members) if len(sources) == 1 else Manifest.merge(members)
        self._background(self._write_occurrences, sources, order)
        if manifest is not None:
            if acc.boxes == 0 and acc.existing == 0:
                # every content is new, stored by this write without boxes: no label row can be theirs
                manifest = Manifest(manifest.rows, digest=bare_digest(manifest.rows))
            extra: dict[str, Any] = {"ingest_id": self.ingest_id}
            if self._path is not None:
                extra["path"] = self._path
            if self._class_names is not None:
                extra["class_names"] = self._class_names
            self._drain()
            create_version(conn, dialect, version, (), manifest, "", extra)
        self._drain()
        if acc.skipped:
            self._conn.execute(insert(schema.skipped), [
                {"ingest_id": self.ingest_id, "item": s.item, "reason": s.reason} for s in acc.skipped])
        self._conn.execute(
            update(schema.ingests).where(schema.ingests.c.id == self.ingest_id)
            .values(n_added=acc.added, n_existing=acc.existing + acc.duplicates, n_skipped=len(acc.skipped),
                    version=version))
        self.report = IngestReport(acc.added, acc.existing, acc.skipped, acc.conflicts, version, acc.sample_ids,
                                   self.ingest_id, duplicates=acc.duplicates)
        return self.report

    def prepare(
        self,
        sample: NewSample,
        *,
        sample_id: str | None = None,
        item: str | None = None,
        validated: bool = False,
    ) -> Prepared:
        """Validate a :class:`NewSample` and compute its id (the content hash)."""
        if sample.modality not in MODALITIES:
            raise UnknownChoiceError("modality", str(sample.modality), MODALITIES, path=item)
        if sample.origin not in ORIGINS:
            raise UnknownChoiceError("origin", str(sample.origin), ORIGINS, path=item)
        for box in sample.labels:
            if box.origin not in ORIGINS:
                raise UnknownChoiceError("label origin", str(box.origin), ORIGINS, path=item)
        if not validated:
            validate_sample(sample, item=item)  # the same field rules as every ingest reader
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
        # an ingest reader makes a fresh dict per sample; an API caller may reuse and change its own
        extra = sample.extra if validated else dict(sample.extra)
        dataset_id = None
        if "class_names" in extra:  # stored once per dataset (``dataset_id``), not per sample
            extra = {k: v for k, v in extra.items() if k != "class_names"}
            names = sample.extra["class_names"]
            if names is not None:
                dataset_id = self.dataset_id(list(map(str, names)))
        parents = tuple(map(str, sample.parents)) if sample.parents else ()
        return Prepared(sample_id, sample, sample.origin, generation, dataset_id, item or sample.uri or sample_id,
                        extra, parents)

    def dataset_id(self, names: list[str]) -> int:
        """The id of a list of class names (stored once, cached)."""
        key = content_id(dumps(names).encode())
        if key in self._dataset_cache:
            return self._dataset_cache[key]
        self._drain()  # the lookup needs the connection the background write may be using
        d = schema.datasets

        def lookup(c: Connection) -> int:
            found = c.execute(select(d.c.id).where(d.c.names_hash == key)).scalar()
            if found is None:
                c.execute(self._dialect.insert_ignore(d).values(names_hash=key, names=dumps(names)))
                found = c.execute(select(d.c.id).where(d.c.names_hash == key)).scalar_one()
            return int(found)

        value = lookup(self._conn)
        self._dataset_cache[key] = value
        return value


    def _write_chunk(self, items: list[Prepared]) -> None:
        conn, ingest_id, acc = self._conn, self.ingest_id, self.stats
        seen = acc.seen
        inserted_first: set[str] = set()
        if self._dialect.inserts_first:
            # insert every content new to this write, then look up only the ones that were already stored:
            # on a server one round trip instead of two for fresh data (exact under concurrent writers too)
            first: dict[str, Prepared] = {}
            for p in items:
                if p.id not in seen and p.id not in first:
                    first[p.id] = p
            if first:
                rows = [first[k].row(ingest_id) for k in sorted(first)]  # one lock order for concurrent writers
                inserted_first = self._dialect.bulk_insert(conn, s_t, SAMPLE_COLUMNS, rows, returning="id") or set()
        # stored before this write (or by a concurrent one): look up; this write's own rows are known already
        lookup = [i for i in {p.id for p in items} if seen.get(i) is None and i not in inserted_first]
        known: dict[str, tuple[str, int | None]] = {}
        for part in chunks(lookup):
            for sid, origin, ds in self._dialect.known_samples(conn, part):
                known[sid] = (origin, ds)
        new_rows: list[Prepared] = []
        label_rows: dict[str, tuple[Any, ...]] = {}
        label_groups: dict[tuple[str, str, str | None, str], set[str]] = {}
        parent_rows: list[tuple[str, str]] = []
        conflict_rows: list[dict[str, Any]] = []
        upgrades: list[dict[str, Any]] = []
        occurrences = acc.occurrences
        default_source = f"ingest:{ingest_id}"
        now = clock()

        def add_conflict(p: Prepared, kind: str, claimed: str, other: str, detail: str) -> None:
            conflict_rows.append(
                {"sample_id": p.id, "kind": kind, "claimed": claimed, "other": other, "detail": detail,
                 "item": p.item, "ingest_id": ingest_id, "created_at": now}
            )
            acc.conflicts.append(Conflict(p.id, kind, claimed, other, detail, p.item))

        added = existing = duplicates = 0
        keep_id, mark_seen = acc.sample_ids.append, seen.setdefault
        for p in items:
            pid, origin, sample = p.id, p.origin, p.sample
            occurrence_origin = origin
            prev = seen.get(pid)
            if prev is None:
                prev = known.get(pid)
            if prev is not None:
                if pid in seen:
                    duplicates += 1
                else:
                    existing += 1
                prev_origin, prev_ds = prev
                if origin == "unknown":
                    occurrence_origin = prev_origin  # the ledger knows more about these bytes than this claim
                elif prev_origin != origin:
                    if prev_origin == "unknown":
                        upgrades.append({"b_id": pid, "b_origin": origin, "b_vby": sample.verified_by,
                                         "b_vat": now if sample.verified_by else None,
                                         "b_depth": default_depth(origin, p.generation), "b_gen": p.generation})
                        if seen.get(pid) is not None:
                            seen[pid] = (origin, prev_ds)
                        else:
                            known[pid] = (origin, prev_ds)
                    else:
                        add_conflict(p, "claim", origin, prev_origin,
                                     f"{p.item} claims {origin} but the same bytes are recorded as {prev_origin}")
                ds = p.dataset_id
                if ds is not None and prev_ds is not None and ds != prev_ds:
                    add_conflict(p, "class_names", str(ds), str(prev_ds),
                                 f"{p.item} comes with class names (set {ds}) that differ from the recorded ones "
                                 f"(set {prev_ds})")
            else:
                if pid not in inserted_first:
                    new_rows.append(p)
                seen[pid] = _ORIGIN_ONLY[origin] if p.dataset_id is None else (origin, p.dataset_id)
                added += 1
            if p.conflicts:
                for kind, claimed, other, detail in p.conflicts:
                    add_conflict(p, kind, claimed, other, detail)
            for box in sample.labels:
                task = box.task
                key = label_key(pid, box.origin, box.identity(), box.generator)
                label_rows[key] = (key, pid, int(box.class_id), float(box.x), float(box.y), float(box.w),
                                   float(box.h), box.origin, box.confidence, box.generator, ingest_id, None,
                                   None if task == "detect" else encode_shape(task, box.points, box.point_dim))
                label_groups.setdefault((pid, box.origin, box.generator, task), set()).add(key)
            if p.parents:
                parent_rows.extend((pid, parent) for parent in p.parents)
            keep_id(pid)
            mark_seen(pid, None)
            key3 = (sample.source or default_source, pid, occurrence_origin)
            occurrence = occurrences.get(key3)
            if occurrence is None:
                occurrences[key3] = [1, p.generation, sample.generator, sample.verified_by, p.item]
            else:
                occurrence[0] += 1
        acc.added += added
        acc.existing += existing
        acc.duplicates += duplicates
        if new_rows:
            new_rows.sort(key=lambda p: p.id)  # one lock order for concurrent writers (PostgreSQL)
            inserted = self._dialect.bulk_insert(conn, s_t, SAMPLE_COLUMNS, [p.row(ingest_id) for p in new_rows],
                                                 returning="id") or set()
            for p in new_rows:
                if p.id not in inserted:  # committed by a concurrent ingest meanwhile: not this write's own
                    seen[p.id] = None
            raced = len(new_rows) - len(inserted)
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

            new_depth_token(conn)  # an upgraded sample's depth changes: stored depth histograms are read again
            conn.execute(
                update(s_t)
                .where(s_t.c.id == bindparam("b_id"))
                .values(origin=bindparam("b_origin"), verified_by=bindparam("b_vby"),
                        verified_at=bindparam("b_vat"), synthetic_depth=bindparam("b_depth"),
                        generation=bindparam("b_gen"), provenance_digest=bindparam("b_digest")),
                upgrades,
            )
        if label_groups:
            active = self._update_label_groups(label_groups)
            fresh = [row for key, row in label_rows.items() if key not in active]
            self._dialect.bulk_insert(conn, l_t, LABEL_COLUMNS, fresh)
            acc.boxes += len(fresh)
        if parent_rows:
            self._dialect.bulk_insert(conn, schema.sample_parents, PARENT_COLUMNS, parent_rows)
        if conflict_rows:
            conn.execute(insert(schema.conflicts), conflict_rows)

    def _update_label_groups(self, groups: dict[tuple[str, str, str | None, str], set[str]]) -> set[str]:
        """New rows for (sample, origin, generator, task) replace that group's current rows: a segmentation
        ingest of an image leaves its detection boxes of the same origin alone.

        Replaced boxes are retired, not deleted, so versions made earlier keep exactly
        the boxes they had. Returns the keys of boxes that are current and stay so
        (re-adding them is a no-op: ingest is idempotent).
        """
        conn, ingest_id = self._conn, self.ingest_id
        sample_ids = sorted({g[0] for g in groups})
        retire: list[int] = []
        keep: set[str] = set()
        for part in chunks(sample_ids):
            current = conn.execute(
                select(l_t.c.id, l_t.c.key, l_t.c.sample_id, l_t.c.origin, l_t.c.generator, l_t.c.shape)
                .where(and_(l_t.c.sample_id.in_(part), l_t.c.retired_by.is_(None)))
            )
            for row in current:
                task = row.shape.split(" ", 1)[0] if row.shape else "detect"
                keys = groups.get((row.sample_id, row.origin, row.generator, task))
                if keys is None:
                    continue
                if row.key in keys:
                    keep.add(row.key)
                else:
                    retire.append(row.id)
        for part in chunks(retire):
            conn.execute(update(l_t).where(l_t.c.id.in_(part)).values(retired_by=ingest_id))
        return keep


    def _analyze(self) -> None:
        """Fresh planner statistics after a bulk write (no boxes written: none needed for labels)."""
        self._dialect.analyze(self._conn, "samples", rows=self.stats.added)
        self._dialect.analyze(self._conn, "labels", rows=self.stats.boxes)

    def _write_occurrences(self, sources: list[str], order: list[tuple[tuple[str, str, str], list[Any]]]) -> None:
        """Each source's occurrences become what this ingest read there (re-ingesting replaces, never adds).

        ``order``: the ``(source, sample id, origin), [multiplicity, …]`` pairs of the occurrences, sorted.
        """
        o_t = schema.occurrences
        for part in chunks(sources):
            self._conn.execute(o_t.delete().where(o_t.c.source.in_(part)))
        ingest_id = self.ingest_id
        rows = [(src, sid, origin, mult, gen, generator, vby, item, ingest_id)
                for (src, sid, origin), (mult, gen, generator, vby, item) in order]
        for chunk in chunks(rows, 50_000):  # the source's old rows are gone: nothing can conflict
            self._dialect.insert_new(self._conn, o_t, OCCURRENCE_COLUMNS, chunk)


def member_order(item: tuple[tuple[str, str, str], Any]) -> str:
    """Sort key of a ``((source, sample id, origin), value)`` occurrence: by sample id, origin, then source.

    Equal to sorting by the tuples ``(sample id, origin, source)`` (none holds a NUL), but much
    cheaper: one string comparison each.

    >>> [k for k, _ in sorted([(("b", "ab", "human"), 1), (("a", "ab", "human"), 2), (("a", "aa", "synthetic"), 3)],
    ...                       key=member_order)]
    [('a', 'aa', 'synthetic'), ('a', 'ab', 'human'), ('b', 'ab', 'human')]
    """
    key = item[0]
    return f"{key[1]}\x00{key[2]}\x00{key[0]}"


_pause_lock = threading.Lock()
_pause_state = {"depth": 0, "resume": False}


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a write runs, then restore it.

    A write holds large tables that live until it ends (the ids it has seen, occurrence
    counts) and makes a few short-lived objects per sample; with the collector running,
    each full collection re-scans those tables (about a seventh of an ingest's CPU time).
    Nothing a write makes per sample forms a reference cycle, so memory is still freed as
    it goes, by reference counting (a test checks that an ingest leaves no cyclic garbage).
    Nested or concurrent writes pause once; the collector resumes when the last one ends,
    and only if it was running before the first began.

    >>> import gc
    >>> with collector_paused():
    ...     gc.isenabled()
    False
    >>> gc.isenabled()
    True
    """
    with _pause_lock:
        if _pause_state["depth"] == 0:
            _pause_state["resume"] = gc.isenabled()
            gc.disable()
        _pause_state["depth"] += 1
    try:
        yield
    finally:
        with _pause_lock:
            _pause_state["depth"] -= 1
            if _pause_state["depth"] == 0 and _pause_state["resume"]:
                gc.enable()


@contextmanager
def open_writer(engine: Engine, dialect: Dialect, *, path: str | None = None, fmt: str = "api",
                origin: str | None = None, as_version: str | None = None,
                dataset_cache: dict[str, int] | None = None,
                progress: Callable[[int], None] | None = None) -> Iterator[LedgerWriter]:
    """A :class:`LedgerWriter` inside one write transaction; leaving the block finishes and commits it."""
    with collector_paused(), write_transaction(engine) as conn:
        if as_version is not None:
            check_new_version(conn, as_version)
        ingest_id = int(conn.execute(
            insert(schema.ingests).values(path=path, format=fmt, origin=origin, started_at=now(),
                                          n_added=0, n_existing=0, n_skipped=0)).inserted_primary_key[0])
        writer = LedgerWriter(conn, dialect, ingest_id, path=path, fmt=fmt, as_version=as_version,
                              dataset_cache={} if dataset_cache is None else dataset_cache, progress=progress)
        try:
            yield writer
        except BaseException:
            writer.close(quiet=True)  # no thread may touch the connection while the transaction rolls back
            raise
        try:
            writer.finish()
        except BaseException as exc:
            writer.close(quiet=True)  # as above: the background work ends before the rollback
            if isinstance(exc, IntegrityError):  # only a concurrent write of the same source gets here
                raise LedgerError(f"another ingest of {path or 'these samples'} committed at the same time; "
                                  "this one was rolled back, run it again") from exc
            raise
        writer.close()
