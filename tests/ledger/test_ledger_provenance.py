"""Origin evidence: real C2PA manifests (signed with a throwaway test CA) and IPTC/XMP DigitalSourceType."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest
from PIL import Image, PngImagePlugin

from tailguard.ledger import Ledger
from tailguard.ledger.provenance import (
    Evidence,
    c2pa_evidence,
    image_evidence,
    implied_origin,
    resolve_origin,
    xmp_evidence,
)

IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"


def png_bytes(colour=(1, 2, 3)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), colour).save(buf, "PNG")
    return buf.getvalue()


def png_with_xmp(path: Path, source_type: str, *, as_element: bool = False, colour=(9, 9, 9)) -> Path:
    if as_element:
        body = f"<Iptc4xmpExt:DigitalSourceType>{IPTC}{source_type}</Iptc4xmpExt:DigitalSourceType>"
        desc = ('<rdf:Description rdf:about="" xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/">'
                f"{body}</rdf:Description>")
    else:
        desc = (f'<rdf:Description rdf:about="" xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/" '
                f'Iptc4xmpExt:DigitalSourceType="{IPTC}{source_type}"/>')
    xmp = (f'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
           f"{desc}</rdf:RDF></x:xmpmeta>")
    info = PngImagePlugin.PngInfo()
    info.add_itxt("XML:com.adobe.xmp", xmp)
    Image.new("RGB", (16, 16), colour).save(path, "PNG", pnginfo=info)
    return path


def c2pa_signed_png(source_type: str, colour=(1, 2, 3)) -> bytes:
    """A PNG with a real, signed C2PA manifest whose 'created' action declares ``source_type``."""
    import c2pa
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn),
                          x509.NameAttribute(NameOID.ORGANIZATION_NAME, "tailguard tests")])

    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(name("test ca")).issuer_name(name("test ca"))
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (x509.CertificateBuilder().subject_name(name("signer")).issuer_name(ca.subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(True, False, False, False, False, False, False, False, False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    chain = leaf.public_bytes(serialization.Encoding.PEM) + ca.public_bytes(serialization.Encoding.PEM)
    pkey = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
    signer = c2pa.Signer.from_info(c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, chain, pkey, None))
    manifest = {
        "claim_generator_info": [{"name": "tailguard-test", "version": "1"}],
        "title": "generated.png",
        "format": "image/png",
        "assertions": [{"label": "c2pa.actions", "data": {"actions": [
            {"action": "c2pa.created", "digitalSourceType": IPTC + source_type}]}}],
    }
    src = io.BytesIO(png_bytes(colour))
    dst = io.BytesIO()
    c2pa.Builder(manifest).sign(signer, "image/png", src, dst)
    return dst.getvalue()


@pytest.mark.parametrize(
    ("code", "origin"),
    [("trainedAlgorithmicMedia", "synthetic"), ("compositeSynthetic", "synthetic"),
     ("compositeWithTrainedAlgorithmicMedia", "synthetic"), ("algorithmicMedia", "synthetic"),
     ("digitalCapture", "human"), ("negativeFilm", "human"), ("somethingNew", None)],
)
def test_source_type_vocabulary(code, origin):
    assert implied_origin(IPTC + code) == origin
    assert implied_origin(code) == origin


def test_xmp_attribute_and_element_forms(tmp_path):
    attr = png_with_xmp(tmp_path / "a.png", "trainedAlgorithmicMedia").read_bytes()
    elem = png_with_xmp(tmp_path / "b.png", "digitalCapture", as_element=True).read_bytes()
    assert xmp_evidence(attr) == [Evidence("xmp", IPTC + "trainedAlgorithmicMedia", "synthetic")]
    assert xmp_evidence(elem) == [Evidence("xmp", IPTC + "digitalCapture", "human")]
    assert xmp_evidence(png_bytes()) == []


def test_real_c2pa_manifest_is_read():
    data = c2pa_signed_png("compositeSynthetic")
    assert c2pa_evidence(data, ".png") == [Evidence("c2pa", IPTC + "compositeSynthetic", "synthetic")]
    assert image_evidence(png_bytes(), ".png") == []
    # a damaged manifest is noted, never fatal
    broken = data.replace(b"c2pa.actions", b"c2pa.actionz", 1)
    assert all(e.implies is None for e in c2pa_evidence(broken, ".png"))


def test_resolve_origin_never_picks_silently():
    synth = [Evidence("c2pa", IPTC + "trainedAlgorithmicMedia", "synthetic")]
    capture = [Evidence("xmp", IPTC + "digitalCapture", "human")]
    assert resolve_origin(None, synth) == ("synthetic", [])
    assert resolve_origin(None, []) == ("unknown", [])
    assert resolve_origin("human", capture) == ("human", [])
    origin, conflicts = resolve_origin("human", synth)
    assert origin == "synthetic" and conflicts[0][0] == "synthetic" and "trainedAlgorithmicMedia" in conflicts[0][1]
    origin, conflicts = resolve_origin("synthetic", capture)
    assert origin == "synthetic" and conflicts[0][0] == "human"
    assert resolve_origin("pseudo_label", synth) == ("pseudo_label", [])


def test_ingest_records_evidence_and_conflicts(sqlite_ledger: Ledger, tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    (folder / "gen.png").write_bytes(c2pa_signed_png("trainedAlgorithmicMedia"))
    png_with_xmp(folder / "cam.png", "digitalCapture", colour=(50, 60, 70))
    Image.new("RGB", (8, 8), (200, 0, 0)).save(folder / "plain.png")

    report = sqlite_ledger.ingest(folder, origin="human", as_version="imgs")
    assert report.added == 3
    assert [(c.kind, c.claimed, c.other) for c in report.conflicts] == [("evidence", "human", "synthetic")]
    by_name = {r.extra["name"]: r for r in sqlite_ledger.iter_samples("imgs")}
    assert by_name["gen.png"].origin == "synthetic"
    assert by_name["gen.png"].extra["evidence"][0]["kind"] == "c2pa"
    assert by_name["cam.png"].origin == "human" and by_name["cam.png"].extra["evidence"][0]["kind"] == "xmp"
    assert by_name["plain.png"].origin == "human" and "evidence" not in by_name["plain.png"].extra
    summary = sqlite_ledger.version_summary("imgs")
    assert summary.by_origin == {"human": 2, "synthetic": 1}
    assert [c.kind for c in summary.conflicts] == ["evidence"]

    # no flag: the evidence alone decides, without a conflict
    other = tmp_path / "other"
    other.mkdir()
    (other / "g2.png").write_bytes(c2pa_signed_png("compositeSynthetic", colour=(3, 3, 3)))
    report = sqlite_ledger.ingest(other)
    assert report.conflicts == [] and next(sqlite_ledger.iter_samples(ids=report.sample_ids)).origin == "synthetic"
