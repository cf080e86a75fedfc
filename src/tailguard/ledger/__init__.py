"""The provenance ledger: samples with origins, immutable versions, model runs and lineage.

>>> from tailguard.ledger import ORIGINS
>>> ORIGINS
('human', 'synthetic', 'pseudo_label', 'unknown')
"""

from tailguard.ledger.audits import AuditPoint, AuditSummary
from tailguard.ledger.store import Ledger
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
