"""The contract kit of Goose: rows of ``sessions.db``'s ``usage_ledger``."""

from __future__ import annotations

from tokentrail.agents.contract import (
    OUTPUT,
    Count,
    DatabaseKit,
    Statement,
    sqlite_count,
    when,
)

SCHEMA = """
CREATE TABLE sessions (
    id TEXT PRIMARY KEY, name TEXT NOT NULL DEFAULT '', working_dir TEXT NOT NULL,
    created_at TIMESTAMP, updated_at TIMESTAMP, provider_name TEXT, model_config_json TEXT,
    accumulated_input_tokens INTEGER, accumulated_output_tokens INTEGER,
    accumulated_cache_read_tokens INTEGER, accumulated_cache_write_tokens INTEGER,
    accumulated_cost REAL, parent_session_id TEXT
);
CREATE TABLE usage_ledger (
    id INTEGER PRIMARY KEY AUTOINCREMENT, session_id TEXT NOT NULL,
    created_timestamp INTEGER NOT NULL, model TEXT, input_tokens INTEGER, output_tokens INTEGER,
    total_tokens INTEGER, cache_read_tokens INTEGER, cache_write_tokens INTEGER, cost REAL,
    cost_source TEXT, is_compaction INTEGER DEFAULT 0
);
"""

_SESSION = (
    "INSERT OR IGNORE INTO sessions (id, working_dir, created_at, updated_at, provider_name)"
    " VALUES ('20260105_1', '/src/webapp', '2026-01-05 10:00:00', '2026-01-05 10:00:00',"
    " 'anthropic')"
)
_INSERT = (
    "INSERT INTO usage_ledger (session_id, created_timestamp, model, input_tokens,"
    " output_tokens, cache_read_tokens, cache_write_tokens) VALUES"
    " ('20260105_1', ?, 'claude-sonnet-4-5', ?, ?, 0, 0)"
)


class GooseKit(DatabaseKit):
    file_name = "sessions.db"
    schema = SCHEMA
    opening = ((_SESSION, ()),)
    malformed = ((_SESSION, ()), (_INSERT, ("not a time", "many", OUTPUT)))

    def request(self, index: int, input: Count) -> Statement:
        return (_INSERT, (int(when(index).timestamp()), sqlite_count(input), OUTPUT))


KIT = GooseKit()
