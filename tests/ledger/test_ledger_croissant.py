"""Croissant 1.1 export: the JSON-LD structure mlcroissant reads, PROV-O on the record set, RAI fields.

The first tests check the document against the structure the 1.1 spec lays down: its context,
``conformsTo``, a FileObject whose sha256 and size match the file, a RecordSet whose fields extract
columns the Parquet file has, unique ``@id`` values and references that resolve. The last ones load
it with ``mlcroissant`` (the ``dev`` extra) with every socket refused: it must validate with no
error, keep the PROV-O and RAI properties, and read the records back from the local Parquet file.
"""

from __future__ import annotations

import hashlib
import json
import logging
import socket
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


@pytest.fixture
def offline(monkeypatch):  # any attempt to open a connection fails the test
    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def _load(mlc, target: Path):
    dataset = mlc.Dataset(jsonld=str(target))
    issues = dataset.metadata.ctx.issues
    assert not issues.errors, issues.errors
    # Only "recommended" properties the ledger does not know (licence, citation, version) may be missing:
    # no warning about the @context or the structure.
    assert all("is recommended, but does not exist" in w for w in issues.warnings), issues.warnings
    return dataset


def test_mlcroissant_validates_and_reads_it_offline(sqlite_ledger: Ledger, tmp_path: Path, offline, caplog):
    import mlcroissant as mlc

    _version(sqlite_ledger)
    target = sqlite_ledger.export("mix", "croissant", tmp_path / "out")
    with caplog.at_level(logging.WARNING):
        dataset = _load(mlc, target)
    assert "not standard" not in caplog.text  # mlcroissant's warning for a non-standard @context
    meta = dataset.metadata
    assert meta.ctx.conforms_to.value == SPEC
    assert "4 human (66.7%)" in meta.data_collection
    (rs,) = meta.record_sets
    assert {d["@id"] for d in rs.extra_properties["prov:wasDerivedFrom"]} == {"file:///data/corpus.jsonl", "hf:gen@abc"}
    assert {a["prov:label"] for a in rs.extra_properties["prov:wasAttributedTo"]} == {"gpt2-tiny", "ann"}
    text = next(f for f in rs.fields if f.name == "text")
    assert {a.id for a in text.annotations} == {"samples/text/generator", "samples/text/parents"}
    records = list(dataset.records(record_set="samples"))
    expected = pq.read_table(tmp_path / "out" / "samples.parquet").to_pylist()
    assert len(records) == len(expected) == 6
    got = sorted((r["samples/id"].decode(), r["samples/text"].decode(), r["samples/origin"].decode(),
                  r["samples/generation"], [p.decode() for p in r["samples/parents"]]) for r in records)
    assert got == sorted((r["id"], r["text"], r["origin"], r["generation"], r["parents"]) for r in expected)
    assert {r["samples/generator"] for r in records} == {None, b"gpt2-tiny"}


def test_mlcroissant_validates_a_detection_export_offline(sqlite_ledger: Ledger, make_yolo_dataset, tmp_path: Path,
                                                           offline):
    import mlcroissant as mlc

    sqlite_ledger.ingest(make_yolo_dataset(n_train=2, n_val=1), origin="human", as_version="h")
    target = sqlite_ledger.export("h", "croissant", tmp_path / "o")
    dataset = _load(mlc, target)
    records = list(dataset.records(record_set="samples"))
    assert len(records) == 3 and {r["samples/modality"] for r in records} == {b"detection"}
    assert all(r["samples/text"] is None and r["samples/uri"] for r in records)
