"""The ``--engine`` / ``--ray-address`` / ``--workers`` options shared by audit, simulate and mix.

``--engine`` defaults to ``$TAILGUARD_ENGINE``, else ``local``; ``--ray-address`` (or
``$RAY_ADDRESS``) joins an existing Ray cluster, and without it the ray engine starts a
local one. An unknown engine name is a one-line error with the nearest names.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

EngineOption = Annotated[
    str | None,
    typer.Option("--engine", help="Where the work runs: local (default, or $TAILGUARD_ENGINE), process (a pool "
                 "on this machine) or ray. The numbers do not depend on it."),
]
RayAddressOption = Annotated[
    str | None,
    typer.Option("--ray-address", help="With --engine ray: join this cluster (default $RAY_ADDRESS; without "
                 "either, a local cluster starts)."),
]
WorkersOption = Annotated[
    int | None,
    typer.Option("--workers", help="With --engine process: worker processes (default: the CPU count).", min=1),
]


def make_engine(name: str | None, ray_address: str | None = None, workers: int | None = None) -> Any:
    """The engine the options name, built with only the options it takes."""
    import os

    from tailguard.engines import ENV, get_engine

    chosen = name or os.environ.get(ENV) or "local"
    options: dict[str, Any] = {}
    if chosen == "ray" and ray_address:
        options["address"] = ray_address
    if chosen == "process" and workers:
        options["workers"] = workers
    return get_engine(chosen, **options)
