"""Lineage: the ancestry of a sample, a version or a model run, with synthetic depths.

Synthetic depth counts model generations between a sample and human data: human
samples are 0; a sample produced by a model run trained on version V is
1 + the deepest member of V; other synthetic or pseudo-label samples use their
recorded generation (1 when none is recorded).

Besides the ancestry, a version's graph holds the runs trained on it (``trained_on``
edges into the version), and a run's graph holds the first :data:`MAX_SHOWN_OUTPUTS`
samples it produced (``produced_by`` edges into the run); the run's depth histogram
counts all of them.

>>> pick_run("run:3f2a", ["3f2a9c", "77aa00"])
'3f2a9c'
>>> pick_run("beef", ["3f2a9c"]) is None
True
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, func, select

from tailguard.errors import MissingInputError
from tailguard.ledger import schema
from tailguard.ledger.stats import StatsReader
from tailguard.ledger.types import Lineage, LineageEdge, LineageNode, ModelRun

if TYPE_CHECKING:
    from tailguard.ledger.store import Ledger

MAX_RUNS_PER_VERSION = 200
MAX_SAMPLES = 10_000
MAX_SHOWN_OUTPUTS = 10
"""Samples of a run's lineage listed one by one (its depth histogram counts every output)."""
MIN_PREFIX = 4
HEX = frozenset("0123456789abcdef")

s_t, vm_t, v_t = schema.samples, schema.version_members, schema.versions
r_t, o_t, p_t = schema.model_runs, schema.run_outputs, schema.sample_parents


class _Builder:
    def __init__(self, conn: Connection, reader: StatsReader):
        self.conn = conn
        self.stats = reader
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
        figures = self.stats.full(int(row.id))  # stored, or read from the manifest once
        counts = ", ".join(f"{k} {v}" for k, v in sorted(figures.by_origin.items()))
        self.nodes[node_id] = LineageNode(node_id, "version", f"{name} ({row.n_members} samples: {counts})",
                                          synthetic_depth=figures.max_depth)
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
            n_out = self.conn.execute(select(func.count()).select_from(o_t).where(o_t.c.run_id == run.id)).scalar()
            self.nodes[node_id] = LineageNode(node_id, "run", f"model {run.model_id} ({int(n_out or 0)} outputs)")
            if run.trained_on is not None:
                self.edge(node_id, self.version(run.trained_on), "trained_on")
        return node_id

    def trained_on(self, name: str) -> None:
        """Add the runs trained on version ``name`` (oldest first)."""
        for run in self.conn.execute(
            select(r_t).where(r_t.c.trained_on == name).order_by(r_t.c.created_at, r_t.c.id)
            .limit(MAX_RUNS_PER_VERSION)
        ):
            self.run(run)

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
    if len(target) < MIN_PREFIX or any(c not in HEX for c in target):
        return None
    matches = list(conn.execute(select(s_t.c.id).where(s_t.c.id.like(target + "%")).limit(2)).scalars())
    if len(matches) > 1:
        raise MissingInputError(f"sample id prefix {target!r} is ambiguous ({matches[0]}, {matches[1]}, ...)")
    return matches[0] if matches else None


def pick_run(target: str, run_ids: Iterable[str]) -> str | None:
    """The run id ``target`` names (``run:ID``, a full id or a unique prefix of 4+ hex digits), else ``None``.

    An ambiguous prefix raises :class:`~tailguard.errors.MissingInputError` naming two matches.
    """
    wanted = target.removeprefix("run:")
    ids = list(run_ids)
    if wanted in ids:
        return wanted
    if len(wanted) < MIN_PREFIX or any(c not in HEX for c in wanted):
        return None
    matches = [i for i in ids if i.startswith(wanted)]
    if len(matches) > 1:
        raise MissingInputError(f"run id prefix {wanted!r} is ambiguous ({matches[0]}, {matches[1]}, ...)")
    return matches[0] if matches else None


def find_run(runs: Iterable[ModelRun], target: str) -> ModelRun:
    """The run of ``runs`` that ``target`` names (:func:`pick_run`), else a one-line
    :class:`~tailguard.errors.MissingInputError` pointing at ``tailguard runs list``."""
    by_id = {r.id: r for r in runs}
    run_id = pick_run(target, by_id)
    if run_id is None:
        raise MissingInputError(f"{target!r} is not a model run id (or unique prefix) in the ledger; "
                                "see 'tailguard runs list'")
    return by_id[run_id]


def _run_ids(conn: Connection) -> list[str]:
    return list(conn.execute(select(r_t.c.id)).scalars())


def _version_lineage(builder: _Builder, conn: Connection, vrow: Any) -> Lineage:
    builder.version(vrow.name)
    builder.trained_on(vrow.name)
    hist = builder.stats.full(int(vrow.id)).depths
    assert hist is not None
    return Lineage(vrow.name, "version", list(builder.nodes.values()), builder.edges, dict(hist))


def _run_lineage(builder: _Builder, conn: Connection, run_id: str) -> Lineage:
    run = conn.execute(select(r_t).where(r_t.c.id == run_id)).one()
    builder.run(run)
    shown = conn.execute(
        select(o_t.c.sample_id).where(o_t.c.run_id == run_id).order_by(o_t.c.sample_id).limit(MAX_SHOWN_OUTPUTS)
    ).scalars()
    for sample_id in list(shown):
        builder.sample(sample_id)
    hist = conn.execute(
        select(s_t.c.synthetic_depth, func.count()).select_from(o_t.join(s_t, s_t.c.id == o_t.c.sample_id))
        .where(o_t.c.run_id == run_id).group_by(s_t.c.synthetic_depth)
    ).all()
    return Lineage(run_id, "run", list(builder.nodes.values()), builder.edges,
                   {int(d): int(n) for d, n in sorted(hist)})


def _sample_lineage(builder: _Builder, sample_id: str) -> Lineage:
    builder.sample(sample_id)
    hist: dict[int, int] = {}
    for node in builder.nodes.values():
        if node.kind == "sample" and node.synthetic_depth is not None:
            hist[node.synthetic_depth] = hist.get(node.synthetic_depth, 0) + 1
    return Lineage(sample_id, "sample", list(builder.nodes.values()), builder.edges, dict(sorted(hist.items())))


def build_lineage(ledger: Ledger, conn: Connection, target: str, reader: StatsReader | None = None) -> Lineage:
    """The lineage graph of ``target``: a version name, a model run or a sample.

    Runs and samples are named by their id or a unique prefix; ``run:ID`` and ``sample:ID``
    say which is meant when a prefix matches both. Versions' depths and origins come from their stored
    figures (:mod:`tailguard.ledger.stats`); what ``reader`` had to read from a manifest is in ``reader.fresh``.
    """
    builder = _Builder(conn, reader or StatsReader(conn))
    if target.startswith("run:"):
        run_id = pick_run(target, _run_ids(conn))
        if run_id is None:
            raise MissingInputError(f"{target!r} is not a model run id (or unique prefix) in the ledger")
        return _run_lineage(builder, conn, run_id)
    if target.startswith("sample:"):
        sample_id = resolve_sample(conn, target.removeprefix("sample:"))
        if sample_id is None:
            raise MissingInputError(f"{target!r} is not a sample id (or unique prefix) in the ledger")
        return _sample_lineage(builder, sample_id)
    vrow = conn.execute(select(v_t).where(v_t.c.name == target)).first()
    if vrow is not None:
        return _version_lineage(builder, conn, vrow)
    sample_id = resolve_sample(conn, target)
    run_id = pick_run(target, _run_ids(conn))
    if sample_id is not None and run_id is not None and target not in (sample_id, run_id):
        raise MissingInputError(f"{target!r} is the start of sample {sample_id} and of model run {run_id}; "
                                f"write sample:{target} or run:{target}")
    if run_id is not None and sample_id != target:
        return _run_lineage(builder, conn, run_id)
    if sample_id is None:
        raise MissingInputError(f"{target!r} is neither a version nor a sample id in the ledger, nor a model run")
    return _sample_lineage(builder, sample_id)
