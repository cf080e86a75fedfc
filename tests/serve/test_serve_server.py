"""Starting the dashboard: the socket, the CLI's one-line startup errors, and a real server process."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import urllib.request

import pytest

from tailguard.cli.app import main
from tailguard.errors import MissingDependencyError, ParameterError, ServerStartError
from tailguard.serve.server import listen


@pytest.fixture
def busy_port():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    yield sock.getsockname()[1]
    sock.close()


def test_listen_on_a_taken_port_or_an_unknown_host_is_one_line(busy_port):
    with pytest.raises(ServerStartError, match=f"port {busy_port} on 127.0.0.1 is already in use"):
        listen("127.0.0.1", busy_port)
    with pytest.raises(ServerStartError, match=r"cannot serve on host 'no-such-host\.invalid'"):
        listen("no-such-host.invalid", 0)
    with pytest.raises(ParameterError, match=r"0\.\.65535"):
        listen("127.0.0.1", 70000)


def test_cli_serve_on_a_taken_port_exits_2_in_one_line(capsys, built, busy_port):
    assert main(["serve", "--port", str(busy_port), "--ledger", built.url]) == 2
    err = capsys.readouterr().err
    assert err == (f"error: port {busy_port} on 127.0.0.1 is already in use; choose another with --port "
                   "(or --port 0 for a free one)\n")


def test_cli_serve_on_a_missing_ledger_exits_2_and_creates_nothing(capsys, tmp_path):
    db = tmp_path / "missing" / "ledger.db"
    assert main(["serve", "--port", "0", "--ledger", f"sqlite:///{db}"]) == 2
    assert capsys.readouterr().err == (f"error: no ledger at {db}; create one with 'tailguard init' or "
                                       "'tailguard ingest'\n")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("url", ["sqlite://", "sqlite://ledger.db", "mysql://x/y"])
def test_cli_serve_on_a_bad_ledger_url_exits_2_in_one_line(capsys, url):
    assert main(["serve", "--port", "0", "--ledger", url]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err


def test_without_fastapi_the_message_gives_the_install_hint(monkeypatch, built):
    from tailguard.serve import create_app

    monkeypatch.setitem(sys.modules, "fastapi", None)
    with pytest.raises(MissingDependencyError, match=r"pip install 'tailguard\[serve\]'"):
        create_app(built.url)


def test_the_cli_serves_on_loopback_by_default_until_stopped(built):
    proc = subprocess.Popen([sys.executable, "-c", "from tailguard.cli.app import main; main()", "serve", "--port", "0",
                             "--ledger", built.url], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        line = proc.stdout.readline()
        assert line.startswith(f"serving the ledger {built.url} at http://127.0.0.1:"), line + proc.stderr.read()
        url = line.split(" at ")[1].split()[0]
        with urllib.request.urlopen(url + "api/versions", timeout=30) as r:
            names = [v["name"] for v in json.load(r)["versions"]]
        assert names[:4] == ["human", "gen1", "gen2", "mix"]
        with urllib.request.urlopen(url + "versions", timeout=30) as r:
            assert 'class="version-row" data-name="mix"' in r.read().decode()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
