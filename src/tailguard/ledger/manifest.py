"""Version manifests: which contents a version holds, how often, and a digest over them.

A version is a multiset of occurrences. Its manifest rows are
``(sample_id, origin, multiplicity, generation)``; the same bytes can appear under two
origins (human in one source, synthetic in another). Every version stores a digest
over its manifest and the label rows it sees, so ``verify`` notices edits of the
database as well as of the files.

The digest is a two-level Merkle tree: the manifest, ordered by (sample id, origin),
is cut into chunks of :data:`CHUNK_LEAVES` leaves; each chunk hashes its leaves and
the root hashes the chunk digests. Keeping the chunk digests says *where* an edit is.

>>> leaf("ab" * 16, "human", 2, 0, ())
b'abababababababababababababababab|human|2|0|\\n'
>>> chunked_digest([leaf("ab" * 16, "human", 1, 0, ())])[0][:16]
'fab30df41e9229fb'
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from blake3 import blake3
from sqlalchemy import Connection, Integer, Select, and_, case, false, func, literal, or_, select

from tailguard.ledger import schema
from tailguard.ledger.selectors import escape_like, parse_selector

CHUNK_LEAVES = 4096

s_t = schema.samples
vm_t = schema.version_members
o_t = schema.occurrences
l_t = schema.labels


def leaf(sample_id: str, origin: str, multiplicity: int, generation: int | None, boxes: Sequence[str]) -> bytes:
    """One manifest leaf: the member, how often it occurs, and its visible label rows."""
    gen = "" if generation is None else str(int(generation))
    return f"{sample_id}|{origin}|{int(multiplicity)}|{gen}|{';'.join(boxes)}\n".encode()


def bare_digest(rows: Sequence[ManifestRow]) -> tuple[str, list[str]]:
    """:func:`chunked_digest` of manifest rows none of whose contents has a visible box,
    hashing each chunk's leaves in one piece (the same bytes, so the same digest).

    >>> rows = [(f"{i:032x}", "human", 2, 0) for i in range(CHUNK_LEAVES + 3)]
    >>> bare_digest(rows) == chunked_digest(leaf(*r, ()) for r in rows)
    True
    """
    chunks = [blake3("".join([f"{sid}|{origin}|{int(mult)}|{'' if gen is None else int(gen)}|\n"
                              for sid, origin, mult, gen in rows[start:start + CHUNK_LEAVES]]).encode()).hexdigest()
              for start in range(0, len(rows), CHUNK_LEAVES)] or [blake3().hexdigest()]
    return blake3("".join(chunks).encode()).hexdigest(), chunks


def chunked_digest(leaves: Iterable[bytes]) -> tuple[str, list[str]]:
    """The Merkle root over ``leaves`` and the digest of each chunk of :data:`CHUNK_LEAVES`."""
    chunks: list[str] = []
    hasher = blake3()
    filled = 0
    for item in leaves:
        hasher.update(item)
        filled += 1
        if filled == CHUNK_LEAVES:
            chunks.append(hasher.hexdigest())
            hasher, filled = blake3(), 0
    if filled or not chunks:
        chunks.append(hasher.hexdigest())
    root = blake3("".join(chunks).encode()).hexdigest()
    return root, chunks


def box_text(r: Any) -> str:
    """The digest form of one stored label row (origin, generator, class, coordinates and, for a
    row of another task than detection, its shape: a detection box's text is what schema 4 and before hashed)."""
    text = f"{r.origin}:{r.generator or ''}:{int(r.class_id)}:{r.x:.9g},{r.y:.9g},{r.w:.9g},{r.h:.9g}"
    return text if r.shape is None else f"{text}:{r.shape}"


def visible_labels(watermark: int | None) -> object:
    """Labels visible at a version's watermark (None: the current labels).

    A label is visible in a version when it was added by an ingest up to the version's
    watermark and had not been replaced (retired) by then.
    """
    if watermark is None:
        return l_t.c.retired_by.is_(None)
    return and_(l_t.c.ingest_id <= watermark, or_(l_t.c.retired_by.is_(None), l_t.c.retired_by > watermark))


ManifestRow = tuple[str, str, int, int | None]  # sample id, origin, multiplicity, generation


@dataclass(frozen=True)
class Manifest:
    """A version's manifest as the write that makes it knows it: one row per (sample id, origin),
    in (sample id, origin) order. It is exactly what is stored, so its digest needs no read-back.

    >>> Manifest.merge([("aa", "human", 2, 0), ("aa", "human", 1, 0), ("ab", "synthetic", 1, 3)]).rows
    [('aa', 'human', 3, 0), ('ab', 'synthetic', 1, 3)]
    """

    rows: list[ManifestRow]
    # (root, chunk digests) when the writer could compute them without the database: see bare_leaves
    digest: tuple[str, list[str]] | None = None

    @classmethod
    def merge(cls, occurrences: Iterable[ManifestRow]) -> Manifest:
        """Per-source occurrence rows, already in (sample id, origin) order, merged into one row per pair:
        multiplicities add up, the lowest generation stays (as a version's selection combines sources)."""
        rows: list[ManifestRow] = []
        sid = origin = None
        mult, gen = 0, None
        for s, o, m, g in occurrences:
            if s == sid and o == origin:
                mult += m
                if g is not None and (gen is None or g < gen):
                    gen = g
                continue
            if sid is not None:
                rows.append((sid, origin, mult, gen))  # type: ignore[arg-type]
            sid, origin, mult, gen = s, o, m, g
        if sid is not None:
            rows.append((sid, origin, mult, gen))  # type: ignore[arg-type]
        return cls(rows)


def manifest_leaves(conn: Connection, version_id: int, watermark: int,
                    members: Iterable[ManifestRow] | None = None) -> Iterator[bytes]:
    """The leaves of a version's manifest, in (sample id, origin) order, from what is stored now.

    ``members``: the version's rows as just written (a :class:`Manifest`'s), so they are not read
    back; its label rows are read from the database either way.
    """
    if members is None:
        members = conn.execute(
            select(vm_t.c.sample_id, vm_t.c.origin, vm_t.c.multiplicity, vm_t.c.generation)
            .where(vm_t.c.version_id == version_id).order_by(vm_t.c.sample_id, vm_t.c.origin)
            .execution_options(yield_per=20_000)
        )
    labels = conn.execute(
        select(l_t.c.sample_id, l_t.c.origin, l_t.c.generator, l_t.c.class_id, l_t.c.x, l_t.c.y, l_t.c.w, l_t.c.h,
               l_t.c.shape)
        .select_from(l_t.join(vm_t, and_(vm_t.c.sample_id == l_t.c.sample_id, vm_t.c.version_id == version_id)))
        .where(visible_labels(watermark)).distinct()
        .order_by(l_t.c.sample_id)
        .execution_options(yield_per=20_000)
    )
    pending = next(labels, None)
    current_sid: str | None = None
    current_boxes: list[str] = []
    for sid, origin, mult, gen in members:
        if sid != current_sid:
            current_sid, current_boxes = sid, []
            while pending is not None and pending.sample_id < sid:
                pending = next(labels, None)
            while pending is not None and pending.sample_id == sid:
                current_boxes.append(box_text(pending))
                pending = next(labels, None)
            current_boxes.sort()
        yield leaf(sid, origin, mult, gen, current_boxes)


def version_digest(conn: Connection, version_id: int, watermark: int,
                   members: Iterable[ManifestRow] | None = None) -> tuple[str, list[str]]:
    """(root, chunk digests) of a version as stored now (``members``: see :func:`manifest_leaves`)."""
    return chunked_digest(manifest_leaves(conn, version_id, watermark, members))


@dataclass(frozen=True)
class DigestCheck:
    """The outcome of recomputing a version's digest."""

    ok: bool
    stored: str | None
    actual: str
    changed_chunks: list[int]
    n_chunks: int

    def describe(self, name: str) -> str:
        """One line saying what differs (empty when nothing does)."""
        if self.ok:
            return ""
        if self.stored is None:
            return f"version {name!r} has no stored digest"
        where = ", ".join(str(i + 1) for i in self.changed_chunks[:5])
        more = f" and {len(self.changed_chunks) - 5} more" if len(self.changed_chunks) > 5 else ""
        return (f"the ledger's records of version {name!r} were edited: manifest digest {self.actual[:16]} "
                f"differs from the stored {self.stored[:16]} (changed in chunk {where}{more} of {self.n_chunks}, "
                f"{CHUNK_LEAVES} members per chunk: members, counts, origins, generations or label rows)")


def check_digest(conn: Connection, vrow: object) -> DigestCheck:
    """Recompute the digest of the version row ``vrow`` and compare it with the stored one."""
    actual, chunks = version_digest(conn, vrow.id, vrow.label_watermark)  # type: ignore[attr-defined]
    stored = vrow.digest  # type: ignore[attr-defined]
    old = json.loads(vrow.chunk_digests or "[]")  # type: ignore[attr-defined]
    changed = [i for i in range(max(len(old), len(chunks)))
               if i >= len(old) or i >= len(chunks) or old[i] != chunks[i]]
    return DigestCheck(stored == actual, stored, actual, changed if stored != actual else [], len(chunks))


def member_depth_sql() -> object:
    """Synthetic depth of a member (over members joined with samples): human 0, machine-made at least 1."""
    return case((vm_t.c.origin == "human", 0),
                (and_(vm_t.c.origin.in_(("synthetic", "pseudo_label")), s_t.c.synthetic_depth < 1), 1),
                else_=s_t.c.synthetic_depth)


# ---------------------------------------------------------------------------- selection
def effective_origin() -> object:
    """An occurrence's origin, upgraded to what the ledger now knows when it was claimed ``unknown``."""
    return case((o_t.c.origin == "unknown", s_t.c.origin), else_=o_t.c.origin)


def selection(selectors: Sequence[str], version_id_of: Callable[[str], int], version_id: int) -> Select:
    """``SELECT version_id, sample_id, origin, multiplicity, generation`` for the selectors.

    With ``version:`` selectors the members of those versions are combined as a
    multiset union: each (content, origin) occurs as often as in the version that
    holds it most, so a version derived from another does not count the shared
    occurrences twice (``mix`` combines its inputs the same way); without, every
    occurrence of every source in the ledger. ``origin:``, ``generation:`` and
    ``source:`` then filter (same key OR'ed, different keys AND'ed).
    """
    parsed = [parse_selector(text) for text in selectors]
    versions = [version_id_of(sel.value) for sel in parsed if sel.key == "version"]
    if versions:
        origin_col, gen_col, sid_col, mult_col = vm_t.c.origin, vm_t.c.generation, vm_t.c.sample_id, vm_t.c.multiplicity
        base = select(literal(version_id, Integer), sid_col, origin_col, func.max(mult_col), func.min(gen_col))
        base = base.where(vm_t.c.version_id.in_(versions))
        group = (sid_col, origin_col)
    else:
        origin_col = effective_origin()
        gen_col, sid_col = o_t.c.generation, o_t.c.sample_id
        base = (select(literal(version_id, Integer), sid_col, origin_col, func.sum(o_t.c.multiplicity),
                       func.min(gen_col))
                .select_from(o_t.join(s_t, s_t.c.id == o_t.c.sample_id)))
        group = (sid_col, origin_col)
    groups: dict[str, list[object]] = {}
    for sel in parsed:
        if sel.key == "version":
            continue
        if sel.key == "origin":
            clause: object = origin_col == sel.value
        elif sel.key == "source":
            pattern = escape_like(sel.value) + "%"
            if versions:
                clause = sid_col.in_(select(o_t.c.sample_id).where(o_t.c.source.like(pattern, escape="\\")))
            else:
                clause = o_t.c.source.like(pattern, escape="\\")
        else:
            n = int(sel.value)
            clause = {"<=": gen_col <= n, ">=": gen_col >= n, "<": gen_col < n, ">": gen_col > n,
                      "=": gen_col == n, "!=": gen_col != n}[sel.op]
        groups.setdefault(sel.key, []).append(clause)
    for clauses in groups.values():
        base = base.where(or_(*clauses) if clauses else false())
    return base.group_by(*group).order_by(*group)
