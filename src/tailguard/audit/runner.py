"""Streams both sides of an audit through every metric's accumulator.

The runner builds each metric from the registry, feeds the candidate with
``update(batch)`` and the reference with ``update_reference(batch)`` in batches
of ``batch_size``, and collects ``result()``. Nothing here is specific to one
machine: an engine that runs the same accumulators on shards and ``merge``s
them gets the same results.

>>> import numpy as np
>>> from tailguard.audit.suite import SuiteEntry
>>> from tailguard.audit.inputs import as_input
>>> rng = np.random.default_rng(0)
>>> cand, ref = as_input(rng.normal(size=(50, 2))), as_input(rng.normal(size=(50, 2)), name="reference")
>>> results, skipped = run_suite(cand, ref, [SuiteEntry(("no_such_metric",))], batch_size=16, seed=0)
>>> results, skipped
([], ['no_such_metric: not registered'])
>>> check_metric_params({"mmd": {"n_permutation": 50}})  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
tailguard.errors.UnknownChoiceError: Unknown parameter of 'mmd' in metric_params 'n_permutation'. Did you mean 'n_permutations'...
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from tailguard.audit.inputs import AuditInput
from tailguard.audit.suite import SuiteEntry, load_metrics, registered_metrics
from tailguard.errors import ParameterError, TailguardError, UnknownChoiceError
from tailguard.metrics.base import METRICS, Metric, MetricResult
from tailguard.validation import validate_params

SEED_KEYS = ("seed", "random_state")


@dataclass(frozen=True)
class RunResult:
    """One metric's result with the suite label it ran under."""

    label: str
    result: MetricResult


def check_metric_params(metric_params: Mapping[str, Mapping[str, Any]]) -> None:
    """Check ``metric_params`` before anything runs: each key must name a registered metric
    (or be an ``fnmatch`` pattern that matches one), each parameter must be declared by a
    metric the key matches, and its value must pass that metric's validation.

    Raises :class:`~tailguard.errors.UnknownChoiceError` with the nearest names (a typo is
    never dropped silently) or :class:`~tailguard.errors.ParameterError` for a bad value.
    """
    classes = registered_metrics()
    names = [cls.name for cls in classes]
    for key, values in metric_params.items():
        matched = [cls for cls in classes if fnmatch.fnmatchcase(cls.name, key)]
        if not matched:
            raise UnknownChoiceError("metric in metric_params", key, names)
        declared = sorted({p for cls in matched for p in (getattr(cls, "params", {}) or {})})
        for param in values:
            if param not in declared:
                raise UnknownChoiceError(f"parameter of {key!r} in metric_params", param, declared)
        for cls in matched:
            table = getattr(cls, "params", {}) or {}
            mine = {k: v for k, v in values.items() if k in table}
            if mine:
                try:
                    validate_params(cls.__name__, {**cls.defaults, **mine}, table)
                except ParameterError as exc:
                    raise ParameterError(f"metric_params[{key!r}]: {exc}") from None


def resolve(entry: SuiteEntry) -> type[Metric] | None:
    """The first registered class among ``entry.names``, or ``None``."""
    for name in entry.names:
        if name in METRICS:
            return METRICS.get(name)
    return None


def build_params(
    cls: type[Metric],
    entry: SuiteEntry,
    seed: int,
    overrides: Mapping[str, Mapping[str, Any]],
    common: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The entry's parameters plus overrides, restricted to what ``cls`` declares; the seed
    (and the ``common`` settings, e.g. ``ci_level``) go to every metric that takes them."""
    table = getattr(cls, "params", {}) or {}
    params: dict[str, Any] = {}
    for key in SEED_KEYS:
        if key in table:
            params[key] = seed
    for key, value in (common or {}).items():
        if key in table:
            params[key] = value
    extra: dict[str, Any] = {}
    for pattern, values in overrides.items():
        if any(fnmatch.fnmatchcase(n, pattern) for n in (*entry.names, cls.name)):
            extra.update(values)
    for key, value in {**dict(entry.params), **extra}.items():
        if key in table:
            params[key] = value
    return params


def batches(data: Any, batch_size: int) -> Iterator[Any]:
    """Slices of ``data`` (arrays and lists) of at most ``batch_size`` rows; other
    objects (detection label arrays) go in whole."""
    if isinstance(data, np.ndarray | list):
        n = len(data)
        for start in range(0, n, batch_size):
            yield data[start : start + batch_size]
    else:
        yield data


def run_suite(
    candidate: AuditInput,
    reference: AuditInput,
    entries: Sequence[SuiteEntry],
    *,
    batch_size: int = 4096,
    seed: int = 0,
    metric_params: Mapping[str, Mapping[str, Any]] | None = None,
    progress: Callable[[str], None] | None = None,
    strict: bool = False,
    common: Mapping[str, Any] | None = None,
    unscaled: tuple[AuditInput, AuditInput] | None = None,
) -> tuple[list[RunResult], list[str]]:
    """Run ``entries``; returns the results and a line per skipped metric (with why).

    Entries with ``standardized=False`` get ``unscaled`` (the inputs before
    standardization) when given. A metric that raises is skipped and reported
    (``strict=True`` re-raises instead)."""
    load_metrics()
    if metric_params:
        check_metric_params(metric_params)
    results: list[RunResult] = []
    skipped: list[str] = []
    for entry in entries:
        if progress is not None:
            progress(entry.label)
        cls = resolve(entry)
        if cls is None:
            skipped.append(f"{entry.label}: not registered")
            continue
        kind = getattr(cls, "input_kind", "vectors")
        cand_in, ref_in = unscaled if (unscaled is not None and not entry.standardized) else (candidate, reference)
        cand_data, ref_data = cand_in.view(kind), ref_in.view(kind)
        uses_ref = cls.uses_reference() if hasattr(cls, "uses_reference") else cls.requires_reference
        if cand_data is None or (cls.requires_reference and ref_data is None):
            if entry.optional:
                continue
            skipped.append(f"{entry.label}: no {kind} view for {candidate.modality} data")
            continue
        try:
            metric = cls(**build_params(cls, entry, seed, metric_params or {}, common))
            for batch in batches(cand_data, batch_size):
                metric.update(batch)
            if uses_ref and ref_data is not None:
                for batch in batches(ref_data, batch_size):
                    metric.update_reference(batch)
            result = metric.result()
        except (TailguardError, ValueError, ArithmeticError, np.linalg.LinAlgError) as exc:
            if strict:
                raise
            skipped.append(f"{entry.label}: {type(exc).__name__}: {exc}")
            continue
        except Exception as exc:  # a failing metric must not sink the whole audit, but it is reported
            if strict:
                raise
            skipped.append(f"{entry.label}: failed with {type(exc).__name__}: {exc}")
            continue
        results.append(RunResult(entry.label, result))
    return results, skipped
