"""Differences between two versions, counting occurrences.

One ordered pass per side finds the manifest rows (sample id, origin, multiplicity)
that the other side lacks or holds a different number of times, and whether the other
side holds that content at all (added / removed need nothing more); only contents held
by both but changed are then looked at whole, so a diff of two large versions costs two
index scans.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, and_, or_, select

from tailguard.ledger import schema
from tailguard.ledger.types import CountChange, OriginChange, VersionDiff

vm_t = schema.version_members
IN_CHUNK = 5_000


def _changed_rows(conn: Connection, this: int, other: int) -> list[tuple[str, bool]]:
    """(sample id, whether ``other`` holds it at all) for rows of ``this`` that ``other`` lacks or counts differently."""
    theirs = vm_t.alias("theirs")
    anywhere = vm_t.alias("anywhere")
    held = (select(anywhere.c.sample_id)
            .where(and_(anywhere.c.version_id == other, anywhere.c.sample_id == vm_t.c.sample_id)).exists())
    query = (
        select(vm_t.c.sample_id, held)
        .select_from(vm_t.outerjoin(theirs, and_(theirs.c.version_id == other,
                                                 theirs.c.sample_id == vm_t.c.sample_id,
                                                 theirs.c.origin == vm_t.c.origin)))
        .where(and_(vm_t.c.version_id == this,
                    or_(theirs.c.sample_id.is_(None), theirs.c.multiplicity != vm_t.c.multiplicity)))
    )
    return [(sid, bool(h)) for sid, h in conn.execute(query)]


def _members(conn: Connection, version_id: int, ids: Iterable[str]) -> dict[str, dict[str, int]]:
    """sample id -> {origin: multiplicity} for the given ids of a version."""
    out: dict[str, dict[str, int]] = {}
    ids = sorted(ids)
    for start in range(0, len(ids), IN_CHUNK):
        part = ids[start:start + IN_CHUNK]
        for sid, origin, mult in conn.execute(
            select(vm_t.c.sample_id, vm_t.c.origin, vm_t.c.multiplicity)
            .where(and_(vm_t.c.version_id == version_id, vm_t.c.sample_id.in_(part)))
        ):
            out.setdefault(sid, {})[origin] = int(mult)
    return out


def _origins(counts: dict[str, int]) -> str:
    """``human``, or ``human×2+synthetic×1`` when a content occurs under several origins."""
    if len(counts) == 1:
        return next(iter(counts))
    return "+".join(f"{o}×{n}" for o, n in sorted(counts.items()))


def diff_versions(conn: Connection, a: int, b: int) -> VersionDiff:
    """What changed from version id ``a`` to version id ``b`` (lists sorted by sample id)."""
    from_a, from_b = _changed_rows(conn, a, b), _changed_rows(conn, b, a)
    removed = sorted({sid for sid, in_b in from_a if not in_b})
    added = sorted({sid for sid, in_a in from_b if not in_a})
    both = {sid for sid, held in from_a if held} | {sid for sid, held in from_b if held}  # usually few
    before, after = _members(conn, a, both), _members(conn, b, both)
    origins, counts = [], []
    for sid in sorted(both):
        was, now = before[sid], after[sid]
        total_was, total_now = sum(was.values()), sum(now.values())
        if set(was) != set(now) or (total_was == total_now and was != now):
            origins.append(OriginChange(sid, _origins(was), _origins(now)))
        if total_was != total_now:
            counts.append(CountChange(sid, total_was, total_now))
    return VersionDiff(added=added, removed=removed, origin_changed=origins, count_changed=counts)
