"""The gate: refuse a training mix that breaks a policy's limits, and say which numbers broke them.

Four rules on the mix's numbers, the first always on, the others optional:

* the mix holds human data (``n_human > 0``) unless ``allow_no_human`` permits
  a mix without any (the permission is noted in the decision);
* the human fraction must be ``>= min_human_fraction`` (``anchor:F`` sets it);
* the unknown-origin share must be ``<= max_unknown_fraction``;
* the largest synthetic depth must be ``<= max_synthetic_depth``.

A gate given a human reference also audits the mix (see
:mod:`tailguard.policy.auditing`) and refuses on the verdict.

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
>>> GateLimits().check(MixStats(n=10, n_human=0, n_unknown=0, max_synthetic_depth=1)).reasons
('the mix holds no human data (0 of 10 samples are human); pass --allow-no-human (allow_no_human=True) to permit it',)
>>> GateLimits(allow_no_human=True).check(MixStats(n=10, n_human=0, n_unknown=0, max_synthetic_depth=1)).notes
('no human data (0 of 10 samples are human): permitted by --allow-no-human',)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tailguard.errors import GateRefusedError, ParameterError
from tailguard.policy.selection import MixStats, Selection
from tailguard.validation import Bool, Float, Int, Str, validate_params

if TYPE_CHECKING:
    from tailguard.policy.auditing import AuditCheck

_LIMIT_TABLE = {
    "min_human_fraction": Float(min=0, max=1),
    "max_unknown_fraction": Float(min=0, max=1, optional=True),
    "max_synthetic_depth": Int(min=0, optional=True),
    "source": Str(optional=True),
    "allow_no_human": Bool(),
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
    """What a mix must satisfy. ``source`` names what set the human minimum (e.g. ``anchor:0.3``).

    ``allow_no_human=True`` permits a mix without any human sample (refused by default:
    training only on model output is the textbook collapse recipe).
    """

    min_human_fraction: float = 0.0
    max_unknown_fraction: float | None = None
    max_synthetic_depth: int | None = None
    source: str | None = None
    allow_no_human: bool = False

    def __post_init__(self) -> None:
        validate_params("GateLimits", self.__dict__, _LIMIT_TABLE)

    def check(self, stats: MixStats) -> GateDecision:
        """Judge ``stats``; every broken rule gives one reason naming both numbers."""
        if stats.n == 0:
            return GateDecision(ok=False, reasons=("the mix is empty (0 samples)",), stats=stats, limits=self)
        reasons: list[str] = []
        notes: list[str] = []
        if stats.n_human == 0:
            if self.allow_no_human:
                notes.append(f"no human data (0 of {stats.n} samples are human): permitted by --allow-no-human")
            else:
                reasons.append(
                    f"the mix holds no human data (0 of {stats.n} samples are human); "
                    "pass --allow-no-human (allow_no_human=True) to permit it"
                )
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
        return GateDecision(ok=not reasons, reasons=tuple(reasons), stats=stats, limits=self, notes=tuple(notes))

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class GateDecision:
    """The gate's verdict: ``ok`` and, when refused, one reason per broken rule.

    ``notes`` record permissions that were used (``allow_no_human``); ``audit`` is the
    :class:`~tailguard.policy.auditing.AuditCheck` when the gate audited the mix.
    """

    ok: bool
    reasons: tuple[str, ...]
    stats: MixStats
    limits: GateLimits = field(default_factory=GateLimits)
    notes: tuple[str, ...] = ()
    audit: AuditCheck | None = None

    def __bool__(self) -> bool:
        return self.ok

    def with_audit(self, check: AuditCheck) -> GateDecision:
        """This decision joined with an audit's: refused when either refuses."""
        return GateDecision(
            ok=self.ok and not check.refused,
            reasons=self.reasons + check.reasons,
            stats=self.stats,
            limits=self.limits,
            notes=self.notes,
            audit=check,
        )

    def raise_if_refused(self, *, version: str | None = None) -> GateDecision:
        """Raise :class:`~tailguard.errors.GateRefusedError` when refused; else return self."""
        if not self.ok:
            raise GateRefusedError(list(self.reasons), path=version)
        return self

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "reasons": list(self.reasons),
            "notes": list(self.notes),
            "stats": self.stats.to_dict(),
            "limits": self.limits.to_dict(),
            "audit": self.audit.to_dict() if self.audit is not None else None,
        }


class Gate:
    """In-memory gate over :class:`MixStats` or a :class:`Selection` (the simulator's side).

    With ``reference`` (anything :func:`tailguard.audit.audit` reads: an array, a list of
    texts, a :class:`~tailguard.audit.Source`), :meth:`check` also audits the mix's own
    samples, passed as ``samples=``, and refuses when the verdict reaches ``fail_on``
    or is ``insufficient``.

    >>> Gate(GateLimits(max_unknown_fraction=0.05)).check(MixStats(10, 5, 1, 0)).reasons
    ('unknown-origin share 0.10 > 0.05 allowed (max unknown fraction)',)
    """

    def __init__(
        self,
        limits: GateLimits,
        *,
        reference: Any = None,
        fail_on: str = "collapse",
        audit_config: Any = None,
        seed: int = 0,
    ):
        from tailguard.policy.auditing import check_fail_on

        self.limits = limits
        self.reference = reference
        self.fail_on = check_fail_on(fail_on)
        self.audit_config = audit_config
        self.seed = seed

    def check(self, mix: MixStats | Selection, *, samples: Any = None) -> GateDecision:
        stats = mix.stats if isinstance(mix, Selection) else mix
        decision = self.limits.check(stats)
        if self.reference is None:
            return decision
        if samples is None:
            raise ParameterError("this gate audits the mix against its reference: pass samples=<the mix's samples>")
        from tailguard.policy.auditing import audit_check

        return decision.with_audit(
            audit_check(samples, self.reference, fail_on=self.fail_on, config=self.audit_config, seed=self.seed)
        )

    def enforce(self, mix: MixStats | Selection, *, samples: Any = None) -> GateDecision:
        """Like :meth:`check`, but raise :class:`~tailguard.errors.GateRefusedError` on refusal."""
        return self.check(mix, samples=samples).raise_if_refused()

    def __repr__(self) -> str:
        extra = f", reference=..., fail_on={self.fail_on!r}" if self.reference is not None else ""
        return f"Gate({self.limits!r}{extra})"
