"""The provenance ledger: samples with origins, immutable versions, model runs and lineage.

>>> from tailguard.ledger import ORIGINS
>>> ORIGINS
('human', 'synthetic', 'pseudo_label', 'unknown')
"""

from typing import TYPE_CHECKING, Any

from tailguard.ledger.types import (
    MODALITIES,
    ORIGINS,
    Box,
    Conflict,
    CountChange,
    IngestReport,
    Lineage,
    LineageEdge,
    LineageNode,
    ModelRun,
    NewSample,
    OriginChange,
    RunMetric,
    SampleRecord,
    SkippedItem,
    VerifyProblem,
    VerifyReport,
    VersionComposition,
    VersionDiff,
    VersionInfo,
    VersionSummary,
)

__all__ = [
    "MODALITIES",
    "ORIGINS",
    "AuditPoint",
    "AuditSummary",
    "Box",
    "Conflict",
    "CountChange",
    "IngestReport",
    "Ledger",
    "Lineage",
    "LineageEdge",
    "LineageNode",
    "ModelRun",
    "NewSample",
    "OriginChange",
    "RunMetric",
    "SampleRecord",
    "SkippedItem",
    "VerifyProblem",
    "VerifyReport",
    "VersionComposition",
    "VersionDiff",
    "VersionInfo",
    "VersionSummary",
]

if TYPE_CHECKING:
    from tailguard.ledger.audits import AuditPoint, AuditSummary
    from tailguard.ledger.store import Ledger

#: Names whose modules import SQLAlchemy: loaded on first use, so that code reading only the
#: ledger's types or payload decoders (a simulation, a policy on arrays) does not pay for it.
_LAZY = {"Ledger": "tailguard.ledger.store", "AuditPoint": "tailguard.ledger.audits",
         "AuditSummary": "tailguard.ledger.audits"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'tailguard.ledger' has no attribute {name!r}")
