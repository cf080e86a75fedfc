"""What every ingest reader yields: prepared items, or bad items for ``--skip-bad``."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from tailguard.errors import TailguardError
from tailguard.ledger.provenance import Evidence
from tailguard.ledger.types import NewSample


@dataclass(frozen=True)
class IngestOptions:
    """The flags of ``tailguard ingest`` that apply to every item."""

    origin: str | None = None
    generator: str | None = None
    generation: int | None = None
    verified_by: str | None = None


@dataclass
class Item:
    """One sample read from the input, with the evidence and claim conflicts found for it."""

    sample: NewSample
    item: str
    sample_id: str | None = None
    evidence: list[Evidence] = field(default_factory=list)
    conflicts: list[tuple[str, str, str, str]] = field(default_factory=list)  # kind, claimed, other, detail
    class_names: list[str] | None = None


@dataclass
class BadItem:
    """An input item that could not be read; ``error`` names the file (and line)."""

    item: str
    error: TailguardError


Reader = Iterator[Item | BadItem]


def claim(record_origin: str | None, options: IngestOptions, item: str) -> tuple[str | None, list]:
    """The origin claimed for one item: its own field, else the flag. Disagreement is a conflict."""
    if record_origin is not None and options.origin not in (None, "unknown") and record_origin != options.origin:
        detail = f"{item} says {record_origin} but --origin says {options.origin}"
        return record_origin, [("claim", record_origin, options.origin, detail)]
    return record_origin if record_origin is not None else options.origin, []
