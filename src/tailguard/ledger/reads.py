"""Reading the ledger: sample records with their labels and parents, in batches, and their bytes.

In a version each record is one occurrence: a content that occurs three times is
yielded three times, as training would see it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, Integer, and_, literal, select, tuple_

from tailguard.errors import MissingInputError, ParameterError
from tailguard.ledger import schema
from tailguard.ledger.encoding import IN_CHUNK, aware, chunks
from tailguard.ledger.engine import read_connection
from tailguard.ledger.manifest import visible_labels
from tailguard.ledger.types import Box, SampleRecord
from tailguard.ledger.versions import version_row
from tailguard.tasks.base import decode_shape

s_t = schema.samples
vm_t = schema.version_members
l_t = schema.labels

_COLS = (s_t.c.id, s_t.c.uri, s_t.c.modality, s_t.c.verified_by, s_t.c.verified_at, s_t.c.generator,
         s_t.c.source, s_t.c.created_at, s_t.c.extra, s_t.c.synthetic_depth)


def member_depth(origin: str, stored_depth: int) -> int:
    """Synthetic depth of an occurrence: 0 when it is human, at least 1 when machine-made."""
    if origin == "human":
        return 0
    if origin in ("synthetic", "pseudo_label"):
        return max(stored_depth, 1)
    return stored_depth


def records(conn: Connection, rows: list[Any], watermark: int | None) -> list[SampleRecord]:
    ids = list(dict.fromkeys(r.id for r in rows))
    labels: dict[str, list[Box]] = {}
    parents: dict[str, list[str]] = {}
    for part in chunks(ids):
        q = select(l_t).where(and_(l_t.c.sample_id.in_(part), visible_labels(watermark))).order_by(l_t.c.id)
        for lb in conn.execute(q):
            if lb.shape is None:
                box = Box(lb.class_id, lb.x, lb.y, lb.w, lb.h, lb.origin, lb.confidence, lb.generator)
            else:
                task, points, dim = decode_shape(lb.shape)
                box = Box(lb.class_id, lb.x, lb.y, lb.w, lb.h, lb.origin, lb.confidence, lb.generator, task, points,
                          dim)
            labels.setdefault(lb.sample_id, []).append(box)
        sp = schema.sample_parents
        for sid, pid in conn.execute(select(sp.c.sample_id, sp.c.parent_id).where(sp.c.sample_id.in_(part))):
            parents.setdefault(sid, []).append(pid)
    return [
        SampleRecord(
            id=r.id, uri=r.uri, modality=r.modality, origin=r.origin, verified_by=r.verified_by,
            verified_at=aware(r.verified_at), generator=r.generator, generation=r.generation,
            parents=tuple(sorted(parents.get(r.id, ()))), source=r.source, created_at=aware(r.created_at),
            extra=json.loads(r.extra or "{}"), labels=tuple(labels.get(r.id, ())),
            synthetic_depth=member_depth(r.origin, int(r.synthetic_depth)),
        )
        for r in rows
    ]


def iter_rows(
    engine: Engine, version: str | None, ids: Iterable[str] | None, batch_size: int, with_content: bool,
    id_range: tuple[str, str | None] | None = None,
) -> Iterator[tuple[list[Any], int | None, Connection]]:
    """Batches of stored rows, one per content (and origin, in a version) with its ``multiplicity``.

    Without a version every stored content is one row of multiplicity 1. ``id_range``
    ``(after, until)`` keeps the sample ids ``after < id <= until`` (``until`` None: to the end),
    the cuts :func:`version_cuts` gives a streamed audit.
    """
    if batch_size < 1:
        raise ParameterError(f"The 'batch_size' parameter of Ledger.iter_samples must be an int >= 1. "
                             f"Got {batch_size}.")
    cols = list(_COLS) + ([s_t.c.content] if with_content else [])
    with read_connection(engine) as conn:
        vrow = version_row(conn, version) if version is not None else None
        watermark = vrow.label_watermark if vrow is not None else None
        if vrow is None:
            base = select(*cols, s_t.c.origin, s_t.c.generation, literal(1, Integer).label("multiplicity"))
        else:  # origin and generation as the version's occurrences had them
            base = (select(*cols, vm_t.c.origin, vm_t.c.generation, vm_t.c.multiplicity)
                    .select_from(vm_t.join(s_t, s_t.c.id == vm_t.c.sample_id))
                    .where(vm_t.c.version_id == vrow.id))
        if ids is not None:
            wanted = list(dict.fromkeys(ids))
            id_col = s_t.c.id if vrow is None else vm_t.c.sample_id
            for part in chunks(wanted, min(batch_size, IN_CHUNK)):
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
        if id_range is not None:  # every origin of the ``after`` id belongs to the shard before
            after, until = id_range
            base = base.where(keys[0] > after)
            if until is not None:
                base = base.where(keys[0] <= until)
        while True:
            after = keys[0] > last[0] if len(keys) == 1 else tuple_(*keys) > tuple_(*map(literal, last))
            rows = conn.execute(base.where(after).order_by(*keys).limit(batch_size)).all()
            if not rows:
                return
            yield rows, watermark, conn
            last = (rows[-1].id,) if len(keys) == 1 else (rows[-1].id, rows[-1].origin)


def version_cuts(engine: Engine, version: str, rows: int) -> list[str]:
    """Sample ids that cut ``version`` into runs of about ``rows`` occurrences, in id order:
    shard ``i`` holds the ids ``cuts[i-1] < id <= cuts[i]`` (the first from the start, the last
    to the end). One pass over the version's member ids, none of them kept.
    """
    if rows < 1:
        raise ParameterError(f"rows per shard must be an int >= 1. Got {rows}.")
    cuts: list[str] = []
    with read_connection(engine) as conn:
        vid = version_row(conn, version).id
        q = (select(vm_t.c.sample_id, vm_t.c.multiplicity).where(vm_t.c.version_id == vid)
             .order_by(vm_t.c.sample_id, vm_t.c.origin))
        count, last = 0, None
        for sid, mult in conn.execute(q).yield_per(10_000):
            if count >= rows and sid != last:  # a content's occurrences stay in one shard
                cuts.append(last)  # type: ignore[arg-type]
                count = 0
            count += int(mult)
            last = sid
    return cuts


def iter_samples(
    engine: Engine, version: str | None = None, *, ids: Iterable[str] | None = None, batch_size: int = 10_000
) -> Iterator[SampleRecord]:
    """Stream sample records (with labels and synthetic depth), ordered by id.

    A version yields one record per occurrence: a content that occurs three times
    is yielded three times, as training would see it. In a version, each record
    carries the origin it had when the version was made and only the labels that
    existed then. Without a version, each stored content is yielded once.
    """
    for rows, watermark, conn in iter_rows(engine, version, ids, batch_size, False):
        for rec, row in zip(records(conn, rows, watermark), rows, strict=True):
            for _ in range(int(row.multiplicity)):
                yield rec


def iter_bytes(
    engine: Engine, version: str | None = None, *, ids: Iterable[str] | None = None, batch_size: int = 2_000,
    read_files: bool = True, id_range: tuple[str, str | None] | None = None,
) -> Iterator[tuple[SampleRecord, bytes | None]]:
    """Like :meth:`iter_samples` but also yields each sample's bytes (inline or read from its file).

    With ``read_files=False`` samples stored by reference (images) yield ``None``; ``id_range``:
    see :func:`iter_rows`.
    """
    for rows, watermark, conn in iter_rows(engine, version, ids, batch_size, True, id_range):
        for rec, row in zip(records(conn, rows, watermark), rows, strict=True):
            if row.content is not None:
                data: bytes | None = bytes(row.content)
            else:
                data = file_bytes(rec.id, rec.uri) if read_files else None
            for _ in range(int(row.multiplicity)):
                yield rec, data


def file_bytes(sample_id: str, uri: str | None) -> bytes:
    """The bytes of a sample stored by reference (its file)."""
    if uri is None:
        raise MissingInputError(f"sample {sample_id!r} has neither inline content nor a uri")
    try:
        return Path(uri).read_bytes()
    except FileNotFoundError as exc:
        raise MissingInputError("file not found", path=uri) from exc


def read_bytes(engine: Engine, record: SampleRecord | str) -> bytes:
    """The sample's content: stored inline (text, tabular, vector rows) or the file at its uri."""
    sid = record if isinstance(record, str) else record.id
    with read_connection(engine) as conn:
        row = conn.execute(select(s_t.c.content, s_t.c.uri).where(s_t.c.id == sid)).first()
    if row is None:
        raise MissingInputError(f"sample {sid!r} is not in the ledger")
    if row.content is not None:
        return bytes(row.content)
    return file_bytes(sid, row.uri)

