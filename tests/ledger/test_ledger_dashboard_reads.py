"""The ledger's reads behind the dashboard, on SQLite and PostgreSQL: compositions, audit points, references."""

from __future__ import annotations

from tailguard.ledger import NewSample


def text(t: str, origin: str = "human", **kw) -> NewSample:
    return NewSample(content=t.encode(), uri=None, modality="text", origin=origin, **kw)


def row(name: str, value, status: str, ci=None) -> dict:
    return {"name": name, "metric": name, "family": "tails", "value": value, "reference_value": 1.0, "ratio": 1.0,
            "higher_is_better": True, "status": status, "ci": ci}


def test_version_compositions_equal_each_summary(ledger):
    ledger.add_samples([text("a"), text("a"), text("b", "synthetic", generation=2)], as_version="v1")
    ledger.add_samples([text("c", "pseudo_label", generation=1)], as_version="v2")
    ledger.create_version("both", ["version:v1", "version:v2"])
    comps = ledger.version_compositions()
    assert list(comps) == ["v1", "v2", "both"]
    for name, comp in comps.items():
        summary = ledger.version_summary(name)
        assert (comp.n, comp.by_origin, comp.by_generation) == (summary.n, summary.by_origin, summary.by_generation)
    assert comps["v1"].by_origin == {"human": 2, "synthetic": 1}
    assert list(ledger.version_compositions(["v2"])) == ["v2"]


def test_audit_points_are_every_row_of_every_audit_in_time_order(ledger):
    for cand, (value, status, verdict) in (("c1", (0.9, "ok", "ok")), ("c2", ("inf", "collapse", "collapse"))):
        ledger.record_audit({"verdict": verdict, "candidate": cand, "reference": "ref",
                             "metrics": [row("tail_mass", value, status, [0.5, "inf"]), row("vendi", 3.0, "ok")]})
    ledger.record_audit({"verdict": "warn", "candidate": "x", "reference": "other", "metrics": [row("vendi", 1.0, "warn")]})
    points = ledger.audit_points(reference="ref")
    assert [(p.candidate, p.name, p.status, p.verdict) for p in points] == [
        ("c1", "tail_mass", "ok", "ok"), ("c1", "vendi", "ok", "ok"),
        ("c2", "tail_mass", "collapse", "collapse"), ("c2", "vendi", "ok", "collapse")]
    assert (points[0].value, points[0].ci_low, points[0].ci_high, points[0].nonfinite) == (0.9, 0.5, None,
                                                                                          {"ci_high": "inf"})
    assert points[2].value is None and points[2].nonfinite == {"value": "inf", "ci_high": "inf"}
    assert len(ledger.audit_points()) == 5
    assert ledger.audit_references() == [("other", 1), ("ref", 2)]
    newest = ledger.audit_points(reference="ref", last=1)
    assert [(p.candidate, p.name) for p in newest] == [("c2", "tail_mass"), ("c2", "vendi")]
    assert len(ledger.audit_points(last=2)) == 3  # c2's two rows and the other reference's one
