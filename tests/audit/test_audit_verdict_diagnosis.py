"""Row judgement, verdict, the averages trap and the diagnosis, on hand-built metric results."""

from __future__ import annotations

import pytest

from tailguard.audit.diagnosis import diagnose, normalise_train_metrics
from tailguard.audit.thresholds import Thresholds
from tailguard.audit.verdict import averages_trap, judge_results, verdict_of
from tailguard.errors import BadInputError
from tailguard.metrics.base import MetricResult, MetricValue


def res(metric, family, *values):
    return MetricResult(metric, family, "cfg", 1000, 1000, tuple(values))


def mv(name, value, ref=None, hib=True, ci=None):
    return MetricValue(name, value, hib, ref, ci, "bootstrap" if ci else None)


T = Thresholds.default()

BULK_OK = res("bulk_moments", "bulk", mv("mean_shift", 0.01, None, False), mv("median_shift", 0.02, None, False))
PSI_OK = res("psi", "drift", mv("psi", 0.01, None, False))
TAILS_LOST = res("tail_mass", "tails", mv("tail_mass_0.01", 0.008, 0.02, ci=(0.006, 0.010)))
TAILS_KEPT = res("tail_mass", "tails", mv("tail_mass_0.01", 0.0199, 0.02, ci=(0.018, 0.022)))
VENDI_LOST = res("vendi", "diversity", mv("vendi", 20.0, 30.0, ci=(19.0, 21.0)))
VENDI_TINY = res("vendi", "diversity", mv("vendi", 1.5, 30.0, ci=(1.4, 1.6)))
DUPS = res("near_duplicates", "duplicates", mv("duplicate_rate", 0.6, 0.05, False))
COV_KEPT = res("covariance", "diversity", mv("covariance_trace", 1.0, 1.0), mv("effective_rank", 7.9, 8.0))
DRIFTED = res("c2st", "drift", mv("c2st_auc", 0.9, None, False))


def test_rows_carry_status_and_unique_names():
    rows = judge_results([TAILS_LOST, res("other", "tails", mv("tail_mass_0.01", 0.02, 0.02))], T)
    assert [r.name for r in rows] == ["tail_mass_0.01", "other.tail_mass_0.01"]
    assert rows[0].status == "collapse" and rows[0].degradation == pytest.approx(0.6)
    assert rows[0].ratio == pytest.approx(0.4) and rows[0].ci == (0.006, 0.010)
    assert rows[1].status == "ok"
    assert verdict_of(rows) == "collapse"
    assert verdict_of([]) == "ok"


def test_averages_trap_triggers_when_bulk_passes_but_tails_degrade():
    rows = judge_results([BULK_OK, PSI_OK, TAILS_LOST, VENDI_LOST], T)
    trap = averages_trap(rows)
    assert trap.triggered
    assert "tail_mass_0.01" in trap.degraded and "vendi" in trap.degraded
    assert set(trap.bulk_ok) == {"mean_shift", "median_shift", "psi"}
    assert "Averages trap" in trap.message and "tail_mass_0.01" in trap.message


def test_averages_trap_not_triggered_when_bulk_moves_or_tails_fine():
    moved = res("psi", "drift", mv("psi", 0.5, None, False))
    assert not averages_trap(judge_results([BULK_OK, moved, TAILS_LOST], T)).triggered
    assert not averages_trap(judge_results([BULK_OK, PSI_OK, TAILS_KEPT], T)).triggered
    no_bulk = averages_trap(judge_results([TAILS_LOST], T))
    assert not no_bulk.triggered and "could not be checked" in no_bulk.message


def test_diagnosis_model_collapse():
    d = diagnose(judge_results([BULK_OK, TAILS_LOST, VENDI_LOST], T), T)
    assert d.mode == "model_collapse"
    assert d.confidence > 0.5
    assert any("tail_mass_0.01" in e for e in d.evidence)


def test_diagnosis_mode_collapse_beats_model_collapse():
    d = diagnose(judge_results([TAILS_LOST, VENDI_TINY, DUPS], T), T)
    assert d.mode == "mode_collapse"
    assert any("near-duplicate" in e for e in d.evidence) and any("Vendi" in e for e in d.evidence)


def test_diagnosis_plain_drift_keeps_spread():
    d = diagnose(judge_results([TAILS_KEPT, COV_KEPT, DRIFTED], T), T)
    assert d.mode == "drift"
    assert any("spread kept" in e for e in d.evidence)
    # The same drift with lost tails is not "plain" drift.
    d2 = diagnose(judge_results([TAILS_LOST, VENDI_LOST, DRIFTED], T), T)
    assert d2.mode == "model_collapse"


def test_diagnosis_none_when_all_ok():
    d = diagnose(judge_results([BULK_OK, PSI_OK, TAILS_KEPT, COV_KEPT], T), T)
    assert d.mode == "none"


def test_diagnosis_overfitting_needs_train_metrics():
    rows = judge_results([TAILS_KEPT], T)
    assert diagnose(rows, T).scores["overfitting"] == 0.0
    growing = {"train": {"loss": [1.0, 0.5, 0.1]}, "val": {"loss": [1.0, 0.9, 0.8]}}
    d = diagnose(rows, T, train_metrics=growing)
    assert d.mode == "overfitting"
    assert "grew" in d.evidence[0]
    flat = {"train_accuracy": 0.91, "val_accuracy": 0.9}
    assert diagnose(rows, T, train_metrics=flat).mode == "none"


def test_diagnosis_forgetting_needs_old_task_metrics():
    rows = judge_results([TAILS_KEPT], T)
    d = diagnose(rows, T, old_task_metrics={"before": {"old/accuracy": 0.9}, "after": {"old/accuracy": 0.6}})
    assert d.mode == "catastrophic_forgetting"
    assert "0.9" in d.evidence[0] and "0.6" in d.evidence[0]
    ok = diagnose(rows, T, old_task_metrics={"before": {"old/loss": 0.3}, "after": {"old/loss": 0.29}})
    assert ok.mode == "none"


def test_bad_extra_inputs_are_typed_errors():
    with pytest.raises(BadInputError, match="train_metrics"):
        normalise_train_metrics({"train": {"loss": 1.0}, "val": {"acc": 0.5}})
    with pytest.raises(BadInputError, match="old_task_metrics"):
        diagnose([], T, old_task_metrics={"before": {}})
    with pytest.raises(BadInputError, match="number"):
        diagnose([], T, train_metrics={"train": {"loss": "x"}, "val": {"loss": 1.0}})
