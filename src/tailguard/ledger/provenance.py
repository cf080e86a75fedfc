"""Origin evidence inside image files: C2PA manifests and IPTC/XMP ``DigitalSourceType``.

The IPTC digital-source-type vocabulary (also used by C2PA actions) tells generated
media apart from captured media. ``trainedAlgorithmicMedia``, ``compositeSynthetic``
and the other generative values imply ``synthetic``; capture values imply ``human``.

>>> implied_origin("http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia")
'synthetic'
>>> implied_origin("digitalCapture")
'human'
>>> resolve_origin("human", [Evidence("xmp", "compositeSynthetic", "synthetic")])[0]
'synthetic'
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass

SYNTHETIC_SOURCE_TYPES = frozenset(
    {
        "trainedAlgorithmicMedia",
        "compositeWithTrainedAlgorithmicMedia",
        "compositeSynthetic",
        "algorithmicMedia",
        "dataDrivenMedia",
        "virtualRecording",
    }
)
HUMAN_SOURCE_TYPES = frozenset(
    {
        "digitalCapture",
        "computationalCapture",
        "negativeFilm",
        "positiveFilm",
        "print",
        "minorHumanEdits",
        "humanEdits",
        "compositeCapture",
        "algorithmicallyEnhanced",
        "screenCapture",
        "digitalCreation",
        "digitalArt",
    }
)

_XMP_START = b"<x:xmpmeta"
_XMP_END = b"</x:xmpmeta>"
_DST = re.compile(
    rb"DigitalSourceType(?:\s*=\s*[\"']([^\"']+)[\"']|\s*>\s*([^<\s]+)\s*<|[^>]*?rdf:resource\s*=\s*[\"']([^\"']+)[\"'])"
)
_MIME = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".webp": "image/webp",
         ".tif": "image/tiff", ".tiff": "image/tiff", ".gif": "image/gif", ".avif": "image/avif",
         ".heic": "image/heic"}


@dataclass(frozen=True)
class Evidence:
    """One piece of origin evidence found in a file."""

    kind: str  # "c2pa" | "xmp"
    value: str  # the digital source type (full IPTC URI or code), or a note
    implies: str | None  # "synthetic" | "human" | None

    def as_dict(self) -> dict[str, str | None]:
        return {"kind": self.kind, "value": self.value, "implies": self.implies}


def implied_origin(source_type: str) -> str | None:
    """Map an IPTC digital source type (URI or bare code) to ``synthetic``/``human``/None."""
    code = source_type.rstrip("/").rsplit("/", 1)[-1]
    if code in SYNTHETIC_SOURCE_TYPES:
        return "synthetic"
    if code in HUMAN_SOURCE_TYPES:
        return "human"
    return None


def xmp_evidence(data: bytes) -> list[Evidence]:
    """``DigitalSourceType`` values found in the file's XMP packet(s)."""
    found: list[Evidence] = []
    start = data.find(_XMP_START)
    while start != -1:
        end = data.find(_XMP_END, start)
        packet = data[start : end if end != -1 else len(data)]
        for match in _DST.finditer(packet):
            raw = next(g for g in match.groups() if g)
            value = raw.decode("utf-8", "replace")
            found.append(Evidence("xmp", value, implied_origin(value)))
        if end == -1:
            break
        start = data.find(_XMP_START, end)
    return found


def _actions(manifest: dict) -> list[dict]:
    out: list[dict] = []
    for assertion in manifest.get("assertions", []) or []:
        if str(assertion.get("label", "")).startswith("c2pa.actions"):
            out.extend((assertion.get("data") or {}).get("actions", []) or [])
    return out


def c2pa_evidence(data: bytes, suffix: str) -> list[Evidence]:
    """Digital source types declared by the active C2PA manifest's actions."""
    if b"c2pa" not in data:  # no JUMBF manifest store: skip the (costly) reader
        return []
    mime = _MIME.get(suffix.lower())
    if mime is None:
        return []
    import c2pa

    try:
        reader = c2pa.Reader.try_create(mime, io.BytesIO(data))
        if reader is None:
            return []
        try:
            store = json.loads(reader.json())
        finally:
            reader.close()
    except Exception as exc:  # a broken manifest is evidence of nothing; note it
        return [Evidence("c2pa", f"unreadable manifest: {exc}".replace("\n", " ")[:200], None)]
    active = store.get("active_manifest")
    manifest = (store.get("manifests") or {}).get(active, {}) if active else {}
    found = [
        Evidence("c2pa", str(action["digitalSourceType"]), implied_origin(str(action["digitalSourceType"])))
        for action in _actions(manifest)
        if action.get("digitalSourceType")
    ]
    if not found and manifest:
        found.append(Evidence("c2pa", "manifest without digitalSourceType", None))
    return found


def image_evidence(data: bytes, suffix: str) -> list[Evidence]:
    """All origin evidence in an image file's bytes (C2PA first, then XMP)."""
    return c2pa_evidence(data, suffix) + xmp_evidence(data)


def resolve_origin(claimed: str | None, evidence: list[Evidence]) -> tuple[str, list[tuple[str, str]]]:
    """Decide a sample's origin from the claim and the evidence.

    Returns ``(origin, conflicts)`` where each conflict is ``(other_origin, detail)``.
    Nothing is picked silently: when evidence contradicts the claim a conflict is
    returned. A ``human`` claim contradicted by generative-AI evidence is stored as
    ``synthetic`` (counting machine-made data as human is the failure that causes
    collapse); otherwise the claim is kept.
    """
    implied = {e.implies for e in evidence if e.implies}
    evidence_origin = "synthetic" if "synthetic" in implied else ("human" if "human" in implied else None)
    detail = "; ".join(f"{e.kind}: {e.value}" for e in evidence if e.implies == evidence_origin)
    if claimed in (None, "unknown"):
        return evidence_origin or "unknown", []
    if evidence_origin is None or evidence_origin == claimed:
        return claimed, []
    machine = {"synthetic", "pseudo_label"}
    if claimed in machine and evidence_origin in machine:
        return claimed, []
    if claimed == "human" and evidence_origin == "synthetic":
        return "synthetic", [("synthetic", f"claimed human but the file declares {detail}")]
    return claimed, [(evidence_origin, f"claimed {claimed} but the file declares {detail}")]
