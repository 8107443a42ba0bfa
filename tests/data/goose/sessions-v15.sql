-- A goose sessions.db at schema 15 (usage_ledger), hand-made in the shape goose writes.
CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP);
INSERT INTO schema_version (version) VALUES (15);
CREATE TABLE sessions (
    id TEXT PRIMARY KEY, name TEXT NOT NULL DEFAULT '', description TEXT NOT NULL DEFAULT '',
    user_set_name BOOLEAN DEFAULT FALSE, session_type TEXT NOT NULL DEFAULT 'user',
    working_dir TEXT NOT NULL, created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, extension_data TEXT DEFAULT '{}',
    total_tokens INTEGER, input_tokens INTEGER, output_tokens INTEGER,
    cache_read_tokens INTEGER, cache_write_tokens INTEGER,
    accumulated_total_tokens INTEGER, accumulated_input_tokens INTEGER,
    accumulated_output_tokens INTEGER, accumulated_cache_read_tokens INTEGER,
    accumulated_cache_write_tokens INTEGER, accumulated_cost REAL,
    schedule_id TEXT, recipe_json TEXT, user_recipe_values_json TEXT,
    provider_name TEXT, model_config_json TEXT, goose_mode TEXT NOT NULL DEFAULT 'auto',
    thread_id TEXT, archived_at TIMESTAMP, project_id TEXT, parent_session_id TEXT
);
CREATE TABLE messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT, message_id TEXT, session_id TEXT NOT NULL,
    role TEXT NOT NULL, content_json TEXT NOT NULL, created_timestamp INTEGER NOT NULL,
    timestamp TIMESTAMP DEFAULT CURRENT_TIMESTAMP, tokens INTEGER, metadata_json TEXT
);
CREATE TABLE usage_ledger (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
    created_timestamp INTEGER NOT NULL, model TEXT, input_tokens INTEGER, output_tokens INTEGER,
    total_tokens INTEGER, cache_read_tokens INTEGER, cache_write_tokens INTEGER, cost REAL,
    cost_source TEXT, is_compaction INTEGER DEFAULT 0
);
CREATE INDEX idx_usage_ledger_session ON usage_ledger(session_id);

-- a session counted per request (its totals are the sum of its rows: not read)
INSERT INTO sessions (id, name, working_dir, created_at, updated_at, provider_name, model_config_json,
    accumulated_total_tokens, accumulated_input_tokens, accumulated_output_tokens,
    accumulated_cache_read_tokens, accumulated_cache_write_tokens, accumulated_cost)
VALUES ('20260310_1', 'Fix the flaky upload test', '/home/ana/src/api', '2026-03-10 09:00:00',
    '2026-03-10 09:20:00', 'anthropic', '{"model_name":"claude-sonnet-4-5","context_limit":200000}',
    58100, 56000, 2100, 44000, 5500, 0.0591);
-- its sub-agent
INSERT INTO sessions (id, name, session_type, working_dir, created_at, updated_at, provider_name,
    model_config_json, parent_session_id)
VALUES ('20260310_2', 'explore the upload code', 'sub_agent', '/home/ana/src/api',
    '2026-03-10 09:05:00', '2026-03-10 09:06:00', 'openai', '{"model_name":"gpt-5-mini"}', '20260310_1');
-- a session from before the ledger: one request holding its totals
INSERT INTO sessions (id, name, working_dir, created_at, updated_at, provider_name, model_config_json,
    accumulated_total_tokens, accumulated_input_tokens, accumulated_output_tokens,
    accumulated_cache_read_tokens, accumulated_cache_write_tokens, accumulated_cost)
VALUES ('20260301_1', 'Write the README', '/home/ana/src/docs', '2026-03-01 14:00:00',
    '2026-03-01 15:30:00', 'anthropic', '{"model_name":"claude-sonnet-4-5"}',
    131000, 120000, 11000, 90000, 12000, 0.2817);
-- a session that never made a request
INSERT INTO sessions (id, name, working_dir, created_at, updated_at)
VALUES ('20260311_1', '', '/home/ana', '2026-03-11 08:00:00', '2026-03-11 08:00:00');

INSERT INTO usage_ledger (session_id, created_timestamp, model, input_tokens, output_tokens,
    total_tokens, cache_read_tokens, cache_write_tokens, cost, cost_source, is_compaction) VALUES
 ('20260310_1', 1773133230, 'claude-sonnet-4-5', 25000, 400, 25400, 20000, 4000, 0.0213, 'provider_reported', 0),
 ('20260310_2', 1773133510, 'gpt-5-mini', 3000, 200, 3200, 1000, 0, NULL, NULL, 0),
 ('20260310_1', 1773133800, 'claude-sonnet-4-5', 26000, 900, 26900, 24000, 1500, 0.0258, 'estimated', 0),
 ('20260310_1', 1773134400, NULL, 5000, 800, 5800, 0, 0, 0.012, 'estimated', 1),
 ('20260310_1', 1773134500, 'claude-sonnet-4-5', 100, 10, 110, 500, 0, NULL, NULL, 0);
