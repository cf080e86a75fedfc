"""Importing Ultralytics safely: lazily, offline, and without overriding the user.

Ultralytics reaches for the network in a few places (fonts for plots, ``yolo26n.pt``
for the AMP check, analytics events, automatic ``pip install`` of missing packages).
tailguard never downloads at run time, so :func:`load_ultralytics` sets Ultralytics'
own offline switches before the first import (users can still override them through
the environment), and :func:`offline_train_args` fills in the training arguments that
keep a run local. Everything else is Ultralytics' default or the user's choice: the
epoch table prints as usual, and a second run with the same ``name`` gets a new folder
(``name2``), as Ultralytics does.

>>> args = offline_train_args(device="cpu", exist_ok=True)
>>> args["plots"], args["amp"], args["exist_ok"], "verbose" in args
(False, False, True, False)
>>> offline_train_args(plots=False, amp=False, epochs=3) == {"plots": False, "amp": False, "epochs": 3}
True
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

from tailguard.dependencies import require
from tailguard.errors import ParameterError

#: Environment switches Ultralytics reads at import time (``setdefault``: the user's values win).
OFFLINE_ENVIRONMENT: dict[str, str] = {
    "YOLO_OFFLINE": "1",  # is_online() -> False: no analytics, no hub, no downloads attempted
    "YOLO_AUTOINSTALL": "false",  # never pip-install a missing requirement at run time
    # weights_only checkpoint loading against Ultralytics' own allow-list of model classes, so a
    # user-supplied .pt is never unpickled with arbitrary globals
    "ULTRALYTICS_SAFE_LOAD": "1",
}

#: Training arguments whose Ultralytics defaults download something; filled in when not passed.
OFFLINE_TRAIN_DEFAULTS: dict[str, Any] = {
    "plots": False,  # plotting fetches the font Arial.ttf when it is not on disk
    "amp": False,  # the AMP check on a GPU fetches yolo26n.pt when it is not on disk
}

PLOT_FONT = "Arial.ttf"
AMP_CHECK_WEIGHTS = "yolo26n.pt"
_CPU_DEVICES = ("cpu", "mps")


def load_ultralytics() -> ModuleType:
    """Import and return the ``ultralytics`` module with the offline switches set.

    Raises :class:`~tailguard.errors.MissingDependencyError` with the install hint
    ``pip install 'tailguard[yolo]'`` when it is not installed.
    """
    for key, value in OFFLINE_ENVIRONMENT.items():
        os.environ.setdefault(key, value)
    return require("ultralytics", extra="yolo", feature="the Ultralytics integration")


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """Silence Ultralytics' log lines and progress bars for calls tailguard makes on its own behalf.

    For training loops tailguard runs itself (a simulator's generations), whose epoch tables
    would interleave with tailguard's own progress; training the user starts is never
    wrapped. The previous level is restored on exit.

    >>> import logging
    >>> with quiet():
    ...     logging.getLogger("ultralytics").getEffectiveLevel() > logging.INFO
    True
    """
    logger = logging.getLogger("ultralytics")
    before = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(before)


def plot_font_file() -> Path | None:
    """The font Ultralytics' plots use, when it is on disk (where ``check_font`` looks first), else None."""
    utils = load_ultralytics().utils
    local = Path(utils.USER_CONFIG_DIR) / PLOT_FONT
    if local.is_file():
        return local
    from matplotlib import font_manager

    found = [f.fname for f in font_manager.fontManager.ttflist if PLOT_FONT in f.fname and os.path.exists(f.fname)]
    return Path(found[0]) if found else None


def amp_check_weights() -> Path:
    """Where Ultralytics' AMP check loads ``yolo26n.pt`` from (downloading it when absent)."""
    return Path(load_ultralytics().utils.WEIGHTS_DIR) / AMP_CHECK_WEIGHTS


def offline_train_args(**user_args: Any) -> dict[str, Any]:
    """Training arguments for ``YOLO.train``: the user's, plus what keeps the run offline.

    Every argument you pass is returned as passed (``exist_ok``, ``verbose``, ``workers``,
    ...); nothing else is set, so Ultralytics' defaults apply: its epoch table prints, and a
    run whose ``project/name`` folder exists goes to a new folder (``name2``). Only the two
    arguments whose Ultralytics defaults download something are filled in when you leave
    them out: ``plots=False`` (plots fetch the font ``Arial.ttf``) and ``amp=False`` (on a
    GPU the AMP check fetches ``yolo26n.pt``). Passing ``plots=True`` or ``amp=True`` is
    accepted when that file is already on disk (or, for ``amp``, when ``device`` is the CPU,
    where Ultralytics skips the check); otherwise it is a one-line
    :class:`~tailguard.errors.ParameterError` naming the argument and the missing file,
    never a silent override.

    >>> offline_train_args(amp=True, device="cpu")["amp"]
    True
    """
    args = dict(OFFLINE_TRAIN_DEFAULTS)
    args.update(user_args)
    if args["plots"] and plot_font_file() is None:
        where = Path(load_ultralytics().utils.USER_CONFIG_DIR) / PLOT_FONT
        raise ParameterError(
            f"offline_train_args: plots=True would make Ultralytics download its plot font {PLOT_FONT} "
            f"(not found at {where}); put the font there, or leave plots unset"
        )
    device = str(args.get("device", "")).strip().lower()
    if args["amp"] and device not in _CPU_DEVICES and not amp_check_weights().is_file():
        raise ParameterError(
            f"offline_train_args: amp=True would make Ultralytics download {AMP_CHECK_WEIGHTS} for its AMP check "
            f"(not found at {amp_check_weights()}); put the file there, pass device='cpu', or leave amp unset"
        )
    return args
