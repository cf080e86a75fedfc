"""Engines: run shards of work in process, in a local process pool, or on Ray (see :mod:`tailguard.engines.base`).

>>> from tailguard.engines import get_engine
>>> get_engine("local").map(len, ["ab", "c"])
[2, 1]
"""

from tailguard.engines import local, process, ray_engine  # noqa: F401  (registration)
from tailguard.engines.base import (
    ENGINES,
    ENV,
    Engine,
    current_engine,
    feed_with_reference,
    get_engine,
    register_engine,
    resolve_engine,
    use_engine,
)

__all__ = ["ENGINES", "ENV", "Engine", "current_engine", "feed_with_reference", "get_engine", "register_engine",
           "resolve_engine", "use_engine"]
