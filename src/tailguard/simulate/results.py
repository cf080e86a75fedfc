"""Simulation results: per policy, per metric, per seed and generation; JSON and Parquet in and out.

``results.json`` has DESIGN.md's shape, with more statistics per summary::

    {"family": ..., "config": {...},
     "policies": {POLICY: {METRIC: {"n", "mean", "median", "p10", "p90", "se", "ci_low", "ci_high"}}},
     "metrics": {METRIC: {"higher_is_better": bool, "tail": bool, "description": str}},
     "summary_method": {...}, "per_seed_file": "per_seed.parquet"}

with one value per generation 0..N (see :mod:`tailguard.simulate.stats` for what each
statistic is: the CI is a 95% bootstrap of the mean over seeds). The ``metrics`` key tells
readers (the report, the demo) which direction is good and which metrics watch the tails.
Every seed's value is saved beside it in ``per_seed.parquet``
(:mod:`tailguard.simulate.perseed`), so :meth:`SimulationResults.load` gives back the
per-seed arrays. A ``results.json`` without that file (written by an older tailguard, or
copied alone) still loads: its summaries are kept, and :attr:`SimulationResults.missing`
says what could not be rebuilt; :meth:`~SimulationResults.per_seed` then raises.

>>> import numpy as np
>>> r = SimulationResults("gaussian", {"generations": 1}, {"replace": {"variance_ratio": np.array([[1.0, 0.5],
...     [1.0, 0.7]])}}, {"variance_ratio": {"higher_is_better": True, "tail": True, "description": ""}})
>>> r.summary("replace", "variance_ratio")["mean"]
[1.0, 0.6]
>>> SimulationResults.from_json(r.to_json()).summary("replace", "variance_ratio")["median"]
[1.0, 0.6]
>>> r.to_pandas().shape
(4, 5)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tailguard.errors import CorruptFileError, MissingInputError, UnknownChoiceError
from tailguard.simulate import perseed
from tailguard.simulate.stats import METHOD, STATS, summarise, summarise_many

__all__ = ["STATS", "SimulationResults", "summarise"]


def _canonical(policy: str) -> str:
    """The canonical spelling of a policy spec (``accumulate+anchor:0.2+filter`` -> ``accumulate+filter+anchor:0.2``)."""
    from tailguard.errors import TailguardError
    from tailguard.policy import parse_policy

    try:
        return str(parse_policy(policy))
    except TailguardError:
        return policy


@dataclass
class SimulationResults:
    """What :func:`tailguard.simulate.simulate` returns.

    ``values[policy][metric]`` is an array of shape (seeds, generations + 1).
    ``samples[policy]`` holds ``{"first": ..., "last": ...}``: the samples of model 0
    and of the last model for seed 0 (for pictures and audits), when kept.
    ``missing`` lists what results loaded from an incomplete ``results.json`` lack (empty
    when every seed's value is here).
    """

    family: str
    config: dict[str, Any]
    values: dict[str, dict[str, np.ndarray]]
    metrics: dict[str, dict[str, Any]]
    samples: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    missing: list[str] = field(default_factory=list)
    _cache: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

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

    def _policy_key(self, policy: str) -> str:
        if policy not in self.values:
            policy = _canonical(policy)
        if policy not in self.values:
            raise UnknownChoiceError("policy in these results", policy, self.values)
        return policy

    def per_seed(self, policy: str, metric: str) -> np.ndarray:
        """(seeds, generations + 1) array; raises UnknownChoiceError with suggestions, and
        MissingInputError for results loaded without their per-seed table."""
        policy = self._policy_key(policy)
        if metric not in self.values[policy]:
            raise UnknownChoiceError("metric in these results", metric, self.values[policy])
        if self.missing:
            raise MissingInputError(
                f"these results hold summaries only, not every seed's value: {'; '.join(self.missing)}",
                path=self.extra.get("source"),
            )
        return np.asarray(self.values[policy][metric])

    def summary(self, policy: str, metric: str) -> dict[str, list]:
        """The statistics of :data:`~tailguard.simulate.stats.STATS` per generation (the stored
        ones after :meth:`load`; a results.json from before ``n``/``se``/CIs has only
        mean / median / p10 / p90)."""
        policy = self._policy_key(policy)
        if metric not in self.values[policy]:
            raise UnknownChoiceError("metric in these results", metric, self.values[policy])
        return dict(self.summaries()[policy][metric])

    def summaries(self) -> dict[str, dict[str, dict[str, list]]]:
        """Every policy's and metric's summary (one bootstrap per policy, shared by its metrics)."""
        stored = self.extra.get("summaries")
        if stored is not None:
            return {p: {m: dict(s) for m, s in ms.items()} for p, ms in stored.items()}
        if "summaries" in self._cache:  # the values are not changed after a run: summarise once
            return self._cache["summaries"]
        out: dict[str, dict[str, dict[str, list]]] = {}
        for p, metrics in self.values.items():
            names = list(metrics)
            if not names:
                out[p] = {}
                continue
            stacked = np.stack([np.asarray(metrics[m], dtype=float) for m in names], axis=1)
            out[p] = dict(zip(names, summarise_many(stacked), strict=True))
        self._cache["summaries"] = out
        return out

    def theory(self, policy: str, metric: str) -> Any:
        """The family's declared law for ``metric`` under ``policy`` (a
        :class:`~tailguard.simulate.theory.Theory`, stored in results.json), or ``None``."""
        from tailguard.simulate.theory import Theory

        policy = self._policy_key(policy)
        d = self.extra.get("theory", {}).get(policy, {}).get(metric)
        return None if d is None else Theory.from_dict(metric, policy, d)

    def judgement(self, policy: str, metric: str, generation: int | None = None) -> Any:
        """The status of ``metric`` under ``policy`` at ``generation`` (default the last) from the stated
        test on its confidence interval (:func:`tailguard.simulate.theory.judge`)."""
        from tailguard.simulate.theory import judge

        higher = bool(self.metrics.get(metric, {}).get("higher_is_better", True))
        return judge(self.theory(policy, metric), self.summary(policy, metric), higher_is_better=higher,
                     generation=generation)

    def to_arrow(self):  # -> pyarrow.Table
        """Every seed's value as a long pyarrow table (policy, seed, generation, metric, value)."""
        if self.missing:
            raise MissingInputError(f"these results hold summaries only: {'; '.join(self.missing)}",
                                    path=self.extra.get("source"))
        return perseed.to_arrow(self.values)

    def to_pandas(self):  # -> pandas.DataFrame
        """Every seed's value as a long DataFrame with columns policy, seed, generation, metric, value."""
        df = self.to_arrow().to_pandas()
        for col in ("policy", "metric"):
            df[col] = df[col].astype(str)
        return df

    def first_samples(self, policy: str) -> np.ndarray | None:
        """Seed 0's samples of model 0 under ``policy`` (None for results loaded from JSON)."""
        return self.samples.get(policy, self.samples.get(_canonical(policy), {})).get("first")

    def last_samples(self, policy: str) -> np.ndarray | None:
        """Seed 0's samples of the last model under ``policy`` (None for results loaded from JSON)."""
        return self.samples.get(policy, self.samples.get(_canonical(policy), {})).get("last")

    def to_dict(self) -> dict[str, Any]:
        skip = {"summaries", "source"}
        return {
            "family": self.family,
            "config": self.config,
            "policies": self.summaries(),
            "metrics": self.metrics,
            "summary_method": METHOD,
            **({"per_seed_file": perseed.FILENAME} if not self.missing else {}),
            **({"extra": {k: v for k, v in self.extra.items() if k not in skip}} if self.extra else {}),
        }

    def to_json(self, indent: int | None = 1) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    def save(self, path: str | Path) -> Path:
        """Write ``results.json`` to ``path`` and every seed's value to ``per_seed.parquet`` beside it
        (not for results that hold summaries only)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.to_json())
        if not self.missing:
            perseed.write(path.with_name(perseed.FILENAME), self.values)
        return path

    @classmethod
    def from_json(cls, text: str, *, source: str | None = None,
                  per_seed: dict[str, dict[str, np.ndarray]] | None = None) -> SimulationResults:
        """Rebuild from :meth:`to_json` output; ``per_seed`` gives the per-seed arrays
        (:meth:`load` reads them from ``per_seed.parquet``). Without them only the summaries
        survive (kept in ``extra["summaries"]``) and :attr:`missing` says so."""
        try:
            d = json.loads(text)
            summaries = d["policies"]
            means = {
                p: {m: np.array([[np.nan if x is None else x for x in s["mean"]]]) for m, s in ms.items()}
                for p, ms in summaries.items()
            }
            res = cls(d["family"], d["config"], means, d.get("metrics", {}), extra=dict(d.get("extra", {})))
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
            raise CorruptFileError(f"not a tailguard results.json ({exc})", path=source) from exc
        if source is not None:
            res.extra["source"] = source
        lacking = sorted({k for ms in summaries.values() for s in ms.values() for k in STATS if k not in s})
        if per_seed is not None:
            for p, ms in summaries.items():
                for m in ms:
                    if m not in per_seed.get(p, {}):
                        raise CorruptFileError(f"the per-seed table has no values for policy {p!r} metric {m!r}",
                                               path=source)
            res.values = {p: {m: per_seed[p][m] for m in ms} for p, ms in summaries.items()}
            if lacking:  # an older results.json beside a per-seed table: recompute every statistic
                return res
        else:
            where = f" beside {source}" if source is not None else ""
            name = d.get("per_seed_file", perseed.FILENAME)
            res.missing.append(f"per-seed values ({name} not found{where}"
                               + ("; this results.json predates per-seed tables)" if "per_seed_file" not in d
                                  else ")"))
            if lacking:
                res.missing.append(f"the statistics {', '.join(lacking)} (written by an older tailguard)")
        res.extra["summaries"] = summaries
        return res

    @classmethod
    def load(cls, path: str | Path) -> SimulationResults:
        """Read ``results.json`` and, when it is there, ``per_seed.parquet`` beside it."""
        path = Path(path)
        if not path.exists():
            raise MissingInputError("no such results.json", path=str(path))
        text = path.read_text()
        try:
            name = json.loads(text).get("per_seed_file", perseed.FILENAME)
        except (json.JSONDecodeError, AttributeError):
            name = perseed.FILENAME
        table = path.with_name(Path(str(name)).name)  # never a path outside the folder
        values = perseed.read(table) if table.exists() else None
        return cls.from_json(text, source=str(path), per_seed=values)
