"""Constants and helpers shared by the Ultralytics integration tests and their fixtures."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

IMGSZ = 64


@dataclass
class Trained:
    weights: Path
    state: Any  # LedgerCallbacks
    caught: list[warnings.WarningMessage]
    export_yaml: Path


def train_args(root: Path, name: str, **extra: Any) -> dict[str, Any]:
    """One epoch at imgsz 64 on CPU, in-process data loading, into ``root/runs/name``."""
    from tailguard.integrations.ultralytics import offline_train_args

    return offline_train_args(
        epochs=1, imgsz=IMGSZ, batch=8, device="cpu", workers=0, project=str(root / "runs"), name=name, seed=0,
        **extra,
    )
