"""Model runs: the version each was trained on, the samples it produced, its metrics by step.

Linking outputs to a run sets their synthetic depth: 1 + the deepest member of the
version the run was trained on.
"""

from __future__ import annotations

import json
import math
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Connection, Engine, and_, func, insert, select, update

from tailguard.errors import MissingInputError, NonFiniteValueError
from tailguard.ledger import schema
from tailguard.ledger.dialect import Dialect
from tailguard.ledger.encoding import aware, chunks, dumps, now
from tailguard.ledger.engine import read_connection, write_transaction
from tailguard.ledger.manifest import member_depth_sql
from tailguard.ledger.stats import new_depth_token
from tailguard.ledger.types import ModelRun, RunMetric
from tailguard.ledger.versions import version_row

s_t = schema.samples
vm_t = schema.version_members


class RunStore:
    """Model runs of one ledger (see module doc); :class:`tailguard.ledger.Ledger` forwards to it."""

    def __init__(self, engine: Engine, dialect: Dialect):
        self._engine = engine
        self._dialect = dialect

    def record_model_run(
        self,
        model_id: str,
        trained_on: str | None,
        *,
        produced: Iterable[str] = (),
        config: dict[str, Any] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> str:
        """Record a model run trained on version ``trained_on``; returns the run id."""
        run_id = uuid.uuid4().hex
        with write_transaction(self._engine) as conn:
            if trained_on is not None:
                version_row(conn, trained_on)
            conn.execute(insert(schema.model_runs).values(
                id=run_id, model_id=str(model_id), trained_on=trained_on, created_at=now(),
                config=dumps(config or {}), extra=dumps(extra or {})))
            self.link(conn, run_id, list(produced))
        return run_id


    def link(self, conn: Connection, run_id: str, sample_ids: list[str]) -> None:
        run = conn.execute(select(schema.model_runs).where(schema.model_runs.c.id == run_id)).first()
        if run is None:
            raise MissingInputError(f"model run {run_id!r} is not in the ledger")
        if not sample_ids:
            return
        ids = list(dict.fromkeys(sample_ids))
        for part in chunks(ids):
            found = set(conn.execute(select(s_t.c.id).where(s_t.c.id.in_(part))).scalars())
            if len(found) < len(part):
                missing = next(i for i in part if i not in found)
                raise MissingInputError(f"sample {missing!r} is not in the ledger (outputs of run {run_id})")
        conn.execute(self._dialect.insert_ignore(schema.run_outputs), [{"run_id": run_id, "sample_id": i} for i in ids])
        if run.trained_on is not None:
            vid = version_row(conn, run.trained_on).id
            parent_depth = conn.execute(
                select(func.max(member_depth_sql())).select_from(vm_t.join(s_t, s_t.c.id == vm_t.c.sample_id))
                .where(vm_t.c.version_id == vid)
            ).scalar() or 0
            new_depth_token(conn)  # the outputs' depths change: stored depth histograms are read again
            for part in chunks(ids):
                conn.execute(update(s_t).where(and_(s_t.c.id.in_(part), s_t.c.origin != "human"))
                             .values(synthetic_depth=int(parent_depth) + 1))


    def link_run_outputs(self, run_id: str, sample_ids: Iterable[str]) -> None:
        """Record that a run produced these samples (sets their synthetic depth)."""
        with write_transaction(self._engine) as conn:
            self.link(conn, run_id, list(sample_ids))


    def record_run_metrics(self, run_id: str, metrics: Mapping[str, float], *, step: int | None = None) -> None:
        """Store metrics of a run, e.g. ``{"recall/class_7": 0.4}``."""
        rows = []
        for name, value in metrics.items():
            v = float(value)
            if not math.isfinite(v):
                raise NonFiniteValueError(f"metric {name!r} of run {run_id} is {v}; metrics must be finite")
            rows.append({"run_id": run_id, "name": str(name), "value": v, "step": step, "recorded_at": now()})
        with write_transaction(self._engine) as conn:
            if conn.execute(select(schema.model_runs.c.id).where(schema.model_runs.c.id == run_id)).first() is None:
                raise MissingInputError(f"model run {run_id!r} is not in the ledger")
            if rows:
                conn.execute(insert(schema.run_metrics), rows)


    def run_metrics(self, run_id: str) -> list[RunMetric]:
        """Metrics recorded for a run, in recording order."""
        m = schema.run_metrics
        with read_connection(self._engine) as conn:
            return [RunMetric(r.name, r.value, r.step, aware(r.recorded_at))
                    for r in conn.execute(select(m).where(m.c.run_id == run_id).order_by(m.c.id))]


    def model_runs(self) -> list[ModelRun]:
        """Every recorded model run, oldest first."""
        r_t, o_t = schema.model_runs, schema.run_outputs
        counts = select(o_t.c.run_id, func.count().label("n")).group_by(o_t.c.run_id).subquery()
        with read_connection(self._engine) as conn:
            rows = conn.execute(
                select(r_t, counts.c.n).select_from(r_t.outerjoin(counts, counts.c.run_id == r_t.c.id))
                .order_by(r_t.c.created_at, r_t.c.id)
            )
            return [ModelRun(r.id, r.model_id, r.trained_on, aware(r.created_at), json.loads(r.config),
                             json.loads(r.extra), int(r.n or 0)) for r in rows]

