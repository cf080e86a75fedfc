"""Documents to score, and the ids to key them by, from a file or a ledger version.

* JSONL (``.jsonl``, ``.json`` with one object per line): the text is the
  ``text_column`` field (default ``text``), the id the ``id_column`` field
  (default: the line number);
* CSV, TSV, Parquet: the same, by column (default id: the row number);
* ``.txt``: one document per non-blank line (id: the line number);
* ``.npy``: a 2-D array of vectors (id: the row number);
* a folder of images: the audit's image features (downscaled pixels and intensity
  histograms), scored as vectors (id: the path inside the folder);
* a ledger version: one document per occurrence of each member, keyed by the
  ``id_column`` field the sample was ingested with when it has one, else by the
  sample id.

Bad input is one line naming the file and the line: a missing field, a value
that is not text, non-UTF-8 bytes, an empty file.

>>> import json, tempfile, pathlib
>>> p = pathlib.Path(tempfile.mkdtemp()) / "docs.jsonl"
>>> _ = p.write_text(json.dumps({"doc_id": "a", "text": "hello there"}) + "\\n")
>>> read_documents(str(p), id_column="doc_id")
Documents(items=['hello there'], ids=['a'], name='docs.jsonl')
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tailguard.errors import BadInputError, EmptyDatasetError, MissingInputError, TextFormatError, UnknownChoiceError

FORMATS = (".jsonl", ".json", ".csv", ".tsv", ".parquet", ".txt", ".npy")


@dataclass(frozen=True)
class Documents:
    """Texts (or a vector array) with one id each."""

    items: Any
    ids: list[Any]
    name: str

    def __repr__(self) -> str:
        shown = Path(self.name).name
        items = self.items if isinstance(self.items, list) and len(self.items) < 4 else f"<{len(self.ids)} items>"
        return f"Documents(items={items!r}, ids={self.ids!r}, name={shown!r})"


def read_documents(spec: str, *, ledger_url: str | None = None, text_column: str | None = None,
                   id_column: str | None = None) -> Documents:
    """Read ``spec`` (a path, or else a ledger version name) as documents (see the module docstring)."""
    path = Path(spec)
    if path.exists():
        return _read_path(path, text_column, id_column)
    if any(sep in spec for sep in ("/", "\\")) or path.suffix:
        raise MissingInputError("no such file (and not a version name)", path=spec)
    return _read_version(spec, ledger_url, id_column)


def _text(value: Any, name: str, line: int, column: str) -> str:
    if not isinstance(value, str):
        raise TextFormatError(f"field {column!r} is {type(value).__name__}, not text", path=name, line=line)
    return value


def _read_path(path: Path, text_column: str | None, id_column: str | None) -> Documents:
    name = str(path)
    if path.is_dir():
        from tailguard.audit.inputs import embed_images
        from tailguard.ledger.paths import IMAGE_SUFFIXES

        images = sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        if not images:
            raise EmptyDatasetError("folder holds no images", path=name)
        return Documents(embed_images(images, name=name), [str(p.relative_to(path)) for p in images], name)
    suffix = path.suffix.lower()
    column = text_column or "text"
    if suffix not in FORMATS:
        raise UnknownChoiceError("document format", suffix or "(no suffix)", FORMATS, path=name)
    if suffix == ".npy":
        try:
            arr = np.load(path, allow_pickle=False)
        except (ValueError, OSError) as exc:
            raise BadInputError(f"cannot read .npy ({exc})", path=name) from None
        if arr.ndim != 2 or arr.shape[0] == 0:
            raise EmptyDatasetError(f"expected a non-empty 2-D array of vectors, got shape {arr.shape}", path=name)
        return Documents(arr.astype(float), list(range(arr.shape[0])), name)
    if suffix in (".csv", ".tsv", ".parquet"):
        import pandas as pd

        try:
            frame = pd.read_parquet(path) if suffix == ".parquet" else pd.read_csv(
                path, sep="\t" if suffix == ".tsv" else ",", dtype=str, keep_default_na=False)
        except UnicodeDecodeError as exc:
            raise TextFormatError(f"not valid UTF-8 ({exc.reason})", path=name) from None
        except Exception as exc:  # pandas' and pyarrow's parse errors: one typed line
            raise BadInputError(f"cannot read the table ({exc})", path=name) from None
        for needed in (column, id_column):
            if needed is not None and needed not in frame.columns:
                raise UnknownChoiceError("column", needed, [str(c) for c in frame.columns], path=name)
        texts = [_text(v, name, i + 2, column) for i, v in enumerate(frame[column])]
        ids = list(frame[id_column]) if id_column else list(range(len(texts)))
        return _checked(Documents(texts, ids, name))
    raw = path.read_bytes()
    try:
        content = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise TextFormatError(f"not valid UTF-8 ({exc.reason})", path=name, line=line) from None
    texts, ids = [], []
    for number, line in enumerate(content.splitlines(), start=1):
        if not line.strip():
            continue
        if suffix == ".txt":
            texts.append(line)
            ids.append(number)
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise BadInputError(f"not JSON ({exc.msg})", path=name, line=number) from None
        if not isinstance(obj, dict) or column not in obj:
            raise BadInputError(f"no {column!r} field", path=name, line=number)
        texts.append(_text(obj[column], name, number, column))
        if id_column is not None and id_column not in obj:
            raise BadInputError(f"no {id_column!r} field", path=name, line=number)
        ids.append(obj[id_column] if id_column else number)
    return _checked(Documents(texts, ids, name))


def _read_version(version: str, ledger_url: str | None, id_column: str | None) -> Documents:
    from tailguard.ledger import Ledger
    from tailguard.ledger.payloads import decode_texts

    with Ledger.open(ledger_url, create=False) as ledger:
        ledger.get_version(version)  # a typed error naming an unknown version
        pairs = list(ledger.iter_bytes(version))
    if not pairs:
        raise EmptyDatasetError("version holds no samples", path=version)
    kinds = {r.modality for r, _ in pairs}
    if kinds != {"text"}:
        raise BadInputError(f"score reads text versions; this one holds {', '.join(sorted(kinds))}", path=version)
    texts = decode_texts(pairs)
    ids = [((r.extra or {}).get(id_column, r.id) if id_column else r.id) for r, _ in pairs]
    return _checked(Documents(texts, ids, version))


def _checked(docs: Documents) -> Documents:
    if len(docs.ids) == 0:
        raise EmptyDatasetError("holds no documents", path=docs.name)
    return docs
