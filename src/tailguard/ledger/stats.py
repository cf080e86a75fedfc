"""A version's figures, read once and stored: occurrences by origin and generation, the synthetic-depth histogram.

Reading them from the manifest is a grouped pass over the version's member rows (and, for the depths, a
join with ``samples``): seconds for a version of a million members. They are stored in ``version_stats``:
written with the version (in its transaction), or computed on first read and then stored for a version made
before schema 7 (:func:`persist`, a write that never waits for another writer and is skipped when the ledger
cannot be written).

The composition comes from the member rows only, which never change once the version is made (its digest
covers them). The depth histogram also reads each member's current ``samples.synthetic_depth``, which the
ledger changes when a run's outputs are linked (1 + the deepest member of the version it was trained on) and
when an ``unknown`` sample's origin is learnt. Every write that changes a depth replaces the ledger's depth
token (:func:`new_depth_token`); stored depths hold only under the token they were read under, and are read
again (and stored again) otherwise. ``verify`` recomputes a version's stored figures and reports any that
differ (:func:`check`).

>>> import os, tempfile
>>> from tailguard.ledger import Ledger, NewSample
>>> url = "sqlite:///" + os.path.join(tempfile.mkdtemp(), "ledger.db")
>>> with Ledger.open(url) as ledger:
...     _ = ledger.add_samples([NewSample(b"a", None, "text", "human"),
...                             NewSample(b"b", None, "text", "synthetic", generation=2)], as_version="v1")
...     ledger.lineage("v1").depth_histogram, ledger.version_compositions()["v1"].by_generation
({0: 1, 2: 1}, {0: 1, 2: 1})
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from sqlalchemy import Connection, Engine, func, select, update
from sqlalchemy.exc import DBAPIError

from tailguard.ledger import schema
from tailguard.ledger.dialect import Dialect
from tailguard.ledger.encoding import chunks
from tailguard.ledger.engine import quick_write_transaction
from tailguard.ledger.manifest import member_depth_sql

vm_t, s_t, st_t, meta_t = schema.version_members, schema.samples, schema.version_stats, schema.meta
DEPTH_TOKEN = "depth_token"


@dataclass(frozen=True)
class VersionStats:
    """The stored figures of one version; ``depths`` is ``None`` until read (see module doc)."""

    version_id: int
    by_origin: dict[str, int]
    by_generation: dict[int | None, int]
    depths: dict[int, int] | None = None
    depth_token: str | None = None

    @property
    def n(self) -> int:
        return sum(self.by_origin.values())

    @property
    def max_depth(self) -> int:
        """The deepest member's synthetic depth (0 for an empty histogram, as the manifest query says)."""
        return max(self.depths) if self.depths else 0


def depth_token(conn: Connection) -> str:
    """The ledger's current depth token ("" before any write changed a depth)."""
    return str(conn.execute(select(meta_t.c.value).where(meta_t.c.key == DEPTH_TOKEN)).scalar() or "")


def new_depth_token(conn: Connection) -> None:
    """Replace the depth token (in the transaction that changes samples' synthetic depths): every stored depth
    histogram is then read again when next needed. A fresh random value, so two writers never leave one that a
    reader saw before."""
    token = uuid.uuid4().hex
    if conn.execute(update(meta_t).where(meta_t.c.key == DEPTH_TOKEN).values(value=token)).rowcount == 0:
        conn.execute(meta_t.insert().values(key=DEPTH_TOKEN, value=token))


def _pairs(d: dict) -> str:  # type: ignore[type-arg]
    return json.dumps([[k, v] for k, v in d.items()], separators=(",", ":"))


def read_composition(conn: Connection, version_ids: Sequence[int]) -> dict[int, VersionStats]:
    """Occurrences by origin and generation of each version, from its member rows (one grouped pass)."""
    by_origin: dict[int, dict[str, int]] = {i: {} for i in version_ids}
    by_generation: dict[int, dict[int | None, int]] = {i: {} for i in version_ids}
    grouped = (select(vm_t.c.version_id, vm_t.c.origin, vm_t.c.generation, func.sum(vm_t.c.multiplicity))
               .group_by(vm_t.c.version_id, vm_t.c.origin, vm_t.c.generation))
    for part in chunks(sorted(version_ids), 500):
        for vid, origin, generation, n in conn.execute(grouped.where(vm_t.c.version_id.in_(part))):
            o, g = by_origin[int(vid)], by_generation[int(vid)]
            o[origin] = o.get(origin, 0) + int(n)
            g[generation] = g.get(generation, 0) + int(n)
    return {i: VersionStats(i, dict(sorted(by_origin[i].items())),
                            dict(sorted(by_generation[i].items(), key=lambda kv: (kv[0] is None, kv[0] or 0))))
            for i in version_ids}


def read_depths(conn: Connection, version_id: int) -> dict[int, int]:
    """The synthetic-depth histogram of a version's occurrences (members joined with their samples)."""
    depth = member_depth_sql()
    rows = conn.execute(
        select(depth, func.sum(vm_t.c.multiplicity)).select_from(vm_t.join(s_t, s_t.c.id == vm_t.c.sample_id))
        .where(vm_t.c.version_id == version_id).group_by(depth)).all()
    return {int(d): int(n) for d, n in sorted(rows)}


def compute(conn: Connection, version_id: int) -> VersionStats:
    """Every figure of a version, read from its manifest now (the token read first: depths at least as new)."""
    token = depth_token(conn)
    return replace(read_composition(conn, [version_id])[version_id], depths=read_depths(conn, version_id),
                   depth_token=token)


def stored(conn: Connection, version_ids: Iterable[int]) -> dict[int, VersionStats]:
    """The stored figures of those versions that have them."""
    out: dict[int, VersionStats] = {}
    for part in chunks(sorted(set(version_ids)), 500):
        for r in conn.execute(select(st_t).where(st_t.c.version_id.in_(part))):
            depths = None if r.depths is None else {int(d): int(n) for d, n in json.loads(r.depths)}
            out[int(r.version_id)] = VersionStats(
                int(r.version_id), {str(o): int(n) for o, n in json.loads(r.by_origin)},
                {(None if g is None else int(g)): int(n) for g, n in json.loads(r.by_generation)},
                depths, r.depth_token)
    return out


def store(conn: Connection, dialect: Dialect, version_id: int) -> None:
    """Read a version's figures from its manifest and store them, replacing any row under its id (the
    version's own transaction at creation, and the upgrade to schema 7)."""
    conn.execute(st_t.delete().where(st_t.c.version_id == version_id))
    write(conn, dialect, compute(conn, version_id))


def write(conn: Connection, dialect: Dialect, stats: VersionStats) -> None:
    """Store a version's figures: the composition once, the depths (when read) with their token."""
    conn.execute(dialect.insert_ignore(st_t).values(
        version_id=stats.version_id, by_origin=_pairs(stats.by_origin), by_generation=_pairs(stats.by_generation)))
    if stats.depths is not None:
        conn.execute(update(st_t).where(st_t.c.version_id == stats.version_id)
                     .values(depths=_pairs(stats.depths), depth_token=stats.depth_token))


class StatsReader:
    """Figures of versions within one read: stored ones when valid, else read from the manifest; what it had to
    read is kept in :attr:`fresh` for :func:`persist` once the read is over."""

    def __init__(self, conn: Connection):
        self.conn = conn
        self.fresh: dict[int, VersionStats] = {}
        self._token: str | None = None

    def token(self) -> str:
        if self._token is None:
            self._token = depth_token(self.conn)
        return self._token

    def compositions(self, version_ids: Sequence[int]) -> dict[int, VersionStats]:
        """Each version's figures, its depths possibly not read (``None``)."""
        found = stored(self.conn, version_ids)
        found.update({i: s for i, s in self.fresh.items() if i in set(version_ids)})
        missing = [i for i in version_ids if i not in found]
        if missing:
            read = read_composition(self.conn, missing)
            self.fresh.update(read)
            found.update(read)
        return found

    def full(self, version_id: int) -> VersionStats:
        """A version's figures with depths valid under the current token."""
        token = self.token()
        have = self.fresh.get(version_id) or stored(self.conn, [version_id]).get(version_id)
        if have is not None and have.depths is not None and have.depth_token == token:
            return have
        if have is None:
            have = read_composition(self.conn, [version_id])[version_id]
        have = replace(have, depths=read_depths(self.conn, version_id), depth_token=token)
        self.fresh[version_id] = have
        return have


def persist(engine: Engine, dialect: Dialect, fresh: Iterable[VersionStats]) -> bool:
    """Store figures a read computed, if the ledger can be written now without waiting; ``False`` when it
    could not (locked by a writer, read-only): they are then read again next time, nothing else changes."""
    todo = list(fresh)
    if not todo:
        return True
    try:
        with quick_write_transaction(engine) as conn:
            live = set(conn.execute(select(schema.versions.c.id).where(
                schema.versions.c.id.in_([s.version_id for s in todo]))).scalars())
            for s in todo:
                if s.version_id in live:
                    write(conn, dialect, s)
    except DBAPIError:
        return False
    return True


def check(conn: Connection, version_id: int) -> str:
    """"" when the stored figures of a version agree with its manifest (or none are stored), else what differs."""
    have = stored(conn, [version_id]).get(version_id)
    if have is None:
        return ""
    now = read_composition(conn, [version_id])[version_id]
    problems = []
    if have.by_origin != now.by_origin:
        problems.append(f"occurrences by origin {have.by_origin} (the manifest: {now.by_origin})")
    if have.by_generation != now.by_generation:
        problems.append(f"by generation {have.by_generation} (the manifest: {now.by_generation})")
    if have.depths is not None and have.depth_token == depth_token(conn):
        depths = read_depths(conn, version_id)
        if have.depths != depths:
            problems.append(f"synthetic depths {have.depths} (the manifest: {depths})")
    return ("its stored figures were edited: " + "; ".join(problems)) if problems else ""


__all__ = ["DEPTH_TOKEN", "StatsReader", "VersionStats", "check", "compute", "depth_token", "new_depth_token",
           "persist", "read_composition", "read_depths", "store", "stored", "write"]
