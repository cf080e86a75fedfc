"""CLI command ``tailguard mlflow log SOURCE``: an audit, a simulation or a model run as MLflow runs.

``SOURCE`` is an ``audit --out`` or ``simulate --out`` folder (or its report.json / results.json),
``audit:ID`` (a recorded audit) or ``run:ID`` (a model run of the ledger); see
:mod:`tailguard.integrations.mlflow`. ``--tracking-uri`` defaults to what MLflow is configured with
(``MLFLOW_TRACKING_URI``). Only typer is imported at module level.
"""

from __future__ import annotations

from typing import Annotated

import typer

mlflow_app = typer.Typer(help="Log audits, simulations and model runs to MLflow (extra: mlflow).",
                         no_args_is_help=True, rich_markup_mode=None)


@mlflow_app.command("log")
def mlflow_log(
    source: Annotated[str, typer.Argument(help="An audit or simulate --out folder (or its report.json / "
                                          "results.json), audit:ID, or run:ID.")],
    tracking_uri: Annotated[str | None, typer.Option("--tracking-uri", help="MLflow tracking URI or a folder "
                                                     "(default: MLFLOW_TRACKING_URI, else MLflow's own default).")
                            ] = None,
    experiment: Annotated[str, typer.Option("--experiment", help="MLflow experiment (created when missing).")
                          ] = "tailguard",
    run_name: Annotated[str | None, typer.Option("--run-name", help="Name of the run (a simulation's parent run).")
                        ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the kind, run ids, tracking URI and experiment "
                                          "as JSON.")] = False,
) -> None:
    """Log SOURCE to MLflow: metrics, params, statuses as tags, report.html as an artifact.

    Example: tailguard mlflow log audit-out --tracking-uri http://127.0.0.1:5000
    """
    from tailguard.cli.output import to_json
    from tailguard.cli.state import state
    from tailguard.integrations.mlflow.sources import log_source

    logged = log_source(source, ledger=state.resolved_ledger_url(), tracking_uri=tracking_uri,
                        experiment=experiment, run_name=run_name)
    if as_json:
        typer.echo(to_json(logged))
        return
    what = {"recorded_audit": "recorded audit", "model_run": "model run", "audit": "audit",
            "simulation": "simulation"}[logged.kind]
    runs = ", ".join(logged.run_ids)
    extra = f" (parent first, then {len(logged.run_ids) - 1} policies)" if logged.kind == "simulation" else ""
    typer.echo(f"logged {what} {source} to MLflow experiment {logged.experiment!r} at {logged.tracking_uri}: "
               f"run{'s' if len(logged.run_ids) > 1 else ''} {runs}{extra}")


def register(app: typer.Typer) -> None:
    """Attach this module's commands to the top-level app."""
    app.add_typer(mlflow_app, name="mlflow")
