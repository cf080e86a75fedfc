"""Path safety: walking folders without symlink loops, joining names under a root.

>>> safe_join("/out", "images/a.png").as_posix()
'/out/images/a.png'
>>> safe_join("/out", "../../x")
Traceback (most recent call last):
...
tailguard.errors.UnsafePathError: ../../x: refusing a path that leaves /out
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

from tailguard.errors import UnsafePathError

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif"})


def safe_join(root: str | Path, name: str) -> Path:
    """``root / name``, refusing absolute names, ``..`` parts and anything resolving outside ``root``."""
    root = Path(root)
    pure = PurePosixPath(name.replace("\\", "/"))
    if not name or pure.is_absolute() or ".." in pure.parts or any(":" in p for p in pure.parts[:1]):
        raise UnsafePathError(f"refusing a path that leaves {root}", path=name)
    target = root.joinpath(*pure.parts)
    root_real = os.path.realpath(root)
    if os.path.commonpath([root_real, os.path.realpath(target)]) != root_real:
        raise UnsafePathError(f"refusing a path that leaves {root}", path=name)
    return target


def walk_files(root: Path, suffixes: frozenset[str]) -> Iterator[Path | UnsafePathError]:
    """Files under ``root`` with the given suffixes, sorted, following symlinks.

    A symlink that leads back into one of its own ancestors yields an
    :class:`UnsafePathError` (a loop) instead of recursing forever.
    """

    def visit(directory: Path, ancestors: frozenset[str]) -> Iterator[Path | UnsafePathError]:
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError as exc:
            yield UnsafePathError(f"cannot list folder: {exc.strerror or exc}", path=str(directory))
            return
        for entry in entries:
            path = Path(entry.path)
            try:
                is_dir = entry.is_dir(follow_symlinks=True)
            except OSError as exc:  # ELOOP: a link to itself, or a cycle of links
                yield UnsafePathError(f"symlink loop ({exc.strerror or exc})", path=str(path))
                continue
            if is_dir:
                real = os.path.realpath(path)
                if real in ancestors:
                    yield UnsafePathError(f"symlink loop (points back to {real})", path=str(path))
                    continue
                yield from visit(path, ancestors | {real})
            elif path.suffix.lower() in suffixes:
                yield path

    yield from visit(root, frozenset({os.path.realpath(root)}))
