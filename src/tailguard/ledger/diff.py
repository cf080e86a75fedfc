"""Differences between two versions, counting occurrences.

Two ways to the same :class:`~tailguard.ledger.types.VersionDiff` (tests hold them equal):

* **lookups** (the smaller side has at most :data:`LOOKUP_MAX` contents): every member row of the smaller
  side is read, and the larger side's rows of those contents looked up by its primary key; of the larger
  side only its sample ids are scanned (through the driver, on SQLite as one joined string), since each
  one the smaller side lacks is added or removed whole. A first diff of 10,000 members against a million reads
  20,000 rows and scans a million ids, instead of joining both manifests twice.
* **two ordered passes** (both sides large): one pass per side finds the manifest rows (sample id, origin,
  multiplicity) the other side lacks or holds a different number of times, and whether the other side
  holds that content at all (added / removed need nothing more); only contents held by both but changed
  are then looked at whole.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import filterfalse, pairwise

from sqlalchemy import Connection, and_, or_, select

from tailguard.errors import UnknownChoiceError
from tailguard.ledger import schema
from tailguard.ledger.dialect import Dialect
from tailguard.ledger.types import CountChange, OriginChange, VersionDiff

vm_t = schema.version_members
IN_CHUNK = 5_000
LOOKUP_MAX = 100_000
"""The lookup way is taken when the smaller version holds at most this many distinct contents."""


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
        ).all():
            out.setdefault(sid, {})[origin] = int(mult)
    return out


def _origins(counts: dict[str, int]) -> str:
    """``human``, or ``human×2+synthetic×1`` when a content occurs under several origins."""
    if len(counts) == 1:
        return next(iter(counts))
    return "+".join(f"{o}×{n}" for o, n in sorted(counts.items()))


def _all_members(conn: Connection, version_id: int) -> dict[str, dict[str, int]]:
    """sample id -> {origin: multiplicity} of every member row of a version."""
    out: dict[str, dict[str, int]] = {}
    for sid, origin, mult in conn.execute(select(vm_t.c.sample_id, vm_t.c.origin, vm_t.c.multiplicity)
                                          .where(vm_t.c.version_id == version_id)).all():
        out.setdefault(sid, {})[origin] = int(mult)
    return out


def _changes(before: dict[str, dict[str, int]], after: dict[str, dict[str, int]],
             both: set[str]) -> tuple[list[OriginChange], list[CountChange]]:
    origins, counts = [], []
    for sid in sorted(both):
        was, now = before[sid], after[sid]
        total_was, total_now = sum(was.values()), sum(now.values())
        if set(was) != set(now) or (total_was == total_now and was != now):
            origins.append(OriginChange(sid, _origins(was), _origins(now)))
        if total_was != total_now:
            counts.append(CountChange(sid, total_was, total_now))
    return origins, counts


def _by_passes(conn: Connection, a: int, b: int) -> VersionDiff:
    from_a, from_b = _changed_rows(conn, a, b), _changed_rows(conn, b, a)
    removed = sorted({sid for sid, in_b in from_a if not in_b})
    added = sorted({sid for sid, in_a in from_b if not in_a})
    both = {sid for sid, held in from_a if held} | {sid for sid, held in from_b if held}  # usually few
    origins, counts = _changes(_members(conn, a, both), _members(conn, b, both), both)
    return VersionDiff(added=added, removed=removed, origin_changed=origins, count_changed=counts)


def _sorted_once(ids: Iterable[str]) -> list[str]:
    """``sorted(set(ids))`` without hashing every id: sorted (linear on the index order the ids come in), then
    each run of equal ids kept once."""
    ordered = sorted(ids)
    return [a for a, b in pairwise(ordered) if a != b] + ordered[-1:]


def _by_lookups(conn: Connection, dialect: Dialect, small: int, large: int, small_is_a: bool) -> VersionDiff:
    mine = _all_members(conn, small)
    theirs = _members(conn, large, mine)  # the larger side's rows of the smaller side's contents
    only_small = sorted(sid for sid in mine if sid not in theirs)
    only_large = _sorted_once(filterfalse(mine.__contains__, dialect.member_ids(conn, large)))
    both = {sid for sid, rows in theirs.items() if rows != mine[sid]}
    if small_is_a:
        origins, counts = _changes(mine, theirs, both)
        return VersionDiff(added=only_large, removed=only_small, origin_changed=origins, count_changed=counts)
    origins, counts = _changes(theirs, mine, both)
    return VersionDiff(added=only_small, removed=only_large, origin_changed=origins, count_changed=counts)


def diff_versions(conn: Connection, a: int, b: int, *, dialect: Dialect | None = None,
                  method: str = "auto") -> VersionDiff:
    """What changed from version id ``a`` to version id ``b`` (lists sorted by sample id).

    ``method``: ``"lookups"``, ``"passes"`` or ``"auto"`` (lookups when the smaller side holds at most
    :data:`LOOKUP_MAX` contents); every method gives the same diff.
    """
    if method not in ("auto", "lookups", "passes"):
        raise UnknownChoiceError("diff method", method, ("auto", "lookups", "passes"))
    sizes = dict(conn.execute(select(schema.versions.c.id, schema.versions.c.n_distinct)
                              .where(schema.versions.c.id.in_([a, b]))).all())
    small_is_a = int(sizes.get(a, 0)) <= int(sizes.get(b, 0))
    if method == "passes" or (method == "auto" and min((int(n) for n in sizes.values()), default=0) > LOOKUP_MAX):
        return _by_passes(conn, a, b)
    small, large = (a, b) if small_is_a else (b, a)
    return _by_lookups(conn, dialect or Dialect(), small, large, small_is_a)
