-- Hand-made for tokentrail in the shape of Crush's schema (charmbracelet/crush
-- internal/db/migrations/*.sql, the columns that matter here); no row copied from elsewhere.
CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    parent_session_id TEXT,
    title TEXT NOT NULL,
    message_count INTEGER NOT NULL DEFAULT 0 CHECK (message_count >= 0),
    prompt_tokens INTEGER NOT NULL DEFAULT 0 CHECK (prompt_tokens >= 0),
    completion_tokens INTEGER NOT NULL DEFAULT 0 CHECK (completion_tokens >= 0),
    cost REAL NOT NULL DEFAULT 0.0 CHECK (cost >= 0.0),
    updated_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    summary_message_id TEXT,
    todos TEXT
);
CREATE TABLE messages (
    id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    role TEXT NOT NULL,
    parts TEXT NOT NULL DEFAULT '[]',
    model TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    finished_at INTEGER,
    provider TEXT,
    is_summary_message INTEGER DEFAULT 0 NOT NULL
);
-- a root session (times in seconds, as CreateSession writes them): its cost includes its
-- task and title sessions' costs; its token columns hold its last request only
INSERT INTO sessions VALUES ('3f1c2a9e-root-0001', NULL, 'Fix the login redirect', 9, 15200, 310,
    0.1234, 1772449200, 1772445600, NULL, NULL);
INSERT INTO sessions VALUES ('3f1c2a9e-task-0002', '3f1c2a9e-root-0001', 'Search the codebase', 4,
    8000, 120, 0.02, 1772446000, 1772445900, NULL, NULL);
INSERT INTO sessions VALUES ('title-3f1c2a9e-root-0001', '3f1c2a9e-root-0001', 'Title', 2, 300,
    12, 0.0005, 1772445605, 1772445601, NULL, NULL);
-- a root session that billed nothing (a local model Crush does not price)
INSERT INTO sessions VALUES ('7b2d4c6e-root-0003', NULL, 'Rename a variable', 2, 2000, 50, 0.0,
    1772532000, 1772531000, NULL, NULL);
-- an older root session (times in milliseconds) that used two models
INSERT INTO sessions VALUES ('9c8e7d6f-root-0004', NULL, 'Plan the migration', 6, 40000, 900,
    0.5, 1772618400000, 1772614800000, NULL, NULL);
INSERT INTO messages VALUES ('m1', '3f1c2a9e-root-0001', 'user', '[]', NULL, 1772445600, 1772445600, NULL, NULL, 0);
INSERT INTO messages VALUES ('m2', '3f1c2a9e-root-0001', 'assistant', '[]', 'claude-sonnet-4-5',
    1772445610, 1772445650, 1772445650, 'anthropic', 0);
INSERT INTO messages VALUES ('m3', '3f1c2a9e-root-0001', 'assistant', '[]', 'claude-sonnet-4-5',
    1772445700, 1772445750, 1772445750, 'anthropic', 0);
INSERT INTO messages VALUES ('m4', '3f1c2a9e-task-0002', 'assistant', '[]', 'claude-haiku-4-5',
    1772445910, 1772445950, 1772445950, 'anthropic', 0);
INSERT INTO messages VALUES ('m5', '9c8e7d6f-root-0004', 'assistant', '[]', 'gpt-5',
    1772614810000, 1772614850000, 1772614850000, 'openai', 0);
INSERT INTO messages VALUES ('m6', '9c8e7d6f-root-0004', 'assistant', '[]', 'claude-opus-4-1',
    1772615810000, 1772615850000, 1772615850000, 'anthropic', 0);
