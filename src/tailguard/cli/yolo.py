"""CLI command of the Ultralytics integration: ``tailguard pseudo-label``.

Only typer is imported at module level; the command imports ultralytics when it runs.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer


def pseudo_label(
    weights: Annotated[str, typer.Argument(help="A YOLO checkpoint (.pt) of any task: detect, segment, classify, "
                                                "pose or obb.")],
    images: Annotated[list[str], typer.Argument(help="Image files or folders (searched recursively).")],
    conf: Annotated[float, typer.Option("--conf", help="Keep boxes at or above this confidence.")] = 0.25,
    iou: Annotated[float, typer.Option("--iou", help="NMS IoU threshold.")] = 0.7,
    as_version: Annotated[
        str | None, typer.Option("--as-version", help="Create this version from the labelled images.")
    ] = None,
    trained_on: Annotated[
        str | None,
        typer.Option("--trained-on", help="Ledger version the model was trained on (default: found in the ledger)."),
    ] = None,
    model_id: Annotated[
        str | None, typer.Option("--model-id", help="Model name in the generator string (default: run/stem).")
    ] = None,
    imgsz: Annotated[int | None, typer.Option("--imgsz", help="Inference size (default: the model's).")] = None,
    device: Annotated[str | None, typer.Option("--device", help="cpu, 0, 0,1, mps ... (default: auto).")] = None,
    batch: Annotated[int, typer.Option("--batch", help="Images per inference batch.", min=1)] = 16,
    skip_bad: Annotated[
        bool, typer.Option("--skip-bad", help="Skip images that fail to decode (reported) instead of failing.")
    ] = False,
    max_vertices: Annotated[
        int, typer.Option("--max-vertices", help="segment: at most this many vertices per polygon.", min=3)
    ] = 64,
    tolerance: Annotated[
        float, typer.Option("--tolerance", help="segment: Douglas-Peucker tolerance to start from (normalised; "
                                                "doubled while a polygon has too many vertices).")
    ] = 0.002,
    kpt_conf: Annotated[
        float, typer.Option("--kpt-conf", help="pose: keypoint confidence from which a keypoint is visible.")
    ] = 0.5,
) -> None:
    """Run a YOLO model on images and store its predictions as pseudo-labels with provenance.

    Boxes, mask polygons (simplified, tolerance recorded), top-1 classes, keypoints or
    oriented boxes, by the model's task. Each row gets origin pseudo_label, the generator
    "<model id>@<checkpoint hash>" and its confidence; new images get generation = the
    training version's synthetic depth + 1. Human labels already in the ledger are kept
    beside the new rows.

    Example: tailguard pseudo-label runs/detect/train/weights/best.pt unlabelled/ --conf 0.25 --as-version pl-v1
    """
    from tailguard.cli.state import state
    from tailguard.integrations.ultralytics import collect_images
    from tailguard.integrations.ultralytics import pseudo_label as run

    n_images = len(collect_images(images))
    with state.open_ledger(create=True) as ledger:
        kwargs = dict(
            ledger=ledger,
            conf=conf,
            iou=iou,
            as_version=as_version,
            trained_on=trained_on,
            model_id=model_id,
            imgsz=imgsz,
            device=device,
            batch=batch,
            skip_bad=skip_bad,
            max_vertices=max_vertices,
            tolerance=tolerance,
            kpt_conf=kpt_conf,
        )
        if sys.stderr.isatty():
            from rich.progress import Progress

            with Progress(transient=True) as bar:
                task = bar.add_task("pseudo-labelling", total=n_images)
                report = run(weights, images, progress=lambda n: bar.advance(task, n), **kwargs)
        else:
            report = run(weights, images, **kwargs)
    trained = report.training_version or "unknown (generation assumes human training data)"
    rows = {"detect": "boxes", "segment": "polygons", "classify": "classes", "pose": "poses", "obb": "oriented boxes"}
    typer.echo(
        f"pseudo-labelled {report.n_images} images ({report.task}): {report.n_boxes} {rows[report.task]}, "
        f"{report.added} new images, "
        f"{report.existing} already in the ledger (their labels kept)"
        + (f"; version {report.version!r} created" if report.version else "")
    )
    typer.echo(
        f"generator {report.generator}, generation {report.generation}, trained on {trained}, run {report.run_id}"
    )
    typer.echo(f"{rows[report.task]} per class: " + ", ".join(f"{k} {v}" for k, v in report.class_counts.items()))
    simple = report.simplification
    if simple:
        typer.echo(f"polygons simplified to <= {simple['max_vertices']} vertices: {simple['vertices_before']} -> "
                   f"{simple['vertices_after']} vertices over {simple['polygons']} polygons, tolerance "
                   f"{simple['tolerance']:g} (largest used {simple['max_tolerance_used']:g})")
    for item in report.skipped:
        typer.echo(f"skipped {item.reason}")


def register(app: typer.Typer) -> None:
    """Attach this module's commands to the top-level app."""
    app.command("pseudo-label")(pseudo_label)
