"""``tailguard upgrade``: migrate a ledger written by an older tailguard in place (a backup is kept)."""

from __future__ import annotations

import typer


def upgrade() -> None:
    """Migrate the ledger to this tailguard's schema in place; a backup is written first.

    Example: tailguard --ledger sqlite:///.tailguard/ledger.db upgrade
    """
    from tailguard.cli.state import state
    from tailguard.ledger.upgrade import upgrade_ledger

    report = upgrade_ledger(state.resolved_ledger_url())
    if report.already_current:
        typer.echo(f"ledger {report.url} is already at schema {report.to_schema}; nothing to do")
        return
    typer.echo(f"upgraded ledger {report.url}: schema {report.from_schema} -> {report.to_schema} in "
               f"{report.seconds:.2f} s ({report.n_versions} versions, {report.n_members} members, "
               f"{report.n_samples} samples)")
    typer.echo(f"backup: {report.backup}")
    for note in report.notes:
        typer.echo(f"note: {note}")


def register(app: typer.Typer) -> None:
    """Attach this module's command to the top-level app."""
    app.command("upgrade")(upgrade)
