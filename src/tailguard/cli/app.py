"""Entry point of the ``tailguard`` console script.

Only typer is imported here and in the command modules' top level; each command
imports the library it needs when it runs, so ``tailguard --help`` stays fast.
Every :class:`~tailguard.errors.TailguardError` becomes one line on stderr and
exit code 2 (``--debug`` shows the traceback instead).
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from tailguard.cli import audit, demo, ledger, mix, simulate, upgrade, yolo
from tailguard.cli.state import state

app = typer.Typer(
    name="tailguard",
    help="Keep ML models from collapsing when they learn from machine-made data.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
)


@app.callback()
def _global_options(
    ledger_url: Annotated[
        str | None,
        typer.Option(
            "--ledger",
            envvar="TAILGUARD_LEDGER",
            help="Ledger URL (sqlite:///path.db or postgresql://...). Default: sqlite:///.tailguard/ledger.db",
        ),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks instead of one-line errors.")] = False,
) -> None:
    state.ledger_url = ledger_url
    state.debug = debug


for _module in (ledger, audit, mix, simulate, demo, yolo, upgrade):
    _module.register(app)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code (the console script exits with it)."""
    from tailguard.errors import TailguardError

    try:
        app(args=argv, prog_name="tailguard")  # standalone: usage errors exit 2 by themselves
        code = 0
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except TailguardError as exc:
        if state.debug:
            raise
        typer.echo(f"error: {exc}", err=True)
        code = 2
    if argv is None:
        sys.exit(code)
    return code


if __name__ == "__main__":  # pragma: no cover
    main()
