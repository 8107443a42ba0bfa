"""The contract kit of Qwen Code: a chat recording with Gemini-shaped ``usageMetadata``."""

from __future__ import annotations

from pathlib import Path

from tokentrail.agents.contract import OUTPUT, SESSION, Count, LinesKit, iso


class QwenKit(LinesKit):
    def log_path(self, root: Path) -> Path:
        return root / "-home-dev-webapp" / "chats" / f"{SESSION}.jsonl"

    def request(self, index: int, input: Count) -> object:
        return {
            "uuid": f"u-{index}",
            "sessionId": SESSION,
            "timestamp": iso(index),
            "type": "assistant",
            "cwd": "/home/dev/webapp",
            "model": "qwen3-coder-plus",
            "usageMetadata": {
                "promptTokenCount": input,
                "candidatesTokenCount": OUTPUT,
                "cachedContentTokenCount": 0,
            },
        }


KIT = QwenKit()
