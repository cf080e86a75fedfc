"""Package-level promises: cheap import, the console script, one-line errors."""

import subprocess
import sys

import pytest

from tailguard.cli.app import main
from tailguard.dependencies import require
from tailguard.errors import LabelFormatError, MissingDependencyError, TailguardError


def test_import_does_not_pull_heavy_dependencies():
    code = (
        "import sys, tailguard, tailguard.cli.app; "
        "heavy = [m for m in ('torch', 'ultralytics', 'transformers', 'ray', 'matplotlib', 'sklearn') "
        "if m in sys.modules]; print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_help_lists_commands():
    out = subprocess.run(
        [sys.executable, "-m", "tailguard.cli.app", "--help"], capture_output=True, text=True, check=True
    ).stdout
    assert "Usage" in out


def test_unknown_command_exits_2(capsys):
    assert main(["no-such-command"]) == 2


def test_errors_are_one_line_with_location():
    err = LabelFormatError("expected 5 fields, got 4\n(see docs)", path="labels/a.txt", line=3)
    assert str(err) == "labels/a.txt:3: expected 5 fields, got 4 (see docs)"
    assert isinstance(err, ValueError) and isinstance(err, TailguardError)


def test_missing_dependency_hint():
    with pytest.raises(MissingDependencyError, match=r"pip install 'tailguard\[yolo\]'"):
        require("surely_not_a_real_module_xyz", extra="yolo")
