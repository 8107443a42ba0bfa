-- A ledger written by tokentrail 0.1 at schema version 1 (migration 0001_initial only).
BEGIN TRANSACTION;
CREATE TABLE _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')));
INSERT INTO "_migrations" VALUES('0001_initial','2026-11-01T10:00:00.000Z');
CREATE TABLE cursors (
            path TEXT PRIMARY KEY,
            source TEXT NOT NULL,
            device INTEGER NOT NULL,
            inode INTEGER NOT NULL,
            size INTEGER NOT NULL,
            mtime_ns INTEGER NOT NULL,
            offset INTEGER NOT NULL,
            line_no INTEGER NOT NULL,
            parser_version INTEGER NOT NULL,
            head_hash TEXT NOT NULL,
            memory BLOB
        );
CREATE TABLE events (
            id INTEGER PRIMARY KEY,
            event_key TEXT NOT NULL UNIQUE,
            source TEXT NOT NULL,
            machine TEXT NOT NULL DEFAULT '',
            run_id TEXT,
            session_key TEXT,
            ts_ms INTEGER NOT NULL,
            model TEXT,
            provider TEXT,
            input INTEGER,
            cache_read INTEGER,
            cache_write_5m INTEGER,
            cache_write_1h INTEGER,
            output INTEGER,
            reasoning INTEGER,
            cost_status TEXT NOT NULL,
            cost_micro INTEGER,
            price_version TEXT,
            reported_cost_usd REAL,
            pricing_context TEXT,
            project TEXT,
            git_branch TEXT,
            rank TEXT NOT NULL DEFAULT '',
            raw_usage BLOB
        );
INSERT INTO "events" VALUES(1,'claude_code:msg_old1','claude_code','old-laptop',NULL,'sess-old',1777885200000,'claude-sonnet-4-5-20250929','anthropic',100,1000,0,NULL,50,NULL,'priced',1350,'genai-prices 0.2.3',NULL,NULL,'/home/dev/code/webapp','main','0|2026-05-04T09:00:00+00:00|',X'7B7D');
CREATE TABLE rollups (
            bucket_ms INTEGER NOT NULL,
            source TEXT NOT NULL,
            model TEXT NOT NULL,
            project TEXT NOT NULL,
            machine TEXT NOT NULL,
            
    requests INTEGER NOT NULL DEFAULT 0,
    input INTEGER NOT NULL DEFAULT 0,
    cache_read INTEGER NOT NULL DEFAULT 0,
    cache_write_5m INTEGER NOT NULL DEFAULT 0,
    cache_write_1h INTEGER NOT NULL DEFAULT 0,
    output INTEGER NOT NULL DEFAULT 0,
    reasoning INTEGER NOT NULL DEFAULT 0,
    n_input INTEGER NOT NULL DEFAULT 0,
    n_cache_read INTEGER NOT NULL DEFAULT 0,
    n_cache_write INTEGER NOT NULL DEFAULT 0,
    n_output INTEGER NOT NULL DEFAULT 0,
    n_reasoning INTEGER NOT NULL DEFAULT 0,
    cost_micro INTEGER NOT NULL DEFAULT 0,
    unpriced_requests INTEGER NOT NULL DEFAULT 0,
    unpriced_tokens INTEGER NOT NULL DEFAULT 0,
    reported_cost_micro INTEGER NOT NULL DEFAULT 0,
    n_reported_cost INTEGER NOT NULL DEFAULT 0
,
            PRIMARY KEY (bucket_ms, source, model, project, machine)
        ) WITHOUT ROWID;
INSERT INTO "rollups" VALUES(1777885200000,'claude_code','claude-sonnet-4-5-20250929','/home/dev/code/webapp','old-laptop',1,100,1000,0,0,50,0,1,1,1,1,0,1350,0,0,0,0);
CREATE TABLE session_totals (
            session_key TEXT NOT NULL,
            model TEXT NOT NULL,
            first_ms INTEGER,
            last_ms INTEGER,
            
    requests INTEGER NOT NULL DEFAULT 0,
    input INTEGER NOT NULL DEFAULT 0,
    cache_read INTEGER NOT NULL DEFAULT 0,
    cache_write_5m INTEGER NOT NULL DEFAULT 0,
    cache_write_1h INTEGER NOT NULL DEFAULT 0,
    output INTEGER NOT NULL DEFAULT 0,
    reasoning INTEGER NOT NULL DEFAULT 0,
    n_input INTEGER NOT NULL DEFAULT 0,
    n_cache_read INTEGER NOT NULL DEFAULT 0,
    n_cache_write INTEGER NOT NULL DEFAULT 0,
    n_output INTEGER NOT NULL DEFAULT 0,
    n_reasoning INTEGER NOT NULL DEFAULT 0,
    cost_micro INTEGER NOT NULL DEFAULT 0,
    unpriced_requests INTEGER NOT NULL DEFAULT 0,
    unpriced_tokens INTEGER NOT NULL DEFAULT 0,
    reported_cost_micro INTEGER NOT NULL DEFAULT 0,
    n_reported_cost INTEGER NOT NULL DEFAULT 0
,
            PRIMARY KEY (session_key, model)
        ) WITHOUT ROWID;
INSERT INTO "session_totals" VALUES('sess-old','claude-sonnet-4-5-20250929',1777885200000,1777885200000,1,100,1000,0,0,50,0,1,1,1,1,0,1350,0,0,0,0);
CREATE TABLE sessions (
            session_key TEXT PRIMARY KEY,
            source TEXT NOT NULL,
            parent_key TEXT,
            relationship TEXT,
            project TEXT,
            title TEXT,
            started_ms INTEGER,
            ended_ms INTEGER,
            model TEXT,
            git_branch TEXT
        );
INSERT INTO "sessions" VALUES('sess-old','claude_code',NULL,NULL,'/home/dev/code/webapp','Old work',1777885200000,1777885200000,'claude-sonnet-4-5-20250929','main');
CREATE INDEX events_session ON events(session_key);
CREATE INDEX sessions_parent ON sessions(parent_key);
COMMIT;
