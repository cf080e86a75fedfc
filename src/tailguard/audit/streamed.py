"""The streamed audit: a candidate read shard by shard, never held in memory whole.

:func:`tailguard.audit.audit` calls :func:`audit_streamed` when the candidate is a
:class:`~tailguard.audit.streaming.StreamSource` (``stream_source(path)``, or
``tailguard audit --stream``). The reference (usually the smaller side) and a baseline are
read into memory as usual: that is the first pass that gives what needs the whole data.

1. **Scales.** When the audit standardizes (tabular vectors), each candidate shard's
   mergeable moments (count, mean, M2) come back from the engine and are pooled with the
   reference's, the same rule as the in-memory audit, rounded to 10 significant digits so
   the cut of the data cannot move them.
2. **Metrics.** Per metric, ``engine.map_reduce`` over the shards: every shard is loaded,
   featurised (text embedded, images described) and scaled once on a worker, fed to every
   metric's accumulator, and only the accumulator states come back; they are merged in
   shard order, a window of shards at a time.

Each metric's state is bounded: a vector metric keeps a seeded bottom-k hash sample of at
most ``max_samples`` rows per side (its own default where it has one, 200,000 for the tail
metrics; :data:`STREAM_MAX_SAMPLES`, 50,000, for those that keep every row in memory: PRDC's k-NN
search, exact where an approximate one would be wrong, costs about 80 s at 50,000 per side on
64 isotropic dimensions and 325 s at 100,000), and
the text metrics keep exact counts, HyperLogLog and MinHash sketches and a bounded document
sample (see docs/scale.md). Vector metrics with the same cap and seed, fed the same rows, share
one sample in each shard and in the driver (the first is fed, the rest borrow it), so the
nine vector metrics of a suite hold two samples (200,000 and 50,000 rows), not nine. So peak memory does not grow with the
candidate's N, and the numbers equal the in-memory audit's on the same rows.

What needs the candidate's rows themselves is not computed for a streamed candidate and
says so in ``report.skipped``: the per-feature tail histograms, the loss examples and the
text domain check.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from tailguard.audit.config import AuditConfig
from tailguard.audit.core import Measured, build_report, fail_closed, note_reference_origins
from tailguard.audit.inputs import align_classes, as_input
from tailguard.audit.results import AuditReport
from tailguard.audit.runner import Handover, run_suite
from tailguard.audit.streaming import LazySide, StreamSource, memory_moments, moments, pooled_scale
from tailguard.audit.suite import suite_for
from tailguard.engines import resolve_engine
from tailguard.errors import BadInputError, ParameterError

#: Rows per side a vector metric keeps when it would otherwise keep every row (a seeded
#: bottom-k hash sample; metrics with their own cap, such as tail_mass, keep theirs).
STREAM_MAX_SAMPLES = 50_000

#: What a streamed audit leaves out, listed in ``report.skipped``.
NOT_STREAMED = (
    "tail histograms, loss examples and the text domain check: they read the candidate's rows, "
    "which a streamed audit does not hold",
)


def stream_params(metric_params: Mapping[str, Mapping[str, Any]], candidate_rows: int | None = None,
                  reference_rows: int | None = None) -> dict[str, dict[str, Any]]:
    """``metric_params`` with :data:`STREAM_MAX_SAMPLES` for every metric that would keep all rows
    (``max_samples`` None by default), unless the user set it: what makes a metric's state bounded.
    With ``candidate_rows`` (the streamed candidate's row count, or a safe lower estimate) each
    vector metric's candidate sample also drops, shard by shard, the rows it can never keep
    (``expected_rows``; see :class:`~tailguard.metrics.rows.RowStore`), so a shard's state is
    about ``2 x max_samples x shard / N`` rows. ``reference_rows`` (the in-memory reference's row
    count) does the same for the reference's sample, which then holds ``max_samples`` rows, not up to
    twice that, while the shards run.

    >>> stream_params({})["prdc"]["max_samples"]
    50000
    >>> stream_params({"prdc": {"max_samples": 5000}})["prdc"]["max_samples"]
    5000
    >>> stream_params({}, candidate_rows=10_000_000)["prdc"]["expected_rows"]
    10000000
    """
    from tailguard.audit.suite import registered_metrics

    out = {k: dict(v) for k, v in metric_params.items()}
    for cls in registered_metrics():
        table = getattr(cls, "params", {}) or {}
        if "max_samples" in table and cls.defaults.get("max_samples") is None:
            out.setdefault(cls.name, {}).setdefault("max_samples", STREAM_MAX_SAMPLES)
        if candidate_rows is not None and "expected_rows" in table:
            out.setdefault(cls.name, {}).setdefault("expected_rows", candidate_rows)
        if reference_rows is not None and "reference_rows" in table:
            out.setdefault(cls.name, {}).setdefault("reference_rows", reference_rows)
    return out


def audit_streamed(
    candidate: StreamSource,
    reference: Any,
    *,
    config: AuditConfig,
    seed: int = 0,
    baseline: Any = None,
    engine: Any = None,
    progress: Callable[[str], None] | None = None,
    train_metrics: Mapping[str, Any] | None = None,
    old_task_metrics: Mapping[str, Any] | None = None,
    window: int | None = None,
) -> AuditReport:
    """Audit a streamed ``candidate`` against ``reference`` (see the module docstring)."""
    start = time.perf_counter()
    if config.same_size or config.max_samples is not None:
        raise ParameterError("same_size and max_samples subsample whole sides in memory; a streamed audit "
                             "bounds each metric's own sample instead: leave them unset")
    modality = candidate.modality
    runner, owned = resolve_engine(engine)
    try:
        runner.start()  # before the reference is copied and scaled: see Engine.start
        runs, skipped, base_measured, sizes = _measure(candidate, reference, baseline, modality, config, seed,
                                                       runner, progress, window)
    finally:
        if owned:
            runner.close()
    n = candidate.n if candidate.n is not None else max((r.result.n for r in runs), default=0)
    ref_n, ref_name, base_n, base_name, ref_origins = sizes
    measured = Measured(runs, [*skipped, *NOT_STREAMED], n, ref_n, base_measured, base_n)
    report = build_report(measured, modality=modality, config=config, seed=seed, candidate=candidate.label,
                          reference=getattr(reference, "label", ref_name),
                          baseline=getattr(baseline, "label", base_name) if base_name is not None else None,
                          train_metrics=train_metrics, old_task_metrics=old_task_metrics)
    report.config["streamed"] = {"shards": len(candidate.shards), "source": candidate.path}
    note_reference_origins(report, ref_name, ref_origins)
    fail_closed(report, measured)
    report.elapsed_s = round(time.perf_counter() - start, 4)
    return report


def _measure(candidate: StreamSource, reference: Any, baseline: Any, modality: str, config: AuditConfig, seed: int,
             runner: Any, progress: Callable[[str], None] | None, window: int | None) -> tuple[Any, ...]:
    ref = as_input(reference, modality=modality, name="reference", embedder=config.embedder, seed=seed)
    if ref.modality != modality:
        raise BadInputError(f"the candidate streams {modality} but the reference is {ref.modality}",
                            path=candidate.path)
    if candidate.dim is not None and ref.vectors is not None and ref.vectors.shape[1] != candidate.dim:
        raise BadInputError(f"the candidate has {candidate.dim} features, the reference {ref.vectors.shape[1]}",
                            path=candidate.path)
    base = None
    if baseline is not None:
        base = as_input(baseline, modality=modality, name="baseline", embedder=config.embedder, seed=seed)
        base, ref = align_classes(base, ref)
    lazies = [LazySide(shard, modality, candidate.path, config.embedder, seed) for shard in candidate.shards]
    entries = suite_for(modality, metrics=config.metrics, quick=config.quick)
    standardize = ref.vectors is not None and (
        config.standardize == "always" or (config.standardize == "auto" and modality == "vectors"))
    scaled_ref, scaled_base = ref, base
    if standardize:
        parts = runner.map(moments, lazies)
        scale = pooled_scale([*parts, *(memory_moments(s.vectors) for s in (ref, base) if s is not None)])  # type: ignore[arg-type]
        lazies = [replace(lazy, scale=scale) for lazy in lazies]
        scaled_ref = replace(ref, vectors=ref.vectors / scale)  # type: ignore[operator]
        scaled_base = replace(base, vectors=base.vectors / scale) if base is not None else None  # type: ignore[operator]
        if all(entry.standardized for entry in entries):  # no metric reads the unscaled rows: not kept
            ref, base = scaled_ref, scaled_base
    common = {"batch_size": config.batch_size, "seed": seed, "strict": config.strict,
              "common": {"ci_level": config.ci_level}, "engine": runner}
    sizes = (ref.n, ref.name, base.n if base is not None else 0, base.name if base is not None else None,
             ref.origin_counts)
    params = stream_params(config.metric_params, candidate.n_hint, ref.n)
    if base is None:
        # Handed over, not kept: once run_suite has fed the reference to every metric it lets go of the
        # rows, and with no name here bound to them they are freed (0.5-1 GB at 1M x 64) before the shards.
        reference_rows, unscaled_rows = Handover(scaled_ref), Handover((None, ref))
        del ref, scaled_ref
        runs, skipped = run_suite(lazies, reference_rows, entries, progress=progress, unscaled=unscaled_rows,
                                  window=window, metric_params=params, **common)  # type: ignore[arg-type]
        return runs, skipped, None, sizes
    runs, skipped = run_suite(lazies, scaled_ref, entries, progress=progress, unscaled=(None, ref),
                              window=window, metric_params=params, **common)  # type: ignore[arg-type]
    # in memory: its samples are not pruned for the candidate's N
    base_measured = run_suite(scaled_base, scaled_ref, entries, unscaled=(base, ref),
                              shard_rows=config.shard_rows, metric_params=stream_params(config.metric_params),
                              **common)  # type: ignore[arg-type]
    return runs, skipped, base_measured, sizes

