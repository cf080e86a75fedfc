"""Streams both sides of an audit through every metric's accumulator.

The runner builds each metric from the registry, feeds the candidate with
``update(batch)`` and the reference with ``update_reference(batch)`` in batches
of ``batch_size``, and collects ``result()``. It runs on an engine
(:mod:`tailguard.engines`): per metric, one accumulator per shard, merged in shard
order, so ``local``, ``process`` and ``ray`` give the same results.

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
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from tailguard.audit.inputs import AuditInput
from tailguard.audit.suite import SuiteEntry, load_metrics, registered_metrics
from tailguard.engines.base import Engine
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


class Handover:
    """A value passed on once: the receiver :meth:`take` s it and the holder lets go of it.

    CPython keeps a call's arguments alive until the call returns, so a function can never free
    an array it was passed; passed inside a ``Handover`` (and no other name bound to it), it can.

    >>> box = Handover([1, 2]); box.take(), box.take()
    ([1, 2], None)
    """

    def __init__(self, value: Any):
        self._value = value

    def take(self) -> Any:
        value, self._value = self._value, None
        return value


@dataclass(frozen=True)
class _Plan:
    """One metric of the suite, ready to run: its class, parameters and both sides' data."""

    label: str
    cls: type[Metric]
    params: dict[str, Any]
    kind: str
    standardized: bool
    candidate: Any  # the candidate's view (None when the candidate streams)
    reference: Any  # None when the metric does not read the reference


@dataclass(frozen=True)
class _ShardTask:
    """Fresh accumulators of some metrics, fed one shard: in-memory views, or a streamed
    shard (:class:`~tailguard.audit.streaming.LazySide`) loaded and featurised here, once for
    every metric of the task."""

    plans: tuple[tuple[int, str, type[Metric], dict[str, Any], str, bool], ...]
    candidate: Any  # {plan index: data}, a LazySide, or None
    reference: Any  # {plan index: data} or None
    batch_size: int
    strict: bool
    lenders: Mapping[int, int] | None = None  # plan index -> the plan whose row samples it shares


@dataclass(frozen=True)
class _Failed:
    """A metric that raised: skipped and listed, never returned as a result."""

    line: str


def _feed_shard(task: _ShardTask) -> list[tuple[int, Metric | _Failed]]:
    lazy = task.candidate if hasattr(task.candidate, "shard") else None
    loaded: dict[bool, Any] = {}
    out: list[tuple[int, Metric | _Failed]] = []
    built: dict[int, tuple[str, Metric | _Failed]] = {}
    for j, label, cls, params, kind, standardized in task.plans:
        lender = (task.lenders or {}).get(j)
        if lender is not None:  # fed the same rows under the same sample: the lender's samples are its own
            out.append((j, _borrow(cls(**params), label, *built[lender])))
            continue
        try:
            metric = cls(**params)
            if lazy is not None:
                scaled = standardized and lazy.scale is not None  # unscaled, both views are the same rows
                if scaled not in loaded:
                    loaded[scaled] = lazy.load(scaled=scaled)
                side = loaded[scaled]
                cand = side.view(kind) if side is not None else None
            else:
                cand = (task.candidate or {}).get(j)
            if cand is not None:
                for batch in batches(cand, task.batch_size):
                    metric.update(batch)
            ref = (task.reference or {}).get(j)
            if ref is not None:
                for batch in batches(ref, task.batch_size):
                    metric.update_reference(batch)
            out.append((j, metric))
        except Exception as exc:
            out.append((j, _failure(label, exc, task.strict)))
        built[j] = (label, out[-1][1])
    return out


def _borrow(metric: Metric, label: str, lender_label: str, lender: Metric | _Failed) -> Metric | _Failed:
    """``metric`` holding ``lender``'s row samples; failed as the lender did (the same rows fail the same way)."""
    if isinstance(lender, _Failed):
        return _Failed(label + lender.line[len(lender_label):])
    metric.share_samples(lender.samples)  # type: ignore[attr-defined]
    return metric


def _sample_lenders(plans: Sequence[_Plan], scaled: bool) -> dict[int, int]:
    """Plan index -> an earlier plan fed the same candidate and reference rows under an equal
    sample spec (:meth:`~tailguard.metrics.vectors.VectorMetric.sample_spec`): its accumulators
    hold the lender's samples instead of a copy of their own. In a streamed audit nine vector
    metrics keep samples of the same rows; shared, the shards and the driver hold one."""
    first: dict[tuple[Any, ...], int] = {}
    out: dict[int, int] = {}
    for j, plan in enumerate(plans):
        probe = plan.cls(**plan.params)
        spec = probe.sample_spec() if hasattr(probe, "sample_spec") else None
        if spec is None:
            continue
        key = (spec, plan.kind, plan.standardized and scaled, id(plan.reference))
        if key in first:
            out[j] = first[key]
        else:
            first[key] = j
    return out


def _result_of(item: tuple[str, Metric | _Failed, bool]) -> MetricResult | _Failed:
    label, metric, strict = item
    if isinstance(metric, _Failed):
        return metric
    try:
        return metric.result()
    except Exception as exc:
        return _failure(label, exc, strict)


def _failure(label: str, exc: Exception, strict: bool) -> _Failed:
    if strict:
        raise exc
    if isinstance(exc, TailguardError | ValueError | ArithmeticError | np.linalg.LinAlgError):
        return _Failed(f"{label}: {type(exc).__name__}: {exc}")
    # a failing metric must not sink the whole audit, but it is reported
    return _Failed(f"{label}: failed with {type(exc).__name__}: {exc}")


def shards(data: Any, shard_rows: int | None) -> list[Any]:
    """``data`` cut into consecutive shards of at most ``shard_rows`` rows (one shard when
    ``None``). The cut depends on the data alone, never on the engine, so every engine merges
    the same shards in the same order and gives the same numbers.

    >>> [len(s) for s in shards(list(range(10)), 4)]
    [4, 4, 2]
    >>> len(shards(list(range(10)), None))
    1
    """
    if data is None:
        return []
    if shard_rows is None or not isinstance(data, np.ndarray | list) or len(data) <= shard_rows:
        return [data]
    return [data[i : i + shard_rows] for i in range(0, len(data), shard_rows)]


def _fold(acc: Metric | _Failed | None, part: Metric | _Failed, borrows: bool = False) -> Metric | _Failed:
    """Merge ``part`` into the running accumulator (a failure anywhere fails the metric). A
    borrower (``borrows``) merges nothing: its samples are its lender's, which are merged."""
    if acc is None or isinstance(part, _Failed):
        return part
    if isinstance(acc, _Failed) or borrows:
        return acc
    return acc.merge(part)  # type: ignore[arg-type]


def run_suite(
    candidate: Any,
    reference: AuditInput | Handover,
    entries: Sequence[SuiteEntry],
    *,
    batch_size: int = 4096,
    seed: int = 0,
    metric_params: Mapping[str, Mapping[str, Any]] | None = None,
    progress: Callable[[str], None] | None = None,
    strict: bool = False,
    common: Mapping[str, Any] | None = None,
    unscaled: tuple[AuditInput, AuditInput] | Handover | None = None,
    engine: Engine | None = None,
    shard_rows: int | None = None,
    window: int | None = None,
) -> tuple[list[RunResult], list[str]]:
    """Run ``entries``; returns the results and a line per skipped metric (with why).

    Per metric this is ``engine.map_reduce``: each shard of the candidate (and of the
    reference) feeds its own accumulator, the accumulators are merged in shard order, and
    ``result()`` runs once per metric, on the engine. ``candidate`` is an
    :class:`~tailguard.audit.inputs.AuditInput`, cut into shards of ``shard_rows`` rows
    (``None``: one shard per metric, so metrics run side by side), or a sequence of
    :class:`~tailguard.audit.streaming.LazySide` shards, each loaded once for all metrics by
    the worker that feeds it; those run ``window`` shards at a time (default one on an
    in-process engine, else twice the engine's workers, at least 2), merged as they come back,
    so the driver never holds more than a window of accumulators. Vector metrics fed the same
    rows under the same sample spec share one row sample there (the first feeds it, the rest
    borrow it), so a streamed audit keeps one copy of each sample, not one per metric. Shards
    depend on the data alone, so every engine gives the same numbers.

    Entries with ``standardized=False`` get ``unscaled`` (the inputs before
    standardization) when given. With a streamed candidate, ``reference`` and ``unscaled`` may come
    as :class:`Handover`: then their rows are let go once every metric is fed them, before the
    first shard, and the driver does not hold them while the shards run. A metric that raises is skipped and reported
    (``strict=True`` re-raises instead)."""
    from tailguard.engines import get_engine

    load_metrics()
    if metric_params:
        check_metric_params(metric_params)
    engine = engine if engine is not None else get_engine("local")
    streamed = not isinstance(candidate, AuditInput)
    release = isinstance(reference, Handover)
    if release:
        reference, unscaled = reference.take(), unscaled.take() if isinstance(unscaled, Handover) else unscaled
    modality = candidate[0].modality if streamed else candidate.modality
    skipped: list[str] = []
    plans: list[_Plan] = []
    for entry in entries:
        cls = resolve(entry)
        if cls is None:
            skipped.append(f"{entry.label}: not registered")
            continue
        kind = getattr(cls, "input_kind", "vectors")
        plain = unscaled is not None and not entry.standardized
        cand_in, ref_in = unscaled if plain else (candidate, reference)
        ref_data = ref_in.view(kind)
        cand_data = None if streamed else cand_in.view(kind)
        # a streamed candidate is read in the reference's modality, so it has the views the reference has
        has_view = ref_data is not None if streamed else cand_data is not None
        uses_ref = cls.uses_reference() if hasattr(cls, "uses_reference") else cls.requires_reference
        if not has_view or (cls.requires_reference and ref_data is None):
            if entry.optional:
                continue
            skipped.append(f"{entry.label}: no {kind} view for {modality} data")
            continue
        plans.append(_Plan(entry.label, cls, build_params(cls, entry, seed, metric_params or {}, common),
                           kind, not plain, cand_data, ref_data if uses_ref else None))
    specs = [(j, p.label, p.cls, p.params, p.kind, p.standardized) for j, p in enumerate(plans)]
    tasks: list[_ShardTask] = []
    fed_reference: list[tuple[int, Metric | _Failed]] = []
    lenders: dict[int, int] = {}
    if streamed:
        lenders = _sample_lenders(plans, scaled=any(lazy.scale is not None for lazy in candidate))
        tasks = [_ShardTask(tuple(specs), lazy, None, batch_size, strict, lenders) for lazy in candidate]
        # The reference is already in this process: fed here, it is never copied to a worker (on a
        # pool or Ray a 1M-row reference would otherwise travel, and stay, in one worker's memory).
        fed_reference = _feed_shard(_ShardTask(tuple(specs), None, {j: p.reference for j, p in enumerate(plans)},
                                               batch_size, strict, lenders))
        if release:  # the fed states hold what the metrics keep of it
            plans = [replace(p, reference=None) for p in plans]
            reference = unscaled = ref_in = ref_data = None  # type: ignore[assignment]
    else:
        for j, plan in enumerate(plans):
            cand_parts, ref_parts = shards(plan.candidate, shard_rows), shards(plan.reference, shard_rows)
            for i in range(max(len(cand_parts), len(ref_parts))):
                tasks.append(_ShardTask((specs[j],), {j: cand_parts[i]} if i < len(cand_parts) else None,
                                        {j: ref_parts[i]} if i < len(ref_parts) else None, batch_size, strict))
    # in this process one shard at a time (nothing runs beside the merge); else twice the workers, so
    # they stay busy while the driver merges, and the driver holds at most a window of states
    in_process = getattr(engine, "in_process", False)
    size = max(1, len(tasks) if not streamed else (window or (1 if in_process else max(2, 2 * getattr(engine, "workers", 1)))))
    acc: dict[int, Metric | _Failed | None] = dict.fromkeys(range(len(plans)))
    for start in range(0, len(tasks), size):  # task order is shard order: merges are the same on every engine
        for fed in engine.map(_feed_shard, tasks[start : start + size]):
            for j, part in fed:
                acc[j] = _fold(acc[j], part, j in lenders)
    for j, part in fed_reference:  # after every shard, where the task list had it: the same merge order
        acc[j] = _fold(acc[j], part, j in lenders)
    for j, lender in lenders.items():  # a borrower merged nothing: it reads its lender's merged samples
        if not isinstance(acc[j], _Failed):
            acc[j] = _borrow(acc[j], plans[j].label, plans[lender].label, acc[lender])  # type: ignore[arg-type]
    merged = [(plan.label, acc[j], strict) for j, plan in enumerate(plans)]

    def done(i: int, _result: Any) -> None:
        if progress is not None:
            progress(plans[i].label)

    outcomes = engine.map(_result_of, merged, on_result=done)
    results: list[RunResult] = []
    for plan, outcome in zip(plans, outcomes, strict=True):
        if isinstance(outcome, _Failed):
            skipped.append(outcome.line)
        else:
            results.append(RunResult(plan.label, outcome))
    return results, skipped
