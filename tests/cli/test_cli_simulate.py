"""``tailguard simulate``: outputs, summary table, resume, one-line errors with exit code 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tailguard.cli.app import main


def test_simulate_writes_results_and_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sim"
    args = [
        "simulate",
        "categorical",
        "--policy",
        "replace,accumulate+anchor:0.2",
        "--generations",
        "4",
        "--seeds",
        "3",
        "--sample-size",
        "300",
        "--out",
        str(out),
        "--no-progress",
        "--param",
        "vocab=200",
    ]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert f"report: {out / 'report.html'}" in printed
    assert "support_ratio" in printed and "accumulate+anchor:0.2" in printed
    data = json.loads((out / "results.json").read_text())
    assert data["family"] == "categorical"
    assert data["config"]["family_params"]["vocab"] == 200
    assert set(data["policies"]) == {"replace", "accumulate+anchor:0.2"}
    assert len(data["policies"]["replace"]["support_ratio"]["median"]) == 5
    assert "data:image/png;base64," in (out / "report.html").read_text()
    # resuming a finished run recomputes nothing and gives the same numbers
    assert main([*args, "--resume"]) == 0
    assert json.loads((out / "results.json").read_text())["policies"] == data["policies"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["simulate", "gausian"], "Unknown family 'gausian'. Did you mean 'gaussian'?"),
        (["simulate", "gaussian", "--policy", "replace,anchor:1.5"], "anchor"),
        (["simulate", "gaussian", "--seeds", "0"], "The 'seeds' parameter of simulate must be an int >= 1"),
        (["simulate", "gaussian", "--param", "dim"], "--param expects KEY=VALUE"),
        (["simulate", "gaussian", "--param", "dimm=2"], "Did you mean 'dim'?"),
    ],
)
def test_simulate_bad_input_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main([*args, "--out", str(tmp_path), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err
    assert message in err


def test_simulate_records_lineage_in_the_ledger(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tailguard.ledger import Ledger

    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    args = [
        "--ledger",
        url,
        "simulate",
        "gaussian",
        "--policy",
        "replace",
        "--generations",
        "2",
        "--seeds",
        "2",
        "--sample-size",
        "20",
        "--out",
        str(tmp_path / "o"),
        "--no-progress",
        "--record",
    ]
    assert main(args) == 0
    with Ledger.open(url) as led:
        runs = sorted(led.model_runs(), key=lambda r: r.config["generation"])
        assert [r.config["generation"] for r in runs] == [0, 1, 2]
        assert all(r.n_produced == 20 for r in runs)
        assert runs[1].trained_on.endswith("train1")
        metrics = {m.name for m in led.run_metrics(runs[2].id)}
        assert "variance_ratio" in metrics
        # under replace, model 2 trained on model 1's samples: synthetic, generation 2, made by model 1
        trained = list(led.iter_samples(runs[2].trained_on))
        assert len(trained) == 20
        assert {(s.origin, s.generation, s.generator) for s in trained} == {("synthetic", 2, runs[1].model_id)}
        human = list(led.iter_samples(runs[0].trained_on))
        assert {(s.origin, s.generation) for s in human} == {("human", 0)}


def test_device_option_reaches_the_family(tmp_path):
    """--device is passed to families that train networks and refused by the others."""
    from tailguard.cli.app import main

    assert main(["simulate", "gmm", "--device", "cpu", "--generations", "1", "--seeds", "1",
                 "--out", str(tmp_path / "g"), "--no-progress"]) == 2
    assert main(["simulate", "yolo", "--device", "cpu", "--param", "device=cpu", "--out", str(tmp_path / "y"),
                 "--no-progress"]) == 2


def test_no_checkpoint_writes_results_but_no_checkpoints(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "sim"
    args = ["simulate", "linreg", "--policy", "replace,accumulate", "--generations", "3", "--seeds", "2",
            "--sample-size", "30", "--param", "dim=3", "--out", str(out), "--no-progress"]
    assert main([*args, "--no-checkpoint"]) == 0
    assert (out / "results.json").exists() and (out / "per_seed.parquet").exists()
    assert not (out / "checkpoints").exists()
    lean = json.loads((out / "results.json").read_text())["policies"]
    assert main(args) == 0  # with checkpoints: the same numbers, and one file per chain
    assert len(list((out / "checkpoints").rglob("seed-*.npz"))) == 4
    assert json.loads((out / "results.json").read_text())["policies"] == lean
    capsys.readouterr()
    assert main([*args, "--no-checkpoint", "--resume"]) == 2
    assert "'resume' parameter of simulate needs checkpoints" in capsys.readouterr().err


def test_param_values_are_yaml_scalars_and_exponents_are_numbers() -> None:
    from tailguard.cli.simulate import parse_params

    parsed = parse_params(["lr=3e-3", "a=1e5", "b=-2.5E-1", "c=3", "d=unbiased", "e=true", "f=1e"])
    assert parsed == {"lr": 0.003, "a": 100000.0, "b": -0.25, "c": 3, "d": "unbiased", "e": True, "f": "1e"}
    assert isinstance(parsed["c"], int)
