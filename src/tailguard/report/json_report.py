"""``report.json``: the audit's stored result (schema in DESIGN.md).

Top-level keys: ``verdict`` (``ok``/``warn``/``collapse``), ``metrics`` (rows
with ``name``, ``family``, ``value``, ``reference_value``, ``ratio``,
``higher_is_better``, ``status``, ``ci``), ``diagnosis``, ``averages_trap``,
``figures`` and the raw metric ``results``. Non-finite numbers are written as
the strings ``"inf"``, ``"-inf"`` and ``"nan"`` so the file is strict JSON.

>>> import tempfile, pathlib
>>> from tailguard.audit import AuditReport
>>> path = write_json(AuditReport(verdict="ok", modality="vectors", metrics=[]),
...                   pathlib.Path(tempfile.mkdtemp()) / "report.json")
>>> load_report(path).verdict
'ok'
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

from tailguard.errors import BadInputError, MissingInputError

if TYPE_CHECKING:
    from tailguard.audit.results import AuditReport

REQUIRED_ROW_KEYS = ("name", "family", "value", "reference_value", "ratio", "higher_is_better", "status", "ci")


def write_json(report: AuditReport, path: str | Path) -> Path:
    """Write ``report`` as strict JSON; returns the path."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(report.to_json(indent=2) + "\n", encoding="utf-8")
    return p


def load_report(path: str | Path) -> AuditReport:
    """Read a ``report.json`` back into an :class:`~tailguard.audit.AuditReport`."""
    from tailguard.audit.results import AuditReport

    p = Path(path)
    if not p.is_file():
        raise MissingInputError("report not found", path=p)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadInputError(f"not a JSON report ({exc})", path=p) from None
    if not isinstance(data, dict) or "verdict" not in data or "metrics" not in data:
        raise BadInputError("not an audit report: 'verdict' and 'metrics' are required", path=p)
    for i, row in enumerate(data["metrics"]):
        missing = [k for k in REQUIRED_ROW_KEYS if k not in row]
        if missing:
            raise BadInputError(f"metric row {i} lacks {', '.join(missing)}", path=p)
    return AuditReport.from_dict(data)
