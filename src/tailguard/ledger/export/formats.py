"""The ``export format`` registry: what ``tailguard export VERSION --format NAME`` writes.

A format is a subclass of :class:`ExportFormat` registered with :func:`register_export_format`. It declares

- ``name``: the ``--format`` value;
- ``modalities``: the sample modalities it writes (``()``: every one). The job's :meth:`ExportJob.samples`
  and :meth:`ExportJob.rows` refuse a sample of another modality in one line that names it and the
  formats that take it; a writer that reads the ledger itself decides on its own (``yolo`` leaves
  non-image samples out and counts them in its manifest);
- ``options``: the format-specific export options it takes (``link``, ``val_fraction``, ``val_from``,
  ``seed``, ``task``); any other one given (not at its default) is refused in one line naming the formats
  that take it. ``origins`` and ``both`` are every format's;
- :meth:`ExportFormat.write`: the writer. It gets an :class:`ExportJob` (the ledger, the version, the
  output folder ``out``, which exists, and the options) and returns the path the export is used by
  (a file, or ``data.yaml``, or the folder).

The built-in formats live in their writer modules and are imported only when asked for (lazy names);
installed plug-ins are found through the entry-point group ``tailguard.export_formats``.

>>> class Tsv(ExportFormat):
...     name = "tsv-doc"
...     modalities = ("text",)
...     def write(self, job): return job.out / "samples.tsv"
>>> validate_export_format(Tsv).name
'tsv-doc'
>>> class NoWriter(ExportFormat):
...     name = "broken"
>>> validate_export_format(NoWriter)
Traceback (most recent call last):
...
tailguard.errors.ParameterError: export format 'broken' (NoWriter) does not implement write(job)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from tailguard.errors import BadInputError, ParameterError, UnknownChoiceError
from tailguard.ledger.export.base import DEFAULT_ORIGINS, choose_labels, export_rows
from tailguard.ledger.types import MODALITIES, Box, SampleRecord
from tailguard.registry import Registry

if TYPE_CHECKING:
    from tailguard.ledger.store import Ledger

#: the format-specific export options (``ExportJob`` fields) a format may declare in ``options``, with the
#: default that counts as "not given"
OPTION_DEFAULTS: dict[str, Any] = {"val_fraction": None, "val_from": None, "link": False, "task": None, "seed": 0}
_NAME = re.compile(r"[a-z][a-z0-9_-]*")


@dataclass(frozen=True)
class ExportJob:
    """One export, as :meth:`ExportFormat.write` gets it: the ledger, the version, the output folder (made
    already) and the options, checked (:func:`tailguard.ledger.export.export_version`).

    ``format`` and ``modalities`` are the writing format's; ``progress`` (may be ``None``) is called with
    the number of samples written since the last call (:meth:`tick`).
    """

    ledger: Ledger
    version: str
    out: Path
    format: str
    modalities: tuple[str, ...] = ()
    origins: tuple[str, ...] = DEFAULT_ORIGINS
    both: str = "prefer-human"
    link: bool = False
    val_fraction: float | None = None
    val_from: str | None = None
    seed: int = 0
    task: str | None = None
    progress: Callable[[int], None] | None = None

    def tick(self, n: int = 1) -> None:
        """Report ``n`` more samples written."""
        if self.progress is not None:
            self.progress(n)

    def labels(self, rec: SampleRecord) -> list[Box] | None:
        """The boxes of ``rec`` to write: those of the chosen origins (``None``: leave it out, ``both='skip'``)."""
        return choose_labels(rec.labels, self.origins, self.both)

    def samples(self) -> Iterator[SampleRecord]:
        """The version's records, one per occurrence, ordered by id; a sample of a modality the format does
        not write is a :class:`~tailguard.errors.BadInputError` naming it."""
        for rec in self.ledger.iter_samples(self.version):
            self._check_modality(rec.id, rec.modality)
            yield rec

    def rows(self) -> Iterator[dict[str, Any]]:
        """The version's rows as the ``jsonl`` and ``parquet`` exports write them
        (:func:`tailguard.ledger.export.base.export_rows`: ``text`` for text and tabular samples, the
        chosen ``labels``), with the modality check of :meth:`samples`."""
        for row in export_rows(self.ledger, self.version, self.origins, self.both):
            self._check_modality(row["id"], row["modality"])
            yield row

    def _check_modality(self, sample_id: str, modality: str) -> None:
        if self.modalities and modality not in self.modalities:
            takers = [f.name for f in all_export_formats() if not f.modalities or modality in f.modalities]
            raise BadInputError(f"--format {self.format} exports {' and '.join(self.modalities)} samples; sample "
                                f"{sample_id} is {modality} (formats that take {modality}: {', '.join(takers)})",
                                path=self.version)


class ExportFormat:
    """Base class of an export format (module docstring). Subclasses set the class attributes and
    implement :meth:`write`."""

    name: ClassVar[str] = ""
    modalities: ClassVar[tuple[str, ...]] = ()
    options: ClassVar[tuple[str, ...]] = ()
    summary: ClassVar[str] = ""

    def write(self, job: ExportJob) -> Path:
        """Write ``job.version`` into ``job.out``; return the path a reader opens (a file, data.yaml, the folder)."""
        raise NotImplementedError


EXPORT_FORMATS: Registry[type[ExportFormat]] = Registry("export format", entry_point_group="tailguard.export_formats")

#: the built-in formats, by the module whose import registers each
BUILTIN_EXPORT_FORMATS = {
    "yolo": "tailguard.ledger.export.yolo", "jsonl": "tailguard.ledger.export.table",
    "parquet": "tailguard.ledger.export.table", "csv": "tailguard.ledger.export.csv_table", "hf": "tailguard.integrations.huggingface.export",
    "croissant": "tailguard.ledger.croissant", "ultralytics-ndjson": "tailguard.ledger.ndjson",
}
for _name, _module in BUILTIN_EXPORT_FORMATS.items():
    EXPORT_FORMATS.register_lazy(_name, _module)


def validate_export_format(cls: Any) -> type[ExportFormat]:
    """Check a format class before it is registered (a plug-in's): an :class:`ExportFormat` subclass with a
    lower-case ``name``, its own ``write``, known ``modalities``, known ``options`` and a str ``summary``.
    Returns ``cls``."""
    if not (isinstance(cls, type) and issubclass(cls, ExportFormat)):
        raise ParameterError(f"an export format must be a subclass of tailguard.ledger.export.ExportFormat. "
                             f"Got {cls!r}.")
    name = cls.name
    where = f"export format {name!r} ({cls.__name__})"
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ParameterError(f"{where} needs a name of lower-case letters, digits, '-' or '_'. Got {name!r}.")
    if not callable(getattr(cls, "write", None)) or cls.write is ExportFormat.write:
        raise ParameterError(f"{where} does not implement write(job)")
    if not isinstance(cls.modalities, tuple) or not all(m in MODALITIES for m in cls.modalities):
        raise ParameterError(f"{where}: modalities must be a tuple of {', '.join(MODALITIES)} (empty: all). "
                             f"Got {cls.modalities!r}.")
    if not isinstance(cls.options, tuple) or not all(o in OPTION_DEFAULTS for o in cls.options):
        raise ParameterError(f"{where}: options must be a tuple of {', '.join(OPTION_DEFAULTS)}. "
                             f"Got {cls.options!r}.")
    if not isinstance(cls.summary, str):
        raise ParameterError(f"{where}: summary must be a str. Got {cls.summary!r}.")
    return cls


def register_export_format(cls: type[ExportFormat]) -> type[ExportFormat]:
    """Class decorator: check ``cls`` (:func:`validate_export_format`) and register it under ``cls.name``."""
    return EXPORT_FORMATS.register(cls.name)(validate_export_format(cls))


def export_format_names() -> list[str]:
    """The ``--format`` values: every registered format (built-in, loaded, installed), sorted."""
    return EXPORT_FORMATS.names()


def get_export_format(name: str) -> ExportFormat:
    """The format called ``name``; an unknown name is one line with the nearest names.

    >>> get_export_format("yolo").options
    ('val_fraction', 'val_from', 'link', 'task', 'seed')
    >>> get_export_format("jsnl")
    Traceback (most recent call last):
    ...
    tailguard.errors.UnknownChoiceError: Unknown export format 'jsnl'. Did you mean 'jsonl'? Valid choices: ...
    """
    if name not in EXPORT_FORMATS:
        raise UnknownChoiceError("export format", name, export_format_names())
    return EXPORT_FORMATS.get(name)()


def all_export_formats() -> list[ExportFormat]:
    """Every format, loaded (built-in modules and installed entry points), by name."""
    return [EXPORT_FORMATS.get(n)() for n in EXPORT_FORMATS.names()]


def check_export_options(fmt: ExportFormat, job: ExportJob) -> None:
    """Refuse a format-specific option (``val_fraction``, ``link``...) given to a format that does not take it,
    naming the formats that do."""
    for key, default in OPTION_DEFAULTS.items():
        if getattr(job, key) != default and key not in fmt.options:
            takers = " or ".join(repr(f.name) for f in all_export_formats() if key in f.options)
            raise ParameterError(f"The '{key}' parameter of export_version applies to format {takers} only. "
                                 f"Got format {fmt.name!r}.")
