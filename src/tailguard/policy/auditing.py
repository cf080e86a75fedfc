"""The gate's audit: judge a mix against a human reference with :func:`tailguard.audit.audit`.

A gate given a reference refuses when

* the audit's verdict reaches ``fail_on`` (``"warn"``: warn or collapse;
  ``"collapse"``: collapse only), naming the metrics that reached it; or
* the verdict is ``insufficient`` (too little could be measured): a gate never
  passes what it did not check.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> ref = rng.normal(size=(400, 3))
>>> check = audit_check(rng.normal(size=(400, 3)) * 0.2, ref, fail_on="warn", reference_name="human")
>>> check.refused, check.verdict
(True, 'collapse')
>>> check.reasons[0].startswith("audit against human: verdict collapse reaches --fail-on warn (")
True
>>> audit_check(ref[:1], ref, fail_on="collapse").reasons[0].startswith("audit against reference: verdict insufficient")
True
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from tailguard.errors import UnknownChoiceError

#: The levels ``fail_on`` may name, mildest first.
FAIL_ON = ("warn", "collapse")
_LEVEL = {"ok": 0, "warn": 1, "collapse": 2}
#: How many flagged metrics a refusal names (the rest are counted).
NAMED_METRICS = 6


def check_fail_on(fail_on: str) -> str:
    """``fail_on`` if it is ``"warn"`` or ``"collapse"``; else :class:`UnknownChoiceError`."""
    if fail_on not in FAIL_ON:
        raise UnknownChoiceError("fail_on level", str(fail_on), FAIL_ON)
    return fail_on


@dataclass(frozen=True)
class AuditCheck:
    """What the gate's audit found and whether it refuses."""

    reference: str
    fail_on: str
    verdict: str
    refused: bool
    reasons: tuple[str, ...]
    flagged: tuple[tuple[str, str], ...]  #: (metric row, status) at or above ``fail_on``
    insufficient_reason: str = ""
    report: Any = field(default=None, compare=False, repr=False)  #: the :class:`~tailguard.audit.AuditReport`

    def to_dict(self) -> dict[str, Any]:
        return {
            "reference": self.reference,
            "fail_on": self.fail_on,
            "verdict": self.verdict,
            "refused": self.refused,
            "reasons": list(self.reasons),
            "flagged": [{"metric": m, "status": s} for m, s in self.flagged],
            "insufficient_reason": self.insufficient_reason,
        }


def judge_report(report: Any, *, fail_on: str, reference_name: str) -> AuditCheck:
    """Turn an :class:`~tailguard.audit.AuditReport` into the gate's :class:`AuditCheck`."""
    check_fail_on(fail_on)
    verdict = str(report.verdict)
    where = f"audit against {reference_name}"
    if verdict not in _LEVEL:  # insufficient, or anything this gate does not know: fail closed
        why = getattr(report, "insufficient_reason", "") or "not enough could be measured"
        reason = f"{where}: verdict {verdict} ({why}); a gate never passes what it did not check"
        return AuditCheck(reference_name, fail_on, verdict, True, (reason,), (), why, report)
    need = _LEVEL[fail_on]
    flagged = tuple((row.name, row.status) for row in report.metrics if _LEVEL.get(row.status, 0) >= need)
    if _LEVEL[verdict] < need:
        return AuditCheck(reference_name, fail_on, verdict, False, (), flagged, "", report)
    named = ", ".join(f"{m} {s}" for m, s in flagged[:NAMED_METRICS])
    more = f" and {len(flagged) - NAMED_METRICS} more" if len(flagged) > NAMED_METRICS else ""
    reason = f"{where}: verdict {verdict} reaches --fail-on {fail_on} ({named or 'no single metric'}{more})"
    return AuditCheck(reference_name, fail_on, verdict, True, (reason,), flagged, "", report)


def audit_check(
    candidate: Any,
    reference: Any,
    *,
    fail_on: str = "collapse",
    config: Any = None,
    seed: int = 0,
    reference_name: str | None = None,
) -> AuditCheck:
    """Audit ``candidate`` (the mix) against ``reference`` and judge the verdict for the gate.

    Both are anything :func:`tailguard.audit.audit` reads. ``config`` is an
    :class:`~tailguard.audit.AuditConfig`.
    """
    import warnings

    from tailguard.audit import audit
    from tailguard.audit.inputs import ReferenceOriginWarning, origin_summary

    check_fail_on(fail_on)
    with warnings.catch_warnings():  # said below as a refusal, not as a warning as well
        warnings.simplefilter("ignore", ReferenceOriginWarning)
        report = audit(candidate, reference, config=config, seed=seed)
    name = reference_name or getattr(reference, "label", None) or "reference"
    check = judge_report(report, fail_on=fail_on, reference_name=str(name))
    origins = report.config.get("reference_origins")
    if origins:  # the gate promises an audit against human data: one against anything else is not that check
        why = (f"the reference {name!r} is not all human ({origin_summary(origins)}): the gate audits against "
               "human data only")
        check = replace(check, refused=True, reasons=(*check.reasons, why))
    return check
