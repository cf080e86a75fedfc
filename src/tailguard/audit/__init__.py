"""The collapse audit: run a tail-first metric suite against a human reference,
judge each number, name the failure mode, and write JSON + HTML reports.

>>> import numpy as np
>>> from tailguard.audit import audit, AuditConfig
>>> rng = np.random.default_rng(1)
>>> report = audit(rng.normal(size=(500, 4)), rng.normal(size=(500, 4)), config=AuditConfig(quick=True))
>>> report.verdict in ("ok", "warn", "collapse")
True
"""

from tailguard.audit.config import AuditConfig
from tailguard.audit.core import audit
from tailguard.audit.diagnosis import MODES, diagnose
from tailguard.audit.inputs import AuditInput, ReferenceOriginWarning, as_input
from tailguard.audit.results import AuditReport, AveragesTrap, Diagnosis, MetricRow
from tailguard.audit.sources import Source
from tailguard.audit.suite import SuiteEntry, suite_for
from tailguard.audit.thresholds import STATUSES, Rule, Thresholds

__all__ = [
    "MODES",
    "STATUSES",
    "AuditConfig",
    "AuditInput",
    "AuditReport",
    "AveragesTrap",
    "Diagnosis",
    "MetricRow",
    "ReferenceOriginWarning",
    "Rule",
    "Source",
    "SuiteEntry",
    "Thresholds",
    "as_input",
    "audit",
    "diagnose",
    "suite_for",
]
