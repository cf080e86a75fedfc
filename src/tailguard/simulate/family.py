"""The family protocol and the ``FAMILIES`` registry.

A *family* is one kind of model that is trained recursively: a Gaussian, a GMM,
an n-gram language model... Each family is a small module holding one
:class:`Family` subclass. The subclass is a :class:`~tailguard.config.Configurable`
(its parameters are validated from one table) and implements

- ``setup(sample_size, rng) -> Setup``: the human data of one seed: the training
  set of generation 0, held-out human data the metrics are measured against and
  (optionally) a reservoir of fresh human data for ``fresh:F`` policies;
- ``fit(data, rng) -> model`` and ``sample(model, n, rng) -> data``;
- ``evaluate(model, samples, ctx) -> dict[str, float]``: the family's own metrics.

Data are always numeric numpy arrays whose first axis indexes samples (rows), so
policies can select rows and checkpoints are plain ``.npz`` files.

>>> from tailguard.simulate import FAMILIES
>>> fam = FAMILIES.get("gaussian")(dim=2)
>>> rng = np.random.default_rng(0)
>>> setup = fam.setup(50, rng)
>>> model = fam.fit(setup.train, rng)
>>> fam.sample(model, 5, rng).shape
(5, 2)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from tailguard.config import Configurable
from tailguard.registry import Registry


@dataclass(frozen=True)
class MetricSpec:
    """How to read one of a family's metrics.

    ``tail`` marks the metrics that fall when the tails are lost (the ones the
    reproduction checks and the report's verdict look at). ``optional`` marks a metric that
    may be NaN when a seed gives nothing to measure (summaries skip NaNs and count ``n``).
    """

    name: str
    higher_is_better: bool
    tail: bool = False
    description: str = ""
    optional: bool = False


@dataclass
class Setup:
    """The human data of one seed.

    ``train`` is generation 0's training set, ``heldout`` the human data metrics
    are measured against, ``fresh`` a reservoir of unused human data (for
    ``fresh:F`` policies) and ``extra`` anything family-specific that is fixed for
    the whole run (a classifier, the true parameters, a vocabulary).
    """

    train: np.ndarray
    heldout: np.ndarray
    fresh: np.ndarray | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class EvalContext:
    """What ``Family.evaluate`` may look at besides the model and its samples.

    ``cache`` is one dict for the whole chain (every generation's context shares it): a family
    may keep there what it derives from ``setup`` or ``model0`` once, instead of every generation.
    """

    setup: Setup
    model0: Any
    samples0: np.ndarray
    generation: int
    rng: np.random.Generator
    cache: dict[str, Any] = field(default_factory=dict)


class Family(Configurable):
    """Base class of every model family (see the module docstring)."""

    name: ClassVar[str]
    #: what each metric means and which direction is good
    metrics: ClassVar[tuple[MetricSpec, ...]] = ()
    #: how the report draws samples: "hist" (1-D values), "scatter" (2-D points),
    #: "images" (square images in rows), "text" (token-id rows), "bars" (category ids),
    #: "labels" (rows ending in [assigned label, true label]: counts per class)
    sample_kind: ClassVar[str] = "hist"
    #: metrics of the audit suite (``tailguard.metrics``) measured every generation on
    #: ``features(samples)`` against ``features(heldout)``; stored as ``audit_<value>``
    audit_metrics: ClassVar[tuple[str, ...]] = ()
    #: policies this family can also run for all seeds at once (:meth:`simulate_vectorised`), a
    #: capability rather than a name check in the executor
    vectorised_policies: ClassVar[tuple[str, ...]] = ()

    def simulate_vectorised(self, policy: str, *, generations: int, seeds: int, sample_size: int,
                            entropy: int, first_seed: int = 0) -> dict[str, Any]:
        """Seeds ``first_seed .. first_seed + seeds - 1`` of ``policy`` at once (only for
        :attr:`vectorised_policies`): ``{"metrics": {name: array (seeds, generations + 1)}, "first": ...,
        "last": ...}``, each array with one row per seed along its first axis (the executor splits the
        seeds over an engine's workers and joins the parts along that axis).

        It must draw from the same streams as the generic loop
        (:class:`~tailguard.simulate.seeding.ChainStreams` of ``(entropy, seed)``: ``setup`` at
        generation 0, ``sample`` at each generation...), so that every seed gets the numbers the
        loop would give it and stays paired with the policies the loop runs (tested)."""
        raise NotImplementedError(f"family {self.name!r} has no vectorised path")

    def setup(self, sample_size: int, rng: np.random.Generator) -> Setup:
        raise NotImplementedError

    def fit(self, data: np.ndarray, rng: np.random.Generator) -> Any:
        raise NotImplementedError

    def sample(self, model: Any, n: int, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError

    def evaluate(self, model: Any, samples: np.ndarray, ctx: EvalContext) -> dict[str, float]:
        raise NotImplementedError

    def sample_chain(self, model: Any, n: int, rng: np.random.Generator, setup: Setup) -> np.ndarray:
        """The samples of ``model`` inside a chain whose human data are ``setup``: what the generation
        loop calls. The default is :meth:`sample`; a family whose sampling needs the seed's fixed data
        overrides it (the lm family prompts with the seed's human blocks every generation)."""
        return self.sample(model, n, rng)

    # -- optional hooks used by policies and reports ---------------------------
    def warm_up(self) -> None:
        """Build process-wide caches (a judge classifier, a tail threshold) once.

        The executor calls it in the parent process before it starts workers, which
        inherit the caches when processes fork.
        """

    def features(self, data: np.ndarray) -> np.ndarray | None:
        """Vectors for the ``filter`` and ``tail-preserve`` policies (None: not supported)."""
        return np.asarray(data, dtype=float).reshape(len(data), -1)

    def classes(self, data: np.ndarray) -> np.ndarray | None:
        """Class ids of rows, when the family has classes."""
        return None

    def texts(self, data: np.ndarray) -> list[str] | None:
        """The documents of rows, for the audit suite's text metrics (None: not a text family)."""
        return None

    def render_text(self, data: np.ndarray, setup: Setup, limit: int = 8) -> list[str]:
        """Human-readable samples for the report (text families override this)."""
        return [str(row) for row in np.asarray(data)[:limit]]

    def theory(self, metric: str, policy: str, *, generations: int, sample_size: int) -> Any:
        """The law ``metric`` follows under ``policy`` (the canonical spec) for generations 0..N, as a
        :class:`~tailguard.simulate.theory.Theory`, or ``None`` when the family knows none."""
        return None

    @classmethod
    def metric_specs(cls) -> Mapping[str, MetricSpec]:
        return {m.name: m for m in cls.metrics}

    @classmethod
    def tail_metrics(cls) -> tuple[str, ...]:
        return tuple(m.name for m in cls.metrics if m.tail)


FAMILIES: Registry[type[Family]] = Registry("family", entry_point_group="tailguard.families")

_BUILTIN = ("gaussian", "gmm", "kde", "categorical", "linreg", "ngram", "recsys", "digits", "pseudolabel", "yolo",
            "lm")
for _name in _BUILTIN:
    FAMILIES.register_lazy(_name, f"tailguard.simulate.families.{_name}")


SAMPLE_KINDS = ("hist", "scatter", "images", "text", "bars", "labels")


def validate_family(cls: Any) -> type[Family]:
    """Check a family class before it is registered (a plug-in's): a :class:`Family` subclass with
    a lower-case ``name``, its own ``setup``, ``fit``, ``sample`` and ``evaluate``, metrics declared
    as :class:`MetricSpec` with distinct names, a known ``sample_kind``, and defaults that pass its
    parameter table. Returns ``cls``.

    >>> class Half(Family):
    ...     name = "half"
    ...     def setup(self, sample_size, rng): ...
    >>> validate_family(Half)
    Traceback (most recent call last):
    ...
    tailguard.errors.ParameterError: family 'half' (Half) does not implement fit, sample, evaluate
    """
    import re

    from tailguard.errors import ParameterError
    from tailguard.validation import check_param_table

    if not (isinstance(cls, type) and issubclass(cls, Family)):
        raise ParameterError(f"a family must be a subclass of tailguard.simulate.Family. Got {cls!r}.")
    name = getattr(cls, "name", None)
    where = f"family {name!r} ({cls.__name__})"
    if not isinstance(name, str) or not re.fullmatch(r"[a-z][a-z0-9_-]*", name):
        raise ParameterError(f"{where} needs a name of lower-case letters, digits, '-' or '_'. Got {name!r}.")
    missing = [m for m in ("setup", "fit", "sample", "evaluate") if getattr(cls, m) is getattr(Family, m)]
    if missing:
        raise ParameterError(f"{where} does not implement {', '.join(missing)}")
    specs = list(cls.metrics)
    if not specs or not all(isinstance(m, MetricSpec) for m in specs):
        raise ParameterError(f"{where} must declare its metrics as a non-empty tuple of MetricSpec")
    names = [m.name for m in specs]
    if len(set(names)) != len(names):
        raise ParameterError(f"{where} declares a metric twice: {sorted(n for n in names if names.count(n) > 1)[0]!r}")
    if cls.sample_kind not in SAMPLE_KINDS:
        raise ParameterError(f"{where}: sample_kind {cls.sample_kind!r} is not one of {', '.join(SAMPLE_KINDS)}")
    check_param_table(where, cls.params, cls.defaults)
    return cls


def register_family(cls: type[Family]) -> type[Family]:
    """Class decorator: check ``cls`` (:func:`validate_family`) and register it under ``cls.name``."""
    return FAMILIES.register(cls.name)(validate_family(cls))


def get_family(name: str, **params: Any) -> Family:
    """Build the family ``name`` with validated ``params``.

    >>> get_family("gausian")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    tailguard.errors.UnknownChoiceError: Unknown family 'gausian'. Did you mean 'gaussian'? ...
    """
    return FAMILIES.get(name)(**params)
