"""A simulation as nested MLflow runs: one parent for the whole run, one child per policy.

- **Parent run**: params ``family``, ``policies`` and the run's config as ``config.KEY``; tags
  ``tailguard.kind`` = ``simulation`` and ``tailguard.family``; artifacts ``results.json``,
  ``per_seed.parquet`` (when every seed's value is there) and ``report.html``.
- **Child run per policy** (MLflow's ``mlflow.parentRunId``), named after the policy: param
  ``policy``; for every metric, one value per generation (``step`` = generation) of each summary
  over seeds: ``METRIC`` (the mean), ``median/METRIC``, ``p10/METRIC``, ``p90/METRIC``, ``se/METRIC``,
  ``ci_low/METRIC``, ``ci_high/METRIC`` (the 95% bootstrap CI of the mean) and ``n/METRIC`` (seeds with a
  finite value), as the audit's numbers beside a value are named. A generation where a statistic is undefined (no finite seed, or one seed for
  ``se`` and the CI) logs no value for it. Tags ``tailguard.judgement.METRIC`` hold the status of
  the last generation by :meth:`~tailguard.simulate.SimulationResults.judgement`, and the run's
  description the sentence that says why.

>>> import numpy as np
>>> from tailguard.simulate import SimulationResults
>>> r = SimulationResults("gaussian", {"generations": 1}, {"replace": {"variance_ratio": np.array([[1.0, 0.5],
...     [1.0, 0.7]])}}, {"variance_ratio": {"higher_is_better": True, "tail": True, "description": ""}})
>>> p = policy_payload(r, "replace")
>>> [(m.step, m.value) for m in p.metrics if m.key == "variance_ratio"]
[(0, 1.0), (1, 0.6)]
>>> simulation_payload(r).params["policies"]
'["replace"]'
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tailguard.errors import MissingInputError
from tailguard.integrations.mlflow.names import flatten_params, param_value, unique_keys
from tailguard.integrations.mlflow.tracking import DEFAULT_EXPERIMENT, Payload, Point, Tracker, note, tag_key
from tailguard.simulate import perseed
from tailguard.simulate.results import SimulationResults

#: Statistic -> metric-name prefix (the mean is the metric's own name)
PREFIX = {"mean": "", "median": "median/", "p10": "p10/", "p90": "p90/", "se": "se/",
          "ci_low": "ci_low/", "ci_high": "ci_high/", "n": "n/"}
#: Files of a simulation folder logged as artifacts, when present
FILES = ("results.json", perseed.FILENAME, "report.html")


@dataclass(frozen=True)
class SimulationRuns:
    """The MLflow runs of one simulation: the parent's id and each policy's child run id."""

    parent: str
    policies: dict[str, str]

    @property
    def run_ids(self) -> list[str]:
        """The parent first, then the children in policy order."""
        return [self.parent, *self.policies.values()]


def _finite(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(float(value))


def simulation_payload(results: SimulationResults) -> Payload:
    """The parent run's params and tags (see the module doc)."""
    params = {"family": param_value(results.family), "policies": param_value(results.policies),
              "generations": param_value(results.generations)}
    params |= flatten_params(results.config, prefix="config.")
    tags = {"tailguard.kind": "simulation", "tailguard.family": results.family}
    return Payload([], params, tags)


def policy_payload(results: SimulationResults, policy: str) -> Payload:
    """One policy's child run: its summaries per generation, its judgements (see the module doc)."""
    summaries = results.summaries()[policy]
    keys = unique_keys(summaries)
    metrics: list[Point] = []
    tags = {"tailguard.kind": "simulation.policy", "tailguard.family": results.family, "tailguard.policy": policy}
    lines = []
    for metric, summary in summaries.items():
        for stat, prefix in PREFIX.items():
            metrics.extend(Point(prefix + keys[metric], float(v), g)
                           for g, v in enumerate(summary.get(stat) or []) if _finite(v))
        judged = results.judgement(policy, metric)
        tags[tag_key("tailguard.judgement.", keys[metric])] = judged.status
        lines.append(f"{metric}: {judged.status}: {judged.reason}")
    tags |= note(lines)
    return Payload(metrics, {"policy": param_value(policy), "family": param_value(results.family)}, tags)


def log_simulation(results: SimulationResults | str | Path, *, out_dir: str | Path | None = None,
                   tracking_uri: str | Path | None = None, experiment: str = DEFAULT_EXPERIMENT,
                   run_name: str | None = None) -> SimulationRuns:
    """Log a simulation as a parent run with one child run per policy; returns their ids.

    ``results`` is a :class:`~tailguard.simulate.SimulationResults` or a simulation folder (``simulate
    --out DIR``) / its ``results.json``. The folder's files (or those of ``out_dir`` for a results
    object) are logged as they are; a missing ``report.html`` or ``results.json`` is written from the
    results first. ``run_name`` defaults to ``simulate FAMILY``.
    """
    folder = Path(out_dir) if out_dir is not None else None
    if not isinstance(results, SimulationResults):
        path = Path(results)
        doc = path if path.is_file() else path / "results.json"
        if not doc.exists():
            raise MissingInputError("no results.json here (write one with 'tailguard simulate ... --out DIR')",
                                    path=str(path))
        results, folder = SimulationResults.load(doc), doc.parent
    elif folder is not None and not folder.is_dir():
        raise MissingInputError("no such simulation folder", path=str(folder))
    tracker = Tracker(tracking_uri, experiment=experiment)
    name = run_name or f"simulate {results.family}"
    with tempfile.TemporaryDirectory(prefix="tailguard-mlflow-") as tmp:
        have = {f: folder / f for f in FILES if folder is not None and (folder / f).exists()}
        if "report.html" not in have or "results.json" not in have:
            from tailguard.simulate.report import write_report

            write_report(results, tmp)
            have = {f: Path(tmp) / f for f in FILES if (Path(tmp) / f).exists()} | have
        parent = tracker.log_run(simulation_payload(results), run_name=name,
                                 artifacts=[have[f] for f in FILES if f in have])
    children = {p: tracker.log_run(policy_payload(results, p), run_name=p, parent=parent) for p in results.policies}
    return SimulationRuns(parent, children)
