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
    assert "gate: ok" in capsys.readouterr().out
    assert run(url, "version", "create", "all", "--from", "version:h0", "--from", "version:g1") == 0
    capsys.readouterr()
    code = run(url, "gate", "all", "--policy", "anchor:0.5")
    err = capsys.readouterr().err
    assert code == 4
    assert err == "error: all: gate refused: human fraction 0.33 < 0.50 required by anchor:0.5\n"
