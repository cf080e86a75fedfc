"""Per-chain checkpoints: one ``.npz`` per (policy, seed), rewritten after each generation.

A checkpoint holds the chain's whole pool (data, origin, depth, round), which
fresh human rows were used, and the metrics of the finished generations, plus a
JSON header naming the run it belongs to. Files are written to a temporary name
and renamed, so a run killed mid-write leaves the previous checkpoint intact.
Nothing is pickled: every array is numeric or unicode.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tailguard.errors import CorruptFileError, ParameterError


@dataclass
class ChainState:
    """Everything needed to continue a chain after generation ``done``."""

    header: dict[str, Any]
    data: np.ndarray
    origin: np.ndarray
    depth: np.ndarray
    round: np.ndarray
    fresh_used: np.ndarray
    metric_names: list[str]
    metrics: np.ndarray  # (done + 1, n_metrics)
    train_size: np.ndarray  # (done + 1,)
    human_fraction: np.ndarray  # (done + 1,)

    @property
    def done(self) -> int:
        return int(self.metrics.shape[0]) - 1


def chain_path(directory: str | Path, policy: str, seed: int) -> Path:
    """``DIR/checkpoints/<policy slug>/seed-<seed>.npz``."""
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", policy)
    return Path(directory) / "checkpoints" / slug / f"seed-{seed:05d}.npz"


def save(path: Path, state: ChainState) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(
        tmp,
        header=np.array(json.dumps(state.header, sort_keys=True)),
        data=state.data,
        origin=state.origin,
        depth=state.depth,
        round=state.round,
        fresh_used=state.fresh_used,
        metric_names=np.array(state.metric_names, dtype=str),
        metrics=state.metrics,
        train_size=state.train_size,
        human_fraction=state.human_fraction,
    )
    os.replace(tmp, path)


def load(path: Path, expected_header: dict[str, Any]) -> ChainState | None:
    """The checkpoint at ``path``, or None when there is none.

    Raises :class:`ParameterError` when the checkpoint belongs to a run with other
    settings (naming the differing keys) and :class:`CorruptFileError` when it
    cannot be read.
    """
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            header = json.loads(str(z["header"]))
            state = ChainState(
                header=header,
                data=z["data"],
                origin=z["origin"],
                depth=z["depth"],
                round=z["round"],
                fresh_used=z["fresh_used"],
                metric_names=[str(x) for x in z["metric_names"]],
                metrics=z["metrics"],
                train_size=z["train_size"],
                human_fraction=z["human_fraction"],
            )
    except (OSError, ValueError, KeyError, json.JSONDecodeError) as exc:
        raise CorruptFileError(f"cannot read checkpoint ({exc})", path=path) from exc
    diff = sorted(k for k in expected_header if header.get(k) != expected_header[k])
    if diff:
        detail = ", ".join(f"{k}: {header.get(k)!r} here vs {expected_header[k]!r} asked" for k in diff)
        raise ParameterError(
            f"the checkpoint belongs to a run with other settings ({detail}); "
            "use another --out directory or drop --resume",
            path=path,
        )
    return state
