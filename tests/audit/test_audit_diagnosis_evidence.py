"""The diagnosis is written from the rows that fired: no sentence contradicts the metric table.

Checked on every modality suite, with real data where the project ships it.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from tailguard.audit import AuditConfig, AuditReport, audit
from tailguard.data.text import python_docs_sentences


def _bigram_texts(docs: list[str], n: int, seed: int) -> list[str]:
    """Documents sampled from a word-bigram model fitted on ``docs`` (a tiny language model)."""
    rng = np.random.default_rng(seed)
    follow: dict[str, list[str]] = {}
    starts = []
    for doc in docs:
        words = doc.split()
        if words:
            starts.append(words[0])
        for a, b in zip(words, [*words[1:], "</s>"], strict=True):
            follow.setdefault(a, []).append(b)
    out = []
    for _ in range(n):
        word, words = starts[rng.integers(len(starts))], []
        while word != "</s>" and len(words) < 40:
            words.append(word)
            nxt = follow.get(word, ["</s>"])
            word = nxt[rng.integers(len(nxt))]
        out.append(" ".join(words))
    return out


def _digits():
    from sklearn.datasets import load_digits

    return load_digits(return_X_y=True)


def _cases():
    docs = python_docs_sentences()
    x, y = _digits()
    rng = np.random.default_rng(0)
    order = rng.permutation(len(x))
    half_a, half_b = order[: len(x) // 2], order[len(x) // 2:]
    from tailguard.data.detection import compose_detection
    from tailguard.features import DetectionLabelArrays

    weights = 1.0 / np.arange(1, 31) ** 1.2
    weights /= weights.sum()
    return {
        "vectors/shrunk": (0.6 * rng.normal(size=(1200, 6)), rng.normal(size=(1200, 6))),
        "vectors/shifted": (rng.normal(size=(1200, 6)) + 0.4, rng.normal(size=(1200, 6))),
        "digits/halves": (x[half_a], x[half_b]),
        "digits/no-rare-classes": (x[half_a][np.isin(y[half_a], [0, 1, 2, 3, 4, 5, 6])], x[half_b]),
        "text/bigram": (_bigram_texts(docs[:600], 500, 1), docs[600:1100]),
        "text/repeated": ([docs[1200 + i % 6] for i in range(400)], docs[:400]),
        "text/halves": (docs[:500], docs[500:1000]),
        "categorical/lost-tail": (rng.choice(20, 3000, p=weights[:20] / weights[:20].sum()),
                                  rng.choice(30, 3000, p=weights)),
        "detection/no-rare-class": (
            DetectionLabelArrays.from_yolo_arrays([lab[lab[:, 0] < 7] for lab in
                                                   compose_detection(200, seed=2, imgsz=64).labels]),
            DetectionLabelArrays.from_yolo_arrays(compose_detection(200, seed=1, imgsz=64).labels)),
    }


CASES = _cases()


def assert_consistent(report: AuditReport) -> None:
    """Every claim of the diagnosis is backed by the table."""
    rows = {r.name: r for r in report.metrics}
    d = report.diagnosis
    for name in d.cited:
        assert name in rows, f"cites {name}, which is not in the table"
        assert rows[name].status != "ok", f"cites {name} as fired, but the table says ok"
    # Every "name change (status)" the summary states matches the table's row.
    claims = re.findall(r"([\w.#]+) (-?[\d.e+]+)(%?)(?: worse)? \((ok|warn|collapse)\)", d.summary)
    for name, number, pct, status in claims:
        assert name in d.cited, f"the summary states {name} without citing it: {d.summary}"
        row = rows[name]
        assert row.status == status, f"summary says {name} is {status}, the table {row.status}"
        shown = row.degradation * 100 if pct else (row.degradation if row.degradation is not None else row.value)
        assert float(number) == pytest.approx(shown, rel=0.01, abs=0.6 if pct else 1e-3), (name, d.summary)
    kept = re.search(r"covariance trace ratio ([\d.]+)", d.summary)
    if kept:
        trace = next(r for r in report.metrics if "trace" in r.name)
        assert trace.status == "ok" and float(kept.group(1)) == pytest.approx(trace.ratio, rel=0.01)
    flagged_families = {r.family for r in report.metrics if r.status != "ok"}
    if "diversity/fidelity metric(s) fell" in d.summary:
        assert flagged_families & {"diversity", "fidelity"}
    if "tail metric(s) fell" in d.summary:
        assert "tails" in flagged_families
    if d.mode == "drift":
        assert not flagged_families & {"tails", "diversity", "fidelity"}
    if report.verdict == "ok":
        assert d.mode == "none" and "within tolerance" in d.summary
    if d.mode == "none":
        assert "Model collapse" not in d.summary and "Drift" not in d.summary


@pytest.mark.parametrize("case", sorted(CASES))
def test_diagnosis_never_contradicts_the_table(case):
    cand, ref = CASES[case]
    report = audit(cand, ref, config=AuditConfig(quick=True), seed=1)
    assert_consistent(report)


def test_a_clean_held_out_split_is_ok_with_no_diagnosis():
    cand, ref = CASES["digits/halves"]
    report = audit(cand, ref, config=AuditConfig(quick=True), seed=1)
    assert report.verdict == "ok"
    assert report.diagnosis.mode == "none", report.diagnosis


def test_a_bigram_text_diagnosis_names_only_what_fell():
    cand, ref = CASES["text/bigram"]
    report = audit(cand, ref, config=AuditConfig(quick=True), seed=1)
    higher = [r.name for r in report.metrics if r.family == "diversity" and r.ratio is not None and r.ratio > 1]
    for name in higher:  # diversity the candidate has more of is never called lost
        assert name not in report.diagnosis.cited
    assert_consistent(report)
