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
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from tailguard.audit.baseline import judge_against_baseline
from tailguard.audit.config import AuditConfig
from tailguard.audit.diagnosis import diagnose
from tailguard.audit.domain import check_text_domain, domain_diagnosis
from tailguard.audit.figure_data import class_shares, coverage_by_decile, per_feature_figures, tail_histograms
from tailguard.audit.inputs import AuditInput, ReferenceOriginWarning, align_classes, as_input, reference_origin_note
from tailguard.audit.losses import find_losses
from tailguard.audit.results import AuditReport, Diagnosis
from tailguard.audit.runner import RunResult, run_suite
from tailguard.audit.streaming import StreamSource, memory_moments, pooled_scale
from tailguard.audit.suite import suite_for
from tailguard.audit.verdict import averages_trap, insufficiency, judge_results, verdict_of
from tailguard.engines import resolve_engine
from tailguard.errors import BadInputError


def _same_footing(
    sides: list[AuditInput], config: AuditConfig, rng: np.random.Generator
) -> list[AuditInput]:
    """Cap every side (candidate, reference, baseline) at ``max_samples`` and, with
    ``same_size``, subsample the larger sides to the smallest side's N (seeded), so
    N-dependent metrics compare like with like."""
    if sides[0].modality == "detection":
        return sides  # images and boxes are not one row per sample
    sizes = [s.n for s in sides]
    if config.max_samples is not None:
        sizes = [min(n, config.max_samples) for n in sizes]
    if config.same_size:
        sizes = [min(sizes)] * len(sides)
    return [side.take(np.sort(rng.choice(side.n, n, replace=False))) if n < side.n else side
            for side, n in zip(sides, sizes, strict=True)]


def _standardized(sides: list[AuditInput], mode: str) -> list[AuditInput]:
    """Every side scaled per feature by the standard deviation of all sides pooled.

    Pooling keeps the sides symmetric (scaling by the reference alone makes the
    reference's variances exactly 1 and biases spread ratios), and gives a baseline the
    same scale as the candidate. Scales below a quarter of the median feature scale are
    raised to it, so near-constant columns (edge pixels) do not turn single values into
    50-sigma outliers. Nothing is centred: every metric is shift-invariant, and centring
    would turn constant columns into rounding noise.
    """
    if any(side.vectors is None for side in sides):
        return sides
    if mode == "never" or (mode == "auto" and sides[1].modality != "vectors"):
        return sides
    std = pooled_scale([memory_moments(side.vectors) for side in sides])  # type: ignore[arg-type]
    return [replace(side, vectors=side.vectors / std) for side in sides]  # type: ignore[operator]


def _figures(candidate: AuditInput, reference: AuditInput, runs: list[RunResult], seed: int) -> dict[str, Any]:
    figs: dict[str, Any] = {}
    if candidate.vectors is not None and reference.vectors is not None:
        if per_feature_figures(reference.modality):  # never a hashed or projected feature
            figs["tail_histograms"] = tail_histograms(
                candidate.vectors, reference.vectors, feature_names=reference.feature_names
            )
        decile = _decile_from_results(runs)
        if decile is None and len(reference.vectors) >= 20 and len(candidate.vectors) >= 2:
            decile = coverage_by_decile(candidate.vectors, reference.vectors, seed=seed)
        if decile is not None:
            figs["coverage_by_decile"] = decile
    if candidate.categories is not None and reference.categories is not None:
        figs["class_shares"] = class_shares(candidate.categories, reference.categories, names=reference.class_names)
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


def _check_alike(side: AuditInput, ref: AuditInput) -> None:
    """One line when ``side`` cannot be compared with the reference."""
    if side.modality != ref.modality:
        raise BadInputError(f"{side.name} is {side.modality} but the reference is {ref.modality}", path=side.name)
    if side.vectors is not None and ref.vectors is not None and side.vectors.shape[1] != ref.vectors.shape[1]:
        raise BadInputError(
            f"{side.name} has {side.vectors.shape[1]} features, the reference {ref.vectors.shape[1]}", path=side.name
        )


@dataclass(frozen=True)
class Measured:
    """What the suite measured on each side, before judging: results, skipped lines and sizes."""

    runs: list[RunResult]
    skipped: list[str]
    n_candidate: int
    n_reference: int
    baseline: tuple[list[RunResult], list[str]] | None = None
    n_baseline: int = 0


def build_report(
    measured: Measured,
    *,
    modality: str,
    config: AuditConfig,
    seed: int,
    candidate: str,
    reference: str,
    baseline: str | None = None,
    train_metrics: Mapping[str, Any] | None = None,
    old_task_metrics: Mapping[str, Any] | None = None,
    figures: dict[str, Any] | None = None,
) -> AuditReport:
    """Judge what was measured (against the baseline when there is one) and build the report:
    statuses, verdict, averages trap and diagnosis. The in-memory and the streamed audit share it,
    so the same numbers always read the same way. :func:`fail_closed` finishes it."""
    thresholds = config.thresholds
    runs, skipped = measured.runs, list(measured.skipped)
    rows = judge_results([r.result for r in runs], thresholds)
    baseline_verdict = None
    if measured.baseline is not None:
        base_runs, base_skipped = measured.baseline
        base_rows = judge_results([r.result for r in base_runs], thresholds)
        baseline_verdict = verdict_of(base_rows)
        rows = judge_against_baseline(rows, base_rows, thresholds, sizes=(measured.n_baseline, measured.n_reference))
        skipped = skipped + [f"{line} (baseline)" for line in base_skipped if line not in skipped]
    return AuditReport(
        verdict=verdict_of(rows),
        modality=modality,
        metrics=rows,
        averages_trap=averages_trap(rows),
        diagnosis=diagnose(rows, thresholds, train_metrics=train_metrics, old_task_metrics=old_task_metrics),
        figures=figures or {},
        results=[r.result.to_dict() for r in runs],
        n_candidate=measured.n_candidate,
        n_reference=measured.n_reference,
        candidate=candidate,
        reference=reference,
        config=config.to_dict(),
        thresholds=thresholds.to_dict(),
        skipped=skipped,
        seed=seed,
        baseline=baseline,
        n_baseline=measured.n_baseline,
        baseline_verdict=baseline_verdict,
    )


def fail_closed(report: AuditReport, measured: Measured) -> None:
    """The last word on the verdict: a failure found from the extra inputs is not an ok, and what
    was not measured (too few rows, no tail or diversity row judged) is ``insufficient``."""
    if report.diagnosis.mode in ("overfitting", "catastrophic_forgetting") and report.verdict == "ok":
        report.verdict = "warn"
    sizes = {"candidate": measured.n_candidate, "reference": measured.n_reference,
             **({"baseline": measured.n_baseline} if measured.baseline is not None else {})}
    reason = insufficiency(report.metrics, report.skipped, sizes)
    if reason:
        report.verdict = "insufficient"
        report.insufficient_reason = reason
        report.diagnosis = Diagnosis("none", 0.0, (reason,), summary=f"not enough was measured: {reason}")


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
    baseline: Any = None,
    baseline_labels: Any = None,
    text_column: str | None = None,
    engine: Any = None,
    ledger: Any = None,
) -> AuditReport:
    """Run the suite for the modality and return the judged :class:`AuditReport`.

    ``candidate``/``reference``: an (n, d) array, a list of documents, a 1-D array
    of categories, a :class:`~tailguard.audit.sources.Source` (a path or a ledger
    version) or a prepared :class:`~tailguard.audit.inputs.AuditInput`.
    ``modality`` is inferred from the reference when not given. ``*_labels`` are
    optional per-sample classes for per-class bars and category metrics.

    A pandas Series of strings is text; a DataFrame is its numeric columns, or its
    documents with ``text_column=``: the same rule as a CSV or Parquet path.

    ``baseline`` (any input form, e.g. generation 0 of the same model or last month's
    data) makes the audit ask what the candidate lost *beyond* what the baseline already
    lacked: both are measured against the reference on the same footing and each row's
    status judges the change from baseline to candidate (see :mod:`tailguard.audit.baseline`).

    ``candidate`` may also be a :class:`~tailguard.audit.streaming.StreamSource`
    (``stream_source(path)``): it is then read shard by shard and never held whole
    (:mod:`tailguard.audit.streamed`).

    ``engine`` (a name such as ``"process"`` or ``"ray"``, or an :class:`~tailguard.engines.Engine`;
    default ``$TAILGUARD_ENGINE``, else ``local``) runs the metrics; the numbers do not depend on it.
    An engine built here from a name is closed when the audit ends.

    ``ledger`` (a :class:`~tailguard.ledger.Ledger` or a URL) records the finished audit there
    (:mod:`tailguard.audit.record`); its id is then ``report.audit_id``.
    """
    start = time.perf_counter()
    config = config or AuditConfig()
    if isinstance(candidate, StreamSource):  # read shard by shard, never whole
        from tailguard.audit.streamed import audit_streamed

        streamed = audit_streamed(candidate, reference, config=config, seed=seed, baseline=baseline, engine=engine,
                                  progress=progress, train_metrics=train_metrics, old_task_metrics=old_task_metrics)
        return _recorded(streamed, ledger)
    ref = as_input(reference, modality=modality, name="reference", embedder=config.embedder,
                   labels=reference_labels, seed=seed, text_column=text_column, skip_bad=config.skip_bad)
    cand = as_input(candidate, modality=modality, name="candidate", embedder=config.embedder,
                    labels=candidate_labels, seed=seed, text_column=text_column, skip_bad=config.skip_bad)
    modality = modality or ref.modality
    skipped_rows = {side: list(inp.skipped) for side, inp in (("candidate", cand), ("reference", ref)) if inp.skipped}
    _check_alike(cand, ref)
    cand, ref = align_classes(cand, ref)  # class ids compared by their names
    base = None
    if baseline is not None:
        base = as_input(baseline, modality=modality, name="baseline", embedder=config.embedder,
                        labels=baseline_labels, seed=seed, text_column=text_column, skip_bad=config.skip_bad)
        if base.skipped:
            skipped_rows["baseline"] = list(base.skipped)
        _check_alike(base, ref)
        base, ref = align_classes(base, ref)
        cand, ref = align_classes(cand, ref)
    rng = np.random.default_rng(seed)
    sides = _same_footing([cand, ref] + ([base] if base is not None else []), config, rng)
    cand, ref = sides[0], sides[1]
    base = sides[2] if base is not None else None  # on the same footing as the other two
    entries = suite_for(modality, metrics=config.metrics, quick=config.quick)
    scaled = _standardized(sides, config.standardize)
    runner, owned = resolve_engine(engine)

    def measure(side: int) -> tuple[list[RunResult], list[str]]:
        return run_suite(
            scaled[side], scaled[1], entries, batch_size=config.batch_size, seed=seed,
            metric_params=config.metric_params, progress=progress if side == 0 else None, strict=config.strict,
            common={"ci_level": config.ci_level}, unscaled=(sides[side], ref), engine=runner,
            shard_rows=config.shard_rows,
        )

    try:
        runs, skipped = measure(0)
        base_measured = measure(2) if base is not None else None
    finally:
        if owned:
            runner.close()
    measured = Measured(runs, skipped, cand.n, ref.n, base_measured, base.n if base is not None else 0)
    report = build_report(
        measured, modality=modality, config=config, seed=seed, train_metrics=train_metrics,
        old_task_metrics=old_task_metrics,
        candidate=getattr(candidate, "label", cand.name), reference=getattr(reference, "label", ref.name),
        baseline=(getattr(baseline, "label", base.name) if base is not None else None),
        figures=_figures(cand, ref, runs, seed) if config.figures else {},
    )
    if skipped_rows:  # --skip-bad: every row left out, by side
        report.config["skipped_rows"] = skipped_rows
    note_reference_origins(report, ref.name, ref.origin_counts)
    report.losses = find_losses(cand, ref, seed=seed) if config.figures else None
    if modality == "text" and config.domain_check and cand.texts is not None and ref.texts is not None:
        report.domain = check_text_domain(cand.texts, ref.texts, seed=seed)
        report.diagnosis = domain_diagnosis(report.domain, report.diagnosis)
    fail_closed(report, measured)
    report.elapsed_s = round(time.perf_counter() - start, 4)
    return _recorded(report, ledger)


def note_reference_origins(report: AuditReport, name: str, origin_counts: tuple[tuple[str, int], ...]) -> None:
    """A reference version that is not all human: its counts go into ``report.config["reference_origins"]``
    and a :class:`~tailguard.audit.inputs.ReferenceOriginWarning` says so. The audit still runs (a
    pseudo-labelled reference can be a deliberate choice), but it never reads as one against human data."""
    note = reference_origin_note(name, origin_counts)
    if note is not None:
        report.config["reference_origins"] = dict(origin_counts)
        warnings.warn(note, ReferenceOriginWarning, stacklevel=3)


def _recorded(report: AuditReport, ledger: Any) -> AuditReport:
    if ledger is not None:
        from tailguard.audit.record import record_audit

        record_audit(report, ledger)
    return report
