"""MLflow integration (optional extra ``mlflow``): audits, simulations and model runs as MLflow runs.

- :func:`log_audit`: an audit (a report object, or an ``audit --out`` folder) as one run: each
  judged number as a metric, each row's status as a tag, the config as params, ``report.html``
  and ``report.json`` as artifacts (:mod:`tailguard.integrations.mlflow.audit`);
  :func:`log_recorded_audit` does it for an audit recorded in the ledger (``audits list``).
- :func:`log_simulation`: a simulation as a parent run (config, ``results.json``,
  ``per_seed.parquet``, ``report.html``) with one child run per policy holding each metric's
  summaries over seeds with ``step`` = generation (:mod:`tailguard.integrations.mlflow.simulation`).
- :func:`log_model_run`: a model run of the ledger (``runs list``) with its metrics by epoch
  (:mod:`tailguard.integrations.mlflow.runs`).

``tailguard mlflow log SOURCE`` does the same from the command line. Numbers the audit could not
measure (an ``insufficient`` row, a value that is not finite) are never logged as values: the row's
status tag says what happened. Names are made MLflow-safe by :mod:`tailguard.integrations.mlflow.names`.

Importing this package does not import MLflow; the functions that need it import it through
:func:`tailguard.dependencies.require`, naming ``pip install 'tailguard[mlflow]'`` when it is missing.
MLflow 3 refuses ``file:`` stores unless ``MLFLOW_ALLOW_FILE_STORE=true`` is set; tailguard leaves that
choice to the user and says so in one line (:mod:`tailguard.integrations.mlflow.tracking`).

>>> from tailguard.integrations import mlflow as tg_mlflow
>>> tg_mlflow.mlflow_key("tail_mass_ratio_0.01#2")
'tail_mass_ratio_0.01_2'
"""

from tailguard.integrations.mlflow.audit import audit_payload, log_audit, log_recorded_audit
from tailguard.integrations.mlflow.names import mlflow_key, unique_keys
from tailguard.integrations.mlflow.runs import log_model_run, model_run_payload
from tailguard.integrations.mlflow.simulation import SimulationRuns, log_simulation, policy_payload, simulation_payload
from tailguard.integrations.mlflow.tracking import DEFAULT_EXPERIMENT, Payload, Point, Tracker

__all__ = [
    "DEFAULT_EXPERIMENT",
    "Payload",
    "Point",
    "SimulationRuns",
    "Tracker",
    "audit_payload",
    "log_audit",
    "log_model_run",
    "log_recorded_audit",
    "log_simulation",
    "mlflow_key",
    "model_run_payload",
    "policy_payload",
    "simulation_payload",
    "unique_keys",
]
