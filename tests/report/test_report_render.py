"""Reports render stored results: JSON round trip, self-contained HTML, no recomputation."""

from __future__ import annotations

import base64
import json
import re

import numpy as np
import pytest

from tailguard.audit import AuditConfig, AuditReport, audit
from tailguard.errors import BadInputError, MissingInputError
from tailguard.report import load_report, render_html, write_html


@pytest.fixture(scope="module")
def report() -> AuditReport:
    rng = np.random.default_rng(7)
    ref = rng.normal(size=(1500, 6))
    cand = 0.8 * rng.normal(size=(1500, 6))
    return audit(cand, ref, config=AuditConfig(metrics=["tail_mass", "rare_mode_coverage"]),
                 candidate_labels=rng.integers(0, 3, 1500), reference_labels=rng.integers(0, 5, 1500))


def test_write_produces_both_files(report, tmp_path):
    json_path, html_path = report.write(tmp_path / "out")
    assert json_path.name == "report.json" and html_path.name == "report.html"
    data = json.loads(json_path.read_text())
    assert data["verdict"] == report.verdict
    assert load_report(json_path).metrics == report.metrics


def test_html_is_self_contained_with_inline_figures(report):
    html = render_html(report)
    # No external resources: every image is a data URI, no scripts or stylesheets fetched.
    assert not re.search(r'(src|href)="(https?:)?//', html)
    images = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    assert len(images) >= 4  # tails, coverage by decile, class bars, ratios
    for b64 in images:
        assert base64.b64decode(b64)[:8] == b"\x89PNG\r\n\x1a\n"
    assert f"verdict: {report.verdict}" in html
    for row in report.metrics:
        assert row.name in html
    assert report.averages_trap.message.split(":")[0] in html
    assert report.diagnosis.mode.replace("_", " ") in html


def test_html_renders_from_json_alone(report, tmp_path, monkeypatch):
    path = tmp_path / "report.json"
    path.write_text(report.to_json())
    # If rendering tried to recompute a metric, these would fail.
    import tailguard.audit.core as core
    import tailguard.audit.runner as runner

    def boom(*a, **k):
        raise AssertionError("the report recomputed something")

    monkeypatch.setattr(runner, "run_suite", boom)
    monkeypatch.setattr(core, "run_suite", boom)
    html_from_json = render_html(json.loads(path.read_text()))
    assert html_from_json == render_html(load_report(path))
    write_html(load_report(path), tmp_path / "again.html")
    assert (tmp_path / "again.html").read_text() == html_from_json


def test_html_escapes_names():
    from tailguard.audit.results import MetricRow

    row = MetricRow("<script>alert(1)</script>", "m", "tails", 1.0, 1.0, 1.0, True, "ok")
    html = render_html(AuditReport(verdict="ok", modality="vectors", metrics=[row], candidate="<b>x</b>"))
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html
    assert "<b>x</b>" not in html


def test_non_finite_values_stay_strict_json():
    from tailguard.audit.results import MetricRow

    row = MetricRow("r", "m", "tails", float("inf"), 0.0, float("inf"), True, "ok", ci=(0.0, float("inf")))
    rep = AuditReport(verdict="ok", modality="vectors", metrics=[row])
    text = rep.to_json()
    json.loads(text)  # strict: no bare Infinity
    assert AuditReport.from_json(text).metrics[0].value == float("inf")
    render_html(rep)


def test_load_report_errors(tmp_path):
    with pytest.raises(MissingInputError):
        load_report(tmp_path / "none.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"verdict": "ok", "metrics": [{"name": "x"}]}')
    with pytest.raises(BadInputError, match="row 0 lacks"):
        load_report(bad)
