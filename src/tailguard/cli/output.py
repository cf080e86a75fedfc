"""Terminal output shared by the commands: a console that never cuts lines off, JSON dumps, and
warnings said as one line each.

On a terminal, rich wraps long lines at the terminal's width. When stdout is piped
(a file, ``less``, CI logs) there is no width to respect, so the console is made wide
enough that tables and lineage trees keep every id and label whole.

>>> print(to_json({"a": 1}))
{
  "a": 1
}
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import sys
import warnings
from collections.abc import Iterator
from typing import Any

PIPED_WIDTH = 10_000
"""Console width when stdout is not a terminal (lines are never padded to it)."""


def make_console(*, stderr: bool = False) -> Any:
    """A rich console without highlighting; wide when its stream is not a terminal."""
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    tty = hasattr(stream, "isatty") and stream.isatty()
    return Console(highlight=False, stderr=stderr, width=None if tty else PIPED_WIDTH)


def plain(*cells: object) -> list[Any]:
    """Table cells as rich ``Text``: names with ``[brackets]`` are shown, not read as markup."""
    from rich.text import Text

    return [Text(str(c)) for c in cells]


def to_json(value: Any) -> str:
    """``value`` as indented JSON; dataclasses become objects, anything else unknown its ``str``."""

    def default(obj: Any) -> Any:
        if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            return dataclasses.asdict(obj)
        return str(obj)

    return json.dumps(value, default=default, indent=2, sort_keys=False)


__all__ = ["PIPED_WIDTH", "make_console", "plain", "to_json"]


@contextlib.contextmanager
def warnings_as_lines(*categories: type[Warning]) -> Iterator[None]:
    """Warnings of ``categories`` raised in the block, each said on stderr as ``warning: ...`` when it
    ends (one line, not Python's ``file:line: Category:`` form); any other warning is shown as usual."""
    import typer

    with warnings.catch_warnings(record=True) as caught:
        for category in categories:
            warnings.simplefilter("always", category)
        yield
    for w in caught:
        if issubclass(w.category, categories):
            typer.echo(f"warning: {w.message}", err=True)
        else:
            warnings.showwarning(w.message, w.category, w.filename, w.lineno)
