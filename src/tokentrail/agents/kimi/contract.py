"""The contract kit of Kimi CLI: a session's ``wire.jsonl``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from tokentrail.agents.contract import OUTPUT, SESSION, Count, LinesKit, when


class KimiKit(LinesKit):
    def log_path(self, root: Path) -> Path:
        return root / "5720364add692dacaee28135215a5a43" / SESSION / "wire.jsonl"

    def header(self) -> Sequence[object]:
        return [{"type": "metadata", "protocol_version": "1.3"}]

    def request(self, index: int, input: Count) -> object:
        usage = {
            "input_other": input,
            "output": OUTPUT,
            "input_cache_read": 0,
            "input_cache_creation": 0,
        }
        return {
            "timestamp": when(index).timestamp(),
            "message": {
                "type": "StatusUpdate",
                "payload": {"token_usage": usage, "message_id": f"chatcmpl-{index}"},
            },
        }


KIT = KimiKit()
