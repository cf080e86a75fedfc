"""The pages' data read from a real ledger equal what the ledger's own reads say."""

from __future__ import annotations

import pytest

from tailguard.errors import MissingInputError, ParameterError, UnknownChoiceError
from tailguard.ledger import Ledger
from tailguard.serve import views


@pytest.fixture
def ledger(built):
    with Ledger.open(built.url, create=False) as opened:
        yield opened


def test_versions_composition_equals_each_version_summary(ledger):
    page = views.versions_page(ledger)
    assert [v["name"] for v in page["versions"]][:4] == ["human", "gen1", "gen2", "mix"]
    for row in page["versions"]:
        summary = ledger.version_summary(row["name"])
        assert row["by_origin"] == summary.by_origin
        assert row["by_generation"] == {("none" if g is None else str(g)): n for g, n in summary.by_generation.items()}
        assert row["n_members"] == summary.n == sum(row["by_origin"].values())
    mix = next(v for v in page["versions"] if v["name"] == "mix")
    assert mix["by_origin"] == {"human": 300, "synthetic": 300} and mix["human_fraction"] == 0.5


def test_diff_counts_are_whole_and_the_lists_limited(ledger):
    page = views.diff_page(ledger, "human", "mix", limit=7)
    full = ledger.diff("human", "mix")
    assert page["diff"]["n_added"] == len(full.added) == 300 and page["diff"]["n_removed"] == 0
    assert page["diff"]["added"] == full.added[:7]
    default = views.diff_page(ledger, None, None)
    names = [v.name for v in ledger.list_versions()]
    assert (default["a"], default["b"]) == (names[-2], names[-1])
    with pytest.raises(UnknownChoiceError):
        views.diff_page(ledger, "nope", "mix")
    with pytest.raises(ParameterError, match="'limit'"):
        views.diff_page(ledger, "human", "mix", limit=0)


def test_audit_history_has_one_series_per_metric_with_each_audits_value_status_and_verdict(ledger):
    page = views.audits_page(ledger, None)
    assert page["reference"] == "human" and page["n_audits"] == 2
    recorded = [ledger.audit_document(a.id) for a in ledger.audits(reference="human")]
    assert [a["verdict"] for a in page["audits"]] == [d["verdict"] for d in recorded]
    assert recorded[1]["verdict"] == "collapse"  # gen2 is half as wide as the humans
    names = [row["name"] for row in recorded[0]["metrics"]]
    assert [m["name"] for m in page["metrics"]] == names
    for m in page["metrics"]:
        for point, doc in zip(m["points"], recorded, strict=True):
            row = next(r for r in doc["metrics"] if r["name"] == m["name"])
            assert (point["value"], point["status"], point["verdict"]) == (row["value"], row["status"], doc["verdict"])
            assert point["ci"] == (row["ci"] or [None, None])
    one = views.audits_page(ledger, "human", last=1)
    assert one["n_audits"] == 2 and [a["candidate"] for a in one["audits"]] == ["gen2"]
    assert all(len(m["points"]) == 1 for m in one["metrics"])
    with pytest.raises(UnknownChoiceError, match="'humans'"):
        views.audits_page(ledger, "humans")


def test_run_page_groups_per_class_metrics_by_epoch_and_lists_the_alert(ledger, built):
    page = views.run_page(ledger, built.run_id[:8])
    assert page["run"]["id"] == built.run_id and page["steps"] == ["0", "1", "2", "none"]
    recall = next(g for g in page["per_class"] if g["metric"] == "recall")
    assert {c["class_name"]: c["values"] for c in recall["classes"]} == {
        "cat": [0.5, 0.6, 0.7, 0.71], "dog": [0.61, 0.42, 0.23, 0.2]}
    assert [m["name"] for m in page["overall"]] == ["map50_95"]
    assert page["alerts"] == [{"class_name": "dog", "drop": 0.41, "step": None}]
    with pytest.raises(MissingInputError):
        views.run_page(ledger, "ffffffffffff")


def test_simulations_are_the_recorded_chains_and_no_report_is_invented(ledger):
    page = views.simulations_page(ledger)
    assert len(page["simulations"]) == 1
    chain = page["simulations"][0]
    assert (chain["family"], chain["policy"]) == ("gaussian", "replace")
    assert [r["generation"] for r in chain["runs"]] == [0, 1, 2]
    assert chain["reports"] == [] and page["n_reports"] == 0  # simulate --record stores no report path


def test_lineage_defaults_to_the_newest_version_and_links_each_node(ledger, built):
    data, lin = views.lineage_page(ledger, None)
    assert data["target"] == ledger.list_versions()[-1].name and lin is not None
    run_data, _ = views.lineage_page(ledger, f"run:{built.run_id}")
    kinds = {n["kind"] for n in run_data["lineage"]["nodes"]}
    assert kinds == {"run", "version"}
    assert {n["href"] for n in run_data["lineage"]["nodes"]} == {  # mix was made from human and gen2
        f"/runs/{built.run_id}", "/lineage?target=mix", "/lineage?target=human", "/lineage?target=gen2"}
    assert ("run:" + built.run_id, "version:mix", "trained_on") in {
        (e["child"], e["parent"], e["relation"]) for e in run_data["lineage"]["edges"]}


def test_compositions_of_named_versions_only(ledger):
    some = ledger.version_compositions(["mix", "gen1", "not-a-version"])
    assert set(some) == {"mix", "gen1"}
    assert some["mix"] == ledger.version_compositions()["mix"]
    assert some["gen1"].by_generation == {1: 300}
