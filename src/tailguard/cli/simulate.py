"""CLI command: ``tailguard simulate FAMILY --policy P[,P...]``.

Writes ``results.json``, ``per_seed.parquet``, ``report.html`` and ``figures/`` to ``--out``,
prints the report path and a table of each tail metric's mean at generation 0 and at the last
one, with its 95% bootstrap CI and the status of the stated test on it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

import typer

from tailguard.cli.engine_options import EngineOption, RayAddressOption, make_engine

_FLOAT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


def parse_params(items: list[str]) -> dict[str, object]:
    """``["dim=3", "variance=unbiased"]`` -> ``{"dim": 3, "variance": "unbiased"}`` (YAML scalars)."""
    import yaml

    from tailguard.errors import ParameterError

    out: dict[str, object] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ParameterError(f"--param expects KEY=VALUE. Got {item!r}.")
        parsed = yaml.safe_load(value)
        if isinstance(parsed, str) and _FLOAT.fullmatch(parsed.strip()):
            parsed = float(parsed)  # YAML 1.1 reads '3e-3' (no dot) as a string
        out[key.strip()] = parsed
    return out


def simulate_command(
    family: Annotated[
        str,
        typer.Argument(help="Model family: gaussian, gmm, kde, categorical, linreg, ngram, recsys, digits, "
                            "pseudolabel (or yolo, lm: the yolo and lm extras)."),
    ],
    policy: Annotated[
        str, typer.Option("--policy", help="Comma-separated policies, e.g. replace,accumulate,anchor:0.2")
    ] = "replace,accumulate",
    generations: Annotated[int, typer.Option("--generations", help="Generations after the human-trained one.")] = 10,
    seeds: Annotated[int, typer.Option("--seeds", help="Independent chains per policy.")] = 5,
    sample_size: Annotated[int, typer.Option("--sample-size", help="Samples per generation (M).")] = 100,
    out: Annotated[Path | None, typer.Option("--out", help="Output folder (default runs/simulate-FAMILY).")] = None,
    workers: Annotated[int, typer.Option("--workers", help="Worker processes (with no --engine: more than 1 "
                                         "runs the chains on the process engine).", min=1)] = 1,
    engine: EngineOption = None,
    ray_address: RayAddressOption = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue killed chains from their checkpoints.")] = False,
    checkpoint: Annotated[
        bool,
        typer.Option("--checkpoint/--no-checkpoint", help="Rewrite each chain's checkpoint (its whole pool) in "
                     "OUT/checkpoints after every generation, so --resume can continue a killed run. "
                     "--no-checkpoint writes only the results: faster, less disk, no resume."),
    ] = True,
    param: Annotated[list[str] | None, typer.Option("--param", help="Family parameter KEY=VALUE (repeatable).")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Root seed of all random streams.")] = 0,
    record: Annotated[bool, typer.Option("--record", help="Record seed 0's lineage in the ledger (--ledger).")] = False,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="Show a progress bar.")] = True,
    audit_last: Annotated[
        bool,
        typer.Option("--audit", help="Audit each policy's last generation (seed 0) against held-out human data "
                     "with generation 0 as the baseline; reports in OUT/audits/POLICY."),
    ] = False,
    device: Annotated[
        str | None,
        typer.Option("--device", help="Training device for families that train networks (yolo): cpu, 0, 0,1 ..."),
    ] = None,
) -> None:
    """Train a model family recursively under each policy and report its tails across generations."""
    from rich.console import Console
    from rich.table import Table

    from tailguard.cli.state import state
    from tailguard.errors import ParameterError
    from tailguard.simulate import get_family, simulate, write_report
    from tailguard.simulate.report import verdict_rows

    params = parse_params(param or [])
    if device is not None:
        if "device" in params:
            raise ParameterError("give the device once: --device or --param device=..., not both")
        params["device"] = device
    fam = get_family(family, **params)
    runner = make_engine(engine, ray_address, workers) if engine or ray_address else None
    out_dir = out if out is not None else Path("runs") / f"simulate-{fam.name}"
    results = simulate(
        fam,
        policy,
        generations=generations,
        seeds=seeds,
        sample_size=sample_size,
        workers=workers,
        out=out_dir,
        resume=resume,
        checkpoint=checkpoint,
        progress=progress,
        entropy=seed,
        ledger=state.resolved_ledger_url() if record else None,
        engine=runner,
    )
    if runner is not None:
        runner.close()
    path = write_report(results, str(out_dir), save_results=False)  # simulate(out=...) wrote them
    console = Console()
    table = Table(title=f"{fam.name}: tail metrics, mean over {seeds} seeds with its 95% bootstrap CI")
    for col in ("policy", "metric"):
        table.add_column(col, no_wrap=True)  # names stay whole on a narrow terminal; numbers wrap
    for col in ("gen 0", f"gen {generations} [95% CI]", "change", "status"):
        table.add_column(col)
    colours = {"ok": "green", "warn": "yellow", "collapse": "red", "insufficient": "magenta", "departs": "magenta"}
    for r in verdict_rows(results):
        st = r["status"]
        table.add_row(r["policy"], r["metric"], r["first"], f"{r['last']} {r['ci']}", r["change"],
                      f"[{colours.get(st, 'white')}]{st}[/] ({r['against']})")
    console.print(table)
    if audit_last:
        _print_audits(console, results, fam, seed, Path(out_dir), colours)
    typer.echo(f"results: {Path(out_dir) / 'results.json'} (every seed: {Path(out_dir) / 'per_seed.parquet'})")
    typer.echo(f"report: {path}")


def _print_audits(console: Any, results: Any, fam: Any, seed: int, out_dir: Path, colours: dict[str, str]) -> None:
    """Audit every policy's last generation against generation 0 and print one line per policy."""
    from tailguard.audit.thresholds import is_flagged
    from tailguard.simulate.audits import audit_last_generations

    for policy, report in audit_last_generations(results, fam, entropy=seed).items():
        report.write(out_dir / "audits" / policy.replace(":", "_"))
        flagged = [r for r in report.metrics if is_flagged(r.status)]
        worst = ", ".join(f"{r.name} ({r.status})" for r in flagged[:3]) or "no row worse than generation 0"
        console.print(f"audit {policy}: [{colours.get(report.verdict, 'white')}]{report.verdict}[/] against "
                      f"generation 0 (generation 0 itself: {report.baseline_verdict} against the humans); {worst}")


def register(app: typer.Typer) -> None:
    """Attach this module's commands to the top-level app."""
    app.command("simulate")(simulate_command)
