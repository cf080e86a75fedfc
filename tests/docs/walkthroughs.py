"""Helpers of the docs tests: find a bash block of a markdown file by its first line, and run it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path


def bash_block(doc: Path, marker: str) -> str:
    """The ```bash block of ``doc`` whose first line is ``# marker``."""
    return code_block(doc, "bash", marker)


def code_block(doc: Path, language: str, marker: str) -> str:
    """The ```language block of ``doc`` whose first line is ``# marker``."""
    for block in re.findall(rf"```{language}\n(.*?)```", doc.read_text(), flags=re.S):
        if block.startswith(f"# {marker}\n"):
            return block
    raise AssertionError(f"{doc.name} has no {language} block starting with '# {marker}'")


def run_bash(script: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run ``script`` under ``bash -euo pipefail`` in ``cwd`` with this venv's commands first on PATH."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    env.pop("TAILGUARD_LEDGER", None)
    return subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=1200)
