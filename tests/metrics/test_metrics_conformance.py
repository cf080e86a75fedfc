"""One conformance suite over every registered metric (scikit-learn ``test_common`` style).

For each metric in ``METRICS``: ``merge(A, B)`` equals ``update(A ∪ B)``,
pickling round-trips mid-stream, results are deterministic under a seed, bad
parameters are rejected with typed errors, every value carries a CI, and
``result()`` is strict JSON that round-trips through ``MetricResult.from_dict``.

Batches come from ``cls.example_batch(rng, n, shift=...)`` when a metric
overrides it, else from the per-``input_kind`` factories below.
"""

from __future__ import annotations

import json
import math
import pickle
from types import SimpleNamespace as NS
from typing import Any

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from tailguard.errors import IncompatibleMergeError, ParameterError, UnknownChoiceError
from tailguard.metrics import METRICS
from tailguard.metrics.base import FAMILIES, INPUT_KINDS, Metric, MetricResult

WORDS = [
    "river",
    "stone",
    "light",
    "cold",
    "warm",
    "quick",
    "slow",
    "bird",
    "tree",
    "old",
    "new",
    "house",
    "field",
    "winter",
    "summer",
    "road",
    "glass",
    "paper",
    "wind",
    "rain",
    "iron",
    "salt",
    "bread",
    "music",
    "letter",
    "garden",
    "mountain",
    "silver",
    "market",
    "bridge",
]


def _text(rng: np.random.Generator, n: int, shift: float) -> list[str]:
    vocab = WORDS[: max(4, int(len(WORDS) * (1 - 0.5 * shift)))]
    return [" ".join(rng.choice(vocab, size=int(rng.integers(3, 12)))) for _ in range(n)]


def _categories(rng: np.random.Generator, n: int, shift: float) -> list[Any]:
    k = max(2, int(12 * (1 - 0.5 * shift)))
    p = 1.0 / np.arange(1, k + 1)
    return [f"c{int(i)}" for i in rng.choice(k, size=n, p=p / p.sum())]


def _boxes(rng: np.random.Generator, n: int, shift: float) -> list[Any]:
    def box() -> NS:
        w, h = rng.uniform(0.02, 0.5, size=2) * (1 - 0.3 * shift)
        return NS(
            class_id=int(rng.integers(0, 5)), x=0.5, y=0.5, w=float(w), h=float(h), origin="human", confidence=None
        )

    return [NS(labels=tuple(box() for _ in range(int(rng.integers(1, 5))))) for _ in range(n)]


def _vectors(rng: np.random.Generator, n: int, shift: float) -> np.ndarray:
    return rng.normal(size=(n, 4)) * (1 - 0.3 * shift) + shift


FACTORIES = {"vectors": _vectors, "text": _text, "categories": _categories, "boxes": _boxes}
ALL = METRICS.names()


def batch(cls: type[Metric], rng: np.random.Generator, n: int, shift: float = 0.0) -> Any:
    if getattr(cls.example_batch, "__func__", None) is not Metric.example_batch.__func__:
        return cls.example_batch(rng, n, shift=shift)
    return FACTORIES[cls.input_kind](rng, n, shift)


def data(cls: type[Metric], seed: int = 0) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    return {
        "cand": [batch(cls, rng, 40, 0.5), batch(cls, rng, 35, 0.5)],
        "ref": [batch(cls, rng, 45), batch(cls, rng, 40)],
    }


def feed(m: Metric, cand: list[Any], ref: list[Any]) -> Metric:
    for b in cand:
        m.update(b)
    if m.uses_reference():
        for b in ref:
            m.update_reference(b)
    return m


def assert_close(a: Any, b: Any, path: str = "") -> None:
    if isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b), f"{path}: keys differ"
        for k in a:
            assert_close(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, list | tuple):
        assert isinstance(b, list | tuple) and len(a) == len(b), f"{path}: lengths differ"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_close(x, y, f"{path}[{i}]")
    elif isinstance(a, float) and not isinstance(a, bool):
        assert isinstance(b, int | float), f"{path}: {a!r} vs {b!r}"
        assert math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12) or (math.isnan(a) and math.isnan(b)), (
            f"{path}: {a!r} vs {b!r}"
        )
    else:
        assert a == b, f"{path}: {a!r} vs {b!r}"


@pytest.fixture(autouse=True)
def _one_blas_thread():
    # Small matrices: one BLAS thread avoids oversubscription on shared CI cores.
    with threadpool_limits(1):
        yield


@pytest.mark.parametrize("name", ALL)
def test_declarations(name: str) -> None:
    cls = METRICS.get(name)
    assert cls.name == name
    assert cls.family in FAMILIES
    assert cls.input_kind in INPUT_KINDS
    assert isinstance(cls.higher_is_better, bool) and isinstance(cls.requires_reference, bool)
    assert set(cls.defaults) <= set(cls.params), "every default must be a declared parameter"
    cls()  # defaults validate


@pytest.mark.parametrize("name", ALL)
def test_merge_equals_update_of_union(name: str) -> None:
    cls = METRICS.get(name)
    d = data(cls)
    whole = feed(cls(), d["cand"], d["ref"]).result().to_dict()
    left = feed(cls(), d["cand"][:1], d["ref"][:1])
    right = feed(cls(), d["cand"][1:], d["ref"][1:])
    merged = left.merge(right).result().to_dict()
    assert_close(merged, whole)


@pytest.mark.parametrize("name", ALL)
def test_pickle_round_trip_mid_stream(name: str) -> None:
    cls = METRICS.get(name)
    d = data(cls, seed=1)
    m = feed(cls(), d["cand"][:1], d["ref"])
    clone = pickle.loads(pickle.dumps(m))
    assert_close(clone.result().to_dict(), m.result().to_dict())
    m.update(d["cand"][1])
    clone.update(d["cand"][1])
    assert_close(clone.result().to_dict(), m.result().to_dict())


@pytest.mark.parametrize("name", ALL)
def test_deterministic_under_seed(name: str) -> None:
    cls = METRICS.get(name)
    d = data(cls, seed=2)
    kw = {"seed": 7} if "seed" in cls.params else {}
    a = feed(cls(**kw), d["cand"], d["ref"]).result().to_dict()
    b = feed(cls(**kw), d["cand"], d["ref"]).result().to_dict()
    assert_close(a, b)


@pytest.mark.parametrize("name", ALL)
def test_result_is_strict_json_with_cis(name: str) -> None:
    cls = METRICS.get(name)
    d = data(cls, seed=3)
    res = feed(cls(), d["cand"], d["ref"]).result()
    assert res.metric == name and res.family == cls.family and res.values
    text = json.dumps(res.to_dict(), allow_nan=False)
    assert_close(MetricResult.from_dict(json.loads(text)).to_dict(), json.loads(text))
    for v in res.values:
        assert isinstance(v.value, float | int) and math.isfinite(v.value), v
        assert v.ci is not None and v.ci_method, f"{name}/{v.name} has no CI"
        lo, hi = v.ci
        assert lo <= hi, v


@pytest.mark.parametrize("name", ALL)
def test_bad_parameters_are_rejected(name: str) -> None:
    cls = METRICS.get(name)
    with pytest.raises(UnknownChoiceError):
        cls(no_such_parameter=1)
    for key in cls.params:
        with pytest.raises(ParameterError, match=repr(key)):
            cls(**{key: object()})


@pytest.mark.parametrize("name", ALL)
def test_merge_refuses_other_configs(name: str) -> None:
    cls = METRICS.get(name)
    other = next(n for n in ALL if METRICS.get(n) is not cls)
    with pytest.raises(IncompatibleMergeError):
        cls().merge(METRICS.get(other)())
    if "seed" in cls.params:
        with pytest.raises(IncompatibleMergeError, match="seed"):
            cls(seed=1).merge(cls(seed=2))


@pytest.mark.parametrize("name", ALL)
def test_suite_declarations(name: str) -> None:
    """Where the audit runs the metric: modalities it knows, flags within them, rules that parse."""
    from tailguard.audit.inputs import MODALITIES
    from tailguard.audit.thresholds import Thresholds
    from tailguard.metrics.base import RULE_KEYS, SUITE_MODALITIES

    cls = METRICS.get(name)
    assert set(SUITE_MODALITIES) == set(MODALITIES)
    assert set(cls.modalities) <= set(SUITE_MODALITIES) and len(set(cls.modalities)) == len(cls.modalities)
    assert set(cls.optional_in) <= set(cls.modalities)
    assert set(cls.order_in) <= set(cls.modalities) and isinstance(cls.order, int)
    assert isinstance(cls.quick, bool) and isinstance(cls.standardized, bool)
    for modality, params in cls.suite_params.items():
        assert modality in cls.modalities and set(params) <= set(cls.params)
        cls(**params)
    for pattern, spec in cls.default_rules:
        assert isinstance(pattern, str) and set(spec) <= set(RULE_KEYS)
        Thresholds.default().with_overrides({pattern: spec})  # parses, or raises a typed error
    assert cls.output_names() == cls.output_names(cls.defaults)


@pytest.mark.parametrize("name", ALL)
def test_output_names_are_the_value_names_of_result(name: str) -> None:
    cls = METRICS.get(name)
    d = data(cls, seed=4)
    res = feed(cls(), d["cand"], d["ref"]).result()
    assert tuple(v.name for v in res.values) == cls.output_names()
    assert cls.value_names == cls.output_names()


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("tail_mass", {"alphas": (0.1, 0.02)}),
        ("nn_distance_tail", {"levels": (0.9,), "own_radius": False}),
        ("text_stats", {"alphas": (0.1,)}),
        ("box_geometry", {"alphas": (0.2,)}),
    ],
)
def test_output_names_follow_parameters(name: str, params: dict[str, Any]) -> None:
    cls = METRICS.get(name)
    d = data(cls, seed=5)
    res = feed(cls(**params), d["cand"], d["ref"]).result()
    assert tuple(v.name for v in res.values) == cls.output_names(params)
    assert cls.output_names(params) != cls.output_names()
