"""The contract kit of Factory Droid: a session's settings file, whose ``tokenUsage`` is a
running total. Each added "request" is a session of its own (Droid keeps no per-request usage:
one session's growth between two reads is one event); :meth:`DroidKit.write_total` rewrites one
session's total, for the running-total clause."""

from __future__ import annotations

import json
from pathlib import Path

from tokentrail.agents.contract import INPUT, OUTPUT, Count, RunningTotal, Storage


class DroidKit(RunningTotal):
    storage: Storage = "document"  # each session's settings file is rewritten whole

    def log_path(self, root: Path) -> Path:
        return root / "-src-webapp" / "s0.settings.json"

    def add(self, path: Path, first: int, count: int, *, input: Count = INPUT) -> None:
        for index in range(first, first + count):
            usage = {"inputTokens": input, "outputTokens": OUTPUT, "cacheReadTokens": 0}
            _write(path.with_name(f"s{index}.settings.json"), usage)

    def write_total(self, path: Path, requests: int) -> None:
        usage = {"inputTokens": requests * INPUT, "outputTokens": requests * OUTPUT}
        _write(path, {**usage, "cacheReadTokens": 0, "thinkingTokens": 0})

    def add_malformed(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.with_name("s-bad.settings.json").write_text('{"tokenUsage": {"inputTokens": 1')


def _write(path: Path, usage: dict[str, Count]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"model": "claude-sonnet-4-5", "tokenUsage": usage}))


KIT = DroidKit()
