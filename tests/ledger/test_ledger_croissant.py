"""Croissant 1.1 export: the JSON-LD structure mlcroissant reads, PROV-O on the record set, RAI fields.

mlcroissant is not installed in this environment, so the document is checked against the structure
the 1.1 spec lays down: its context, ``conformsTo``, a FileObject whose sha256 and size match the
file, a RecordSet whose fields extract columns the Parquet file has, unique ``@id`` values and
references that resolve. When mlcroissant is importable, the last test also loads it with it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tailguard.ledger import Box, Ledger, NewSample
from tailguard.ledger.croissant import CONTEXT, SPEC


def _version(ledger: Ledger) -> None:
    human = [NewSample(content=f"human text {i}".encode(), uri=None, modality="text", origin="human",
                       generation=0, verified_by="ann" if i < 2 else None, source="/data/corpus.jsonl")
             for i in range(4)]
    ledger.add_samples(human, as_version="h")
    parents = tuple(r.id for r in ledger.iter_samples("h"))[:1]
    synthetic = [NewSample(content=f"model text {i}".encode(), uri=None, modality="text", origin="synthetic",
                           generator="gpt2-tiny", generation=1, parents=parents, source="hf:gen@abc")
                 for i in range(2)]
    ledger.add_samples(synthetic, as_version="s")
    ledger.create_version("mix", ["version:h", "version:s"])


def _ids(node, found):  # every @id defined (an object with more than the @id)
    if isinstance(node, dict):
        if "@id" in node and len(node) > 1:
            found.append(node["@id"])
        for value in node.values():
            _ids(value, found)
    elif isinstance(node, list):
        for value in node:
            _ids(value, found)
    return found


def _refs(node, found):  # every reference ({"@id": ...} alone)
    if isinstance(node, dict):
        if set(node) == {"@id"}:
            found.append(node["@id"])
        for value in node.values():
            _refs(value, found)
    elif isinstance(node, list):
        for value in node:
            _refs(value, found)
    return found


def test_croissant_structure_and_provenance(sqlite_ledger: Ledger, tmp_path: Path):
    _version(sqlite_ledger)
    target = sqlite_ledger.export("mix", "croissant", tmp_path / "out")
    doc = json.loads(target.read_text())
    assert doc["@context"] == CONTEXT and doc["@context"]["prov"] == "http://www.w3.org/ns/prov#"
    assert doc["@type"] == "sc:Dataset" and doc["conformsTo"] == SPEC == "http://mlcommons.org/croissant/1.1"
    (dist,) = doc["distribution"]
    data = tmp_path / "out" / dist["contentUrl"]
    assert dist["@type"] == "cr:FileObject" and dist["encodingFormat"] == "application/x-parquet"
    assert dist["sha256"] == hashlib.sha256(data.read_bytes()).hexdigest()
    assert dist["contentSize"] == f"{data.stat().st_size} B"
    columns = set(pq.ParquetFile(data).schema_arrow.names)
    (rs,) = doc["recordSet"]
    fields = rs["field"]
    for field in fields + fields[2]["annotation"]:
        assert field["@type"] == "cr:Field" and field["@id"].startswith("samples/")
        assert field["source"]["fileObject"] == {"@id": dist["@id"]}
        assert field["source"]["extract"]["column"] in columns
    assert rs["key"] == {"@id": "samples/id"}
    ids = _ids(doc, [])
    assert len(ids) == len(set(ids))
    assert set(_refs(doc, [])) - {d["@id"] for d in [dist]} - set(ids) == {
        "file:///data/corpus.jsonl", "hf:gen@abc"}  # the only references outside the document: its sources
    names = {f["name"] for f in fields}
    assert {"origin", "generator", "generation", "parents", "verified_by"} <= names
    text = next(f for f in fields if f["name"] == "text")
    assert {a["equivalentProperty"] for a in text["annotation"]} == {"prov:wasAttributedTo", "prov:wasDerivedFrom"}
    assert {d["@id"] for d in rs["prov:wasDerivedFrom"]} == {"file:///data/corpus.jsonl", "hf:gen@abc"}
    labels = [a["prov:label"] for a in rs["prov:wasGeneratedBy"]]
    assert "generation by gpt2-tiny" in labels and "tailguard export of version mix" in labels
    agents = {(a["@type"], a["prov:label"]) for a in rs["prov:wasAttributedTo"]}
    assert agents == {("prov:SoftwareAgent", "gpt2-tiny"), ("prov:Agent", "ann")}
    assert "4 human (66.7%)" in doc["rai:dataCollection"] and "2 synthetic (33.3%)" in doc["rai:dataCollection"]
    assert doc["rai:dataAnnotationProtocol"] == "2 of 4 human samples carry a verifier (ann)."
    assert "2 of 6 samples (33.3%) are synthetic, made by gpt2-tiny" in doc["rai:dataLimitations"]
    assert "rai:machineAnnotationTools" not in doc  # no pseudo-labels in this version
    rows = pq.read_table(data).to_pylist()
    assert len(rows) == 6 and sorted(r["origin"] for r in rows) == ["human"] * 4 + ["synthetic"] * 2


def test_pseudo_labellers_are_machine_annotation_tools(sqlite_ledger: Ledger, make_yolo_dataset, tmp_path: Path):
    data = make_yolo_dataset(n_train=2, n_val=1)
    sqlite_ledger.ingest(data, origin="human", as_version="h")
    first = next(iter(sqlite_ledger.iter_samples("h")))
    box = Box(0, 0.4, 0.4, 0.1, 0.1, "pseudo_label", confidence=0.9, generator="yolo26n-gen1")
    sqlite_ledger.add_samples([NewSample(content=None, uri=first.uri, modality="detection", origin="human",
                                         labels=(box,))])
    sqlite_ledger.create_version("pl", ["version:h"])
    doc = json.loads(sqlite_ledger.export("pl", "croissant", tmp_path / "o", both="merge").read_text())
    assert doc["rai:machineAnnotationTools"] == ["yolo26n-gen1"]
    assert "rai:dataLimitations" not in doc  # no synthetic samples
    content = next(f for f in doc["recordSet"][0]["field"] if "annotation" in f)
    assert content["name"] == "id"  # images: the provenance annotates the id field


def test_mlcroissant_loads_it_when_installed(sqlite_ledger: Ledger, tmp_path: Path):
    mlc = pytest.importorskip("mlcroissant")
    _version(sqlite_ledger)
    target = sqlite_ledger.export("mix", "croissant", tmp_path / "out")
    dataset = mlc.Dataset(jsonld=str(target))
    records = list(dataset.records(record_set="samples"))
    assert len(records) == 6
