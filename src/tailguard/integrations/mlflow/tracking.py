"""One MLflow tracking store and experiment: open it, write one run, translate MLflow's failures.

:class:`Tracker` talks to MLflow through ``MlflowClient`` only (never the fluent ``mlflow.start_run``),
so logging from tailguard neither needs nor disturbs an active run of the caller's.

- **Where.** ``tracking_uri=None`` is whatever MLflow is configured with (``MLFLOW_TRACKING_URI``,
  ``mlflow.set_tracking_uri``, else MLflow's own default). A plain folder path is taken as a
  ``file:`` store in that folder.
- **File stores.** MLflow 3 refuses a ``file:`` store unless ``MLFLOW_ALLOW_FILE_STORE=true`` is set.
  tailguard does not set that variable behind the user's back (it changes MLflow for the whole
  process): it raises :class:`~tailguard.errors.TrackingStoreError` in one line saying how to allow
  the store or which other URI to use. MLflow 2, which has no such switch, takes file stores as they are.
- **Errors.** Anything MLflow raises while opening the store or writing a run becomes a one-line
  :class:`~tailguard.errors.TrackingStoreError` naming the tracking URI; a run that fails part-way
  is marked ``FAILED``, never left ``RUNNING``.

>>> is_file_store("file:///tmp/mlruns"), is_file_store("http://127.0.0.1:5000"), is_file_store("sqlite:///m.db")
(True, False, False)
>>> as_tracking_uri("/tmp/mlruns")
'file:///tmp/mlruns'
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from tailguard.dependencies import require
from tailguard.errors import TailguardError, TrackingStoreError
from tailguard.integrations.mlflow.names import MAX_KEY_LENGTH, unique_keys

#: The experiment runs go to unless one is named
DEFAULT_EXPERIMENT = "tailguard"
#: MLflow's tag for the run's description (shown on the run page)
NOTE_TAG = "mlflow.note.content"
#: MLflow's tag that makes a run the child of another (nested runs)
PARENT_TAG = "mlflow.parentRunId"
#: MLflow's per-batch limits
METRICS_PER_BATCH = 1000
PARAMS_TAGS_PER_BATCH = 100
MAX_TAG_LENGTH = 8000

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_DRIVE = re.compile(r"^[A-Za-z]:[\\/]")


class Point(NamedTuple):
    """One metric value: its name, value, step (generation, epoch; 0 for a single value) and time."""

    key: str
    value: float
    step: int = 0
    timestamp_ms: int | None = None


@dataclass
class Payload:
    """What one MLflow run receives: metric values, params and tags (keys made MLflow-safe on logging)."""

    metrics: list[Point] = field(default_factory=list)
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


def as_tracking_uri(uri: str | Path) -> str:
    """``uri`` as MLflow takes it: a plain folder path becomes a ``file:`` URI of its absolute path."""
    text = str(uri)
    if isinstance(uri, Path) or not _SCHEME.match(text) or _DRIVE.match(text):
        return Path(text).expanduser().resolve().as_uri()
    return text


def resolve_tracking_uri(tracking_uri: str | Path | None) -> str:
    """``tracking_uri`` through :func:`as_tracking_uri`; ``None`` is the URI MLflow is configured with."""
    if tracking_uri is None:
        mlflow = require("mlflow", extra="mlflow", feature="tailguard.integrations.mlflow")
        tracking_uri = str(mlflow.get_tracking_uri())
    return as_tracking_uri(tracking_uri)


def is_file_store(uri: str) -> bool:
    """True for a ``file:`` tracking URI (MLflow's file store)."""
    return as_tracking_uri(uri).lower().startswith("file:")


def _file_store_allowed() -> tuple[bool, str]:
    """Whether this MLflow accepts a file store, and its version (for the message)."""
    mlflow = require("mlflow", extra="mlflow", feature="tailguard.integrations.mlflow")
    version = str(getattr(mlflow, "__version__", "?"))
    try:
        from mlflow.environment_variables import MLFLOW_ALLOW_FILE_STORE
    except ImportError:  # MLflow 2: no switch, file stores work
        return True, version
    return bool(MLFLOW_ALLOW_FILE_STORE.get()), version


@contextlib.contextmanager
def store_errors(uri: str, what: str) -> Iterator[None]:
    """Turn MLflow's (and its store's) failures into one-line :class:`TrackingStoreError` naming ``uri``."""
    from mlflow.exceptions import MlflowException

    try:
        yield
    except TailguardError:
        raise
    except (MlflowException, ImportError, OSError) as exc:
        detail = str(getattr(exc, "message", exc)).strip().splitlines()
        raise TrackingStoreError(f"MLflow could not {what} at {uri}: {detail[0] if detail else type(exc).__name__}"
                                 ) from exc


class Tracker:
    """An MLflow tracking store and one experiment in it (created when missing); see the module doc.

    ``Tracker(tmp_dir, experiment="x").log_run(Payload([Point("score", 0.5)]), run_name="demo")`` logs one
    run and returns its id (with ``MLFLOW_ALLOW_FILE_STORE=true`` on MLflow 3).
    """

    def __init__(self, tracking_uri: str | Path | None = None, *, experiment: str = DEFAULT_EXPERIMENT):
        require("mlflow", extra="mlflow", feature="tailguard.integrations.mlflow")
        from mlflow.tracking import MlflowClient

        self.uri = resolve_tracking_uri(tracking_uri)
        if is_file_store(self.uri):
            allowed, version = _file_store_allowed()
            if not allowed:
                raise TrackingStoreError(
                    f"the MLflow tracking store {self.uri} is a file store, which MLflow {version} refuses unless "
                    "MLFLOW_ALLOW_FILE_STORE=true is set: set that variable, or give a tracking server "
                    "(http://HOST:PORT) or a database URI (sqlite:///mlflow.db, with the full mlflow package) instead")
        if not str(experiment).strip():
            raise TrackingStoreError(f"an MLflow experiment name must not be empty (tracking store {self.uri})")
        self.experiment = str(experiment)
        with store_errors(self.uri, "open the tracking store"):
            self.client = MlflowClient(tracking_uri=self.uri)
        with store_errors(self.uri, f"open the experiment {self.experiment!r}"):
            found = self.client.get_experiment_by_name(self.experiment)
            if found is None:
                self.experiment_id = str(self.client.create_experiment(self.experiment))
            elif found.lifecycle_stage != "active":
                raise TrackingStoreError(
                    f"the MLflow experiment {self.experiment!r} at {self.uri} is deleted: restore it "
                    "('mlflow experiments restore') or name another experiment")
            else:
                self.experiment_id = str(found.experiment_id)

    def log_run(self, payload: Payload, *, run_name: str, artifacts: Sequence[Path] = (),
                parent: str | None = None) -> str:
        """Create a run (a child of ``parent`` when given), log ``payload`` and ``artifacts``, finish it;
        returns the run id. A run that fails part-way is marked ``FAILED`` and the error raised."""
        from mlflow.entities import Metric, Param, RunTag

        tags = dict(payload.tags)
        if parent is not None:
            tags[PARENT_TAG] = parent
        with store_errors(self.uri, "create a run"):
            run = self.client.create_run(self.experiment_id, run_name=run_name)
        run_id = str(run.info.run_id)
        try:
            with store_errors(self.uri, f"log run {run_id}"):
                now = int(time.time() * 1000)
                keys = unique_keys(p.key for p in payload.metrics)
                metrics = [Metric(keys[p.key], float(p.value), now if p.timestamp_ms is None else p.timestamp_ms,
                                  int(p.step)) for p in payload.metrics]
                pkeys = unique_keys(payload.params)
                params = [Param(pkeys[k], v) for k, v in payload.params.items()]
                tkeys = {k: k if k.startswith("mlflow.") else v for k, v in unique_keys(tags).items()}
                run_tags = [RunTag(tkeys[k], str(v)[:MAX_TAG_LENGTH]) for k, v in tags.items()]
                for part in _chunks(params, PARAMS_TAGS_PER_BATCH):
                    self.client.log_batch(run_id, params=part)
                for part in _chunks(run_tags, PARAMS_TAGS_PER_BATCH):
                    self.client.log_batch(run_id, tags=part)
                for part in _chunks(metrics, METRICS_PER_BATCH):
                    self.client.log_batch(run_id, metrics=part)
                for path in artifacts:
                    if Path(path).is_dir():
                        self.client.log_artifacts(run_id, str(path), artifact_path=Path(path).name)
                    else:
                        self.client.log_artifact(run_id, str(path))
        except BaseException:
            with contextlib.suppress(Exception):
                self.client.set_terminated(run_id, status="FAILED")
            raise
        with store_errors(self.uri, f"finish run {run_id}"):
            self.client.set_terminated(run_id, status="FINISHED")
        return run_id


def _chunks(items: list[Any], size: int) -> Iterable[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def note(lines: Iterable[str]) -> dict[str, str]:
    """The description tag of a run from its lines (empty lines dropped)."""
    text = "\n".join(line for line in lines if line)
    return {NOTE_TAG: text[:MAX_TAG_LENGTH]} if text else {}


def tag_key(prefix: str, name: str) -> str:
    """A tag key ``prefix`` + ``name`` within MLflow's key length."""
    return (prefix + name)[:MAX_KEY_LENGTH]


def merge_tags(*parts: Mapping[str, str]) -> dict[str, str]:
    """Tag dicts merged left to right (later ones win)."""
    out: dict[str, str] = {}
    for part in parts:
        out.update(part)
    return out
