"""CLI commands ``tailguard audits list`` and ``tailguard audits show ID``: audits recorded in the ledger.

``audit --record`` and ``monitor --record`` store audits (see :mod:`tailguard.audit.record`).
``list`` shows one line per audit, oldest first; ``show`` prints the stored metric table,
diagnosis and verdict as ``audit`` printed them, and ``--html OUT`` re-renders ``report.html``
(and ``report.json``) from the stored result: nothing is recomputed. Both only read: on a
missing ledger they fail with one line and create nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

audits_app = typer.Typer(help="Audits recorded with 'audit --record' or 'monitor --record'.",
                         no_args_is_help=True, rich_markup_mode=None)


@audits_app.command("list")
def audits_list(
    reference: Annotated[str | None, typer.Option("--reference", "-r", help="Only audits against this reference "
                                                  "(its name as recorded).")] = None,
    candidate: Annotated[str | None, typer.Option("--candidate", "-c", help="Only audits of this candidate.")] = None,
    last: Annotated[int | None, typer.Option("--last", min=1, help="Only the last N of them (a monitor records "
                                             "one per window).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the audits as JSON.")] = False,
) -> None:
    """List recorded audits, oldest first: id, time, candidate, reference, verdict, diagnosis, flagged rows.

    Example: tailguard audits list --reference docs-human
    """
    from rich.console import Console

    from tailguard.cli.output import plain, to_json
    from tailguard.cli.state import state

    with state.open_ledger(create=False) as ledger:
        found = ledger.audits(reference=reference, candidate=candidate)
    if last is not None:
        found = found[-last:]
    if as_json:
        typer.echo(to_json(found))
        return
    if not found:
        which = " matching the filters" if reference is not None or candidate is not None else ""
        typer.echo(f"no recorded audits{which} (audit --record or monitor --record add them)")
        return
    from rich import box
    from rich.table import Table

    # the terminal's width (COLUMNS when piped, 80 by default), as the audit table: legible at 80 columns
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True)
    for header in ("id", "recorded (UTC)", "candidate", "reference", "verdict", "diagnosis", "flagged"):
        if header in ("candidate", "reference"):  # long paths fold onto more lines, never cut
            table.add_column(header, overflow="fold")
        else:
            table.add_column(header, no_wrap=True)
    for a in found:
        flagged = sum(a.status_counts.get(s, 0) for s in ("warn", "collapse"))
        n_rows = sum(a.status_counts.values())
        table.add_row(*plain(a.id, f"{a.created_at:%Y-%m-%d %H:%M}", a.candidate,
                             a.reference + (f" (base {a.baseline})" if a.baseline else ""), a.verdict,
                             a.diagnosis, f"{flagged}/{n_rows}"))
    Console(highlight=False).print(table)


@audits_app.command("show")
def audits_show(
    audit_id: Annotated[str, typer.Argument(help="Audit id as 'audits list' shows it (7 or audit:7).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the stored report.json.")] = False,
    html: Annotated[Path | None, typer.Option("--html", help="Write report.html and report.json of the stored "
                                              "audit into this folder (nothing is recomputed).")] = None,
) -> None:
    """One recorded audit: its metric table, diagnosis and verdict, as stored.

    Example: tailguard audits show 3 --html audit-3
    """
    from tailguard.audit.record import load_audit, parse_audit_id
    from tailguard.cli.audit import print_table
    from tailguard.cli.state import state

    number = parse_audit_id(audit_id)
    with state.open_ledger(create=False) as ledger:
        report = load_audit(ledger, number)
    written = report.write(html) if html is not None else None
    if as_json:
        typer.echo(report.to_json())
        return
    print_table(report)  # as 'audit' prints it
    if written is not None:
        typer.echo(f"report: {written[1]} (JSON: {written[0]})")


def register(app: typer.Typer) -> None:
    """Attach this module's commands to the top-level app."""
    app.add_typer(audits_app, name="audits")
