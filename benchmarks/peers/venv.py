"""Virtualenvs of their own for peers that cannot be installed beside the project's pins.

``alibi-detect==0.13.0`` needs ``numpy<2`` (the project pins numpy 2), and
``diversity==0.3.1`` needs ``sentence-transformers<6`` and ``transformers<5`` (the
project's ``lm`` extra has newer ones) and pulls pyarrow, which needs numpy 2, so
the two cannot share one either. Each runs in its own virtualenv,
``<repo>/.venv-peers/<name>`` (override the folder with ``TAILGUARD_PEER_VENV``).
One is created on first use:

1. ``python -m venv`` with the running interpreter;
2. torch, the one heavy dependency, is *linked* from the running environment
   when it has one (a symlink per top-level entry of torch and of every package
   torch needs, so pip sees them installed and no 3 GB download happens);
3. ``pip install`` of :data:`PEERS` (exact pins) and their own dependencies,
   which then resolve to ``numpy<2`` etc. inside that venv only.

Benchmarks call :func:`run_peer`, which runs a script of ``benchmarks/peers/``
with one venv's python and returns the JSON object it prints last, so the
peer's figures are printed in the same run as tailguard's.

Usage::

    .venv/bin/python benchmarks/peers/venv.py [alibi] [diversity]   # create (or check) them
"""

from __future__ import annotations

import importlib.metadata as md
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
# spacy, openai: imported when diversity 0.3.1 is imported (part-of-speech patterns, its QUDsim
# helper) but not among its declared requirements.
PEERS: dict[str, tuple[str, ...]] = {
    "alibi": ("alibi-detect==0.13.0",),
    "diversity": ("diversity==0.3.1", "spacy==3.8.18", "openai==3.57.0"),
}


def venv_dir(name: str) -> Path:
    return Path(os.environ.get("TAILGUARD_PEER_VENV", ROOT / ".venv-peers")) / name


def python(name: str) -> Path:
    return venv_dir(name) / "bin" / "python"


def _closure(name: str) -> list[md.Distribution]:
    """``name``'s distribution and every installed distribution it requires (markers ignored)."""
    seen: dict[str, md.Distribution] = {}
    todo = [name]
    while todo:
        n = re.split(r"[ ;<>=!~\[(]", todo.pop(), maxsplit=1)[0].lower().replace("_", "-")
        if n in seen:
            continue
        try:
            dist = md.distribution(n)
        except md.PackageNotFoundError:
            continue
        seen[n] = dist
        todo.extend(r for r in dist.requires or [] if "extra ==" not in r)
    return list(seen.values())


def _link_torch(site: Path) -> list[str]:
    """Symlink torch and its requirements from this environment into ``site``; their names."""
    linked = []
    for dist in _closure("torch"):
        base = Path(str(dist.locate_file("")))
        tops = {Path(str(f)).parts[0] for f in dist.files or [] if not str(f).startswith("..")}
        for top in sorted(tops):
            src, dst = base / top, site / top
            if src.exists() and not dst.exists() and not top.endswith(".pth") and top != "__pycache__":
                dst.symlink_to(src)
        linked.append(dist.metadata["Name"])
    return linked


def ensure(name: str) -> Path:
    """Create the peer venv ``name`` when missing (see the module doc); return its python."""
    py, peers = python(name), PEERS[name]
    marker = venv_dir(name) / ".tailguard-peers"
    if marker.exists() and marker.read_text() == "\n".join(peers):
        return py
    if not py.exists():
        venv_dir(name).parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv_dir(name))], check=True)
    site = Path(
        subprocess.run(
            [str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    )
    linked = _link_torch(site) if _closure("torch") else []
    print(f"# peer venv {venv_dir(name)}: linked {', '.join(linked) or 'nothing'}; installing {' '.join(peers)}")
    subprocess.run([str(py), "-m", "pip", "install", "-q", *peers], check=True)
    marker.write_text("\n".join(peers))
    return py


def run_peer(name: str, script: str, payload: dict[str, Any], timeout: float = 3600) -> dict[str, Any]:
    """Run ``benchmarks/peers/<script>`` in the peer venv ``name`` with ``payload`` as JSON on stdin.

    Returns the last line of its stdout parsed as JSON, or ``{"error": ...}`` when
    the venv cannot be made or the script fails (the caller prints it).
    """
    try:
        py = ensure(name)
    except (OSError, subprocess.CalledProcessError) as exc:
        return {"error": f"peer venv {venv_dir(name)} could not be created: {exc}"}
    env = {**os.environ, "PYTHONPATH": ""}
    proc = subprocess.run(
        [str(py), str(ROOT / "benchmarks" / "peers" / script)],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode or not lines:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        return {"error": f"{script} exited {proc.returncode}: {' | '.join(tail)}"}
    return json.loads(lines[-1])


if __name__ == "__main__":
    for env_name in sys.argv[1:] or PEERS:
        print(ensure(env_name))
