"""The parameter-table validation, registry and config helpers every component uses."""

import pickle

import pytest

from tailguard.config import Configurable, stable_hash
from tailguard.errors import ParameterError, UnknownChoiceError
from tailguard.registry import Registry
from tailguard.validation import Bool, Float, FloatTuple, Int, OneOf, validate_params


class Knn(Configurable):
    params = {"k": Int(min=1), "alpha": Float(0, 1, min_open=True, max_open=True), "mode": OneOf(["a", "b"])}
    defaults = {"k": 5, "alpha": 0.05, "mode": "a"}


def test_message_pattern_names_class_parameter_and_value():
    with pytest.raises(ParameterError) as info:
        Knn(k=0)
    assert str(info.value) == "The 'k' parameter of Knn must be an int >= 1. Got 0."


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"k": True}, "'k'"),  # bools are not ints
        ({"k": 2.5}, "'k'"),
        ({"alpha": 0.0}, "> 0"),
        ({"alpha": float("nan")}, "'alpha'"),
        ({"mode": "c"}, "one of 'a', 'b'"),
    ],
)
def test_bad_values_rejected(params, fragment):
    with pytest.raises(ParameterError, match=fragment):
        Knn(**params)


def test_unknown_key_suggests_close_match():
    with pytest.raises(UnknownChoiceError) as info:
        Knn(alpah=0.1)
    assert "Did you mean 'alpha'" in str(info.value)
    assert isinstance(info.value, KeyError)


def test_config_id_depends_on_params_only():
    assert Knn().config_id == Knn(k=5).config_id
    assert Knn(k=6).config_id != Knn().config_id
    assert pickle.loads(pickle.dumps(Knn(k=7))).get_params() == Knn(k=7).get_params()


def test_stable_hash_is_order_independent():
    assert stable_hash({"a": 1, "b": [1, 2]}) == stable_hash({"b": [1, 2], "a": 1})
    assert stable_hash({"a": 1}) != stable_hash({"a": 2})


def test_float_tuple_and_bool():
    table = {"alphas": FloatTuple(0, 0.5), "flag": Bool()}
    assert validate_params("X", {"alphas": (0.01, 0.05), "flag": False}, table)
    with pytest.raises(ParameterError):
        validate_params("X", {"alphas": (0.01, 0.7)}, table)
    with pytest.raises(ParameterError):
        validate_params("X", {"flag": 1}, table)


def test_registry_lazy_and_suggestions():
    reg: Registry[object] = Registry("widget")
    reg.register("alpha")(object)
    reg.register_lazy("json-thing", "json")  # importing json registers nothing -> unknown after import
    assert "json-thing" in reg
    assert reg.names() == ["alpha", "json-thing"]
    with pytest.raises(UnknownChoiceError, match="Did you mean 'alpha'"):
        reg.get("alpah")
    with pytest.raises(UnknownChoiceError):
        reg.get("json-thing")
