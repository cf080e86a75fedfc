"""CLI commands: ``tailguard mix`` (compose a version under a policy) and ``tailguard gate`` (judge one).

Only typer is imported at module level; the policy and ledger code load when a command runs.
A refused gate is a :class:`~tailguard.errors.GateRefusedError`: one ``error:`` line, exit code 2.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer


def mix(
    policy: Annotated[str, typer.Option("--policy", help="Policy spec, e.g. accumulate+anchor:0.2+filter.")],
    human: Annotated[list[str], typer.Option("--human", help="Human version (the reference); repeatable.")],
    as_version: Annotated[str, typer.Option("--as-version", help="Name of the new version.")],
    synthetic: Annotated[
        list[str] | None, typer.Option("--synthetic", help="Synthetic/pseudo-label version to mix in; repeatable.")
    ] = None,
    fresh: Annotated[str | None, typer.Option("--fresh", help="Version fresh:F draws new human data from.")] = None,
    target_size: Annotated[
        int | None, typer.Option("--target-size", min=1, help="Training-set size (replace, accumulate-subsample).")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of every random draw.")] = 0,
    max_unknown: Annotated[
        float | None, typer.Option("--max-unknown", help="Gate: largest allowed unknown-origin share, e.g. 0.05.")
    ] = None,
    max_depth: Annotated[int | None, typer.Option("--max-depth", help="Gate: largest allowed synthetic depth.")] = None,
    embedder: Annotated[
        str | None, typer.Option("--embedder", help="Features for filter/tail-preserve (hashed, minilm, pixels).")
    ] = None,
    description: Annotated[str, typer.Option("--description", help="Stored with the version.")] = "",
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Compose a new version from ledger versions under a policy; every excluded sample is recorded.

    The gate runs before anything is written: a mix whose human fraction is below the policy's
    minimum (anchor:F), whose unknown-origin share is above --max-unknown, or whose synthetic depth
    is above --max-depth is refused with the numbers, and no version is created.

    Example: tailguard mix --policy accumulate+anchor:0.2 --human h0 --synthetic g1 --synthetic g2 --as-version train-3
    """
    import sys

    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from tailguard.cli.state import state
    from tailguard.policy import mix as run_mix
    from tailguard.policy import parse_policy

    spec = parse_policy(policy)  # fail fast on a bad spec, before opening the ledger
    show = sys.stderr.isatty() and not as_json
    with (
        state.open_ledger(create=True) as ledger,
        Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            disable=not show,
            transient=True,
        ) as bar,
    ):
        task = bar.add_task("mix", total=None)
        report = run_mix(
            ledger,
            spec,
            human=human,
            synthetic=synthetic or [],
            fresh=fresh,
            as_version=as_version,
            target_size=target_size,
            seed=seed,
            max_unknown_fraction=max_unknown,
            max_synthetic_depth=max_depth,
            embedder=embedder,
            description=description,
            progress=lambda phase: bar.update(task, description=f"mix: {phase}"),
        )
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=2))
        return
    s = report.stats
    typer.echo(
        f"version {report.version!r} created under {report.policy}: {s.n} samples "
        f"(human {s.human_fraction:.1%}, unknown {s.unknown_fraction:.1%}, max synthetic depth "
        f"{s.max_synthetic_depth}); {report.n_excluded} excluded of {report.n_candidates} candidates"
    )
    for reason, count in sorted(report.reason_counts.items(), key=lambda kv: -kv[1]):
        typer.echo(f"  excluded {count:>8}  {reason}")


def gate(
    version: Annotated[str, typer.Argument(help="Version to judge.")],
    policy: Annotated[
        str | None, typer.Option("--policy", help="Policy whose limits apply (default: the one the mix recorded).")
    ] = None,
    max_unknown: Annotated[float | None, typer.Option("--max-unknown", help="Largest unknown-origin share.")] = None,
    max_depth: Annotated[int | None, typer.Option("--max-depth", help="Largest synthetic depth.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the decision as JSON.")] = False,
) -> None:
    """Check a version against the gate before training: exit 0 when it passes, 2 when refused.

    Example: tailguard gate train-3 --policy accumulate+anchor:0.2 --max-unknown 0.05
    """
    from tailguard.cli.state import state
    from tailguard.policy import check_gate

    with state.open_ledger(create=False) as ledger:  # judging never creates a ledger
        decision = check_gate(
            ledger, version, policy=policy, max_unknown_fraction=max_unknown, max_synthetic_depth=max_depth
        )
    if as_json:
        typer.echo(json.dumps(decision.to_dict(), indent=2))
    else:
        s = decision.stats
        typer.echo(
            f"version {version!r}: {s.n} samples, human {s.human_fraction:.1%}, unknown {s.unknown_fraction:.1%}, "
            f"max synthetic depth {s.max_synthetic_depth}"
        )
    decision.raise_if_refused(version=version)
    if not as_json:
        typer.echo("gate: ok")


def register(app: typer.Typer) -> None:
    """Attach this module's commands to the top-level app."""
    app.command("mix")(mix)
    app.command("gate")(gate)
