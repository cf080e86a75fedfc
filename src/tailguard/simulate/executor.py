"""Run many chains (policies × seeds) on an engine and gather the results.

:func:`simulate` is the public entry point (the CLI and ``tailguard demo`` call it).
Chains are independent and seeded by (entropy, seed, generation, purpose), so the
numbers do not depend on the engine (``engine.map(run_chain, tasks)``: local, a
process pool, Ray) or on ``workers``. A family that can run a policy for all seeds at
once declares it (``Family.vectorised_policies``). With ``out`` each chain
checkpoints after every generation; ``resume=True`` continues from there.

>>> res = simulate("gaussian", ["replace"], generations=2, seeds=3, sample_size=10)
>>> len(res.summary("replace", "variance_ratio")["median"])
3
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tailguard.errors import ParameterError
from tailguard.simulate.family import Family, get_family
from tailguard.simulate.loop import ChainResult, one_blas_thread, run_chain
from tailguard.simulate.results import SimulationResults
from tailguard.simulate.seeding import stream
from tailguard.validation import Bool, Int, validate_params

SIM_PARAMS = {
    "generations": Int(min=0, max=100_000),
    "seeds": Int(min=1, max=1_000_000),
    "sample_size": Int(min=2),
    "workers": Int(min=1, max=256),
    "entropy": Int(min=0),
    "resume": Bool(),
    "vectorised": Bool(),
    "checkpoint": Bool(),
}

ProgressCallback = Callable[[int, int], None]  # (advance, total)


def split_policies(policies: str | Sequence[Any]) -> list[Any]:
    """``"replace,accumulate+anchor:0.2"`` -> ``["replace", "accumulate+anchor:0.2"]``."""
    if isinstance(policies, str):
        items: list[Any] = [p.strip() for p in policies.split(",") if p.strip()]
    else:
        items = list(policies)
    if not items:
        raise ParameterError("The 'policies' parameter of simulate must name at least one policy. Got none.")
    return items


def _parse_all(policies: list[Any]) -> dict[str, Any]:
    from tailguard.policy import parse_policy

    parsed: dict[str, Any] = {}
    for p in policies:
        pol = parse_policy(p) if isinstance(p, str) else p
        parsed[str(pol)] = pol
    return parsed


def _chain_task(args: tuple[Any, ...], on_generation: Callable[[int], None] | None = None) -> ChainResult:
    family, policy, seed, generations, sample_size, entropy, out, resume, lineage, audit = args
    return run_chain(
        family,
        policy,
        seed=seed,
        generations=generations,
        sample_size=sample_size,
        entropy=entropy,
        checkpoint_dir=out,
        resume=resume,
        record_lineage=lineage,
        audit_metrics=audit,
        on_generation=on_generation,
    )


def _run_vectorised(args: tuple[Family, str, int, int, int, int, int]) -> dict:
    family, spec, generations, first_seed, seeds, m, entropy = args
    return family.simulate_vectorised(spec, generations=generations, seeds=seeds, sample_size=m, entropy=entropy,
                                      first_seed=first_seed)


def _vectorised_on(runner: Any, family: Family, spec: str, generations: int, seeds: int, m: int,
                   entropy: int) -> dict:
    """A vectorised policy's seeds in one call here, or split into contiguous blocks over the engine's
    workers (each seed draws its own streams, so the split changes no number) and joined in seed order."""
    parts = min(runner.parallelism, seeds // 50)  # below ~50 seeds a block, starting a task costs more
    if parts < 2:
        return _run_vectorised((family, spec, generations, 0, seeds, m, entropy))
    bounds = np.linspace(0, seeds, parts + 1).round().astype(int)
    tasks = [(family, spec, generations, int(a), int(b - a), m, entropy) for a, b in itertools.pairwise(bounds)]
    blocks = runner.map(_run_vectorised, tasks)
    out = {key: np.concatenate([b[key] for b in blocks]) for key in blocks[0] if key != "metrics"}
    out["metrics"] = {name: np.concatenate([b["metrics"][name] for b in blocks]) for name in blocks[0]["metrics"]}
    return out


def _engine_for(engine: Any, workers: int) -> tuple[Any, bool]:
    """``(engine, built_here)``: the one given, else ``$TAILGUARD_ENGINE``, else process for ``workers > 1``."""
    from tailguard.engines import ENV, Engine, current_engine, get_engine

    if isinstance(engine, Engine):
        return engine, False
    inside = current_engine()
    if engine is None and inside.name != "local":  # a use_engine block chose one
        return inside, False
    if engine is None and not os.environ.get(ENV):
        return (get_engine("process", workers=workers) if workers > 1 else get_engine("local")), True
    name = engine or os.environ.get(ENV)
    return get_engine(name, **({"workers": workers} if name == "process" and workers > 1 else {})), True


def _make_progress(progress: bool | ProgressCallback, total: int, label: str) -> tuple[ProgressCallback, Any]:
    if callable(progress):
        return progress, None
    if not progress:
        return (lambda advance, total: None), None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    task = bar.add_task(label, total=total)
    bar.start()
    return (lambda advance, _total: bar.advance(task, advance)), bar


def simulate(
    family: str | Family,
    policies: str | Sequence[Any] = ("replace", "accumulate", "anchor:0.2"),
    *,
    generations: int = 10,
    seeds: int = 5,
    sample_size: int = 100,
    workers: int = 1,
    ledger: Any = None,
    out: str | Path | None = None,
    resume: bool = False,
    progress: bool | ProgressCallback = False,
    entropy: int = 0,
    vectorised: bool = True,
    family_params: dict[str, Any] | None = None,
    audit_metrics: Sequence[str] | None = None,
    engine: Any = None,
    checkpoint: bool = True,
) -> SimulationResults:
    """Train ``family`` recursively under each policy for ``generations`` over ``seeds``.

    Args:
        family: a family name (see ``FAMILIES``) or a built family.
        policies: specs (``"replace"``, ``"accumulate+anchor:0.2"``...), as a list or
            comma-separated string.
        generations: N; metrics are reported for generations 0..N.
        seeds: independent chains per policy.
        sample_size: M, the human training size and the samples per generation.
        workers: with no ``engine``, more than 1 runs the chains on the ``process`` engine
            with this many workers; 1 runs them in-process.
        ledger: a ``tailguard.ledger.Ledger`` (or URL); seed 0's chains are recorded
            there (samples with generator and generation, one model run per generation).
        out: directory for checkpoints (``out/checkpoints``), ``results.json`` and
            ``per_seed.parquet``.
        resume: continue chains from their checkpoints in ``out``.
        checkpoint: with ``out``, rewrite each chain's checkpoint after every generation (the
            whole pool so far: it costs a file write per chain and generation, and disk); ``False``
            writes only the results, and a killed run cannot be resumed.
        progress: show a rich progress bar (True) or call ``progress(advance, total)``.
        entropy: the root seed of all random streams.
        vectorised: run the policies a family can run for all seeds at once (the Gaussian's
            ``replace``/``accumulate``) on that path. It draws the generic loop's random
            streams, so every seed's numbers are the same on both paths (to rounding) and the
            policies of a seed stay paired; it writes no per-generation checkpoints.
        family_params: parameters when ``family`` is a name.
        audit_metrics: names of ``tailguard.metrics`` metrics measured every generation on
            the samples' features against held-out human data (default: the family's
            ``audit_metrics``; ``()`` for none). Stored as ``audit_<value name>``.
        engine: where the chains run: a name (``local``, ``process``, ``ray``) or an
            :class:`~tailguard.engines.Engine` (default ``$TAILGUARD_ENGINE``, else local, or
            process when ``workers > 1``). Results are bit-identical on every engine.
    """
    params = validate_params(
        "simulate",
        {
            "generations": generations,
            "seeds": seeds,
            "sample_size": sample_size,
            "workers": workers,
            "entropy": entropy,
            "resume": resume,
            "vectorised": vectorised,
            "checkpoint": checkpoint,
        },
        SIM_PARAMS,
    )
    fam = get_family(family, **(family_params or {})) if isinstance(family, str) else family
    parsed = _parse_all(split_policies(policies))
    if resume and out is None:
        raise ParameterError("The 'resume' parameter of simulate needs an 'out' directory to resume from.")
    if resume and not checkpoint:
        raise ParameterError("The 'resume' parameter of simulate needs checkpoints: drop checkpoint=False "
                             "(--no-checkpoint) or drop resume.")
    out_dir = str(out) if out is not None else None
    chain_dir = out_dir if checkpoint else None
    record = ledger is not None
    audit = tuple(fam.audit_metrics if audit_metrics is None else audit_metrics)

    fast = {s for s in parsed if vectorised and s in fam.vectorised_policies and not record and not audit}
    slow_tasks = [
        (fam, pol, seed, generations, sample_size, entropy, chain_dir, resume, record and seed == 0, audit)
        for spec, pol in parsed.items()
        if spec not in fast
        for seed in range(seeds)
    ]
    total = len(slow_tasks) * (generations + 1) + len(fast) * (generations + 1)
    advance, bar = _make_progress(progress, total, f"simulate {fam.name}")
    chains: dict[tuple[str, int], ChainResult] = {}
    fast_out: dict[str, dict] = {}
    def run_local(tasks: list[tuple[Any, ...]]) -> None:
        for t in tasks:  # in process: the bar moves every generation
            counted = [0]

            def tick(_g: int, counted: list[int] = counted) -> None:
                counted[0] += 1
                advance(1, total)

            res = _chain_task(t, tick)
            chains[(res.policy, res.seed)] = res
            advance(generations + 1 - counted[0], total)  # generations a resumed chain skipped

    try:
        runner, owned = _engine_for(engine, workers)
        try:
            for spec in fast:
                fast_out[spec] = _vectorised_on(runner, fam, spec, generations, seeds, sample_size, entropy)
                advance(generations + 1, total)
            if runner.name == "local":
                with one_blas_thread():  # set once for every chain, not once per chain
                    run_local(slow_tasks)
            elif slow_tasks:
                fam.warm_up()  # forked workers inherit the caches
                if audit:
                    import tailguard.metrics  # noqa: F401
                for res in runner.map(_chain_task, slow_tasks, on_result=lambda _i, _r: advance(generations + 1, total)):
                    chains[(res.policy, res.seed)] = res
        finally:
            if owned:
                runner.close()
    finally:
        if bar is not None:
            bar.stop()

    values: dict[str, dict[str, np.ndarray]] = {}
    directions: dict[str, bool] = {}
    samples: dict[str, dict[str, np.ndarray]] = {}
    extra: dict[str, Any] = {"train_size": {}, "human_fraction": {}}
    for spec in parsed:
        if spec in fast_out:
            fo = fast_out[spec]
            values[spec] = {m.name: fo["metrics"][m.name] for m in fam.metrics}
            samples[spec] = {"first": fo["first"][0], "last": fo["last"][0]}
            continue
        runs = [chains[(spec, s)] for s in range(seeds)]
        values[spec] = {name: np.stack([r.metrics[name] for r in runs]) for name in runs[0].metrics}
        for r in runs:
            directions.update(r.directions)
        samples[spec] = {"first": runs[0].first, "last": runs[0].last}
        extra["train_size"][spec] = np.median([r.train_size for r in runs], axis=0).tolist()
        extra["human_fraction"][spec] = np.mean([r.human_fraction for r in runs], axis=0).round(6).tolist()
    config = {
        "family_params": fam.get_params(),
        "family_config_id": fam.config_id,
        "generations": generations,
        "seeds": seeds,
        "sample_size": sample_size,
        "entropy": entropy,
        "vectorised": sorted(fast),
    }
    metrics_meta = {
        m.name: {"higher_is_better": m.higher_is_better, "tail": m.tail, "description": m.description}
        for m in fam.metrics
    }
    for name, higher in sorted(directions.items()):
        metrics_meta[name] = {
            "higher_is_better": higher,
            "tail": False,
            "description": f"audit suite metric {name[len('audit_') :]}: generation samples vs held-out human data",
        }
    extra["sample_kind"] = fam.sample_kind
    theory: dict[str, dict[str, Any]] = {}
    for spec in parsed:
        for name in values[spec]:
            law = fam.theory(name, spec, generations=generations, sample_size=sample_size)
            if law is not None:
                theory.setdefault(spec, {})[name] = law.to_dict()
    if theory:
        extra["theory"] = theory
    if fam.sample_kind == "text":
        setup0 = fam.setup(sample_size, stream(entropy, seed=0, generation=0, purpose="setup"))
        extra["sample_text"] = {
            spec: {"first": fam.render_text(s["first"], setup0), "last": fam.render_text(s["last"], setup0)}
            for spec, s in samples.items()
        }
    results = SimulationResults(fam.name, config, values, metrics_meta, samples, extra)
    if record:
        from tailguard.simulate.lineage import record_lineage

        results.extra["lineage"] = record_lineage(ledger, fam, results, chains)
    if out_dir is not None:
        os.makedirs(out_dir, exist_ok=True)
        results.save(Path(out_dir) / "results.json")
        Path(out_dir, "params.json").write_text(json.dumps(params, sort_keys=True))
    return results
