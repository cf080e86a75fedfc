"""CLI commands ``tailguard runs list`` and ``tailguard runs show RUN``: the model runs in the ledger.

A run links the version a model was trained on to the samples it produced; the
Ultralytics integration also records the checkpoint's content hash (``extra``'s
``weights_hash``) and per-class validation metrics per epoch. Both commands only read:
on a missing ledger they fail with one line and create nothing.

Only typer is imported at module level; the ledger loads when a command runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from tailguard.ledger import ModelRun, RunMetric

SHORT_ID = 12
"""Characters of a run id shown in the list (``runs show`` takes any unique prefix)."""

runs_app = typer.Typer(help="Model runs: what each model was trained on, produced and scored.",
                       no_args_is_help=True, rich_markup_mode=None)


def weights_hash(run: ModelRun) -> str | None:
    """The checkpoint hash a run recorded (in its ``extra``, else its ``config``), if any."""
    from tailguard.integrations.ultralytics.pseudo_label import WEIGHTS_HASH_KEY

    value = run.extra.get(WEIGHTS_HASH_KEY, run.config.get(WEIGHTS_HASH_KEY))
    return None if value is None else str(value)


def metrics_by_step(metrics: list[RunMetric]) -> tuple[list[int | None], list[str], dict[tuple[int | None, str], float]]:
    """Steps (epochs in order, ``None`` = final last), metric names (first-recorded order) and the values.

    A metric recorded twice at one step keeps its last value.
    """
    names = list(dict.fromkeys(m.name for m in metrics))
    steps = sorted({m.step for m in metrics}, key=lambda s: (s is None, s if s is not None else 0))
    values = {(m.step, m.name): m.value for m in metrics}
    return steps, names, values


@runs_app.command("list")
def runs_list(as_json: Annotated[bool, typer.Option("--json", help="Print the runs as JSON.")] = False) -> None:
    """List every model run, oldest first: model, trained-on version, outputs, weights hash.

    Example: tailguard runs list
    """
    from tailguard.cli.output import make_console, to_json
    from tailguard.cli.state import state

    with state.open_ledger(create=False) as ledger:
        runs = ledger.model_runs()
    if as_json:
        typer.echo(to_json([{**_run_dict(r), "weights_hash": weights_hash(r)} for r in runs]))
        return
    if not runs:
        typer.echo("no model runs yet (pseudo-label, the Ultralytics callbacks or simulate --record add them)")
        return
    from rich.table import Table

    from tailguard.cli.output import plain

    table = Table("run", "model", "trained on", "created", "outputs", "weights hash")
    for r in runs:
        table.add_row(*plain(r.id[:SHORT_ID], r.model_id, r.trained_on or "-",
                             r.created_at.strftime("%Y-%m-%d %H:%M:%S"), r.n_produced,
                             (weights_hash(r) or "-")[:SHORT_ID]))
    make_console().print(table)


@runs_app.command("show")
def runs_show(
    run: Annotated[str, typer.Argument(help="Run id or unique prefix (as 'runs list' shows it).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the run and its metrics as JSON.")] = False,
) -> None:
    """One run: trained-on version, weights hash, config, and its metrics by epoch (rows) and name (columns).

    Example: tailguard runs show 3f2a9c1d
    """
    from tailguard.cli.output import make_console, to_json
    from tailguard.cli.state import state
    from tailguard.ledger.lineage import find_run

    with state.open_ledger(create=False) as ledger:
        found = find_run(ledger.model_runs(), run)
        metrics = ledger.run_metrics(found.id)
    steps, names, values = metrics_by_step(metrics)
    if as_json:
        typer.echo(to_json({
            "run": _run_dict(found),
            "weights_hash": weights_hash(found),
            "metrics": [{"step": s, "values": {n: values[(s, n)] for n in names if (s, n) in values}}
                        for s in steps],
        }))
        return
    lines = [
        f"run {found.id}",
        f"model: {found.model_id}",
        f"trained on: {found.trained_on or '-'}",
        f"created: {found.created_at:%Y-%m-%d %H:%M:%S}",
        f"outputs: {found.n_produced} samples",
        f"weights hash: {weights_hash(found) or '-'}",
    ]
    lines += _mapping_lines("config", found.config)
    lines += _mapping_lines("extra", found.extra)
    typer.echo("\n".join(lines))
    if not metrics:
        typer.echo("metrics: none recorded")
        return
    from rich.table import Table

    from tailguard.cli.output import plain

    table = Table(title=f"metrics of run {found.id[:SHORT_ID]} ({len(metrics)} values)")
    for header in plain("step", *names):
        table.add_column(header)
    for s in steps:
        table.add_row(*plain("final" if s is None else s,
                             *(f"{values[(s, n)]:.4g}" if (s, n) in values else "-" for n in names)))
    make_console().print(table)


def _run_dict(run: ModelRun) -> dict[str, Any]:
    import dataclasses

    return dataclasses.asdict(run)


def _mapping_lines(title: str, mapping: dict[str, Any]) -> list[str]:
    import json

    if not mapping:
        return [f"{title}: -"]
    return [f"{title}:"] + [f"  {k}: {json.dumps(v, default=str)}" for k, v in mapping.items()]


def register(app: typer.Typer) -> None:
    """Attach this module's commands to the top-level app."""
    app.add_typer(runs_app, name="runs")
