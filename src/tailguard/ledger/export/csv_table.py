"""``tailguard export VERSION --format csv``: a tabular version back as the table it came from.

A tabular sample is stored as its row in canonical JSON (:mod:`tailguard.ledger.ingest.tabular`); this
writer turns the rows back into columns, so the mix a user composed can be trained on with pandas or
scikit-learn as it is. ``samples.csv`` has one row per occurrence (a sample a version holds twice is
written twice), the data columns in sorted order (the ledger keeps canonical JSON, not the source's
column order), then the provenance columns ingest reads: ``origin``, ``generator``, ``generation``,
``verified_by`` and ``parents`` (sample ids separated by spaces).

Values are written so that ingesting the file again gives the same content and so the same sample ids
(0 new samples): floats as their shortest round-trip text (``repr``), integers as digits, a null cell
empty. The header comes from a first pass over the version, the rows from a second; the file is written
under a temporary name and renamed into place.

Only ``tabular`` samples are written (text has ``jsonl``, ``parquet`` and ``hf``).
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path
from typing import Any

from tailguard.errors import BadInputError
from tailguard.ledger.export.base import atomic_path
from tailguard.ledger.export.formats import ExportFormat, ExportJob, register_export_format
from tailguard.ledger.ingest.base import PROVENANCE_FIELDS


def cell(value: Any) -> str:
    """The CSV text of one stored JSON value, read back by ingest as the same value.

    >>> [cell(v) for v in (None, 3, 0.1, 1e-300, 2.0, "a,b", True)]
    ['', '3', '0.1', '1e-300', '2.0', 'a,b', 'true']
    """
    if value is None:
        return ""
    if isinstance(value, bool):  # before int: bool is an int
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value) if math.isfinite(value) else ""
    return str(value)


@register_export_format
class CsvFormat(ExportFormat):
    """``--format csv``: ``samples.csv``, the data columns then the provenance ones; returns the file."""

    name = "csv"
    modalities = ("tabular",)
    summary = "samples.csv, the table's columns plus origin, generator, generation, verified_by, parents"

    def write(self, job: ExportJob) -> Path:
        target = job.out / "samples.csv"
        columns = self._columns(job)
        with atomic_path(target) as part, open(part, "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow([*columns, *PROVENANCE_FIELDS])
            for row in job.rows():
                data = json.loads(row["text"])
                writer.writerow([cell(data.get(c)) for c in columns]
                                + [row["origin"] or "", row["generator"] or "",
                                   "" if row["generation"] is None else str(row["generation"]),
                                   row["verified_by"] or "", " ".join(row["parents"])])
                job.tick()
        return target

    @staticmethod
    def _columns(job: ExportJob) -> list[str]:
        """The union of the rows' keys, sorted; a version with no tabular rows is refused."""
        names: set[str] = set()
        rows = 0
        for row in job.rows():
            names.update(json.loads(row["text"]))
            rows += 1
        if rows == 0:
            raise BadInputError("the version holds no samples to write as CSV", path=job.version)
        clash = names & set(PROVENANCE_FIELDS)
        if clash:  # ingest never stores these as data; a plug-in's sample might
            raise BadInputError(f"data column(s) {', '.join(sorted(clash))} would be read back as provenance",
                                path=job.version)
        return sorted(names)
