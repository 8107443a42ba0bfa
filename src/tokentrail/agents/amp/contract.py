"""The contract kit of Amp: a thread document (``T-<uuid>.json``), rewritten as it grows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tokentrail.agents.contract import OUTPUT, Count, Reread, Storage, iso


class AmpKit:
    storage: Storage = "document"
    reread: Reread = "whole"  # a thread is rewritten whole, and read whole again

    def log_path(self, root: Path) -> Path:
        return root / "T-0f1e2d3c-4b5a-4969-8877-665544332211.json"

    def _thread(self, path: Path) -> dict[str, Any]:
        if path.exists():
            thread: dict[str, Any] = json.loads(path.read_text())
            return thread
        return {"id": path.stem, "created": 1767607200000, "usageLedger": {"events": []}}

    def _write(self, path: Path, thread: dict[str, Any]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(thread))

    def add(self, path: Path, first: int, count: int, *, input: Count = 100) -> None:
        thread = self._thread(path)
        for index in range(first, first + count):
            thread["usageLedger"]["events"].append(
                {
                    "id": f"ev-{index}",
                    "timestamp": iso(index),
                    "model": "claude-sonnet-4-5",
                    "tokens": {"input": input, "output": OUTPUT},
                }
            )
        self._write(path, thread)

    def add_malformed(self, path: Path) -> None:
        thread = self._thread(path)
        thread["usageLedger"]["events"].append({"id": "ev-bad", "timestamp": "soon"})
        self._write(path, thread)


KIT = AmpKit()
