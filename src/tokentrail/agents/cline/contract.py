"""The contract kit of Cline: a task's ``ui_messages.json``, rewritten whole at each request."""

from __future__ import annotations

from pathlib import Path

import orjson

from tokentrail.agents.contract import OUTPUT, Count, Reread, Storage, dumps, millis

TASK = "1767607200000"


class TaskKit:
    """Cline's task-folder format (Roo Code's and Kilo Code's too)."""

    storage: Storage = "document"
    reread: Reread = "whole"  # the task's messages are rewritten whole, and read whole again

    def log_path(self, root: Path) -> Path:
        return root / "tasks" / TASK / "ui_messages.json"

    def add(self, path: Path, first: int, count: int, *, input: Count = 100) -> None:
        text = {"request": "(prompt)", "tokensOut": OUTPUT, "cacheWrites": 0, "cacheReads": 0}
        added = [
            {
                "ts": millis(i),
                "type": "say",
                "say": "api_req_started",
                "text": dumps({**text, "tokensIn": input, "cost": 0.001}).decode(),
            }
            for i in range(first, first + count)
        ]
        self._write(path, added)

    def add_malformed(self, path: Path) -> None:
        broken = {"ts": millis(99), "type": "say", "say": "api_req_started"}
        self._write(path, [{**broken, "text": '{"tokensIn": 100, "tokensOut"'}])

    @staticmethod
    def _write(path: Path, added: list[dict[str, object]]) -> None:
        messages = orjson.loads(path.read_bytes()) if path.exists() else []
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(orjson.dumps([*messages, *added]))


KIT = TaskKit()
