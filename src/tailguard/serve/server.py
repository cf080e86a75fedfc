"""Start the dashboard: open the ledger, take the socket, run uvicorn on it.

Everything that can fail at startup fails before uvicorn runs, with one line: the ledger
(missing, bad URL, older schema: the ledger's own errors) and the address (a port that is
taken or a host that is no address of this machine: :class:`~tailguard.errors.ServerStartError`).
The socket is bound here and handed to uvicorn, so no other process can take the port in between.

>>> sock = listen("127.0.0.1", 0)
>>> busy = sock.getsockname()[1]
>>> try:
...     listen("127.0.0.1", busy)
... except ServerStartError as err:
...     print(str(err).split(";")[0] == f"port {busy} on 127.0.0.1 is already in use")
True
>>> sock.close()
"""

from __future__ import annotations

import errno
import socket
from collections.abc import Callable
from typing import Any

from tailguard.dependencies import require
from tailguard.errors import ParameterError, ServerStartError


def listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0: a free one), or a one-line ServerStartError."""
    if not 0 <= int(port) <= 65535:
        raise ParameterError(f"The 'port' parameter of tailguard serve must be an int in 0..65535. Got {port}.")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ServerStartError(f"cannot serve on host {host!r}: {exc.strerror or exc}") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ServerStartError(f"port {port} on {host} is already in use; choose another with --port "
                                   "(or --port 0 for a free one)") from None
        raise ServerStartError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.set_inheritable(True)
    return sock


def serve(ledger_url: str, *, host: str = "127.0.0.1", port: int = 8765,
          on_ready: Callable[[str], None] | None = print, log_level: str = "warning") -> None:
    """Serve the dashboard of ``ledger_url`` on ``host:port`` until interrupted.

    ``on_ready`` gets the URL once the socket listens (the CLI prints it; port 0 shows the port taken).
    """
    uvicorn = require("uvicorn", extra="serve", feature="tailguard serve")
    from tailguard.ledger import Ledger
    from tailguard.serve.app import create_app

    ledger = Ledger.open(ledger_url, create=False)
    try:
        app = create_app(ledger_url, ledger=ledger)
        sock = listen(host, port)
        # the home page's reads, once: every version's composition (versions are immutable)
        app.state.cache.compositions(ledger, ledger.list_versions())
        try:
            bound = sock.getsockname()
            shown = f"[{bound[0]}]" if sock.family == socket.AF_INET6 else bound[0]
            url = f"http://{shown}:{bound[1]}/"
            config = uvicorn.Config(app, log_level=log_level, access_log=False, lifespan="off")
            server = uvicorn.Server(config)
            if on_ready is not None:
                on_ready(url)
            server.run(sockets=[sock])
        finally:
            sock.close()
    finally:
        ledger.close()


def run_in_thread(app: Any, sock: socket.socket) -> tuple[Any, Any]:
    """Run ``app`` with uvicorn on a listening ``sock`` in a daemon thread (tests, benchmarks); returns
    ``(server, thread)``: set ``server.should_exit = True`` and join the thread to stop it."""
    import threading
    import time

    uvicorn = require("uvicorn", extra="serve", feature="tailguard serve")
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise ServerStartError("the dashboard server did not start")
        time.sleep(0.02)
    return server, thread


__all__ = ["listen", "run_in_thread", "serve"]
