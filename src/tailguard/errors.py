"""Typed errors. Each one names the bad input (and line, where known) and, where
useful, the valid choices, so the CLI can print it as a single line.

Every error subclasses both :class:`TailguardError` and the builtin it refines,
so ``except ValueError`` or ``except FileNotFoundError`` keep working.

>>> try:
...     raise LabelFormatError("expected 5 fields, got 4", path="a.txt", line=3)
... except ValueError as err:
...     print(err)
a.txt:3: expected 5 fields, got 4
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path


class TailguardError(Exception):
    """Base class of every error tailguard raises on purpose."""

    def __init__(self, message: str, *, path: str | Path | None = None, line: int | None = None):
        self.message = message
        self.path = str(path) if path is not None else None
        self.line = line
        super().__init__(self._format())

    def _format(self) -> str:
        if self.path is None:
            return self.message
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        return f"{where}: {self.message}"

    def __str__(self) -> str:  # keep the one-line promise even for multi-line causes
        return self._format().replace("\n", " ")


class BadInputError(TailguardError, ValueError):
    """Input data is malformed (a file, a record, a value)."""


class CorruptFileError(BadInputError):
    """A file exists but cannot be decoded (a broken image, a truncated archive)."""


class LabelFormatError(BadInputError):
    """A YOLO label line is malformed: field count, class id or coordinates."""


class LabelShapeError(LabelFormatError):
    """A label line has the wrong number of fields for its task; the message names the task's shape."""


class TextFormatError(BadInputError):
    """A text/JSONL record is not valid UTF-8 or not valid JSON."""


class EmptyDatasetError(BadInputError):
    """A dataset, version or batch holds no samples where some are required."""


class NonFiniteValueError(BadInputError):
    """NaN or infinite values where finite numbers are required."""


class UnsafePathError(BadInputError):
    """A path would escape its root (``../``), or a symlink loops."""


class MissingSplitError(BadInputError):
    """A YOLO export lacks a train or val split; the message says how to choose one
    (``--val-fraction F`` or ``--val-from VERSION``)."""


class ProvenanceFieldError(BadInputError):
    """A provenance field (``generation``, ``parents``, ``generator``, ``verified_by``) has the wrong type or value."""


class MixedColumnTypeError(BadInputError):
    """A table column holds numbers in some rows and words in others."""


class ImageTooLargeError(CorruptFileError):
    """An image declares more pixels than may be decoded (a decompression bomb)."""


class MissingInputError(TailguardError, FileNotFoundError):
    """A file, folder, version or sample that was named does not exist."""


class ParameterError(TailguardError, ValueError):
    """A parameter has the wrong type or is out of range."""


class UnknownChoiceError(TailguardError, KeyError):
    """A name is not among the valid choices; the message suggests close matches."""

    def __init__(self, kind: str, name: str, choices: Iterable[str], *, path: str | None = None):
        self.kind = kind
        self.name = name
        self.choices = sorted(choices)
        close = difflib.get_close_matches(name, self.choices, n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        valid = ", ".join(self.choices)
        super().__init__(f"Unknown {kind} {name!r}.{hint} Valid choices: {valid}.", path=path)

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return TailguardError.__str__(self)


class IncompatibleMergeError(TailguardError, ValueError):
    """Two accumulators cannot be merged; the message names both values."""


class SampleShortfallError(TailguardError, RuntimeError):
    """A bottom-k sample pruned at a hash limit kept fewer rows than its cap: the row count it was
    told to expect was too high, so its sample would not be exact. Nothing is returned."""


class LedgerError(TailguardError, RuntimeError):
    """The ledger refused an operation (an existing version, a broken invariant)."""


class LedgerUpgradeRequiredError(LedgerError):
    """The ledger was written by an older tailguard; ``tailguard upgrade`` migrates it in place."""


class VersionExistsError(LedgerError):
    """Versions are immutable: a name can be created only once."""


class ProvenanceConflictError(LedgerError):
    """Evidence in a file contradicts the origin that was claimed for it."""


class LedgerURLError(ParameterError):
    """A ledger URL is malformed or names a store that would not persist (``sqlite://``, ``:memory:``)."""


class LedgerNotFoundError(MissingInputError):
    """A command that only reads was pointed at a ledger that does not exist (nothing is created)."""


class NotALedgerError(LedgerError):
    """The URL names a file or database that is not a tailguard ledger (e.g. not SQLite at all)."""


class LedgerAccessError(LedgerError):
    """The ledger cannot be reached, created or written: an unwritable folder, a read-only file, a refused login."""


class GateRefusedError(TailguardError, RuntimeError):
    """A training mix broke the policy gate. ``reasons`` lists each broken rule with its numbers.

    The CLI exits with code 4 on it (2 is bad usage or bad input)."""

    def __init__(self, reasons: list[str], *, path: str | None = None):
        self.reasons = list(reasons)
        super().__init__("gate refused: " + "; ".join(self.reasons), path=path)


class EngineError(TailguardError, RuntimeError):
    """An engine lost work it could not redo (a Ray worker died past its retries, a process pool broke).

    Nothing partial is returned: the whole map fails with the task that was lost."""


class ServerStartError(TailguardError, OSError):
    """``tailguard serve`` cannot listen where it was told: the port is taken, or the host is no address here."""


class TrackingStoreError(TailguardError, RuntimeError):
    """An experiment tracker (MLflow) refused its store or a write; the message names the tracking URI and,
    where known, how to make the store usable."""


class MissingDependencyError(TailguardError, ImportError):
    """An optional dependency is not installed; the message gives the install command."""


class RegistryConflictError(TailguardError, ValueError):
    """A name of a registry (families, metrics, policy steps...) is taken by a different object."""


class PluginError(TailguardError, ImportError):
    """A plug-in (``--plugin MODULE`` or an entry point) could not be imported or loaded.

    >>> str(PluginError("no such plug-in file", path="plugins/x.py"))
    'plugins/x.py: no such plug-in file'
    """

    def __init__(self, message: str, *, path: str | Path | None = None, line: int | None = None):
        super().__init__(message, path=path, line=line)
        self.path = str(path) if path is not None else None  # ImportError.__init__ set its own .path to None


__all__ = [
    "BadInputError",
    "CorruptFileError",
    "EmptyDatasetError",
    "EngineError",
    "GateRefusedError",
    "ImageTooLargeError",
    "IncompatibleMergeError",
    "LabelFormatError",
    "LabelShapeError",
    "LedgerAccessError",
    "LedgerError",
    "LedgerNotFoundError",
    "LedgerURLError",
    "LedgerUpgradeRequiredError",
    "MissingDependencyError",
    "MissingInputError",
    "MissingSplitError",
    "MixedColumnTypeError",
    "NonFiniteValueError",
    "NotALedgerError",
    "ParameterError",
    "PluginError",
    "ProvenanceConflictError",
    "ProvenanceFieldError",
    "RegistryConflictError",
    "ServerStartError",
    "TailguardError",
    "TextFormatError",
    "UnknownChoiceError",
    "UnsafePathError",
    "VersionExistsError",
]
