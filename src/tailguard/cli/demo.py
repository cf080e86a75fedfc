"""CLI: ``tailguard demo``, the main job on built-in real data."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    """Attach ``demo`` to the top-level app."""

    @app.command("demo")
    def demo(
        out: Annotated[Path, typer.Option("--out", help="Folder for the report, the demo ledger and the data.")] = Path(
            "demo-report"
        ),
        quick: Annotated[bool, typer.Option("--quick", help="Tiny settings: a smoke run in seconds.")] = False,
        generations: Annotated[int | None, typer.Option(min=1, help="Generations per chain.")] = None,
        seeds: Annotated[int | None, typer.Option(min=1, help="Seeds per policy.")] = None,
        spread: Annotated[bool, typer.Option("--spread/--no-spread",
                                             help="Draw the 10–90% seed spread beside the mean and its CI band.")] = True,
    ) -> None:
        """Ingest real human data, simulate collapse under three policies, audit, and write one HTML report."""
        import dataclasses
        import sys

        from rich.console import Console
        from rich.table import Table

        from tailguard.demo import DemoSettings, run_demo
        from tailguard.demo.evidence import pct

        # piped output (make, CI logs) gets a width that fits the table instead of 80 columns
        console = Console() if sys.stdout.isatty() else Console(width=110)
        settings = DemoSettings.quick() if quick else DemoSettings.default()
        overrides = {k: v for k, v in (("generations", generations), ("seeds", seeds)) if v is not None}
        settings = dataclasses.replace(settings, spread=spread, **overrides)
        with console.status("starting") as status:
            result = run_demo(out, settings=settings, progress=lambda msg: status.update(msg))
        table = Table(title="tailguard demo: change from generation 0 to the last")
        for col in ("family", "policy", "worst change", "trend", "gen 0 vs human", "last vs gen 0", "diagnosis"):
            table.add_column(col)
        colours = {"ok": "green", "warn": "yellow", "collapse": "red", "insufficient": "magenta"}

        def paint(status: str) -> str:
            return f"[{colours.get(status, 'white')}]{status}[/]"

        for row in result.verdict_table():
            worst = row["worst"]
            change = f"{worst['metric']} {pct(worst['change'])}" if worst else "n/a"
            table.add_row(row["family"], row["policy"], change, paint(row["trend"]), paint(row["baseline_verdict"]),
                          paint(row["audit_verdict"]), row["diagnosis"])
        console.print(table)
        for sentence in result.stated_test():
            console.print(f"  {sentence}", highlight=False)
        for fam in result.families:
            for sentence in fam.headline().sentences:
                console.print(f"  {sentence}", highlight=False)
        console.print(f"Report: {result.report}  ({result.elapsed_s:.0f} s; claims and numbers in demo.json)")
