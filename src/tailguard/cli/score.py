"""CLI command: ``tailguard score CANDIDATE --reference REF [--synthetic KNOWN ...] --out DIR``.

Writes ``scores.parquet`` (one row per candidate document, keyed by ``--id-column`` or the
line/row number; a version's rows by sample id) and ``share.json`` (the machine-made share
with its 95% CI and method, the domain check), and prints the share, the domain check and
the documents most likely machine-made.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer


class ShareMethod(StrEnum):
    pu = "pu"
    detector = "detector"


def score_command(
    candidate: Annotated[str, typer.Argument(help="Documents of unknown origin: a file (JSONL, CSV, TSV, Parquet, "
                                             "TXT, NPY) or a ledger version.")],
    reference: Annotated[str, typer.Option("--reference", "-r", help="Human reference: a file or a version.")],
    out: Annotated[Path, typer.Option("--out", help="Folder for scores.parquet and share.json.")] = Path(
        "tailguard-score"),
    synthetic: Annotated[list[str] | None, typer.Option(
        "--synthetic", "-s", help="Known machine-made examples (repeatable): a detector is trained on them too.")] = None,
    id_column: Annotated[str | None, typer.Option("--id-column", help="Field or column that keys the rows.")] = None,
    text_column: Annotated[str | None, typer.Option("--text-column", help="Field or column of the text.")] = None,
    share_method: Annotated[ShareMethod, typer.Option(
        "--share-method", help="The share reported as used: pu (best bin, no examples needed) or detector "
        "(adjusted count; needs --synthetic).")] = ShareMethod.pu,
    support: Annotated[bool, typer.Option("--support/--no-support", help="Text: add the k-NN radius ratio "
                                          "(slower on large corpora).")] = True,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the folds, splits and bootstraps.")] = 0,
    top: Annotated[int, typer.Option("--top", help="Documents to print, most likely machine-made first.")] = 5,
) -> None:
    """Score documents of unknown origin: machine-made probability, the share with a CI, duplicate clusters."""
    from rich.table import Table

    from tailguard.cli.output import make_console, plain
    from tailguard.cli.state import state
    from tailguard.scoring import score
    from tailguard.scoring.documents import read_documents

    url = state.resolved_ledger_url()
    console = make_console(stderr=True)
    cand = read_documents(candidate, ledger_url=url, text_column=text_column, id_column=id_column)
    ref = read_documents(reference, ledger_url=url, text_column=text_column)
    known: list = []
    for spec in synthetic or []:
        docs = read_documents(spec, ledger_url=url, text_column=text_column)
        known = [*known, *docs.items] if isinstance(docs.items, list) else docs.items
    with console.status(f"scoring {len(cand.ids)} documents against {len(ref.ids)} reference documents"):
        result = score(cand.items, ref.items, synthetic=known or None, ids=cand.ids, support=support,
                       share_method=share_method.value, seed=seed)
    paths = result.write(out)
    share = result.share
    show = make_console()
    show.print(f"machine-made share: {share.estimate:.1%} (95% CI {share.ci[0]:.1%}-{share.ci[1]:.1%}), "
               f"{share.method}")
    for name, other in result.shares.items():
        if other is not share:
            show.print(f"  also: {name} {other.estimate:.1%} (95% CI {other.ci[0]:.1%}-{other.ci[1]:.1%})")
    show.print(f"assumes: {share.assumption}")
    if result.domain.warn:
        show.print(f"warning: {result.domain.message}")
    table = Table(title=f"most likely machine-made (of {len(cand.ids)})")
    for col in ("id", "P(machine-made)", "cluster size"):
        table.add_column(col)
    ordered = result.table.sort_values("machine_probability", ascending=False, kind="stable").head(top)
    for _, row in ordered.iterrows():
        size = row.get("cluster_size", 1)
        table.add_row(*plain(row["id"], f"{row['machine_probability']:.3f}", size))
    show.print(table)
    show.print(f"wrote {paths['scores']} and {paths['share']}")


def register(app: typer.Typer) -> None:
    app.command("score")(score_command)
