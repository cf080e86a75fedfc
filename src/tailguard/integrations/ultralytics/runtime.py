"""Importing Ultralytics safely: lazily, offline, and with the heavy extras turned off.

Ultralytics reaches for the network in a few places (fonts for plots, ``yolo26n.pt``
for the AMP check, analytics events, automatic ``pip install`` of missing packages).
tailguard never downloads at run time, so :func:`load_ultralytics` sets Ultralytics'
own offline switches before the first import (users can still override them through
the environment), and :func:`offline_train_args` gives the training arguments that
keep a run local.

>>> args = offline_train_args(device="cpu")
>>> args["plots"], args["amp"]
(False, False)
"""

from __future__ import annotations

import os
from types import ModuleType
from typing import Any

from tailguard.dependencies import require

#: Environment switches Ultralytics reads at import time (``setdefault``: the user's values win).
OFFLINE_ENVIRONMENT: dict[str, str] = {
    "YOLO_OFFLINE": "1",  # is_online() -> False: no analytics, no hub, no downloads attempted
    "YOLO_AUTOINSTALL": "false",  # never pip-install a missing requirement at run time
    # weights_only checkpoint loading against Ultralytics' own allow-list of model classes, so a
    # user-supplied .pt is never unpickled with arbitrary globals
    "ULTRALYTICS_SAFE_LOAD": "1",
    "YOLO_VERBOSE": "false",  # tailguard shows its own progress; Ultralytics' banners stay quiet
}


def load_ultralytics() -> ModuleType:
    """Import and return the ``ultralytics`` module with the offline switches set.

    Raises :class:`~tailguard.errors.MissingDependencyError` with the install hint
    ``pip install 'tailguard[yolo]'`` when it is not installed.
    """
    for key, value in OFFLINE_ENVIRONMENT.items():
        os.environ.setdefault(key, value)
    return require("ultralytics", extra="yolo", feature="the Ultralytics integration")


def offline_train_args(**overrides: Any) -> dict[str, Any]:
    """Training arguments for ``YOLO.train`` that never touch the network.

    ``plots=False`` avoids the Arial.ttf download, ``amp=False`` avoids the AMP check
    that downloads ``yolo26n.pt``, ``workers=0`` keeps small CPU runs in-process.
    Anything in ``overrides`` wins.
    """
    args: dict[str, Any] = {
        "plots": False,
        "amp": False,
        "workers": 0,
        "verbose": False,
        "exist_ok": True,
        "deterministic": True,
    }
    args.update(overrides)
    return args
