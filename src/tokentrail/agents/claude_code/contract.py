"""The contract kit of Claude Code: a transcript under ``<root>/<project>/<session>.jsonl``."""

from __future__ import annotations

from pathlib import Path

from tokentrail.agents.contract import OUTPUT, SESSION, Count, LinesKit, iso


class ClaudeCodeKit(LinesKit):
    def log_path(self, root: Path) -> Path:
        return root / "-home-dev-webapp" / f"{SESSION}.jsonl"

    def request(self, index: int, input: Count) -> object:
        return {
            "type": "assistant",
            "uuid": f"u-{index}",
            "sessionId": SESSION,
            "timestamp": iso(index),
            "cwd": "/home/dev/webapp",
            "requestId": f"req_{index}",
            "message": {
                "id": f"msg_{index}",
                "role": "assistant",
                "model": "claude-sonnet-4-5",
                "usage": {"input_tokens": input, "output_tokens": OUTPUT},
            },
        }


KIT = ClaudeCodeKit()
