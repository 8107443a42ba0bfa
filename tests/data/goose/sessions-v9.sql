-- A goose sessions.db at schema 9: running totals per session, no cache split, no cost.
CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP);
INSERT INTO schema_version (version) VALUES (9);
CREATE TABLE sessions (
    id TEXT PRIMARY KEY, name TEXT NOT NULL DEFAULT '', description TEXT NOT NULL DEFAULT '',
    user_set_name BOOLEAN DEFAULT FALSE, session_type TEXT NOT NULL DEFAULT 'user',
    working_dir TEXT NOT NULL, created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP, extension_data TEXT DEFAULT '{}',
    total_tokens INTEGER, input_tokens INTEGER, output_tokens INTEGER,
    accumulated_total_tokens INTEGER, accumulated_input_tokens INTEGER,
    accumulated_output_tokens INTEGER, schedule_id TEXT, recipe_json TEXT,
    user_recipe_values_json TEXT, provider_name TEXT, model_config_json TEXT,
    goose_mode TEXT NOT NULL DEFAULT 'auto'
);
CREATE TABLE messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT, message_id TEXT, session_id TEXT NOT NULL,
    role TEXT NOT NULL, content_json TEXT NOT NULL, created_timestamp INTEGER NOT NULL,
    timestamp TIMESTAMP DEFAULT CURRENT_TIMESTAMP, tokens INTEGER, metadata_json TEXT
);
INSERT INTO sessions (id, description, working_dir, created_at, updated_at, total_tokens,
    input_tokens, output_tokens, accumulated_total_tokens, accumulated_input_tokens,
    accumulated_output_tokens, provider_name, model_config_json)
VALUES ('20251120_1', 'Port the CLI to click', '/home/ana/src/cli', '2025-11-20 10:00:00',
    '2025-11-20 11:00:00', 9100, 8800, 300, 43000, 40000, 3000, 'anthropic',
    '{"model_name":"claude-sonnet-4-20250514"}');
INSERT INTO sessions (id, description, working_dir, created_at, updated_at, total_tokens,
    input_tokens, output_tokens, provider_name, model_config_json)
VALUES ('20251121_1', 'Only the last request is known', '/home/ana/src/cli', '2025-11-21 10:00:00',
    '2025-11-21 10:05:00', 5000, 4800, 200, 'ollama', '{"model_name":"qwen3-coder:30b"}');
