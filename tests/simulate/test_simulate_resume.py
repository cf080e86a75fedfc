"""Resumability: a chain killed mid-run continues from its last finished generation, bit for bit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from tailguard.errors import CorruptFileError, ParameterError
from tailguard.simulate import get_family, run_chain, simulate
from tailguard.simulate.checkpoint import chain_path

GENERATIONS = 30


def _done(path: Path) -> int:
    try:
        with np.load(path) as z:
            return int(z["metrics"].shape[0]) - 1
    except (OSError, ValueError, KeyError, EOFError):
        return -1


def test_killed_run_resumes_from_last_generation(tmp_path: Path) -> None:
    out = tmp_path / "run"
    script = textwrap.dedent(
        f"""
        import time
        from tailguard.simulate import get_family, run_chain
        run_chain(get_family("gmm", eval_size=500), "accumulate+anchor:0.2", seed=1, generations={GENERATIONS},
                  sample_size=120, checkpoint_dir={str(out)!r}, on_generation=lambda g: time.sleep(0.3))
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], start_new_session=True)
    ckpt = chain_path(out, "accumulate+anchor:0.2", 1)
    deadline = time.monotonic() + 120
    try:
        while _done(ckpt) < 3:
            assert proc.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline, "no checkpoint appeared"
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    killed_at = _done(ckpt)
    assert 3 <= killed_at < GENERATIONS

    fam = get_family("gmm", eval_size=500)
    resumed = run_chain(
        fam, "accumulate+anchor:0.2", seed=1, generations=GENERATIONS, sample_size=120, checkpoint_dir=out
    )
    assert resumed.resumed_from is not None and resumed.resumed_from >= killed_at
    fresh = run_chain(fam, "accumulate+anchor:0.2", seed=1, generations=GENERATIONS, sample_size=120)
    for m in fresh.metrics:
        np.testing.assert_array_equal(resumed.metrics[m], fresh.metrics[m])
    np.testing.assert_array_equal(resumed.last, fresh.last)
    np.testing.assert_array_equal(resumed.train_size, fresh.train_size)


def test_resume_refuses_other_settings_and_corrupt_files(tmp_path: Path) -> None:
    simulate("categorical", "replace", generations=3, seeds=1, sample_size=100, out=tmp_path)
    with pytest.raises(ParameterError, match="sample_size: 100 here vs 200 asked"):
        simulate("categorical", "replace", generations=3, seeds=1, sample_size=200, out=tmp_path, resume=True)
    again = simulate("categorical", "replace", generations=5, seeds=1, sample_size=100, out=tmp_path, resume=True)
    ref = simulate("categorical", "replace", generations=5, seeds=1, sample_size=100)
    np.testing.assert_array_equal(again.per_seed("replace", "support_ratio"), ref.per_seed("replace", "support_ratio"))
    chain_path(tmp_path, "replace", 0).write_bytes(b"not a checkpoint")
    with pytest.raises(CorruptFileError, match=r"seed-00000\.npz"):
        simulate("categorical", "replace", generations=5, seeds=1, sample_size=100, out=tmp_path, resume=True)
    # without --resume the broken checkpoint is simply overwritten
    simulate("categorical", "replace", generations=2, seeds=1, sample_size=100, out=tmp_path)
