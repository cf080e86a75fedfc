"""The policy steps a spec is made of, and the ``policy`` registry.

Each step is a small :class:`~tailguard.config.Configurable` (a validated
parameter table) that brings its own behaviour through the hook of its kind. The
composer (:mod:`tailguard.policy.composer`) applies the steps in one fixed order
of kinds, whatever order a spec names them in, and calls their hooks; it never
asks for a step's name, so a step a plug-in registers behaves as itself:

====  ==========  ==========================================================  ==========================
step  kind        built-in names                                              hook
====  ==========  ==========================================================  ==========================
1     source      ``replace`` | ``accumulate`` | ``accumulate-subsample``      ``apply(state)`` or
                                                                                  ``candidates(round, cur)``
2     filter      ``filter``                                                  ``apply(state)``
3     dedup       ``dedup``                                                   ``apply(state)``
4     fresh       ``fresh:F``                                                 ``fresh_count(base, size, fixed)``
5     anchor      ``anchor:F``                                                ``min_human_fraction``
6     sampler     ``tail-preserve``                                           ``regions(state)``
====  ==========  ==========================================================  ==========================

``apply(state)`` gets a :class:`~tailguard.policy.candidates.StepState` and returns
``(keep_mask, reason)`` or a list of :class:`~tailguard.policy.candidates.Exclusion`; a
policy without a source uses ``replace``. A source that chooses rows by their round alone may
bring ``candidates(round, current_round)`` instead of ``apply``: the composer then calls it, and
so does the simulator's compiled plan (:mod:`tailguard.policy.plan`), which runs a source-only
policy without building a pool each generation. :func:`validate_step` checks a plug-in's class (it
runs when :func:`register_step` registers one).

>>> POLICIES.get("anchor")(fraction=0.2).spec()
'anchor:0.2'
>>> POLICIES.get("acumulate")
Traceback (most recent call last):
...
tailguard.errors.UnknownChoiceError: Unknown policy 'acumulate'. Did you mean 'accumulate', \
'accumulate-subsample'? Valid choices: accumulate, accumulate-subsample, anchor, dedup, filter, fresh, replace, \
tail-preserve.
"""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from tailguard.config import Configurable
from tailguard.errors import ParameterError
from tailguard.registry import Registry
from tailguard.validation import Bool, Float, Int, OneOf, check_param_table, validate_params

if TYPE_CHECKING:
    from tailguard.policy.candidates import Exclusion, StepState
    from tailguard.policy.tails import RegionModel

#: Every step the spec grammar knows, by name (plug-ins: the ``tailguard.policy_steps`` entry points).
POLICIES: Registry[type[Step]] = Registry("policy", entry_point_group="tailguard.policy_steps")

#: The order the composer applies step kinds in.
KIND_ORDER: tuple[str, ...] = ("source", "filter", "dedup", "fresh", "anchor", "sampler")

#: The hook a step of each kind must bring (see the module docstring).
KIND_HOOKS: dict[str, str] = {
    "source": "apply",
    "filter": "apply",
    "dedup": "apply",
    "fresh": "fresh_count",
    "anchor": "min_human_fraction",
    "sampler": "regions",
}

_NAME = re.compile(r"[a-z][a-z0-9_-]*")
_EPS = 1e-9


def _format_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        text = repr(value)
        return text[:-2] if text.endswith(".0") else text
    return str(value)


class Step(Configurable):
    """One named part of a policy spec (``name`` or ``name:VALUE`` or ``name:key=value``)."""

    name: ClassVar[str] = ""
    kind: ClassVar[str] = ""
    #: The parameter a bare ``name:VALUE`` sets.
    positional: ClassVar[str | None] = None
    #: Parameters that have no default and must be given.
    required: ClassVar[tuple[str, ...]] = ()
    summary: ClassVar[str] = ""
    #: sources: the training set has a fixed size (``target_size``, else the candidates) rather than
    #: every candidate
    fixed_size: ClassVar[bool] = True
    #: sources: ``target_size`` must be given
    requires_target_size: ClassVar[bool] = False
    #: the step reads feature vectors or texts of the pool (the simulator then builds them)
    needs_features: ClassVar[bool] = False
    #: the step may read non-human rows that no source would select any more (a plug-in may, so
    #: True by default); when no step of a policy does, the simulator drops such rows from its pool
    needs_history: ClassVar[bool] = True

    def __init__(self, **params: Any):
        missing = [key for key in self.required if key not in params]
        if missing:
            raise ParameterError(
                f"The {self.name!r} policy needs its {missing[0]!r} parameter: "
                f"write {self.name}:F, e.g. {self.name}:0.2."
            )
        # Configurable would name the class in messages; the spec name reads better.
        self._params = validate_params(f"the {self.name!r} policy", {**self.defaults, **params}, self.params)

    def spec(self) -> str:
        """Canonical text of this step; parameters at their default are left out."""
        parts = [self.name]
        for key, value in sorted(self._params.items(), key=lambda kv: (kv[0] != self.positional, kv[0])):
            if key in self.defaults and self.defaults[key] == value:
                continue
            parts.append(_format_value(value) if key == self.positional else f"{key}={_format_value(value)}")
        return ":".join(parts)

    # -- hooks (one per kind; see KIND_HOOKS) ------------------------------------
    def apply(self, state: StepState) -> tuple[np.ndarray, str] | list[Exclusion]:
        """Kinds ``source``, ``filter``, ``dedup``: ``(keep_mask, reason)`` over the pool, or a list
        of :class:`~tailguard.policy.candidates.Exclusion`. Rows an earlier step dropped stay dropped.
        A source that brings :meth:`candidates` inherits this one, which calls it."""
        if self.kind == "source" and has_candidates(type(self)):
            cur = state.current_round
            return self.candidates(state.pool.round, cur), self.dropped_reason(cur)
        raise NotImplementedError(f"the {self.name!r} step ({self.kind}) does not implement apply(state)")

    def candidates(self, rounds: np.ndarray, current_round: int) -> np.ndarray:
        """Sources that choose by round alone: the keep mask over the pool's ``rounds`` (rows of rounds
        after ``current_round`` are dropped by the composer whatever this says)."""
        raise NotImplementedError(f"the {self.name!r} step ({self.kind}) does not implement candidates()")

    def dropped_reason(self, current_round: int) -> str:
        """Sources with :meth:`candidates`: the reason logged for a row they do not keep."""
        return f"{self.spec()}: not a candidate at round {current_round}"

    def oldest_round(self, current_round: int) -> int | None:
        """Sources: the oldest round whose non-human rows :meth:`apply` can keep at ``current_round``
        or later (``None``: any round). Only a hint for dropping rows no generation can use."""
        return None

    def empty_message(self, current_round: int) -> str:
        """Sources: the error when no candidate is left after :meth:`apply`."""
        return f"{self.spec()}: the pool has no candidate rows at round {current_round}"

    def fresh_count(self, base: int, size: int, fixed: bool) -> int:
        """Kind ``fresh``: how many fresh human rows this round (``base``: target size or candidates;
        ``size``: the training-set size; ``fixed``: whether the source fixes it)."""
        raise NotImplementedError(f"the {self.name!r} step ({self.kind}) does not implement fresh_count()")

    def regions(self, state: StepState) -> RegionModel:
        """Kind ``sampler``: the regions whose reference shares the draw keeps."""
        raise NotImplementedError(f"the {self.name!r} step ({self.kind}) does not implement regions(state)")

    @property
    def min_human_fraction(self) -> float:
        """The human fraction this step guarantees (0 unless it anchors; the ``anchor`` kind's hook)."""
        return 0.0

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.get_params() == self.get_params()  # type: ignore[union-attr]

    def __hash__(self) -> int:
        return hash((self.name, tuple(sorted(self._params.items()))))

    def __repr__(self) -> str:
        return f"<{self.spec()}>"


def validate_step(cls: Any) -> type[Step]:
    """Check a policy-step class before it is registered (a plug-in's): a :class:`Step` subclass
    with a lower-case ``name``, a known ``kind``, its kind's hook (:data:`KIND_HOOKS`) and a
    parameter table its defaults, ``positional`` and ``required`` agree with. Returns ``cls``.

    >>> class Bad(Step):
    ...     name, kind = "bad", "source"
    >>> validate_step(Bad)
    Traceback (most recent call last):
    ...
    tailguard.errors.ParameterError: policy step 'bad' (Bad) is a 'source' step but does not implement apply(state) or \
candidates(rounds, current_round)
    """
    if not (isinstance(cls, type) and issubclass(cls, Step)):
        raise ParameterError(f"a policy step must be a subclass of tailguard.policy.Step. Got {cls!r}.")
    where = f"policy step {cls.name!r} ({cls.__name__})"
    if not isinstance(cls.name, str) or not _NAME.fullmatch(cls.name):
        raise ParameterError(f"{where} needs a name of lower-case letters, digits, '-' or '_'. Got {cls.name!r}.")
    if cls.kind not in KIND_ORDER:
        raise ParameterError(f"{where}: kind {cls.kind!r} is not one of {', '.join(KIND_ORDER)}")
    hook = KIND_HOOKS[cls.kind]
    if getattr(cls, hook) is getattr(Step, hook) and not (cls.kind == "source" and has_candidates(cls)):
        what = "min_human_fraction" if hook == "min_human_fraction" else f"{hook}(" + (
            "state)" if hook in ("apply", "regions") else "base, size, fixed)")
        if cls.kind == "source":
            what += " or candidates(rounds, current_round)"
        raise ParameterError(f"{where} is a {cls.kind!r} step but does not implement {what}")
    check_param_table(where, cls.params, cls.defaults, required=cls.required,
                      positional=[cls.positional] if cls.positional else [])
    return cls


def has_candidates(cls: type[Step]) -> bool:
    """Whether a source step chooses by round alone: it brings :meth:`Step.candidates` and keeps the
    inherited :meth:`Step.apply` that calls it (a subclass that overrides ``apply`` again may
    choose otherwise, so it does not count)."""
    return cls.candidates is not Step.candidates and cls.apply is Step.apply


def register_step(cls: type[Step]) -> type[Step]:
    """Class decorator: check a step (:func:`validate_step`) and add it to :data:`POLICIES` under its ``name``."""
    return POLICIES.register(cls.name)(validate_step(cls))


@register_step
class Replace(Step):
    """Train only on the newest round's output (items with ``round == current_round``)."""

    needs_history = False
    name = "replace"
    kind = "source"
    summary = "train only on the previous generation's output"

    def candidates(self, rounds: np.ndarray, current_round: int) -> np.ndarray:
        return rounds >= current_round

    def dropped_reason(self, current_round: int) -> str:
        return f"replace: from a round before the current round {current_round}"

    def oldest_round(self, current_round: int) -> int | None:
        return current_round

    def empty_message(self, current_round: int) -> str:
        return f"{self.spec()}: the pool has no rows from round {current_round}"


@register_step
class Accumulate(Step):
    """Keep every item produced so far (``round <= current_round``); the size grows."""

    needs_history = False
    name = "accumulate"
    kind = "source"
    summary = "keep all data so far"
    fixed_size = False

    def candidates(self, rounds: np.ndarray, current_round: int) -> np.ndarray:
        return np.ones(rounds.shape[0], dtype=bool)  # every row up to the current round (the composer drops later ones)

    def empty_message(self, current_round: int) -> str:
        return f"{self.spec()}: the pool has no rows from rounds <= {current_round}"


@register_step
class AccumulateSubsample(Step):
    """Accumulate, then draw a seeded subsample of ``target_size`` items."""

    needs_history = False
    name = "accumulate-subsample"
    kind = "source"
    summary = "accumulate, but hold the training size fixed"
    requires_target_size = True

    def candidates(self, rounds: np.ndarray, current_round: int) -> np.ndarray:
        return np.ones(rounds.shape[0], dtype=bool)

    def empty_message(self, current_round: int) -> str:
        return f"{self.spec()}: the pool has no rows from rounds <= {current_round}"


@register_step
class Filter(Step):
    """Drop non-human candidates that are degenerate texts or score as machine-made (never human ones).

    Thresholds (documented in ``docs/policies.md`` and ``docs/unknown-origin.md``):

    * degenerate text (when the pool carries ``texts``; the audit's criteria, see
      :mod:`tailguard.policy.degenerate`): no words, or ``repetition`` or more of a
      text's word 3-grams repeat (never below the reference texts' 0.999 quantile);
    * machine-made: a candidate whose out-of-fold human-likeness
      (:mod:`tailguard.policy.filtering`) is below the reference's own
      ``1 - keep_human`` quantile, so a share ``keep_human`` of human documents is
      kept. ``support=true`` adds the k-NN radius ratio (``k`` neighbours) to the
      text features (vectors always have it); ``folds`` cross-fits the classifier.

    Near-duplicates are the ``dedup`` step's.
    """

    needs_history = False
    name = "filter"
    kind = "filter"
    params: ClassVar = {
        "keep_human": Float(min=0.5, max=1),
        "repetition": Float(min=0, max=1, min_open=True),
        "support": Bool(),
        "k": Int(min=1, max=100),
        "folds": Int(min=2, max=10),
    }
    defaults: ClassVar = {"keep_human": 0.95, "repetition": 0.5, "support": False, "k": 5, "folds": 3}
    summary = "drop synthetic degenerate texts and candidates that score as machine-made"
    needs_features = True

    def apply(self, state: StepState) -> list[Exclusion]:
        from tailguard.policy.candidates import filter_exclusions

        return filter_exclusions(self.get_params(), state)


@register_step
class Dedup(Step):
    """Keep one representative of each near-duplicate cluster (human rows first; never drop human rows).

    Texts: estimated Jaccard of word-bigram shingles ``>= jaccard`` (MinHash + LSH; see
    :mod:`tailguard.scoring.clusters` for why 0.3). Vectors: an
    exact copy, or within the ``duplicate_quantile`` quantile of the reference's
    nearest-neighbour spacing, rescaled to the pool's size (see :mod:`tailguard.policy.dedup`).
    """

    needs_history = False
    name = "dedup"
    kind = "dedup"
    params: ClassVar = {
        "jaccard": Float(min=0, max=1, min_open=True),
        "duplicate_quantile": Float(min=0, max=0.5),
        "knn": OneOf(("auto", "exact", "faiss")),
    }
    defaults: ClassVar = {"jaccard": 0.3, "duplicate_quantile": 0.001, "knn": "auto"}
    summary = "keep one representative of each near-duplicate cluster"
    needs_features = True

    def apply(self, state: StepState) -> list[Exclusion]:
        from tailguard.policy.candidates import dedup_exclusions

        return dedup_exclusions(self.get_params(), state)


@register_step
class Fresh(Step):
    """Add ``fraction × target_size`` new human items from ``fresh_human`` each round (MAD's fresh loop)."""

    needs_history = False
    name = "fresh"
    kind = "fresh"
    positional = "fraction"
    required = ("fraction",)
    params: ClassVar = {"fraction": Float(min=0, max=1, min_open=True)}
    summary = "a fraction F of new human data each generation"

    def fresh_count(self, base: int, size: int, fixed: bool) -> int:
        n = math.ceil(float(self._params["fraction"]) * base - _EPS)
        return min(n, size) if fixed else n


@register_step
class Anchor(Step):
    """At least ``fraction`` of every training set is human: add human items, drop synthetic ones."""

    needs_history = False
    name = "anchor"
    kind = "anchor"
    positional = "fraction"
    required = ("fraction",)
    params: ClassVar = {"fraction": Float(min=0, max=1, min_open=True)}
    summary = "at least a fraction F of every training set is human-verified"

    @property
    def min_human_fraction(self) -> float:
        return float(self._params["fraction"])


@register_step
class TailPreserve(Step):
    """Resample so each reference class, or k-NN density band, keeps its reference share."""

    needs_history = False
    name = "tail-preserve"
    kind = "sampler"
    params: ClassVar = {"k": Int(min=1, max=100), "bands": Int(min=2, max=1000)}
    defaults: ClassVar = {"k": 5, "bands": 10}
    summary = "resample so the reference's rare regions or classes keep their share"
    needs_features = True

    def regions(self, state: StepState) -> RegionModel:
        from tailguard.policy.candidates import reference_for
        from tailguard.policy.tails import RegionModel

        ref, pool = reference_for("tail-preserve", state), state.pool
        if ref.classes is not None and pool.classes is not None:
            return RegionModel.from_classes(np.asarray(ref.classes))
        if ref.features is None or pool.features is None:
            raise ParameterError("tail-preserve needs class labels, or features, in both the pool and the reference")
        return RegionModel.from_features(ref.features, k=self._params["k"], bands=self._params["bands"])
