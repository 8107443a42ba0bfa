"""The contract kit of Kilo Code: its CLI's OpenCode-shaped database, ``kilo.db``."""

from __future__ import annotations

from pathlib import Path

from tokentrail.agents.opencode.contract import OpenCodeKit


class KiloKit(OpenCodeKit):
    def log_path(self, root: Path) -> Path:
        return root / "kilo.db"


KIT = KiloKit()
