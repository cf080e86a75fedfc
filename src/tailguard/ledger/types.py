"""Typed records the ledger accepts and returns (frozen dataclasses, JSON-friendly).

>>> Box(class_id=0, x=0.5, y=0.5, w=0.2, h=0.1, origin="human").line()
'0 0.5 0.5 0.2 0.1'
>>> Box(1, 0.5, 0.5, 0.2, 0.2, "human", task="segment", points=(0.4, 0.4, 0.6, 0.4, 0.5, 0.6), point_dim=2).line()
'1 0.4 0.4 0.6 0.4 0.5 0.6'
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from tailguard.origins import ORIGINS

MODALITIES: tuple[str, ...] = ("text", "image", "detection", "tabular", "vector")


def _fmt(value: float) -> str:
    return format(float(value), ".6g")


@dataclass(frozen=True)
class Box:
    """One label row of an image, with its own origin, generator and confidence.

    ``task`` says which Ultralytics task it belongs to (:data:`tailguard.tasks.TASKS`).
    ``x, y, w, h`` are always the normalised axis-aligned box (a polygon's or oriented
    box's bounds; the whole image, ``0.5 0.5 1 1``, for a classification label), so box
    statistics read every task alike. ``points`` holds the task's own geometry,
    ``point_dim`` numbers per point: polygon vertices (segment, 2), the four corners
    (obb, 2) or keypoints (pose: x, y and, when ``point_dim`` is 3, visibility).
    """

    class_id: int
    x: float
    y: float
    w: float
    h: float
    origin: str
    confidence: float | None = None
    generator: str | None = None
    task: str = "detect"
    points: tuple[float, ...] = ()
    point_dim: int = 0

    def line(self) -> str:
        """The canonical Ultralytics label line of this row for its task (6 significant digits)."""
        if self.task == "detect":
            return " ".join([str(int(self.class_id)), *(_fmt(v) for v in (self.x, self.y, self.w, self.h))])
        from tailguard.tasks import label_format

        return label_format(self.task).line(self)

    def identity(self) -> str:
        """What tells this row from the others of its sample, origin and generator: its line,
        prefixed by the task unless it is a detection box (a 4-point polygon and an oriented box
        share one line)."""
        return self.line() if self.task == "detect" else f"{self.task}:{self.line()}"


@dataclass(frozen=True)
class NewSample:
    """A sample to add programmatically (simulator, policies, pseudo-labelling).

    The id is the blake3 hash of ``content`` (or of the file at ``uri``). For detection
    samples the id hashes the image bytes only, so labels of every origin attach to the
    same image id; each box is stored as its own row with its own origin.

    >>> s = NewSample(content=b"hello", uri=None, modality="text", origin="human")
    >>> s.origin
    'human'
    """

    content: bytes | None
    uri: str | None
    modality: str
    origin: str
    generator: str | None = None
    generation: int | None = None
    parents: tuple[str, ...] = ()
    source: str | None = None
    verified_by: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    labels: tuple[Box, ...] = ()


@dataclass(frozen=True)
class SampleRecord:
    """A stored sample with its labels and synthetic depth."""

    id: str
    uri: str | None
    modality: str
    origin: str
    verified_by: str | None
    verified_at: dt.datetime | None
    generator: str | None
    generation: int | None
    parents: tuple[str, ...]
    source: str | None
    created_at: dt.datetime
    extra: dict[str, Any]
    labels: tuple[Box, ...]
    synthetic_depth: int


@dataclass(frozen=True)
class SkippedItem:
    """An input item that ``skip_bad`` left out, with the reason (the typed error's message)."""

    item: str
    reason: str


@dataclass(frozen=True)
class Conflict:
    """Disagreeing provenance for one sample: two claims, or a claim against file evidence."""

    sample_id: str
    kind: str  # "claim" (two origins claimed) | "evidence" (metadata contradicts the claim) | "class_names"
    claimed: str
    other: str
    detail: str
    item: str | None = None


@dataclass(frozen=True)
class IngestReport:
    """What one ingest did."""

    added: int
    existing: int
    skipped: list[SkippedItem]
    conflicts: list[Conflict]
    version: str | None
    sample_ids: list[str]  # one per occurrence read, in input order
    ingest_id: int | None = None
    duplicates: int = 0  # occurrences whose bytes came earlier in the same input

    @property
    def occurrences(self) -> int:
        """How many samples (occurrences) were read: repeats count, as they do in training."""
        return len(self.sample_ids)


@dataclass(frozen=True)
class VersionInfo:
    """A version: ``n_members`` counts occurrences (repeats included), ``n_distinct`` distinct contents."""

    name: str
    created_at: dt.datetime
    n_members: int
    description: str
    extra: dict[str, Any]
    n_distinct: int = 0
    digest: str | None = None


@dataclass(frozen=True)
class VersionSummary:
    n: int
    by_origin: dict[str, int]
    by_generation: dict[int | None, int]
    by_class: dict[int, int]
    human_fraction: float
    unknown_fraction: float
    max_synthetic_depth: int
    conflicts: list[Conflict]
    n_distinct: int = 0
    #: the boxes (labels) counted in ``by_class``, by the origin of the label: a version's pseudo-labels
    #: and its human boxes are summed there, so this says how many of each it holds
    boxes_by_origin: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class VersionComposition:
    """A version's occurrences by origin and by generation (``None``: no generation recorded)."""

    name: str
    n: int
    by_origin: dict[str, int]
    by_generation: dict[int | None, int]


@dataclass(frozen=True)
class OriginChange:
    sample_id: str
    before: str
    after: str


@dataclass(frozen=True)
class CountChange:
    """A content in both versions that occurs a different number of times."""

    sample_id: str
    before: int
    after: int


@dataclass(frozen=True)
class VersionDiff:
    """Contents only in B (``added``), only in A (``removed``), with other origins, or other counts.

    ``origin_changed`` entries name the origins as ``human`` or ``human+synthetic`` when
    one content occurs under several.
    """

    added: list[str]
    removed: list[str]
    origin_changed: list[OriginChange]
    count_changed: list[CountChange] = field(default_factory=list)


@dataclass(frozen=True)
class VerifyProblem:
    sample_id: str
    uri: str | None
    reason: str


@dataclass(frozen=True)
class VerifyReport:
    """What ``verify`` found: contents that rehash fine, missing or changed ones, a digest problem, and stored
    figures (:mod:`tailguard.ledger.stats`) that no longer agree with the manifest."""

    ok: int
    missing: list[VerifyProblem]
    changed: list[VerifyProblem]
    occurrences: int = 0
    digest_problem: str = ""  # empty when the manifest digest matches
    stats_problem: str = ""  # empty when the version's stored figures agree with its manifest

    @property
    def passed(self) -> bool:
        return not self.missing and not self.changed and not self.digest_problem and not self.stats_problem


@dataclass(frozen=True)
class RunMetric:
    name: str
    value: float
    step: int | None
    recorded_at: dt.datetime


@dataclass(frozen=True)
class ModelRun:
    id: str
    model_id: str
    trained_on: str | None
    created_at: dt.datetime
    config: dict[str, Any]
    extra: dict[str, Any]
    n_produced: int


@dataclass(frozen=True)
class LineageNode:
    """One node of a lineage graph: a sample, a version or a model run."""

    id: str
    kind: str  # "sample" | "version" | "run"
    label: str
    origin: str | None = None
    synthetic_depth: int | None = None
    generation: int | None = None


@dataclass(frozen=True)
class LineageEdge:
    child: str
    parent: str
    relation: str  # "parent" | "produced_by" | "trained_on" | "member_of"


@dataclass(frozen=True)
class Lineage:
    """Ancestry of a sample or a version, with each sample's synthetic depth."""

    target: str
    kind: str
    nodes: list[LineageNode]
    edges: list[LineageEdge]
    depth_histogram: dict[int, int] = field(default_factory=dict)

    def node(self, node_id: str) -> LineageNode:
        for n in self.nodes:
            if n.id == node_id:
                return n
        raise KeyError(node_id)


__all__ = [
    "MODALITIES",
    "ORIGINS",
    "Box",
    "Conflict",
    "CountChange",
    "IngestReport",
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
