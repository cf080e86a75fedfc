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


# ----------------------------------------------------------------------------- what was lost
def _pngs(html: str) -> list[bytes]:
    return [base64.b64decode(b) for b in re.findall(r'src="data:image/png;base64,([^"]+)"', html)]


@pytest.fixture(scope="module")
def text_report() -> AuditReport:
    from tailguard.audit.losses import tokens
    from tailguard.data.text import python_docs_paragraphs

    docs = python_docs_paragraphs()
    order = np.random.default_rng(0).permutation(len(docs))
    ref = [docs[i] for i in order[: len(docs) // 2]]
    p95 = np.quantile([len(tokens(d)) for d in ref], 0.95, method="inverted_cdf")
    cand = [docs[i] for i in order[len(docs) // 2 :] if len(tokens(docs[i])) <= p95]
    return audit(cand, ref, config=AuditConfig(quick=True))


def test_text_report_shows_lengths_not_hashed_features(text_report):
    html = render_html(text_report)
    assert "What was lost" in html and 'alt="Length in tokens"' in html
    assert "Reference vs candidate tails" not in html and "feature 2" not in html
    for sentence in text_report.losses.sentences():
        assert sentence.replace("'", "&#39;").replace('"', "&#34;") in html
    assert '<span class="lost">lost</span>' in html  # the long-document tail
    for png in _pngs(html):
        assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_old_text_reports_with_hashed_histograms_do_not_draw_them(text_report):
    data = text_report.to_dict()
    data["losses"] = None  # a report written before losses existed ...
    data["figures"]["tail_histograms"] = [{  # ... that stored a histogram of a hashed feature
        "feature": "feature 202", "edges": [0.0, 1.0, 2.0], "reference": [3, 1], "candidate": [4, 0],
        "lower_quantile": 0.1, "upper_quantile": 1.9, "alpha": 0.01,
        "reference_tail_mass": 0.02, "candidate_tail_mass": 0.0}]
    html = render_html(data)
    assert "Reference vs candidate tails" not in html
    assert "holds no losses section" in html


def test_image_report_embeds_thumbnails_of_uncovered_rare_images():
    from dataclasses import replace as dc_replace

    from tailguard.audit.inputs import as_input
    from tailguard.data import load_digits
    from tailguard.metrics.knn import build_index, kth_neighbour_sq_radii

    digits = load_digits()
    imgs = np.clip(np.rint(digits.images * 255 / 16), 0, 255).astype(np.uint8)
    order = np.random.default_rng(0).permutation(len(imgs))
    a, b = order[: len(imgs) // 2], order[len(imgs) // 2 :]
    cand = as_input(imgs[b], labels=digits.y[b])
    radius = kth_neighbour_sq_radii(build_index(cand.vectors), cand.vectors, 5)
    keep = radius <= np.quantile(radius, 0.8)
    cand = dc_replace(cand, n=int(keep.sum()), vectors=cand.vectors[keep], categories=cand.categories[keep])
    report = audit(cand, as_input(imgs[a], name="reference", labels=digits.y[a]),
                   config=AuditConfig(metrics=["tail_mass"]))
    assert "tail_histograms" not in report.figures  # no pixel histograms
    html = render_html(report)
    thumbs = re.findall(r'<img alt="reference image (\d+)" src="(data:image/png;base64,[^"]+)"', html)
    assert len(thumbs) == len(report.losses.rarity.examples) == 12
    assert {int(i) for i, _ in thumbs} == {e.index for e in report.losses.rarity.examples}
    assert all(uri in report.to_json() for _, uri in thumbs)  # JSON holds them: HTML renders from it alone


def test_rarity_chart_keeps_counts_for_small_references():
    rng = np.random.default_rng(0)
    report = audit(rng.normal(size=(40, 3)), rng.normal(size=(30, 3)), config=AuditConfig(quick=True))
    rarity = report.to_dict()["losses"]["rarity"]
    assert len(rarity["total"]) == 3 and sum(rarity["total"]) == 30
    html = render_html(report)
    assert 'alt="Coverage by rarity (counts on the bars)"' in html


def test_losses_tables_escape_and_name_columns_and_classes():
    from tailguard.audit.losses import ClassLosses, ClassShare, ColumnLosses, Losses, LostTerm, TailShare, TermLosses

    losses = Losses(
        "vectors",
        terms=(TermLosses(1, 100, 100, 10, 7, 1, (LostTerm("<script>x</script>", 9, 0, 12, 0, 0.001),)),),
        columns=ColumnLosses("rows", 1, 4, 178, 1000, (
            TailShare("alcohol", "upper", 0.95, 13.86, False, 9, 0, 0.0506, 0.0, 1e-9, True),)),
        classes=ClassLosses("boxes", 3, 600, 500, True, (ClassShare("triangle", 30, 0, 0.05, 0.0, 1e-9),)),
    )
    html = render_html(AuditReport(verdict="warn", modality="vectors", metrics=[], losses=losses))
    assert "<script>x</script>" not in html and "&lt;script&gt;x&lt;/script&gt;" in html
    assert "column `alcohol`: 5.1% of the reference&#39;s rows (9) are above 13.86, 0.0% of the candidate&#39;s (0)." in html
    assert "<code>triangle</code> <span class=\"lost\">gone</span>" in html
