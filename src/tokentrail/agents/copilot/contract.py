"""The contract kit of Copilot CLI: rows of ``session-store.db``'s usage table."""

from __future__ import annotations

from tokentrail.agents.contract import (
    OUTPUT,
    SESSION,
    Count,
    DatabaseKit,
    Statement,
    iso,
    sqlite_count,
)

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


class CopilotKit(DatabaseKit):
    file_name = "session-store.db"
    schema = SCHEMA
    opening = ((_SESSION, (SESSION, iso(0), iso(0))),)
    malformed = ((_INSERT, (None, SESSION, "many", OUTPUT, "not a time")),)

    def request(self, index: int, input: Count) -> Statement:
        return (_INSERT, (index + 1, SESSION, sqlite_count(input), OUTPUT, iso(index)))


KIT = CopilotKit()
