"""Engines: the same merged accumulator on every engine, chosen by name or TAILGUARD_ENGINE; Ray for real."""

from __future__ import annotations

import doctest
import functools
import importlib
import subprocess
import sys

import numpy as np
import pytest

from tailguard.engines import ENGINES, feed_with_reference, get_engine
from tailguard.errors import UnknownChoiceError
from tailguard.metrics.base import METRICS


@pytest.mark.parametrize("name", ["base", "local", "process"])
def test_docstring_examples_run(name):
    result = doctest.testmod(importlib.import_module(f"tailguard.engines.{name}"))
    assert result.failed == 0 and result.attempted > 0


# library callables only: process and Ray workers import them by name (a test module is not importable there)
_metric = functools.partial(METRICS.get("tail_mass"), n_boot=20)
_feed = feed_with_reference


def _shards(seed=0, parts=4):
    rng = np.random.default_rng(seed)
    cand, ref = rng.normal(size=(800, 3)) * 0.8, rng.normal(size=(800, 3))
    return cand, ref, [(c, r) for c, r in zip(np.array_split(cand, parts), np.array_split(ref, parts), strict=True)]


@pytest.mark.parametrize("engine", ["local", "process"])
def test_map_reduce_equals_one_accumulator_over_all_the_data(engine):
    cand, ref, shards = _shards()
    whole = _metric().update(cand).update_reference(ref).result()
    with get_engine(engine, **({"workers": 2} if engine == "process" else {})) as e:
        merged = e.map_reduce(_metric, shards, feed=_feed).result()
    for a, b in zip(whole.values, merged.values, strict=True):
        assert a.name == b.name and a.value == pytest.approx(b.value, rel=1e-12)


def test_the_engine_comes_from_the_environment_and_unknown_names_are_named(monkeypatch):
    monkeypatch.setenv("TAILGUARD_ENGINE", "process")
    assert get_engine(workers=1).name == "process"
    monkeypatch.delenv("TAILGUARD_ENGINE")
    assert get_engine().name == "local"
    with pytest.raises(UnknownChoiceError, match="Did you mean 'process'"):
        get_engine("proces")
    assert {"local", "process", "ray"} <= set(ENGINES)


def test_nothing_imports_ray_unless_the_ray_engine_is_chosen():
    code = "import sys, tailguard.engines as e; e.get_engine('local').map(abs, [1]); print('ray' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


@pytest.mark.ray
def test_ray_engine_on_a_real_local_cluster_gives_the_same_result():
    pytest.importorskip("ray")
    cand, ref, shards = _shards(seed=3)
    whole = _metric().update(cand).update_reference(ref).result()
    with get_engine("ray", num_cpus=2) as e:
        assert e.map(abs, [-1, -2]) == [1, 2]
        merged = e.map_reduce(_metric, shards, feed=_feed).result()
    for a, b in zip(whole.values, merged.values, strict=True):
        assert a.value == pytest.approx(b.value, rel=1e-12)


def test_the_docs_example_runs(capsys):
    import re
    from pathlib import Path

    doc = Path(__file__).resolve().parents[2] / "docs" / "engines.md"
    example = re.findall(r"```python\n(.*?)```", doc.read_text(), flags=re.S)[0]
    exec(compile(example, "docs/engines.md", "exec"), {})
    assert capsys.readouterr().out.strip() == "tail_mass_0.01"
