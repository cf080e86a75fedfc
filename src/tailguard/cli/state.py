"""Global CLI options shared by every command (set by the app callback), and the ledger they name."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tailguard.ledger import Ledger

DEFAULT_LEDGER_URL = "sqlite:///.tailguard/ledger.db"


@dataclass
class CLIState:
    ledger_url: str | None = None
    debug: bool = False

    def resolved_ledger_url(self) -> str:
        """``--ledger``, else ``$TAILGUARD_LEDGER``, else the default SQLite file."""
        return self.ledger_url or os.environ.get("TAILGUARD_LEDGER") or DEFAULT_LEDGER_URL

    def open_ledger(self, *, create: bool) -> Ledger:
        """Open the ledger; commands that only read pass ``create=False`` and never create one.

        A missing ledger then raises :class:`~tailguard.errors.LedgerNotFoundError`
        ("no ledger at PATH; create one with 'tailguard init' or 'tailguard ingest'").
        """
        from tailguard.ledger import Ledger

        return Ledger.open(self.resolved_ledger_url(), create=create)


state = CLIState()
