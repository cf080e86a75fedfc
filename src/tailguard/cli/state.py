"""Global CLI options shared by every command (set by the app callback)."""

from __future__ import annotations

import os
from dataclasses import dataclass

DEFAULT_LEDGER_URL = "sqlite:///.tailguard/ledger.db"


@dataclass
class CLIState:
    ledger_url: str | None = None
    debug: bool = False

    def resolved_ledger_url(self) -> str:
        return self.ledger_url or os.environ.get("TAILGUARD_LEDGER") or DEFAULT_LEDGER_URL


state = CLIState()
