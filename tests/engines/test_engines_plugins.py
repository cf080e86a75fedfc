"""Plug-ins travel to workers: what the driver loaded (tailguard.plugins.loaded_plugins) is imported in each
Ray task before its function and data are unpickled, so a plug-in family, step or metric runs on a real local
Ray cluster (marker ``ray``) and gives the local engine's numbers."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from tailguard.errors import UnknownChoiceError
from tailguard.plugins import PluginSource, load_plugin, loaded_plugins

METRIC = textwrap.dedent('''
    import numpy as np
    from tailguard.metrics.base import MetricValue, register_metric
    from tailguard.metrics.vectors import COMMON_DEFAULTS, COMMON_PARAMS, VectorMetric

    def _far(x, mean, sd):
        return float(np.mean(np.any(np.abs(x - mean) > 2 * sd, axis=1)))

    @register_metric
    class FarShare(VectorMetric):
        name = "{metric}"
        family = "tails"
        higher_is_better = True
        params = {{**COMMON_PARAMS}}
        defaults = {{**COMMON_DEFAULTS}}
        value_names = ("{metric}",)

        def _compute(self, cand, ref):
            mean, sd = ref.mean(axis=0), ref.std(axis=0)
            return [MetricValue("{metric}", _far(cand, mean, sd), True, _far(ref, mean, sd))], {{}}
''')

FAMILY = METRIC + textwrap.dedent('''
    from tailguard.simulate import Family, MetricSpec, Setup, register_family

    @register_family
    class LaplaceFamily(Family):
        name = "{family}"
        metrics = (MetricSpec("scale_ratio", True, tail=True),)
        audit_metrics = ("{metric}",)

        def setup(self, sample_size, rng):
            draw = lambda n: rng.laplace(0.0, 1.0, size=(n, 2))
            return Setup(train=draw(sample_size), heldout=draw(200), fresh=draw(4 * sample_size))

        def fit(self, data, rng):
            x = np.asarray(data, dtype=float)
            m = np.median(x, axis=0)
            return m, np.mean(np.abs(x - m), axis=0)

        def sample(self, model, n, rng):
            return rng.laplace(model[0], model[1], size=(n, 2))

        def evaluate(self, model, samples, ctx):
            return {{"scale_ratio": float(np.mean(model[1] / ctx.model0[1]))}}
''')


def _cleanup(module: str, **registered: str) -> None:
    from tailguard.metrics.base import METRICS
    from tailguard.simulate import FAMILIES

    registries = {"family": FAMILIES, "metric": METRICS}
    for kind, name in registered.items():
        with contextlib.suppress(UnknownChoiceError):
            registries[kind].unregister(name)
    sys.modules.pop(module, None)


def test_loaded_plugins_lists_loaded_files_and_modules_that_registered_parts(tmp_path, monkeypatch):
    (tmp_path / "tg_listed_file.py").write_text(METRIC.format(metric="tg_listed_a"))
    (tmp_path / "tg_listed_mod.py").write_text(METRIC.format(metric="tg_listed_b"))
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        load_plugin(str(tmp_path / "tg_listed_file.py"))
        import tg_listed_mod  # noqa: F401  (a plain import that registers a metric)

        sources = {s.module: s for s in loaded_plugins()}
        assert sources["tg_listed_file"] == PluginSource("tg_listed_file", file=str(tmp_path / "tg_listed_file.py"))
        assert sources["tg_listed_mod"] == PluginSource("tg_listed_mod", root=str(tmp_path), required=False)
        assert not any(name.startswith("tailguard") for name in sources)
    finally:
        _cleanup("tg_listed_file", metric="tg_listed_a")
        _cleanup("tg_listed_mod", metric="tg_listed_b")
    assert "tg_listed_file" not in {s.module for s in loaded_plugins()}  # dropped from sys.modules: not sent


def test_ensure_plugins_imports_them_in_a_fresh_process_and_names_a_missing_one(tmp_path):
    (tmp_path / "tg_fresh_file.py").write_text(METRIC.format(metric="tg_fresh_a"))
    pkg = tmp_path / "root" / "tgpkg"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "mod.py").write_text(METRIC.format(metric="tg_fresh_b"))
    code = textwrap.dedent(f'''
        import sys
        from tailguard.errors import PluginError
        from tailguard.metrics.base import METRICS
        from tailguard.plugins import PluginSource, ensure_plugins
        ensure_plugins([PluginSource("tg_fresh_file", file={str(tmp_path / "tg_fresh_file.py")!r}),
                        PluginSource("tgpkg.mod", root={str(tmp_path / "root")!r}),
                        PluginSource("tg_gone", root="/nonexistent", required=False)])
        print(METRICS.get("tg_fresh_a").__module__, METRICS.get("tg_fresh_b").__module__, "tg_gone" in sys.modules)
        try:
            ensure_plugins([PluginSource("tg_gone_file", file="/nonexistent/tg_gone_file.py")])
        except PluginError as exc:
            print("error:", exc)
    ''')
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)
    first, second = proc.stdout.splitlines()
    assert first == "tg_fresh_file tgpkg.mod False"
    assert second.startswith("error: /nonexistent/tg_gone_file.py: on a worker (") and second.endswith(
        "): no such plug-in file"), second


@pytest.fixture(scope="module")
def ray_engine():
    pytest.importorskip("ray")
    from tailguard.engines import get_engine

    with get_engine("ray", num_cpus=2) as engine:
        yield engine


@pytest.mark.ray
def test_a_plugin_family_and_its_metric_from_a_file_run_on_ray_with_the_local_numbers(tmp_path, ray_engine):
    from tailguard.simulate import simulate

    path = tmp_path / "tg_ray_family_plugin.py"
    path.write_text(FAMILY.format(family="tg-ray-laplace", metric="tg_ray_far_share"))
    load_plugin(str(path))  # what --plugin does; tmp_path is on no worker's sys.path
    try:
        kwargs = {"generations": 3, "seeds": 3, "sample_size": 60, "progress": False}
        local = simulate("tg-ray-laplace", "replace,accumulate", engine="local", **kwargs)
        on_ray = simulate("tg-ray-laplace", "replace,accumulate", engine=ray_engine, **kwargs)
        assert "audit_tg_ray_far_share" in on_ray.metric_names
        for policy in ("replace", "accumulate"):
            for metric in ("scale_ratio", "audit_tg_ray_far_share"):
                a, b = local.per_seed(policy, metric), on_ray.per_seed(policy, metric)
                assert np.isfinite(a).all() and np.array_equal(a, b), (policy, metric)
    finally:
        _cleanup("tg_ray_family_plugin", family="tg-ray-laplace", metric="tg_ray_far_share")


@pytest.mark.ray
def test_a_plugin_metric_imported_from_its_folder_runs_in_an_audit_on_ray(tmp_path, monkeypatch, ray_engine):
    from tailguard.audit import AuditConfig, audit

    (tmp_path / "tg_ray_metric_plugin.py").write_text(METRIC.format(metric="tg_ray_far_metric"))
    monkeypatch.syspath_prepend(str(tmp_path))  # the driver's sys.path only: the worker gets it from the source
    try:
        import tg_ray_metric_plugin  # noqa: F401

        rng = np.random.default_rng(4)
        cand, ref = rng.standard_t(3, size=(900, 3)), rng.normal(size=(900, 3))
        config = AuditConfig(metrics=["tg_ray_far_metric"], figures=False, shard_rows=200)
        local = audit(cand, ref, config=config, engine="local")
        on_ray = audit(cand, ref, config=config, engine=ray_engine)
        values = [(m.name, m.value, m.reference_value) for m in local.metrics]
        assert [m.name for m in local.metrics] == ["tg_ray_far_metric"] and values[0][1] > values[0][2]
        assert [(m.name, m.value, m.reference_value) for m in on_ray.metrics] == values
    finally:
        _cleanup("tg_ray_metric_plugin", metric="tg_ray_far_metric")
