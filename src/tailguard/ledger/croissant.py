"""``tailguard export VERSION --format croissant``: the Parquet export described by Croissant 1.1 JSON-LD.

The folder holds ``samples.parquet`` (one row per occurrence, as ``--format parquet``
writes it) and ``croissant.json``: a ``sc:Dataset`` that ``conformsTo``
``http://mlcommons.org/croissant/1.1``, with

- one ``cr:FileObject`` (the Parquet file, its size and sha256) and one ``cr:RecordSet``
  ``samples`` whose fields extract the file's columns (``id`` is the key; ``origin``,
  ``generator``, ``generation``, ``verified_by`` and ``parents`` are per-row fields);
- PROV-O provenance, as the 1.1 spec recommends, on the record set: ``prov:wasDerivedFrom``
  (the sources recorded at ingest), ``prov:wasGeneratedBy`` (one ``prov:Activity`` per
  generator, plus the export itself) and ``prov:wasAttributedTo`` (the generators as
  ``prov:SoftwareAgent``, the verifiers as ``prov:Agent``); and per row, annotation fields of the
  content field whose ``equivalentProperty`` is ``prov:wasAttributedTo`` (the row's generator)
  and ``prov:wasDerivedFrom`` (its parents);
- the Croissant RAI fields the ledger can fill: ``rai:dataCollection`` and
  ``rai:dataCollectionRawData`` (counts by origin and the sources), ``rai:machineAnnotationTools``
  (the generators of pseudo-labels and pseudo-label boxes), ``rai:dataAnnotationProtocol`` (who
  verified the human rows) and ``rai:dataLimitations`` (the synthetic share), each only when it applies.

Every sentence is built from the counts of the rows written.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tailguard.errors import EmptyDatasetError
from tailguard.ledger.export.base import atomic_path, export_rows
from tailguard.ledger.export.formats import ExportFormat, ExportJob, register_export_format
from tailguard.ledger.export.table import write_parquet
from tailguard.origins import ORIGINS

if TYPE_CHECKING:
    from tailguard.ledger.store import Ledger

SPEC = "http://mlcommons.org/croissant/1.1"
DATA_FILE = "samples.parquet"
RECORD_SET = "samples"
#: The JSON-LD context of Croissant 1.1, key for key as the spec's 1.1 examples and ``mlcroissant`` write it
#: (schema.org as ``https://schema.org/``; ``name`` and ``description`` may be language maps), plus the
#: PROV-O prefix and the ``annotation`` term the 1.1 spec uses for data-level provenance.
CONTEXT: dict[str, Any] = {
    "@language": "en", "@vocab": "https://schema.org/", "annotation": "cr:annotation", "arrayShape": "cr:arrayShape",
    "citeAs": "cr:citeAs", "column": "cr:column", "conformsTo": "dct:conformsTo", "containedIn": "cr:containedIn",
    "cr": "http://mlcommons.org/croissant/", "rai": "http://mlcommons.org/croissant/RAI/",
    "data": {"@id": "cr:data", "@type": "@json"}, "dataType": {"@id": "cr:dataType", "@type": "@vocab"},
    "dct": "http://purl.org/dc/terms/", "description": {"@container": "@language"},
    "equivalentProperty": "cr:equivalentProperty", "examples": {"@id": "cr:examples", "@type": "@json"},
    "extract": "cr:extract", "field": "cr:field", "fileProperty": "cr:fileProperty", "fileObject": "cr:fileObject",
    "fileSet": "cr:fileSet", "format": "cr:format", "includes": "cr:includes", "isArray": "cr:isArray",
    "isLiveDataset": "cr:isLiveDataset", "jsonPath": "cr:jsonPath", "key": "cr:key", "md5": "cr:md5",
    "name": {"@container": "@language"}, "parentField": "cr:parentField", "path": "cr:path",
    "prov": "http://www.w3.org/ns/prov#", "recordSet": "cr:recordSet", "references": "cr:references",
    "regex": "cr:regex", "repeated": "cr:repeated", "replace": "cr:replace", "samplingRate": "cr:samplingRate",
    "sc": "https://schema.org/", "separator": "cr:separator", "source": "cr:source", "subField": "cr:subField",
    "transform": "cr:transform",
}
#: Parquet columns described as record-set fields: (column, dataType, description, is an array).
FIELDS: tuple[tuple[str, str, str, bool], ...] = (
    ("id", "sc:Text", "Content hash (blake3) of the sample: its id in the tailguard ledger.", False),
    ("modality", "sc:Text", "text, tabular, image, detection or vector.", False),
    ("text", "sc:Text", "The text (text samples) or the canonical JSON row (tabular samples).", False),
    ("origin", "sc:Text", "Who made the sample: human, synthetic, pseudo_label or unknown.", False),
    ("generator", "sc:Text", "The model that generated the sample, when one did.", False),
    ("generation", "sc:Integer", "Generation of recursive training the sample belongs to (human data: 0).", False),
    ("verified_by", "sc:Text", "Who verified the sample, when someone did.", False),
    ("parents", "sc:Text", "Ids of the samples this one was derived from.", True),
    ("synthetic_depth", "sc:Integer", "Longest chain of synthetic ancestors behind the sample.", False),
    ("source", "sc:Text", "The file, folder or dataset the sample was ingested from.", False),
    ("uri", "sc:URL", "Path of the sample's file (images), when it has one.", False),
)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _source_id(source: str) -> str:
    """A source as an IRI: absolute paths as ``file:`` URIs, other labels (``hf:...``) as they are.

    >>> _source_id("/data/a.csv"), _source_id("hf:imdb@abc")
    ('file:///data/a.csv', 'hf:imdb@abc')
    """
    return Path(source).as_uri() if source.startswith("/") else source


def _share(k: int, n: int) -> str:
    return f"{k / n:.1%}" if n else "n/a"


class _Counts:
    def __init__(self) -> None:
        self.n = 0
        self.by_origin: Counter[str] = Counter()
        self.generators: Counter[str] = Counter()
        self.annotators: Counter[str] = Counter()  # generators of pseudo-labels and pseudo-label boxes
        self.verifiers: Counter[str] = Counter()
        self.sources: Counter[str] = Counter()
        self.generations: Counter[int] = Counter()
        self.has_text = False

    def add(self, row: dict[str, Any]) -> None:
        self.n += 1
        self.by_origin[row["origin"]] += 1
        if row["generator"]:
            self.generators[row["generator"]] += 1
            if row["origin"] == "pseudo_label":
                self.annotators[row["generator"]] += 1
        for box in row["labels"]:
            if box["origin"] == "pseudo_label" and box["generator"]:
                self.annotators[box["generator"]] += 1
        if row["verified_by"] and row["origin"] == "human":
            self.verifiers[row["verified_by"]] += 1
        if row["source"]:
            self.sources[row["source"]] += 1
        if row["generation"] is not None:
            self.generations[row["generation"]] += 1
        self.has_text = self.has_text or row["text"] is not None


def _rai(c: _Counts) -> dict[str, Any]:
    origins = ", ".join(f"{c.by_origin[o]} {o} ({_share(c.by_origin[o], c.n)})" for o in ORIGINS if c.by_origin[o])
    gens = (f"; generations {min(c.generations)} to {max(c.generations)}" if c.generations else "")
    rai: dict[str, Any] = {
        "rai:dataCollection": f"{c.n} samples recorded in a tailguard provenance ledger by origin: {origins}{gens}; "
                              f"ingested from {len(c.sources)} source(s).",
    }
    if c.sources:
        rai["rai:dataCollectionRawData"] = "; ".join(f"{s} ({k} samples)" for s, k in c.sources.most_common(20))
    if c.annotators:
        rai["rai:machineAnnotationTools"] = [name for name, _ in c.annotators.most_common()]
    human = c.by_origin["human"]
    if human:
        verified = sum(c.verifiers.values())
        who = ", ".join(name for name, _ in c.verifiers.most_common(10))
        rai["rai:dataAnnotationProtocol"] = (f"{verified} of {human} human samples carry a verifier"
                                             + (f" ({who})" if who else "") + ".")
    synthetic = c.by_origin["synthetic"]
    if synthetic:
        makers = ", ".join(name for name, _ in c.generators.most_common(10)) or "unrecorded generators"
        rai["rai:dataLimitations"] = (f"{synthetic} of {c.n} samples ({_share(synthetic, c.n)}) are synthetic, made "
                                      f"by {makers}. Training on machine-made data without enough human data risks "
                                      "model collapse: the tails of the distribution are lost first.")
    return rai


def _fields(content: str) -> list[dict[str, Any]]:
    fields = []
    for column, kind, description, is_array in FIELDS:
        field: dict[str, Any] = {
            "@type": "cr:Field", "@id": f"{RECORD_SET}/{column}", "name": column, "description": description,
            "dataType": kind, "source": {"fileObject": {"@id": DATA_FILE}, "extract": {"column": column}},
        }
        if is_array:
            field["isArray"] = True
        if column == content:  # data-level provenance of each row's content
            field["annotation"] = [
                {"@type": "cr:Field", "@id": f"{RECORD_SET}/{column}/generator", "name": "generator",
                 "description": "The software agent each row is attributed to (its generator).",
                 "dataType": "sc:Text", "equivalentProperty": "prov:wasAttributedTo",
                 "source": {"fileObject": {"@id": DATA_FILE}, "extract": {"column": "generator"}}},
                {"@type": "cr:Field", "@id": f"{RECORD_SET}/{column}/parents", "name": "parents",
                 "description": "The samples each row was derived from.", "dataType": "sc:Text", "isArray": True,
                 "equivalentProperty": "prov:wasDerivedFrom",
                 "source": {"fileObject": {"@id": DATA_FILE}, "extract": {"column": "parents"}}},
            ]
        fields.append(field)
    return fields


def croissant_metadata(version: str, description: str, created: dt.datetime, data_file: Path,
                       counts: _Counts) -> dict[str, Any]:
    """The Croissant JSON-LD document of an export (see the module doc)."""
    activities: list[dict[str, Any]] = [
        {"@type": "prov:Activity", "prov:label": f"generation by {name}",
         "prov:wasAssociatedWith": {"@type": "prov:SoftwareAgent", "prov:label": name},
         "description": f"{k} samples generated"} for name, k in counts.generators.most_common()]
    activities.append({"@type": "prov:Activity", "prov:label": f"tailguard export of version {version}",
                       "prov:endedAtTime": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")})
    agents: list[dict[str, Any]] = [{"@type": "prov:SoftwareAgent", "prov:label": name}
                                    for name, _ in counts.generators.most_common()]
    agents += [{"@type": "prov:Agent", "prov:label": name} for name, _ in counts.verifiers.most_common()]
    record_set: dict[str, Any] = {
        "@type": "cr:RecordSet", "@id": RECORD_SET, "name": RECORD_SET,
        "description": f"One record per occurrence of a sample of version {version} ({counts.n} records).",
        "key": {"@id": f"{RECORD_SET}/id"},
        "field": _fields("text" if counts.has_text else "id"),
        "prov:wasDerivedFrom": [{"@id": _source_id(s)} for s, _ in counts.sources.most_common()],
        "prov:wasGeneratedBy": activities,
        "prov:wasAttributedTo": agents,
    }
    synthetic = counts.by_origin["synthetic"]
    return {
        "@context": CONTEXT,
        "@type": "sc:Dataset",
        "conformsTo": SPEC,
        "name": version,
        "description": description or (f"tailguard ledger version {version}: {counts.n} samples, "
                                        f"{_share(synthetic, counts.n)} synthetic."),
        "datePublished": created.date().isoformat(),
        "keywords": ["tailguard", "provenance"] + (["synthetic data"] if synthetic else []),
        **_rai(counts),
        "distribution": [{
            "@type": "cr:FileObject", "@id": DATA_FILE, "name": DATA_FILE, "contentUrl": DATA_FILE,
            "encodingFormat": "application/x-parquet", "contentSize": f"{data_file.stat().st_size} B",
            "sha256": _sha256(data_file),
        }],
        "recordSet": [record_set],
    }


def export_croissant(ledger: Ledger, version: str, out: Path, *, origins: Sequence[str], both: str,
                     progress: Callable[[int], None] | None = None) -> Path:
    """Write ``samples.parquet`` and ``croissant.json`` into ``out``; returns the JSON-LD file."""
    info = ledger.get_version(version)
    counts = _Counts()
    for row in export_rows(ledger, version, origins, both):
        counts.add(row)
    if counts.n == 0:
        raise EmptyDatasetError(f"version {version!r} has no samples to export", path=version)
    data_file = write_parquet(ledger, version, out / DATA_FILE, origins, both, progress)
    doc = croissant_metadata(version, info.description, info.created_at, data_file, counts)
    target = out / "croissant.json"
    with atomic_path(target) as part:
        part.write_text(json.dumps(doc, indent=2, ensure_ascii=False), encoding="utf-8")
    return target


@register_export_format
class CroissantFormat(ExportFormat):
    """``--format croissant``: ``samples.parquet`` and ``croissant.json`` (module docstring); returns the JSON-LD file."""

    name = "croissant"
    summary = "samples.parquet described by Croissant 1.1 JSON-LD with PROV-O provenance"

    def write(self, job: ExportJob) -> Path:
        return export_croissant(job.ledger, job.version, job.out, origins=job.origins, both=job.both,
                                progress=job.progress)
