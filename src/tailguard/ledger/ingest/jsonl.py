"""Ingest JSONL text: one ``text`` sample per line.

Each line is a JSON object with a ``text`` string and, optionally, ``origin``,
``generator``, ``generation``, ``verified_by`` and ``parents``; other fields go to
``extra``. The sample id hashes the UTF-8 text. Every field is validated (see
:mod:`tailguard.ledger.fields`); a bad line is a :class:`BadItem` naming file and line.
"""

from __future__ import annotations

import json
import json.scanner
import re
from pathlib import Path
from typing import Any

from tailguard.errors import TailguardError, TextFormatError
from tailguard.ledger.fields import MAX_DEPTH, check_text
from tailguard.ledger.hashing import content_id
from tailguard.ledger.ingest.base import (
    PROVENANCE_FIELDS,
    BadItem,
    IngestOptions,
    Item,
    Provenance,
    Reader,
    claim,
    flag_provenance,
    record_provenance,
)
from tailguard.ledger.ingest.formats import IngestFormat, register_ingest_format
from tailguard.ledger.types import NewSample

_NOT_EXTRA = ("text", *PROVENANCE_FIELDS)
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_BRACKET = re.compile(r"[\[\]{}]")
_scan = json.scanner.make_scanner(json.JSONDecoder())


def read_jsonl(path: Path, options: IngestOptions) -> Reader:
    """Yield one item per non-blank line; bad lines are :class:`BadItem` naming file and line."""
    where = str(path)
    source = str(path.resolve())
    flags = flag_provenance(options)
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                yield _line_item(raw, number, where, source, options, flags)
            except TailguardError as exc:
                yield BadItem(f"{where}:{number}", exc)


def _too_deep(line: str) -> bool:
    """Whether the JSON text ``line`` opens more than ``MAX_DEPTH`` nested arrays or objects."""
    if line.count("[") + line.count("{") <= MAX_DEPTH:
        return False
    depth = 0
    for match in _BRACKET.finditer(_STRING.sub('""', line)):
        depth += 1 if match.group() in "[{" else -1
        if depth > MAX_DEPTH:
            return True
    return False


def _parse(raw: bytes, number: int, where: str) -> dict[str, Any]:
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise TextFormatError(f"not valid UTF-8 ({exc.reason} at byte {exc.start})", path=where,
                              line=number) from None
    if _too_deep(line):  # refused before the decoder recurses towards the interpreter's limit
        raise TextFormatError(f"record is nested deeper than {MAX_DEPTH} levels", path=where, line=number)
    try:
        record, end = _scan(line, 0)  # the decoder's own scanner: json.loads without its Python layers
        if end != len(line) and line[end:].strip(" \t\n\r"):  # json's own whitespace only
            raise ValueError("extra data")
    except (StopIteration, ValueError):  # json.loads says what is wrong (and accepts what the scanner alone does not)
        record = None
    except RecursionError:
        raise TextFormatError("invalid JSON (nested too deeply)", path=where, line=number) from None
    if record is None:
        record = _loads(line, number, where)
    if not isinstance(record, dict) or not isinstance(record.get("text"), str):
        raise TextFormatError('each line must be a JSON object with a "text" string', path=where, line=number)
    return record


def _loads(line: str, number: int, where: str) -> Any:
    try:
        return json.loads(line)
    except RecursionError:
        raise TextFormatError("invalid JSON (nested too deeply)", path=where, line=number) from None
    except json.JSONDecodeError as exc:
        raise TextFormatError(f"invalid JSON ({exc.msg} at column {exc.colno})", path=where, line=number) from None
    except ValueError as exc:  # e.g. an integer beyond Python's digit limit
        raise TextFormatError(f"invalid JSON ({exc})", path=where, line=number) from None


def _line_item(raw: bytes, number: int, where: str, source: str, options: IngestOptions,
               flags: Provenance | None = None) -> Item:
    record = _parse(raw, number, where)  # nesting is bounded there, before decoding
    item = f"{where}:{number}"
    prov = record_provenance(record, options, path=where, line=number, flags=flags)
    content = check_text(record["text"], path=where, line=number)
    claimed, conflicts = claim(prov.origin, options, item)
    extra = {k: v for k, v in record.items() if k not in _NOT_EXTRA}
    extra["line"] = number
    sample = NewSample(
        content=content, uri=None, modality="text", origin=claimed or "unknown",
        generator=prov.generator, generation=prov.generation, parents=prov.parents, source=source,
        verified_by=prov.verified_by,
        extra=extra,
    )
    return Item(sample, item, content_id(content), conflicts=conflicts)


@register_ingest_format
class JsonlFormat(IngestFormat):
    """``--format jsonl``: one JSON record a line (``.jsonl``, and ``.ndjson`` that is not Ultralytics')."""

    name = "jsonl"
    suffixes = (".jsonl", ".ndjson")
    validates_provenance = True
    input = "file"
    summary = "JSON Lines records"

    def open(self, path: Path, options: IngestOptions) -> Reader:
        return read_jsonl(path, options)
