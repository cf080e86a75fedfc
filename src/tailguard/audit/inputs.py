"""What an audit compares: one side (candidate or reference) in every view a metric may ask for.

An :class:`AuditInput` carries the samples of one side as

- ``vectors``: an (n, d) float array (tabular data, ``.npy``, text or image embeddings);
- ``texts``: the raw documents, for text statistics and near-duplicates;
- ``categories``: one class label per sample (or per box), for Hill numbers,
  lost categories and per-class bars;
- ``boxes``: detection labels, for the label metrics;
- ``class_names``: the names of integer class ids when known (a YOLO ``data.yaml``'s,
  stored by the ledger at ingest), so reports name classes instead of numbering them.

:func:`as_input` builds one from an array, a list of strings or a
:class:`~tailguard.audit.sources.Source`.

>>> import numpy as np
>>> side = as_input(np.zeros((5, 3)))
>>> side.modality, side.n, side.views()
('vectors', 5, ('vectors',))
>>> as_input(["a b", "c d"]).modality
'text'
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import PurePath
from typing import Any

import numpy as np

from tailguard.errors import BadInputError, EmptyDatasetError, NonFiniteValueError, UnknownChoiceError

MODALITIES = ("vectors", "text", "images", "detection", "categorical")

#: Ledger modality names -> audit modality names.
LEDGER_MODALITY = {"tabular": "vectors", "vector": "vectors", "text": "text", "image": "images",
                   "detection": "detection"}


@dataclass(frozen=True, eq=False)
class AuditInput:
    """One side of an audit. ``name`` appears in messages and reports."""

    modality: str
    n: int
    name: str
    vectors: np.ndarray | None = None
    texts: list[str] | None = None
    categories: np.ndarray | None = None
    boxes: Any = None  # features.DetectionLabelArrays when the modality is detection
    feature_names: tuple[str, ...] | None = None
    class_names: tuple[str, ...] | None = None  # names of the integer class ids (a YOLO data.yaml's)
    #: a task's label shapes (features.shapes: MaskArrays, KeypointArrays, AngleArrays), viewed as their ``kind``
    shapes: Any = None
    #: rows left out under ``skip_bad``, each as "line N: why" (a file), "sample ID: why" (a version) or "row N: why"
    skipped: tuple[str, ...] = ()
    #: a ledger version's samples by origin, e.g. ``(("human", 80), ("synthetic", 20))``; empty when unknown
    origin_counts: tuple[tuple[str, int], ...] = ()

    def views(self) -> tuple[str, ...]:
        """The input kinds this side can feed (``vectors``, ``text``, ``categories``, ``boxes``)."""
        out = []
        if self.vectors is not None:
            out.append("vectors")
        if self.texts is not None:
            out.append("text")
        if self.categories is not None:
            out.append("categories")
        if self.boxes is not None:
            out.append("boxes")
        if self.shapes is not None:
            out.append(self.shapes.kind)
        return tuple(out)

    def view(self, kind: str) -> Any:
        if self.shapes is not None and kind == self.shapes.kind:
            return self.shapes
        return {"vectors": self.vectors, "text": self.texts, "categories": self.categories,
                "boxes": self.boxes}.get(kind)

    def take(self, index: np.ndarray) -> AuditInput:
        """The samples at ``index`` (a subsample on the same footing for N-dependent metrics).

        Boxes and per-box categories are not per-sample and are kept whole for detection.
        """
        index = np.asarray(index)
        per_sample_categories = self.categories is not None and len(self.categories) == self.n
        return replace(
            self,
            n=len(index),
            vectors=self.vectors[index] if self.vectors is not None else None,
            texts=[self.texts[i] for i in index] if self.texts is not None else None,
            categories=self.categories[index] if per_sample_categories else self.categories,
        )


def check_vectors(x: Any, name: str) -> np.ndarray:
    """A finite 2-D float array, or a typed error naming ``name``."""
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise BadInputError(f"cannot read the samples as numbers ({exc})", path=name) from None
    if arr.ndim == 1:
        arr = arr[:, None]
    elif arr.ndim > 2:
        arr = arr.reshape(arr.shape[0], -1)
    if arr.shape[0] == 0:
        raise EmptyDatasetError("no samples to audit", path=name)
    if not np.isfinite(arr).all():
        bad = int(np.argwhere(~np.isfinite(arr))[0][0])
        raise NonFiniteValueError(f"sample {bad} holds NaN or infinite values", path=name)
    return arr


def _check_texts(texts: Sequence[Any], name: str) -> list[str]:
    out = []
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise BadInputError(f"item {i} is {type(t).__name__} ({t!r:.40}), expected str", path=name)
        out.append(t)
    if not out:
        raise EmptyDatasetError("no documents to audit", path=name)
    return out


#: A string column with one of these names makes a table's rows documents (as the ledger reads it).
TEXT_COLUMNS = ("text", "content", "document", "body")


def table_view(
    frame: Any,
    *,
    name: str,
    text_column: str | None = None,
    line_offset: int = 2,
    row_ids: Sequence[str] | None = None,
    skipped: list[str] | None = None,
    file_lines: bool = False,
) -> Any:
    """What an audit reads from a pandas DataFrame: a list of documents or the numeric columns.

    The same rule serves a CSV/Parquet path and a DataFrame in a notebook, so both get the
    same audit: ``text_column`` (or a string column called ``text``) makes the rows
    documents; otherwise the numeric columns, in name order, without the provenance columns
    the ledger keeps apart from the row. ``line_offset`` turns a row index into a file line;
    ``row_ids`` (a ledger version's sample ids) name a bad row instead. A row with an empty or
    non-numeric cell is refused, naming it; given a ``skipped`` list (``skip_bad``), such rows are
    left out instead and each is described in the list (by its file line with ``file_lines``).

    >>> import pandas as pd
    >>> table_view(pd.DataFrame({"text": ["a b", "c"], "score": [1, 2]}), name="df")
    ['a b', 'c']
    >>> list(table_view(pd.DataFrame({"b": [1.0], "a": [2.0], "origin": ["human"]}), name="df").columns)
    ['a', 'b']
    """
    from tailguard.ledger.ingest.base import PROVENANCE_FIELDS  # columns the ledger keeps apart from the row

    columns = [str(c) for c in frame.columns]
    if not len(frame):  # a header alone: an empty dataset, not a table without numbers
        raise EmptyDatasetError(f"table has no rows (columns: {', '.join(columns) or 'none'})", path=name)
    if text_column is None and set(columns) >= EXPORT_COLUMNS:
        return _export_view(frame, name=name, skipped=skipped)
    if text_column is not None:
        if text_column not in columns:
            raise UnknownChoiceError("text column", text_column, columns, path=name)
        return _check_texts(list(frame[text_column]), name)
    if "text" in frame.columns and frame["text"].map(lambda v: isinstance(v, str)).all():
        return [str(v) for v in frame["text"]]
    frame = frame.drop(columns=[c for c in PROVENANCE_FIELDS if c in frame.columns])
    frame = _numbers_with_stray_text(frame)
    numeric = frame.select_dtypes("number")
    if numeric.shape[1] == 0:
        texts = [c for c in frame.columns if str(c) in TEXT_COLUMNS]
        hint = f"; pass text_column={str(texts[0])!r} to audit its documents" if texts else ""
        raise BadInputError(f"table has no numeric columns{hint}", path=name)
    numeric = numeric[sorted(numeric.columns, key=str)]
    missing = numeric.isna().to_numpy()
    if not missing.any():
        return numeric

    def where(row: int) -> str:
        return f"sample {row_ids[row]}" if row_ids is not None else f"row {row + 1}"

    def what(row: int) -> str:
        col = int(np.flatnonzero(missing[row])[0])
        return f"an empty or non-numeric value in column {str(numeric.columns[col])!r}"

    bad = np.flatnonzero(missing.any(axis=1))
    if skipped is None:
        row = int(bad[0])
        raise BadInputError(f"{where(row)} has {what(row)}; --skip-bad (AuditConfig(skip_bad=True)) leaves such rows out",
                            path=name,
                            line=None if row_ids is not None else row + line_offset)
    for row in bad.tolist():
        at = (f"sample {row_ids[row]}" if row_ids is not None
              else f"line {row + line_offset}" if file_lines else f"row {row + 1}")
        skipped.append(f"{at}: {what(row)}")
    if len(bad) == len(numeric):
        raise EmptyDatasetError(f"every row has an empty or non-numeric value ({len(bad)} skipped); nothing is left "
                                "to audit", path=name)
    return numeric[~missing.any(axis=1)]


#: The columns of ``tailguard export --format parquet|jsonl`` (one row per occurrence of a sample).
EXPORT_COLUMNS = frozenset({"id", "modality", "origin", "text", "content"})


def _export_view(frame: Any, *, name: str, skipped: list[str] | None) -> Any:
    """A tailguard export read as the version it came from: a text version's documents, or a tabular
    version's rows, which the export holds as JSON objects in ``text`` (read as text they would be
    audited as JSON strings). Other modalities are refused: their bytes are not what an audit reads.

    >>> import pandas as pd
    >>> export = pd.DataFrame({"id": ["a", "b"], "modality": ["tabular"] * 2, "origin": ["human"] * 2,
    ...                        "text": ['{"x": 1.0, "y": 2.0}', '{"x": 3.0, "y": 4.0}'], "content": [None, None]})
    >>> table_view(export, name="samples.parquet").to_numpy().tolist()
    [[1.0, 2.0], [3.0, 4.0]]
    """
    import json

    import pandas as pd

    kinds = sorted({str(m) for m in frame["modality"]})
    if kinds == ["text"]:
        return _check_texts(list(frame["text"]), name)
    if kinds != ["tabular"]:
        raise BadInputError(f"a tailguard export of {', '.join(kinds)} samples: audit the version itself (or, for "
                            "images, the folder or data.yaml of its YOLO export)", path=name)
    rows = []
    for sample_id, text in zip(frame["id"], frame["text"], strict=True):
        try:
            row = json.loads(text)
        except (TypeError, json.JSONDecodeError):
            row = None
        if not isinstance(row, dict):
            raise BadInputError(f"sample {sample_id}: the exported row is not a JSON object", path=name)
        rows.append(row)
    return table_view(pd.DataFrame(rows), name=name, row_ids=[str(i) for i in frame["id"]], skipped=skipped)


class ReferenceOriginWarning(UserWarning):
    """The reference is a ledger version that is not all human: the audit compares against machine-made data."""


def origin_summary(counts: Mapping[str, int]) -> str:
    """Origin counts as a report line says them, in name order.

    >>> origin_summary({"synthetic": 2, "human": 1})
    'human 1, synthetic 2'
    """
    return ", ".join(f"{origin} {n}" for origin, n in sorted(counts.items()))


def reference_origin_note(name: str, origin_counts: Sequence[tuple[str, int]]) -> str | None:
    """What a reference version's origins say when they are not all human (``None`` when they are, or are unknown).

    >>> reference_origin_note("ref", (("human", 1), ("synthetic", 2)))
    "the reference 'ref' is 33% human (human 1, synthetic 2): the audit measures against data that is not all human"
    """
    counts = dict(origin_counts)
    total = sum(counts.values())
    if not total or counts.get("human", 0) == total:
        return None
    return (f"the reference {name!r} is {counts.get('human', 0) / total:.0%} human ({origin_summary(counts)}): "
            "the audit measures against data that is not all human")


def _numbers_with_stray_text(frame: Any) -> Any:
    """A text-typed column that holds numbers and some text (``1.5``, ``n/a``, ``2.0``) is a numeric
    column with bad cells, as ingest reads it (it refuses a column that mixes the two): its text cells
    become missing values, which :func:`table_view` refuses or, under ``skip_bad``, leaves out. Left
    text-typed, the whole column would silently drop out of the features."""
    import pandas as pd

    mixed = {}
    for col in frame.columns:
        values = frame[col]
        if not (values.dtype == object or pd.api.types.is_string_dtype(values.dtype)):
            continue
        as_numbers = pd.to_numeric(values.map(lambda v: v if isinstance(v, str | int | float) else None),
                                   errors="coerce")
        if as_numbers.notna().any() and (values.notna() & as_numbers.isna()).any():
            mixed[col] = as_numbers
    return frame.assign(**{str(c): v for c, v in mixed.items()}) if mixed else frame


def _series_view(series: Any, name: str) -> tuple[str, Any]:
    """A pandas Series: strings are documents, integers categories, floats one feature."""
    values = list(series)
    if series.dtype.kind in "OSU" or str(series.dtype) == "string":
        return "text", _check_texts(values, name)
    if series.dtype.kind in "iub":
        return "categorical", np.asarray(values)
    return "vectors", np.asarray(values, dtype=np.float64).reshape(-1, 1)


def infer_modality(obj: Any) -> str:
    """The audit modality of an in-memory object.

    >>> infer_modality(np.array([1, 2, 2]))
    'categorical'
    >>> infer_modality(np.ones((3, 2)))
    'vectors'
    """
    if isinstance(obj, AuditInput):
        return obj.modality
    if hasattr(obj, "modality") and getattr(obj, "modality", None) in MODALITIES:
        return obj.modality
    if type(obj).__name__ == "DetectionLabelArrays":
        return "detection"
    if isinstance(obj, list | tuple) and obj and all(isinstance(t, str) for t in obj):
        return "text"
    if isinstance(obj, list | tuple) and obj and (
        isinstance(obj[0], PurePath) or type(obj[0]).__module__.startswith("PIL")
    ):
        return "images"
    if hasattr(obj, "select_dtypes"):  # a pandas DataFrame
        return "vectors"
    arr = np.asarray(obj)
    if arr.ndim == 1 and (arr.dtype.kind in "iubUSO"):
        return "categorical"
    if arr.ndim == 4 or (arr.ndim == 3 and arr.dtype == np.uint8):
        return "images"
    return "vectors"


def as_input(
    obj: Any,
    *,
    modality: str | None = None,
    name: str = "candidate",
    embedder: str = "hashed",
    labels: Any = None,
    seed: int = 0,
    text_column: str | None = None,
    skip_bad: bool = False,
) -> AuditInput:
    """Turn ``obj`` into an :class:`AuditInput` with every view its modality supports.

    ``skip_bad`` leaves out the table rows with an empty or non-numeric cell (a DataFrame, a
    CSV or Parquet path, a tabular version) and lists them in the result's ``skipped``; without
    it such a row is an error that names it.

    ``labels`` (optional) are per-sample class labels for per-class metrics. A pandas
    Series of strings is text; a DataFrame is its numeric columns, or documents with
    ``text_column=`` (see :func:`table_view`).

    >>> import pandas as pd
    >>> as_input(pd.Series(["a cat", "a dog"])).modality
    'text'
    >>> as_input(pd.DataFrame({"x": [1.0, 2.0], "y": [3.0, 4.0]})).feature_names
    ('x', 'y')
    """
    from tailguard.audit.sources import Source

    if isinstance(obj, AuditInput):
        return obj
    if isinstance(obj, Source):
        return obj.load(modality=modality, embedder=embedder, seed=seed, skip_bad=skip_bad)
    if isinstance(obj, str):
        raise BadInputError(
            "a single string is ambiguous: pass a list of documents, or Source(...) for a path or version",
            path=name,
        )
    if is_arrow_dataset(obj):
        obj = dataset_frame(obj, name)
    if _is_pandas(obj, "Series"):
        kind, obj = _series_view(obj, name)
        modality = modality or kind
    elif _is_pandas(obj, "DataFrame"):
        skipped: list[str] | None = [] if skip_bad else None
        obj = table_view(obj, name=name, text_column=text_column, skipped=skipped)
        modality = modality or ("text" if isinstance(obj, list) else "vectors")
        if skipped:
            return replace(as_input(obj, modality=modality, name=name, embedder=embedder, labels=labels, seed=seed),
                           skipped=tuple(skipped))
    modality = modality or infer_modality(obj)
    if modality not in MODALITIES:
        raise UnknownChoiceError("modality", modality, MODALITIES)
    cats = np.asarray(labels) if labels is not None else None
    if modality == "text":
        texts = _check_texts(obj, name)
        order = sorted(range(len(texts)), key=texts.__getitem__)  # a multiset: order must not matter
        texts = [texts[i] for i in order]
        cats = cats[order] if cats is not None and len(cats) == len(order) else cats
        vectors = embed_texts(texts, embedder=embedder, seed=seed, name=name)
        return AuditInput("text", len(texts), name, vectors=vectors, texts=texts, categories=cats)
    if modality == "categorical":
        arr = np.asarray(obj)
        if arr.ndim != 1 or arr.size == 0:
            raise EmptyDatasetError("categorical samples must be a non-empty 1-D array", path=name)
        return AuditInput("categorical", len(arr), name, categories=arr)
    if modality == "images":
        vectors, cats = canonical_order(embed_images(obj, name=name), cats)
        return AuditInput("images", len(vectors), name, vectors=vectors, categories=cats)
    if modality == "detection":
        return detection_input(obj, name=name)
    feature_names = None
    if hasattr(obj, "select_dtypes"):
        numeric = obj.select_dtypes("number")
        feature_names = tuple(str(c) for c in numeric.columns)
        obj = numeric.to_numpy()
    vectors = check_vectors(obj, name)
    if cats is not None and len(cats) != len(vectors):
        raise BadInputError(f"{len(cats)} labels for {len(vectors)} samples", path=name)
    vectors, cats = canonical_order(vectors, cats)
    return AuditInput("vectors", len(vectors), name, vectors=vectors, categories=cats, feature_names=feature_names)


def is_arrow_dataset(obj: Any) -> bool:
    """Whether ``obj`` is a Hugging Face ``datasets`` object or a ``pyarrow.Table`` (no import needed to tell).

    >>> import pyarrow as pa
    >>> is_arrow_dataset(pa.table({"x": [1.0]})), is_arrow_dataset([1.0])
    (True, False)
    """
    from tailguard.integrations.huggingface.batches import dataset_kind
    from tailguard.ledger.ingest.hf import is_arrow_table

    return is_arrow_table(obj) or dataset_kind(obj) is not None


def dataset_frame(obj: Any, name: str) -> Any:
    """A ``datasets`` object or ``pyarrow.Table`` as the pandas DataFrame an audit reads (:func:`table_view`).

    The rows are read through the same Arrow batches as ``ingest`` reads them, every split of a
    ``DatasetDict`` together (as the one version its ingest makes holds them), and without the
    ``tg_`` provenance columns an export writes, which ingest keeps apart from the row too.

    >>> import pyarrow as pa
    >>> list(dataset_frame(pa.table({"x": [1.0], "tg_generation": [0]}), "t").columns)
    ['x']
    """
    import pyarrow as pa

    from tailguard.integrations.huggingface.batches import dataset_splits
    from tailguard.ledger.ingest.hf import DEFAULT_COLUMNS, ID_COLUMN, SPLIT_COLUMN, is_arrow_table

    if is_arrow_table(obj):
        table = obj
    else:
        tables = []
        for part in dataset_splits(obj):
            batches = [pa.Table.from_pydict(b) if isinstance(b, dict) else b for b in part.batches]
            tables.extend(pa.table(b) if isinstance(b, pa.RecordBatch) else b for b in batches)
        if not tables:
            raise EmptyDatasetError("the dataset has no rows", path=name)
        try:
            table = pa.concat_tables(tables, promote_options="default")
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise BadInputError(f"the splits have different columns ({str(exc).splitlines()[0]})", path=name) from None
    internal = {ID_COLUMN, SPLIT_COLUMN} | {c for cols in DEFAULT_COLUMNS.values() for c in cols if c.startswith("tg_")}
    keep = [c for c in table.column_names if c not in internal]
    if table.num_rows == 0:
        raise EmptyDatasetError("the dataset has no rows", path=name)
    return table.select(keep).to_pandas()


def _is_pandas(obj: Any, kind: str) -> bool:
    return type(obj).__name__ == kind and type(obj).__module__.startswith("pandas")


def canonical_order(vectors: np.ndarray, cats: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Rows sorted lexicographically (labels alongside): a sample set is a multiset, so its order must not matter.

    Seeded subsamples and splits then see the same rows whether the data came as a
    file, a ledger version (stored in id order) or a shuffled array.

    >>> canonical_order(np.array([[2.0, 0.0], [1.0, 5.0]]))[0].tolist()
    [[1.0, 5.0], [2.0, 0.0]]
    """
    if len(vectors) < 2:
        return vectors, cats
    order = np.lexsort(vectors.T[::-1])
    return vectors[order], (cats[order] if cats is not None else None)


def embed_texts(texts: list[str], *, embedder: str = "hashed", seed: int = 0, name: str = "texts") -> np.ndarray:
    """Embed documents with the features part's embedder (hashed n-grams by default)."""
    from tailguard.features import get_embedder

    emb = get_embedder(embedder)
    return np.asarray(emb.transform(texts, name=name), dtype=np.float64)


def embed_images(images: Any, *, name: str) -> np.ndarray:
    """Image features (downscaled pixels + intensity histograms) from the features part."""
    from tailguard.features import DEFAULT_IMAGE_EMBEDDER, get_embedder

    emb = get_embedder(DEFAULT_IMAGE_EMBEDDER)
    return check_vectors(emb.transform(images, name=name), name)


def detection_input(obj: Any, *, name: str) -> AuditInput:
    """A detection side: the label arrays feed the label metrics; one row per box
    (log area, log aspect ratio) feeds the vector metrics; the box classes feed the
    category metrics and the per-class bars. ``n`` counts images."""
    n_images = int(obj.n_images)
    if n_images == 0:
        raise EmptyDatasetError("no labelled images to audit", path=name)
    has_boxes = int(obj.n_boxes) > 0
    return AuditInput(
        "detection",
        n_images,
        name,
        vectors=np.asarray(obj.box_matrix(), dtype=np.float64) if has_boxes else None,
        categories=np.asarray(obj.class_ids) if has_boxes else None,
        boxes=obj,
        feature_names=("log_area", "log_aspect_ratio"),
    )


def align_classes(side: AuditInput, reference: AuditInput) -> tuple[AuditInput, AuditInput]:
    """``side`` with its integer class ids renumbered to the reference's class names, and the reference
    (its names extended by any class only ``side`` has), when both name their classes differently.

    Class ids only mean something through their names: two classification folders with other class
    folders number the same class differently (Ultralytics numbers sorted folder names), and so do two
    data.yaml files listing their names in another order.

    >>> import numpy as np
    >>> ref = AuditInput("categorical", 3, "ref", categories=np.array([0, 1, 2]), class_names=("a", "b", "c"))
    >>> cand = AuditInput("categorical", 2, "cand", categories=np.array([0, 1]), class_names=("c", "d"))
    >>> cand, ref = align_classes(cand, ref)
    >>> cand.categories.tolist(), ref.class_names
    ([2, 3], ('a', 'b', 'c', 'd'))
    """
    mine, theirs = side.class_names, reference.class_names
    if not mine or not theirs or tuple(mine) == tuple(theirs):
        return side, reference
    names = list(theirs) + [n for n in mine if n not in theirs]
    index = {n: i for i, n in enumerate(names)}
    table = np.array([index[n] for n in mine], dtype=np.int64)

    def remap(ids: Any) -> np.ndarray:
        ids = np.asarray(ids, dtype=np.int64)
        out = table[ids] if ids.size else ids
        out.setflags(write=False)
        return out

    changes: dict[str, Any] = {"class_names": tuple(names)}
    if side.categories is not None and np.issubdtype(np.asarray(side.categories).dtype, np.integer):
        changes["categories"] = remap(side.categories)
    if side.boxes is not None and hasattr(side.boxes, "class_ids"):
        changes["boxes"] = replace(side.boxes, class_ids=remap(side.boxes.class_ids))
    if side.shapes is not None:
        changes["shapes"] = replace(side.shapes, class_ids=remap(side.shapes.class_ids))
    return replace(side, **changes), replace(reference, class_names=tuple(names))
