"""Simulation results: per policy, per metric, per seed and generation; JSON in and out.

The JSON shape is DESIGN.md's::

    {"family": ..., "config": {...},
     "policies": {POLICY: {METRIC: {"mean": [...], "median": [...], "p10": [...], "p90": [...]}}},
     "metrics": {METRIC: {"higher_is_better": bool, "tail": bool, "description": str}}}

with one value per generation 0..N. The extra ``metrics`` key tells readers
(the report, the demo) which direction is good and which metrics watch the tails.

>>> import numpy as np
>>> r = SimulationResults("gaussian", {"generations": 1}, {"replace": {"variance_ratio": np.array([[1.0, 0.5],
...     [1.0, 0.7]])}}, {"variance_ratio": {"higher_is_better": True, "tail": True, "description": ""}})
>>> r.summary("replace", "variance_ratio")["mean"]
[1.0, 0.6]
>>> SimulationResults.from_json(r.to_json()).summary("replace", "variance_ratio")["median"]
[1.0, 0.6]
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tailguard.errors import CorruptFileError, UnknownChoiceError

STATS = ("mean", "median", "p10", "p90")


def _canonical(policy: str) -> str:
    """The canonical spelling of a policy spec (``accumulate+anchor:0.2+filter`` -> ``accumulate+filter+anchor:0.2``)."""
    from tailguard.errors import TailguardError
    from tailguard.policy import parse_policy

    try:
        return str(parse_policy(policy))
    except TailguardError:
        return policy


def _clean(x: float) -> float | None:
    return float(x) if math.isfinite(float(x)) else None


def summarise(values: np.ndarray) -> dict[str, list[float | None]]:
    """mean / median / 10th / 90th percentile over seeds (axis 0) for each generation.

    NaNs (a metric a generation could not compute) are ignored; a generation with
    none left gets ``None`` (JSON ``null``).
    """
    values = np.asarray(values, dtype=float)
    if values.ndim == 1:
        values = values[None, :]
    out: dict[str, list[float | None]] = {k: [] for k in STATS}
    for col in values.T:
        col = col[np.isfinite(col)]
        if len(col) == 0:
            for k in STATS:
                out[k].append(None)
            continue
        p10, med, p90 = np.percentile(col, [10, 50, 90])
        out["mean"].append(_clean(round(float(col.mean()), 12)))
        out["median"].append(_clean(med))
        out["p10"].append(_clean(p10))
        out["p90"].append(_clean(p90))
    return out


@dataclass
class SimulationResults:
    """What :func:`tailguard.simulate.simulate` returns.

    ``values[policy][metric]`` is an array of shape (seeds, generations + 1).
    ``samples[policy]`` holds ``{"first": ..., "last": ...}``: the samples of model 0
    and of the last model for seed 0 (for pictures and audits), when kept.
    """

    family: str
    config: dict[str, Any]
    values: dict[str, dict[str, np.ndarray]]
    metrics: dict[str, dict[str, Any]]
    samples: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def policies(self) -> list[str]:
        return list(self.values)

    @property
    def generations(self) -> int:
        first = next(iter(next(iter(self.values.values())).values()))
        return int(np.asarray(first).shape[-1]) - 1

    @property
    def metric_names(self) -> list[str]:
        return list(self.metrics)

    def tail_metrics(self) -> list[str]:
        return [k for k, v in self.metrics.items() if v.get("tail")]

    def per_seed(self, policy: str, metric: str) -> np.ndarray:
        """(seeds, generations + 1) array; raises UnknownChoiceError with suggestions."""
        if policy not in self.values:
            policy = _canonical(policy)
        if policy not in self.values:
            raise UnknownChoiceError("policy in these results", policy, self.values)
        if metric not in self.values[policy]:
            raise UnknownChoiceError("metric in these results", metric, self.values[policy])
        return np.asarray(self.values[policy][metric])

    def summary(self, policy: str, metric: str) -> dict[str, list[float | None]]:
        """mean / median / p10 / p90 per generation (from the stored summaries after ``from_json``)."""
        values = self.per_seed(policy, metric)
        stored = self.extra.get("summaries")
        if stored is not None:
            return dict(stored[policy][metric])
        return summarise(values)

    def first_samples(self, policy: str) -> np.ndarray | None:
        """Seed 0's samples of model 0 under ``policy`` (None for results loaded from JSON)."""
        return self.samples.get(policy, self.samples.get(_canonical(policy), {})).get("first")

    def last_samples(self, policy: str) -> np.ndarray | None:
        """Seed 0's samples of the last model under ``policy`` (None for results loaded from JSON)."""
        return self.samples.get(policy, self.samples.get(_canonical(policy), {})).get("last")

    def to_dict(self) -> dict[str, Any]:
        return {
            "family": self.family,
            "config": self.config,
            "policies": {p: {m: summarise(v) for m, v in metrics.items()} for p, metrics in self.values.items()},
            "metrics": self.metrics,
            **({"extra": {k: v for k, v in self.extra.items() if k != "summaries"}} if self.extra else {}),
        }

    def to_json(self, indent: int | None = 1) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.to_json())
        return path

    @classmethod
    def from_json(cls, text: str, *, source: str | None = None) -> SimulationResults:
        """Rebuild from :meth:`to_json` output. Only the summaries survive: each
        policy/metric gets a (1, N+1) array holding the per-generation mean, and
        the summaries are kept in ``extra["summaries"]``."""
        try:
            d = json.loads(text)
            values = {
                p: {m: np.array([[np.nan if x is None else x for x in s["mean"]]]) for m, s in ms.items()}
                for p, ms in d["policies"].items()
            }
            res = cls(d["family"], d["config"], values, d.get("metrics", {}), extra=d.get("extra", {}))
            res.extra["summaries"] = d["policies"]
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
            raise CorruptFileError(f"not a tailguard results.json ({exc})", path=source) from exc
        return res

    @classmethod
    def load(cls, path: str | Path) -> SimulationResults:
        path = Path(path)
        return cls.from_json(path.read_text(), source=str(path))
