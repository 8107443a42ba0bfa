"""Named, forward-only schema migrations for the PostgreSQL (team) store.

Same rules as the SQLite list in :mod:`tokentrail.store.migrations`: each migration runs
once, in its own transaction, when the store opens, and its name is recorded in
``_migrations``. Never edit a migration that has shipped: add a new one.

The PostgreSQL schema starts where the SQLite one stands at ``0004_push_tracking`` and adds
what a team ledger needs: a user attribution on events and rollups (``user_name``: ``user`` is
a reserved word), session totals per machine and user, cursors per machine (two machines may
both have ``~/.claude/projects/...``), and the push watermarks. Text that is sorted or used as
a key is ``COLLATE "C"``: byte order, as in SQLite, whatever the database's locale. The
totals tables are updated in place by every batch: they leave room on each page
(``fillfactor``) so an update can stay on its page without touching the indexes.
"""

from __future__ import annotations

from tokentrail.store import day_rollups, lifetime_rollups
from tokentrail.store.base import MEASURES
from tokentrail.store.migrations import DAY_ROLLUP_MEASURES, push_tracking_of_rate_limits

_FIRST_MEASURES = MEASURES[:17]
"""The measures as 0001_initial created them (measures are only ever appended). A migration that
has shipped must never change, so later measures are added by later migrations."""
_MEASURE_COLUMNS = ",\n    ".join(f"{m} BIGINT NOT NULL DEFAULT 0" for m in _FIRST_MEASURES)
_TOTALS_TABLES = ("rollups", "session_totals", "run_totals")
_T = 'TEXT COLLATE "C"'

POSTGRES_MIGRATIONS: tuple[tuple[str, str], ...] = (
    (
        "0001_initial",
        f"""
        CREATE TABLE events (
            id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            event_key {_T} NOT NULL UNIQUE,
            source {_T} NOT NULL,
            machine {_T} NOT NULL DEFAULT '',
            run_id {_T},
            session_key {_T},
            ts_ms BIGINT NOT NULL,
            model {_T},
            provider {_T},
            input BIGINT,
            cache_read BIGINT,
            cache_write_5m BIGINT,
            cache_write_1h BIGINT,
            output BIGINT,
            reasoning BIGINT,
            cost_status {_T} NOT NULL,
            cost_micro BIGINT,
            price_version {_T},
            reported_cost_usd DOUBLE PRECISION,
            pricing_context TEXT,
            project {_T},
            git_branch {_T},
            rank {_T} NOT NULL DEFAULT '',
            raw_usage BYTEA,
            user_name {_T},
            changed_seq BIGINT
        );
        CREATE INDEX events_session ON events(session_key);
        CREATE INDEX events_run ON events(run_id) WHERE run_id IS NOT NULL;
        CREATE INDEX events_changed ON events(changed_seq) WHERE changed_seq IS NOT NULL;

        CREATE TABLE sessions (
            session_key {_T} PRIMARY KEY,
            source {_T} NOT NULL,
            parent_key {_T},
            relationship {_T},
            project {_T},
            title TEXT,
            started_ms BIGINT,
            ended_ms BIGINT,
            model {_T},
            git_branch {_T},
            run_id {_T},
            issue_id {_T},
            identifier {_T},
            state {_T},
            turns BIGINT,
            change_seq BIGINT NOT NULL DEFAULT 0
        );
        CREATE INDEX sessions_parent ON sessions(parent_key);
        CREATE INDEX sessions_ended ON sessions(ended_ms);
        CREATE INDEX sessions_run ON sessions(run_id);
        CREATE INDEX sessions_change ON sessions(change_seq);

        CREATE TABLE cursors (
            machine {_T} NOT NULL,
            path {_T} NOT NULL,
            source {_T} NOT NULL,
            device BIGINT NOT NULL,
            inode BIGINT NOT NULL,
            size BIGINT NOT NULL,
            mtime_ns BIGINT NOT NULL,
            byte_offset BIGINT NOT NULL,
            line_no BIGINT NOT NULL,
            parser_version BIGINT NOT NULL,
            head_hash TEXT NOT NULL,
            memory BYTEA,
            PRIMARY KEY (machine, path)
        );

        CREATE TABLE rollups (
            bucket_ms BIGINT NOT NULL,
            source {_T} NOT NULL,
            model {_T} NOT NULL,
            project {_T} NOT NULL,
            machine {_T} NOT NULL,
            user_name {_T} NOT NULL,
            {_MEASURE_COLUMNS},
            PRIMARY KEY (bucket_ms, source, model, project, machine, user_name)
        ) WITH (fillfactor = 70);
        CREATE INDEX rollups_model ON rollups(model);

        CREATE TABLE session_totals (
            session_key {_T} NOT NULL,
            model {_T} NOT NULL,
            machine {_T} NOT NULL,
            user_name {_T} NOT NULL,
            first_ms BIGINT,
            last_ms BIGINT,
            {_MEASURE_COLUMNS},
            PRIMARY KEY (session_key, model, machine, user_name)
        ) WITH (fillfactor = 70);

        CREATE TABLE meta (
            key {_T} PRIMARY KEY,
            value TEXT NOT NULL
        );

        CREATE TABLE runs (
            run_id {_T} PRIMARY KEY,
            app {_T} NOT NULL,
            started_ms BIGINT NOT NULL,
            stopped_ms BIGINT,
            state {_T} NOT NULL,
            reason TEXT,
            peak_concurrency BIGINT NOT NULL DEFAULT 0,
            sessions_launched BIGINT NOT NULL DEFAULT 0,
            machine {_T} NOT NULL DEFAULT '',
            change_seq BIGINT NOT NULL DEFAULT 0
        );
        CREATE INDEX runs_app_state ON runs(app, state);
        CREATE INDEX runs_started ON runs(started_ms);
        CREATE INDEX runs_change ON runs(change_seq);

        CREATE TABLE run_totals (
            run_id {_T} PRIMARY KEY,
            first_ms BIGINT,
            last_ms BIGINT,
            {_MEASURE_COLUMNS}
        ) WITH (fillfactor = 70);

        CREATE TABLE push_watermarks (
            machine {_T} NOT NULL,
            ledger_id {_T} NOT NULL,
            event_id BIGINT NOT NULL DEFAULT 0,
            event_change BIGINT NOT NULL DEFAULT 0,
            session_change BIGINT NOT NULL DEFAULT 0,
            run_change BIGINT NOT NULL DEFAULT 0,
            user_name {_T},
            pushed_ms BIGINT,
            PRIMARY KEY (machine, ledger_id)
        )
        """,
    ),
    (
        "0002_otlp_metrics",
        # OpenTelemetry, as the SQLite store's 0005_otlp_metrics: the alias index, what OTLP
        # reported per request, usage metrics (to reconcile, never in totals) and tool calls.
        f"""
        CREATE TABLE event_aliases (
            alias {_T} PRIMARY KEY,
            event_key {_T} NOT NULL
        );

        CREATE TABLE otlp_receipts (
            receipt_key {_T} PRIMARY KEY,
            source {_T} NOT NULL,
            ts_ms BIGINT NOT NULL,
            input BIGINT,
            cache_read BIGINT,
            cache_write BIGINT,
            output BIGINT,
            reasoning BIGINT,
            reported_cost_usd DOUBLE PRECISION,
            machine {_T} NOT NULL DEFAULT ''
        );
        CREATE INDEX otlp_receipts_ts ON otlp_receipts(ts_ms);

        CREATE TABLE metric_samples (
            id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            source {_T} NOT NULL,
            name {_T} NOT NULL,
            kind {_T} NOT NULL,
            model {_T} NOT NULL DEFAULT '',
            session {_T},
            series {_T} NOT NULL,
            start_ms BIGINT,
            time_ms BIGINT NOT NULL,
            value DOUBLE PRECISION NOT NULL,
            count BIGINT,
            cumulative INTEGER NOT NULL,
            delta DOUBLE PRECISION NOT NULL,
            machine {_T} NOT NULL DEFAULT '',
            UNIQUE (series, time_ms)
        );
        CREATE INDEX metric_samples_time ON metric_samples(time_ms);

        CREATE TABLE tool_calls (
            call_key {_T} PRIMARY KEY,
            source {_T} NOT NULL,
            session_key {_T},
            tool_name {_T} NOT NULL,
            ts_ms BIGINT NOT NULL,
            duration_ms BIGINT,
            success INTEGER,
            machine {_T} NOT NULL DEFAULT ''
        );
        CREATE INDEX tool_calls_ts ON tool_calls(ts_ms)
        """,
    ),
    (
        "0003_rate_limits",
        # As the SQLite store's 0007_rate_limits: official rate-limit snapshots, and an index
        # on request times for the 5-hour blocks' bounded reads of raw requests.
        f"""
        CREATE TABLE rate_limits (
            source {_T} NOT NULL,
            machine {_T} NOT NULL DEFAULT '',
            limit_window {_T} NOT NULL,
            observed_ms BIGINT NOT NULL,
            used_percent DOUBLE PRECISION NOT NULL,
            window_minutes BIGINT,
            resets_at_ms BIGINT,
            session_key {_T},
            PRIMARY KEY (source, machine, limit_window, observed_ms)
        );
        CREATE INDEX rate_limits_observed ON rate_limits(observed_ms);
        CREATE INDEX events_ts ON events(ts_ms)
        """,
    ),
    (
        "0004_tool_calls_from_logs",
        # As the SQLite store's 0008_tool_calls_from_logs: tool calls read from log files,
        # with the lines an edit changed; results apart, joined on the call's key.
        f"""
        ALTER TABLE tool_calls ADD COLUMN origin {_T} NOT NULL DEFAULT 'otlp';
        ALTER TABLE tool_calls ADD COLUMN model {_T};
        ALTER TABLE tool_calls ADD COLUMN lines_added BIGINT;
        ALTER TABLE tool_calls ADD COLUMN lines_removed BIGINT;
        CREATE INDEX tool_calls_session ON tool_calls(session_key);

        CREATE TABLE tool_results (
            call_key {_T} PRIMARY KEY,
            source {_T} NOT NULL,
            session_key {_T},
            ts_ms BIGINT NOT NULL,
            success INTEGER,
            machine {_T} NOT NULL DEFAULT ''
        )
        """,
    ),
    (
        "0005_push_tool_rows",
        # As the SQLite store's 0009_push_tool_rows: a change sequence per tool call, tool
        # result and rate-limit snapshot (rows already there numbered in time order), and how
        # far each was pushed in the push watermark.
        """
        ALTER TABLE tool_calls ADD COLUMN change_seq BIGINT;
        UPDATE tool_calls SET change_seq = numbered.seq FROM (
            SELECT call_key, ROW_NUMBER() OVER (ORDER BY ts_ms, call_key) AS seq
            FROM tool_calls) AS numbered
        WHERE numbered.call_key = tool_calls.call_key;
        CREATE INDEX tool_calls_change ON tool_calls(change_seq);

        ALTER TABLE tool_results ADD COLUMN change_seq BIGINT;
        UPDATE tool_results SET change_seq = numbered.seq FROM (
            SELECT call_key, ROW_NUMBER() OVER (ORDER BY ts_ms, call_key) AS seq
            FROM tool_results) AS numbered
        WHERE numbered.call_key = tool_results.call_key;
        CREATE INDEX tool_results_change ON tool_results(change_seq);

        """
        + push_tracking_of_rate_limits("BIGINT"),
    ),
    (
        "0006_cache_savings",
        # As the SQLite store's 0010_cache_savings: what each request's cache reads saved, and
        # its sums beside the other measures (rows priced before stay NULL until a reprice).
        "ALTER TABLE events ADD COLUMN cache_saving_micro BIGINT;\n"
        + "".join(
            f"ALTER TABLE {table} ADD COLUMN cache_saving_micro BIGINT NOT NULL DEFAULT 0;\n"
            f"ALTER TABLE {table} ADD COLUMN n_cache_saving BIGINT NOT NULL DEFAULT 0;\n"
            for table in _TOTALS_TABLES
        ),
    ),
    (
        "0007_retractions",
        # As the SQLite store's 0011_retractions: retracted events, kept with when and why.
        """
        CREATE TABLE retractions (
            event_key TEXT PRIMARY KEY,
            retracted_ms BIGINT NOT NULL,
            reason TEXT NOT NULL,
            event TEXT NOT NULL
        )
        """,
    ),
    (
        "0008_web_searches",
        # As the SQLite store's 0012_web_searches.
        "ALTER TABLE events ADD COLUMN web_searches BIGINT;\n"
        + "".join(
            f"ALTER TABLE {table} ADD COLUMN web_searches BIGINT NOT NULL DEFAULT 0;\n"
            f"ALTER TABLE {table} ADD COLUMN unpriced_web_searches BIGINT NOT NULL DEFAULT 0;\n"
            for table in _TOTALS_TABLES
        ),
    ),
    (
        "0009_claude_code_ranks_read_again",
        # As the SQLite store's 0013_claude_code_ranks_read_again.
        "UPDATE events SET rank = 'z' || rank "
        "WHERE source = 'claude_code' AND rank LIKE '%|' AND rank NOT LIKE 'z%';",
    ),
    (
        "0010_day_rollups",
        # As the SQLite store's 0015_day_rollups, per user too.
        day_rollups.table_sql(
            "BIGINT", _T, DAY_ROLLUP_MEASURES, user=True, options=" WITH (fillfactor = 70)"
        ),
    ),
    (
        "0011_lifetime_rollups",
        # As the SQLite store's 0017_lifetime_rollups, per user too.
        lifetime_rollups.table_sql(
            "BIGINT", _T, DAY_ROLLUP_MEASURES, user=True, options=" WITH (fillfactor = 70)"
        ),
    ),
)
