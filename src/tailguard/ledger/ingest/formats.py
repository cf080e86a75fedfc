"""The ``ingest format`` registry: what ``tailguard ingest --format NAME`` reads, and how ``auto`` picks one.

A format is a subclass of :class:`IngestFormat` registered with :func:`register_ingest_format`. It declares

- ``name``: the ``--format`` value;
- how it recognises a path for ``--format auto``: ``suffixes`` (files with these suffixes), or its own
  :meth:`IngestFormat.recognises`; ``priority`` orders the checks (higher first: the Ultralytics NDJSON
  check runs before plain JSONL's ``.ndjson``; the ``images`` folder fallback runs last);
- ``validates_provenance``: whether its reader checks every provenance field itself, naming file:line
  (the ledger then skips its own check of each sample);
- ``input``: ``file``, ``folder`` or ``any``; ``options``: the format-specific ingest flags it takes
  (``task``, ``origin_column``, ``generator_column``, ``generation_column``);
- :meth:`IngestFormat.open`: the reader, an iterator of :class:`~tailguard.ledger.ingest.base.Item` or
  :class:`~tailguard.ledger.ingest.base.BadItem`.

The built-in formats live in their reader modules and are imported only when asked for (lazy names);
installed plug-ins are found through the entry-point group ``tailguard.ingest_formats``.

>>> from pathlib import Path
>>> class Tsv(IngestFormat):
...     name = "tsv-doc"
...     suffixes = (".tsv",)
...     input = "file"
...     def open(self, path, options): return iter(())
>>> validate_ingest_format(Tsv).name
'tsv-doc'
>>> class NoReader(IngestFormat):
...     name = "broken"
>>> validate_ingest_format(NoReader)
Traceback (most recent call last):
...
tailguard.errors.ParameterError: ingest format 'broken' (NoReader) does not implement open(path, options)
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, ClassVar

from tailguard.errors import ParameterError, UnknownChoiceError
from tailguard.ledger.ingest.base import IngestOptions, Reader
from tailguard.registry import Registry

#: the kinds of input a format reads
INPUTS = ("file", "folder", "any")
#: format-specific ingest flags (``IngestOptions`` fields) a format may declare in ``options``, with their flag
OPTION_FLAGS = {"task": "--task", "origin_column": "--origin-column", "generator_column": "--generator-column",
                "generation_column": "--generation-column"}
_NAME = re.compile(r"[a-z][a-z0-9_-]*")
_SUFFIX = re.compile(r"\.[a-z0-9][a-z0-9._-]*")


class IngestFormat:
    """Base class of an ingest format (module docstring). Subclasses set the class attributes and
    implement :meth:`open`; :meth:`recognises` defaults to a suffix match on a file."""

    name: ClassVar[str] = ""
    suffixes: ClassVar[tuple[str, ...]] = ()
    priority: ClassVar[int] = 0
    validates_provenance: ClassVar[bool] = False
    input: ClassVar[str] = "any"
    options: ClassVar[tuple[str, ...]] = ()
    summary: ClassVar[str] = ""

    def recognises(self, path: Path) -> bool:
        """Whether ``--format auto`` should read ``path`` as this format (default: a file with one of
        ``suffixes``, compared in lower case)."""
        return bool(self.suffixes) and path.is_file() and path.suffix.lower() in self.suffixes

    def open(self, path: Path, options: IngestOptions) -> Reader:
        """The reader of ``path``: an iterator of items (and bad items, for ``--skip-bad``)."""
        raise NotImplementedError


INGEST_FORMATS: Registry[type[IngestFormat]] = Registry("format", entry_point_group="tailguard.ingest_formats")

#: the built-in formats, by the module whose import registers each
BUILTIN_INGEST_FORMATS = {
    "yolo": "yolo", "images": "images", "jsonl": "jsonl", "csv": "tabular", "parquet": "tabular", "npy": "npy",
    "hf": "hf", "ultralytics-ndjson": "ultralytics_ndjson",
}
for _name, _module in BUILTIN_INGEST_FORMATS.items():
    INGEST_FORMATS.register_lazy(_name, f"tailguard.ledger.ingest.{_module}")


def validate_ingest_format(cls: Any) -> type[IngestFormat]:
    """Check a format class before it is registered (a plug-in's): an :class:`IngestFormat` subclass with a
    lower-case ``name``, its own ``open``, lower-case suffixes starting with ``.``, a bool
    ``validates_provenance``, an int ``priority``, a known ``input`` and known ``options``. Returns ``cls``."""
    if not (isinstance(cls, type) and issubclass(cls, IngestFormat)):
        raise ParameterError(f"an ingest format must be a subclass of tailguard.ledger.ingest.IngestFormat. Got {cls!r}.")
    name = cls.name
    where = f"ingest format {name!r} ({cls.__name__})"
    if not isinstance(name, str) or not _NAME.fullmatch(name) or name == "auto":
        raise ParameterError(f"{where} needs a name of lower-case letters, digits, '-' or '_' (not 'auto'). "
                             f"Got {name!r}.")
    if not callable(getattr(cls, "open", None)) or cls.open is IngestFormat.open:
        raise ParameterError(f"{where} does not implement open(path, options)")
    if not isinstance(cls.suffixes, tuple) or not all(isinstance(s, str) and _SUFFIX.fullmatch(s)
                                                      for s in cls.suffixes):
        raise ParameterError(f"{where}: suffixes must be a tuple of lower-case suffixes such as '.tsv'. "
                             f"Got {cls.suffixes!r}.")
    if not isinstance(cls.validates_provenance, bool):
        raise ParameterError(f"{where}: validates_provenance must be True or False. Got {cls.validates_provenance!r}.")
    if isinstance(cls.priority, bool) or not isinstance(cls.priority, int):
        raise ParameterError(f"{where}: priority must be an int. Got {cls.priority!r}.")
    if cls.input not in INPUTS:
        raise ParameterError(f"{where}: input {cls.input!r} is not one of {', '.join(INPUTS)}")
    unknown = [o for o in cls.options if o not in OPTION_FLAGS]
    if not isinstance(cls.options, tuple) or unknown:
        raise ParameterError(f"{where}: options must be a tuple of {', '.join(OPTION_FLAGS)}. Got {cls.options!r}.")
    return cls


def register_ingest_format(cls: type[IngestFormat]) -> type[IngestFormat]:
    """Class decorator: check ``cls`` (:func:`validate_ingest_format`) and register it under ``cls.name``."""
    return INGEST_FORMATS.register(cls.name)(validate_ingest_format(cls))


def ingest_format_names() -> list[str]:
    """The ``--format`` values: ``auto`` and every registered format (built-in, loaded, installed)."""
    return ["auto", *INGEST_FORMATS.names()]


def get_ingest_format(name: str) -> IngestFormat:
    """The format called ``name``; an unknown name is one line with the nearest names.

    >>> get_ingest_format("jsonl").validates_provenance
    True
    >>> get_ingest_format("jsnl")
    Traceback (most recent call last):
    ...
    tailguard.errors.UnknownChoiceError: Unknown format 'jsnl'. Did you mean 'jsonl'? Valid choices: ...
    """
    if name not in INGEST_FORMATS:
        raise UnknownChoiceError("format", name, ingest_format_names())
    return INGEST_FORMATS.get(name)()


def all_ingest_formats() -> list[IngestFormat]:
    """Every format, loaded (built-in modules and installed entry points), highest priority first."""
    found = [INGEST_FORMATS.get(n)() for n in INGEST_FORMATS.names()]
    return sorted(found, key=lambda f: (-f.priority, f.name))


def detect_format(path: Path) -> str:
    """The format ``--format auto`` reads ``path`` as: the highest-priority format that recognises it.

    A file no format recognises is an :class:`~tailguard.errors.UnknownChoiceError` listing the known
    suffixes; two formats of the same priority recognising it is a :class:`~tailguard.errors.ParameterError`
    asking for ``--format``.
    """
    formats = all_ingest_formats()
    for i, fmt in enumerate(formats):
        if not fmt.recognises(path):
            continue
        rivals = [g.name for g in formats[i + 1:] if g.priority == fmt.priority and g.recognises(path)]
        if rivals:
            raise ParameterError(f"{path} is recognised as format {fmt.name!r} and as {', '.join(map(repr, rivals))}; "
                                 "pass --format to choose one.")
        return fmt.name
    if path.is_file():
        suffixes = {s for f in formats for s in f.suffixes}
        raise UnknownChoiceError("file suffix", path.suffix or "(none)", suffixes, path=str(path))
    raise ParameterError(f"no ingest format recognises the folder {path}; pass --format.")


def check_format_options(fmt: IngestFormat, options: IngestOptions) -> None:
    """Refuse a format-specific flag (``--task``, ``--origin-column``...) the format does not take, naming
    the formats that do."""
    for key, flag in OPTION_FLAGS.items():
        if getattr(options, key) is not None and key not in fmt.options:
            takers = [f.name for f in all_ingest_formats() if key in f.options]
            raise ParameterError(f"{flag} applies to --format {' or '.join(sorted(takers))} only. "
                                 f"Got --format {fmt.name}.")


def check_input_kind(fmt: IngestFormat, path: Path) -> None:
    """Refuse a folder for a file format and a file for a folder format, in one line."""
    if fmt.input == "folder" and not path.is_dir():
        raise ParameterError(f"--format {fmt.name} needs a folder. Got the file {path}.")
    if fmt.input == "file" and path.is_dir():
        raise ParameterError(f"--format {fmt.name} needs a file. Got the folder {path}.")
