"""The contract kit of pi: a session file, header first."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from tokentrail.agents.contract import OUTPUT, SESSION, Count, LinesKit, iso, millis


class PiKit(LinesKit):
    def log_path(self, root: Path) -> Path:
        return root / "--home-dev-webapp--" / f"2026-01-05T10-00-00-000Z_{SESSION}.jsonl"

    def header(self) -> Sequence[object]:
        return (
            {
                "type": "session",
                "version": 3,
                "id": SESSION,
                "timestamp": iso(0),
                "cwd": "/home/dev/webapp",
            },
        )

    def request(self, index: int, input: Count) -> object:
        usage = {"input": input, "output": OUTPUT, "cacheRead": 0, "cacheWrite": 0}
        return {
            "type": "message",
            "id": f"{index:08x}",
            "timestamp": iso(index),
            "message": {
                "role": "assistant",
                "provider": "anthropic",
                "model": "claude-sonnet-4-5",
                "usage": usage,
                "timestamp": millis(index),
            },
        }


KIT = PiKit()
