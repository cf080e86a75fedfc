"""The monitor's sources: a followed file (partial lines, rotation by rename, truncation), a folder of
arriving files, a stream (stdin), and one-line errors for what cannot be read."""

from __future__ import annotations

import io
import json
import os

import pytest

from tailguard.errors import MissingInputError, TextFormatError
from tailguard.monitor.sources import FileTail, FolderSource, StdinSource, open_source


def texts(lines):
    return [t for _, _, t in lines]


def write(path, *docs, mode="a"):
    with open(path, mode, encoding="utf-8") as fh:
        fh.write("".join(json.dumps({"text": d}) + "\n" for d in docs))


def test_a_followed_file_waits_for_line_ends_and_survives_rotation_and_truncation(tmp_path):
    path = tmp_path / "out.jsonl"
    write(path, "a", "b", mode="w")
    with open(path, "a") as fh:
        fh.write('{"text": "c')  # a line still being written
    tail = FileTail(path, follow=True)
    assert texts(tail.poll()) == ["a", "b"]
    assert tail.poll() == [] and not tail.exhausted
    with open(path, "a") as fh:
        fh.write('"}\n')
    assert texts(tail.poll()) == ["c"]
    # rotation: the old file gets a last line, is renamed away, and a new file takes its name
    write(path, "d")
    os.rename(path, tmp_path / "out.jsonl.1")
    write(path, "e", mode="w")
    assert texts(tail.poll()) == ["d", "e"] and tail.rotations == 1
    # rotated away and not yet recreated: nothing, and no error
    os.rename(path, tmp_path / "out.jsonl.2")
    assert tail.poll() == []
    write(path, "f", mode="w")
    assert texts(tail.poll()) == ["f"] and tail.rotations == 2
    # truncated in place (copytruncate): read again from the start
    write(path, "g", "h")
    assert texts(tail.poll()) == ["g", "h"]
    write(path, "i", mode="w")
    lines = tail.poll()
    assert texts(lines) == ["i"] and tail.truncations == 1 and lines[0][1] == 1
    tail.close()


def test_no_follow_reads_a_last_line_without_newline_and_ends(tmp_path):
    path = tmp_path / "out.jsonl"
    with open(path, "w") as fh:
        fh.write('{"text": "a"}\n\n"b"')  # a blank line, then a JSON string without a newline
    tail = FileTail(path, follow=False)
    assert [(line, t) for _, line, t in tail.poll()] == [(1, "a"), (3, "b")]
    assert tail.exhausted and tail.poll() == []
    plain = tmp_path / "out.txt"
    plain.write_text("one line\nanother\n")
    assert texts(open_source(str(plain), follow=False).poll()) == ["one line", "another"]


def test_a_folder_reads_old_files_first_then_each_that_arrives(tmp_path):
    folder = tmp_path / "drop"
    folder.mkdir()
    write(folder / "b.jsonl", "b1")
    write(folder / "a.jsonl", "a1")
    os.utime(folder / "a.jsonl", (1, 1))  # older than b
    (folder / "ignored.log").write_text("not a match\n")
    source = FolderSource(folder, follow=True)
    assert texts(source.poll()) == ["a1", "b1"]
    write(folder / "b.jsonl", "b2")  # the newest file is followed as it grows
    assert texts(source.poll()) == ["b2"]
    write(folder / "c.jsonl", "c1")
    assert texts(source.poll()) == ["c1"]
    assert source.poll() == []
    assert source.finished == ("a.jsonl", "b.jsonl")  # c.jsonl is the one followed
    os.remove(folder / "a.jsonl")  # files that leave are forgotten
    source.poll()
    assert source.finished == ("b.jsonl",)
    source.close()
    once = FolderSource(folder, follow=False)
    assert texts(once.poll()) == ["b1", "b2", "c1"] and once.exhausted


def test_a_stream_is_read_line_by_line_until_it_closes():
    stream = StdinSource(io.BytesIO(b'{"text": "x"}\n\n"y"\n'))
    assert texts(stream.poll()) == ["x"] and texts(stream.poll()) == ["y"]
    assert stream.poll() == [] and stream.exhausted


def test_bad_sources_and_bad_lines_are_one_line_errors(tmp_path):
    with pytest.raises(MissingInputError, match=r"nope\.jsonl: monitor source not found"):
        open_source(str(tmp_path / "nope.jsonl"), follow=True)
    path = tmp_path / "bad.jsonl"
    path.write_text('{"text": "ok"}\n{"text": \n')
    with pytest.raises(TextFormatError, match=r"bad.jsonl:2: invalid JSON"):
        FileTail(path, follow=False).poll()
    path.write_text('{"title": "no text"}\n')
    with pytest.raises(TextFormatError, match=r"bad.jsonl:1: record has no text field"):
        FileTail(path, follow=False).poll()
    with pytest.raises(TextFormatError, match=r"<stdin>:1: not valid UTF-8"):
        StdinSource(io.BytesIO(b"\xff\xfe\n")).poll()
