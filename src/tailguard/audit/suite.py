"""The metric suite of each modality, derived from the metric registry.

Every registered metric declares where it runs (``modalities``, ``optional_in``,
``order``/``order_in``, ``quick``, ``standardized``, ``suite_params``; see
:class:`~tailguard.metrics.base.Metric`). A modality's suite is the registered
metrics that list it, sorted by their order (tails first; ties by name), so adding a
metric is one module and a ``@register_metric``: no table here names a metric.

A suite is a list of :class:`SuiteEntry`: a metric name (with aliases, looked up in
:data:`~tailguard.metrics.base.METRICS`), its parameters and whether it runs in
``quick`` mode. Parameters a metric does not declare are dropped by the runner (and
the seed is passed to every metric that takes one).

``metrics=`` narrows a suite. A name may be a metric (``prdc``), a family (``tails``),
a value as the audit table shows it (``recall``, ``tail_mass_0.01``, ``mmd.p_value``):
a value name runs the metric that produces it, with all of that metric's values.

>>> [e.label for e in suite_for("vectors")][:3]
['tail_mass', 'rare_mode_coverage', 'nn_distance_tail']
>>> [e.label for e in suite_for("vectors", metrics=["recall", "vendi"])]
['prdc', 'vendi']
>>> [(e.label, e.optional) for e in suite_for("vectors", metrics=["tails"])][2:]
[('nn_distance_tail', False), ('lost_categories', True), ('missing_mass', True)]
>>> suite_for("vectors", metrics=["recal"])  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
tailguard.errors.UnknownChoiceError: Unknown metric, family or value name 'recal'. Did you mean 'recall'...
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from tailguard.errors import UnknownChoiceError
from tailguard.metrics.base import FAMILIES, METRICS, SUITE_MODALITIES, Metric


@dataclass(frozen=True)
class SuiteEntry:
    """One metric in a suite. ``names`` are tried in order (registry aliases)."""

    names: tuple[str, ...]
    params: Mapping[str, Any] = field(default_factory=dict)
    quick: bool = True
    label: str = ""
    #: Skipped without a note when the data has no view for it (e.g. no labels given).
    optional: bool = False
    #: Fed the audit's standardized vectors (``True``) or the vectors in their own units.
    standardized: bool = True

    def __post_init__(self) -> None:
        if not self.label:
            object.__setattr__(self, "label", self.names[0])


def load_metrics() -> None:
    """Import ``tailguard.metrics``, which registers every built-in metric."""
    importlib.import_module("tailguard.metrics")


def registered_metrics() -> list[type[Metric]]:
    """Every registered metric class, by name."""
    load_metrics()
    return [METRICS.get(name) for name in METRICS.names()]


def entry_for(cls: type[Metric], modality: str | None = None) -> SuiteEntry:
    """The suite entry of ``cls`` as its declarations place it in ``modality`` (``None``:
    a metric asked for by name outside its modalities)."""
    return SuiteEntry(
        names=(cls.name,),
        params=dict(cls.suite_params.get(modality, {})) if modality else {},
        quick=cls.quick,
        label=cls.name,
        optional=modality in cls.optional_in,
        standardized=cls.standardized,
    )


def _suite_classes(modality: str) -> list[type[Metric]]:
    if modality not in SUITE_MODALITIES:
        raise UnknownChoiceError("modality", modality, SUITE_MODALITIES)
    members = [cls for cls in registered_metrics() if modality in cls.modalities]
    return sorted(members, key=lambda cls: (cls.suite_order(modality), cls.name))


def default_suite(modality: str) -> list[SuiteEntry]:
    """The full suite of ``modality``, in order.

    >>> [e.label for e in default_suite("categorical")]
    ['class_share', 'lost_categories', 'missing_mass', 'hill_numbers']
    """
    return [entry_for(cls, modality) for cls in _suite_classes(modality)]


def suites() -> dict[str, list[SuiteEntry]]:
    """Every modality's full suite (what docs/audit.md's suite table lists)."""
    return {m: default_suite(m) for m in SUITE_MODALITIES}


def _value_index(classes: Iterable[type[Metric]]) -> dict[str, list[type[Metric]]]:
    """Value name (plain and ``metric.value``) -> the metrics that produce it."""
    index: dict[str, list[type[Metric]]] = {}
    for cls in classes:
        for value in cls.output_names():
            for key in (value, f"{cls.name}.{value}"):
                index.setdefault(key, [])
                if cls not in index[key]:
                    index[key].append(cls)
    return index


def selectable_names() -> list[str]:
    """Every name ``metrics=`` (and ``tailguard audit -m``) accepts."""
    classes = registered_metrics()
    values = {v for cls in classes for v in cls.output_names()}
    return sorted({cls.name for cls in classes} | set(FAMILIES) | values)


def _pick(name: str, in_suite: list[type[Metric]], everywhere: list[type[Metric]]) -> list[type[Metric]]:
    """The metrics ``name`` selects: those of the modality's suite when any match, else any registered."""
    for pool in (in_suite, everywhere):
        by_name = [cls for cls in pool if cls.name == name]
        if by_name:
            return by_name
        if name in FAMILIES:
            by_family = [cls for cls in pool if cls.family == name]
            if by_family:
                return by_family
        by_value = _value_index(pool).get(name, [])
        if by_value:
            return by_value
    if name in FAMILIES:
        return []  # a family with no metric registered: nothing to run, and not a typo
    raise UnknownChoiceError("metric, family or value name", name, selectable_names())


def check_metric_names(names: Iterable[str]) -> None:
    """Raise :class:`~tailguard.errors.UnknownChoiceError` (with the nearest names) for a
    name that is no registered metric, family or value name.

    >>> check_metric_names(["prdc", "tails", "tail_mass_0.01"])
    >>> check_metric_names(["tail_mas"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    tailguard.errors.UnknownChoiceError: Unknown metric, family or value name 'tail_mas'. Did you mean 'tail_mass'...
    """
    everywhere = registered_metrics()
    for name in names:
        _pick(name, [], everywhere)


def suite_for(
    modality: str,
    *,
    metrics: Iterable[str] | None = None,
    quick: bool = False,
) -> list[SuiteEntry]:
    """The entries for ``modality``; ``metrics`` restricts them to the named ones (metric,
    family or value names, see the module docstring), ``quick`` drops the expensive ones
    (permutation tests, classifiers)."""
    in_suite = _suite_classes(modality)
    entries = [entry_for(cls, modality) for cls in in_suite]
    if metrics is not None:
        everywhere = registered_metrics()
        wanted: list[type[Metric]] = []
        for name in metrics:
            wanted += [cls for cls in _pick(name, in_suite, everywhere) if cls not in wanted]
        entries = [e for e, cls in zip(entries, in_suite, strict=True) if cls in wanted]
        # Registered metrics outside the modality's suite can still be asked for by name.
        entries += [entry_for(cls) for cls in wanted if cls not in in_suite]
    if quick:
        entries = [e for e in entries if e.quick]
    return entries
