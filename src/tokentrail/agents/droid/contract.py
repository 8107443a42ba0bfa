"""The contract kit of Factory Droid: a session's settings file, whose ``tokenUsage`` is a
running total. Each added "request" is a session of its own (Droid keeps no per-request usage:
one session's growth between two reads is one event)."""

from __future__ import annotations

import json
from pathlib import Path

from tokentrail.agents.contract import OUTPUT, Count, Storage


class DroidKit:
    storage: Storage = "database"  # not lines: documents rewritten whole

    def log_path(self, root: Path) -> Path:
        return root / "-src-webapp" / "s0.settings.json"

    def add(self, path: Path, first: int, count: int, *, input: Count = 100) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        for index in range(first, first + count):
            usage = {"inputTokens": input, "outputTokens": OUTPUT, "cacheReadTokens": 0}
            target = path.with_name(f"s{index}.settings.json")
            target.write_text(json.dumps({"model": "claude-sonnet-4-5", "tokenUsage": usage}))

    def add_malformed(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.with_name("s-bad.settings.json").write_text('{"tokenUsage": {"inputTokens": 1')


KIT = DroidKit()
