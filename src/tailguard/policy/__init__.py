"""Anti-collapse mixing policies, the composer and the gate.

A policy spec such as ``"accumulate+anchor:0.2+filter"`` parses to a
:class:`Policy` that composes a training set from a :class:`Pool` of candidate
rows (arrays, for the simulator) or from ledger versions (:func:`mix`). Every
row left out is logged with its reason, and a :class:`Gate` (in memory) or
:func:`check_gate` / :func:`enforce_gate` (on a ledger version) refuses mixes
that break the policy's limits (a mix without human data among them, unless
permitted) or, given a human reference, whose audit reaches a verdict. The grammar is in :mod:`tailguard.policy.spec`,
the order of application in :mod:`tailguard.policy.composer`.

>>> import numpy as np
>>> from tailguard.policy import parse_policy, Pool
>>> pool = Pool(origin=["human"] * 5 + ["synthetic"] * 5, depth=[0] * 5 + [1] * 5, round=[0] * 5 + [1] * 5)
>>> sel = parse_policy("replace+anchor:0.2").compose(pool, current_round=1, target_size=5, rng=0)
>>> sel.stats.n, sel.stats.n_human
(5, 1)
>>> sorted(set(sel.reason_counts()))[0]
'anchor:0.2: not drawn (non-human budget 4 of 5 keeps the human fraction >= 0.2)'
"""

from tailguard.origins import Origin
from tailguard.policy.auditing import AuditCheck, audit_check
from tailguard.policy.candidates import Exclusion, StepState
from tailguard.policy.gate import Gate, GateDecision, GateLimits
from tailguard.policy.mixing import MixReport, check_gate, enforce_gate, mix
from tailguard.policy.pool import ORIGIN_NAMES, Pool
from tailguard.policy.selection import MixStats, Selection
from tailguard.policy.spec import Policy, parse_policy, parse_step
from tailguard.policy.steps import POLICIES, Step, register_step, validate_step

__all__ = [
    "ORIGIN_NAMES",
    "POLICIES",
    "AuditCheck",
    "Exclusion",
    "Gate",
    "GateDecision",
    "GateLimits",
    "MixReport",
    "MixStats",
    "Origin",
    "Policy",
    "Pool",
    "Selection",
    "Step",
    "StepState",
    "audit_check",
    "check_gate",
    "enforce_gate",
    "mix",
    "parse_policy",
    "parse_step",
    "register_step",
    "validate_step",
]
