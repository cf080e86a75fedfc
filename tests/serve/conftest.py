"""A small real SQLite ledger for the dashboard tests, built once per session with the CLI and the library.

Versions human, gen1, gen2 (vectors from .npy files, 300 rows each) and mix (human + gen2); two
audits recorded against human (gen1: a mild shrink, gen2: a collapse); a detector run trained on mix
with per-class recall by epoch and a recall-drop alert; and a simulation recorded with --record.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from tailguard.cli.app import main


@dataclass(frozen=True)
class Built:
    url: str
    root: Path
    run_id: str  # the detector run with per-class metrics and an alert


def _cli(*args: str) -> None:
    code = main(list(args))
    assert code == 0, args


@pytest.fixture(scope="session")
def built(tmp_path_factory) -> Built:
    root = tmp_path_factory.mktemp("serve-ledger")
    url = f"sqlite:///{root / 'ledger.db'}"
    rng = np.random.default_rng(0)
    for name, scale in (("human", 1.0), ("gen1", 0.97), ("gen2", 0.5)):
        np.save(root / f"{name}.npy", scale * rng.normal(size=(300, 4)))
    _cli("ingest", str(root / "human.npy"), "--origin", "human", "--as-version", "human", "--ledger", url)
    _cli("ingest", str(root / "gen1.npy"), "--origin", "synthetic", "--generation", "1", "--as-version", "gen1",
         "--ledger", url)
    _cli("ingest", str(root / "gen2.npy"), "--origin", "synthetic", "--generation", "2", "--as-version", "gen2",
         "--ledger", url)
    _cli("version", "create", "mix", "--from", "version:human", "--from", "version:gen2", "--ledger", url)
    for cand in ("gen1", "gen2"):
        _cli("audit", cand, "--reference", "human", "--quick", "--record", "--out", str(root / f"audit-{cand}"),
             "--ledger", url)
    from tailguard.ledger import Ledger

    with Ledger.open(url) as ledger:
        run_id = ledger.record_model_run("det@0f0f", "mix", config={"task": "train", "epochs": 3},
                                         extra={"class_names": ["cat", "dog"]})
        for epoch, (cat, dog) in enumerate([(0.50, 0.61), (0.60, 0.42), (0.70, 0.23)]):
            ledger.record_run_metrics(run_id, {"map50_95": 0.3 + 0.1 * epoch, "recall/cat": cat, "recall/dog": dog},
                                      step=epoch)
        ledger.record_run_metrics(run_id, {"map50_95": 0.52, "recall/cat": 0.71, "recall/dog": 0.2})
        ledger.record_run_metrics(run_id, {"alert/recall_drop/dog": 0.41})
    _cli("simulate", "gaussian", "--policy", "replace", "--generations", "2", "--seeds", "1", "--sample-size", "20",
         "--record", "--out", str(root / "sim"), "--no-progress", "--ledger", url)
    return Built(url, root, run_id)
