"""Suites derived from the metric registry: order, quick/optional flags, selection by metric,
family and value names, metric_params checks, and a toy plug-in that is one class."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from tailguard.audit import AuditConfig, Thresholds, audit, suite_for
from tailguard.audit.runner import check_metric_params, run_suite
from tailguard.audit.suite import check_metric_names, default_suite, registered_metrics
from tailguard.errors import ParameterError, UnknownChoiceError
from tailguard.metrics.base import FAMILIES, METRICS, SUITE_MODALITIES, MetricValue, registered, unregister_metric
from tailguard.metrics.vectors import COMMON_DEFAULTS, COMMON_PARAMS, VectorMetric
from tailguard.validation import Float

DOCS = Path(__file__).resolve().parents[2] / "docs"


class ToySpread(VectorMetric):
    """A plug-in defined here, registered only inside the tests that use it."""

    name = "toy_spread"
    family = "tails"
    higher_is_better = True
    modalities = ("vectors", "images")
    order = 15  # between nn_distance_tail (12) and prdc (20)
    quick = False
    value_names = ("toy_sd",)
    default_rules = (("tails/toy_spread/toy_sd", {"kind": "ratio", "warn": 0.05, "collapse": 0.2}),)
    params = {**COMMON_PARAMS, "scale": Float(min=0.0)}
    defaults = {**COMMON_DEFAULTS, "scale": 1.0}

    def _compute(self, cand, ref):
        s = self._params["scale"]
        value, ref_value = s * float(cand.std(axis=0).mean()), s * float(ref.std(axis=0).mean())
        return [MetricValue("toy_sd", value, True, ref_value, (0.99 * value, 1.01 * value), "analytic")], {}


@pytest.fixture
def toy():
    with registered(ToySpread):
        yield ToySpread


def test_suites_are_the_registered_metrics_of_each_modality_in_declared_order():
    classes = registered_metrics()
    for modality in SUITE_MODALITIES:
        entries = default_suite(modality)
        members = {cls.name: cls for cls in classes if modality in cls.modalities}
        assert [e.label for e in entries] == sorted(members, key=lambda n: (members[n].suite_order(modality), n))
        for e in entries:
            cls = members[e.label]
            assert (e.quick, e.optional, e.standardized) == (cls.quick, modality in cls.optional_in, cls.standardized)
    assert default_suite("vectors")[0].label == "tail_mass"  # tails first
    assert [METRICS.get(e.label).family for e in default_suite("vectors")[:3]] == ["tails"] * 3


def test_suite_table_in_docs_matches_the_registry():
    """docs/audit.md lists each modality's suite with markers: * not quick, ‡ optional, † unscaled."""
    text = (DOCS / "audit.md").read_text(encoding="utf-8")
    section = text[text.index("## Suites"):text.index("### Choosing metrics")]
    rows = dict(re.findall(r"^\| (\w+) \| (`.*) \|$", section, re.M))
    assert set(rows) == set(SUITE_MODALITIES)
    for modality, cell in rows.items():
        listed = re.findall(r"`([a-z0-9_]+)`(\\\*|‡|†)?", cell)
        entries = suite_for(modality)
        assert [name for name, _ in listed] == [e.label for e in entries], modality
        for (_, mark), e in zip(listed, entries, strict=True):
            assert (mark == "\\*") == (not e.quick) and (mark == "‡") == e.optional
            assert (mark == "†") == (not e.standardized), e.label


def test_quick_drops_the_metrics_that_declare_it():
    full = {e.label for e in suite_for("vectors")}
    quick = {e.label for e in suite_for("vectors", quick=True)}
    assert full - quick == {cls.name for cls in registered_metrics() if not cls.quick and "vectors" in cls.modalities}
    assert full - quick == {"mmd", "c2st"}


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["recall"], ["prdc"]),
        (["tail_mass_0.01", "vendi"], ["tail_mass", "vendi"]),
        (["mmd.p_value"], ["mmd"]),
        (["ks.p_value"], ["ks"]),
        (["p_value"], ["ks", "mmd"]),  # a value two metrics produce runs both
        (["drift"], ["psi", "ks", "mmd", "c2st"]),
        (["vendi", "prdc", "covariance"], ["prdc", "covariance", "vendi"]),  # suite order, not the asked order
        (["text_stats"], ["text_stats"]),  # outside the vectors suite: still run when asked for by name
    ],
)
def test_metric_family_and_value_names_select_metrics(names, expected):
    assert [e.label for e in suite_for("vectors", metrics=names)] == expected


def test_a_family_selects_its_metrics_in_the_modality_suite():
    assert [e.label for e in suite_for("detection", metrics=["tails"])] == [
        "lost_categories", "missing_mass", "tail_mass", "rare_mode_coverage"]
    assert [e.label for e in suite_for("text", metrics=["duplicates"])] == ["near_duplicates"]


def test_unknown_names_get_the_nearest_ones():
    with pytest.raises(UnknownChoiceError, match="Did you mean 'recall'"):
        suite_for("vectors", metrics=["recal"])
    with pytest.raises(UnknownChoiceError, match=r"Did you mean 'tail_mass_0\.01'"):
        check_metric_names(["tail_mass_0.1"])
    with pytest.raises(UnknownChoiceError, match="'tial'"):
        AuditConfig(metrics=["tial"])  # before any data is read
    with pytest.raises(UnknownChoiceError) as info:
        check_metric_names(["nope"])
    assert {"prdc", "recall", "tail_mass_0.05", *FAMILIES} <= set(info.value.choices)


def test_a_value_name_runs_its_metric_with_all_its_rows():
    rng = np.random.default_rng(0)
    report = audit(rng.normal(size=(300, 3)), rng.normal(size=(300, 3)), config=AuditConfig(metrics=["recall"]))
    assert [r.name for r in report.metrics] == ["precision", "recall", "density", "coverage"]


def test_metric_params_keys_are_checked_with_nearest_names():
    with pytest.raises(UnknownChoiceError, match="Did you mean 'vendi'"):
        AuditConfig(metric_params={"vendy": {"kernel": "rbf"}})
    with pytest.raises(UnknownChoiceError, match="Did you mean 'n_permutations'"):
        AuditConfig(metric_params={"mmd": {"n_permutation": 50}})
    with pytest.raises(UnknownChoiceError, match="'zz\\*'"):
        AuditConfig(metric_params={"zz*": {"n_boot": 50}})  # a pattern that matches no metric
    with pytest.raises(UnknownChoiceError, match="n_bots"):
        AuditConfig(metric_params={"*": {"n_bots": 50}})  # declared by no metric the pattern matches
    with pytest.raises(ParameterError, match="n_permutations"):
        AuditConfig(metric_params={"mmd": {"n_permutations": 0}})
    AuditConfig(metric_params={"*": {"n_boot": 50}, "mmd": {"n_permutations": 20}})  # valid: no error
    check_metric_params({"tail_*": {"alphas": (0.1,)}})


def test_run_suite_checks_metric_params_too():
    from tailguard.audit.inputs import as_input

    rng = np.random.default_rng(0)
    cand, ref = as_input(rng.normal(size=(40, 2))), as_input(rng.normal(size=(40, 2)), name="reference")
    with pytest.raises(UnknownChoiceError, match="Did you mean 'alphas'"):
        run_suite(cand, ref, suite_for("vectors", metrics=["tail_mass"]), metric_params={"tail_mass": {"alpha": [0.1]}})


def test_metric_params_reach_the_metric():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(400, 3))
    report = audit(x, x, config=AuditConfig(metrics=["tail_mass"], metric_params={"tail_mass": {"alphas": [0.1]}}))
    assert [r.name for r in report.metrics] == ["tail_mass_0.1"]


def test_a_toy_metric_is_one_class_and_a_registration(toy):
    labels = [e.label for e in suite_for("vectors")]
    assert labels.index("toy_spread") == labels.index("nn_distance_tail") + 1
    assert "toy_spread" in [e.label for e in suite_for("images")]
    assert "toy_spread" not in [e.label for e in suite_for("text")]
    assert "toy_spread" not in [e.label for e in suite_for("vectors", quick=True)]
    assert [e.label for e in suite_for("vectors", metrics=["toy_sd"])] == ["toy_spread"]

    patterns = [p for p, _ in Thresholds.default().rules]
    assert patterns.index("tails/toy_spread/toy_sd") < patterns.index("tails/*")
    assert Thresholds.default().rule_for("tails", "toy_spread", "toy_sd").collapse == 0.2

    with pytest.raises(UnknownChoiceError, match="Did you mean 'scale'"):
        AuditConfig(metric_params={"toy_spread": {"scal": 2.0}})
    rng = np.random.default_rng(2)
    ref = rng.normal(size=(400, 3))
    cand = 0.7 * rng.normal(size=(400, 3))
    report = audit(cand, ref, config=AuditConfig(metrics=["toy_sd"], metric_params={"toy_spread": {"scale": 2.0}},
                                                 standardize="never", strict=True))
    row = report.row("toy_sd")
    assert row.rule == "tails/toy_spread/toy_sd"  # its own rule, not the tails fallback
    assert row.status == "collapse"  # 30% less spread, beyond its collapse limit of 20%
    assert row.value == pytest.approx(2.0 * cand.std(axis=0).mean())  # metric_params reached it


def test_removing_the_toy_metric_leaves_no_trace():
    with registered(ToySpread):
        assert "toy_spread" in METRICS
    assert "toy_spread" not in METRICS
    assert "toy_spread" not in [e.label for e in suite_for("vectors")]
    assert "tails/toy_spread/toy_sd" not in [p for p, _ in Thresholds.default().rules]
    with pytest.raises(UnknownChoiceError):
        unregister_metric("toy_spread")


def test_a_bad_declared_rule_names_the_metric():
    class BadRule(ToySpread):
        name = "bad_rule_metric"
        default_rules = (("tails/bad_rule_metric/*", {"kind": "ratoi"}),)

    with registered(BadRule), pytest.raises(ParameterError, match=r"'bad_rule_metric'.*ratoi"):
        Thresholds.default()


def test_the_writing_a_metric_example_in_the_docs_runs(capsys):
    text = (DOCS / "metrics.md").read_text(encoding="utf-8")
    section = text[text.index("## Writing a metric"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    try:
        exec(compile(code, "docs/metrics.md", "exec"), {})
        out = capsys.readouterr().out.splitlines()
    finally:
        unregister_metric("mean_abs_deviation")
    assert out[0] == "diversity/mean_abs_deviation/mad collapse"  # half the spread
    assert out[1].startswith("Rule(kind='ratio', warn=0.1, collapse=0.3")
