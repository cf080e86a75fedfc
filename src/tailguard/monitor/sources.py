"""Where the monitor reads model outputs from: a growing JSONL file, stdin, or a folder of arriving files.

Each source is polled: :meth:`LineSource.poll` returns the complete lines that arrived since
the last call (``(where, line number, text)``), and ``exhausted`` says when no more can come
(stdin closed; in ``--no-follow`` mode, a file or folder read to its end). Lines are parsed
as the audit parses a JSONL file (:func:`tailguard.audit.sources.parse_document_line`: a
record's ``text`` field, or a JSON string); a ``.txt`` file's lines are documents as they are.

- :class:`FileTail` follows one file as ``tail -F`` does: it reads from the start, keeps a
  line that has no newline yet until it is finished, and handles rotation: when the path's
  inode changes (``mv log log.1`` and a new ``log``) it finishes the old file and starts the
  new one at its beginning; when the file shrinks (truncated in place) it starts again at 0.
- :class:`FolderSource` reads every file matching a pattern in a folder, oldest first (by
  modification time, then name), then each file that arrives; the newest file is followed
  as it grows. It remembers the files it has read by name, inode and size (entries of files
  that leave the folder are forgotten, so the memory stays bounded by the folder's listing).
- :class:`StdinSource` reads lines from a stream (``-``) until it closes.

>>> import os, tempfile
>>> path = os.path.join(tempfile.mkdtemp(), "out.jsonl")
>>> with open(path, "w") as fh:
...     _ = fh.write('{"text": "one"}\\n{"text": "tw')
>>> tail = FileTail(path, follow=True)
>>> [t for _, _, t in tail.poll()]
['one']
>>> with open(path, "a") as fh:
...     _ = fh.write('o"}\\n')
>>> [t for _, _, t in tail.poll()]
['two']
>>> tail.close()
"""

from __future__ import annotations

import fnmatch
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Protocol

from tailguard.audit.sources import parse_document_line
from tailguard.errors import MissingInputError, TextFormatError

Line = tuple[str, int, str]
"""(where it came from, line number there, the document's text)."""


class LineSource(Protocol):
    """What the monitor polls."""

    name: str

    def poll(self) -> list[Line]:
        """The documents of the complete lines that arrived since the last call."""
        ...

    @property
    def exhausted(self) -> bool:
        """True when no more lines can arrive."""
        ...

    def close(self) -> None: ...


def _decode(raw: bytes, where: str, lineno: int, jsonl: bool) -> str | None:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise TextFormatError(f"not valid UTF-8 at byte {exc.start} of the line", path=where, line=lineno) from None
    return parse_document_line(text.rstrip("\r\n"), path=where, line=lineno, jsonl=jsonl)


def _is_jsonl(path: str | Path) -> bool:
    return Path(path).suffix.lower() != ".txt"


class FileTail:
    """Follow one file (see module doc). ``follow=False`` reads what is there, then is exhausted."""

    def __init__(self, path: str | Path, *, follow: bool):
        self.name = str(path)
        self.follow = follow
        self.jsonl = _is_jsonl(path)
        self.rotations = 0
        self.truncations = 0
        self._fh: IO[bytes] | None = None
        self._inode: int | None = None
        self._pos = 0
        self._partial = b""
        self._lineno = 0
        self._done = False
        if not Path(path).is_file():
            raise MissingInputError("monitor source not found (a JSONL file, a folder or - for stdin)", path=path)
        self._open()

    def _open(self) -> bool:
        try:
            fh = open(self.name, "rb")  # noqa: SIM115 (kept open while the file is followed)
        except FileNotFoundError:
            return False  # rotated away and not yet recreated: try again at the next poll
        self._fh, self._inode, self._pos, self._partial, self._lineno = fh, os.fstat(fh.fileno()).st_ino, 0, b"", 0
        return True

    def _lines(self, data: bytes, *, final: bool) -> list[Line]:
        data = self._partial + data
        parts = data.split(b"\n")
        self._partial = b"" if final else parts.pop()
        out = []
        for raw in parts:
            self._lineno += 1
            doc = _decode(raw, self.name, self._lineno, self.jsonl)
            if doc is not None:
                out.append((self.name, self._lineno, doc))
        return out

    def _read(self, *, final: bool) -> list[Line]:
        assert self._fh is not None
        data = self._fh.read()
        self._pos += len(data)
        return self._lines(data, final=final and bool(self._partial or data))

    def poll(self) -> list[Line]:
        if self._done:
            return []
        if self._fh is None and not self._open():
            return []
        out: list[Line] = []
        try:
            st = os.stat(self.name)
        except FileNotFoundError:
            st = None
        if st is not None and st.st_ino != self._inode:  # rotated: finish the old file, then the new one
            out += self._read(final=True)
            self.close()
            self.rotations += 1
            if not self._open():
                return out
        elif st is not None and st.st_size < self._pos:  # truncated in place: start again
            self.truncations += 1
            assert self._fh is not None
            self._fh.seek(0)
            self._pos, self._partial, self._lineno = 0, b"", 0
        out += self._read(final=not self.follow)
        if not self.follow:
            self._done = True
            self.close()
        return out

    @property
    def exhausted(self) -> bool:
        return self._done

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


class FolderSource:
    """Every file matching ``pattern`` in ``folder``, oldest first, then each file that arrives."""

    def __init__(self, folder: str | Path, *, follow: bool, pattern: str = "*.jsonl"):
        self.name = str(folder)
        self.follow = follow
        self.pattern = pattern
        if not Path(folder).is_dir():
            raise MissingInputError("monitor folder not found", path=folder)
        self._read: dict[str, tuple[int, int]] = {}  # name -> (inode, size) of the files finished
        self._current: FileTail | None = None
        self._done = False

    def _listing(self) -> Iterator[tuple[float, str, os.stat_result]]:
        with os.scandir(self.name) as entries:
            for entry in entries:
                if entry.is_file() and fnmatch.fnmatch(entry.name, self.pattern):
                    try:
                        st = entry.stat()
                    except FileNotFoundError:
                        continue
                    yield st.st_mtime, entry.name, st

    def poll(self) -> list[Line]:
        if self._done:
            return []
        listing = sorted(self._listing())
        present = {name for _, name, _ in listing}
        self._read = {k: v for k, v in self._read.items() if k in present}  # forget files that left
        out: list[Line] = []
        fresh = [(name, st) for _, name, st in listing
                 if self._read.get(name, (None, None))[0] != st.st_ino
                 and (self._current is None or name != Path(self._current.name).name)]
        if self._current is not None:
            out += self._current.poll()
            if fresh or not self.follow:  # a newer file arrived: the current one is finished
                out += self._finish_current()
        for i, (name, _) in enumerate(fresh):
            last = i == len(fresh) - 1
            tail = FileTail(Path(self.name) / name, follow=self.follow and last)
            out += tail.poll()
            if self.follow and last:
                self._current = tail
            else:
                self._remember(tail)
        if not self.follow:
            self._done = True
        return out

    def _finish_current(self) -> list[Line]:
        assert self._current is not None
        tail, self._current = self._current, None
        tail.follow = False
        out = tail.poll()
        self._remember(tail)
        return out

    def _remember(self, tail: FileTail) -> None:
        try:
            st = os.stat(tail.name)
            self._read[Path(tail.name).name] = (st.st_ino, st.st_size)
        except FileNotFoundError:
            pass
        tail.close()

    @property
    def finished(self) -> tuple[str, ...]:
        """The names of the files read to their end that are still in the folder (what it remembers)."""
        return tuple(sorted(self._read))

    @property
    def exhausted(self) -> bool:
        return self._done

    def close(self) -> None:
        if self._current is not None:
            self._current.close()


class StdinSource:
    """Lines of a stream (stdin by default) until it closes; each poll waits for one line."""

    def __init__(self, stream: IO[bytes] | None = None, *, jsonl: bool = True):
        self.name = "<stdin>"
        self.jsonl = jsonl
        self._stream = stream if stream is not None else sys.stdin.buffer
        self._lineno = 0
        self._done = False

    def poll(self) -> list[Line]:
        while not self._done:
            raw = self._stream.readline()
            if not raw:
                self._done = True
                return []
            self._lineno += 1
            doc = _decode(raw, self.name, self._lineno, self.jsonl)
            if doc is not None:
                return [(self.name, self._lineno, doc)]
        return []

    @property
    def exhausted(self) -> bool:
        return self._done

    def close(self) -> None:
        pass


def open_source(spec: str, *, follow: bool, pattern: str = "*.jsonl") -> LineSource:
    """The source ``spec`` names: ``-`` (stdin), a folder, or a file (MissingInputError otherwise)."""
    if spec == "-":
        return StdinSource()
    if Path(spec).is_dir():
        return FolderSource(spec, follow=follow, pattern=pattern)
    return FileTail(spec, follow=follow)
