"""The Ultralytics tasks tailguard reads and writes: detect, segment, classify, pose and obb.

A task is one module holding its :class:`~tailguard.tasks.base.LabelFormat` (parse a
label line into a row, serialise it back, errors naming ``file:line`` and the expected
shape) and one :func:`register_format` call. The ingest picks the task from data.yaml
(its ``task`` key; ``kpt_shape`` means pose), from ``--task``, or from the label lines
themselves (:func:`infer_task`).

>>> [label_format(t).task for t in TASKS]
['detect', 'segment', 'classify', 'pose', 'obb']
>>> label_format("seg")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
tailguard.errors.UnknownChoiceError: Unknown task 'seg'. Did you mean 'segment'...
>>> infer_task(5), infer_task(11), infer_task(9)
('detect', 'segment', None)
"""

from __future__ import annotations

from tailguard.errors import UnknownChoiceError
from tailguard.tasks.base import TASKS, LabelFormat, LineContext, bounds, decode_shape, encode_shape

_FORMATS: dict[str, LabelFormat] = {}


def register_format(fmt: LabelFormat) -> LabelFormat:
    """Register the label format of ``fmt.task`` (one per task)."""
    _FORMATS[fmt.task] = fmt
    return fmt


def label_format(task: str) -> LabelFormat:
    """The registered label format of ``task``."""
    fmt = _FORMATS.get(task)
    if fmt is None and task in TASKS:
        _load()
        fmt = _FORMATS.get(task)
    if fmt is None:
        raise UnknownChoiceError("task", task, TASKS)
    return fmt


def _load() -> None:
    from tailguard.tasks import classify, detect, obb, pose, segment  # noqa: F401  (each registers its format)


def infer_task(n_fields: int) -> str | None:
    """The task a label line of ``n_fields`` fields belongs to when nothing names it (``None``: ambiguous).

    5 or 6 fields (a confidence last) are a detection box; any other count from 7 up is a
    polygon (with a confidence last when even), except 9 and 10, which fit an oriented box
    as well as a 4-point polygon. Pose lines need data.yaml's ``kpt_shape`` to be told apart.
    """
    if n_fields in (5, 6):
        return "detect"
    if n_fields in (9, 10):
        return None
    if n_fields >= 7:
        return "segment"
    return None


__all__ = [
    "TASKS",
    "LabelFormat",
    "LineContext",
    "bounds",
    "decode_shape",
    "encode_shape",
    "infer_task",
    "label_format",
    "register_format",
]
