"""Ingest JSONL text: one ``text`` sample per line.

Each line is a JSON object with a ``text`` string and, optionally, ``origin``,
``generator``, ``generation``, ``verified_by`` and ``parents``; other fields go to
``extra``. The sample id hashes the UTF-8 text.
"""

from __future__ import annotations

import json
from pathlib import Path

from tailguard.errors import TextFormatError, UnknownChoiceError
from tailguard.ledger.hashing import content_id
from tailguard.ledger.ingest.base import BadItem, IngestOptions, Item, Reader, claim
from tailguard.ledger.types import ORIGINS, NewSample

_PROVENANCE = ("text", "origin", "generator", "generation", "verified_by", "parents")


def read_jsonl(path: Path, options: IngestOptions) -> Reader:
    """Yield one item per non-blank line; bad lines are :class:`BadItem` naming file and line."""
    where = str(path)
    source = str(path.resolve())
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            item = f"{where}:{number}"
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                yield BadItem(item, TextFormatError(f"not valid UTF-8 ({exc.reason} at byte {exc.start})",
                                                    path=where, line=number))
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                yield BadItem(item, TextFormatError(f"invalid JSON ({exc.msg} at column {exc.colno})",
                                                    path=where, line=number))
                continue
            if not isinstance(record, dict) or not isinstance(record.get("text"), str):
                yield BadItem(item, TextFormatError('each line must be a JSON object with a "text" string',
                                                    path=where, line=number))
                continue
            origin = record.get("origin")
            if origin is not None and origin not in ORIGINS:
                yield BadItem(item, UnknownChoiceError("origin", str(origin), ORIGINS, path=item))
                continue
            generation = record.get("generation", options.generation)
            if generation is not None and (isinstance(generation, bool) or not isinstance(generation, int)):
                yield BadItem(item, TextFormatError(f'"generation" must be an integer, got {generation!r}',
                                                    path=where, line=number))
                continue
            parents = record.get("parents") or ()
            if isinstance(parents, str) or not all(isinstance(p, str) for p in parents):
                yield BadItem(item, TextFormatError('"parents" must be a list of sample ids',
                                                    path=where, line=number))
                continue
            claimed, conflicts = claim(origin, options, item)
            content = record["text"].encode("utf-8")
            sample = NewSample(
                content=content, uri=None, modality="text", origin=claimed or "unknown",
                generator=record.get("generator", options.generator), generation=generation,
                parents=tuple(parents), source=source,
                verified_by=record.get("verified_by", options.verified_by),
                extra={k: v for k, v in record.items() if k not in _PROVENANCE} | {"line": number},
            )
            yield Item(sample, item, content_id(content), conflicts=conflicts)
