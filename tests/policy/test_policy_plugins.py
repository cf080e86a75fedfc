"""Policy steps bring their own behaviour: a registered source runs its own apply(), not a built-in's."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from tailguard.errors import ParameterError, RegistryConflictError
from tailguard.policy import POLICIES, Exclusion, Pool, Step, parse_policy, register_step, validate_step
from tailguard.registry import Registry, RegistryReplacedWarning
from tailguard.validation import Int


class Window(Step):
    """The last K rounds only, at the target size."""

    name = "window"
    kind = "source"
    positional = "k"
    required = ("k",)
    params = {"k": Int(min=1)}
    requires_target_size = True

    def apply(self, state):
        k = self.get_params()["k"]
        return state.pool.round > state.current_round - k, f"window:{k}: older than the last {k} rounds"


class DropOdd(Step):
    """A filter that drops non-human rows at odd positions (two reasons, one with a score)."""

    name = "drop-odd"
    kind = "filter"

    def apply(self, state):
        n = len(state.pool)
        odd = (np.arange(n) % 2 == 1) & ~state.pool.is_human
        return [Exclusion(odd & (np.arange(n) < 5), "drop-odd: early"),
                Exclusion(odd, "drop-odd: late", np.arange(n, dtype=float))]


@pytest.fixture
def window():
    register_step(Window)
    yield Window
    POLICIES.unregister("window")


def _pool() -> Pool:
    # rounds 0 (human), 1, 2, 3 (synthetic), 4 rows each
    return Pool(origin=["human"] * 4 + ["synthetic"] * 12, round=np.repeat(np.arange(4), 4))


def test_a_registered_window_step_behaves_as_itself(window) -> None:
    pool = _pool()
    sel = parse_policy("window:2").compose(pool, current_round=3, target_size=6, rng=0)
    assert set(pool.round[sel.indices]) <= {2, 3} and len(sel.indices) == 6
    reasons = sel.reason_counts()
    assert reasons["window:2: older than the last 2 rounds"] == 8  # rounds 0 and 1
    # not accumulate-subsample's behaviour (which draws from every round)
    sub = parse_policy("accumulate-subsample").compose(pool, current_round=3, target_size=6, rng=0)
    assert len(sub.indices) == 6 and "window:2: older than the last 2 rounds" not in sub.reason_counts()
    with pytest.raises(ParameterError, match="window:2 holds the size fixed: pass target_size"):
        parse_policy("window:2").compose(pool, current_round=3)
    # it composes with the built-in kinds: an anchor brings back human rows the window left out
    anchored = parse_policy("window:1+anchor:0.5").compose(pool, current_round=3, target_size=4, rng=0)
    assert anchored.stats.n_human == 2 and set(pool.round[anchored.indices]) == {0, 3}


def test_a_filter_plug_in_logs_each_of_its_reasons_first_one_sticking() -> None:
    register_step(DropOdd)
    try:
        sel = parse_policy("accumulate+drop-odd").compose(_pool(), current_round=3, rng=0)
    finally:
        POLICIES.unregister("drop-odd")
    counts = sel.reason_counts()
    assert counts == {"drop-odd: late": 6}  # odd synthetic rows 5..15; rows 1, 3 are human
    assert np.all(sel.excluded % 2 == 1)


def test_a_step_that_returns_the_wrong_shape_is_named() -> None:
    class Bad(Step):
        name, kind = "bad-source", "source"

        def apply(self, state):
            return np.ones(3, dtype=bool), "bad"

    register_step(Bad)
    try:
        with pytest.raises(ParameterError, match="boolean array of the pool's length 16"):
            parse_policy("bad-source").compose(_pool(), current_round=3, target_size=2)
    finally:
        POLICIES.unregister("bad-source")


def test_validate_step_names_what_a_plug_in_lacks() -> None:
    class NoHook(Step):
        name, kind = "nohook", "sampler"

    class BadKind(Step):
        name, kind = "badkind", "mixer"

    class BadName(Window):
        name = "Window K"

    class BadDefault(Window):
        name = "bad-default"
        defaults = {"k": 0}

    with pytest.raises(ParameterError, match=r"'sampler' step but does not implement regions\(state\)"):
        validate_step(NoHook)
    with pytest.raises(ParameterError, match="kind 'mixer' is not one of source, filter"):
        validate_step(BadKind)
    with pytest.raises(ParameterError, match="lower-case letters"):
        validate_step(BadName)
    with pytest.raises(ParameterError, match="The 'k' parameter of policy step 'bad-default'"):
        validate_step(BadDefault)
    with pytest.raises(ParameterError, match=r"subclass of tailguard\.policy\.Step"):
        validate_step(object)
    assert validate_step(Window) is Window


def test_registering_again_replaces_an_equivalent_object_and_refuses_another() -> None:
    reg: Registry[type] = Registry("widget")
    first = type("Widget", (), {"__module__": "plugin_mod", "__qualname__": "Widget"})
    reloaded = type("Widget", (), {"__module__": "plugin_mod", "__qualname__": "Widget"})
    other = type("Gadget", (), {"__module__": "other_mod", "__qualname__": "Gadget"})
    reg.register("w")(first)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        reg.register("w")(first)  # the same object: nothing to say
    with pytest.warns(RegistryReplacedWarning, match="widget 'w' registered again"):
        reg.register("w")(reloaded)
    assert reg.get("w") is reloaded
    with pytest.raises(RegistryConflictError, match="widget 'w' is already registered"):
        reg.register("w")(other)
    assert reg.get("w") is reloaded


def test_a_notebook_reload_of_a_step_replaces_it(window) -> None:
    reloaded = type("Window", (Window,), {"__module__": Window.__module__, "__qualname__": Window.__qualname__})
    with pytest.warns(RegistryReplacedWarning):
        register_step(reloaded)
    assert POLICIES.get("window") is reloaded
    with pytest.raises(RegistryConflictError):
        register_step(type("Window2", (Window,), {"name": "window"}))
