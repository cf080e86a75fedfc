"""Recorded audits round-trip through the ledger on SQLite and PostgreSQL: the stored report is the
report the audit returned (every row with its value, interval, status, reason and baseline fields,
the verdict and the diagnosis), and report.html renders from it byte for byte."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tailguard.audit import AuditConfig, AuditReport, MetricRow, audit
from tailguard.audit.record import load_audit, record_audit, render_recorded
from tailguard.errors import MissingInputError, ParameterError
from tailguard.ledger import Ledger
from tailguard.report.html_report import render_html


@pytest.fixture(scope="module")
def text_audit() -> AuditReport:
    """A real text audit with a baseline: generated docs sentences against human ones."""
    from tailguard.audit.calibration import bigram_sentences
    from tailguard.data import python_docs_sentences

    docs = python_docs_sentences()
    rng = np.random.default_rng(3)
    human = [docs[i] for i in rng.permutation(len(docs))[:600]]
    gen1 = bigram_sentences(human[:300], 200, rng)
    gen2 = bigram_sentences(gen1[:60], 200, rng)  # trained on a sliver of the first: narrower
    return audit(gen2, human[300:], baseline=gen1, config=AuditConfig(quick=True), seed=1)


def _with_nonfinite(report: AuditReport) -> AuditReport:
    odd = [MetricRow("odd", "odd", "tails", math.inf, 0.0, math.inf, True, "collapse", (0.5, math.inf),
                     ci_method="bootstrap", reason="no reference mass"),
           MetricRow("nan_row", "nan_row", "bulk", math.nan, None, None, False, "insufficient")]
    return AuditReport.from_dict({**report.to_dict(), "metrics": report.to_dict()["metrics"] +
                                  [r.to_dict() for r in odd]})


def test_a_recorded_audit_reads_back_as_the_report_the_audit_returned(ledger_url: str, text_audit: AuditReport):
    report = _with_nonfinite(text_audit)
    assert report.baseline == "baseline" and any(r.baseline_value is not None for r in report.metrics)
    with Ledger.open(ledger_url) as ledger:
        first = record_audit(report, ledger)
        second = record_audit(text_audit, ledger, source="test")
        stored = load_audit(ledger, first)
        assert stored.metrics[:-1] == report.metrics[:-1]  # every field of every row, in order
        assert [r.to_dict() for r in stored.metrics] == [r.to_dict() for r in report.metrics]  # NaN != NaN
        assert (stored.verdict, stored.diagnosis, stored.baseline_verdict) == (
            report.verdict, report.diagnosis, report.baseline_verdict)
        assert stored.to_dict() == report.to_dict()
        odd = stored.row("odd")
        assert odd.value == math.inf and odd.ci == (0.5, math.inf) and odd.reason == "no reference mass"
        assert math.isnan(stored.row("nan_row").value) and stored.row("nan_row").ci is None
        # the page renders from the stored result alone, byte for byte
        assert render_html(stored) == render_html(report)
        summaries = ledger.audits()
        assert [a.id for a in summaries] == [first, second] and report.audit_id == first
        one = summaries[1]
        assert (one.candidate, one.reference, one.baseline, one.source) == ("candidate", "reference", "baseline",
                                                                           "test")
        assert one.config_id == text_audit.config["config_id"] and one.verdict == text_audit.verdict
        assert one.status_counts == {s: len(text_audit.rows(status=s)) for s in one.status_counts}
        assert sum(one.status_counts.values()) == len(text_audit.metrics)
        assert ledger.audits(reference="nope") == [] and len(ledger.audits(candidate="candidate")) == 2


def test_audit_with_a_ledger_records_and_render_recorded_writes_the_same_files(ledger_url: str, tmp_path):
    rng = np.random.default_rng(0)
    report = audit(0.7 * rng.normal(size=(400, 5)), rng.normal(size=(400, 5)), config=AuditConfig(quick=True),
                   ledger=ledger_url)
    assert report.audit_id is not None
    report.write(tmp_path / "direct")
    with Ledger.open(ledger_url) as ledger:
        render_recorded(ledger, report.audit_id, tmp_path / "stored")
        with pytest.raises(MissingInputError, match=r"audit 99 is not in the ledger \(1 recorded"):
            ledger.audit_document(99)
        with pytest.raises(ParameterError, match="'ci' must be"):
            ledger.record_audit({**report.to_dict(), "metrics": [{**report.to_dict()["metrics"][0], "ci": [1]}]})
        assert len(ledger.audits()) == 1  # the refused write left nothing behind
    for name in ("report.json", "report.html"):
        assert (tmp_path / "direct" / name).read_bytes() == (tmp_path / "stored" / name).read_bytes(), name
