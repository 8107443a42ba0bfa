"""The contract kit of Copilot CLI: rows of ``session-store.db``'s usage table."""

from __future__ import annotations

from pathlib import Path

from tokentrail.agents.contract import OUTPUT, SESSION, Count, Reread, Storage, execute, iso

SCHEMA = """
CREATE TABLE sessions (id TEXT PRIMARY KEY, cwd TEXT, created_at TEXT, updated_at TEXT);
CREATE TABLE assistant_usage_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT, session_id TEXT NOT NULL, model TEXT NOT NULL,
    input_tokens INTEGER, output_tokens INTEGER, cache_read_tokens INTEGER,
    cache_write_tokens INTEGER, reasoning_tokens INTEGER, total_nano_aiu REAL,
    created_at TEXT NOT NULL
);
"""

_INSERT = (
    "INSERT INTO assistant_usage_events (id, session_id, model, input_tokens, output_tokens, "
    "cache_read_tokens, cache_write_tokens, created_at) VALUES (?, ?, 'gpt-5', ?, ?, 0, 0, ?)"
)
"""Request ``i`` is row ``i + 1``: the row id is part of its key, so two stores holding other
requests of one session (the contract's two roots) do not look like one store twice."""


_SESSION = "INSERT OR IGNORE INTO sessions VALUES (?, '/src/webapp', ?, ?)"


class CopilotKit:
    storage: Storage = "database"
    reread: Reread = "added"  # past a cursor of the rows read

    def log_path(self, root: Path) -> Path:
        return root / "session-store.db"

    def add(self, path: Path, first: int, count: int, *, input: Count = 100) -> None:
        value = float(input) if input >= 2**63 else input  # past SQLite's integers: a REAL
        execute(
            path,
            SCHEMA,
            [
                (
                    "INSERT OR IGNORE INTO sessions VALUES (?, '/src/webapp', ?, ?)",
                    (SESSION, iso(0), iso(0)),
                )
            ]
            + [
                (_INSERT, (i + 1, SESSION, value, OUTPUT, iso(i)))
                for i in range(first, first + count)
            ],
        )

    def add_malformed(self, path: Path) -> None:
        execute(path, SCHEMA, [(_INSERT, (None, SESSION, "many", OUTPUT, "not a time"))])


KIT = CopilotKit()
