"""CLI commands of the provenance ledger: init, ingest, version, lineage, export.

Commands that only read (``version list/show/diff/verify``, ``lineage``, ``export``) open
the ledger with ``create=False``: on a missing one they fail with one line and create nothing.

Only typer is imported at module level; each command imports the ledger when it runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from tailguard.ledger import Ledger

#: the built-in ingest formats (tailguard.ledger.ingest.formats.BUILTIN_INGEST_FORMATS: a test keeps them equal),
#: written out so that --help does not import the ledger
BUILTIN_INGEST_NAMES = ("yolo", "images", "jsonl", "csv", "parquet", "npy", "hf", "ultralytics-ndjson")
INGEST_FORMAT_HELP = ("auto|" + "|".join(BUILTIN_INGEST_NAMES) + " or a plug-in's format (--plugin, entry points "
                      "'tailguard.ingest_formats'). hf: a datasets save_to_disk folder, or a local "
                      ".parquet/.json/.jsonl/.csv/.txt read by datasets")
#: the built-in export formats (tailguard.ledger.export.formats.BUILTIN_EXPORT_FORMATS: a test keeps them equal)
BUILTIN_EXPORT_NAMES = ("yolo", "jsonl", "parquet", "csv", "hf", "croissant", "ultralytics-ndjson")
EXPORT_FORMAT_HELP = ("|".join(BUILTIN_EXPORT_NAMES) + " or a plug-in's format (--plugin, entry points "
                      "'tailguard.export_formats')")


def _open(create: bool = True) -> Ledger:
    """The ledger of ``--ledger``; with ``create=False`` (commands that only read) a missing one is an error."""
    from tailguard.cli.state import state

    return state.open_ledger(create=create)


def _console() -> Any:
    from tailguard.cli.output import make_console

    return make_console()


def _dump(value: Any) -> str:
    from tailguard.cli.output import to_json

    return to_json(value)


def init() -> None:
    """Create the ledger (SQLite file or PostgreSQL schema) if it does not exist."""
    from tailguard.ledger.urls import redact_url

    with _open() as ledger:
        typer.echo(f"ledger ready: {redact_url(ledger.url)} ({ledger.count_samples()} samples, "
                   f"{len(ledger.list_versions())} versions)")


def ingest(
    path: Annotated[str, typer.Argument(help="File or folder to ingest.")],
    format: Annotated[str, typer.Option("--format", help=INGEST_FORMAT_HELP)] = "auto",
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
    task: Annotated[
        str | None, typer.Option("--task", help="YOLO datasets: detect|segment|classify|pose|obb (default: "
                                                "data.yaml's task, kpt_shape means pose, a train/<class>/ tree "
                                                "classify, else read from the label lines).")
    ] = None,
    origin_column: Annotated[
        str | None, typer.Option("--origin-column", help="--format hf: column of each row's origin (default: "
                                                         "tg_origin or origin when present; '' for none).")
    ] = None,
    generator_column: Annotated[
        str | None, typer.Option("--generator-column", help="--format hf: column of each row's generator, e.g. "
                                                            "distilabel's model_name (default: tg_generator or "
                                                            "generator).")
    ] = None,
    generation_column: Annotated[
        str | None, typer.Option("--generation-column", help="--format hf: column of each row's generation "
                                                             "(default: tg_generation or generation).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Ingest a dataset atomically; origin comes from --origin, per-record fields or file evidence.

    Example: tailguard ingest data/coco8/data.yaml --origin human --as-version coco-v1
    """
    import sys

    with _open() as ledger:
        report = ledger.ingest(path, format=format, origin=origin, generator=generator, generation=generation,
                            verified_by=verified_by, as_version=as_version, skip_bad=skip_bad,
                            progress=sys.stderr.isatty() and not as_json, text_column=text_column, task=task,
                               origin_column=origin_column, generator_column=generator_column,
                               generation_column=generation_column)
    if as_json:
        data = {k: v for k, v in report.__dict__.items() if k != "sample_ids"} | {"n_samples": len(report.sample_ids)}
        typer.echo(_dump(data))
        return
    typer.echo(f"ingested {path}: {report.occurrences} samples; {report.added} new, {report.existing} already in "
               f"the ledger, {report.duplicates} duplicates within this source; "
               f"{len(report.skipped)} skipped, {len(report.conflicts)} conflicts"
               + (f"; version {report.version!r} created" if report.version else ""))
    for item in report.skipped:
        typer.echo(f"skipped {item.reason}")
    shown = 10  # every conflict is recorded; `version show` lists them all
    for c in report.conflicts[:shown]:
        typer.echo(f"conflict [{c.kind}] {c.sample_id[:12]}: {c.detail}")
    if len(report.conflicts) > shown:
        typer.echo(f"... and {len(report.conflicts) - shown} more conflicts (recorded; see `tailguard version show`)")


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
    typer.echo(f"version {info.name!r} created with {info.n_members} samples ({info.n_distinct} distinct)")


@version_app.command("list")
def version_list(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List every version, oldest first."""
    with _open(create=False) as ledger:
        infos = ledger.list_versions()
    if as_json:
        typer.echo(_dump(infos))
        return
    if not infos:
        typer.echo("no versions yet (create one with `tailguard version create NAME --from origin:human`)")
        return
    from rich.table import Table

    from tailguard.cli.output import plain

    table = Table("name", "samples", "distinct", "created", "description")
    for info in infos:
        table.add_row(*plain(info.name, info.n_members, info.n_distinct,
                             info.created_at.strftime("%Y-%m-%d %H:%M:%S"), info.description))
    _console().print(table)


@version_app.command("show")
def version_show(
    name: Annotated[str, typer.Argument(help="Version name.")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Counts by origin, generation and class; synthetic depth; provenance conflicts."""
    with _open(create=False) as ledger:
        info = ledger.get_version(name)
        summary = ledger.version_summary(name)
        names = ledger.class_names(name)
    if as_json:
        typer.echo(_dump({"version": info, "summary": summary, "class_names": names}))
        return
    repeats = summary.n - summary.n_distinct
    out = [f"version {info.name}: {summary.n} samples, {summary.n_distinct} distinct"
           + (f" ({repeats} repeats)" if repeats else "") + f" (created {info.created_at:%Y-%m-%d %H:%M:%S})"]
    out.append("by origin: " + ", ".join(f"{k} {v}" for k, v in summary.by_origin.items()))
    out.append(f"human fraction {summary.human_fraction:.3f}, unknown fraction {summary.unknown_fraction:.3f}, "
               f"max synthetic depth {summary.max_synthetic_depth}")
    out.append("by generation: " + ", ".join(f"{'?' if k is None else k}: {v}"
                                             for k, v in summary.by_generation.items()))
    if summary.by_class:
        origins = ", ".join(f"{k} {v}" for k, v in summary.boxes_by_origin.items())
        out.append(f"boxes by class ({origins}): " + ", ".join(
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
    """Contents added, removed, and whose origin or count changed from A to B."""
    with _open(create=False) as ledger:
        d = ledger.diff(a, b)
    if as_json:
        typer.echo(_dump(d))
        return
    typer.echo(f"{a} -> {b}: {len(d.added)} added, {len(d.removed)} removed, "
               f"{len(d.origin_changed)} origin changes, {len(d.count_changed)} count changes")
    for sid in d.added[:limit]:
        typer.echo(f"+ {sid}")
    for sid in d.removed[:limit]:
        typer.echo(f"- {sid}")
    for ch in d.origin_changed[:limit]:
        typer.echo(f"~ {ch.sample_id}: {ch.before} -> {ch.after}")
    for cc in d.count_changed[:limit]:
        typer.echo(f"# {cc.sample_id}: {cc.before} -> {cc.after} occurrences")


@version_app.command("verify")
def version_verify(name: Annotated[str, typer.Argument(help="Version name.")]) -> None:
    """Check the version's digest and rehash every content; exit 2 naming what was edited, missing or changed."""
    import sys

    from tailguard.errors import LedgerError

    with _open(create=False) as ledger:
        total = ledger.get_version(name).n_distinct
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
    if report.digest_problem:
        typer.echo(f"edited: {report.digest_problem}")
    if report.stats_problem:
        typer.echo(f"edited: {report.stats_problem}")
    if not report.passed:
        raise LedgerError(f"version {name!r} failed verification: {report.ok} ok, {len(report.missing)} missing, "
                          f"{len(report.changed)} changed"
                          + (", manifest digest differs" if report.digest_problem else "")
                          + (", stored figures differ" if report.stats_problem else ""))
    typer.echo(f"version {name!r} verified: digest ok, {report.ok} contents ok ({report.occurrences} samples)")


def lineage(
    target: Annotated[
        str,
        typer.Argument(help="Version name, model run id or sample id (or a unique id prefix; write run:ID or "
                            "sample:ID when a prefix matches both)."),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print the graph (nodes, edges, depths) as JSON.")] = False,
) -> None:
    """Ancestry of a version, a model run or a sample, with each sample's synthetic depth.

    A version's lineage also lists the models trained on it; a run's, the samples it produced.

    Example: tailguard lineage train-v2
    """
    with _open(create=False) as ledger:
        graph = ledger.lineage(target)
    if as_json:
        typer.echo(_dump(graph))
        return
    from tailguard.cli.lineage_view import print_lineage

    print_lineage(graph)


def export(
    version: Annotated[str, typer.Argument(help="Version to export.")],
    out: Annotated[str, typer.Option("--out", help="Output folder (nothing is written outside it).")],
    format: Annotated[str, typer.Option("--format", help=EXPORT_FORMAT_HELP)] = "yolo",
    origins: Annotated[str, typer.Option("--origins", help="Label origins to write, comma-separated.")] = (
        "human,pseudo_label"
    ),
    both: Annotated[str, typer.Option("--both", help="prefer-human|merge|skip when an image has several")] = (
        "prefer-human"
    ),
    link: Annotated[bool, typer.Option("--link", help="Hard-link images instead of copying them (yolo, "
                                                      "ultralytics-ndjson).")] = False,
    val_fraction: Annotated[
        float | None, typer.Option("--val-fraction", help="Val share F in (0, 1), split by a seeded hash of the "
                                                          "sample id (yolo; replaces the stored split).")
    ] = None,
    val_from: Annotated[
        str | None, typer.Option("--val-from", help="Take the val images from this version (yolo).")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the --val-fraction split.")] = 0,
    label_task: Annotated[
        str | None, typer.Option("--task", help="yolo: detect|segment|classify|pose|obb, the task whose labels "
                                                "are written (default: the one the version holds).")
    ] = None,
) -> None:
    """Export a version: YOLO data.yaml + image lists + labels, JSONL, Parquet, CSV (a tabular version's
    columns plus its provenance), a Hugging Face save_to_disk
    folder with a dataset card (hf), Parquet + Croissant 1.1 JSON-LD (croissant), the Ultralytics Platform's
    dataset NDJSON with the images (ultralytics-ndjson), or a plug-in's format (--plugin).

    Default labels: human boxes, plus pseudo-label boxes on images without human ones.
    Images are copied (--link hard-links them). A version without a val split needs
    --val-fraction F or --val-from VERSION.

    Example: tailguard export coco-v1 --format yolo --out exported/ && yolo train data=exported/data.yaml
    """
    import sys
    from pathlib import Path

    from tailguard.cli.output import warnings_as_lines
    from tailguard.ledger.export import ExportWarning, export_version

    chosen = tuple(o.strip() for o in origins.split(",") if o.strip())
    options: dict[str, Any] = {"origins": chosen, "both": both, "link": link, "val_fraction": val_fraction,
                               "val_from": val_from, "seed": seed}
    if label_task is not None:
        options["task"] = label_task
    with warnings_as_lines(ExportWarning), _open(create=False) as ledger:
        if sys.stderr.isatty():
            from rich.progress import Progress

            with Progress(transient=True) as bar:
                task = bar.add_task(f"export {version}", total=ledger.get_version(version).n_members)
                target = export_version(ledger, version, format, Path(out), **options,
                                        progress=lambda n: bar.advance(task, n))
        else:
            target = export_version(ledger, version, format, Path(out), **options)
    typer.echo(f"exported {version!r} as {format}: {target}")


def register(app: typer.Typer) -> None:
    """Attach this module's commands to the top-level app."""
    app.command("init")(init)
    app.command("ingest")(ingest)
    app.add_typer(version_app, name="version")
    app.command("lineage")(lineage)
    app.command("export")(export)
