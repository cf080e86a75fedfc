"""The gate: refuse a training mix that breaks a policy's limits, and say which numbers broke them.

Three rules, each optional:

* the human fraction must be ``>= min_human_fraction`` (``anchor:F`` sets it);
* the unknown-origin share must be ``<= max_unknown_fraction``;
* the largest synthetic depth must be ``<= max_synthetic_depth``.

Training code calls :meth:`Gate.enforce` (in memory) or
:func:`tailguard.policy.enforce_gate` (on a ledger version) before it trains.

>>> from tailguard.policy.selection import MixStats
>>> limits = GateLimits(min_human_fraction=0.3, source="anchor:0.3", max_synthetic_depth=2)
>>> decision = limits.check(MixStats(n=100, n_human=12, n_unknown=0, max_synthetic_depth=3))
>>> decision.ok
False
>>> for reason in decision.reasons:
...     print(reason)
human fraction 0.12 < 0.30 required by anchor:0.3
synthetic depth 3 > 2 allowed (max synthetic depth)
>>> Gate(limits).enforce(MixStats(n=10, n_human=5, n_unknown=0, max_synthetic_depth=1)).ok
True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from tailguard.errors import GateRefusedError
from tailguard.policy.selection import MixStats, Selection
from tailguard.validation import Float, Int, Str, validate_params

_LIMIT_TABLE = {
    "min_human_fraction": Float(min=0, max=1),
    "max_unknown_fraction": Float(min=0, max=1, optional=True),
    "max_synthetic_depth": Int(min=0, optional=True),
    "source": Str(optional=True),
}


def _pair(value: float, limit: float) -> tuple[str, str]:
    """Format two fractions with enough digits that a breach never prints as equal."""
    for digits in (2, 3, 4, 6):
        a, b = f"{value:.{digits}f}", f"{limit:.{digits}f}"
        if a != b:
            return a, b
    return repr(value), repr(limit)


@dataclass(frozen=True)
class GateLimits:
    """What a mix must satisfy. ``source`` names what set the human minimum (e.g. ``anchor:0.3``)."""

    min_human_fraction: float = 0.0
    max_unknown_fraction: float | None = None
    max_synthetic_depth: int | None = None
    source: str | None = None

    def __post_init__(self) -> None:
        validate_params("GateLimits", self.__dict__, _LIMIT_TABLE)

    def check(self, stats: MixStats) -> GateDecision:
        """Judge ``stats``; every broken rule gives one reason naming both numbers."""
        if stats.n == 0:
            return GateDecision(ok=False, reasons=("the mix is empty (0 samples)",), stats=stats, limits=self)
        reasons: list[str] = []
        if stats.human_fraction < self.min_human_fraction:
            got, need = _pair(stats.human_fraction, self.min_human_fraction)
            by = self.source or "the policy"
            reasons.append(f"human fraction {got} < {need} required by {by}")
        if self.max_unknown_fraction is not None and stats.unknown_fraction > self.max_unknown_fraction:
            got, cap = _pair(stats.unknown_fraction, self.max_unknown_fraction)
            reasons.append(f"unknown-origin share {got} > {cap} allowed (max unknown fraction)")
        if self.max_synthetic_depth is not None and stats.max_synthetic_depth > self.max_synthetic_depth:
            reasons.append(
                f"synthetic depth {stats.max_synthetic_depth} > {self.max_synthetic_depth} allowed "
                "(max synthetic depth)"
            )
        return GateDecision(ok=not reasons, reasons=tuple(reasons), stats=stats, limits=self)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class GateDecision:
    """The gate's verdict: ``ok`` and, when refused, one reason per broken rule."""

    ok: bool
    reasons: tuple[str, ...]
    stats: MixStats
    limits: GateLimits = field(default_factory=GateLimits)

    def __bool__(self) -> bool:
        return self.ok

    def raise_if_refused(self, *, version: str | None = None) -> GateDecision:
        """Raise :class:`~tailguard.errors.GateRefusedError` when refused; else return self."""
        if not self.ok:
            raise GateRefusedError(list(self.reasons), path=version)
        return self

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "reasons": list(self.reasons),
            "stats": self.stats.to_dict(),
            "limits": self.limits.to_dict(),
        }


class Gate:
    """In-memory gate over :class:`MixStats` or a :class:`Selection` (the simulator's side).

    >>> Gate(GateLimits(max_unknown_fraction=0.05)).check(MixStats(10, 5, 1, 0)).reasons
    ('unknown-origin share 0.10 > 0.05 allowed (max unknown fraction)',)
    """

    def __init__(self, limits: GateLimits):
        self.limits = limits

    def check(self, mix: MixStats | Selection) -> GateDecision:
        stats = mix.stats if isinstance(mix, Selection) else mix
        return self.limits.check(stats)

    def enforce(self, mix: MixStats | Selection) -> GateDecision:
        """Like :meth:`check`, but raise :class:`~tailguard.errors.GateRefusedError` on refusal."""
        return self.check(mix).raise_if_refused()

    def __repr__(self) -> str:
        return f"Gate({self.limits!r})"
