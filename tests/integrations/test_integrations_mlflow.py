"""tailguard.integrations.mlflow against a real MLflow file store under tmp_path, read back through MlflowClient.

Every expected number comes from the tailguard object that was logged (the audit's rows, the
simulation's summaries, the ledger's run metrics), never from a literal.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

mlflow = pytest.importorskip("mlflow", reason="needs the mlflow extra: pip install 'tailguard[mlflow]'")
from mlflow.tracking import MlflowClient  # noqa: E402

from tailguard.audit import AuditConfig, audit  # noqa: E402
from tailguard.audit.thresholds import INSUFFICIENT, ROW_STATUSES  # noqa: E402
from tailguard.cli.app import main  # noqa: E402
from tailguard.errors import MissingDependencyError, MissingInputError, TrackingStoreError  # noqa: E402
from tailguard.integrations.mlflow import (  # noqa: E402
    Payload,
    Point,
    Tracker,
    log_audit,
    log_model_run,
    log_recorded_audit,
    log_simulation,
    mlflow_key,
    unique_keys,
)
from tailguard.integrations.mlflow.simulation import PREFIX  # noqa: E402
from tailguard.ledger import Ledger, NewSample  # noqa: E402
from tailguard.simulate import simulate, write_report  # noqa: E402

KEY_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-. /")


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A file store URI under tmp_path, allowed for MLflow 3; nothing else of the environment leaks in."""
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    return (tmp_path / "mlruns").as_uri()


@pytest.fixture(scope="module")
def report():
    rng = np.random.default_rng(0)
    found = audit(0.7 * rng.normal(size=(300, 4)), rng.normal(size=(300, 4)), config=AuditConfig(quick=True))
    found.candidate, found.reference = "shrunk", "human"  # the labels a ledger version or path would give
    return found


@pytest.fixture(scope="module")
def tiny_report():
    """Eight rows a side: every row is insufficient, yet most carry a finite value."""
    rng = np.random.default_rng(1)
    return audit(rng.normal(size=(8, 4)), rng.normal(size=(8, 4)), config=AuditConfig(quick=True))


@pytest.fixture(scope="module")
def sim_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sim")
    results = simulate("gaussian", "replace,accumulate", generations=2, seeds=4, sample_size=40, out=out)
    write_report(results, str(out))
    return out


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12)


def _artifacts(client: MlflowClient, run_id: str) -> set[str]:
    return {a.path for a in client.list_artifacts(run_id)}


# -- names ---------------------------------------------------------------------------------------------------
def test_keys_are_mlflow_safe_distinct_and_never_a_folder_of_another(store):
    names = ["tail_mass_0.01#2", "tail_mass_0.01:2", "recall/class 7", "ρ//../x", "a", "a/b", "/lead", "x" * 400]
    keys = unique_keys(names)
    assert len(set(keys.values())) == len(names)
    for key in keys.values():
        assert set(key) <= KEY_CHARS and 0 < len(key) <= 250 and not key.startswith("/")
        assert not any(other.startswith(key + "/") for other in keys.values())
    tracker = Tracker(store, experiment="names")
    run_id = tracker.log_run(Payload([Point(n, float(i)) for i, n in enumerate(names)]), run_name="names")
    logged = MlflowClient(store).get_run(run_id).data.metrics
    assert logged == {keys[n]: float(i) for i, n in enumerate(names)}
    assert mlflow_key("recall/class 7") == "recall/class 7"  # already safe: unchanged


# -- audits ----------------------------------------------------------------------------------------------------
def test_audit_metrics_params_tags_and_reports_equal_the_report(store, report, tmp_path):
    run_id = log_audit(report, tracking_uri=store, experiment="audits")
    client = MlflowClient(store)
    run = client.get_run(run_id)
    metrics, params, tags = run.data.metrics, run.data.params, run.data.tags
    assert run.info.status == "FINISHED" and run.info.run_name == "audit shrunk vs human"
    keys = unique_keys(r.name for r in report.metrics)
    judged = [r for r in report.metrics if r.status != INSUFFICIENT]
    assert judged, "the fixture should judge rows"
    for row in judged:
        key = keys[row.name]
        assert _close(metrics[key], row.value), row.name
        for kind, value in (("reference", row.reference_value), ("ratio", row.ratio)):
            if value is not None and math.isfinite(value):
                assert _close(metrics[f"{kind}/{key}"], value), (kind, row.name)
            else:
                assert f"{kind}/{key}" not in metrics
        if row.ci is not None:
            assert _close(metrics[f"ci_low/{key}"], row.ci[0]) and _close(metrics[f"ci_high/{key}"], row.ci[1])
        assert tags[f"tailguard.status.{key}"] == row.status
    for status in ROW_STATUSES:
        assert metrics[f"rows/{status}"] == len(report.rows(status=status))
    assert _close(metrics["diagnosis/confidence"], report.diagnosis.confidence)
    assert tags["tailguard.verdict"] == report.verdict and tags["tailguard.diagnosis"] == report.diagnosis.mode
    assert report.summary() in tags["mlflow.note.content"]
    assert params["candidate"] == "shrunk" and params["reference"] == "human"
    assert params["n_candidate"] == str(report.n_candidate) and params["config.quick"] == "true"
    assert _artifacts(client, run_id) == {"report.html", "report.json"}
    stored = json.loads(Path(client.download_artifacts(run_id, "report.json", str(tmp_path))).read_text())
    assert stored == report.to_dict()
    html = Path(client.download_artifacts(run_id, "report.html", str(tmp_path))).read_text()
    assert html.lstrip().lower().startswith("<!doctype html") and report.verdict in html


def test_insufficient_rows_are_tagged_never_logged_as_values(store, tiny_report):
    rows = tiny_report.rows(status=INSUFFICIENT)
    assert rows and any(math.isfinite(r.value) for r in rows)  # numbers exist, the audit did not stand behind them
    run = MlflowClient(store).get_run(log_audit(tiny_report, tracking_uri=store))
    keys = unique_keys(r.name for r in tiny_report.metrics)
    for row in rows:
        key = keys[row.name]
        assert run.data.tags[f"tailguard.status.{key}"] == INSUFFICIENT
        assert not any(k == key or k.endswith(f"/{key}") for k in run.data.metrics), key
    assert run.data.metrics["rows/insufficient"] == len(rows)
    assert run.data.tags["tailguard.verdict"] == tiny_report.verdict == INSUFFICIENT
    assert run.data.tags["tailguard.insufficient_reason"] == tiny_report.insufficient_reason


def test_audit_folder_logs_its_own_files(store, report, tmp_path):
    report.write(tmp_path / "out")
    run_id = log_audit(tmp_path / "out", tracking_uri=store, run_name="from folder")
    client = MlflowClient(store)
    got = Path(client.download_artifacts(run_id, "report.html", str(tmp_path / "dl"))).read_bytes()
    assert got == (tmp_path / "out" / "report.html").read_bytes()
    row = next(r for r in report.metrics if r.status != INSUFFICIENT)
    assert _close(client.get_run(run_id).data.metrics[unique_keys([row.name])[row.name]], row.value)


def test_recorded_audit_by_id(store, report, sqlite_url):
    audit_id = Ledger.open(sqlite_url).record_audit(report.to_dict())
    run = MlflowClient(store).get_run(log_recorded_audit(sqlite_url, f"audit:{audit_id}", tracking_uri=store))
    assert run.data.tags["tailguard.audit_id"] == str(audit_id)
    assert run.data.tags["tailguard.verdict"] == report.verdict
    with pytest.raises(MissingInputError):
        log_recorded_audit(sqlite_url, audit_id + 1, tracking_uri=store)


# -- simulations ------------------------------------------------------------------------------------------------
def test_simulation_parent_and_one_child_per_policy_with_generations_as_steps(store, sim_dir, tmp_path):
    from tailguard.simulate import SimulationResults

    results = SimulationResults.load(sim_dir / "results.json")
    runs = log_simulation(sim_dir, tracking_uri=store, experiment="sims")
    client = MlflowClient(store)
    parent = client.get_run(runs.parent)
    assert parent.data.params["family"] == "gaussian"
    assert json.loads(parent.data.params["policies"]) == results.policies
    assert parent.data.params["config.seeds"] == json.dumps(results.config["seeds"])
    assert _artifacts(client, runs.parent) == {"report.html", "results.json", "per_seed.parquet"}
    assert set(runs.policies) == set(results.policies) == {"replace", "accumulate"}
    for policy, run_id in runs.policies.items():
        child = client.get_run(run_id)
        assert child.data.tags["mlflow.parentRunId"] == runs.parent and child.info.run_name == policy
        for metric in results.metric_names:
            summary = results.summary(policy, metric)
            for stat, prefix in PREFIX.items():
                history = client.get_metric_history(run_id, prefix + mlflow_key(metric))
                expected = [(g, v) for g, v in enumerate(summary[stat]) if v is not None and math.isfinite(v)]
                history = sorted(history, key=lambda m: m.step)
                assert [m.step for m in history] == [g for g, _ in expected], (policy, metric, stat)
                assert [m.value for m in history] == pytest.approx([v for _, v in expected]), (policy, metric, stat)
            judged = results.judgement(policy, metric)
            assert child.data.tags[f"tailguard.judgement.{mlflow_key(metric)}"] == judged.status
    summary = results.summary("replace", "variance_ratio")
    assert len(summary["mean"]) == results.generations + 1 == 3


def test_simulation_object_without_a_folder_writes_its_reports(store):
    results = simulate("gaussian", "replace", generations=2, seeds=3, sample_size=30)
    runs = log_simulation(results, tracking_uri=store)
    client = MlflowClient(store)
    assert {"report.html", "results.json", "per_seed.parquet"} <= _artifacts(client, runs.parent)
    history = client.get_metric_history(runs.policies["replace"], "variance_ratio")
    assert [m.value for m in sorted(history, key=lambda m: m.step)] == pytest.approx(
        results.summary("replace", "variance_ratio")["mean"])


# -- model runs ---------------------------------------------------------------------------------------------------
def test_model_run_metrics_by_epoch_params_and_final_values(store, sqlite_url):
    with Ledger.open(sqlite_url) as ledger:
        ledger.add_samples([NewSample(content=b"one", uri=None, modality="text", origin="human")], as_version="v1")
        run = ledger.record_model_run("det@1234", "v1", config={"epochs": 2, "imgsz": 64})
        ledger.record_run_metrics(run, {"recall/cat": 0.25, "map50_95": 0.1}, step=0)
        ledger.record_run_metrics(run, {"recall/cat": 0.41, "map50_95": 0.2}, step=1)
        ledger.record_run_metrics(run, {"recall/cat": 0.41, "fitness": 0.3})
        recorded = ledger.run_metrics(run)
    mlflow_run = log_model_run(sqlite_url, run[:8], tracking_uri=store)
    client = MlflowClient(store)
    data = client.get_run(mlflow_run).data
    assert data.params["model_id"] == "det@1234" and data.params["trained_on"] == "v1"
    assert data.params["config.epochs"] == "2" and data.tags["tailguard.run_id"] == run
    for name in ("recall/cat", "map50_95"):
        history = sorted(client.get_metric_history(mlflow_run, name), key=lambda m: m.step)
        assert [(m.step, m.value) for m in history] == [(m.step, m.value) for m in recorded
                                                         if m.name == name and m.step is not None]
    final = next(m.value for m in recorded if m.name == "recall/cat" and m.step is None)
    assert data.metrics["final/recall/cat"] == final
    assert data.metrics["fitness"] == next(m.value for m in recorded if m.name == "fitness")
    with pytest.raises(MissingInputError, match="not a model run"):
        log_model_run(sqlite_url, "run:ffffffff", tracking_uri=store)


# -- stores, dependencies, CLI ---------------------------------------------------------------------------------------
def test_file_store_needs_the_users_opt_in(tmp_path, monkeypatch, report):
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)
    from mlflow.environment_variables import MLFLOW_ALLOW_FILE_STORE

    assert not MLFLOW_ALLOW_FILE_STORE.get()
    with pytest.raises(TrackingStoreError, match="MLFLOW_ALLOW_FILE_STORE=true") as err:
        log_audit(report, tracking_uri=tmp_path / "mlruns")
    assert "\n" not in str(err.value) and str(tmp_path / "mlruns") in str(err.value)
    assert not (tmp_path / "mlruns").exists()
    import os

    assert "MLFLOW_ALLOW_FILE_STORE" not in os.environ  # tailguard never sets it for the user


def test_missing_mlflow_names_the_extra(monkeypatch, report, tmp_path):
    monkeypatch.setitem(sys.modules, "mlflow", None)
    with pytest.raises(MissingDependencyError, match=r"tailguard\[mlflow\]"):
        log_audit(report, tracking_uri=tmp_path)


def _cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_logs_an_audit_folder_a_simulation_and_a_recorded_audit(capsys, store, report, sim_dir, tmp_path,
                                                                     sqlite_url):
    report.write(tmp_path / "audit")
    code, out, err = _cli(capsys, "mlflow", "log", str(tmp_path / "audit"), "--tracking-uri", store,
                          "--experiment", "cli", "--json")
    assert code == 0, err
    logged = json.loads(out)
    assert logged["kind"] == "audit" and logged["experiment"] == "cli" and logged["tracking_uri"] == store
    client = MlflowClient(store)
    assert client.get_run(logged["run_ids"][0]).data.tags["tailguard.verdict"] == report.verdict
    code, out, err = _cli(capsys, "mlflow", "log", str(sim_dir / "results.json"), "--tracking-uri", store)
    assert code == 0, err
    assert out.startswith("logged simulation") and "then 2 policies" in out
    audit_id = Ledger.open(sqlite_url).record_audit(report.to_dict())
    code, out, err = _cli(capsys, "mlflow", "log", f"audit:{audit_id}", "--ledger", sqlite_url,
                          "--tracking-uri", store, "--json")
    assert code == 0, err
    run_id = json.loads(out)["run_ids"][0]
    assert client.get_run(run_id).data.tags["tailguard.audit_id"] == str(audit_id)


@pytest.mark.parametrize("args, needle", [
    (["mlflow", "log", "no-such-dir"], "no-such-dir: no such folder or file"),
    (["mlflow", "log", "{empty}"], "holds neither report.json"),
    (["mlflow", "log", "audit:x"], "an audit id is a number"),
    (["mlflow", "log", "run:abcd1234"], "no ledger at"),  # read-only: a missing ledger is not created
])
def test_cli_bad_sources_are_one_line_errors(capsys, store, tmp_path, monkeypatch, args, needle):
    (tmp_path / "empty").mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TAILGUARD_LEDGER", raising=False)
    code, _, err = _cli(capsys, *[a.format(empty=str(tmp_path / "empty")) for a in args], "--tracking-uri", store)
    assert code == 2 and needle in err and err.count("\n") == 1, err
    assert not (tmp_path / "mlruns").exists() and not (tmp_path / ".tailguard").exists()


def test_cli_unknown_option_exits_2(capsys, store):
    code, _, err = _cli(capsys, "mlflow", "log", ".", "--no-such-option")
    assert code == 2 and "No such option" in err
