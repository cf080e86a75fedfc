"""Export a version: ``tailguard export VERSION --format NAME --out DIR`` and :func:`export_version`.

Formats are a registry (:mod:`tailguard.ledger.export.formats`; plug-ins add more through ``--plugin`` or
the entry-point group ``tailguard.export_formats``). Built in, each in its writer module: ``yolo``
(data.yaml + image lists + labels: :mod:`tailguard.ledger.export.yolo`), ``jsonl`` and ``parquet``
(one row per occurrence: :mod:`tailguard.ledger.export.table`), ``csv`` (a tabular version's columns
plus its provenance columns, re-ingested to the same ids: :mod:`tailguard.ledger.export.csv_table`), ``hf`` (a Hugging Face ``save_to_disk``
folder with a dataset card: :mod:`tailguard.integrations.huggingface.export`), ``croissant`` (Parquet +
Croissant 1.1 JSON-LD with PROV-O: :mod:`tailguard.ledger.croissant`) and ``ultralytics-ndjson`` (the
Ultralytics Platform's dataset NDJSON: :mod:`tailguard.ledger.ndjson`).

Labels are written from the stored boxes of the chosen ``origins`` (default: human and
pseudo_label). When one image has boxes from several chosen origins, ``both`` decides:
``prefer-human`` (default) keeps the boxes of the most trusted origin (human >
pseudo_label > synthetic > unknown), so the default export holds the human labels plus
the pseudo-labels of images that have no human ones; ``merge`` keeps all, ``skip``
leaves the image out (listed in the export manifest).

Exports are atomic where a reader could be fooled: JSONL and Parquet files, image
copies, label files, image lists and the manifest are written under a temporary name in
their destination folder and renamed into place (``os.replace``); a YOLO export writes
``data.yaml`` last, so a folder without one is an incomplete export. Images are copied
(``link=True`` hard-links them instead, copying across devices), so editing an exported
image never changes the ledger's source file.

A YOLO export needs a train and a val split. The stored split (from the ingested
data.yaml) is used when it has both; otherwise ``val_fraction`` (a deterministic split
by a seeded hash of the sample id) or ``val_from`` (val images from another version)
must be given. Nothing is written outside ``out``: stored names such as ``../../x`` are
refused.

>>> {"yolo", "jsonl", "parquet", "csv", "hf", "croissant", "ultralytics-ndjson"} <= set(export_format_names())
True
>>> sorted(name for name in BUILTIN_EXPORT_FORMATS if "link" in get_export_format(name).options)
['ultralytics-ndjson', 'yolo']
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypedDict

from tailguard.errors import ParameterError, UnknownChoiceError, UnsafePathError
from tailguard.ledger.export.base import (
    BOTH_MODES,
    DEFAULT_ORIGINS,
    SPLITS,
    WARN_NAMES,
    ExportWarning,
    atomic_path,
    choose_labels,
    export_rows,
    place_file,
    split_unit,
    write_text,
)
from tailguard.ledger.export.formats import (
    BUILTIN_EXPORT_FORMATS,
    EXPORT_FORMATS,
    ExportFormat,
    ExportJob,
    all_export_formats,
    check_export_options,
    export_format_names,
    get_export_format,
    register_export_format,
    validate_export_format,
)
from tailguard.ledger.export.table import write_parquet
from tailguard.ledger.types import ORIGINS

if TYPE_CHECKING:
    from tailguard.ledger.store import Ledger

__all__ = ["BOTH_MODES", "BUILTIN_EXPORT_FORMATS", "DEFAULT_ORIGINS", "EXPORT_FORMATS", "SPLITS", "WARN_NAMES",
           "ExportFormat", "ExportJob", "ExportOptions", "ExportWarning", "all_export_formats", "atomic_path",
           "choose_labels", "export_format_names", "export_rows", "export_version", "get_export_format",
           "place_file", "register_export_format", "split_unit", "validate_export_format", "write_parquet",
           "write_text"]


class ExportOptions(TypedDict, total=False):
    """Keyword options of :func:`export_version` (``Ledger.export`` forwards them)."""

    origins: Sequence[str]
    both: str
    link: bool
    val_fraction: float | None
    val_from: str | None
    seed: int
    progress: Callable[[int], None] | None
    task: str | None


def export_version(
    ledger: Ledger,
    version: str,
    fmt: str,
    out: Path,
    *,
    origins: Sequence[str] = DEFAULT_ORIGINS,
    both: str = "prefer-human",
    link: bool = False,
    val_fraction: float | None = None,
    val_from: str | None = None,
    seed: int = 0,
    progress: Callable[[int], None] | None = None,
    task: str | None = None,
) -> Path:
    """Write ``version`` to ``out`` in the registered format ``fmt``; returns the path its writer returns:
    data.yaml (yolo), the dataset folder (yolo, task classify: Ultralytics trains on the folder; hf) or the
    written file.

    ``link`` hard-links images instead of copying them (yolo, ultralytics-ndjson); ``val_fraction`` /
    ``val_from`` / ``seed`` choose the val split when the version has none (yolo; see the module
    docstring). ``task`` (yolo) picks the Ultralytics task whose label rows are written (default: the
    one task the chosen rows hold; rows of several tasks need it). An option given to a format that does
    not take it is a :class:`~tailguard.errors.ParameterError` naming the formats that do. Images that end
    up without labels are named in an :class:`ExportWarning`.
    """
    out = Path(out)
    chosen = _check(fmt, origins, both, val_fraction, val_from, task)
    job = ExportJob(ledger, version, out, chosen.name, chosen.modalities, tuple(origins), both, link, val_fraction,
                    val_from, seed, task, progress)
    check_export_options(chosen, job)
    ledger.get_version(version)  # typed error with suggestions when it does not exist
    if val_from is not None:
        ledger.get_version(val_from)
    if out.exists() and not out.is_dir():
        raise UnsafePathError("--out must be a folder", path=str(out))
    out.mkdir(parents=True, exist_ok=True)
    return chosen.write(job)


def _check(fmt: str, origins: Sequence[str], both: str, val_fraction: float | None, val_from: str | None,
           task: str | None) -> ExportFormat:
    """The format called ``fmt``, after checking the options every format shares (and the values of yolo's)."""
    from tailguard.tasks import TASKS

    if task is not None and task not in TASKS:
        raise UnknownChoiceError("task", task, TASKS)
    chosen = get_export_format(fmt)
    for origin in origins:
        if origin not in ORIGINS:
            raise UnknownChoiceError("origin", origin, ORIGINS)
    if both not in BOTH_MODES:
        raise UnknownChoiceError("'both' mode", both, BOTH_MODES)
    if val_fraction is not None and not (isinstance(val_fraction, int | float) and 0.0 < val_fraction < 1.0):
        raise ParameterError(f"The 'val_fraction' parameter of export_version must be a float in (0, 1). "
                             f"Got {val_fraction!r}.")
    if val_fraction is not None and val_from is not None:
        raise ParameterError("Pass either 'val_fraction' (--val-fraction) or 'val_from' (--val-from) to "
                             f"export_version, not both. Got {val_fraction!r} and {val_from!r}.")
    return chosen
