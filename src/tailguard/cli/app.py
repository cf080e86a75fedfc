"""Entry point of the ``tailguard`` console script.

Only typer is imported here and in the command modules' top level; each command
imports the library it needs when it runs, so ``tailguard --help`` stays fast.
Every :class:`~tailguard.errors.TailguardError` becomes one line on stderr and
exit code 2, or 4 for a :class:`~tailguard.errors.GateRefusedError` (``--debug``
shows the traceback instead). ``audit --fail-on`` exits 3 by itself.

``--plugin MODULE`` (repeatable) imports a module, or a ``.py`` file, that registers
families, policy steps or metrics before the command runs (:mod:`tailguard.plugins`).

The global options ``--ledger URL``, ``--plugin MODULE`` and ``--debug`` may also follow the subcommand
(``tailguard version list --ledger sqlite:///x.db``): :func:`hoist_global_options`
moves them in front of it before typer parses the line.

>>> hoist_global_options(["version", "list", "--ledger=sqlite:///x.db", "--", "--debug"])
['--ledger=sqlite:///x.db', 'version', 'list', '--', '--debug']
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Annotated

import typer

from tailguard.cli import (
    audit,
    audits,
    demo,
    ledger,
    mix,
    mlflow_log,
    monitor,
    runs,
    score,
    serve,
    simulate,
    upgrade,
    yolo,
)
from tailguard.cli.state import state

GLOBAL_FLAGS = ("--debug",)
"""Global options without a value (they may stand anywhere before a literal ``--``)."""
GLOBAL_VALUE_OPTIONS = ("--ledger", "--plugin")
"""Global options with a value: ``--ledger URL`` or ``--ledger=URL`` (and ``--plugin``)."""

app = typer.Typer(
    name="tailguard",
    help="Keep ML models from collapsing when they learn from machine-made data.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode=None,
)


def package_version() -> str:
    """The installed distribution's version, else the source tree's ``tailguard.__version__``."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("tailguard")
    except PackageNotFoundError:
        import tailguard

        return tailguard.__version__


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"tailguard {package_version()}")
        raise typer.Exit()


@app.callback()
def _global_options(
    ledger_url: Annotated[
        str | None,
        typer.Option(
            "--ledger",
            envvar="TAILGUARD_LEDGER",
            help="Ledger URL (sqlite:///path.db or postgresql://...). Default: sqlite:///.tailguard/ledger.db. "
            "May also follow the command.",
        ),
    ] = None,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show tracebacks instead of one-line errors (anywhere on the line).")
    ] = False,
    plugin: Annotated[
        list[str] | None,
        typer.Option(
            "--plugin",
            help="Import MODULE (a module name or a .py file) before the command, so the families, policy "
            "steps and metrics it registers can be named. Repeatable; may also follow the command.",
        ),
    ] = None,
    show_version: Annotated[
        bool,
        typer.Option("--version", is_eager=True, callback=_print_version, help="Print the version and exit."),
    ] = False,
) -> None:
    state.ledger_url = ledger_url
    state.debug = debug
    if plugin:
        from tailguard.plugins import load_plugins

        load_plugins(plugin)


for _module in (ledger, runs, audit, audits, monitor, serve, score, mix, simulate, demo, yolo, upgrade, mlflow_log):
    _module.register(app)


def hoist_global_options(argv: Sequence[str]) -> list[str]:
    """Move ``--ledger URL``, ``--ledger=URL``, ``--plugin MODULE`` and ``--debug`` to the front of ``argv``.

    Typer parses the app's own options only before the subcommand; no subcommand has
    options of these names (a test checks that), so moving them changes no meaning.
    Scanning stops at a literal ``--``: what follows it is left as it is.
    """
    front: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            rest.extend(argv[i:])
            break
        if arg in GLOBAL_VALUE_OPTIONS:
            front.extend(argv[i : i + 2])  # a missing value is left for typer to report
            i += 2
            continue
        if arg in GLOBAL_FLAGS or any(arg.startswith(f"{name}=") for name in GLOBAL_VALUE_OPTIONS):
            front.append(arg)
        else:
            rest.append(arg)
        i += 1
    return front + rest


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and return its exit code (the console script exits with it)."""
    from tailguard.errors import GateRefusedError, TailguardError

    args = hoist_global_options(sys.argv[1:] if argv is None else argv)
    state.ledger_url, state.debug = None, False  # the callback sets both; nothing stays from an earlier call
    try:
        # not standalone: a usage error comes back here, to be said in one line like every other bad input
        result = app(args=args, prog_name="tailguard", standalone_mode=False)
        code = result if isinstance(result, int) and not isinstance(result, bool) else 0  # typer.Exit's code
    except TailguardError as exc:
        if state.debug:
            raise
        typer.echo(f"error: {exc}", err=True)
        code = 4 if isinstance(exc, GateRefusedError) else 2
    except Exception as exc:
        # typer's parser errors (UsageError and its kin) are not public names: known by their class names
        kinds = {cls.__name__ for cls in type(exc).__mro__}
        if state.debug or not kinds & {"UsageError", "ClickException", "Abort"}:
            raise
        if "Abort" in kinds:
            typer.echo("aborted", err=True)
            code = 1
        elif "NoArgsIsHelpError" in kinds:  # a bare command: its help, as standalone typer shows it
            typer.echo(exc.format_message())  # type: ignore[attr-defined]
            code = int(getattr(exc, "exit_code", 2))
        else:
            ctx = getattr(exc, "ctx", None)
            where = f" (see '{ctx.command_path} --help')" if "UsageError" in kinds and ctx is not None else ""
            typer.echo(f"error: {exc.format_message()}{where}", err=True)  # type: ignore[attr-defined]
            code = int(getattr(exc, "exit_code", 2))
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    if argv is None:
        sys.exit(code)
    return code


if __name__ == "__main__":  # pragma: no cover
    main()
