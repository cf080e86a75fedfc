"""Lineage: the ancestry of a sample or a version, with synthetic depths.

Synthetic depth counts model generations between a sample and human data: human
samples are 0; a sample produced by a model run trained on version V is
1 + the deepest member of V; other synthetic or pseudo-label samples use their
recorded generation (1 when none is recorded).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, and_, func, select

from tailguard.errors import MissingInputError
from tailguard.ledger import schema
from tailguard.ledger.manifest import member_depth_sql
from tailguard.ledger.types import Lineage, LineageEdge, LineageNode

if TYPE_CHECKING:
    from tailguard.ledger.store import Ledger

MAX_RUNS_PER_VERSION = 200
MAX_SAMPLES = 10_000

s_t, vm_t, v_t = schema.samples, schema.version_members, schema.versions
r_t, o_t, p_t = schema.model_runs, schema.run_outputs, schema.sample_parents


class _Builder:
    def __init__(self, conn: Connection):
        self.conn = conn
        self.nodes: dict[str, LineageNode] = {}
        self.edges: list[LineageEdge] = []
        self._edge_keys: set[tuple[str, str, str]] = set()

    def edge(self, child: str, parent: str, relation: str) -> None:
        key = (child, parent, relation)
        if key not in self._edge_keys:
            self._edge_keys.add(key)
            self.edges.append(LineageEdge(child, parent, relation))

    def version(self, name: str) -> str:
        node_id = f"version:{name}"
        if node_id in self.nodes:
            return node_id
        row = self.conn.execute(select(v_t).where(v_t.c.name == name)).first()
        if row is None:
            self.nodes[node_id] = LineageNode(node_id, "version", f"{name} (missing)")
            return node_id
        depth = self.conn.execute(
            select(func.max(member_depth_sql())).select_from(vm_t.join(s_t, s_t.c.id == vm_t.c.sample_id))
            .where(vm_t.c.version_id == row.id)
        ).scalar() or 0
        origins = dict(self.conn.execute(
            select(vm_t.c.origin, func.sum(vm_t.c.multiplicity)).where(vm_t.c.version_id == row.id)
            .group_by(vm_t.c.origin)).all())
        counts = ", ".join(f"{k} {v}" for k, v in sorted(origins.items()))
        self.nodes[node_id] = LineageNode(node_id, "version", f"{name} ({row.n_members} samples: {counts})",
                                          synthetic_depth=int(depth))
        for selector in json.loads(row.extra or "{}").get("selectors", []):
            if selector.startswith("version:"):
                self.edge(node_id, self.version(selector[len("version:"):]), "derived_from")
        runs = self.conn.execute(
            select(r_t).where(r_t.c.id.in_(
                select(o_t.c.run_id).select_from(o_t.join(vm_t, vm_t.c.sample_id == o_t.c.sample_id))
                .where(vm_t.c.version_id == row.id)
            )).order_by(r_t.c.created_at).limit(MAX_RUNS_PER_VERSION)
        ).all()
        for run in runs:
            self.edge(node_id, self.run(run), "contains_output_of")
        return node_id

    def run(self, run: Any) -> str:
        node_id = f"run:{run.id}"
        if node_id not in self.nodes:
            self.nodes[node_id] = LineageNode(node_id, "run", f"model {run.model_id}")
            if run.trained_on is not None:
                self.edge(node_id, self.version(run.trained_on), "trained_on")
        return node_id

    def sample(self, sample_id: str) -> str:
        todo = [sample_id]
        while todo and len(self.nodes) < MAX_SAMPLES:
            sid = todo.pop()
            if sid in self.nodes:
                continue
            row = self.conn.execute(select(s_t).where(s_t.c.id == sid)).first()
            if row is None:
                self.nodes[sid] = LineageNode(sid, "sample", f"{sid} (not in the ledger)")
                continue
            label = f"{row.modality} {row.origin}" + (f" by {row.generator}" if row.generator else "")
            self.nodes[sid] = LineageNode(sid, "sample", label, row.origin, int(row.synthetic_depth), row.generation)
            for (parent,) in self.conn.execute(select(p_t.c.parent_id).where(p_t.c.sample_id == sid)):
                self.edge(sid, parent, "parent")
                todo.append(parent)
            for run in self.conn.execute(
                select(r_t).where(r_t.c.id.in_(select(o_t.c.run_id).where(o_t.c.sample_id == sid)))
            ):
                self.edge(sid, self.run(run), "produced_by")
        return sample_id


def resolve_sample(conn: Connection, target: str) -> str | None:
    """A full sample id from an id or a unique prefix (at least 4 characters)."""
    if conn.execute(select(s_t.c.id).where(s_t.c.id == target)).first() is not None:
        return target
    if len(target) < 4 or any(c not in "0123456789abcdef" for c in target):
        return None
    matches = list(conn.execute(select(s_t.c.id).where(s_t.c.id.like(target + "%")).limit(2)).scalars())
    if len(matches) > 1:
        raise MissingInputError(f"sample id prefix {target!r} is ambiguous ({matches[0]}, {matches[1]}, ...)")
    return matches[0] if matches else None


def build_lineage(ledger: Ledger, conn: Connection, target: str) -> Lineage:
    """The lineage graph of ``target`` (a version name, a sample id, or a unique id prefix)."""
    builder = _Builder(conn)
    vrow = conn.execute(select(v_t).where(v_t.c.name == target)).first()
    if vrow is not None:
        builder.version(target)
        depth = member_depth_sql()
        hist = conn.execute(
            select(depth, func.sum(vm_t.c.multiplicity)).select_from(vm_t.join(s_t, s_t.c.id == vm_t.c.sample_id))
            .where(and_(vm_t.c.version_id == vrow.id)).group_by(depth)
        ).all()
        return Lineage(target, "version", list(builder.nodes.values()), builder.edges,
                       {int(d): int(n) for d, n in sorted(hist)})
    sample_id = resolve_sample(conn, target)
    if sample_id is None:
        raise MissingInputError(f"{target!r} is neither a version nor a sample id in the ledger")
    builder.sample(sample_id)
    hist: dict[int, int] = {}
    for node in builder.nodes.values():
        if node.kind == "sample" and node.synthetic_depth is not None:
            hist[node.synthetic_depth] = hist.get(node.synthetic_depth, 0) + 1
    return Lineage(sample_id, "sample", list(builder.nodes.values()), builder.edges, dict(sorted(hist.items())))
