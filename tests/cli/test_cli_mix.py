"""`tailguard mix` and `tailguard gate` end to end on a real SQLite ledger."""

from __future__ import annotations

import json

import pytest

from tailguard.cli.app import main
from tailguard.ledger import Ledger, NewSample


@pytest.fixture
def url(tmp_path):
    url = f"sqlite:///{tmp_path}/ledger.db"
    with Ledger.open(url) as ledger:
        for name, origin, gen, n in [("h0", "human", 0, 20), ("g1", "synthetic", 1, 40), ("web", "unknown", None, 5)]:
            samples = [NewSample(f"{name} {i}".encode(), None, "text", origin, generation=gen) for i in range(n)]
            ledger.add_samples(samples, as_version=name)
    return url


def run(url, *args):
    return main(["--ledger", url, *args])


def test_mix_creates_a_version_and_prints_the_exclusions(url, capsys):
    code = run(
        url,
        "mix",
        "--policy",
        "accumulate+anchor:0.4",
        "--human",
        "h0",
        "--synthetic",
        "g1",
        "--as-version",
        "train",
        "--seed",
        "3",
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "version 'train' created under accumulate+anchor:0.4: 50 samples (human 40.0%" in out
    assert "excluded       10  anchor:0.4: not drawn (non-human budget 30 of 40" in out
    with Ledger.open(url) as ledger:
        assert ledger.version_summary("train").by_origin == {"human": 20, "synthetic": 30}
        assert len(ledger.exclusions("train")) == 10


def test_mix_json_report(url, capsys):
    code = run(
        url,
        "mix",
        "--policy",
        "replace",
        "--human",
        "h0",
        "--synthetic",
        "g1",
        "--as-version",
        "r",
        "--target-size",
        "10",
        "--json",
        "--allow-no-human",  # replace keeps only g1: no human data, permitted and recorded
    )
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    assert report["n_selected"] == 10 and report["n_excluded"] == 50
    assert report["gate"]["ok"] is True and report["policy"] == "replace"
    assert report["gate"]["limits"]["allow_no_human"] is True
    assert report["gate"]["notes"] == ["no human data (0 of 10 samples are human): permitted by --allow-no-human"]
    with Ledger.open(url) as ledger:
        extra = ledger.get_version("r").extra
    assert extra["allow_no_human"] is True and extra["gate"]["notes"] == report["gate"]["notes"]


def test_refused_mix_is_one_line_exit_4_and_writes_nothing(url, capsys):
    code = run(
        url,
        "mix",
        "--policy",
        "accumulate",
        "--human",
        "h0",
        "--synthetic",
        "g1",
        "--synthetic",
        "web",
        "--as-version",
        "bad",
        "--max-unknown",
        "0.05",
        "--max-depth",
        "0",
    )
    err = capsys.readouterr().err
    assert code == 4
    assert err == (
        "error: bad: gate refused: unknown-origin share 0.08 > 0.05 allowed (max unknown fraction); "
        "synthetic depth 1 > 0 allowed (max synthetic depth)\n"
    )
    with Ledger.open(url) as ledger:
        assert "bad" not in {v.name for v in ledger.list_versions()}


@pytest.mark.parametrize(
    ("policy", "fragment"),
    [
        ("acumulate", "Unknown policy 'acumulate'. Did you mean 'accumulate'"),
        ("anchor:1.5", "The 'fraction' parameter of the 'anchor' policy must be a float > 0 and <= 1. Got 1.5."),
    ],
)
def test_bad_policy_spec_is_a_one_line_error(url, capsys, policy, fragment):
    code = run(url, "mix", "--policy", policy, "--human", "h0", "--as-version", "x")
    err = capsys.readouterr().err
    assert code == 2 and fragment in err and err.count("\n") == 1


def test_unknown_version_is_named(url, capsys):
    code = run(url, "mix", "--policy", "accumulate", "--human", "h1", "--as-version", "x")
    err = capsys.readouterr().err
    assert code == 2 and "Unknown version 'h1'. Did you mean 'h0'" in err


def test_gate_command_passes_and_refuses(url, capsys):
    assert (
        run(url, "mix", "--policy", "accumulate+anchor:0.3", "--human", "h0", "--synthetic", "g1", "--as-version", "t")
        == 0
    )
    capsys.readouterr()
    assert run(url, "gate", "t") == 0
    assert "gate: ok (provenance only; the data was not audited: pass --reference" in capsys.readouterr().out
    assert run(url, "version", "create", "all", "--from", "version:h0", "--from", "version:g1") == 0
    capsys.readouterr()
    code = run(url, "gate", "all", "--policy", "anchor:0.5")
    err = capsys.readouterr().err
    assert code == 4
    assert err == "error: all: gate refused: human fraction 0.33 < 0.50 required by anchor:0.5\n"


# --------------------------------------------------------------------------- no human data (the README path)
def test_replace_without_human_data_is_refused_and_a_permitted_one_still_fails_the_gate(url, capsys):
    args = ("mix", "--policy", "replace", "--human", "h0", "--synthetic", "g1", "--as-version", "r")
    assert run(url, *args) == 4
    err = capsys.readouterr().err
    assert err.startswith("error: r: gate refused: the mix holds no human data (0 of 40 samples are human)")
    with Ledger.open(url) as ledger:
        assert "r" not in {v.name for v in ledger.list_versions()}
    assert run(url, *args, "--allow-no-human") == 0
    out = capsys.readouterr().out
    assert "human 0.0%" in out
    assert "gate note: no human data (0 of 40 samples are human): permitted by --allow-no-human" in out
    # the gate before training does not inherit the mix's permission
    assert run(url, "gate", "r") == 4
    captured = capsys.readouterr()
    assert "note: the mix that made 'r' was permitted no human data (--allow-no-human); this gate was not" in (
        captured.out
    )
    assert captured.err.startswith("error: r: gate refused: the mix holds no human data")
    assert run(url, "gate", "r", "--allow-no-human") == 0
    assert capsys.readouterr().out.endswith("gate: ok (provenance only; the data was not audited: pass "
                                           "--reference to refuse on its verdict)\n")


# --------------------------------------------------------------------------- the gate's audit
@pytest.fixture
def text_url(tmp_path):
    from tailguard.data import python_docs_paragraphs

    paras = python_docs_paragraphs()
    url = f"sqlite:///{tmp_path}/text.db"
    with Ledger.open(url) as ledger:
        def add(texts, origin, name, gen):
            ledger.add_samples([NewSample(t.encode(), None, "text", origin, generation=gen) for t in texts],
                               as_version=name)

        add(paras[:400], "human", "holdout", 0)
        add(paras[400:800], "human", "fresh", 0)
        add([paras[900 + i % 4] for i in range(400)], "synthetic", "collapsed", 1)  # four outputs, 100 times each
        add(paras[1000:1001], "human", "one", 0)
        ledger.create_version("collapsed-mix", ["version:one", "version:collapsed"])
    return url


def test_gate_audits_against_the_reference_and_refuses_a_collapsed_mix(text_url, capsys, tmp_path):
    code = run(text_url, "gate", "collapsed-mix", "--reference", "holdout", "--quick", "--out", str(tmp_path / "a"))
    captured = capsys.readouterr()
    assert code == 4
    assert "audit against holdout: verdict collapse (--fail-on collapse; metrics at or above it:" in captured.out
    assert captured.err.startswith("error: collapsed-mix: gate refused: audit against holdout: verdict collapse")
    assert (tmp_path / "a" / "report.json").exists()
    code = run(text_url, "gate", "fresh", "--reference", "holdout", "--quick", "--fail-on", "collapse", "--json")
    decision = json.loads(capsys.readouterr().out)
    assert decision["audit"]["verdict"] in ("ok", "warn") and decision["audit"]["reference"] == "holdout"
    assert code == 0 and decision["ok"] is True


def test_gate_audit_refuses_what_it_could_not_measure(text_url, capsys):
    code = run(text_url, "gate", "one", "--reference", "holdout", "--quick")
    err = capsys.readouterr().err
    assert code == 4
    assert "audit against holdout: verdict insufficient" in err
    assert "a gate never passes what it did not check" in err


def test_gate_notes_a_reference_the_mix_holds(text_url, capsys):
    with Ledger.open(text_url) as ledger:
        ledger.create_version("with-ref", ["version:holdout", "version:fresh"])
        ref = set(ledger.version_sample_ids("holdout"))
        shared = len(ref & set(ledger.version_sample_ids("fresh")))  # the docs repeat some paragraphs
    n = len(ref)
    run(text_url, "gate", "with-ref", "--reference", "holdout", "--quick")
    out = capsys.readouterr().out
    assert f"note: {n} of the {n} distinct samples of 'holdout' are in 'with-ref': the audit reads them" in out
    assert run(text_url, "gate", "fresh", "--reference", "holdout", "--quick") == 0
    out = capsys.readouterr().out
    assert f"note: {shared} of the {n} distinct samples of 'holdout' are in 'fresh'" in out
    assert out.endswith("gate: ok (provenance and the audit)\n")  # what passed is named


def test_gate_audit_options_need_a_reference(url, capsys):
    assert run(url, "gate", "h0", "--quick") == 2
    assert "pass --reference too" in capsys.readouterr().err


def test_a_machine_made_reference_is_warned_by_audit_and_refused_by_the_gate(text_url, capsys, tmp_path):
    code = run(text_url, "audit", "fresh", "--reference", "collapsed", "--quick", "--json", "--out", str(tmp_path / "a"))
    captured = capsys.readouterr()
    assert code == 0 and json.loads(captured.out)["config"]["reference_origins"] == {"synthetic": 400}
    assert "warning: the reference 'collapsed' is 0% human (synthetic 400)" in captured.err
    assert "Warning:" not in captured.err  # one line, not Python's file:line form
    code = run(text_url, "gate", "fresh", "--reference", "collapsed", "--quick")
    err = capsys.readouterr().err
    assert code == 4
    assert "the reference 'collapsed' is not all human (synthetic 400): the gate audits against human data only" in err
