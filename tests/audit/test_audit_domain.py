"""A text audit checks the reference represents the candidate's domain: a dictionary is not model collapse."""

from __future__ import annotations

import numpy as np
import pytest

from tailguard.audit import AuditConfig, audit
from tailguard.audit.domain import MIN_DOCUMENTS
from tailguard.data import fortunes_texts, gcide_entries, python_docs_paragraphs
from tailguard.data.machine_text import markov_texts, split_human

QUICK = AuditConfig(quick=True, figures=False)


@pytest.fixture(scope="module")
def reference():
    ref, held = split_human(python_docs_paragraphs() + fortunes_texts(), 0, [0.08, 0.08])
    return ref[:1000], held[:1000]


def test_another_domain_is_warned_about_and_not_diagnosed_as_collapse(reference):
    ref, _ = reference
    dictionary = gcide_entries()[::90][:1000]
    report = audit(dictionary, ref, config=QUICK)
    assert report.domain["ran"] and report.domain["warn"]
    assert report.diagnosis.mode == "domain_mismatch"
    assert "does not represent this candidate's domain" in report.diagnosis.summary
    assert report.to_dict()["domain"]["auc"] == pytest.approx(report.domain["auc"])
    # the warning is written from its numbers: the AUC and its CI appear in it
    assert f"{report.domain['auc']:.0%}" in report.domain["message"]


def test_machine_text_of_the_same_domain_stays_collapse_and_a_clean_split_ok(reference):
    ref, held = reference
    markov = markov_texts(ref, 1000, np.random.default_rng(1))
    collapsed = audit(markov, ref, config=QUICK)
    assert not collapsed.domain["warn"] and collapsed.diagnosis.mode != "domain_mismatch"
    clean = audit(held, ref, config=QUICK)
    assert not clean.domain["warn"]


def test_too_few_documents_says_the_check_did_not_run(reference):
    ref, held = reference
    report = audit(held[: MIN_DOCUMENTS - 1], ref, config=QUICK)
    assert report.domain["ran"] is False and "not run" in report.domain["message"]
    off = audit(held, ref, config=AuditConfig(quick=True, figures=False, domain_check=False))
    assert off.domain is None
