"""CLI command: ``tailguard serve [--host 127.0.0.1] [--port 8765]``, the local read-only dashboard.

It opens the ledger without creating it and binds 127.0.0.1 unless told otherwise; a missing
or bad ledger, a taken port or an unknown host is one line and exit code 2, before anything is
served. Needs the ``serve`` extra (fastapi, uvicorn).
"""

from __future__ import annotations

from typing import Annotated

import typer


def serve_command(
    host: Annotated[str, typer.Option("--host", help="Address to listen on (127.0.0.1: this machine only).")
                    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on (0: a free one, printed).")] = 8765,
) -> None:
    """Serve a read-only dashboard of the ledger: versions, diffs, lineage, audit history, runs.

    Example: tailguard serve --port 8765
    """
    from tailguard.cli.state import state
    from tailguard.serve.server import serve

    def ready(url: str) -> None:
        typer.echo(f"serving the ledger {state.resolved_ledger_url()} at {url} (Ctrl+C stops)")

    serve(state.resolved_ledger_url(), host=host, port=port, on_ready=ready)


def register(app: typer.Typer) -> None:
    """Attach this module's commands to the top-level app."""
    app.command("serve")(serve_command)
