"""``audit()``: compare a candidate with a human reference and judge it.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> ref = rng.normal(size=(2000, 8))
>>> report = audit(0.7 * rng.normal(size=(2000, 8)), ref, config=AuditConfig(quick=True))
>>> report.verdict
'collapse'
>>> report.diagnosis.mode
'model_collapse'
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

import numpy as np

from tailguard.audit.config import AuditConfig
from tailguard.audit.diagnosis import diagnose
from tailguard.audit.figure_data import class_shares, coverage_by_decile, tail_histograms
from tailguard.audit.inputs import AuditInput, as_input
from tailguard.audit.results import AuditReport, Diagnosis
from tailguard.audit.runner import RunResult, run_suite
from tailguard.audit.suite import suite_for
from tailguard.audit.verdict import averages_trap, insufficiency, judge_results, verdict_of
from tailguard.errors import BadInputError


def _same_footing(
    candidate: AuditInput, reference: AuditInput, config: AuditConfig, rng: np.random.Generator
) -> tuple[AuditInput, AuditInput]:
    """Cap both sides at ``max_samples`` and, with ``same_size``, subsample the larger side
    to the smaller side's N (seeded), so N-dependent metrics compare like with like."""
    if candidate.modality == "detection":
        return candidate, reference  # images and boxes are not one row per sample
    cap = config.max_samples
    n_c, n_r = candidate.n, reference.n
    if cap is not None:
        n_c, n_r = min(n_c, cap), min(n_r, cap)
    if config.same_size:
        n_c = n_r = min(n_c, n_r)
    if n_c < candidate.n:
        candidate = candidate.take(np.sort(rng.choice(candidate.n, n_c, replace=False)))
    if n_r < reference.n:
        reference = reference.take(np.sort(rng.choice(reference.n, n_r, replace=False)))
    return candidate, reference


def _standardized(candidate: AuditInput, reference: AuditInput, mode: str) -> tuple[AuditInput, AuditInput]:
    """Both sides scaled per feature by the standard deviation of both sides pooled.

    Pooling keeps the two sides symmetric (scaling by the reference alone makes the
    reference's variances exactly 1 and biases spread ratios). Scales below a quarter
    of the median feature scale are raised to it, so near-constant columns (edge
    pixels) do not turn single values into 50-sigma outliers. Nothing is centred: every
    metric is shift-invariant, and centring would turn constant columns into rounding noise.
    """
    if candidate.vectors is None or reference.vectors is None:
        return candidate, reference
    if mode == "never" or (mode == "auto" and reference.modality != "vectors"):
        return candidate, reference
    std = np.concatenate([candidate.vectors, reference.vectors]).std(axis=0)
    positive = std[std > 0]
    floor = 0.25 * float(np.median(positive)) if positive.size else 1.0
    std = np.maximum(std, floor)
    return replace(candidate, vectors=candidate.vectors / std), replace(reference, vectors=reference.vectors / std)


def _figures(candidate: AuditInput, reference: AuditInput, runs: list[RunResult], seed: int) -> dict[str, Any]:
    figs: dict[str, Any] = {}
    if candidate.vectors is not None and reference.vectors is not None:
        figs["tail_histograms"] = tail_histograms(
            candidate.vectors, reference.vectors, feature_names=reference.feature_names
        )
        decile = _decile_from_results(runs)
        if decile is None and len(reference.vectors) >= 20 and len(candidate.vectors) >= 2:
            decile = coverage_by_decile(candidate.vectors, reference.vectors, seed=seed)
        if decile is not None:
            figs["coverage_by_decile"] = decile
    if candidate.categories is not None and reference.categories is not None:
        figs["class_shares"] = class_shares(candidate.categories, reference.categories)
    return figs


def _decile_from_results(runs: list[RunResult]) -> dict[str, Any] | None:
    """Use a metric's own per-decile coverage when it reports one (no second computation)."""
    for run in runs:
        value = run.result.details.get("coverage_by_decile")
        if isinstance(value, list) and len(value) == 10:
            out: dict[str, Any] = {"deciles": list(range(1, 11)), "coverage": [float(v) for v in value],
                                   "source": f"{run.result.metric}.coverage_by_decile"}
            base = run.result.details.get("reference_coverage_by_decile")
            if isinstance(base, list) and len(base) == 10:
                out["reference_coverage"] = [float(v) for v in base]
            return out
    return None


def audit(
    candidate: Any,
    reference: Any,
    *,
    modality: str | None = None,
    config: AuditConfig | None = None,
    train_metrics: Mapping[str, Any] | None = None,
    old_task_metrics: Mapping[str, Any] | None = None,
    seed: int = 0,
    candidate_labels: Any = None,
    reference_labels: Any = None,
    progress: Callable[[str], None] | None = None,
) -> AuditReport:
    """Run the suite for the modality and return the judged :class:`AuditReport`.

    ``candidate``/``reference``: an (n, d) array, a list of documents, a 1-D array
    of categories, a :class:`~tailguard.audit.sources.Source` (a path or a ledger
    version) or a prepared :class:`~tailguard.audit.inputs.AuditInput`.
    ``modality`` is inferred from the reference when not given. ``*_labels`` are
    optional per-sample classes for per-class bars and category metrics.
    """
    start = time.perf_counter()
    config = config or AuditConfig()
    thresholds = config.thresholds
    ref = as_input(reference, modality=modality, name="reference", embedder=config.embedder,
                   labels=reference_labels, seed=seed)
    cand = as_input(candidate, modality=modality, name="candidate", embedder=config.embedder,
                    labels=candidate_labels, seed=seed)
    modality = modality or ref.modality
    if cand.modality != ref.modality:
        raise BadInputError(f"candidate is {cand.modality} but the reference is {ref.modality}", path=cand.name)
    if cand.vectors is not None and ref.vectors is not None and cand.vectors.shape[1] != ref.vectors.shape[1]:
        raise BadInputError(
            f"candidate has {cand.vectors.shape[1]} features, the reference {ref.vectors.shape[1]}", path=cand.name
        )
    rng = np.random.default_rng(seed)
    cand, ref = _same_footing(cand, ref, config, rng)
    entries = suite_for(modality, metrics=config.metrics, quick=config.quick)
    scaled_cand, scaled_ref = _standardized(cand, ref, config.standardize)
    runs, skipped = run_suite(
        scaled_cand, scaled_ref, entries, batch_size=config.batch_size, seed=seed,
        metric_params=config.metric_params, progress=progress, strict=config.strict,
        common={"ci_level": config.ci_level}, unscaled=(cand, ref),
    )
    rows = judge_results([r.result for r in runs], thresholds)
    report = AuditReport(
        verdict=verdict_of(rows),
        modality=modality,
        metrics=rows,
        averages_trap=averages_trap(rows),
        diagnosis=diagnose(rows, thresholds, train_metrics=train_metrics, old_task_metrics=old_task_metrics),
        figures=_figures(cand, ref, runs, seed) if config.figures else {},
        results=[r.result.to_dict() for r in runs],
        n_candidate=cand.n,
        n_reference=ref.n,
        candidate=getattr(candidate, "label", cand.name),
        reference=getattr(reference, "label", ref.name),
        config=config.to_dict(),
        thresholds=thresholds.to_dict(),
        skipped=skipped,
        seed=seed,
    )
    if report.diagnosis.mode in ("overfitting", "catastrophic_forgetting") and report.verdict == "ok":
        report.verdict = "warn"  # a failure found from the extra inputs is not an ok
    reason = insufficiency(rows, skipped, cand.n, ref.n)
    if reason:  # fail closed: what was not measured is never ok
        report.verdict = "insufficient"
        report.insufficient_reason = reason
        report.diagnosis = Diagnosis("none", 0.0, (reason,), summary=f"not enough was measured: {reason}")
    report.elapsed_s = round(time.perf_counter() - start, 4)
    return report
