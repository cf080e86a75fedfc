"""The pre-commit hooks and the GitHub Action run the real gate: a human version passes, a
version with no human data is refused (exit 4), from a user's own git project."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


@pytest.fixture()
def project(tmp_path):
    """A user's git project with a ledger holding a human and a synthetic-only version."""
    import pandas as pd

    from tailguard.cli.app import main

    proj = tmp_path / "proj"
    proj.mkdir()
    subprocess.run(["git", "init", "-q", str(proj)], check=True)
    url = f"sqlite:///{proj / 'ledger.db'}"
    rng = np.random.default_rng(0)
    for name, origin in (("human-v1", "human"), ("synth-v1", "synthetic")):
        path = tmp_path / f"{name}.csv"
        pd.DataFrame(rng.normal(size=(40, 3)), columns=["a", "b", "c"]).to_csv(path, index=False)
        assert main(["--ledger", url, "ingest", str(path), "--origin", origin, "--as-version", name]) == 0
    (proj / "README").write_text("x\n")
    return proj, url


def _env(url: str) -> dict[str, str]:
    return {**os.environ, "TAILGUARD_LEDGER": url, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_the_pre_commit_hook_gates_from_a_local_clone_offline(project, tmp_path):
    proj, url = project
    rev = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True,
                         check=True).stdout.strip()
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert {h["id"] for h in hooks} == {"tailguard-gate", "tailguard-audit"}
    env = {**_env(url), "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home")}
    codes = {}
    for version in ("human-v1", "synth-v1"):
        config = proj / f"{version}.yaml"
        config.write_text(yaml.safe_dump({"repos": [{"repo": str(ROOT), "rev": rev, "hooks": [
            {"id": "tailguard-gate", "args": [version]}]}]}))
        run = subprocess.run([str(BIN / "pre-commit"), "run", "--config", str(config), "--all-files"],
                             cwd=proj, env=env, capture_output=True, text=True, timeout=300)
        codes[version] = (run.returncode, run.stdout + run.stderr)
    assert codes["human-v1"][0] == 0, codes["human-v1"][1]
    assert codes["synth-v1"][0] != 0 and "gate refused" in codes["synth-v1"][1], codes["synth-v1"][1]


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_pre_commit_try_repo_gates_the_version_named_in_the_environment(project, tmp_path):
    proj, url = project
    codes = {}
    for version in ("human-v1", "synth-v1"):
        env = {**_env(url), "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-home"), "TAILGUARD_GATE_VERSION": version}
        run = subprocess.run([str(BIN / "pre-commit"), "try-repo", str(ROOT), "tailguard-gate", "--all-files"],
                             cwd=proj, env=env, capture_output=True, text=True, timeout=300)
        codes[version] = (run.returncode, run.stdout + run.stderr)
    assert codes["human-v1"][0] == 0, codes["human-v1"][1]
    assert codes["synth-v1"][0] != 0 and "gate refused" in codes["synth-v1"][1], codes["synth-v1"][1]


def test_the_action_runs_its_own_gate_step(project):
    proj, url = project
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    assert action["runs"]["using"] == "composite"
    step = next(s for s in action["runs"]["steps"] if s["name"] == "Gate")
    defaults = {k: v.get("default", "") for k, v in action["inputs"].items()}

    def gate(**inputs: str) -> subprocess.CompletedProcess:
        given = {**defaults, "ledger": url, **inputs}
        # the step's own env block, its ${{ inputs.X }} expressions filled as the runner would
        env = {**_env(url), **{k: given[v.split("inputs.")[1].split("}")[0].strip()] for k, v in step["env"].items()}}
        return subprocess.run(["bash", "-c", step["run"]], cwd=proj, env=env, capture_output=True, text=True,
                              timeout=300)

    ok = gate(version="human-v1")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    refused = gate(version="synth-v1")
    assert refused.returncode == 4 and "gate refused" in refused.stdout + refused.stderr
