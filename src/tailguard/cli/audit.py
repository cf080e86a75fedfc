"""CLI command: ``tailguard audit CANDIDATE --reference REFERENCE``.

Prints a table of the metrics with their status, the averages-trap line, the
diagnosis and the verdict, and writes ``report.json`` + ``report.html`` into
``--out``; ``--record`` also stores the audit in the ledger. Exit code 3 when the
verdict reaches ``--fail-on``.
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from tailguard.cli.engine_options import EngineOption, RayAddressOption, WorkersOption, make_engine


class FailOn(StrEnum):
    warn = "warn"
    collapse = "collapse"


class Embedder(StrEnum):
    hashed = "hashed"
    minilm = "minilm"


def _read_json_file(path: Path, what: str) -> Any:
    from tailguard.errors import BadInputError, MissingInputError

    if not path.is_file():
        raise MissingInputError(f"{what} file not found", path=path)
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml

            return yaml.safe_load(text)
        return json.loads(text)
    except (json.JSONDecodeError, ValueError) as exc:
        raise BadInputError(f"cannot parse {what}: {exc}", path=path) from None
    except Exception as exc:  # yaml.YAMLError and friends: one typed line
        raise BadInputError(f"cannot parse {what}: {exc}", path=path) from None


def print_table(report: Any, console: Any = None) -> None:
    """The metric table, then the averages trap, the diagnosis and the verdict.

    Legible at 80 columns: metric names are never cut (their column does not wrap and is
    as wide as the longest name); rows are grouped under a heading per family instead of
    a family column, the columns have no side borders, and an interval wraps before a
    name would.
    """
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    colours = {"ok": "green", "warn": "yellow", "collapse": "red", "insufficient": "magenta"}
    console = console if console is not None else Console()
    with_base = report.baseline is not None
    table = Table(title=f"tailguard audit: {report.candidate} vs {report.reference}", box=box.SIMPLE_HEAD,
                  show_edge=False, pad_edge=False, collapse_padding=True)
    table.add_column("metric", no_wrap=True, min_width=max((len(r.name) for r in report.metrics), default=6))
    for col in ("value", "reference", *(("baseline",) if with_base else ()), "ratio"):
        table.add_column(col, justify="right", no_wrap=True)
    table.add_column("CI")
    table.add_column("status", no_wrap=True)

    def f(v: Any) -> str:
        return "–" if v is None else f"{v:.4g}"

    family = None
    for row in report.metrics:
        if row.family != family:  # a heading row each time the family changes (rows keep their order)
            family = row.family
            table.add_row(Text(family, style="bold underline"))
        ci = f"[{row.ci[0]:.3g}, {row.ci[1]:.3g}]" if row.ci else "–"
        base = (f(row.baseline_value),) if with_base else ()
        table.add_row(Text(row.name), f(row.value), f(row.reference_value), *base, f(row.ratio), ci,
                      f"[{colours[row.status]}]{row.status}[/]")
    console.print(table)
    if with_base:
        console.print(report.baseline_note())
    if report.averages_trap.triggered:
        console.print(f"[bold yellow]{report.averages_trap.message}[/]")
    if report.domain and report.domain.get("warn"):
        console.print(f"[bold yellow]warning: {report.domain['message']}[/]")
    d = report.diagnosis
    console.print(f"diagnosis: [bold]{d.mode}[/] (confidence {d.confidence:.0%}) - {d.summary}")
    for line in d.evidence[:5]:
        console.print(f"  - {line}")
    for line in report.skipped:
        console.print(f"[dim]skipped {line}[/]")
    console.print(f"verdict: [bold {colours[report.verdict]}]{report.verdict}[/]")


def names_version(spec: str) -> bool:
    """Whether the audit reads ``spec`` as a ledger version (the rule of ``audit.sources.Source``)."""
    return not Path(spec).exists() and not any(sep in spec for sep in ("/", "\\")) and not Path(spec).suffix


def _yolo_inputs(url: str, sources: list[Any], weights: Path) -> list[Any]:
    """Every side (``Source``s) of a detection audit, images embedded by the user's own YOLO checkpoint."""
    from tailguard.integrations.ultralytics import YoloEmbedder, detection_audit_input
    from tailguard.ledger import Ledger

    embedder = YoloEmbedder(weights)  # one embedder: every side sees the same backbone
    with Ledger.open(url, create=False) as ledger:
        return [detection_audit_input(ledger, s.spec, embedder=embedder, origins=s.origins, name=s.label)
                for s in sources]


def audit_command(
    candidate: Annotated[str, typer.Argument(help="Candidate: a ledger version name or a path.")],
    reference: Annotated[str, typer.Option("--reference", "-r", help="Human reference: a version name or a path.")],
    out: Annotated[Path, typer.Option("--out", help="Folder for report.json and report.html.")] = Path(
        "audit-report"
    ),
    fail_on: Annotated[
        FailOn | None, typer.Option("--fail-on", help="Exit with code 3 when the verdict reaches this status.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print report.json instead of the table.")] = False,
    embedder: Annotated[Embedder, typer.Option("--embedder", help="Text embedder.")] = Embedder.hashed,
    thresholds: Annotated[
        Path | None, typer.Option("--thresholds", help="JSON/YAML file overriding the default thresholds.")
    ] = None,
    train_metrics: Annotated[
        Path | None, typer.Option("--train-metrics", help='JSON {"train": {...}, "val": {...}} for overfitting.')
    ] = None,
    old_task_metrics: Annotated[
        Path | None,
        typer.Option("--old-task-metrics", help='JSON {"before": {...}, "after": {...}} for forgetting.'),
    ] = None,
    metrics: Annotated[
        list[str] | None,
        typer.Option("--metric", "-m", help="Run only these (repeatable): a metric (prdc), a family (tails) or a "
                     "value name as the table shows it (recall, tail_mass_0.01), which runs its metric."),
    ] = None,
    quick: Annotated[bool, typer.Option("--quick", help="Skip the expensive metrics.")] = False,
    seed: Annotated[int, typer.Option("--seed", help="Seed of every subsample, bootstrap and permutation.")] = 0,
    baseline: Annotated[
        str | None,
        typer.Option("--baseline", "-b", help="Judge what CANDIDATE lost beyond this baseline (a version name or "
                     "a path; e.g. generation 0 of the same model, or last month's data)."),
    ] = None,
    weights: Annotated[
        Path | None,
        typer.Option("--weights", help="Detection versions: embed images with this YOLO checkpoint's backbone "
                     "(yolo extra); label metrics run either way."),
    ] = None,
    origins: Annotated[
        str | None, typer.Option("--origins", help="Detection: the candidate's label origins, comma-separated "
                                 "(human, pseudo_label, ...; default: every box).")
    ] = None,
    ref_origins: Annotated[
        str | None, typer.Option("--ref-origins", help="Detection: the reference's label origins (default: every box).")
    ] = None,
    duplicates_out: Annotated[
        Path | None, typer.Option("--duplicates-out", help="Text: write the candidate's near-duplicate clusters "
                                  "(member ids and a representative) to this JSONL file.")
    ] = None,
    id_column: Annotated[
        str | None, typer.Option("--id-column", help="With --duplicates-out: the field or column that names a "
                                 "document (default: its line, or a version's sample id).")
    ] = None,
    engine: EngineOption = None,
    ray_address: RayAddressOption = None,
    workers: WorkersOption = None,
    shard_rows: Annotated[
        int | None, typer.Option("--shard-rows", min=1, help="Rows per shard when an engine spreads one metric "
                                 "over workers (default: one shard per metric, metrics side by side; with "
                                 "--stream, 100000).")
    ] = None,
    stream: Annotated[
        bool, typer.Option("--stream", help="Read CANDIDATE (a .npy, .parquet, .jsonl, .txt, .csv/.tsv file, an "
                           "image folder or a ledger version) shard by shard, never whole: memory stays flat "
                           "as N grows.")
    ] = False,
    shard_mb: Annotated[
        int | None, typer.Option("--shard-mb", min=1, help="With --stream: megabytes per shard of a JSONL, TXT "
                                 "or CSV file (default 32).")
    ] = None,
    record: Annotated[
        bool, typer.Option("--record", help="Store the audit in the ledger (verdict, diagnosis, every row): "
                           "'tailguard audits list|show' read it back.")
    ] = False,
    skip_bad: Annotated[
        bool, typer.Option("--skip-bad", help="Leave out table rows with an empty or non-numeric cell instead of "
                           "failing; every row left out is listed (stderr and the report's config).")
    ] = False,
) -> None:
    """Audit CANDIDATE against a human REFERENCE: tails, diversity, drift; verdict and diagnosis."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from tailguard.audit import AuditConfig, Source, Thresholds, audit
    from tailguard.audit.suite import suite_for
    from tailguard.cli.state import state

    url = state.resolved_ledger_url()
    cand_src, ref_src = Source(candidate, url, origins), Source(reference, url, ref_origins)  # bad origins: one line
    base_src = Source(baseline, url, origins) if baseline is not None else None  # the candidate's kind of labels
    if any(names_version(spec) for spec in (candidate, reference, baseline) if spec is not None):
        state.open_ledger(create=False).close()  # a missing ledger is one line, and none is created
    config = AuditConfig(
        metrics=list(metrics) if metrics else None,
        quick=quick,
        embedder=embedder.value,
        thresholds=Thresholds.from_file(thresholds) if thresholds is not None else None,
        shard_rows=None if stream else shard_rows,
        skip_bad=skip_bad,
    )
    if stream and (weights is not None or origins is not None or duplicates_out is not None or skip_bad):
        from tailguard.errors import ParameterError

        raise ParameterError("--stream reads a file shard by shard; --weights, --origins, --duplicates-out and "
                             "--skip-bad need the whole candidate")
    runner = make_engine(engine, ray_address, workers)  # an unknown name fails here, before any reading
    train = _read_json_file(train_metrics, "train metrics") if train_metrics is not None else None
    old = _read_json_file(old_task_metrics, "old-task metrics") if old_task_metrics is not None else None

    from tailguard.audit.inputs import ReferenceOriginWarning, as_input
    from tailguard.cli.output import warnings_as_lines

    with Progress(SpinnerColumn(), TextColumn("{task.description}"), *Progress.get_default_columns()[1:3],
                  TimeElapsedColumn(), transient=True, disable=as_json) as progress:
        task = progress.add_task("reading the reference and the candidate", total=None)
        base = None
        if weights is not None:
            ref, cand, *rest = _yolo_inputs(url, [ref_src, cand_src, *([base_src] if base_src else [])], weights)
            base = rest[0] if rest else None
        else:
            ref = as_input(ref_src, embedder=embedder.value, name=reference, seed=seed, skip_bad=skip_bad)
            if stream and names_version(candidate):
                from tailguard.audit.streaming import stream_version

                cand = stream_version(candidate, url, shard_rows=shard_rows)
            elif stream:
                from tailguard.audit.streaming import stream_source

                cand = stream_source(candidate, shard_rows=shard_rows,
                                     shard_bytes=shard_mb << 20 if shard_mb else None)
            else:
                cand = as_input(cand_src, modality=ref.modality, embedder=embedder.value, name=candidate, seed=seed,
                                skip_bad=skip_bad)
            if base_src is not None:
                base = as_input(base_src, modality=ref.modality, embedder=embedder.value, name=baseline, seed=seed,
                                skip_bad=skip_bad)
        n_metrics = len(suite_for(ref.modality, metrics=config.metrics, quick=config.quick))
        progress.update(task, total=n_metrics + 1, completed=0)

        def step(label: str) -> None:
            progress.update(task, advance=1, description=f"metric {label}")

        try:
            with warnings_as_lines(ReferenceOriginWarning):
                report = audit(cand, ref, config=config, train_metrics=train, old_task_metrics=old, seed=seed,
                               progress=step, baseline=base, engine=runner)
        finally:
            runner.close()
        progress.update(task, advance=1, description="writing the report")
    report.candidate, report.reference = cand_src.label, ref_src.label
    if base_src is not None:
        report.baseline = base_src.label
    for side, rows in report.config.get("skipped_rows", {}).items():
        label = {"candidate": cand_src.label, "reference": ref_src.label}.get(side, base_src.label if base_src else side)
        typer.echo(f"skipped {len(rows)} row(s) of the {side} ({label}):", err=True)
        for row in rows:
            typer.echo(f"  {row}", err=True)
    json_path, html_path = report.write(out)
    if record:
        from tailguard.audit.record import record_audit

        with state.open_ledger(create=True) as ledger:
            record_audit(report, ledger, source="audit")
    if duplicates_out is not None:
        _write_duplicates(candidate, url, id_column, duplicates_out, quiet=as_json)
    if as_json:
        typer.echo(report.to_json())
    else:
        print_table(report)
        typer.echo(f"report: {html_path} (JSON: {json_path})")
        if report.audit_id is not None:
            typer.echo(f"recorded as audit {report.audit_id} ('tailguard audits show {report.audit_id}')")
    if fail_on is not None and (report.verdict == "insufficient" or ("ok", "warn", "collapse").index(
            report.verdict) >= ("warn", "collapse").index(fail_on.value) + 1):
        raise typer.Exit(code=3)  # a gate never passes what could not be measured


def _write_duplicates(candidate: str, url: str, id_column: str | None, path: Path, *, quiet: bool) -> None:
    from tailguard.scoring.clusters import near_duplicate_clusters, write_clusters
    from tailguard.scoring.documents import read_documents

    docs = read_documents(candidate, ledger_url=url, id_column=id_column)
    if not isinstance(docs.items, list):
        from tailguard.errors import BadInputError

        raise BadInputError("--duplicates-out lists near-duplicate texts; this candidate is not text", path=candidate)
    n = write_clusters(path, near_duplicate_clusters(docs.items), docs.ids)
    if not quiet:
        typer.echo(f"near-duplicate clusters: {n} of two or more documents, written to {path}")


def register(app: typer.Typer) -> None:
    """Attach this module's commands to the top-level app."""
    app.command("audit")(audit_command)
