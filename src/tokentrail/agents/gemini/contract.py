"""The contract kit of Gemini CLI: a JSONL chat recording (newer versions' format)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from tokentrail.agents.contract import OUTPUT, SESSION, Count, LinesKit, iso


class GeminiKit(LinesKit):
    def log_path(self, root: Path) -> Path:
        return root / "webapp" / "chats" / "session-2026-01-05T10-00-0f1e2d3c.jsonl"

    def header(self) -> Sequence[object]:
        return ({"sessionId": SESSION, "projectHash": "webapp", "startTime": iso(0)},)

    def request(self, index: int, input: Count) -> object:
        return {
            "id": f"m-{index}",
            "timestamp": iso(index),
            "type": "gemini",
            "content": "",
            "model": "gemini-2.5-pro",
            "tokens": {"input": input, "output": OUTPUT, "cached": 0, "thoughts": 0, "tool": 0},
        }


KIT = GeminiKit()
