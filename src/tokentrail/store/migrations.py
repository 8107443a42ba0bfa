"""Named, forward-only schema migrations for the SQLite store.

Each migration runs once, in its own transaction, when the store opens; its name is recorded
in ``_migrations``. Never edit a migration that has shipped: add a new one.
"""

from __future__ import annotations

from tokentrail.store import day_rollups, lifetime_rollups

DAY_ROLLUP_MEASURES = (
    "requests", "input", "cache_read", "cache_write_5m", "cache_write_1h", "output",
    "reasoning", "n_input", "n_cache_read", "n_cache_write", "n_output", "n_reasoning",
    "cost_micro", "unpriced_requests", "unpriced_tokens", "reported_cost_micro",
    "n_reported_cost", "cache_saving_micro", "n_cache_saving", "web_searches",
    "unpriced_web_searches",
)  # fmt: skip
"""The measures as 0015_day_rollups (and PostgreSQL's 0010_day_rollups) created them: a
migration that has shipped never changes, so a later measure is added by a later migration."""

_MEASURE_COLUMNS = """
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
"""


def push_tracking_of_rate_limits(integer: str) -> str:
    """The end of both stores' push-tracking migrations (0009_push_tool_rows on SQLite,
    0005_push_tool_rows on PostgreSQL): rate-limit snapshots, a table without rowid, numbered
    in time order, and how far each table was pushed kept in the push watermark."""
    watermarks = "".join(
        f"ALTER TABLE push_watermarks ADD COLUMN {column} {integer} NOT NULL DEFAULT 0;\n"
        for column in ("tool_call_change", "tool_result_change", "rate_limit_change")
    )
    return (
        f"ALTER TABLE rate_limits ADD COLUMN change_seq {integer};\n"
        "UPDATE rate_limits SET change_seq = numbered.seq FROM (\n"
        "    SELECT source, machine, limit_window, observed_ms, ROW_NUMBER() OVER (\n"
        "        ORDER BY observed_ms, source, machine, limit_window) AS seq\n"
        "    FROM rate_limits) AS numbered\n"
        "WHERE numbered.source = rate_limits.source AND numbered.machine = rate_limits.machine\n"
        "    AND numbered.limit_window = rate_limits.limit_window\n"
        "    AND numbered.observed_ms = rate_limits.observed_ms;\n"
        "CREATE INDEX rate_limits_change ON rate_limits(change_seq);\n"
        f"{watermarks}"
    )


SQLITE_MIGRATIONS: tuple[tuple[str, str], ...] = (
    (
        "0001_initial",
        f"""
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
        CREATE INDEX events_session ON events(session_key);

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
        CREATE INDEX sessions_parent ON sessions(parent_key);

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

        CREATE TABLE rollups (
            bucket_ms INTEGER NOT NULL,
            source TEXT NOT NULL,
            model TEXT NOT NULL,
            project TEXT NOT NULL,
            machine TEXT NOT NULL,
            {_MEASURE_COLUMNS},
            PRIMARY KEY (bucket_ms, source, model, project, machine)
        ) WITHOUT ROWID;

        CREATE TABLE session_totals (
            session_key TEXT NOT NULL,
            model TEXT NOT NULL,
            first_ms INTEGER,
            last_ms INTEGER,
            {_MEASURE_COLUMNS},
            PRIMARY KEY (session_key, model)
        ) WITHOUT ROWID;
        """,
    ),
    (
        "0002_meta_and_activity_index",
        """
        CREATE TABLE meta (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
        CREATE INDEX sessions_ended ON sessions(ended_ms);
        CREATE INDEX rollups_model ON rollups(model);
        """,
    ),
    (
        "0003_runs_and_orchestrated_sessions",
        f"""
        CREATE TABLE runs (
            run_id TEXT PRIMARY KEY,
            app TEXT NOT NULL,
            started_ms INTEGER NOT NULL,
            stopped_ms INTEGER,
            state TEXT NOT NULL,
            reason TEXT,
            peak_concurrency INTEGER NOT NULL DEFAULT 0,
            sessions_launched INTEGER NOT NULL DEFAULT 0,
            machine TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX runs_app_state ON runs(app, state);
        CREATE INDEX runs_started ON runs(started_ms);

        ALTER TABLE sessions ADD COLUMN run_id TEXT;
        ALTER TABLE sessions ADD COLUMN issue_id TEXT;
        ALTER TABLE sessions ADD COLUMN identifier TEXT;
        ALTER TABLE sessions ADD COLUMN state TEXT;
        ALTER TABLE sessions ADD COLUMN turns INTEGER;
        CREATE INDEX sessions_run ON sessions(run_id);

        CREATE INDEX events_run ON events(run_id) WHERE run_id IS NOT NULL;

        CREATE TABLE run_totals (
            run_id TEXT PRIMARY KEY,
            first_ms INTEGER,
            last_ms INTEGER,
            {_MEASURE_COLUMNS}
        ) WITHOUT ROWID;
        """,
    ),
    (
        "0004_push_tracking",
        # What `tokentrail push` needs to copy a ledger incrementally: new requests are found
        # by their id; a request changed after it was recorded (a grown snapshot, a reprice)
        # gets the next change sequence, and so does every session and run written.
        """
        ALTER TABLE events ADD COLUMN changed_seq INTEGER;
        CREATE INDEX events_changed ON events(changed_seq) WHERE changed_seq IS NOT NULL;

        CREATE TABLE session_changes (
            session_key TEXT PRIMARY KEY,
            change_seq INTEGER NOT NULL
        ) WITHOUT ROWID;
        INSERT INTO session_changes SELECT session_key, rowid FROM sessions;
        CREATE INDEX session_changes_seq ON session_changes(change_seq);

        CREATE TABLE run_changes (
            run_id TEXT PRIMARY KEY,
            change_seq INTEGER NOT NULL
        ) WITHOUT ROWID;
        INSERT INTO run_changes SELECT run_id, rowid FROM runs;
        CREATE INDEX run_changes_seq ON run_changes(change_seq);

        CREATE TABLE push_watermarks (
            machine TEXT NOT NULL,
            ledger_id TEXT NOT NULL,
            event_id INTEGER NOT NULL DEFAULT 0,
            event_change INTEGER NOT NULL DEFAULT 0,
            session_change INTEGER NOT NULL DEFAULT 0,
            run_change INTEGER NOT NULL DEFAULT 0,
            user_name TEXT,
            pushed_ms INTEGER,
            PRIMARY KEY (machine, ledger_id)
        );
        """,
    ),
    (
        "0005_otlp_metrics",
        # OpenTelemetry (tokentrail.otlp): the alias index that lets a request read from a log
        # file and received through OTLP be one row (tokentrail.correlate), what OTLP reported
        # per request, the agents' usage metrics (kept to reconcile, never in totals) and tool
        # calls (name, outcome, duration only).
        """
        CREATE TABLE event_aliases (
            alias TEXT PRIMARY KEY,
            event_key TEXT NOT NULL
        ) WITHOUT ROWID;

        CREATE TABLE otlp_receipts (
            receipt_key TEXT PRIMARY KEY,
            source TEXT NOT NULL,
            ts_ms INTEGER NOT NULL,
            input INTEGER,
            cache_read INTEGER,
            cache_write INTEGER,
            output INTEGER,
            reasoning INTEGER,
            reported_cost_usd REAL,
            machine TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX otlp_receipts_ts ON otlp_receipts(ts_ms);

        CREATE TABLE metric_samples (
            id INTEGER PRIMARY KEY,
            source TEXT NOT NULL,
            name TEXT NOT NULL,
            kind TEXT NOT NULL,
            model TEXT NOT NULL DEFAULT '',
            session TEXT,
            series TEXT NOT NULL,
            start_ms INTEGER,
            time_ms INTEGER NOT NULL,
            value REAL NOT NULL,
            count INTEGER,
            cumulative INTEGER NOT NULL,
            delta REAL NOT NULL,
            machine TEXT NOT NULL DEFAULT '',
            UNIQUE (series, time_ms)
        );
        CREATE INDEX metric_samples_time ON metric_samples(time_ms);

        CREATE TABLE tool_calls (
            call_key TEXT PRIMARY KEY,
            source TEXT NOT NULL,
            session_key TEXT,
            tool_name TEXT NOT NULL,
            ts_ms INTEGER NOT NULL,
            duration_ms INTEGER,
            success INTEGER,
            machine TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX tool_calls_ts ON tool_calls(ts_ms);
        """,
    ),
    (
        "0006_hourly_rollups",
        # The dashboard reads a year of usage at once: the same sums per UTC hour have a
        # fraction of the rows, and serve every zone whose UTC offsets are whole hours (local
        # days, hours and their bounds are then whole UTC hours). Kept with the 15-minute
        # rollups in the same transaction; filled here from them.
        f"""
        CREATE TABLE rollups_hourly (
            bucket_ms INTEGER NOT NULL,
            source TEXT NOT NULL,
            model TEXT NOT NULL,
            project TEXT NOT NULL,
            machine TEXT NOT NULL,
            {_MEASURE_COLUMNS},
            PRIMARY KEY (bucket_ms, source, model, project, machine)
        ) WITHOUT ROWID;
        INSERT INTO rollups_hourly (bucket_ms, source, model, project, machine,
            requests, input, cache_read, cache_write_5m, cache_write_1h, output,
            reasoning, n_input, n_cache_read, n_cache_write, n_output, n_reasoning,
            cost_micro, unpriced_requests, unpriced_tokens, reported_cost_micro,
            n_reported_cost)
        SELECT bucket_ms - bucket_ms % 3600000, source, model, project, machine,
            SUM(requests), SUM(input), SUM(cache_read), SUM(cache_write_5m),
            SUM(cache_write_1h), SUM(output), SUM(reasoning), SUM(n_input),
            SUM(n_cache_read), SUM(n_cache_write), SUM(n_output), SUM(n_reasoning),
            SUM(cost_micro), SUM(unpriced_requests), SUM(unpriced_tokens),
            SUM(reported_cost_micro), SUM(n_reported_cost)
        FROM rollups GROUP BY 1, 2, 3, 4, 5;
        """,
    ),
    (
        "0007_rate_limits",
        # Official rate-limit figures agents log (Codex rate_limits: used percent, window,
        # reset time), one row per change of a window's figures; the primary key makes a
        # re-read of the same log add nothing. 5-hour blocks (tokentrail.blocks) read the raw
        # requests of a bounded time range: events_ts makes that a range scan, not a full one.
        """
        CREATE TABLE rate_limits (
            source TEXT NOT NULL,
            machine TEXT NOT NULL DEFAULT '',
            limit_window TEXT NOT NULL,
            observed_ms INTEGER NOT NULL,
            used_percent REAL NOT NULL,
            window_minutes INTEGER,
            resets_at_ms INTEGER,
            session_key TEXT,
            PRIMARY KEY (source, machine, limit_window, observed_ms)
        ) WITHOUT ROWID;
        CREATE INDEX rate_limits_observed ON rate_limits(observed_ms);
        CREATE INDEX events_ts ON events(ts_ms);
        """,
    ),
    (
        "0008_tool_calls_from_logs",
        # Tool calls read from the agents' log files (tokentrail.sources.edits): the lines an
        # edit call changed and the model that made it; results are kept apart, under the
        # call's key, because a call and its result can be read by two syncs.
        """
        ALTER TABLE tool_calls ADD COLUMN origin TEXT NOT NULL DEFAULT 'otlp';
        ALTER TABLE tool_calls ADD COLUMN model TEXT;
        ALTER TABLE tool_calls ADD COLUMN lines_added INTEGER;
        ALTER TABLE tool_calls ADD COLUMN lines_removed INTEGER;
        CREATE INDEX tool_calls_session ON tool_calls(session_key);

        CREATE TABLE tool_results (
            call_key TEXT PRIMARY KEY,
            source TEXT NOT NULL,
            session_key TEXT,
            ts_ms INTEGER NOT NULL,
            success INTEGER,
            machine TEXT NOT NULL DEFAULT ''
        );
        """,
    ),
    (
        "0009_push_tool_rows",
        # `tokentrail push` copies tool calls, their results and rate-limit snapshots as it
        # copies sessions: each row written gets the next change sequence of its table (an
        # OpenTelemetry call sent again gets a new one), so a push sends only what is new.
        # Rows already there are numbered in the order they were written (rate_limits has no
        # rowid: in time order). The push watermark keeps how far each table was pushed.
        """
        ALTER TABLE tool_calls ADD COLUMN change_seq INTEGER;
        UPDATE tool_calls SET change_seq = rowid;
        CREATE INDEX tool_calls_change ON tool_calls(change_seq);

        ALTER TABLE tool_results ADD COLUMN change_seq INTEGER;
        UPDATE tool_results SET change_seq = rowid;
        CREATE INDEX tool_results_change ON tool_results(change_seq);

        """
        + push_tracking_of_rate_limits("INTEGER"),
    ),
    (
        "0010_cache_savings",
        # what each request's cache reads saved (see tokentrail.pricing), and its sums beside
        # the other measures; rows priced before stay NULL until `tokentrail reprice`
        "ALTER TABLE events ADD COLUMN cache_saving_micro INTEGER;\n"
        + "".join(
            f"ALTER TABLE {table} ADD COLUMN cache_saving_micro INTEGER NOT NULL DEFAULT 0;\n"
            f"ALTER TABLE {table} ADD COLUMN n_cache_saving INTEGER NOT NULL DEFAULT 0;\n"
            for table in ("rollups", "rollups_hourly", "session_totals", "run_totals")
        ),
    ),
    (
        "0011_retractions",
        # An event an administrator retracted (e.g. spend forged through the HTTP API): its row
        # leaves `events` and the totals in one transaction and is kept here, as JSON, with
        # when and why, so a retraction can be reviewed; a later copy of the same key (a
        # re-sync, a resent batch) is then dropped instead of recorded again.
        """
        CREATE TABLE retractions (
            event_key TEXT PRIMARY KEY,
            retracted_ms INTEGER NOT NULL,
            reason TEXT NOT NULL,
            event TEXT NOT NULL
        ) WITHOUT ROWID;
        """,
    ),
    (
        "0012_web_searches",
        # server-side web searches per request (billed per search), and their sums beside
        # the other measures: all of them, and those of providers with no known price
        "ALTER TABLE events ADD COLUMN web_searches INTEGER;\n"
        + "".join(
            f"ALTER TABLE {table} ADD COLUMN web_searches INTEGER NOT NULL DEFAULT 0;\n"
            f"ALTER TABLE {table} ADD COLUMN unpriced_web_searches INTEGER NOT NULL DEFAULT 0;\n"
            for table in ("rollups", "rollups_hourly", "session_totals", "run_totals")
        ),
    ),
    (
        "0013_claude_code_ranks_read_again",
        # Claude Code ranks written before a request's owner was decided by where each
        # file's history ends too ("<sidechain>|<first>|" with nothing after): they lose to
        # the ranks the files read again (parser version 3) give, so a resumed session's
        # copies go back to the session that wrote them. A request whose files are all gone
        # keeps its owner.
        "UPDATE events SET rank = 'z' || rank "
        "WHERE source = 'claude_code' AND rank LIKE '%|' AND rank NOT LIKE 'z%';",
    ),
    (
        "0014_report_cache",
        # The printed answer of a report, kept while the ledger's generation is the one it was
        # computed at (tokentrail.store.report_cache): a report read again answers in a few
        # milliseconds instead of summing a year of rollups or every session.
        """
        CREATE TABLE report_cache (
            key TEXT PRIMARY KEY,
            marker TEXT NOT NULL,
            body TEXT NOT NULL
        );
        """,
    ),
    (
        "0015_day_rollups",
        # Sums per local day of a few UTC offsets (tokentrail.store.day_rollups): a year of
        # daily figures reads a few thousand rows instead of every hour of the year. UTC is
        # kept from the start, filled here from the 15-minute rollups.
        day_rollups.table_sql(
            "INTEGER", "TEXT", DAY_ROLLUP_MEASURES, user=False, options=" WITHOUT ROWID"
        ),
    ),
    (
        "0016_sync_walk",
        # What the last full sync saw (tokentrail.sync_walk): one JSON record, read by the
        # quick answer of `tokentrail sync --quiet` when nothing changed.
        """
        CREATE TABLE sync_walk (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            record BLOB NOT NULL
        );
        """,
    ),
    (
        "0017_lifetime_rollups",
        # Sums over all time per source, model, project and machine (tokentrail.store.
        # lifetime_rollups): spend by project over all time reads a few hundred rows instead
        # of every hour of the ledger. Filled here from the 15-minute rollups.
        lifetime_rollups.table_sql(
            "INTEGER", "TEXT", DAY_ROLLUP_MEASURES, user=False, options=" WITHOUT ROWID"
        ),
    ),
)
