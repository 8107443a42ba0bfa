"""The contract kit of Crush: root sessions with a cost (and no token counts) in ``crush.db``."""

from __future__ import annotations

from pathlib import Path

from tokentrail.agents.contract import CostOnly, Count, Reread, Storage, execute, when

SCHEMA = """
CREATE TABLE sessions (
    id TEXT PRIMARY KEY, parent_session_id TEXT, title TEXT NOT NULL,
    message_count INTEGER NOT NULL DEFAULT 0, prompt_tokens INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0, cost REAL NOT NULL DEFAULT 0.0,
    updated_at INTEGER NOT NULL, created_at INTEGER NOT NULL
);
CREATE TABLE messages (
    id TEXT PRIMARY KEY, session_id TEXT NOT NULL, role TEXT NOT NULL,
    parts TEXT NOT NULL DEFAULT '[]', model TEXT, created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL, finished_at INTEGER, provider TEXT
);
"""

_SESSION = "INSERT INTO sessions VALUES (?, NULL, 'Contract', 2, 1000, 10, ?, ?, ?)"
_GROWN = "UPDATE sessions SET cost = ?, message_count = message_count + 2 WHERE id = ?"


class CrushKit(CostOnly):
    storage: Storage = "database"
    reread: Reread = "whole"  # every root session is read again: its cost is updated in place

    def log_path(self, root: Path) -> Path:
        return root / "crush.db"

    def add(self, path: Path, first: int, count: int, *, input: Count = 100) -> None:
        rows = []
        for i in range(first, first + count):
            seconds = int(when(i).timestamp())
            rows.append((_SESSION, (_session_id(i), input / 1_000_000, seconds, seconds)))
        execute(path, SCHEMA, rows)

    def update(self, path: Path, index: int, *, input: Count) -> None:
        """Session ``index`` grew: Crush adds the new calls' cost to its row."""
        execute(path, SCHEMA, [(_GROWN, (input / 1_000_000, _session_id(index)))])

    def add_malformed(self, path: Path) -> None:
        execute(path, SCHEMA, [(_SESSION, ("session-bad", 0.5, "soon", "yesterday"))])


def _session_id(index: int) -> str:
    return f"session-{index:04d}"


KIT = CrushKit()
