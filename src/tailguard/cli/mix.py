"""CLI commands: ``tailguard mix`` (compose a version under a policy) and ``tailguard gate`` (judge one).

Only typer is imported at module level; the policy and ledger code load when a command runs.
A refused gate is a :class:`~tailguard.errors.GateRefusedError`: one ``error: NAME: gate refused: ...``
line, exit code 4.
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from tailguard.cli.engine_options import EngineOption, RayAddressOption, WorkersOption, make_engine


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
    allow_no_human: Annotated[
        bool, typer.Option("--allow-no-human", help="Permit a mix without human data (recorded in the version).")
    ] = False,
    embedder: Annotated[
        str | None, typer.Option("--embedder", help="Features for filter/tail-preserve (hashed, minilm, pixels).")
    ] = None,
    description: Annotated[str, typer.Option("--description", help="Stored with the version.")] = "",
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    engine: EngineOption = None,
    ray_address: RayAddressOption = None,
    workers: WorkersOption = None,
) -> None:
    """Compose a new version from ledger versions under a policy; every excluded sample is recorded.

    The gate runs before anything is written: a mix without human data (unless --allow-no-human),
    whose human fraction is below the policy's minimum (anchor:F), whose unknown-origin share is
    above --max-unknown, or whose synthetic depth is above --max-depth is refused with the numbers
    (exit code 4), and no version is created.

    Example: tailguard mix --policy accumulate+anchor:0.2 --human h0 --synthetic g1 --synthetic g2 --as-version train-3
    """
    import sys

    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from tailguard.cli.state import state
    from tailguard.engines import use_engine
    from tailguard.policy import mix as run_mix
    from tailguard.policy import parse_policy

    spec = parse_policy(policy)  # fail fast on a bad spec, before opening the ledger
    show = sys.stderr.isatty() and not as_json
    with (
        make_engine(engine, ray_address, workers) as runner,  # the filter's cross-fitted folds run on it
        use_engine(runner),
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
            allow_no_human=allow_no_human,
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
    for note in report.gate.notes:
        typer.echo(f"gate note: {note} (recorded in the version's extra)")


class FailOn(StrEnum):
    warn = "warn"
    collapse = "collapse"


def gate(
    version: Annotated[str, typer.Argument(help="Version to judge (default: $TAILGUARD_GATE_VERSION).",
                                           envvar="TAILGUARD_GATE_VERSION", show_envvar=False, metavar="VERSION")],
    policy: Annotated[
        str | None, typer.Option("--policy", help="Policy whose limits apply (default: the one the mix recorded).")
    ] = None,
    max_unknown: Annotated[float | None, typer.Option("--max-unknown", help="Largest unknown-origin share.")] = None,
    max_depth: Annotated[int | None, typer.Option("--max-depth", help="Largest synthetic depth.")] = None,
    allow_no_human: Annotated[
        bool, typer.Option("--allow-no-human", help="Permit a version without human data (not inherited from mix).")
    ] = False,
    reference: Annotated[
        str | None,
        typer.Option("--reference", "-r", envvar="TAILGUARD_GATE_REFERENCE", show_envvar=False,
                     help="Human reference (version or path): audit the version against it "
                          "(default: $TAILGUARD_GATE_REFERENCE)."),
    ] = None,
    fail_on: Annotated[
        FailOn, typer.Option("--fail-on", help="With --reference: refuse when the verdict reaches this status.")
    ] = FailOn.collapse,
    quick: Annotated[bool, typer.Option("--quick", help="With --reference: skip the expensive metrics.")] = False,
    out: Annotated[
        Path | None, typer.Option("--out", help="With --reference: write report.json and report.html here.")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the audit's subsamples.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the decision as JSON.")] = False,
    engine: EngineOption = None,
    ray_address: RayAddressOption = None,
    workers: WorkersOption = None,
) -> None:
    """Check a version against the gate before training: exit 0 when it passes, 4 when refused.

    With --reference the version is also audited against that human data; the gate refuses
    when the verdict reaches --fail-on (default collapse) or is insufficient (too little could
    be measured: a gate never passes what it did not check). Use human data the mix was not
    made from: a mix that holds its reference reads as copies of it.

    Example: tailguard gate train-3 --policy accumulate+anchor:0.2 --reference human-holdout --fail-on warn
    """
    from tailguard.cli.state import state
    from tailguard.errors import ParameterError
    from tailguard.policy import check_gate

    if reference is None and (out is not None or quick):
        raise ParameterError("--out and --quick configure the gate's audit: pass --reference too")
    config = None
    if quick:
        from tailguard.audit import AuditConfig

        config = AuditConfig(quick=True)
    from tailguard.engines import use_engine

    with (
        make_engine(engine, ray_address, workers) as runner,  # the gate's audit runs on it
        use_engine(runner),
        state.open_ledger(create=False) as ledger,  # judging never creates a ledger
    ):
        decision = check_gate(
            ledger, version, policy=policy, max_unknown_fraction=max_unknown, max_synthetic_depth=max_depth,
            allow_no_human=allow_no_human, reference=reference, fail_on=fail_on.value, audit_config=config,
            seed=seed,
        )
    if out is not None and decision.audit is not None:
        decision.audit.report.candidate, decision.audit.report.reference = version, reference
        decision.audit.report.write(out)
    if as_json:
        typer.echo(json.dumps(decision.to_dict(), indent=2))
    else:
        s = decision.stats
        typer.echo(
            f"version {version!r}: {s.n} samples, human {s.human_fraction:.1%}, unknown {s.unknown_fraction:.1%}, "
            f"max synthetic depth {s.max_synthetic_depth}"
        )
        check = decision.audit
        if check is not None:
            flagged = ", ".join(f"{m} {st}" for m, st in check.flagged) or "none"
            typer.echo(f"audit against {check.reference}: verdict {check.verdict} "
                       f"(--fail-on {check.fail_on}; metrics at or above it: {flagged})")
            if out is not None:
                typer.echo(f"audit report: {out / 'report.html'}")
        for note in decision.notes:
            typer.echo(f"note: {note}")
    decision.raise_if_refused(version=version)
    if not as_json:
        # say what passed: without --reference only provenance was checked, never the data itself
        checked = "provenance and the audit" if decision.audit is not None else (
            "provenance only; the data was not audited: pass --reference to refuse on its verdict")
        typer.echo(f"gate: ok ({checked})")


def register(app: typer.Typer) -> None:
    """Attach this module's commands to the top-level app."""
    app.command("mix")(mix)
    app.command("gate")(gate)
