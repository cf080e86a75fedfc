"""The local dashboard ``tailguard serve``: server-rendered, read-only pages over a ledger, each with a
JSON twin under ``/api`` (see :mod:`tailguard.serve.app`).

FastAPI and uvicorn are optional (``pip install 'tailguard[serve]'``) and imported only when the app
is built; :mod:`tailguard.serve.views` (the pages' data) and :mod:`tailguard.serve.svg` (the charts)
need neither.
"""

from __future__ import annotations

from typing import Any


def create_app(ledger_url: str, **kwargs: Any) -> Any:
    """The dashboard's FastAPI app over the ledger at ``ledger_url`` (see :func:`tailguard.serve.app.create_app`)."""
    from tailguard.serve.app import create_app as build

    return build(ledger_url, **kwargs)


def serve(ledger_url: str, *, host: str = "127.0.0.1", port: int = 8765, **kwargs: Any) -> None:
    """Serve the dashboard until interrupted (see :func:`tailguard.serve.server.serve`)."""
    from tailguard.serve.server import serve as run

    run(ledger_url, host=host, port=port, **kwargs)


__all__ = ["create_app", "serve"]
