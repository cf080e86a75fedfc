"""A model run of the ledger as one MLflow run: its metrics by epoch, its config, what it was trained on.

The ledger's model runs (``tailguard runs list``) come from the Ultralytics callbacks, the Hugging
Face Trainer callback, pseudo-labelling and ``simulate --record``. :func:`model_run_payload` maps one:

- **metrics**: every recorded value, at its recorded time, with ``step`` = its epoch (or generation).
  A value recorded without a step (the Ultralytics callback's final validation) is logged at step 0
  under its own name when that name has no per-epoch values, and as ``final/NAME`` when it has, so
  it never lands on epoch 0's point of the curve. Values recorded twice at one step are both logged,
  in recording order (MLflow shows the latest);
- **params**: ``model_id``, ``trained_on``, ``n_produced``, and the run's ``config.KEY`` and ``extra.KEY``;
- **tags**: ``tailguard.kind`` = ``model_run``, ``tailguard.run_id`` (the ledger's id) and
  ``tailguard.trained_on``.

>>> import datetime as dt
>>> from tailguard.ledger import ModelRun, RunMetric
>>> t = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)
>>> run = ModelRun("ab12", "det", "v1", t, {"epochs": 2}, {}, 0)
>>> p = model_run_payload(run, [RunMetric("recall/cat", 0.25, 0, t), RunMetric("recall/cat", 0.4, 1, t),
...                              RunMetric("recall/cat", 0.4, None, t), RunMetric("fitness", 0.3, None, t)])
>>> [(m.key, m.step, m.value) for m in p.metrics]
[('recall/cat', 0, 0.25), ('recall/cat', 1, 0.4), ('final/recall/cat', 0, 0.4), ('fitness', 0, 0.3)]
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from tailguard.integrations.mlflow.names import flatten_params, param_value, unique_keys
from tailguard.integrations.mlflow.tracking import DEFAULT_EXPERIMENT, Payload, Point, Tracker

if TYPE_CHECKING:
    from tailguard.ledger import Ledger, ModelRun, RunMetric

#: Prefix of a step-less value whose name also has per-epoch values
FINAL_PREFIX = "final/"


def model_run_payload(run: ModelRun, metrics: list[RunMetric]) -> Payload:
    """The metrics, params and tags of ``run``'s MLflow run (see the module doc)."""
    stepped = {m.name for m in metrics if m.step is not None}
    names = [m.name if m.step is not None or m.name not in stepped else FINAL_PREFIX + m.name for m in metrics]
    keys = unique_keys(names)
    points = [Point(keys[name], float(m.value), 0 if m.step is None else int(m.step),
                    int(m.recorded_at.timestamp() * 1000))
              for name, m in zip(names, metrics, strict=True)]
    params = {"model_id": param_value(run.model_id), "trained_on": param_value(run.trained_on),
              "n_produced": param_value(run.n_produced)}
    params |= flatten_params(run.config, prefix="config.") | flatten_params(run.extra, prefix="extra.")
    tags = {"tailguard.kind": "model_run", "tailguard.run_id": run.id, "tailguard.trained_on": run.trained_on or "-"}
    return Payload(points, params, tags)


def find_model_run(ledger: Ledger, run: str) -> ModelRun:
    """The model run ``run`` names (``run:ID``, an id or a unique prefix); one-line MissingInputError otherwise."""
    from tailguard.ledger.lineage import find_run

    return find_run(ledger.model_runs(), str(run))


def log_model_run(ledger: Ledger | str | None, run: str, *, tracking_uri: str | Path | None = None,
                  experiment: str = DEFAULT_EXPERIMENT, run_name: str | None = None) -> str:
    """Log the ledger's model run ``run`` (id, ``run:ID`` or unique prefix) as one MLflow run; returns the
    MLflow run id. ``ledger`` is a :class:`~tailguard.ledger.Ledger` or its URL (opened read-only:
    a missing ledger is not created). ``run_name`` defaults to the run's model id."""
    from tailguard.ledger import Ledger

    if isinstance(ledger, Ledger):
        found = find_model_run(ledger, run)
        metrics = ledger.run_metrics(found.id)
    else:
        with Ledger.open(None if ledger is None else str(ledger), create=False) as opened:
            found = find_model_run(opened, run)
            metrics = opened.run_metrics(found.id)
    tracker = Tracker(tracking_uri, experiment=experiment)
    return tracker.log_run(model_run_payload(found, metrics), run_name=run_name or found.model_id)
