"""Validation of provenance fields on entry, for every reader, ingest flag and API sample.

The rules, which hold wherever a value comes from (a JSONL field, a CSV or Parquet cell,
a ``tailguard ingest`` flag or a :class:`~tailguard.ledger.types.NewSample`):

- ``generation``: an int in ``0..10000`` (not a bool, not a float);
- ``parents``: a list (or tuple) of sample ids, 32 hexadecimal characters each;
- ``generator``, ``verified_by``: strings of at most 200 characters without control
  characters (NUL included: PostgreSQL refuses it in text columns) or lone surrogates;
- text content must be encodable as UTF-8 (a lone surrogate such as ``"\\ud800"`` is not);
  NUL bytes in content are fine, content is stored as bytes (``LargeBinary``);
- free-form record fields (``extra``) may nest at most 64 levels deep.

Each failure raises :class:`~tailguard.errors.ProvenanceFieldError` (or
:class:`~tailguard.errors.TextFormatError` for text) naming the file and line.

>>> check_generation(3)
3
>>> check_generation(-1, path="a.jsonl", line=2)
Traceback (most recent call last):
...
tailguard.errors.ProvenanceFieldError: a.jsonl:2: 'generation' must be an int in 0..10000; got -1
>>> check_parents(["0123456789abcdef0123456789abcdef"])
('0123456789abcdef0123456789abcdef',)
>>> check_name("gpt\\x00", "'generator'")
Traceback (most recent call last):
...
tailguard.errors.ProvenanceFieldError: 'generator' holds the control character '\\x00' at position 3
"""

from __future__ import annotations

import re
import reprlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tailguard.errors import ProvenanceFieldError, TextFormatError

if TYPE_CHECKING:
    from tailguard.ledger.types import NewSample

MAX_GENERATION = 10_000
MAX_NAME_CHARS = 200
MAX_DEPTH = 64
SAMPLE_ID = re.compile(r"[0-9a-f]{32}")
_BAD_CHAR = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_SHOW = reprlib.Repr()
_SHOW.maxstring = _SHOW.maxother = 60
_SHOW.maxlevel = 2


def show(value: object) -> str:
    """A short, one-line, always-computable rendering of a bad value for an error message.

    >>> show(10**30)
    '1000000000000000000000000000000'
    >>> show({"a": [1, 2]})
    "a dict {'a': [1, 2]}"
    """
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, int):
        return repr(value) if value.bit_length() <= 256 else f"an int of {value.bit_length()} bits"
    if isinstance(value, dict | list | tuple | set):
        return f"a {type(value).__name__} {_SHOW.repr(value)}"
    if isinstance(value, str | float):
        return _SHOW.repr(value)
    return f"a {type(value).__name__}"


def check_generation(value: object, label: str = "'generation'", *, path: str | Path | None = None,
                     line: int | None = None) -> int | None:
    """``value`` as a generation (None stays None); ``label`` names the field in the message."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_GENERATION:
        raise ProvenanceFieldError(f"{label} must be an int in 0..{MAX_GENERATION}; got {show(value)}",
                                   path=path, line=line)
    return int(value)


def check_name(value: object, label: str, *, path: str | Path | None = None, line: int | None = None) -> str | None:
    """``value`` as a generator or verifier name: a short string without control characters."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ProvenanceFieldError(f"{label} must be a string of at most {MAX_NAME_CHARS} characters; "
                                   f"got {show(value)}", path=path, line=line)
    if len(value) > MAX_NAME_CHARS:
        raise ProvenanceFieldError(f"{label} is {len(value)} characters long; at most {MAX_NAME_CHARS} are allowed",
                                   path=path, line=line)
    bad = _BAD_CHAR.search(value)
    if bad is not None:
        what = "a lone surrogate" if "\ud800" <= bad.group() <= "\udfff" else "the control character"
        raise ProvenanceFieldError(f"{label} holds {what} {bad.group()!r} at position {bad.start()}",
                                   path=path, line=line)
    return value


def check_parents(value: object, label: str = "'parents'", *, path: str | Path | None = None,
                  line: int | None = None) -> tuple[str, ...]:
    """``value`` as parent sample ids: a list or tuple of 32-hex strings (duplicates dropped)."""
    if value is None:
        return ()
    expected = f"{label} must be a list of sample ids (32 lowercase hexadecimal characters each)"
    if not isinstance(value, list | tuple):
        raise ProvenanceFieldError(f"{expected}; got {show(value)}", path=path, line=line)
    for index, parent in enumerate(value):
        if not isinstance(parent, str) or SAMPLE_ID.fullmatch(parent) is None:
            raise ProvenanceFieldError(f"{expected}; item {index} is {show(parent)}", path=path, line=line)
    return tuple(dict.fromkeys(value))


def check_text(value: str, label: str = "'text'", *, path: str | Path | None = None,
               line: int | None = None) -> bytes:
    """The UTF-8 bytes of ``value``; a lone surrogate raises :class:`TextFormatError` with its position."""
    try:
        return value.encode("utf-8")
    except UnicodeEncodeError as exc:
        char = value[exc.start]
        raise TextFormatError(f"{label} holds the lone surrogate {char!r} at character {exc.start}; "
                              "it cannot be stored as UTF-8", path=path, line=line) from None


def check_nesting(value: object, label: str = "record", *, path: str | Path | None = None,
                  line: int | None = None, limit: int = MAX_DEPTH) -> None:
    """Refuse lists and objects (dicts, lists, tuples) nested deeper than ``limit`` (walked without recursion)."""
    if not isinstance(value, dict | list | tuple):
        return
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if depth >= limit:
            raise TextFormatError(f"{label} is nested deeper than {limit} levels", path=path, line=line)
        children = node.values() if isinstance(node, dict) else node
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list | tuple))


def validate_sample(sample: NewSample, *, item: str | None = None) -> None:
    """Check the provenance fields of a sample added through the library API; errors name ``item``.

    >>> from tailguard.ledger.types import NewSample
    >>> validate_sample(NewSample(content=b"x", uri=None, modality="text", origin="synthetic", generation=10**30),
    ...                 item="sample 3")
    Traceback (most recent call last):
    ...
    tailguard.errors.ProvenanceFieldError: sample 3: 'generation' must be an int in 0..10000; got 1000000000000000000000000000000
    """
    check_generation(sample.generation, path=item)
    check_name(sample.generator, "'generator'", path=item)
    check_name(sample.verified_by, "'verified_by'", path=item)
    check_parents(sample.parents, path=item)
    for box in sample.labels:
        check_name(box.generator, "a label's 'generator'", path=item)
    check_nesting(sample.extra, "'extra'", path=item)
