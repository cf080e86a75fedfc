"""CLI commands of the provenance ledger: init, ingest, version, lineage, export.

Only typer is imported at module level; each command imports the ledger when it runs.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from tailguard.ledger import Ledger


def _open() -> Ledger:
    from tailguard.cli.state import state
    from tailguard.ledger import Ledger

    return Ledger.open(state.resolved_ledger_url())


def _console() -> Any:
    from rich.console import Console

    return Console(highlight=False, soft_wrap=True)


def _dump(value: Any) -> str:
    import dataclasses

    def default(obj: Any) -> Any:
        if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            return dataclasses.asdict(obj)
        return str(obj)

    return json.dumps(value, default=default, indent=2, sort_keys=False)


def init() -> None:
    """Create the ledger (SQLite file or PostgreSQL schema) if it does not exist."""
    with _open() as ledger:
        typer.echo(f"ledger ready: {ledger.url} ({ledger.count_samples()} samples, "
                   f"{len(ledger.list_versions())} versions)")


def ingest(
    path: Annotated[str, typer.Argument(help="File or folder to ingest.")],
    format: Annotated[str, typer.Option("--format", help="auto|yolo|images|jsonl|csv|parquet|npy")] = "auto",
    origin: Annotated[
        str | None, typer.Option("--origin", help="human|synthetic|pseudo_label|unknown (claimed for every item)")
    ] = None,
    generator: Annotated[str | None, typer.Option("--generator", help="Model that generated the data.")] = None,
    generation: Annotated[int | None, typer.Option("--generation", help="Generation number (human = 0).")] = None,
    verified_by: Annotated[str | None, typer.Option("--verified-by", help="Who verified the data.")] = None,
    as_version: Annotated[str | None, typer.Option("--as-version", help="Also create this version.")] = None,
    skip_bad: Annotated[bool, typer.Option("--skip-bad", help="Skip bad items (recorded) instead of failing.")] = False,
    text_column: Annotated[
        str | None, typer.Option("--text-column", help="CSV/Parquet column whose cells are text samples "
                                                       "(default: a column named 'text'; '' for none).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Ingest a dataset atomically; origin comes from --origin, per-record fields or file evidence.

    Example: tailguard ingest data/coco8/data.yaml --origin human --as-version coco-v1
    """
    import sys

    from tailguard.ledger.ingest import run_ingest

    with _open() as ledger:
        report = run_ingest(ledger, path, format=format, origin=origin, generator=generator, generation=generation,
                            verified_by=verified_by, as_version=as_version, skip_bad=skip_bad,
                            progress=sys.stderr.isatty() and not as_json, text_column=text_column)
    if as_json:
        data = {k: v for k, v in report.__dict__.items() if k != "sample_ids"} | {"n_samples": len(report.sample_ids)}
        typer.echo(_dump(data))
        return
    typer.echo(f"ingested {path}: {report.added} added, {report.existing} already present, "
               f"{len(report.skipped)} skipped, {len(report.conflicts)} conflicts"
               + (f"; version {report.version!r} created" if report.version else ""))
    for item in report.skipped:
        typer.echo(f"skipped {item.reason}")
    for c in report.conflicts:
        typer.echo(f"conflict [{c.kind}] {c.sample_id[:12]}: {c.detail}")


version_app = typer.Typer(help="Immutable dataset versions: create, list, show, diff, verify.",
                          no_args_is_help=True, rich_markup_mode=None)


@version_app.command("create")
def version_create(
    name: Annotated[str, typer.Argument(help="New version name (immutable).")],
    selectors: Annotated[
        list[str], typer.Option("--from", help="Selector (repeatable): version:NAME origin:human generation:<=2 "
                                               "source:PATH. Same key OR'ed, different keys AND'ed.")
    ],
    description: Annotated[str, typer.Option("--description", help="Free text.")] = "",
) -> None:
    """Create a version from selectors.

    Example: tailguard version create clean --from version:raw --from origin:human
    """
    with _open() as ledger:
        info = ledger.create_version(name, selectors, description=description)
    typer.echo(f"version {info.name!r} created with {info.n_members} samples")


@version_app.command("list")
def version_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List every version, oldest first."""
    with _open() as ledger:
        infos = ledger.list_versions()
    if as_json:
        typer.echo(_dump(infos))
        return
    if not infos:
        typer.echo("no versions yet (create one with `tailguard version create NAME --from origin:human`)")
        return
    from rich.table import Table

    table = Table("name", "members", "created", "description")
    for info in infos:
        table.add_row(info.name, str(info.n_members), info.created_at.strftime("%Y-%m-%d %H:%M:%S"),
                      info.description)
    _console().print(table)


@version_app.command("show")
def version_show(
    name: Annotated[str, typer.Argument(help="Version name.")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Counts by origin, generation and class; synthetic depth; provenance conflicts."""
    with _open() as ledger:
        info = ledger.get_version(name)
        summary = ledger.version_summary(name)
        names = ledger.class_names(name)
    if as_json:
        typer.echo(_dump({"version": info, "summary": summary, "class_names": names}))
        return
    out = [f"version {info.name}: {summary.n} samples (created {info.created_at:%Y-%m-%d %H:%M:%S})"]
    out.append("by origin: " + ", ".join(f"{k} {v}" for k, v in summary.by_origin.items()))
    out.append(f"human fraction {summary.human_fraction:.3f}, unknown fraction {summary.unknown_fraction:.3f}, "
               f"max synthetic depth {summary.max_synthetic_depth}")
    out.append("by generation: " + ", ".join(f"{'?' if k is None else k}: {v}"
                                             for k, v in summary.by_generation.items()))
    if summary.by_class:
        out.append("boxes by class: " + ", ".join(
            f"{names[k] if k < len(names) else k} {v}" for k, v in summary.by_class.items()))
    out.append(f"conflicts: {len(summary.conflicts)}")
    out.extend(f"  [{c.kind}] {c.sample_id[:12]}: {c.detail}" for c in summary.conflicts)
    typer.echo("\n".join(out))


@version_app.command("diff")
def version_diff(
    a: Annotated[str, typer.Argument(help="Old version.")],
    b: Annotated[str, typer.Argument(help="New version.")],
    limit: Annotated[int, typer.Option("--limit", help="Ids to list per section.")] = 20,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Samples added, removed and whose origin changed from A to B."""
    with _open() as ledger:
        d = ledger.diff(a, b)
    if as_json:
        typer.echo(_dump(d))
        return
    typer.echo(f"{a} -> {b}: {len(d.added)} added, {len(d.removed)} removed, "
               f"{len(d.origin_changed)} origin changes")
    for sid in d.added[:limit]:
        typer.echo(f"+ {sid}")
    for sid in d.removed[:limit]:
        typer.echo(f"- {sid}")
    for ch in d.origin_changed[:limit]:
        typer.echo(f"~ {ch.sample_id}: {ch.before} -> {ch.after}")


@version_app.command("verify")
def version_verify(name: Annotated[str, typer.Argument(help="Version name.")]) -> None:
    """Rehash every member's bytes; exit 2 naming missing or changed files."""
    import sys

    from tailguard.errors import LedgerError

    with _open() as ledger:
        total = ledger.get_version(name).n_members
        if sys.stderr.isatty():
            from rich.progress import Progress

            with Progress(transient=True) as bar:
                task = bar.add_task(f"verify {name}", total=total)
                report = ledger.verify(name, progress=lambda n: bar.advance(task, n))
        else:
            report = ledger.verify(name)
    for p in report.missing:
        typer.echo(f"missing {p.uri or p.sample_id}: {p.reason}")
    for p in report.changed:
        typer.echo(f"changed {p.uri or p.sample_id}: {p.reason} (recorded {p.sample_id})")
    if not report.passed:
        raise LedgerError(f"version {name!r} failed verification: {report.ok} ok, {len(report.missing)} missing, "
                          f"{len(report.changed)} changed")
    typer.echo(f"version {name!r} verified: {report.ok} samples ok")


def lineage(
    target: Annotated[str, typer.Argument(help="Sample id (or unique prefix) or version name.")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Ancestry of a sample or version, with each sample's synthetic depth."""
    with _open() as ledger:
        graph = ledger.lineage(target)
    if as_json:
        typer.echo(_dump(graph))
        return
    from rich.tree import Tree

    nodes = {n.id: n for n in graph.nodes}
    parents: dict[str, list[tuple[str, str]]] = {}
    for e in graph.edges:
        parents.setdefault(e.child, []).append((e.parent, e.relation))

    def label(node_id: str, relation: str | None) -> str:
        n = nodes.get(node_id)
        text = f"{node_id[:40]}  {n.label if n else ''}"
        if n is not None and n.synthetic_depth is not None:
            text += f"  [depth {n.synthetic_depth}]"
        return f"{relation}: {text}" if relation else text

    root_id = f"version:{graph.target}" if graph.kind == "version" else graph.target
    tree = Tree(label(root_id, None))

    def grow(branch: Any, node_id: str, seen: frozenset[str]) -> None:
        for parent, relation in parents.get(node_id, []):
            child = branch.add(label(parent, relation))
            if parent not in seen:
                grow(child, parent, seen | {parent})

    grow(tree, root_id, frozenset({root_id}))
    console = _console()
    console.print(tree)
    if graph.depth_histogram:
        console.print("synthetic depth: " + ", ".join(f"{d}: {n}" for d, n in graph.depth_histogram.items()))


def export(
    version: Annotated[str, typer.Argument(help="Version to export.")],
    out: Annotated[str, typer.Option("--out", help="Output folder (nothing is written outside it).")],
    format: Annotated[str, typer.Option("--format", help="yolo|jsonl|parquet")] = "yolo",
    origins: Annotated[str, typer.Option("--origins", help="Label origins to write, comma-separated.")] = "human",
    both: Annotated[str, typer.Option("--both", help="prefer-human|merge|skip when an image has several")] = (
        "prefer-human"
    ),
) -> None:
    """Export a version: YOLO data.yaml + image lists + labels, or JSONL, or Parquet.

    Example: tailguard export coco-v1 --format yolo --out exported/ && yolo train data=exported/data.yaml
    """
    import sys

    chosen = tuple(o.strip() for o in origins.split(",") if o.strip())
    with _open() as ledger:
        if sys.stderr.isatty():
            from rich.progress import Progress

            with Progress(transient=True) as bar:
                task = bar.add_task(f"export {version}", total=ledger.get_version(version).n_members)
                target = ledger.export(version, format, out, origins=chosen, both=both,
                                       progress=lambda n: bar.advance(task, n))
        else:
            target = ledger.export(version, format, out, origins=chosen, both=both)
    typer.echo(f"exported {version!r} as {format}: {target}")


def register(app: typer.Typer) -> None:
    """Attach this module's commands to the top-level app."""
    app.command("init")(init)
    app.command("ingest")(ingest)
    app.add_typer(version_app, name="version")
    app.command("lineage")(lineage)
    app.command("export")(export)
