"""The main job end to end at quick settings: ledger, simulations, audits, one report."""

import math

import pytest

from tailguard.cli.app import main
from tailguard.demo import DemoSettings, run_demo
from tailguard.errors import UnsafePathError
from tailguard.ledger import Ledger


@pytest.fixture(scope="module")
def demo_result(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "report"
    return run_demo(out, settings=DemoSettings.quick())


def test_report_is_one_self_contained_page(demo_result):
    html = demo_result.report.read_text()
    for family in ("gmm", "ngram", "digits"):
        assert f"<h2>{family}</h2>" in html
    assert "data:image/png;base64," in html
    assert "http://" not in html and "https://" not in html  # nothing fetched when opened offline


def test_verdict_table_covers_every_family_and_policy(demo_result):
    rows = demo_result.verdict_table()
    assert {(r["family"], r["policy"]) for r in rows} == {
        (f, p) for f in ("gmm", "ngram", "digits") for p in ("replace", "accumulate", "anchor:0.2")
    }
    assert all(r["verdict"] in ("ok", "warn", "collapse") for r in rows)
    assert all(r["baseline_verdict"] in ("ok", "warn", "collapse") for r in rows)


def test_replace_loses_more_tail_than_accumulate(demo_result):
    worse = 0
    for fam in demo_result.families:
        replace, accumulate = fam.worst_tail_change("replace"), fam.worst_tail_change("accumulate")
        assert math.isfinite(replace) and math.isfinite(accumulate)
        worse += replace < accumulate
    assert worse >= 2, [(f.family, f.tail_change("replace"), f.tail_change("accumulate")) for f in demo_result.families]


def test_human_data_and_lineage_are_in_the_ledger(demo_result):
    with Ledger.open(demo_result.ledger_url) as ledger:
        names = {v.name for v in ledger.list_versions()}
        assert {"human-digits", "human-wine", "human-breast_cancer", "human-python_docs", "human-detection"} <= names
        summary = ledger.version_summary("human-digits")
        assert summary.n == 1797 and summary.human_fraction == 1.0
        assert len(ledger.model_runs()) > 0  # seed 0's chains recorded


def test_refuses_to_wipe_a_foreign_folder(tmp_path):
    (tmp_path / "precious.txt").write_text("keep me")
    with pytest.raises(UnsafePathError):
        run_demo(tmp_path, settings=DemoSettings.quick())
    assert (tmp_path / "precious.txt").read_text() == "keep me"
    assert main(["demo", "--quick", "--out", str(tmp_path)]) == 2
