"""The main job end to end at quick settings: ledger, simulations, audits, one report.

The consistency tests read ``demo.json`` and check the report's claims against its own
table (trend, worst change, statuses), and the simulated statuses against
``results.judgement``, the test ``tailguard simulate`` shows, not the numbers themselves.
"""

import dataclasses
import html as html_lib
import json
import math
import re

import pytest

from tailguard.cli.app import main
from tailguard.demo import DemoSettings, run_demo
from tailguard.demo.evidence import AVERAGE_HELD, SEVERITY, Change, num, pct, simulation_changes
from tailguard.demo.report import figure_caption, render_demo_html
from tailguard.errors import UnsafePathError
from tailguard.ledger import Ledger
from tailguard.simulate.report import verdict_rows

FAMILIES = ("gmm", "ngram", "digits", "pseudolabel")
POLICIES = ("replace", "accumulate", "anchor:0.2")


@pytest.fixture(scope="module")
def demo_result(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "report"
    return run_demo(out, settings=DemoSettings.quick())


@pytest.fixture(scope="module")
def demo_json(demo_result):
    return json.loads((demo_result.out_dir / "demo.json").read_text())


def _rows(demo_json, family):
    return {r["policy"]: r for r in demo_json["rows"] if r["family"] == family}


def _sev(status):
    return SEVERITY[status]


def test_report_is_one_self_contained_page(demo_result):
    html = demo_result.report.read_text()
    for family in FAMILIES:
        assert f"<h2>{family}</h2>" in html
    assert "data:image/png;base64," in html
    assert "http://" not in html and "https://" not in html  # nothing fetched when opened offline


def test_verdict_table_covers_every_family_and_policy(demo_json):
    rows = demo_json["rows"]
    assert {(r["family"], r["policy"]) for r in rows} == {(f, p) for f in FAMILIES for p in POLICIES}
    statuses = set(SEVERITY)
    assert all(r["audit_verdict"] in statuses and r["baseline_verdict"] in statuses for r in rows)
    assert {h["family"] for h in demo_json["headlines"]} == set(FAMILIES)


def test_last_generation_audits_judge_against_generation_0(demo_result):
    for fam in demo_result.families:
        for policy, report in fam.audits.items():
            assert report.baseline is not None, (fam.family, policy)
            assert any(r.baseline_value is not None for r in report.metrics)


def test_trend_and_worst_change_come_from_the_rows_changes(demo_json):
    for row in demo_json["rows"]:
        changes = row["changes"]
        assert changes, row["policy"]
        worst_status = max([c["status"] for c in changes] + [row["audit_verdict"]], key=_sev)
        measured = any(c["status"] != "insufficient" for c in changes)
        assert row["trend"] == (worst_status if measured else "insufficient"), row
        # the worst change shown is the most severe change, then the largest fall
        top = max(_sev(c["status"]) for c in changes)
        falls = [-c["change"] for c in changes if _sev(c["status"]) == top and c["change"] is not None]
        assert row["worst"]["status"] == max((c["status"] for c in changes), key=_sev)
        if falls:
            assert -row["worst"]["change"] == pytest.approx(max(falls))
        # the audit columns and the trend cannot disagree: no audit row is worse than the trend
        for c in changes:
            assert _sev(c["status"]) <= _sev(row["trend"])
        assert _sev(row["audit_verdict"]) <= _sev(row["trend"])


def test_headline_claims_agree_with_the_table(demo_json):
    for h in demo_json["headlines"]:
        rows = _rows(demo_json, h["family"])
        text = " ".join(h["sentences"])
        for policy in h["protects"]:
            row = rows[policy]
            assert row["trend"] == "ok" and row["audit_verdict"] == "ok"
            # a "protects" claim never sits beside a last-generation audit row worse than generation 0
            assert all(c["status"] == "ok" for c in row["changes"]), row
        if h["best"] is not None:
            assert h["best"] in h["protects"]
            assert f"Best protection from {h['best']}" in text
            best = rows[h["best"]]
            for other in rows.values():  # no other policy has a better trend or a smaller worst fall
                assert _sev(best["trend"]) <= _sev(other["trend"])
                if _sev(best["trend"]) == _sev(other["trend"]) and other["worst"]["change"] is not None:
                    assert best["worst"]["change"] >= other["worst"]["change"] - 1e-12
        else:
            assert "Best protection" not in text and f"No policy protected {h['family']}" in text
        named = {n["policy"]: n for n in h["not_protected"]}
        assert set(named) | set(h["protects"]) == set(rows)
        for policy, claim in named.items():
            row = rows[policy]
            assert row["trend"] != "ok"
            if claim["metric"] is None:
                assert row["trend"] == "insufficient"
                continue
            # the metric it names is in the table with the same change and a flagged status
            match = [c for c in row["changes"] if c["metric"] == claim["metric"] and c["source"] == claim["source"]]
            assert match and match[0]["status"] == claim["status"] != "ok"
            assert match[0]["change"] == claim["change"]
            assert f"{policy} does not protect {h['family']}: {claim['metric']}" in text
            assert Change(**match[0]).describe() in text  # its values, change and status as the table has them
            if claim["change"] is not None:
                assert pct(claim["change"]) in text
        for trap in h["averages_trap"]:
            assert trap["held"]["change"] > -AVERAGE_HELD
            flagged = {(c["metric"], c["source"]): c for c in rows[trap["policy"]]["changes"]}
            for fell in trap["fell"]:
                assert flagged[(fell["metric"], fell["source"])] == fell
                assert fell["status"] in ("warn", "collapse") and fell["change"] < 0


def test_the_page_and_the_cli_show_the_same_sentences(demo_result, demo_json):
    page = demo_result.report.read_text()
    for h in demo_json["headlines"]:
        for sentence in h["sentences"]:
            assert html_lib.escape(sentence) in page


def test_simulated_statuses_are_the_simulate_judgement_of_the_same_run(demo_result, demo_json):
    rows = {(r["family"], r["policy"]): r for r in demo_json["rows"]}
    seen = set()
    for fam in demo_result.families:
        res = fam.results
        simulate_rows = {(r["policy"], r["metric"]): r for r in verdict_rows(res)}  # what `tailguard simulate` shows
        for policy in res.policies:
            sims = [c for c in rows[(fam.family, policy)]["changes"] if c["source"] == "simulation"]
            assert [c["metric"] for c in sims] == res.tail_metrics()
            for c in sims:
                j = res.judgement(policy, c["metric"])
                s = res.summary(policy, c["metric"])
                assert (c["status"], c["against"], c["reason"]) == (j.status, j.against, j.reason)
                assert simulate_rows[(policy, c["metric"])]["status"] == c["status"]
                assert (c["first"], c["last"]) == (s["mean"][0], s["mean"][-1])  # means, not medians
                assert (c["ci_low"], c["ci_high"]) == (s["ci_low"][-1], s["ci_high"][-1])
                assert c["seeds"] == demo_result.settings.seeds
                seen.add(c["status"])
    assert seen - {"ok"}, "the quick demo should judge at least one fall"


def test_the_page_states_the_test_it_used_and_shows_the_numbers_its_sentences_quote(demo_result, demo_json):
    page = html_lib.unescape(demo_result.report.read_text())
    statement = demo_result.stated_test()
    assert statement == demo_json["simulation_test"]["statement"]
    for sentence in statement:
        assert sentence in page
    sims = [c for r in demo_json["rows"] for c in r["changes"] if c["source"] == "simulation"]
    counted = sum(int(m.group(1)) for s in statement for m in [re.match(r"(\d+) of the (\d+) ", s)] if m)
    assert counted == len(sims)  # every simulated result is under one stated rule, or named as not judged
    assert f"means over {demo_result.settings.seeds} seeds" in statement[0]
    assert not re.search(r"medians?\b(?!_)", page.lower())  # no median over seeds any more (median_shift is an audit row)
    for fam in demo_result.families:
        caption = figure_caption(fam.results, fam.results.tail_metrics()[:2], spread=True)
        assert caption in page and f"mean over {demo_result.settings.seeds} seeds" in caption
        for policy in fam.results.policies:
            for c in fam.evidence(policy).changes:
                if c.source == "simulation":  # the table row a sentence's numbers come from is on the page
                    cells = [policy, c.metric, num(c.first), num(c.last), f"[{num(c.ci_low)}, {num(c.ci_high)}]",
                             pct(c.change), c.status]
                    assert re.search(r"\s*".join(f"<td[^>]*>{re.escape(html_lib.escape(x))}</td>" for x in cells),
                                     demo_result.report.read_text()), cells
    for h in demo_json["headlines"]:
        for sentence in h["sentences"]:
            for ci in re.findall(r"95% CI \[[^\]]+\]", sentence):  # every CI a sentence quotes is in a table row
                assert f"<td>{ci[len('95% CI '):]}</td>" in demo_result.report.read_text(), (sentence, ci)


def test_the_seed_spread_is_an_option_of_the_figures(demo_result):
    without = dataclasses.replace(demo_result, settings=dataclasses.replace(demo_result.settings, spread=False))
    page = html_lib.unescape(render_demo_html(without))
    assert "dotted: the 10–90% spread" not in page and "shaded bands: its 95% percentile bootstrap CI" in page
    assert "dotted: the 10–90% spread" in html_lib.unescape(demo_result.report.read_text())


def test_pseudolabel_audit_judges_its_labels(demo_result):
    fam = next(f for f in demo_result.families if f.family == "pseudolabel")
    report = fam.audits["replace"]
    names = {r.name for r in report.metrics}
    assert {"lost_categories", "hill_q1", "recall", "coverage"} <= names  # its labels and its images


def test_replace_loses_more_tail_than_accumulate(demo_result):
    worse = 0
    for fam in demo_result.families:
        changes = {p: min(c.change for c in simulation_changes(fam.results, p)) for p in ("replace", "accumulate")}
        assert all(math.isfinite(v) for v in changes.values())
        worse += changes["replace"] < changes["accumulate"]
    assert worse >= 3, [(f.family, simulation_changes(f.results, "replace")) for f in demo_result.families]


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
