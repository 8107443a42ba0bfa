"""The contract kit of mux: a workspace's message history (``chat.jsonl``)."""

from __future__ import annotations

from pathlib import Path

from tokentrail.agents.contract import OUTPUT, Count, LinesKit, millis


class MuxKit(LinesKit):
    def log_path(self, root: Path) -> Path:
        return root / "a1b2c3d4e5" / "chat.jsonl"

    def request(self, index: int, input: Count) -> object:
        return {
            "id": f"assistant-{index}",
            "role": "assistant",
            "parts": [],
            "metadata": {
                "historySequence": index,
                "timestamp": millis(index),
                "model": "anthropic:claude-sonnet-4-5",
                "usage": {"inputTokens": input, "outputTokens": OUTPUT, "cachedInputTokens": 0},
            },
        }


KIT = MuxKit()
