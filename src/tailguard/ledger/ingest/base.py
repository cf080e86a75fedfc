"""What every ingest reader yields (prepared items, or bad items for ``--skip-bad``), and the
provenance every record-based reader (JSONL, CSV, Parquet) reads the same way."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tailguard.errors import TailguardError, UnknownChoiceError
from tailguard.ledger.fields import check_generation, check_name, check_parents, show
from tailguard.ledger.provenance import Evidence
from tailguard.ledger.types import ORIGINS, NewSample

PROVENANCE_FIELDS = ("origin", "generator", "generation", "verified_by", "parents")


@dataclass(frozen=True)
class IngestOptions:
    """The flags of ``tailguard ingest`` that apply to every item.

    ``text_column`` applies to tables (CSV, Parquet): the column whose cells are text
    samples. ``None`` means a column named ``text`` when there is one; ``""`` means
    none (every row is a tabular sample). ``task`` (YOLO datasets): the Ultralytics task the
    labels are read as (``None``: data.yaml's, else inferred from the label lines).
    ``origin_column``, ``generator_column``, ``generation_column`` (Hugging Face datasets,
    :mod:`tailguard.ledger.ingest.hf`): the columns holding each row's provenance (``None``:
    the default columns when present, ``""``: none).
    """

    origin: str | None = None
    generator: str | None = None
    generation: int | None = None
    verified_by: str | None = None
    text_column: str | None = None
    task: str | None = None
    origin_column: str | None = None
    generator_column: str | None = None
    generation_column: str | None = None


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


@dataclass(frozen=True)
class Provenance:
    """The validated provenance of one record: its own fields, else the ingest flags."""

    origin: str | None
    generator: str | None
    generation: int | None
    verified_by: str | None
    parents: tuple[str, ...]


def record_provenance(record: Mapping[str, Any], options: IngestOptions, *, path: str | Path,
                      line: int, flags: Provenance | None = None) -> Provenance:
    """Read and validate the provenance fields of ``record`` (missing or null: the flag's value).

    ``flags``: :func:`flag_provenance` of ``options``, computed once by the caller; a record
    with none of the fields then costs no checks.

    Raises a typed error naming ``path:line`` (:class:`~tailguard.errors.ProvenanceFieldError`,
    or :class:`~tailguard.errors.UnknownChoiceError` for an origin).
    """
    if ("origin" not in record and "generator" not in record and "generation" not in record
            and "verified_by" not in record and "parents" not in record):
        return flags if flags is not None else flag_provenance(options)  # every field from the flags
    origin = record.get("origin")
    if origin is not None and (not isinstance(origin, str) or origin not in ORIGINS):
        raise UnknownChoiceError("origin", origin if isinstance(origin, str) else show(origin), ORIGINS,
                                 path=f"{path}:{line}")

    def pick(name: str, default: Any) -> Any:
        value = record.get(name)
        return default if value is None else value

    return Provenance(
        origin=origin,
        generator=check_name(pick("generator", options.generator), "'generator'", path=path, line=line),
        generation=check_generation(pick("generation", options.generation), path=path, line=line),
        verified_by=check_name(pick("verified_by", options.verified_by), "'verified_by'", path=path, line=line),
        parents=check_parents(record.get("parents"), path=path, line=line),
    )


def flag_provenance(options: IngestOptions) -> Provenance:
    """The provenance of a record that has none of its own: the ingest flags' values, validated once.

    >>> flag_provenance(IngestOptions(origin="human", generation=0))
    Provenance(origin=None, generator=None, generation=0, verified_by=None, parents=())
    """
    return Provenance(
        origin=None,
        generator=check_name(options.generator, "--generator"),
        generation=check_generation(options.generation, "--generation"),
        verified_by=check_name(options.verified_by, "--verified-by"),
        parents=(),
    )


def claim(record_origin: str | None, options: IngestOptions, item: str) -> tuple[str | None, list]:
    """The origin claimed for one item: its own field, else the flag. Disagreement is a conflict."""
    if record_origin is not None and options.origin not in (None, "unknown") and record_origin != options.origin:
        detail = f"{item} says {record_origin} but --origin says {options.origin}"
        return record_origin, [("claim", record_origin, options.origin, detail)]
    return record_origin if record_origin is not None else options.origin, []
