"""``tailguard runs list/show`` and the lineage of runs and of the versions models were trained on."""

from __future__ import annotations

import json

import pytest

from tailguard.cli.app import main
from tailguard.errors import MissingInputError
from tailguard.ledger import Ledger, NewSample
from tailguard.ledger.lineage import pick_run

LONG = "a-version-name-that-is-much-longer-than-any-terminal-is-wide-" + "x" * 100
WEIGHTS = "0f" * 16


def text(t: str, origin: str = "human", **kw) -> NewSample:
    return NewSample(content=t.encode(), uri=None, modality="text", origin=origin, **kw)


@pytest.fixture
def runs_ledger(ledger_url):
    """v1 (human); run A trained on v1 (12 outputs, weights hash, metrics at epochs 0, 1 and final); run B on LONG."""
    with Ledger.open(ledger_url) as ledger:
        ledger.add_samples([text("human one"), text("human two")], as_version="v1")
        run_a = ledger.record_model_run(
            "det[large]@1234", "v1", config={"task": "train", "epochs": 2},
            extra={"weights_hash": WEIGHTS, "weights": "/runs/det/weights/best.pt"})
        out = ledger.add_samples([text(f"generated {i}", "synthetic", generator="det") for i in range(12)])
        ledger.link_run_outputs(run_a, out.sample_ids)
        ledger.record_run_metrics(run_a, {"recall/cat": 0.25, "recall/dog": 0.5, "map50_95": 0.1}, step=0)
        ledger.record_run_metrics(run_a, {"recall/cat": 0.41, "recall/dog": 0.625, "map50_95": 0.2}, step=1)
        ledger.record_run_metrics(run_a, {"recall/cat": 0.41, "map50_95": 0.2})
        ledger.create_version(LONG, ["version:v1"])
        run_b = ledger.record_model_run("plain-model", LONG)
    return ledger_url, run_a, run_b, out.sample_ids


def cli(capsys, url: str, *args: str) -> tuple[int, str, str]:
    code = main([*args, "--ledger", url])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_runs_list_table_and_json(capsys, runs_ledger):
    url, run_a, run_b, _ = runs_ledger
    code, out, err = cli(capsys, url, "runs", "list")
    assert code == 0, err
    row_a = next(line for line in out.splitlines() if run_a[:12] in line)
    for cell in ("det[large]@1234", "v1", "12", WEIGHTS[:12]):
        assert cell in row_a
    row_b = next(line for line in out.splitlines() if run_b[:12] in line)
    assert LONG in row_b and "plain-model" in row_b  # piped output is not cut to 80 columns

    code, out, _ = cli(capsys, url, "runs", "list", "--json")
    data = json.loads(out)
    assert [r["id"] for r in data] == [run_a, run_b]
    assert data[0]["trained_on"] == "v1" and data[0]["n_produced"] == 12 and data[0]["weights_hash"] == WEIGHTS
    assert data[1]["weights_hash"] is None and data[1]["n_produced"] == 0


def test_runs_show_by_prefix_with_metrics_by_epoch(capsys, runs_ledger):
    url, run_a, _, _ = runs_ledger
    code, out, err = cli(capsys, url, "runs", "show", run_a[:8])
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == f"run {run_a}"
    for expected in ("model: det[large]@1234", "trained on: v1", "outputs: 12 samples", f"weights hash: {WEIGHTS}",
                     "  epochs: 2", '  weights: "/runs/det/weights/best.pt"'):
        assert expected in lines
    header = next(line for line in lines if "recall/cat" in line)
    assert header.index("recall/cat") < header.index("recall/dog") < header.index("map50_95")
    rows = {line.split("│")[1].strip(): [c.strip() for c in line.split("│")[2:-1]]
            for line in lines if line.startswith("│")}
    assert rows == {"0": ["0.25", "0.5", "0.1"], "1": ["0.41", "0.625", "0.2"], "final": ["0.41", "-", "0.2"]}

    code, out, _ = cli(capsys, url, "runs", "show", f"run:{run_a}", "--json")
    data = json.loads(out)
    assert data["run"]["id"] == run_a and data["weights_hash"] == WEIGHTS
    assert [m["step"] for m in data["metrics"]] == [0, 1, None]
    assert data["metrics"][2]["values"] == {"recall/cat": 0.41, "map50_95": 0.2}


def test_runs_show_unknown_run_is_one_line(capsys, runs_ledger):
    url, *_ = runs_ledger
    code, out, err = cli(capsys, url, "runs", "show", "ffffffff")
    assert code == 2 and out == ""
    assert err == "error: 'ffffffff' is not a model run id (or unique prefix) in the ledger; see 'tailguard runs list'\n"


def test_runs_list_when_there_are_none(capsys, sqlite_url):
    with Ledger.open(sqlite_url):
        pass
    code, out, _ = cli(capsys, sqlite_url, "runs", "list")
    assert code == 0 and out.startswith("no model runs yet")


def test_lineage_of_a_run_shows_its_version_and_outputs(capsys, runs_ledger):
    url, run_a, _, outputs = runs_ledger
    code, out, err = cli(capsys, url, "lineage", run_a[:10])
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == f"run:{run_a}  model det[large]@1234 (12 outputs)"
    assert any(line.endswith("trained_on: version:v1  v1 (2 samples: human 2)  [depth 0]") for line in lines)
    assert f"samples produced by run {run_a}: 12 (the first 10 shown)" in lines
    shown = [sid for sid in outputs if any(sid in line for line in lines)]
    assert len(shown) == 10
    assert lines[-1] == "synthetic depth: 1: 12"

    code, out, _ = cli(capsys, url, "lineage", f"run:{run_a}", "--json")
    graph = json.loads(out)
    assert graph["kind"] == "run" and graph["target"] == run_a and graph["depth_histogram"] == {"1": 12}
    produced = [e for e in graph["edges"] if e["parent"] == f"run:{run_a}" and e["relation"] == "produced_by"]
    assert len(produced) == 10


def test_lineage_of_a_version_lists_the_models_trained_on_it(capsys, runs_ledger):
    url, run_a, run_b, _ = runs_ledger
    code, out, err = cli(capsys, url, "lineage", "v1")
    assert code == 0, err
    assert "models trained on v1: 1" in out and f"run:{run_a}  model det[large]@1234 (12 outputs)" in out
    code, out, _ = cli(capsys, url, "lineage", LONG)
    lines = out.splitlines()
    assert lines[0] == f"version:{LONG}  {LONG} (2 samples: human 2)  [depth 0]"  # whole, though piped
    assert any(line.endswith("derived_from: version:v1  v1 (2 samples: human 2)  [depth 0]") for line in lines)
    assert f"models trained on {LONG}: 1" in lines
    assert any(line.endswith(f"run:{run_b}  model plain-model (0 outputs)") for line in lines)


def test_lineage_of_an_unknown_target_is_one_line(capsys, runs_ledger):
    url, *_ = runs_ledger
    code, _, err = cli(capsys, url, "lineage", "run:ffffffff")
    assert code == 2 and err == "error: 'run:ffffffff' is not a model run id (or unique prefix) in the ledger\n"
    code, _, err = cli(capsys, url, "lineage", "nothing-here")
    assert code == 2 and err.startswith("error: 'nothing-here' is neither a version nor a sample id")


def test_pick_run_takes_ids_prefixes_and_the_run_prefix():
    ids = ["3f2a9c00", "3f2b0000", "aaaa1111"]
    assert pick_run("aaaa1111", ids) == "aaaa1111"
    assert pick_run("run:aaaa", ids) == "aaaa1111"
    assert pick_run("3f2a", ids) == "3f2a9c00"
    assert pick_run("aaa", ids) is None  # prefixes need 4 characters
    assert pick_run("zzzz", ids) is None
    assert pick_run("3f2", ids) is None  # too short to be read as a prefix
    with pytest.raises(MissingInputError, match="run id prefix '3f2a' is ambiguous"):
        pick_run("3f2a", ["3f2a9c00", "3f2a0000"])
