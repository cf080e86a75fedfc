"""CLI command: ``tailguard monitor SOURCE --reference REF --window N``.

Audits a stream of model outputs in windows of N documents and runs a change detector on
each watched metric's series (:mod:`tailguard.monitor`). SOURCE is a JSONL (or .txt) file that
keeps growing (followed like ``tail -F``, rotation included), ``-`` for stdin, or a folder
into which files arrive. One line per window; ``--json`` prints one JSON object per window
instead. ``--no-follow`` reads what is there and exits. With ``--fail-on`` the command stops
at the first alarm that reaches the level and exits 3; bad input exits 2 with one line.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from tailguard.cli.audit import FailOn


class Detector(StrEnum):
    page_hinkley = "page_hinkley"
    adwin = "adwin"
    kswin = "kswin"


def monitor_command(
    source: Annotated[str, typer.Argument(help="A JSONL file that keeps growing, - for stdin, or a folder of "
                                          "arriving files.")],
    reference: Annotated[str, typer.Option("--reference", "-r", help="Human reference text: a version name or "
                                           "a path.")],
    window: Annotated[int, typer.Option("--window", "-w", help="Documents per audited window.")],
    record: Annotated[bool, typer.Option("--record", help="Record each window's audit in the ledger.")] = False,
    fail_on: Annotated[FailOn | None, typer.Option("--fail-on", help="Stop and exit 3 at the first alarm of this "
                                                   "level (collapse: an alarmed row reads collapse).")] = None,
    no_follow: Annotated[bool, typer.Option("--no-follow", help="Process what is there and exit (CI, tests).")
                         ] = False,
    detector: Annotated[Detector, typer.Option("--detector", help="Change detector on each series.")
                        ] = Detector.page_hinkley,
    warmup: Annotated[int, typer.Option("--warmup", help="Windows that fix each series' scale before its "
                                        "detector may fire.")] = 15,
    delta: Annotated[float, typer.Option("--delta", help="Page-Hinkley: the shift tolerated, in standard "
                                         "deviations of the warm-up.")] = 0.5,
    threshold: Annotated[float, typer.Option("--threshold", help="Page-Hinkley: the alarm threshold of the "
                                             "cumulative sum, in standard deviations.")] = 25.0,
    adwin_delta: Annotated[float, typer.Option("--adwin-delta", help="ADWIN: confidence of a cut.")] = 0.002,
    kswin_alpha: Annotated[float, typer.Option("--kswin-alpha", help="KSWIN: level of each KS test.")] = 0.001,
    kswin_window: Annotated[int, typer.Option("--kswin-window", help="KSWIN: windows kept.")] = 30,
    kswin_stat_size: Annotated[int, typer.Option("--kswin-stat-size", help="KSWIN: recent windows tested.")] = 10,
    min_scale: Annotated[float, typer.Option("--min-scale", help="Floor of a series' scale, as a fraction of "
                                             "its warm-up mean.")] = 0.02,
    series: Annotated[list[str] | None, typer.Option("--series", help="Rows to watch (repeatable): a family "
                                                     "(tails) or a row name (vendi). Default: tails, diversity, "
                                                     "distinct_2, vocabulary_size, hapax_ratio.")] = None,
    metrics: Annotated[list[str] | None, typer.Option("--metric", "-m", help="The suite each window runs "
                                                      "(repeatable; default: tails, diversity, text).")] = None,
    pattern: Annotated[str, typer.Option("--pattern", help="A folder SOURCE: the files to read.")] = "*.jsonl",
    poll: Annotated[float, typer.Option("--poll", help="Seconds between polls of a followed source.")] = 0.5,
    max_windows: Annotated[int | None, typer.Option("--max-windows", min=1, help="Stop after this many windows."
                                                    )] = None,
    idle_timeout: Annotated[float | None, typer.Option("--idle-timeout", help="Stop after this many seconds "
                                                       "without a new line.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per window instead of a line.")] = False,
    seed: Annotated[int, typer.Option("--seed", help="Seed of each window's audit.")] = 0,
) -> None:
    """Audit a stream of model outputs in windows; alarm when a tail or diversity metric's series changes."""
    import json

    from tailguard.audit import Source
    from tailguard.cli.audit import names_version
    from tailguard.cli.state import state
    from tailguard.errors import ParameterError
    from tailguard.monitor import DEFAULT_SERIES, Monitor, MonitorConfig, open_source

    if poll <= 0:
        raise ParameterError(f"--poll must be > 0 seconds. Got {poll}.")
    config = MonitorConfig(window=window, warmup=warmup, detector=detector.value, delta=delta, threshold=threshold,
                           adwin_delta=adwin_delta, kswin_alpha=kswin_alpha, kswin_window=kswin_window,
                           kswin_stat_size=kswin_stat_size, min_scale=min_scale,
                           series=list(series) if series else list(DEFAULT_SERIES),
                           metrics=list(metrics) if metrics else ["tails", "diversity", "text"], seed=seed)
    url = state.resolved_ledger_url()
    ref_src = Source(reference, url)
    if names_version(reference):
        state.open_ledger(create=False).close()  # a missing ledger is one line, and none is created
    stream = open_source(source, follow=not no_follow, pattern=pattern)  # a missing source: one line
    ledger = state.open_ledger(create=True) if record else None
    try:
        monitor = Monitor(ref_src, config, ledger=ledger, label=source, reference_label=ref_src.label)

        def show(result):  # type: ignore[no-untyped-def]
            typer.echo(json.dumps(result.to_dict()) if as_json else result.line())

        try:
            summary = monitor.run(stream, fail_on=fail_on.value if fail_on else None, max_windows=max_windows,
                                  poll_interval=poll, idle_timeout=idle_timeout, on_window=show)
        except KeyboardInterrupt:
            summary = monitor.summary
            typer.echo(_summary_line(summary, config.window) + " (interrupted)", err=True)
            raise typer.Exit(code=1) from None
    finally:
        if ledger is not None:
            ledger.close()
    typer.echo(_summary_line(summary, config.window), err=as_json)
    if summary.stopped_on is not None:
        assert fail_on is not None
        typer.echo(f"alarm at window {summary.stopped_on.index} reached --fail-on {fail_on.value} "
                   f"(level {summary.stopped_on.level})", err=True)
        raise typer.Exit(code=3)


def _summary_line(summary, window: int) -> str:  # type: ignore[no-untyped-def]
    first = "" if summary.first_alarm is None else f" (first: window {summary.first_alarm})"
    left = f", {summary.leftover} left over (less than a window of {window})" if summary.leftover else ""
    return (f"monitor: {summary.windows} windows, {summary.samples} samples{left}, "
            f"{summary.alarms} with an alarm{first}")


def register(app: typer.Typer) -> None:
    """Attach this module's commands to the top-level app."""
    app.command("monitor")(monitor_command)
