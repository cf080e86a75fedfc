"""Every seed kept: per-seed Parquet beside results.json, n / se / bootstrap CIs, old files still load."""

from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
import pytest

from tailguard.errors import CorruptFileError, MissingInputError
from tailguard.simulate import SimulationResults, simulate
from tailguard.simulate.stats import N_BOOT, bootstrap_means, summarise


@pytest.fixture(scope="module")
def results():
    return simulate("gaussian", "replace,accumulate", generations=4, seeds=12, sample_size=30, vectorised=False)


def test_save_writes_every_seed_as_a_long_parquet_table(results, tmp_path) -> None:
    path = results.save(tmp_path / "results.json")
    table = pq.read_table(tmp_path / "per_seed.parquet")
    assert table.column_names == ["policy", "seed", "generation", "metric", "value"]
    n_metrics = len(results.metric_names)
    assert table.num_rows == 2 * 12 * 5 * n_metrics
    df = table.to_pandas()
    row = df[(df.policy == "accumulate") & (df.seed == 7) & (df.generation == 3) & (df.metric == "mean_shift")]
    assert row.value.item() == results.per_seed("accumulate", "mean_shift")[7, 3]
    assert json.loads(path.read_text())["per_seed_file"] == "per_seed.parquet"


def test_load_gives_back_every_seed_and_the_long_table(results, tmp_path) -> None:
    back = SimulationResults.load(results.save(tmp_path / "results.json"))
    assert back.missing == []
    for p in results.policies:
        for m in results.metric_names:
            np.testing.assert_array_equal(back.per_seed(p, m), results.per_seed(p, m))
            assert back.summary(p, m) == results.summary(p, m)
    df = back.to_pandas()
    assert list(df.columns) == ["policy", "seed", "generation", "metric", "value"]
    assert len(df) == 2 * 12 * 5 * len(results.metric_names)
    means = df[df.metric == "variance_ratio"].groupby(["policy", "generation"]).value.mean()
    assert means["replace"].tolist() == pytest.approx(results.summary("replace", "variance_ratio")["mean"])


def test_summary_statistics_are_what_they_say(results) -> None:
    vals = results.per_seed("replace", "variance_ratio")
    s = results.summary("replace", "variance_ratio")
    for g in range(1, 5):
        col = vals[:, g]
        assert s["n"][g] == 12
        assert s["mean"][g] == pytest.approx(col.mean())
        assert s["median"][g] == pytest.approx(np.median(col))
        assert s["se"][g] == pytest.approx(col.std(ddof=1) / np.sqrt(12))
        assert s["ci_low"][g] < s["mean"][g] < s["ci_high"][g]
        # a 95% interval of the mean is about ±1.96 SE wide (bootstrap: within a factor of 1.5)
        width = s["ci_high"][g] - s["ci_low"][g]
        assert 2 * 1.96 * s["se"][g] / 1.5 < width < 2 * 1.96 * s["se"][g] * 1.5
    # generation 0: every seed's ratio is exactly 1, so the interval is the point
    assert s["ci_low"][0] == s["ci_high"][0] == 1.0 and s["se"][0] == 0.0


def test_bootstrap_is_seeded_and_skips_nans() -> None:
    v = np.random.default_rng(3).normal(size=(40, 3))
    v[:5, 1] = np.nan
    a, b = bootstrap_means(v), bootstrap_means(v)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (N_BOOT, 3) and np.isfinite(a).all()
    s = summarise(v)
    assert s["n"] == [40, 35, 40]
    assert s["mean"][1] == pytest.approx(np.nanmean(v[:, 1]))


def test_bootstrap_ci_covers_the_true_mean_about_95_percent_of_the_time() -> None:
    rng = np.random.default_rng(11)
    data = rng.exponential(size=(30, 400))  # 400 independent 30-seed experiments, true mean 1
    s = summarise(data)
    covered = np.mean([lo <= 1.0 <= hi for lo, hi in zip(s["ci_low"], s["ci_high"], strict=True)])
    assert 0.88 <= covered <= 0.99, covered  # percentile bootstrap at n = 30 undercovers slightly


def test_one_seed_has_no_interval() -> None:
    s = summarise(np.array([[1.0, 0.5]]))
    assert s["n"] == [1, 1] and s["se"] == [None, None] and s["ci_low"] == [None, None]


def test_an_old_results_json_loads_and_says_what_is_missing(results, tmp_path) -> None:
    d = json.loads(results.to_json())
    for ms in d["policies"].values():
        for summary in ms.values():
            for k in ("n", "se", "ci_low", "ci_high"):
                summary.pop(k)
    d.pop("per_seed_file")
    path = tmp_path / "old" / "results.json"
    path.parent.mkdir()
    path.write_text(json.dumps(d))
    old = SimulationResults.load(path)
    assert old.summary("replace", "variance_ratio")["median"] == results.summary("replace", "variance_ratio")["median"]
    assert any("per_seed.parquet not found" in m and "predates" in m for m in old.missing)
    assert any("n, se, ci_high, ci_low" in m or "ci_high, ci_low, n, se" in m for m in old.missing), old.missing
    with pytest.raises(MissingInputError, match="summaries only"):
        old.per_seed("replace", "variance_ratio")
    with pytest.raises(MissingInputError, match=r"per_seed\.parquet not found"):
        old.to_pandas()
    # saving it again keeps its summaries and writes no made-up per-seed table
    again = SimulationResults.load(old.save(tmp_path / "again" / "results.json"))
    assert again.summary("replace", "variance_ratio") == old.summary("replace", "variance_ratio")
    assert not (tmp_path / "again" / "per_seed.parquet").exists()


def test_an_old_results_json_beside_a_per_seed_table_gets_every_statistic(results, tmp_path) -> None:
    path = results.save(tmp_path / "results.json")
    d = json.loads(path.read_text())
    for ms in d["policies"].values():
        for summary in ms.values():
            summary.pop("ci_low")
    path.write_text(json.dumps(d))
    back = SimulationResults.load(path)
    assert back.missing == []
    assert back.summary("replace", "mean_shift") == results.summary("replace", "mean_shift")


def test_a_damaged_per_seed_table_is_named(results, tmp_path) -> None:
    path = results.save(tmp_path / "results.json")
    (tmp_path / "per_seed.parquet").write_bytes(b"not parquet")
    with pytest.raises(CorruptFileError, match=r"per_seed\.parquet"):
        SimulationResults.load(path)
    other = simulate("gaussian", "replace", generations=1, seeds=2, sample_size=10)
    other.save(tmp_path / "x" / "results.json")
    (tmp_path / "x" / "per_seed.parquet").replace(tmp_path / "per_seed.parquet")
    with pytest.raises(CorruptFileError, match="no values for policy 'accumulate'"):
        SimulationResults.load(path)
