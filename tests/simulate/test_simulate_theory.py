"""Theory curves, the stated test on the CI, and the published reproductions judged by CIs (non-default sizes)."""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from tailguard.simulate import SimulationResults, get_family, simulate, write_report
from tailguard.simulate.report import verdict_rows
from tailguard.simulate.stats import bootstrap_means
from tailguard.simulate.theory import Theory, gaussian_median_log_ratio, judge


def _ci(values: np.ndarray) -> tuple[float, float]:
    lo, hi = np.quantile(bootstrap_means(np.asarray(values, dtype=float)[:, None]), [0.025, 0.975])
    return float(lo), float(hi)


def test_gaussian_m50_n100_mean_within_its_bootstrap_ci_and_the_exact_median() -> None:
    """Shumailov et al.'s chain at M = 50, n = 100 (2000 seeds): E[σ²₁₀₀/σ²₀] = (49/50)¹⁰⁰ = 0.1326 lies in the
    bootstrap CI of the mean, the status is read against that theory, and the median is the exact law's."""
    res = simulate("gaussian", "replace", generations=100, seeds=2000, sample_size=50)
    s = res.summary("replace", "variance_ratio")
    theory = (49 / 50) ** 100
    assert s["ci_low"][100] <= theory <= s["ci_high"][100], (s["mean"][100], s["ci_low"][100], s["ci_high"][100])
    law = res.theory("replace", "variance_ratio")
    assert law.values[100] == pytest.approx(theory) and not law.bounded and law.decays
    j = res.judgement("replace", "variance_ratio")
    assert (j.status, j.against) == ("collapse", "theory") and "holds the theory's 0.1326" in j.reason
    exact_median = np.exp(gaussian_median_log_ratio(100, 50))
    assert law.median[100] == pytest.approx(exact_median, rel=1e-9)
    assert s["median"][100] == pytest.approx(exact_median, rel=0.15), (s["median"][100], exact_median)
    assert exact_median < 0.5 * theory  # the median collapses far faster than the mean


def test_linreg_replace_slope_of_the_mean_within_its_ci_of_the_theory() -> None:
    """Gerstgrasser et al. at d = 5, T = 40, σ = 2: under replace the error grows with slope c = σ²d/(T−d−1) = 0.588;
    the bootstrap CI of the mean per-seed slope holds it, and accumulate matches c·Σ1/i² and reads ok, not collapse."""
    kw = dict(generations=20, seeds=200, sample_size=40, family_params={"dim": 5, "noise_sd": 2.0})
    res = simulate("linreg", "replace,accumulate", **kw)
    c = 4.0 * 5 / (40 - 5 - 1)
    err = res.per_seed("replace", "excess_error")
    slopes = np.polyfit(np.arange(err.shape[1]), err.T, 1)[0]
    lo, hi = _ci(slopes)
    assert lo <= c <= hi, (slopes.mean(), lo, hi, c)
    acc = res.judgement("accumulate", "excess_error")
    assert (acc.status, acc.against) == ("ok", "theory"), acc.reason
    assert res.judgement("replace", "excess_error").status == "collapse"
    # the old rule (a 25% change of the median) called accumulate's bounded +60% "collapse"
    s = res.summary("accumulate", "excess_error")
    assert s["mean"][20] > 1.25 * s["mean"][0]


def test_kazdan_ordering_on_kde_by_paired_cis() -> None:
    """Kazdan et al.: replace degrades more than accumulate-subsample, which degrades more than accumulate. On the KDE
    (12 seeds, 8 generations, M = 200) the paired per-seed differences at the last generation have CIs excluding 0."""
    res = simulate("kde", "replace,accumulate-subsample,accumulate", generations=8, seeds=12, sample_size=200,
                   family_params={"eval_size": 500, "heldout_size": 500, "loglik_size": 200})
    cov = {p: res.per_seed(p, "coverage")[:, -1] for p in res.policies}
    var = {p: res.per_seed(p, "variance_ratio")[:, -1] for p in res.policies}
    for worse, better in (("replace", "accumulate-subsample"), ("accumulate-subsample", "accumulate")):
        lo, _ = _ci(cov[better] - cov[worse])
        assert lo > 0, (worse, better, "coverage")
        _, hi = _ci(var[better] - var[worse])  # the KDE widens: the worse policy's variance ratio is larger
        assert hi < 0, (worse, better, "variance_ratio")


def test_suresh_survival_at_lambda_8_k_40() -> None:
    """Suresh et al.: a symbol seen λ = 8 times survives to generation 40 with probability ≥ 1 − e^(−8/40) = 0.181."""
    res = simulate("categorical", "replace", generations=40, seeds=30, sample_size=1000, family_params={"vocab": 1000})
    s = res.summary("replace", "survival_l8")
    bound = 1 - np.exp(-8 / 40)
    law = res.theory("replace", "survival_l8")
    assert law.kind == "lower_bound" and law.values[40] == pytest.approx(bound)
    assert s["n"][40] >= 20  # seeds whose human data held a symbol seen exactly 8 times
    assert s["ci_high"][40] >= bound, (s["mean"][40], s["ci_high"][40], bound)
    assert res.judgement("replace", "survival_l8").status == "ok"
    assert np.all(np.diff(np.asarray(s["mean"], dtype=float)) <= 1e-12)  # a lost symbol never returns


def test_judge_without_theory_reads_the_ci_against_generation_0() -> None:
    base = {"mean": [1.0, 0.0], "ci_low": [1.0, 0.0], "ci_high": [1.0, 0.0]}
    assert judge(None, {**base, "mean": [1.0, 0.98], "ci_low": [1.0, 0.95], "ci_high": [1.0, 1.01]},
                 higher_is_better=True).status == "ok"
    assert judge(None, {**base, "mean": [1.0, 0.95], "ci_low": [1.0, 0.93], "ci_high": [1.0, 0.97]},
                 higher_is_better=True).status == "warn"
    assert judge(None, {**base, "mean": [1.0, 0.7], "ci_low": [1.0, 0.6], "ci_high": [1.0, 0.85]},
                 higher_is_better=True).status == "collapse"
    # lower is better: growth is the bad side
    assert judge(None, {**base, "mean": [1.0, 1.5], "ci_low": [1.0, 1.3], "ci_high": [1.0, 1.7]},
                 higher_is_better=False).status == "collapse"
    assert judge(None, {"mean": [1.0, 0.5], "ci_low": [None, None], "ci_high": [None, None]},
                 higher_is_better=True).status == "insufficient"
    law = Theory("m", "replace", "mean", (1.0, 0.9), bounded=True, source="x")
    departs = judge(law, {**base, "mean": [1.0, 0.5], "ci_low": [1.0, 0.45], "ci_high": [1.0, 0.55]},
                    higher_is_better=True)
    assert departs.status == "departs" and "below the theory's 0.9" in departs.reason


def test_report_figures_are_svg_png_and_csv_of_the_drawn_numbers(tmp_path) -> None:
    res = simulate("gaussian", "replace,accumulate", generations=5, seeds=20, sample_size=30)
    write_report(res, tmp_path)
    for ext in ("svg", "png", "csv"):
        assert (tmp_path / "figures" / f"variance_ratio.{ext}").stat().st_size > 0
    assert (tmp_path / "figures" / "variance_ratio.svg").read_text().lstrip().startswith("<?xml")
    with (tmp_path / "figures" / "variance_ratio.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 2 * 6
    row = next(r for r in rows if r["policy"] == "replace" and r["generation"] == "5")
    s = res.summary("replace", "variance_ratio")
    assert float(row["mean"]) == pytest.approx(s["mean"][5]) and float(row["ci_low"]) == pytest.approx(s["ci_low"][5])
    assert float(row["theory"]) == pytest.approx((29 / 30) ** 5) and row["theory_kind"] == "mean"
    acc = next(r for r in rows if r["policy"] == "accumulate" and r["generation"] == "5")
    assert acc["theory"] == ""  # no closed form declared for accumulate
    html = (tmp_path / "report.html").read_text()
    assert "bootstrap confidence intervals" in html and "judged against" in html
    # the report renders stored results: theory and statuses survive a round trip through results.json
    back = SimulationResults.load(tmp_path / "results.json")
    assert verdict_rows(back) == verdict_rows(res)
    assert json.loads((tmp_path / "results.json").read_text())["extra"]["theory"]["replace"]["variance_ratio"]


def test_families_declare_their_theories() -> None:
    gauss = get_family("gaussian", variance="unbiased").theory("variance_ratio", "replace", generations=3,
                                                               sample_size=10)
    assert gauss.values == pytest.approx((1.0, 1.0, 1.0, 1.0)) and gauss.bounded  # the unbiased mean stays at 1
    assert gauss.median[3] < 1.0  # while its median falls
    lin = get_family("linreg", dim=3, noise_sd=1.0)
    c = 3 / (20 - 3 - 1)
    assert lin.theory("excess_error", "replace", generations=2, sample_size=20).values == pytest.approx(
        (c, 2 * c, 3 * c))
    assert lin.theory("excess_error", "accumulate", generations=2, sample_size=20).values == pytest.approx(
        (c, c * 1.25, c * (1.25 + 1 / 9)))
    assert lin.theory("excess_error", "replace+anchor:0.2", generations=2, sample_size=20) is None


def test_figure_files_of_metric_names_with_slashes_stay_in_the_folder(tmp_path) -> None:
    """Per-class metrics are named like ``recall/zero``: their figures are ``recall_zero.*`` in ``figures/``."""
    values = {"replace": {"recall/zero": np.array([[1.0, 0.5], [0.8, 0.4]]), "recall_zero": np.ones((2, 2))}}
    meta = {m: {"higher_is_better": True, "tail": False, "description": ""} for m in values["replace"]}
    res = SimulationResults("yolo", {"generations": 1, "seeds": 2, "sample_size": 4}, values, meta)
    write_report(res, tmp_path)
    names = sorted(p.name for p in (tmp_path / "figures").iterdir())
    assert names == sorted(f"{stem}.{ext}" for stem in ("recall_zero", "recall_zero-2") for ext in ("csv", "png", "svg"))
    with (tmp_path / "figures" / "recall_zero.csv").open() as fh:
        assert float(next(csv.DictReader(fh))["mean"]) == pytest.approx(0.9)
