"""The contract kit of OpenCode: assistant messages in its SQLite database."""

from __future__ import annotations

import orjson

from tokentrail.agents.contract import (
    OUTPUT,
    SESSION,
    Count,
    DatabaseKit,
    Statement,
    millis,
)

SCHEMA = """
CREATE TABLE project (
    id TEXT PRIMARY KEY, worktree TEXT NOT NULL,
    time_created INTEGER NOT NULL, time_updated INTEGER NOT NULL
);
CREATE TABLE session (
    id TEXT PRIMARY KEY, project_id TEXT NOT NULL, parent_id TEXT, slug TEXT NOT NULL,
    directory TEXT NOT NULL, title TEXT NOT NULL, version TEXT NOT NULL,
    time_created INTEGER NOT NULL, time_updated INTEGER NOT NULL
);
CREATE TABLE message (
    id TEXT PRIMARY KEY, session_id TEXT NOT NULL,
    time_created INTEGER NOT NULL, time_updated INTEGER NOT NULL, data TEXT NOT NULL
);
CREATE TABLE part (
    id TEXT PRIMARY KEY, message_id TEXT NOT NULL, session_id TEXT NOT NULL,
    time_created INTEGER NOT NULL, time_updated INTEGER NOT NULL, data TEXT NOT NULL
);
INSERT INTO project VALUES ('prj_1', '/src/webapp', 1, 1);
"""

_SESSION = (
    "INSERT OR IGNORE INTO session VALUES (?, 'prj_1', NULL, 'otter', '/src/webapp', "
    "'Contract', '1.1.20', ?, ?)"
)
_MESSAGE = "INSERT INTO message VALUES (?, ?, ?, ?, ?)"


def _data(index: int, input: Count) -> str:
    tokens = {"input": input, "output": OUTPUT, "reasoning": 0, "cache": {"read": 0, "write": 0}}
    data = {
        "role": "assistant",
        "time": {"created": millis(index), "completed": millis(index) + 500},
        "modelID": "claude-sonnet-4-5",
        "providerID": "anthropic",
        "path": {"cwd": "/src/webapp", "root": "/src/webapp"},
        "tokens": tokens,
    }
    try:
        return orjson.dumps(data).decode()
    except TypeError:  # a count past 64 bits
        import json

        return json.dumps(data)


class OpenCodeKit(DatabaseKit):
    file_name = "opencode.db"
    schema = SCHEMA
    opening = ((_SESSION, (SESSION, millis(0), millis(0))),)
    malformed = ((_MESSAGE, ("msg_malformed", SESSION, millis(0), millis(0), "{not json")),)

    def request(self, index: int, input: Count) -> Statement:
        return (
            _MESSAGE,
            (f"msg_{index:06d}", SESSION, millis(index), millis(index), _data(index, input)),
        )


KIT = OpenCodeKit()
