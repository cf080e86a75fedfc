"""Plug-ins: entry points loaded lazily, --plugin on the CLI, validators, reloads."""

from __future__ import annotations

import contextlib
import doctest
import importlib
import json
import sys
import textwrap

import numpy as np
import pytest

from tailguard.cli.app import main
from tailguard.errors import ParameterError, PluginError, UnknownChoiceError
from tailguard.policy import POLICIES
from tailguard.simulate import FAMILIES, Family, MetricSpec, Setup, simulate, validate_family

PLUGIN = textwrap.dedent('''
    import numpy as np
    from tailguard.policy import Step, register_step
    from tailguard.simulate import Family, MetricSpec, Setup, register_family
    from tailguard.validation import Int

    @register_family
    class UniformFamily(Family):
        name = "{family}"
        metrics = (MetricSpec("width_ratio", True, tail=True),)

        def setup(self, sample_size, rng):
            draw = lambda n: rng.uniform(size=(n, 1))
            return Setup(train=draw(sample_size), heldout=draw(50), fresh=draw(4 * sample_size))

        def fit(self, data, rng):
            return (float(np.min(data)), float(np.max(data)))

        def sample(self, model, n, rng):
            return rng.uniform(model[0], model[1], size=(n, 1))

        def evaluate(self, model, samples, ctx):
            return {{"width_ratio": (model[1] - model[0]) / (ctx.model0[1] - ctx.model0[0])}}

    @register_step
    class Newest(Step):
        name = "{step}"
        kind = "source"
        positional = "k"
        params = {{"k": Int(min=1)}}
        defaults = {{"k": 1}}

        def apply(self, state):
            return state.pool.round > state.current_round - self.get_params()["k"], "{step}: too old"
''')


@pytest.mark.parametrize("module", ["tailguard.registry", "tailguard.plugins", "tailguard.simulate.family"])
def test_doctests(module: str) -> None:
    assert doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS).failed == 0


@pytest.fixture
def plugin_dir(tmp_path, monkeypatch):
    """A module file and a fake installed distribution that declares it under two entry-point groups."""
    (tmp_path / "tg_uniform_plugin.py").write_text(PLUGIN.format(family="uniformx", step="newestx"))
    dist = tmp_path / "tg_uniform_plugin-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: tg-uniform-plugin\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        "[tailguard.families]\nuniformx = tg_uniform_plugin\n\n[tailguard.policy_steps]\nnewestx = tg_uniform_plugin\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    for reg in (FAMILIES, POLICIES):
        reg.refresh_entry_points()
    yield tmp_path
    for reg, name in ((FAMILIES, "uniformx"), (POLICIES, "newestx")):
        with contextlib.suppress(UnknownChoiceError):  # what the plug-in registered, if it was loaded
            reg.unregister(name)
        reg.refresh_entry_points()
    sys.modules.pop("tg_uniform_plugin", None)


def test_entry_points_load_lazily_when_a_name_is_asked_for(plugin_dir) -> None:
    assert "tg_uniform_plugin" not in sys.modules
    assert "uniformx" in FAMILIES.names() and "newestx" in POLICIES.names()  # listed, not imported
    assert "tg_uniform_plugin" not in sys.modules
    res = simulate("uniformx", "replace,newestx:2", generations=3, seeds=3, sample_size=20)
    assert "tg_uniform_plugin" in sys.modules
    width = res.per_seed("replace", "width_ratio")
    assert np.all(np.diff(width, axis=1) <= 1e-12)  # the range of a uniform refit on itself never grows
    assert res.policies == ["replace", "newestx:2"]


def test_a_broken_entry_point_says_which_plugin_failed(tmp_path, monkeypatch) -> None:
    dist = tmp_path / "tg_broken-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: tg-broken\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[tailguard.families]\nbrokenx = tg_no_such_module_x\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    FAMILIES.refresh_entry_points()
    try:
        with pytest.raises(PluginError, match=r"family plug-in 'brokenx'.*tg_no_such_module_x"):
            FAMILIES.get("brokenx")
    finally:
        FAMILIES.refresh_entry_points()


def test_cli_plugin_option_imports_a_file_before_the_command(tmp_path, capsys) -> None:
    path = tmp_path / "tg_cli_plugin.py"
    path.write_text(PLUGIN.format(family="uniformy", step="newesty"))
    out = tmp_path / "sim"
    try:
        code = main(["simulate", "uniformy", "--policy", "replace,newesty:3", "--generations", "2", "--seeds", "2",
                     "--sample-size", "20", "--out", str(out), "--no-progress", "--plugin", str(path)])
        assert code == 0, capsys.readouterr()
        d = json.loads((out / "results.json").read_text())
        assert d["family"] == "uniformy" and set(d["policies"]) == {"replace", "newesty:3"}
        assert (out / "per_seed.parquet").exists()
        # loading it again (a second command in one process) is not a conflict
        assert main(["--plugin", str(path), "simulate", "uniformy", "--policy", "replace", "--generations", "1",
                     "--seeds", "1", "--sample-size", "20", "--out", str(out), "--no-progress"]) == 0
    finally:
        for reg, name in ((FAMILIES, "uniformy"), (POLICIES, "newesty")):
            with contextlib.suppress(UnknownChoiceError):
                reg.unregister(name)
        sys.modules.pop("tg_cli_plugin", None)
    capsys.readouterr()
    assert main(["--plugin", "tg_no_such_plugin_z", "simulate", "gaussian"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot import plug-in module 'tg_no_such_plugin_z'" in err
    assert main(["simulate", "laplacez", "--no-progress"]) == 2
    assert "Unknown family 'laplacez'" in capsys.readouterr().err


def test_validate_family_names_what_a_plug_in_lacks() -> None:
    class Good(Family):
        name = "good"
        metrics = (MetricSpec("m", True),)

        def setup(self, sample_size, rng):
            return Setup(train=np.zeros((sample_size, 1)), heldout=np.zeros((2, 1)))

        def fit(self, data, rng):
            return None

        def sample(self, model, n, rng):
            return np.zeros((n, 1))

        def evaluate(self, model, samples, ctx):
            return {"m": 1.0}

    assert validate_family(Good) is Good
    with pytest.raises(ParameterError, match="metrics as a non-empty tuple of MetricSpec"):
        validate_family(type("NoMetrics", (Good,), {"name": "nometrics", "metrics": ()}))
    with pytest.raises(ParameterError, match="declares a metric twice: 'm'"):
        validate_family(type("Twice", (Good,), {"name": "twice", "metrics": (MetricSpec("m", True),) * 2}))
    with pytest.raises(ParameterError, match="sample_kind 'dots' is not one of"):
        validate_family(type("Dots", (Good,), {"name": "dots", "sample_kind": "dots"}))
    with pytest.raises(ParameterError, match="lower-case letters"):
        validate_family(type("Caps", (Good,), {"name": "Caps"}))
