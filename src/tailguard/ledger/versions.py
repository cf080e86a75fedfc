"""Versions: create them (a multiset manifest, counts, class names, digest), read, summarise, verify.

Functions over an open connection; :class:`tailguard.ledger.Ledger` opens the
transactions and calls them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, and_, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from tailguard.errors import (
    EmptyDatasetError,
    IncompatibleMergeError,
    MissingInputError,
    ParameterError,
    UnknownChoiceError,
    VersionExistsError,
)
from tailguard.ledger import schema, stats
from tailguard.ledger.dialect import Dialect
from tailguard.ledger.encoding import aware, chunks, dumps, now
from tailguard.ledger.hashing import PROVENANCE_FIELDS, content_id, file_id, provenance_digest
from tailguard.ledger.manifest import (
    Manifest,
    check_digest,
    member_depth_sql,
    selection,
    version_digest,
    visible_labels,
)
from tailguard.ledger.types import (
    ORIGINS,
    Conflict,
    VerifyProblem,
    VerifyReport,
    VersionComposition,
    VersionInfo,
    VersionSummary,
)

s_t = schema.samples
vm_t = schema.version_members
v_t = schema.versions
l_t = schema.labels


def version_row(conn: Connection, name: str) -> Any:
    row = conn.execute(select(v_t).where(v_t.c.name == name)).first()
    if row is None:
        names = [n for (n,) in conn.execute(select(v_t.c.name).limit(10_000))]
        if names:
            raise UnknownChoiceError("version", name, names)
        raise MissingInputError(f"version {name!r} does not exist (the ledger has no versions yet)")
    return row


def check_new_version(conn: Connection, name: str) -> None:
    if not isinstance(name, str) or not name.strip() or len(name) > 255 or any(c in name for c in "\n\r\t"):
        raise ParameterError(f"A version name must be a non-empty single-line string. Got {name!r}.")
    if conn.execute(select(v_t.c.id).where(v_t.c.name == name)).first() is not None:
        raise VersionExistsError(f"version {name!r} already exists; versions are immutable, pick a new name")


def create_version(
    conn: Connection,
    dialect: Dialect,
    name: str,
    selectors: Sequence[str],
    members: Iterable[str | tuple[str, str | None]] | Manifest | None,
    description: str,
    extra: dict[str, Any] | None,
) -> int:
    """Write a version: its manifest (a multiset), counts, class names, watermark and digest.

    ``members`` lists one entry per occurrence: a sample id (its stored origin) or a
    ``(sample_id, origin)`` pair; or it is the resolved :class:`~tailguard.ledger.manifest.Manifest`
    of a write (no lookups: its counts and digest come from the rows, and the digest is taken as
    given when the write computed it, see :func:`~tailguard.ledger.manifest.bare_digest`). ``None``:
    the ``selectors`` choose. With ``selectors`` as well, only members the selectors match are kept.
    """
    check_new_version(conn, name)
    extra = dict(extra or {})
    explicit_names = extra.pop("class_names", None)
    if selectors:
        extra["selectors"] = list(selectors)
    try:
        vid = int(conn.execute(
            insert(v_t).values(name=name, created_at=now(), description=description, extra=dumps(extra),
                               n_members=0, n_distinct=0, label_watermark=0)
        ).inserted_primary_key[0])
    except IntegrityError as exc:
        raise VersionExistsError(f"version {name!r} already exists; versions are immutable") from exc

    def version_id_of(n: str) -> int:
        return int(version_row(conn, n).id)

    resolved = members if isinstance(members, Manifest) else None
    if resolved is not None:
        columns = ("version_id", "sample_id", "origin", "multiplicity", "generation")
        rows = [(vid, sid, origin, mult, gen) for sid, origin, mult, gen in resolved.rows]
        for part in chunks(rows, 50_000):
            dialect.insert_new(conn, vm_t, columns, part)
        n = sum(row[2] for row in resolved.rows)
        n_distinct = len({row[0] for row in resolved.rows})
    else:
        if members is None:
            query = selection(selectors, version_id_of, vid)
            conn.execute(insert(vm_t).from_select(
                ["version_id", "sample_id", "origin", "multiplicity", "generation"], query))
        else:
            _insert_members(conn, dialect, vid, name, selectors, members, version_id_of)
        n, n_distinct = conn.execute(
            select(func.coalesce(func.sum(vm_t.c.multiplicity), 0), func.count(func.distinct(vm_t.c.sample_id)))
            .where(vm_t.c.version_id == vid)).one()
    if n == 0:
        raise EmptyDatasetError(
            f"version {name!r} would be empty: no sample matches {' '.join(selectors) or 'the given ids'}"
        )
    # fresh planner statistics: without them a diff of two big versions can pick a nested loop
    dialect.analyze(conn, "version_members", rows=int(n_distinct))
    names = explicit_names if explicit_names is not None else _member_class_names(conn, vid, name)
    watermark = int(conn.execute(select(func.max(schema.ingests.c.id))).scalar() or 0)
    if resolved is not None and resolved.digest is not None:
        root, chunk_digests = resolved.digest
    else:
        root, chunk_digests = version_digest(conn, vid, watermark, resolved.rows if resolved is not None else None)
    conn.execute(
        update(v_t).where(v_t.c.id == vid).values(
            n_members=int(n), n_distinct=int(n_distinct), label_watermark=watermark,
            class_names=dumps([str(x) for x in names]) if names is not None else None,
            digest=root, chunk_digests=dumps(chunk_digests),
        )
    )
    stats.store(conn, dialect, vid)  # the version's figures, in its own transaction
    return vid


def _insert_members(conn: Connection, dialect: Dialect, vid: int, name: str, selectors: Sequence[str],
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
    for part in chunks(ids):
        allowed: set[tuple[str, str]] | None = None
        if selectors:  # keep only the (sample, origin) pairs the selectors match
            query = selection(selectors, version_id_of, vid)
            sid_col = query.selected_columns[1]
            allowed = {(r[1], r[2]) for r in conn.execute(query.where(sid_col.in_(part)))}
        known = {sid: (origin, gen) for sid, origin, gen in dialect.samples_by_id(conn, part, "origin, generation")}
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
    columns = ("version_id", "sample_id", "origin", "multiplicity", "generation")
    ordered = [tuple(rows[k][c] for c in columns) for k in sorted(rows)]
    for part in chunks(ordered, 50_000):
        dialect.insert_new(conn, vm_t, columns, part)


def _member_class_names(conn: Connection, vid: int, name: str) -> list[str] | None:
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


def version_info(row: Any) -> VersionInfo:
    """The :class:`VersionInfo` of a ``versions`` row."""
    return VersionInfo(row.name, aware(row.created_at), int(row.n_members), row.description or "",
                       json.loads(row.extra or "{}"), int(row.n_distinct), row.digest)


def version_summary(conn: Connection, name: str) -> VersionSummary:
    """Occurrence counts by origin, generation and class (boxes of every label origin, with their count per
    label origin), depth and conflicts."""
    vrow = version_row(conn, name)
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
    boxes_by_origin = {str(o): int(n) for o, n in conn.execute(
        select(l_t.c.origin, func.sum(per_member.c.m))
        .select_from(per_member.join(l_t, l_t.c.sample_id == per_member.c.sample_id))
        .where(visible_labels(vrow.label_watermark))
        .group_by(l_t.c.origin).order_by(l_t.c.origin))}
    depth = conn.execute(
        select(func.max(member_depth_sql())).select_from(vm_t.join(s_t, s_t.c.id == vm_t.c.sample_id))
        .where(vm_t.c.version_id == vid)
    ).scalar()
    conflicts = conflicts_for(conn, vid)
    n = sum(by_origin.values())
    return VersionSummary(
        n=n, by_origin=dict(sorted(by_origin.items())),
        by_generation=dict(sorted(by_generation.items(), key=lambda kv: (kv[0] is None, kv[0] or 0))),
        by_class=by_class, human_fraction=by_origin.get("human", 0) / n if n else 0.0,
        unknown_fraction=by_origin.get("unknown", 0) / n if n else 0.0,
        max_synthetic_depth=int(depth or 0), conflicts=conflicts, n_distinct=int(vrow.n_distinct),
        boxes_by_origin=boxes_by_origin,
    )


def compositions(conn: Connection, names: Iterable[str] | None = None,
                 reader: stats.StatsReader | None = None) -> dict[str, VersionComposition]:
    """Versions' occurrences by origin and generation (all, or those ``names``; unknown names are left out):
    their stored figures, or one grouped pass over the ``version_members`` rows of those that have none yet
    (kept in ``reader.fresh`` for :func:`tailguard.ledger.stats.persist`)."""
    q = select(v_t.c.id, v_t.c.name).order_by(v_t.c.id)
    wanted = None if names is None else set(names)
    found = {int(i): str(n) for i, n in conn.execute(q) if wanted is None or n in wanted}
    figures = (reader or stats.StatsReader(conn)).compositions(list(found))
    return {found[i]: VersionComposition(found[i], figures[i].n, dict(figures[i].by_origin),
                                         dict(figures[i].by_generation)) for i in found}


def verify_version(conn: Connection, name: str, *, progress: Callable[[int], None] | None = None) -> VerifyReport:
    """Check a version end to end: its manifest digest, its sample rows, and every content's bytes.

    Each distinct content is rehashed once (its file, or its inline bytes); the
    digest is recomputed from the database, so edited members, counts, origins,
    generations or boxes are caught as well as changed files.
    """
    ok = 0
    missing: list[VerifyProblem] = []
    changed: list[VerifyProblem] = []
    vrow = version_row(conn, name)
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
                        digest_problem=digest.describe(name), stats_problem=stats.check(conn, int(vrow.id)))


def conflicts_for(conn: Connection, vid: int) -> list[Conflict]:
    c = schema.conflicts
    rows = conn.execute(
        select(c).where(c.c.sample_id.in_(select(vm_t.c.sample_id).where(vm_t.c.version_id == vid)))
        .order_by(c.c.id)
    )
    return [Conflict(r.sample_id, r.kind, r.claimed, r.other, r.detail, r.item) for r in rows]


def insert_exclusions(conn: Connection, version: str, exclusions: Iterable[tuple[Any, ...]]) -> None:
    """Record ``(sample_id, reason)`` or ``(sample_id, reason, score)`` rows for ``version``."""
    vid = version_row(conn, version).id  # an unknown version is an error even with nothing to record
    rows = [{"version_id": vid, "sample_id": str(e[0]), "reason": str(e[1]),
             "score": (None if len(e) < 3 or e[2] is None else float(e[2]))} for e in exclusions]
    for part in chunks(rows, 2_000):
        conn.execute(insert(schema.exclusions), list(part))

