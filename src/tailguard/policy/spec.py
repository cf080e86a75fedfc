"""The policy spec grammar, in one place, and the composite :class:`Policy` it parses to.

Grammar::

    spec  := step ("+" step)*
    step  := NAME (":" arg)*
    arg   := VALUE                 the step's main parameter (anchor:0.2, fresh:0.1)
           | KEY "=" VALUE         any parameter (filter:k=3, tail-preserve:bands=5)
    NAME  := replace | accumulate | accumulate-subsample | anchor | fresh | filter | tail-preserve
    VALUE := an int, a float, or a word

Rules: each NAME at most once; at most one source (``replace``, ``accumulate``,
``accumulate-subsample``; ``replace`` when none is named). The steps apply in a
fixed order (source, filter, fresh, anchor, tail-preserve; see
:mod:`tailguard.policy.composer`), so ``str(policy)`` lists them in that order and
``parse_policy(str(p)) == p``. Commas are not used, so several specs can be
joined by commas on a command line (``--policy replace,accumulate+anchor:0.2``).

>>> p = parse_policy("filter+accumulate+anchor:0.2")
>>> str(p), p.min_human_fraction
('accumulate+filter+anchor:0.2', 0.2)
>>> parse_policy(str(p)) == p
True
>>> parse_policy("anchor:1.5")
Traceback (most recent call last):
...
tailguard.errors.ParameterError: The 'fraction' parameter of the 'anchor' policy must be a float > 0 and <= 1. \
Got 1.5.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from tailguard.config import stable_hash
from tailguard.errors import ParameterError
from tailguard.policy.gate import GateLimits
from tailguard.policy.pool import Pool
from tailguard.policy.selection import Selection
from tailguard.policy.steps import KIND_ORDER, POLICIES, Replace, Step

if TYPE_CHECKING:
    from tailguard.policy.plan import CompiledPolicy

_INT = re.compile(r"[+-]?\d+")


def _parse_value(text: str) -> Any:
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    if _INT.fullmatch(text):
        return int(text)
    try:
        return float(text)
    except ValueError:
        return text


class Policy:
    """A composite policy: one step per kind at most, applied in :data:`KIND_ORDER`.

    Build one with :func:`parse_policy`. Policies are immutable, hashable,
    picklable and compare by their canonical spec.
    """

    __slots__ = ("_steps",)

    def __init__(self, steps: Iterable[Step]):
        steps = list(steps)
        if not steps:
            raise ParameterError("a policy needs at least one step, e.g. 'accumulate+anchor:0.2'")
        by_kind: dict[str, Step] = {}
        for step in steps:
            if step.kind in by_kind:
                other = by_kind[step.kind]
                if other.name == step.name:
                    raise ParameterError(f"the policy names {step.name!r} twice; name each step once")
                raise ParameterError(
                    f"the policy names two {'sources' if step.kind == 'source' else step.kind + ' steps'}, "
                    f"{other.name!r} and {step.name!r}; use one"
                    + (" (replace, accumulate, accumulate-subsample or another source)" if step.kind == "source"
                       else "")
                )
            by_kind[step.kind] = step
        self._steps = tuple(sorted(steps, key=lambda s: KIND_ORDER.index(s.kind)))

    # -- structure ---------------------------------------------------------------
    @property
    def steps(self) -> tuple[Step, ...]:
        """The named steps, in order of application."""
        return self._steps

    def _kind(self, kind: str) -> Step | None:
        return next((s for s in self._steps if s.kind == kind), None)

    @property
    def source(self) -> Step:
        """The source step (``replace`` when the spec names none)."""
        return self._kind("source") or Replace()

    @property
    def filter_step(self) -> Step | None:
        return self._kind("filter")

    @property
    def dedup_step(self) -> Step | None:
        return self._kind("dedup")

    @property
    def fresh_step(self) -> Step | None:
        return self._kind("fresh")

    @property
    def anchor_step(self) -> Step | None:
        return self._kind("anchor")

    @property
    def sampler_step(self) -> Step | None:
        return self._kind("sampler")

    @property
    def needs_features(self) -> bool:
        """True when a step needs feature vectors or texts (its ``needs_features``: ``filter``, ``dedup``,
        ``tail-preserve``)."""
        return any(s.needs_features for s in self._steps)

    def oldest_round(self, current_round: int) -> int | None:
        """The oldest round whose non-human rows this policy can use from ``current_round`` on
        (``None``: any), from its source's hint when no step needs older rows (``needs_history``).

        >>> parse_policy("replace+anchor:0.2").oldest_round(5), parse_policy("accumulate").oldest_round(5)
        (5, None)
        """
        if any(s.needs_history for s in self._steps):
            return None
        return self.source.oldest_round(current_round)

    @property
    def min_human_fraction(self) -> float:
        """The smallest human fraction this policy promises (``anchor:F`` gives F)."""
        return max((s.min_human_fraction for s in self._steps), default=0.0)

    @property
    def config_id(self) -> str:
        return stable_hash({"policy": str(self)})

    def gate_limits(
        self,
        *,
        max_unknown_fraction: float | None = None,
        max_synthetic_depth: int | None = None,
        allow_no_human: bool = False,
    ) -> GateLimits:
        """The gate limits this policy implies, plus optional unknown-share and depth limits
        and the permission of a mix without human data.

        >>> parse_policy("anchor:0.3").gate_limits(max_unknown_fraction=0.05).min_human_fraction
        0.3
        """
        anchor = self.anchor_step
        return GateLimits(
            min_human_fraction=self.min_human_fraction,
            max_unknown_fraction=max_unknown_fraction,
            max_synthetic_depth=max_synthetic_depth,
            source=anchor.spec() if anchor is not None else None,
            allow_no_human=allow_no_human,
        )

    # -- use ---------------------------------------------------------------------
    def compose(
        self,
        pool: Pool,
        *,
        current_round: int | None = None,
        target_size: int | None = None,
        rng: Any = None,
        reference: Pool | None = None,
        fresh_human: Pool | None = None,
        allow_repeats: bool = True,
    ) -> Selection:
        """Compose a training set from ``pool``.

        Args:
            pool: every candidate row (see :class:`~tailguard.policy.pool.Pool`).
            current_round: the newest round (``replace`` keeps exactly its rows);
                default ``pool.round.max()``.
            target_size: the training-set size for ``replace`` / ``accumulate-subsample``
                (and the base of ``fresh:F``); ``accumulate`` ignores it.
            rng: a ``numpy.random.Generator`` or a seed (``None``: seed 0).
            reference: the human reference for ``filter`` and ``tail-preserve``;
                default the pool's human rows.
            fresh_human: new human rows for ``fresh:F``.
            allow_repeats: let ``tail-preserve`` draw rare rows more than once to fill
                their share (``mix`` passes ``False``: a version is a set).

        >>> import numpy as np
        >>> pool = Pool(origin=["human"] * 4 + ["synthetic"] * 6, round=[0] * 4 + [1] * 6)
        >>> sel = parse_policy("anchor:0.5").compose(pool, current_round=1, target_size=6, rng=0)
        >>> sel.stats.n, sel.stats.n_human, len(sel.excluded)
        (6, 3, 4)
        """
        from tailguard.policy.composer import compose

        return compose(
            self,
            pool,
            current_round=current_round,
            target_size=target_size,
            rng=rng,
            reference=reference,
            fresh_human=fresh_human,
            allow_repeats=allow_repeats,
        )

    def compile(self) -> CompiledPolicy | None:
        """The compiled plan of a source-only policy (:mod:`tailguard.policy.plan`), else ``None``.

        >>> parse_policy("replace").compile() is not None, parse_policy("accumulate+anchor:0.2").compile()
        (True, None)
        """
        from tailguard.policy.plan import compile_policy

        return compile_policy(self)

    # -- identity ----------------------------------------------------------------
    def __str__(self) -> str:
        return "+".join(s.spec() for s in self._steps)

    def __repr__(self) -> str:
        return f"parse_policy({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Policy) and str(other) == str(self)

    def __hash__(self) -> int:
        return hash(str(self))

    def __getstate__(self) -> str:
        return str(self)

    def __setstate__(self, state: str) -> None:
        self._steps = parse_policy(state)._steps


def parse_step(text: str, *, spec: str | None = None) -> Step:
    """Parse one ``NAME(:arg)*`` step.

    >>> parse_step("dedup:jaccard=0.7:knn=faiss").get_params()
    {'jaccard': 0.7, 'duplicate_quantile': 0.001, 'knn': 'faiss'}
    """
    where = f" in policy spec {spec!r}" if spec is not None and spec != text else ""
    name, *args = [part.strip() for part in text.split(":")]
    cls = POLICIES.get(name)
    params: dict[str, Any] = {}
    for arg in args:
        if not arg:
            raise ParameterError(f"step {text!r}{where} has an empty ':' argument")
        if "=" in arg:
            key, _, value = arg.partition("=")
            key = key.strip()
        elif cls.positional is None:
            keys = ", ".join(sorted(cls.params)) or "none"
            raise ParameterError(
                f"the {name!r} policy takes no bare value; got {arg!r}{where}. Use key=value (keys: {keys})"
            )
        else:
            key, value = cls.positional, arg
        if key in params:
            raise ParameterError(f"step {text!r}{where} sets {key!r} twice")
        params[key] = _parse_value(value.strip())
    return cls(**params)


def parse_policy(spec: str | Policy) -> Policy:
    """Parse a spec such as ``"accumulate+anchor:0.2+filter"`` into a :class:`Policy`.

    Unknown names raise :class:`~tailguard.errors.UnknownChoiceError` with
    did-you-mean suggestions; bad values raise :class:`~tailguard.errors.ParameterError`.

    >>> parse_policy("acumulate+anchor:0.2")
    Traceback (most recent call last):
    ...
    tailguard.errors.UnknownChoiceError: Unknown policy 'acumulate'. Did you mean 'accumulate', \
'accumulate-subsample'? Valid choices: accumulate, accumulate-subsample, anchor, dedup, filter, fresh, replace, \
tail-preserve.
    """
    if isinstance(spec, Policy):
        return spec
    if not isinstance(spec, str) or not spec.strip():
        raise ParameterError(f"a policy spec must be a non-empty string such as 'accumulate+anchor:0.2'. Got {spec!r}.")
    text = spec.strip()
    parts = [p.strip() for p in text.split("+")]
    if any(not p for p in parts):
        raise ParameterError(f"policy spec {text!r} has an empty step; check the '+' signs")
    return Policy(parse_step(p, spec=text) for p in parts)
