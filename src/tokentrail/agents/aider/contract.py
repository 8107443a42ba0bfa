"""The contract kit of Aider: its analytics log, a ``launched`` event first."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from tokentrail.agents.contract import OUTPUT, Count, LinesKit, when

USER = "0f1e2d3c-4b5a-4969-8877-665544332211"


class AiderKit(LinesKit):
    def log_path(self, root: Path) -> Path:
        return root / "analytics.jsonl"

    def header(self) -> Sequence[object]:
        return ({"event": "launched", "properties": {}, "user_id": USER, "time": _time(0)},)

    def request(self, index: int, input: Count) -> object:
        properties = {
            "main_model": "anthropic/claude-sonnet-4-5",
            "edit_format": "diff",
            "prompt_tokens": input,
            "completion_tokens": OUTPUT,
            "cost": 0.001,
        }
        return {
            "event": "message_send",
            "properties": properties,
            "user_id": USER,
            "time": _time(index),
        }


def _time(index: int) -> int:
    return int(when(index).timestamp())


KIT = AiderKit()
