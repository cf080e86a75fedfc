"""The policy steps a spec is made of, and the ``policy`` registry.

Each step is a small :class:`~tailguard.config.Configurable`: a validated
parameter table and nothing else. What the steps *do* together is the
composer's job (:mod:`tailguard.policy.composer`), which applies them in one
fixed order whatever order a spec names them in:

====  ==========  ===============================================================
step  kind        names
====  ==========  ===============================================================
1     source      ``replace`` | ``accumulate`` | ``accumulate-subsample`` (default ``replace``)
2     filter      ``filter``
3     dedup       ``dedup``
4     fresh       ``fresh:F``
5     anchor      ``anchor:F``
6     sampler     ``tail-preserve``
====  ==========  ===============================================================

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

from typing import Any, ClassVar

from tailguard.config import Configurable
from tailguard.errors import ParameterError
from tailguard.registry import Registry
from tailguard.validation import Bool, Float, Int, OneOf, validate_params

#: Every step the spec grammar knows, by name.
POLICIES: Registry[type[Step]] = Registry("policy")

#: The order the composer applies step kinds in.
KIND_ORDER: tuple[str, ...] = ("source", "filter", "dedup", "fresh", "anchor", "sampler")


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

    @property
    def min_human_fraction(self) -> float:
        """The human fraction this step guarantees (0 unless it anchors)."""
        return 0.0

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.get_params() == self.get_params()  # type: ignore[union-attr]

    def __hash__(self) -> int:
        return hash((self.name, tuple(sorted(self._params.items()))))

    def __repr__(self) -> str:
        return f"<{self.spec()}>"


def register_step(cls: type[Step]) -> type[Step]:
    """Class decorator: add a step to :data:`POLICIES` under its ``name``."""
    if cls.kind not in KIND_ORDER:
        raise ParameterError(f"step kind {cls.kind!r} of {cls.__name__} is not one of {KIND_ORDER}")
    return POLICIES.register(cls.name)(cls)


@register_step
class Replace(Step):
    """Train only on the newest round's output (items with ``round == current_round``)."""

    name = "replace"
    kind = "source"
    summary = "train only on the previous generation's output"


@register_step
class Accumulate(Step):
    """Keep every item produced so far (``round <= current_round``); the size grows."""

    name = "accumulate"
    kind = "source"
    summary = "keep all data so far"


@register_step
class AccumulateSubsample(Step):
    """Accumulate, then draw a seeded subsample of ``target_size`` items."""

    name = "accumulate-subsample"
    kind = "source"
    summary = "accumulate, but hold the training size fixed"


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


@register_step
class Dedup(Step):
    """Keep one representative of each near-duplicate cluster (human rows first; never drop human rows).

    Texts: estimated Jaccard of word-bigram shingles ``>= jaccard`` (MinHash + LSH; see
    :mod:`tailguard.scoring.clusters` for why 0.3). Vectors: an
    exact copy, or within the ``duplicate_quantile`` quantile of the reference's
    nearest-neighbour spacing, rescaled to the pool's size (see :mod:`tailguard.policy.dedup`).
    """

    name = "dedup"
    kind = "dedup"
    params: ClassVar = {
        "jaccard": Float(min=0, max=1, min_open=True),
        "duplicate_quantile": Float(min=0, max=0.5),
        "knn": OneOf(("auto", "exact", "faiss")),
    }
    defaults: ClassVar = {"jaccard": 0.3, "duplicate_quantile": 0.001, "knn": "auto"}
    summary = "keep one representative of each near-duplicate cluster"


@register_step
class Fresh(Step):
    """Add ``fraction × target_size`` new human items from ``fresh_human`` each round (MAD's fresh loop)."""

    name = "fresh"
    kind = "fresh"
    positional = "fraction"
    required = ("fraction",)
    params: ClassVar = {"fraction": Float(min=0, max=1, min_open=True)}
    summary = "a fraction F of new human data each generation"


@register_step
class Anchor(Step):
    """At least ``fraction`` of every training set is human: add human items, drop synthetic ones."""

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

    name = "tail-preserve"
    kind = "sampler"
    params: ClassVar = {"k": Int(min=1, max=100), "bands": Int(min=2, max=1000)}
    defaults: ClassVar = {"k": 5, "bands": 10}
    summary = "resample so the reference's rare regions or classes keep their share"
