"""The contract kit of Kilo Code: its CLI's OpenCode-shaped database, ``kilo.db``."""

from __future__ import annotations

from tokentrail.agents.opencode.contract import OpenCodeKit


class KiloKit(OpenCodeKit):
    file_name = "kilo.db"


KIT = KiloKit()
