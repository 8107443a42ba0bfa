"""The contract kit of Codex CLI: a rollout whose token counts are running totals."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from tokentrail.agents.contract import INPUT, OUTPUT, SESSION, Count, LinesKit, iso


def _usage(input: Count, output: Count) -> dict[str, Count]:
    return {
        "input_tokens": input,
        "cached_input_tokens": 0,
        "output_tokens": output,
        "reasoning_output_tokens": 0,
        "total_tokens": input + output,
    }


class CodexKit(LinesKit):
    def log_path(self, root: Path) -> Path:
        return root / "2026" / "01" / "05" / f"rollout-2026-01-05T10-00-00-{SESSION}.jsonl"

    def header(self) -> Sequence[object]:
        meta = {"id": SESSION, "timestamp": iso(0), "cwd": "/home/dev/api"}
        return (
            {"timestamp": iso(0), "type": "session_meta", "payload": meta},
            {"timestamp": iso(0), "type": "turn_context", "payload": {"model": "gpt-5-codex"}},
        )

    def request(self, index: int, input: Count) -> object:
        # every earlier request was a normal one: the running total includes them
        total = _usage(INPUT * index + input, OUTPUT * (index + 1))
        return {
            "timestamp": iso(index),
            "type": "event_msg",
            "payload": {
                "type": "token_count",
                "info": {"total_token_usage": total, "last_token_usage": _usage(input, OUTPUT)},
            },
        }


KIT = CodexKit()
