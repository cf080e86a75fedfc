"""Thresholds: rule kinds, first-match order, significance guard, overrides from files."""

from __future__ import annotations

import json
import math

import pytest

from tailguard.audit.thresholds import Rule, Thresholds, degradation, worst
from tailguard.errors import BadInputError, MissingInputError, UnknownChoiceError


def test_worst_orders_statuses():
    assert worst([]) == "ok"
    assert worst(["ok", "warn"]) == "warn"
    assert worst(["warn", "collapse", "ok"]) == "collapse"


@pytest.mark.parametrize(
    ("kind", "value", "ref", "hib", "expected"),
    [
        ("ratio", 0.8, 1.0, True, 0.2),  # 20% lower, higher is better -> 20% worse
        ("ratio", 1.2, 1.0, True, -0.2),  # better
        ("ratio", 1.5, 1.0, False, 0.5),  # 50% higher, lower is better -> worse
        ("abs_ratio", 0.7, 1.0, True, 0.3),
        ("abs_ratio", 1.3, 1.0, True, 0.3),
    ],
)
def test_degradation(kind, value, ref, hib, expected):
    assert degradation(kind, value, ref, hib) == pytest.approx(expected)


def test_degradation_zero_reference():
    assert degradation("ratio", 0.0, 0.0, True) == 0.0
    assert degradation("ratio", 1.0, 0.0, False) == math.inf


def test_ratio_rule_levels():
    t = Thresholds(rules=(("tails/*", Rule("ratio", warn=0.2, collapse=0.5)),), require_significance=False)
    assert t.judge("tails", "m", "v", 0.9, 1.0, True).status == "ok"
    assert t.judge("tails", "m", "v", 0.75, 1.0, True).status == "warn"
    assert t.judge("tails", "m", "v", 0.4, 1.0, True).status == "collapse"
    # Better than the reference is never flagged by a one-sided ratio rule.
    assert t.judge("tails", "m", "v", 3.0, 1.0, True).status == "ok"
    # No reference: nothing to compare.
    assert t.judge("tails", "m", "v", 0.1, None, True).status == "ok"


def test_value_rule_both_directions():
    t = Thresholds(
        rules=(
            ("dup/*", Rule("value", warn=0.1, collapse=0.3)),  # lower is better
            ("cov/*", Rule("value", warn=0.5, collapse=0.2)),  # higher is better
        )
    )
    assert t.judge("dup", "m", "v", 0.05, None, False).status == "ok"
    assert t.judge("dup", "m", "v", 0.15, None, False).status == "warn"
    assert t.judge("dup", "m", "v", 0.5, None, False).status == "collapse"
    assert t.judge("cov", "m", "v", 0.9, None, True).status == "ok"
    assert t.judge("cov", "m", "v", 0.4, None, True).status == "warn"
    assert t.judge("cov", "m", "v", 0.1, None, True).status == "collapse"


def test_significance_guard_uses_ci():
    t = Thresholds(rules=(("*", Rule("ratio", warn=0.2, collapse=0.5)),), require_significance=True)
    # 30% worse but the candidate's CI reaches the reference value: noise, not a flag.
    j = t.judge("tails", "m", "v", 0.7, 1.0, True, ci=(0.4, 1.05))
    assert j.status == "ok" and "CI" in j.reason
    assert t.judge("tails", "m", "v", 0.7, 1.0, True, ci=(0.6, 0.8)).status == "warn"
    loose = Thresholds(rules=t.rules, require_significance=False)
    assert loose.judge("tails", "m", "v", 0.7, 1.0, True, ci=(0.4, 1.05)).status == "warn"


def test_first_match_wins_and_overrides_take_precedence():
    t = Thresholds.default()
    assert t.rule_for("tails", "tail_mass", "tail_mass_0.01") == Rule("ratio", 0.1, 0.5)
    assert t.rule_for("drift", "ks", "ks_p_value").kind == "info"
    custom = t.with_overrides({"tails/tail_mass/*": {"kind": "ratio", "warn": 0.05, "collapse": 0.1}})
    assert custom.rule_for("tails", "tail_mass", "x").warn == 0.05
    assert custom.rule_for("tails", "other_tail_metric", "x").warn == 0.1  # untouched
    assert t.rule_for("tails", "tail_mass", "x").warn == 0.1  # the original is frozen


def test_unknown_pattern_is_info():
    assert Thresholds.default().rule_for("nofamily", "m", "v").kind == "info"


def test_bad_rules_are_rejected_with_names():
    with pytest.raises(UnknownChoiceError, match="ratoi"):
        Rule("ratoi")
    with pytest.raises(UnknownChoiceError, match="wran"):
        Thresholds.default().with_overrides({"tails/*": {"wran": 0.1}})
    with pytest.raises(UnknownChoiceError, match="averages"):
        Thresholds.default().with_overrides(averages=0.1)


def test_from_file_json_and_yaml(tmp_path):
    j = tmp_path / "t.json"
    j.write_text(json.dumps({"rules": {"tails/*": {"warn": 0.3, "collapse": 0.6}}, "require_significance": False}))
    t = Thresholds.from_file(j)
    assert t.rule_for("tails", "a", "b") == Rule("ratio", 0.3, 0.6)
    assert t.require_significance is False
    y = tmp_path / "t.yaml"
    y.write_text("rules:\n  'diversity/*': {kind: ratio, warn: 0.01, collapse: 0.02}\nforgetting_drop: 0.2\n")
    t = Thresholds.from_file(y)
    assert t.rule_for("diversity", "vendi", "vendi").warn == 0.01
    assert t.extras["forgetting_drop"] == 0.2


def test_from_file_errors_name_the_file(tmp_path):
    with pytest.raises(MissingInputError, match=r"nope\.json"):
        Thresholds.from_file(tmp_path / "nope.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(BadInputError, match=r"bad\.json"):
        Thresholds.from_file(bad)
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"rules": {"tails/*": {"kind": "nope"}}}))
    with pytest.raises(BadInputError, match=r"wrong\.json.*nope"):
        Thresholds.from_file(wrong)


def test_to_dict_is_json_serialisable():
    json.dumps(Thresholds.default().to_dict(), allow_nan=False)


def test_defaults_are_generic_then_each_metrics_own_then_family_rules():
    from tailguard.audit.suite import registered_metrics
    from tailguard.audit.thresholds import FAMILY_RULES, GENERIC_RULES

    rules = list(Thresholds.default().rules)
    declared = [(p, Thresholds.default().with_overrides({p: spec}).rules[0][1])
                for cls in sorted(registered_metrics(), key=lambda c: (c.order, c.name)) for p, spec in cls.default_rules]
    assert rules == [*GENERIC_RULES, *declared, *FAMILY_RULES]
    assert len(declared) >= 15  # the built-in metrics declare their own rules


def test_a_family_fallback_never_shadows_a_metrics_own_rule():
    """Each value a metric returns is judged by the generic rules or a metric's own rule
    before its family's fallback, whenever the metric declares a rule that matches it."""
    from fnmatch import fnmatchcase

    from tailguard.audit.suite import registered_metrics
    from tailguard.audit.thresholds import FAMILY_RULES, GENERIC_RULES

    t = Thresholds.default()
    family_patterns = {p for p, _ in FAMILY_RULES}
    generic = {p for p, _ in GENERIC_RULES}
    checked = 0
    for cls in registered_metrics():
        for value in cls.output_names():
            key = f"{cls.family}/{cls.name}/{value}"
            own = [p for p, _ in cls.default_rules if fnmatchcase(key, p)]
            chosen = t.pattern_for(cls.family, cls.name, value)
            if own:
                checked += 1
                assert chosen in generic or chosen == own[0], (key, chosen)
                assert chosen not in family_patterns
    assert checked >= 15


def test_rule_table_in_docs_lists_the_defaults_in_order():
    """docs/audit.md's default-rules table: the same patterns, in the same order, with the same limits."""
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "audit.md").read_text(encoding="utf-8")
    table = text[text.index("| pattern | declared by |"):]
    table = table[: table.index("\n\n")]
    listed: list[tuple[str, str, float, float]] = []
    for line in table.splitlines()[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        kind = cells[2].split(",")[0]
        warn = float(cells[3]) if cells[3] and cells[3] != "never" else math.inf
        collapse = float(cells[4]) if cells[4] and cells[4] != "never" else math.inf
        listed += [(p, kind, warn, collapse) for p in re.findall(r"`([^`]+)`", cells[0])]
    actual = [(p, r.kind, r.warn, r.collapse) for p, r in Thresholds.default().rules]
    assert listed == actual


def test_a_row_without_a_finite_value_or_enough_rows_is_insufficient_not_ok() -> None:
    import math

    t = Thresholds.default()
    j = t.judge("tails", "tail_mass", "tail_mass_0.01", math.nan, 0.02, True, None, n=500, n_reference=500)
    assert j.status == "insufficient" and "no finite value" in j.reason
    j = t.judge("diversity", "vendi", "vendi", 1.0, 2.0, True, (0.9, 1.1), n=9, n_reference=500)
    assert j.status == "insufficient" and j.reason.endswith("has candidate 9")
    assert t.judge("diversity", "vendi", "vendi", 1.0, 2.0, True, (0.9, 1.1), n=10, n_reference=500).status == "collapse"
    # a value's own minimum replaces the default; reported-only rows stay reported
    assert t.judge("diversity", "vendi", "vendi", 1.0, 2.0, True, None, n=40, n_reference=500, min_n=50).status \
        == "insufficient"
    assert t.judge("drift", "ks", "p_value", math.nan, None, True).reason == "reported only"
