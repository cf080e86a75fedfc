"""The metric protocol: every metric is a mergeable accumulator.

A metric is built from validated parameters, fed with ``update(batch)`` (the
candidate) and, when ``requires_reference``, ``update_reference(batch)``; two
accumulators of the same config combine with ``merge``; ``result()`` returns a
typed, JSON-serialisable :class:`MetricResult`. This is what lets an audit
stream over data larger than memory and run on a cluster unchanged.

A metric is also a plug-in: its class declares where the audit runs it
(``modalities``, ``optional_in``, ``order``, ``quick``, ``standardized``,
``suite_params``), the value names it returns (``value_names``) and its default
threshold rules (``default_rules``). The audit's suites and default thresholds
are derived from these declarations, so adding a metric is one module and a
:func:`register_metric` (see docs/metrics.md, "Writing a metric").

>>> import numpy as np
>>> from tailguard.metrics.base import METRICS
>>> "tail_mass" in METRICS or True   # metrics register on import of tailguard.metrics
True
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar, Self

from tailguard.config import Configurable
from tailguard.errors import IncompatibleMergeError, ParameterError
from tailguard.registry import Registry

#: Families group metrics in reports: tails first.
FAMILIES = ("tails", "fidelity", "diversity", "drift", "text", "duplicates", "labels", "bulk")

#: What a metric's ``update`` accepts.
INPUT_KINDS = ("vectors", "text", "categories", "boxes", "masks", "keypoints", "angles")

#: The audit's modalities: a metric lists in ``modalities`` those whose suite runs it.
SUITE_MODALITIES = ("vectors", "images", "text", "categorical", "detection")

#: The keys of a default rule's spec (the keys of a thresholds file's rule).
RULE_KEYS = ("kind", "warn", "collapse", "noise", "noise_power")


@dataclass(frozen=True)
class MetricValue:
    """One named number with its confidence interval.

    ``value`` is the candidate's; ``reference_value`` the reference's on the same
    footing (same N where the metric depends on N), or ``None``. ``min_n`` is the
    fewest rows per side the value needs before the audit judges it (a 1% tail needs
    hundreds of rows to expect a handful in it); ``None`` means the audit's default.
    """

    name: str
    value: float
    higher_is_better: bool
    reference_value: float | None = None
    ci: tuple[float, float] | None = None
    ci_method: str | None = None  # "bootstrap", "analytic", "permutation", ...
    min_n: int | None = None

    @property
    def ratio(self) -> float | None:
        if self.reference_value is None or not math.isfinite(self.reference_value):
            return None
        if self.reference_value == 0:
            return 1.0 if self.value == 0 else math.inf
        return self.value / self.reference_value

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["ci"] = list(self.ci) if self.ci is not None else None
        d["ratio"] = self.ratio
        if d["min_n"] is None:
            del d["min_n"]
        return d


@dataclass(frozen=True)
class MetricResult:
    """What ``Metric.result()`` returns: one or more values plus figure data.

    ``details`` holds flat, JSON-serialisable data for figures (per-decile
    coverage, per-class shares, histogram counts): str -> float | list[float] | str.
    """

    metric: str
    family: str
    config_id: str
    n: int
    n_reference: int | None
    values: tuple[MetricValue, ...]
    details: dict[str, Any] = field(default_factory=dict)

    def value(self, name: str) -> MetricValue:
        for v in self.values:
            if v.name == name:
                return v
        raise KeyError(f"{self.metric} has no value {name!r}; it has {[v.name for v in self.values]}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "family": self.family,
            "config_id": self.config_id,
            "n": self.n,
            "n_reference": self.n_reference,
            "values": [v.to_dict() for v in self.values],
            "details": self.details,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> MetricResult:
        values = tuple(
            MetricValue(
                name=v["name"],
                value=v["value"],
                higher_is_better=v["higher_is_better"],
                reference_value=v.get("reference_value"),
                ci=tuple(v["ci"]) if v.get("ci") is not None else None,
                ci_method=v.get("ci_method"),
                min_n=v.get("min_n"),
            )
            for v in d["values"]
        )
        return cls(d["metric"], d["family"], d["config_id"], d["n"], d.get("n_reference"), values, d.get("details", {}))


class Metric(Configurable):
    """Base class of every metric.

    Subclasses set the class attributes, a ``params`` table with ``defaults``,
    and implement ``_update``, ``_merge`` and ``result``. ``update_reference``
    is required when ``requires_reference`` is true.
    """

    name: ClassVar[str]
    family: ClassVar[str]
    input_kind: ClassVar[str] = "vectors"
    higher_is_better: ClassVar[bool]
    requires_reference: ClassVar[bool] = False
    #: True when a reference is optional: used for ``reference_value`` if given.
    accepts_reference: ClassVar[bool] = False

    # -- where the audit runs it (read by tailguard.audit.suite) -------------
    #: Modalities (of :data:`SUITE_MODALITIES`) whose default suite runs this metric.
    #: A metric with none runs only when asked for by name.
    modalities: ClassVar[tuple[str, ...]] = ()
    #: Of ``modalities``, those where it runs only when the data has its view (per-sample
    #: labels given), and is skipped without a note otherwise.
    optional_in: ClassVar[tuple[str, ...]] = ()
    #: Position in a suite, lowest first (tails 10s, fidelity 20s, diversity 30s, bulk 40s,
    #: drift 50s, text 60s, labels 70s, categories 80s); ties go by name.
    order: ClassVar[int] = 1000
    #: ``order`` in particular modalities, e.g. ``{"detection": 90}``.
    order_in: ClassVar[Mapping[str, int]] = {}
    #: Part of the ``quick`` suite (False for permutation tests and classifiers).
    quick: ClassVar[bool] = True
    #: Fed the audit's standardized vectors (True) or the vectors in their own units.
    standardized: ClassVar[bool] = True
    #: Parameters per modality, e.g. ``{"text": {"k": 10}}`` (over the defaults).
    suite_params: ClassVar[Mapping[str, Mapping[str, Any]]] = {}
    #: Default threshold rules, most specific first: ``(pattern, spec)`` where the pattern
    #: matches ``"family/metric/value"`` (fnmatch) and the spec has the keys of a
    #: thresholds file's rule (:data:`RULE_KEYS`). See ``tailguard.audit.thresholds``.
    default_rules: ClassVar[tuple[tuple[str, Mapping[str, Any]], ...]] = ()
    #: The names of the values ``result()`` returns under the default parameters.
    value_names: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def output_names(cls, params: Mapping[str, Any] | None = None) -> tuple[str, ...]:
        """The value names ``result()`` returns under ``params`` (over the defaults).

        Metrics whose names depend on a parameter (``tail_mass_<alpha>``) override this;
        the conformance tests check it against real results.
        """
        return cls.value_names

    @classmethod
    def suite_order(cls, modality: str) -> int:
        """Where this metric sits in ``modality``'s suite (``order_in`` over ``order``)."""
        return cls.order_in.get(modality, cls.order)

    @classmethod
    def uses_reference(cls) -> bool:
        """Whether an audit should feed this metric the reference (required or optional)."""
        return cls.requires_reference or cls.accepts_reference

    @classmethod
    def example_batch(cls, rng: Any, n: int, *, shift: float = 0.0) -> Any:
        """A small valid batch of ``n`` samples for conformance tests and docs.

        The default serves ``input_kind == "vectors"`` (an ``n x 4`` float array,
        shifted by ``shift``); metrics of other input kinds may override it.
        """
        if cls.input_kind != "vectors":
            raise NotImplementedError(f"{cls.__name__} does not provide example_batch")
        return rng.normal(size=(n, 4)) + shift

    def update(self, batch: Any) -> Self:
        """Add a batch of candidate samples; returns ``self`` for chaining."""
        self._update(batch, reference=False)
        return self

    def update_reference(self, batch: Any) -> Self:
        """Add a batch of reference (human) samples."""
        if not self.uses_reference():
            raise ParameterError(f"{type(self).__name__} does not use a reference")
        self._update(batch, reference=True)
        return self

    def merge(self, other: Metric) -> Self:
        """Fold ``other`` (same class and config) into ``self``; returns ``self``."""
        if type(other) is not type(self):
            raise IncompatibleMergeError(f"cannot merge {type(self).__name__} with {type(other).__name__}")
        if other.get_params() != self.get_params():
            raise IncompatibleMergeError(
                f"cannot merge {type(self).__name__} accumulators with different parameters: "
                f"{self.get_params()} vs {other.get_params()}"
            )
        self._merge(other)
        return self

    # -- to implement -------------------------------------------------------
    def _update(self, batch: Any, *, reference: bool) -> None:
        raise NotImplementedError

    def _merge(self, other: Self) -> None:
        raise NotImplementedError

    def result(self) -> MetricResult:
        raise NotImplementedError


METRICS: Registry[type[Metric]] = Registry("metric", entry_point_group="tailguard.metrics")


def register_metric(cls: type[Metric]) -> type[Metric]:
    """Class decorator: register ``cls`` under ``cls.name``."""
    return METRICS.register(cls.name)(cls)


def unregister_metric(name: str) -> type[Metric]:
    """Remove the metric registered as ``name`` and return its class (an unknown name
    raises :class:`~tailguard.errors.UnknownChoiceError`); :func:`registered` pairs the two."""
    return METRICS.unregister(name)


@contextmanager
def registered(cls: type[Metric]) -> Iterator[type[Metric]]:
    """Register ``cls`` for the duration of a ``with`` block (tests, notebooks), then remove it.

    >>> class Toy(Metric):
    ...     name, family, higher_is_better = "toy_metric", "tails", True
    >>> with registered(Toy):
    ...     "toy_metric" in METRICS
    True
    >>> "toy_metric" in METRICS
    False
    """
    register_metric(cls)
    try:
        yield cls
    finally:
        if METRICS.get(cls.name) is cls:
            unregister_metric(cls.name)
