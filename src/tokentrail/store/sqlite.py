"""The embedded SQLite store: WAL mode, one transaction per batch, migrations on open."""

from __future__ import annotations

import itertools
import sqlite3
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn

import orjson

from tokentrail.errors import (
    LedgerBusy,
    LedgerDamaged,
    LedgerFull,
    LedgerTooNew,
    StoreError,
)
from tokentrail.ratelimits import RateLimitSnapshot
from tokentrail.store import (
    blocks_sql,
    push_sql,
    report_cache,
    sqlite_dashboard,
    sqlite_otlp,
    tool_sql,
)
from tokentrail.store.base import (
    ACTIVE_MS_SQL,
    BUCKET_MS,
    DAMAGED_ADVICE,
    MEASURE_SQL,
    MEASURES,
    NO_MODEL,
    Cursor,
    DayRow,
    Entry,
    Filters,
    GroupBy,
    GroupDimension,
    GroupTotalsRow,
    IntervalRow,
    MetricDayRow,
    MetricSample,
    MinuteRow,
    OffsetSegment,
    OtlpDayRow,
    OtlpReceipt,
    PushWatermark,
    RunTotalsRow,
    SessionPage,
    SessionPageQuery,
    SessionTotalsRow,
    SourceDayRow,
    StoreStatus,
    ToolCallRow,
    ToolStatRow,
    Totals,
    UnpricedModel,
    newer_schema_error,
    retraction_json,
)
from tokentrail.store.migrations import SQLITE_MIGRATIONS
from tokentrail.usage import (
    Cost,
    Run,
    Session,
    Tokens,
    ToolCall,
    ToolResult,
    UsageEvent,
    utc_from_ms,
)

_IN_CHUNK = 500  # keys per IN (...) list, well under SQLite's variable limit
HOUR_MS = 3_600_000
_BUSY_TIMEOUT_S = 60.0

_EVENT_COLUMNS = (
    "event_key, source, machine, run_id, session_key, ts_ms, model, provider, "
    "input, cache_read, cache_write_5m, cache_write_1h, output, reasoning, "
    "cost_status, cost_micro, price_version, reported_cost_usd, pricing_context, "
    "project, git_branch, rank, raw_usage, cache_saving_micro, web_searches"
)
_EVENT_PLACEHOLDERS = ", ".join("?" * len(_EVENT_COLUMNS.split(",")))
_MEASURE_LIST = ", ".join(MEASURES)
_MINUTE_MEASURES = ", ".join(MEASURE_SQL[m] for m in MEASURES)
_MEASURE_SUMS = ", ".join(f"SUM({m})" for m in MEASURES)
_MEASURE_ADD = ", ".join(f"{m} = {m} + excluded.{m}" for m in MEASURES)
_OPEN_SESSION = "state = 'running' OR (state IS NULL AND ended_ms IS NULL)"
"""A session not yet ended: what a crashed run leaves behind (see Ledger.start_run)."""
_SESSION_COLUMNS = (
    "session_key, source, parent_key, relationship, project, title, "
    "started_ms, ended_ms, model, git_branch, run_id, issue_id, identifier, state, turns"
)
_RUN_COLUMNS = (
    "run_id, app, started_ms, stopped_ms, state, reason, peak_concurrency, sessions_launched, "
    "machine"
)
_WATERMARK_COLUMNS = (
    "machine, ledger_id, event_id, event_change, session_change, run_change, user_name, "
    "pushed_ms, tool_call_change, tool_result_change, rate_limit_change"
)


class SQLiteStore:
    """A ledger in one SQLite file (or ``:memory:``)."""

    def __init__(self, path: Path | str, *, busy_timeout_s: float = _BUSY_TIMEOUT_S) -> None:
        """``busy_timeout_s``: how long a write waits for another process's write to end."""
        self.busy_timeout_s = busy_timeout_s
        self.location = str(path)
        self.path = Path(path) if str(path) != ":memory:" else None
        if self.path is not None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(
                    f"cannot create the folder for the ledger {self.path}: {exc.strerror}; "
                    "choose another location with -d/--database or TOKENTRAIL_DB"
                ) from exc
        self._too_new: LedgerTooNew | None = None
        try:
            self._conn = self._open_with_retry()
        except sqlite3.DatabaseError as exc:
            translated = translate_error(exc, self.location)
            if translated is not exc:
                raise translated from exc
            raise StoreError(
                f"cannot open the ledger {self.location}: {exc}; if it is not a tokentrail "
                "ledger, point -d/--database or TOKENTRAIL_DB at another file (if it is one, "
                "'tokentrail db check' says what is damaged)"
            ) from exc

    # -- lifecycle -----------------------------------------------------------------------

    def _open_with_retry(self) -> sqlite3.Connection:
        """Connect, switch to WAL and migrate. Two processes opening a new ledger at once can
        get SQLITE_BUSY without the busy handler being consulted (switching to WAL, or a lock
        upgrade SQLite refuses to wait for): those are retried until the timeout."""
        deadline = time.monotonic() + self.busy_timeout_s
        delay = 0.01
        while True:
            conn = sqlite3.connect(
                self.location,
                timeout=self.busy_timeout_s,
                isolation_level=None,
                check_same_thread=False,  # the ledger serialises threads with its own lock
            )
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.execute("PRAGMA foreign_keys=ON")
                self._conn = conn
                self._migrate()
            except sqlite3.OperationalError as exc:
                conn.close()
                busy = "locked" in str(exc) or "busy" in str(exc)
                if not busy or time.monotonic() > deadline:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 0.5)
                continue
            return conn

    def close(self) -> None:
        self._conn.close()

    def _migrate(self) -> None:
        conn = self._conn
        conn.execute(
            "CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, "
            "applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')))"
        )
        applied = {row[0] for row in conn.execute("SELECT name FROM _migrations")}
        known = len(SQLITE_MIGRATIONS)
        # a newer tokentrail's migrations are unknown here; it also raises user_version
        unknown = applied - {name for name, _ in SQLITE_MIGRATIONS}
        (version,) = conn.execute("PRAGMA user_version").fetchone()
        if unknown or version > known:
            theirs = max(version, known + len(unknown))
            self._too_new = newer_schema_error(self.location, theirs, known)
            return  # read it as it is; never migrate or write it
        for name, sql in SQLITE_MIGRATIONS:
            if name in applied:
                continue
            conn.execute("BEGIN IMMEDIATE")
            try:
                # another process may have applied it while we waited for the lock
                if conn.execute("SELECT 1 FROM _migrations WHERE name = ?", (name,)).fetchone():
                    conn.execute("COMMIT")
                    continue
                for statement in _split_sql(sql):
                    conn.execute(statement)
                conn.execute("INSERT INTO _migrations (name) VALUES (?)", (name,))
                conn.execute("COMMIT")
            except BaseException:
                _rollback(conn)
                raise
        if version < known:
            conn.execute(f"PRAGMA user_version = {known}")

    def applied_migrations(self) -> list[str]:
        return [row[0] for row in self._conn.execute("SELECT name FROM _migrations ORDER BY name")]

    # -- writing -------------------------------------------------------------------------

    @contextmanager
    def write(self) -> Iterator[_SQLiteWrite]:
        if self._too_new is not None:
            raise self._too_new
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.DatabaseError as exc:
            self._raise_typed(exc)
        try:
            yield _SQLiteWrite(conn)
        except sqlite3.DatabaseError as exc:
            _rollback(conn)
            self._raise_typed(exc)
        except BaseException:
            _rollback(conn)
            raise
        try:
            conn.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            _rollback(conn)
            self._raise_typed(exc)

    def _raise_typed(self, exc: sqlite3.DatabaseError) -> NoReturn:
        typed = self._translate(exc)
        if typed is exc:
            raise exc
        raise typed from exc

    def _translate(self, exc: sqlite3.DatabaseError) -> Exception:
        if _code(exc) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
            return LedgerBusy(
                f"the ledger {self.location} stayed locked by another writer for over "
                f"{self.busy_timeout_s:g} s; nothing was written, retry (a long sync or a stuck "
                "process may hold it)"
            )
        return translate_error(exc, self.location)

    def check(self) -> list[str]:
        """What SQLite's integrity check finds wrong in the file (empty: nothing)."""
        return _integrity_problems(self._conn)

    # -- reading -------------------------------------------------------------------------

    def cursors(self, paths: Sequence[str] | None = None) -> dict[str, Cursor]:
        select = (
            "SELECT path, source, device, inode, size, mtime_ns, offset, line_no, "
            "parser_version, head_hash, memory FROM cursors"
        )
        rows = (
            self._conn.execute(select)
            if paths is None
            else _select_in(self._conn, select, "path", paths)
        )
        return {row[0]: _cursor_from_row(row) for row in rows}

    def day_totals(
        self, filters: Filters, segments: Sequence[OffsetSegment], by_model: bool
    ) -> list[DayRow]:
        if not segments:
            raise ValueError("day_totals needs at least one UTC offset segment")
        where, params = _rollup_where(filters)
        local = _local_time_sql("bucket_ms", segments)
        model_col = "model" if by_model else "NULL"
        sql = (
            f"SELECT ({local}) / 86400000 AS day, {model_col} AS m, {_MEASURE_SUMS} "
            f"FROM {_rollups_for(filters, segments)} {where} GROUP BY day, m ORDER BY day, m"
        )
        return [
            DayRow(
                day=row[0],
                model=_model_or_none(row[1]) if by_model else None,
                totals=Totals(tuple(row[2:])),
            )
            for row in self._conn.execute(sql, params)
        ]

    def session_totals(
        self, filters: Filters, by_model: bool, family: Sequence[str] | None = None
    ) -> list[SessionTotalsRow]:
        if family is not None and len(family) > _IN_CHUNK:
            # a session can be in two chunks' families (its own and its parent's): once each
            unique = {
                (row.session.key, row.model): row
                for chunk in _chunks(list(family), _IN_CHUNK)
                for row in self.session_totals(filters, by_model, chunk)
            }
            return list(unique.values())
        clauses: list[str] = []
        params: list[Any] = []
        if family is not None:
            marks = ", ".join("?" * len(family))
            clauses.append(f"(s.session_key IN ({marks}) OR s.parent_key IN ({marks}))")
            params.extend([*family, *family])
        if filters.sources:
            clauses.append(f"s.source IN ({', '.join('?' * len(filters.sources))})")
            params.extend(filters.sources)
        if filters.project:
            clauses.append("instr(COALESCE(s.project, ''), ?) > 0")
            params.append(filters.project)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        model_col = "t.model" if by_model else "NULL"
        totals_table = "session_totals"
        if filters.machines or filters.users:
            # A local ledger keeps session totals per session and model only; usage of some
            # machines (rare here: a local ledger is mostly one machine) is summed from its
            # events, with the same measure definitions. A local ledger has no users.
            machines = ", ".join("?" * len(filters.machines))
            scope = [f"machine IN ({machines})"] if filters.machines else []
            scope += ["0"] if filters.users else []
            totals_table = (
                "(SELECT session_key, COALESCE(model, '') AS model, MIN(ts_ms) AS first_ms, "
                "MAX(ts_ms) AS last_ms, "
                + ", ".join(f"{MEASURE_SQL[m]} AS {m}" for m in MEASURES)
                + f" FROM events WHERE session_key IS NOT NULL AND {' AND '.join(scope)} "
                "GROUP BY 1, 2)"
            )
            params = [*filters.machines, *params]
        sql = (
            f"SELECT s.{_SESSION_COLUMNS.replace(', ', ', s.')}, {model_col} AS m, "
            f"MIN(t.first_ms), MAX(t.last_ms), "
            + ", ".join(f"SUM(t.{m})" for m in MEASURES)
            + f" FROM {totals_table} t JOIN sessions s ON s.session_key = t.session_key {where} "
            "GROUP BY s.session_key, m"
        )
        rows: list[SessionTotalsRow] = []
        width = len(_SESSION_COLUMNS.split(","))
        for row in self._conn.execute(sql, params):
            first_ms, last_ms = row[width + 1], row[width + 2]
            rows.append(
                SessionTotalsRow(
                    session=_session_from_row(row[:width]),
                    model=_model_or_none(row[width]) if by_model else None,
                    totals=Totals(tuple(row[width + 3 :])),
                    first_ms=first_ms,
                    last_ms=last_ms,
                )
            )
        return rows

    def unpriced_models(self, filters: Filters) -> list[UnpricedModel]:
        where, params = _rollup_where(filters, "unpriced_requests > 0")
        sql = (
            "SELECT model, SUM(unpriced_requests), SUM(unpriced_tokens) "
            f"FROM {_rollups_for(filters)} {where} GROUP BY model ORDER BY model"
        )
        return [
            UnpricedModel(model=row[0] or NO_MODEL, requests=row[1], tokens=row[2])
            for row in self._conn.execute(sql, params)
        ]

    def time_range(self, filters: Filters) -> tuple[int, int] | None:
        where, params = _rollup_where(filters)
        row = self._conn.execute(
            f"SELECT MIN(bucket_ms), MAX(bucket_ms) FROM rollups {where}", params
        ).fetchone()
        if row is None or row[0] is None:
            return None
        return int(row[0]), int(row[1])

    def totals(self, filters: Filters) -> Totals:
        where, params = _rollup_where(filters)
        row = self._conn.execute(
            f"SELECT {_MEASURE_SUMS} FROM {_rollups_for(filters)} {where}", params
        ).fetchone()
        return Totals(tuple(v or 0 for v in row))

    def sessions_by_key(self, keys: Sequence[str]) -> dict[str, Session]:
        rows = _select_in(
            self._conn, f"SELECT {_SESSION_COLUMNS} FROM sessions", "session_key", keys
        )
        return {row[0]: _session_from_row(row) for row in rows}

    def runs_by_id(self, run_ids: Sequence[str]) -> dict[str, Run]:
        rows = _select_in(self._conn, f"SELECT {_RUN_COLUMNS} FROM runs", "run_id", run_ids)
        return {row[0]: _run_from_row(row) for row in rows}

    def list_runs(self, limit: int | None = None, app: str | None = None) -> list[RunTotalsRow]:
        where = "WHERE r.app = ?" if app else ""
        params: list[Any] = [app] if app else []
        sql = (
            f"SELECT {', '.join('r.' + c.strip() for c in _RUN_COLUMNS.split(','))}, "
            f"t.first_ms, t.last_ms, {', '.join('COALESCE(t.' + m + ', 0)' for m in MEASURES)} "
            f"FROM runs r LEFT JOIN run_totals t ON t.run_id = r.run_id {where} "
            "ORDER BY r.started_ms DESC, r.run_id"
        )
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        width = len(_RUN_COLUMNS.split(","))
        return [
            RunTotalsRow(
                run=_run_from_row(row[:width]),
                first_ms=row[width],
                last_ms=row[width + 1],
                totals=Totals(tuple(row[width + 2 :])),
            )
            for row in self._conn.execute(sql, params)
        ]

    def session_stats(
        self, filters: Filters, run_id: str | None = None
    ) -> tuple[int, float | None]:
        """How many sessions (started in the filters' time range, of its sources and project,
        of ``run_id`` if given) and the sum of their runtimes in seconds (None when no session
        has both a start and an end)."""
        clauses = []
        params: list[Any] = []
        if filters.since_ms is not None:
            clauses.append("s.started_ms >= ?")
            params.append(filters.since_ms)
        if filters.until_ms is not None:
            clauses.append("s.started_ms < ?")
            params.append(filters.until_ms)
        if run_id is not None:
            clauses.append("s.run_id = ?")
            params.append(run_id)
        where, more = _session_where(filters, *clauses)
        count, runtime_ms = self._conn.execute(
            "SELECT COUNT(*), SUM(CASE WHEN s.ended_ms >= s.started_ms "
            f"THEN s.ended_ms - s.started_ms END) FROM sessions s {where}",
            [*params, *more],
        ).fetchone()
        return int(count), (runtime_ms / 1000 if runtime_ms is not None else None)

    def run_totals(self, run_id: str) -> Totals:
        row = self._conn.execute(
            f"SELECT {_MEASURE_LIST} FROM run_totals WHERE run_id = ?", (run_id,)
        ).fetchone()
        return Totals(tuple(row)) if row else Totals.zero()

    def count_runs(self) -> int:
        return int(self._conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0])

    def count_sessions(self, filters: Filters) -> int:
        where, params = _session_where(filters)
        return int(
            self._conn.execute(f"SELECT COUNT(*) FROM sessions s {where}", params).fetchone()[0]
        )

    def recent_sessions(
        self, filters: Filters, limit: int, offset: int = 0
    ) -> list[SessionTotalsRow]:
        """Top-level sessions, most recently active first, with their own totals."""
        where, params = _session_where(
            filters, "(s.relationship IS NULL OR s.relationship != 'subagent')"
        )
        sql = (
            f"SELECT {', '.join('s.' + c.strip() for c in _SESSION_COLUMNS.split(','))}, "
            "t.first_ms, t.last_ms, "
            + ", ".join(f"COALESCE(t.{m}, 0)" for m in MEASURES)
            + " FROM sessions s LEFT JOIN (SELECT session_key, MIN(first_ms) AS first_ms, "
            "MAX(last_ms) AS last_ms, "
            + ", ".join(f"SUM({m}) AS {m}" for m in MEASURES)
            + " FROM session_totals GROUP BY session_key) t ON t.session_key = s.session_key "
            f"{where} ORDER BY COALESCE(s.ended_ms, t.last_ms, s.started_ms) DESC, "
            "s.session_key LIMIT ? OFFSET ?"
        )
        width = len(_SESSION_COLUMNS.split(","))
        return [
            SessionTotalsRow(
                session=_session_from_row(row[:width]),
                model=None,
                totals=Totals(tuple(row[width + 2 :])),
                first_ms=row[width],
                last_ms=row[width + 1],
            )
            for row in self._conn.execute(sql, [*params, limit, offset])
        ]

    def active_ms(self, session_keys: Sequence[str], idle_gap_ms: int) -> dict[str, int]:
        found: dict[str, int] = {}
        for chunk in _chunks(list(session_keys), _IN_CHUNK):
            sql = ACTIVE_MS_SQL.format(gap="?", keys=", ".join("?" * len(chunk)))
            for key, active in self._conn.execute(sql, [idle_gap_ms, *chunk]):
                found[key] = int(active or 0)
        return found

    def session_entries(self, session_keys: Sequence[str]) -> list[Entry]:
        """Every request of these sessions, oldest first (a session's timeline)."""
        rows = _select_in(
            self._conn, f"SELECT {_EVENT_COLUMNS} FROM events", "session_key", session_keys
        )
        entries = [_entry_from_row(row) for row in rows]
        entries.sort(key=lambda e: (e.event.timestamp_ms, e.event.key))
        return entries

    def iter_entries(self, batch_size: int = 5000) -> Iterator[list[Entry]]:
        last_id = 0
        while True:
            rows = self._conn.execute(
                f"SELECT id, {_EVENT_COLUMNS} FROM events WHERE id > ? ORDER BY id LIMIT ?",
                (last_id, batch_size),
            ).fetchall()
            if not rows:
                return
            last_id = rows[-1][0]
            yield [_entry_from_row(row[1:]) for row in rows]

    def status(self) -> StoreStatus:
        conn = self._conn
        events, first, last = conn.execute(
            "SELECT COUNT(*), MIN(ts_ms), MAX(ts_ms) FROM events"
        ).fetchone()
        sessions = conn.execute("SELECT COUNT(*) FROM sessions").fetchone()[0]
        files = conn.execute("SELECT COUNT(*) FROM cursors").fetchone()[0]
        retracted = conn.execute("SELECT COUNT(*) FROM retractions").fetchone()[0]
        size = None
        if self.path is not None and self.path.exists():
            size = sum(
                p.stat().st_size
                for p in (self.path, Path(f"{self.path}-wal"), Path(f"{self.path}-shm"))
                if p.exists()
            )
        migrations = tuple(self.applied_migrations())
        return StoreStatus(
            location=self.location,
            schema_version=len(migrations),
            migrations=migrations,
            events=events,
            sessions=sessions,
            files=files,
            first_event=utc_from_ms(first) if first is not None else None,
            last_event=utc_from_ms(last) if last is not None else None,
            size_bytes=size,
            retracted=retracted,
        )

    def backup(self, destination: Path) -> None:
        _backup(self._conn, destination)

    # -- team mode -----------------------------------------------------------------------

    def day_totals_by(
        self, filters: Filters, segments: Sequence[OffsetSegment], by: GroupBy
    ) -> list[DayRow]:
        if not segments:
            raise ValueError("day_totals_by needs at least one UTC offset segment")
        # a local ledger keeps no users: grouped by user, everything is one group (None)
        group_col = {"model": "model", "machine": "machine", "user": "''"}[by]
        where, params = _rollup_where(filters)
        local = _local_time_sql("bucket_ms", segments)
        sql = (
            f"SELECT ({local}) / 86400000 AS day, {group_col} AS g, {_MEASURE_SUMS} "
            f"FROM {_rollups_for(filters, segments)} {where} GROUP BY day, g ORDER BY day, g"
        )
        return [
            DayRow(
                day=row[0],
                model=_model_or_none(row[1]) if by == "model" else None,
                totals=Totals(tuple(row[2:])),
                group=row[1] or None,
            )
            for row in self._conn.execute(sql, params)
        ]

    def ledger_id(self) -> str:
        row = self._conn.execute("SELECT value FROM meta WHERE key = 'ledger_id'").fetchone()
        if row is not None:
            return str(row[0])
        with self.write():
            self._conn.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('ledger_id', ?)",
                (uuid.uuid4().hex,),
            )
            (value,) = self._conn.execute(
                "SELECT value FROM meta WHERE key = 'ledger_id'"
            ).fetchone()
        return str(value)

    def entries_after(self, after_id: int, limit: int) -> list[tuple[int, Entry]]:
        rows = self._conn.execute(
            f"SELECT id, {_EVENT_COLUMNS} FROM events WHERE id > ? ORDER BY id LIMIT ?",
            (after_id, limit),
        ).fetchall()
        return [(row[0], _entry_from_row(row[1:])) for row in rows]

    def entries_changed_after(self, after_seq: int, limit: int) -> list[tuple[int, Entry]]:
        rows = self._conn.execute(
            f"SELECT changed_seq, {_EVENT_COLUMNS} FROM events WHERE changed_seq > ? "
            "ORDER BY changed_seq LIMIT ?",
            (after_seq, limit),
        ).fetchall()
        return [(row[0], _entry_from_row(row[1:])) for row in rows]

    def sessions_changed_after(self, after_seq: int, limit: int) -> list[tuple[int, Session]]:
        columns = ", ".join("s." + c.strip() for c in _SESSION_COLUMNS.split(","))
        rows = self._conn.execute(
            f"SELECT c.change_seq, {columns} FROM session_changes c "
            "JOIN sessions s ON s.session_key = c.session_key WHERE c.change_seq > ? "
            "ORDER BY c.change_seq LIMIT ?",
            (after_seq, limit),
        ).fetchall()
        return [(row[0], _session_from_row(row[1:])) for row in rows]

    def runs_changed_after(self, after_seq: int, limit: int) -> list[tuple[int, Run]]:
        columns = ", ".join("r." + c.strip() for c in _RUN_COLUMNS.split(","))
        rows = self._conn.execute(
            f"SELECT c.change_seq, {columns} FROM run_changes c "
            "JOIN runs r ON r.run_id = c.run_id WHERE c.change_seq > ? "
            "ORDER BY c.change_seq LIMIT ?",
            (after_seq, limit),
        ).fetchall()
        return [(row[0], _run_from_row(row[1:])) for row in rows]

    def tool_calls_changed_after(self, after_seq: int, limit: int) -> list[tuple[int, ToolCall]]:
        return push_sql.tool_calls_changed_after(self._conn, "?", after_seq, limit)

    def tool_results_changed_after(
        self, after_seq: int, limit: int
    ) -> list[tuple[int, ToolResult]]:
        return push_sql.tool_results_changed_after(self._conn, "?", after_seq, limit)

    def rate_limits_changed_after(
        self, after_seq: int, limit: int
    ) -> list[tuple[int, RateLimitSnapshot]]:
        return push_sql.rate_limits_changed_after(self._conn, "?", after_seq, limit)

    def push_watermark(self, machine: str, ledger_id: str) -> PushWatermark:
        return _get_watermark(self._conn, machine, ledger_id)

    def push_watermarks(self) -> list[PushWatermark]:
        rows = self._conn.execute(
            f"SELECT {_WATERMARK_COLUMNS} FROM push_watermarks ORDER BY machine, ledger_id"
        )
        return [_watermark_from_row(row) for row in rows]

    # -- OpenTelemetry (SQL in tokentrail.store.sqlite_otlp) --------------------------------

    def source_day_totals(
        self, filters: Filters, segments: Sequence[OffsetSegment]
    ) -> list[SourceDayRow]:
        return sqlite_otlp.source_day_totals(self._conn, filters, segments)

    def otlp_day_totals(
        self, filters: Filters, segments: Sequence[OffsetSegment]
    ) -> list[OtlpDayRow]:
        return sqlite_otlp.otlp_day_totals(self._conn, filters, segments)

    def metric_day_totals(
        self, filters: Filters, segments: Sequence[OffsetSegment]
    ) -> list[MetricDayRow]:
        return sqlite_otlp.metric_day_totals(self._conn, filters, segments)

    def minute_totals(self, filters: Filters) -> list[MinuteRow]:
        sql, params = blocks_sql.minute_totals_query(filters, "?", _MINUTE_MEASURES, user=None)
        return [blocks_sql.minute_row(row) for row in self._conn.execute(sql, params)]

    def rate_limits(self, filters: Filters) -> list[RateLimitSnapshot]:
        return blocks_sql.rate_limits(self._conn, "?", filters)

    def tool_call_stats(self, filters: Filters) -> list[ToolStatRow]:
        return sqlite_otlp.tool_call_stats(self._conn, filters)

    def tool_call_rows(
        self, filters: Filters, session_keys: Sequence[str] = ()
    ) -> list[ToolCallRow]:
        return tool_sql.tool_call_rows(self._conn, "?", filters, session_keys)

    # -- dashboard (SQL in tokentrail.store.sqlite_dashboard) -------------------------------

    def change_marker(self) -> str:
        return sqlite_dashboard.change_marker(self._conn)

    def group_totals(
        self, filters: Filters, by: GroupDimension, models: Sequence[str] = ()
    ) -> list[GroupTotalsRow]:
        return sqlite_dashboard.group_totals(self._conn, filters, by, models)

    def interval_totals(
        self,
        filters: Filters,
        segments: Sequence[OffsetSegment],
        interval_ms: int,
        by_model: bool,
        models: Sequence[str] = (),
    ) -> list[IntervalRow]:
        return sqlite_dashboard.interval_totals(
            self._conn, filters, segments, interval_ms, by_model, models
        )

    def session_day_counts(
        self, filters: Filters, segments: Sequence[OffsetSegment], models: Sequence[str] = ()
    ) -> list[tuple[int, int]]:
        return sqlite_dashboard.session_day_counts(
            self._conn, filters, segments, models, self._session_index()
        )

    def session_page(self, query: SessionPageQuery) -> SessionPage:
        return sqlite_dashboard.session_page(self._conn, query, self._session_index())

    def group_names(self, by: GroupDimension) -> list[str]:
        return self._session_index().names(self._conn, by)

    def report_marker(self) -> str | None:
        return report_cache.sqlite_marker(self._conn)

    def cached_report(self, key: str) -> str | None:
        return report_cache.sqlite_get(self._conn, key)

    def keep_report(self, key: str, marker: str, body: str) -> bool:
        if self._too_new is not None:
            return False  # a newer tokentrail's ledger is read, never written
        try:
            return report_cache.sqlite_put(self._conn, key, marker, body)
        except sqlite3.DatabaseError:
            return False  # read-only file, disk full: the answer is printed all the same

    _dashboard_index: sqlite_dashboard.SessionIndex | None = None

    def _session_index(self) -> sqlite_dashboard.SessionIndex:
        if self._dashboard_index is None:
            self._dashboard_index = sqlite_dashboard.SessionIndex()
        return self._dashboard_index


class _SQLiteWrite:
    """The operations allowed inside one write transaction."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def get_entries(self, keys: Sequence[str]) -> dict[str, Entry]:
        rows = self._select_in(f"SELECT {_EVENT_COLUMNS} FROM events", "event_key", keys)
        return {row[0]: _entry_from_row(row) for row in rows}

    def insert_entries(self, entries: Sequence[Entry]) -> None:
        if not entries:
            return
        _refuse_users(entries)
        (last_id,) = self._conn.execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()
        self._conn.executemany(
            f"INSERT INTO events ({_EVENT_COLUMNS}) VALUES ({_EVENT_PLACEHOLDERS})",
            [_entry_to_row(entry) for entry in entries],
        )
        # rows are appended with growing ids inside this exclusive transaction
        self._add_totals("id > ?", [last_id], sign=1, by_id=True)

    def replace_entries(self, changes: Sequence[tuple[Entry, Entry]]) -> None:
        if not changes:
            return
        _refuse_users([new for _, new in changes])
        keys = [new.event.key for _, new in changes]
        columns = [c.strip() for c in _EVENT_COLUMNS.split(",")][1:]
        assignments = ", ".join(f"{c} = ?" for c in columns)
        for chunk in _chunks(keys, _IN_CHUNK):
            self._add_totals(f"event_key IN ({', '.join('?' * len(chunk))})", chunk, sign=-1)
        # each changed request gets the next change sequence, so a push sends it again
        (last_seq,) = self._conn.execute(
            "SELECT COALESCE(MAX(changed_seq), 0) FROM events WHERE changed_seq IS NOT NULL"
        ).fetchone()
        self._conn.executemany(
            f"UPDATE events SET {assignments}, changed_seq = ? WHERE event_key = ?",
            [
                (*_entry_to_row(new)[1:], last_seq + index, new.event.key)
                for index, (_, new) in enumerate(changes, start=1)
            ],
        )
        for chunk in _chunks(keys, _IN_CHUNK):
            self._add_totals(f"event_key IN ({', '.join('?' * len(chunk))})", chunk, sign=1)
        # an entry that moved to another session, model or bucket may leave empty rows
        self._conn.execute("DELETE FROM rollups WHERE requests = 0")
        self._conn.execute("DELETE FROM rollups_hourly WHERE requests = 0")
        self._conn.execute("DELETE FROM session_totals WHERE requests = 0")

    def retracted_keys(self, keys: Sequence[str]) -> set[str]:
        if not keys or not self._conn.execute("SELECT 1 FROM retractions LIMIT 1").fetchone():
            return set()  # the usual case, answered without looking up every key of a sync
        rows = self._select_in("SELECT event_key FROM retractions", "event_key", keys)
        return {row[0] for row in rows}

    def retract_entries(self, keys: Sequence[str], reason: str, at_ms: int) -> list[str]:
        rows = self._select_in(f"SELECT {_EVENT_COLUMNS} FROM events", "event_key", keys)
        if not rows:
            return []
        found = [row[0] for row in rows]
        for chunk in _chunks(found, _IN_CHUNK):
            self._add_totals(f"event_key IN ({', '.join('?' * len(chunk))})", chunk, sign=-1)
        columns = [c.strip() for c in _EVENT_COLUMNS.split(",")]
        self._conn.executemany(
            "INSERT INTO retractions (event_key, retracted_ms, reason, event) VALUES (?, ?, ?, ?)",
            [(row[0], at_ms, reason, retraction_json(columns, row)) for row in rows],
        )
        self._conn.executemany("DELETE FROM events WHERE event_key = ?", [(k,) for k in found])
        for table in ("rollups", "rollups_hourly", "session_totals"):
            self._conn.execute(f"DELETE FROM {table} WHERE requests = 0")
        return found

    def get_sessions(self, keys: Sequence[str]) -> dict[str, Session]:
        rows = self._select_in(f"SELECT {_SESSION_COLUMNS} FROM sessions", "session_key", keys)
        return {row[0]: _session_from_row(row) for row in rows}

    def _select_in(self, select: str, column: str, keys: Sequence[str]) -> list[Any]:
        return _select_in(self._conn, select, column, keys)

    def put_sessions(self, sessions: Sequence[Session]) -> None:
        if not sessions:
            return
        self._conn.executemany(
            f"INSERT OR REPLACE INTO sessions ({_SESSION_COLUMNS}) "
            f"VALUES ({', '.join('?' * len(_SESSION_COLUMNS.split(',')))})",
            [_session_to_row(s) for s in sessions],
        )
        # each session written gets the next change sequence, so a push sends it again
        (last_seq,) = self._conn.execute(
            "SELECT COALESCE(MAX(change_seq), 0) FROM session_changes"
        ).fetchone()
        self._conn.executemany(
            "INSERT OR REPLACE INTO session_changes (session_key, change_seq) VALUES (?, ?)",
            [(s.key, last_seq + i) for i, s in enumerate(sessions, start=1)],
        )

    def get_runs(self, run_ids: Sequence[str]) -> dict[str, Run]:
        rows = self._select_in(f"SELECT {_RUN_COLUMNS} FROM runs", "run_id", run_ids)
        return {row[0]: _run_from_row(row) for row in rows}

    def running_runs(self, app: str) -> list[Run]:
        rows = self._conn.execute(
            f"SELECT {_RUN_COLUMNS} FROM runs WHERE app = ? AND state = 'running'", (app,)
        )
        return [_run_from_row(row) for row in rows]

    def last_event_ms(self, run_id: str) -> int | None:
        row = self._conn.execute(
            "SELECT last_ms FROM run_totals WHERE run_id = ?", (run_id,)
        ).fetchone()
        return int(row[0]) if row and row[0] is not None else None

    def open_sessions_of_run(self, run_id: str) -> list[tuple[Session, int | None]]:
        rows = self._conn.execute(
            f"SELECT {_SESSION_COLUMNS}, (SELECT MAX(t.last_ms) FROM session_totals t "
            "WHERE t.session_key = sessions.session_key) FROM sessions "
            f"WHERE run_id = ? AND ({_OPEN_SESSION})",
            (run_id,),
        ).fetchall()
        width = len(_SESSION_COLUMNS.split(","))
        return [(_session_from_row(row[:width]), row[width]) for row in rows]

    def put_runs(self, runs: Sequence[Run]) -> None:
        if not runs:
            return
        self._conn.executemany(
            f"INSERT OR REPLACE INTO runs ({_RUN_COLUMNS}) "
            f"VALUES ({', '.join('?' * len(_RUN_COLUMNS.split(',')))})",
            [_run_to_row(run) for run in runs],
        )
        (last_seq,) = self._conn.execute(
            "SELECT COALESCE(MAX(change_seq), 0) FROM run_changes"
        ).fetchone()
        self._conn.executemany(
            "INSERT OR REPLACE INTO run_changes (run_id, change_seq) VALUES (?, ?)",
            [(run.run_id, last_seq + i) for i, run in enumerate(runs, start=1)],
        )

    def get_push_watermark(self, machine: str, ledger_id: str) -> PushWatermark:
        return _get_watermark(self._conn, machine, ledger_id)

    def put_push_watermark(self, mark: PushWatermark) -> None:
        self._conn.execute(
            f"INSERT INTO push_watermarks ({_WATERMARK_COLUMNS}) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (machine, ledger_id) DO UPDATE SET "
            "event_id = MAX(event_id, excluded.event_id), "
            "event_change = MAX(event_change, excluded.event_change), "
            "session_change = MAX(session_change, excluded.session_change), "
            "run_change = MAX(run_change, excluded.run_change), "
            "tool_call_change = MAX(tool_call_change, excluded.tool_call_change), "
            "tool_result_change = MAX(tool_result_change, excluded.tool_result_change), "
            "rate_limit_change = MAX(rate_limit_change, excluded.rate_limit_change), "
            "user_name = excluded.user_name, pushed_ms = excluded.pushed_ms",
            _watermark_to_row(mark),
        )

    # -- OpenTelemetry (SQL in tokentrail.store.sqlite_otlp) --------------------------------

    def alias_targets(self, aliases: Sequence[str]) -> dict[str, str]:
        return sqlite_otlp.alias_targets(self._conn, aliases)

    def put_aliases(self, pairs: Sequence[tuple[str, str]]) -> None:
        sqlite_otlp.put_aliases(self._conn, pairs)

    def put_otlp_receipts(self, receipts: Sequence[OtlpReceipt]) -> None:
        sqlite_otlp.put_otlp_receipts(self._conn, receipts)

    def put_metric_samples(self, samples: Sequence[MetricSample]) -> int:
        return sqlite_otlp.put_metric_samples(self._conn, samples)

    def put_rate_limits(self, snapshots: Sequence[RateLimitSnapshot]) -> None:
        blocks_sql.put_rate_limits(self._conn, "?", snapshots)

    def put_tool_calls(self, calls: Sequence[ToolCall]) -> None:
        tool_sql.put_otlp_tool_calls(self._conn, "?", calls)

    def put_log_tool_calls(self, calls: Sequence[ToolCall], results: Sequence[ToolResult]) -> None:
        tool_sql.put_log_tool_calls(self._conn, "?", calls, results)

    def put_cursors(self, cursors: Sequence[Cursor]) -> None:
        if not cursors:
            return
        self._conn.executemany(
            "INSERT OR REPLACE INTO cursors (path, source, device, inode, size, mtime_ns, "
            "offset, line_no, parser_version, head_hash, memory) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    c.path,
                    c.source,
                    c.device,
                    c.inode,
                    c.size,
                    c.mtime_ns,
                    c.offset,
                    c.line_no,
                    c.parser_version,
                    c.head_hash,
                    orjson.dumps(c.memory),
                )
                for c in cursors
            ],
        )

    def _add_totals(
        self, where: str, params: Sequence[Any], sign: int, *, by_id: bool = False
    ) -> None:
        """Add (``sign=1``) or take away (``-1``) the events matching ``where`` from the
        rollups and session totals. The database does the arithmetic in one pass.

        ``by_id``: ``where`` selects new rows by id. The planner would otherwise walk the
        session or run index over the whole ledger (their ``IS NOT NULL`` looks selective), so
        every write would cost more as the ledger grows; the rowid range is what is cheap."""
        sums = ", ".join(f"{sign} * {MEASURE_SQL[m]}" for m in MEASURES)
        events = "events NOT INDEXED" if by_id else "events"
        self._conn.execute(
            f"INSERT INTO rollups (bucket_ms, source, model, project, machine, {_MEASURE_LIST}) "
            f"SELECT ts_ms - ts_ms % {BUCKET_MS}, source, COALESCE(model, ''), "
            f"COALESCE(project, ''), machine, {sums} FROM {events} WHERE {where} "
            "GROUP BY 1, 2, 3, 4, 5 "
            "ON CONFLICT (bucket_ms, source, model, project, machine) "
            f"DO UPDATE SET {_MEASURE_ADD}",
            params,
        )
        self._conn.execute(  # the same sums per UTC hour (see migration 0006_hourly_rollups)
            "INSERT INTO rollups_hourly (bucket_ms, source, model, project, machine, "
            f"{_MEASURE_LIST}) SELECT ts_ms - ts_ms % {HOUR_MS}, source, COALESCE(model, ''), "
            f"COALESCE(project, ''), machine, {sums} FROM {events} WHERE {where} "
            "GROUP BY 1, 2, 3, 4, 5 "
            "ON CONFLICT (bucket_ms, source, model, project, machine) "
            f"DO UPDATE SET {_MEASURE_ADD}",
            params,
        )
        span = "MIN(ts_ms), MAX(ts_ms)" if sign > 0 else "NULL, NULL"
        self._conn.execute(
            f"INSERT INTO session_totals (session_key, model, first_ms, last_ms, {_MEASURE_LIST}) "
            f"SELECT session_key, COALESCE(model, ''), {span}, {sums} FROM {events} "
            f"WHERE session_key IS NOT NULL AND ({where}) GROUP BY 1, 2 "
            "ON CONFLICT (session_key, model) DO UPDATE SET "
            "first_ms = MIN(COALESCE(first_ms, excluded.first_ms), "
            "COALESCE(excluded.first_ms, first_ms)), "
            "last_ms = MAX(COALESCE(last_ms, excluded.last_ms), "
            f"COALESCE(excluded.last_ms, last_ms)), {_MEASURE_ADD}",
            params,
        )
        self._conn.execute(
            f"INSERT INTO run_totals (run_id, first_ms, last_ms, {_MEASURE_LIST}) "
            f"SELECT run_id, {span}, {sums} FROM {events} "
            f"WHERE run_id IS NOT NULL AND ({where}) GROUP BY 1 "
            "ON CONFLICT (run_id) DO UPDATE SET "
            "first_ms = MIN(COALESCE(first_ms, excluded.first_ms), "
            "COALESCE(excluded.first_ms, first_ms)), "
            "last_ms = MAX(COALESCE(last_ms, excluded.last_ms), "
            f"COALESCE(excluded.last_ms, last_ms)), {_MEASURE_ADD}",
            params,
        )


# -- row conversion -------------------------------------------------------------------------


def _entry_to_row(entry: Entry) -> tuple[Any, ...]:
    e, cost = entry.event, entry.cost
    t = e.tokens
    return (
        e.key,
        e.source,
        e.machine or "",
        e.run_id,
        e.session_key,
        e.timestamp_ms,
        e.model,
        e.provider,
        t.input,
        t.cache_read,
        t.cache_write_5m,
        t.cache_write_1h,
        t.output,
        t.reasoning,
        cost.status,
        cost.micro_usd,
        cost.version,
        e.reported_cost_usd,
        orjson.dumps(e.pricing_context).decode() if e.pricing_context else None,
        e.project,
        e.git_branch,
        e.rank,
        e.raw_usage,
        cost.cache_saving_micro,
        e.web_searches,
    )


def _entry_from_row(row: Sequence[Any]) -> Entry:
    (
        key,
        source,
        machine,
        run_id,
        session_key,
        ts_ms,
        model,
        provider,
        t_in,
        t_cr,
        t_cw5,
        t_cw1,
        t_out,
        t_reason,
        status,
        micro,
        version,
        reported,
        context,
        project,
        branch,
        rank,
        raw,
        saving,
        web_searches,
    ) = row
    event = UsageEvent(
        key=key,
        source=source,
        timestamp=utc_from_ms(ts_ms),
        tokens=Tokens(t_in, t_cr, t_cw5, t_cw1, t_out, t_reason),
        model=model,
        provider=provider,
        session_key=session_key,
        project=project,
        git_branch=branch,
        reported_cost_usd=reported,
        pricing_context=tuple(tuple(pair) for pair in orjson.loads(context)) if context else (),
        raw_usage=raw,
        rank=rank,
        run_id=run_id,
        machine=machine or None,
        web_searches=web_searches,
    )
    cost = Cost(status=status, micro_usd=micro, version=version, cache_saving_micro=saving)
    return Entry(event=event, cost=cost)


def _session_to_row(s: Session) -> tuple[Any, ...]:
    return (
        s.key,
        s.source,
        s.parent_key,
        s.relationship,
        s.project,
        s.title,
        int(s.started_at.timestamp() * 1000) if s.started_at else None,
        int(s.ended_at.timestamp() * 1000) if s.ended_at else None,
        s.model,
        s.git_branch,
        s.run_id,
        s.issue_id,
        s.identifier,
        s.state,
        s.turns,
    )


def _session_from_row(row: Sequence[Any]) -> Session:
    (
        key,
        source,
        parent,
        relationship,
        project,
        title,
        started,
        ended,
        model,
        branch,
        run_id,
        issue_id,
        identifier,
        state,
        turns,
    ) = row
    return Session(
        key=key,
        source=source,
        parent_key=parent,
        relationship=relationship,
        project=project,
        title=title,
        started_at=utc_from_ms(started) if started is not None else None,
        ended_at=utc_from_ms(ended) if ended is not None else None,
        model=model,
        git_branch=branch,
        run_id=run_id,
        issue_id=issue_id,
        identifier=identifier,
        state=state,
        turns=turns,
    )


def _run_to_row(run: Run) -> tuple[Any, ...]:
    return (
        run.run_id,
        run.app,
        _ms(run.started_at),
        _ms(run.stopped_at) if run.stopped_at else None,
        run.state,
        run.reason,
        run.peak_concurrency,
        run.sessions_launched,
        run.machine or "",
    )


def _run_from_row(row: Sequence[Any]) -> Run:
    run_id, app, started, stopped, state, reason, peak, launched, machine = row
    return Run(
        run_id=run_id,
        app=app,
        started_at=utc_from_ms(started),
        stopped_at=utc_from_ms(stopped) if stopped is not None else None,
        state=state,
        reason=reason,
        peak_concurrency=peak,
        sessions_launched=launched,
        machine=machine or None,
    )


def _ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


def _cursor_from_row(row: Sequence[Any]) -> Cursor:
    path, source, device, inode, size, mtime_ns, offset, line_no, version, head, memory = row
    return Cursor(
        path=path,
        source=source,
        device=device,
        inode=inode,
        size=size,
        mtime_ns=mtime_ns,
        offset=offset,
        line_no=line_no,
        parser_version=version,
        head_hash=head,
        memory=orjson.loads(memory) if memory else {},
    )


# -- SQL helpers ----------------------------------------------------------------------------


def _rollup_where(filters: Filters, *extra: str) -> tuple[str, list[Any]]:
    clauses: list[str] = list(extra)
    params: list[Any] = []
    if filters.since_ms is not None:
        clauses.append("bucket_ms >= ?")
        params.append(filters.since_ms)
    if filters.until_ms is not None:
        clauses.append("bucket_ms < ?")
        params.append(filters.until_ms)
    if filters.sources:
        clauses.append(f"source IN ({', '.join('?' * len(filters.sources))})")
        params.extend(filters.sources)
    if filters.project:
        clauses.append("instr(project, ?) > 0")
        params.append(filters.project)
    if filters.machines:
        clauses.append(f"machine IN ({', '.join('?' * len(filters.machines))})")
        params.extend(filters.machines)
    if filters.users:
        clauses.append("0")  # a local ledger keeps no users (see Entry.user)
    return (f"WHERE {' AND '.join(clauses)}" if clauses else ""), params


def _session_where(filters: Filters, *extra: str) -> tuple[str, list[Any]]:
    clauses: list[str] = list(extra)
    params: list[Any] = []
    if filters.sources:
        clauses.append(f"s.source IN ({', '.join('?' * len(filters.sources))})")
        params.extend(filters.sources)
    if filters.project:
        clauses.append("instr(COALESCE(s.project, ''), ?) > 0")
        params.append(filters.project)
    return (f"WHERE {' AND '.join(clauses)}" if clauses else ""), params


def _rollups_for(filters: Filters, segments: Sequence[OffsetSegment] = ()) -> str:
    """The rollup table to sum: the hourly one when every bound and every UTC offset change is
    a whole hour (the same sums from a fraction of the rows), else the 15-minute one."""
    from tokentrail.store.sqlite_dashboard import rollup_table

    return rollup_table(filters, segments)


def _local_time_sql(column: str, segments: Sequence[OffsetSegment]) -> str:
    """``column`` shifted into local time: a CASE over the zone's offset segments.

    The values are integers computed by us, not user input, so inlining them is safe.
    """
    if len(segments) == 1:
        return f"{column} + {int(segments[0].offset_ms)}"
    cases = " ".join(
        f"WHEN {column} < {int(nxt.start_ms)} THEN {column} + {int(seg.offset_ms)}"
        for seg, nxt in itertools.pairwise(segments)
    )
    return f"CASE {cases} ELSE {column} + {int(segments[-1].offset_ms)} END"


def _model_or_none(value: str | None) -> str | None:
    return value or None


def _select_in(
    conn: sqlite3.Connection, select: str, column: str, keys: Sequence[str]
) -> list[Any]:
    """Rows whose ``column`` is one of ``keys``, asked in chunks under SQLite's limit."""
    rows: list[Any] = []
    for chunk in _chunks(keys, _IN_CHUNK):
        placeholders = ", ".join("?" * len(chunk))
        rows.extend(conn.execute(f"{select} WHERE {column} IN ({placeholders})", chunk))
    return rows


def _chunks(items: Sequence[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def _refuse_users(entries: Sequence[Entry]) -> None:
    for entry in entries:
        if entry.user is not None:
            raise StoreError(
                f"request {entry.event.key!r} is attributed to user {entry.user!r}, but a "
                "local (SQLite) ledger keeps no users; push to a team (PostgreSQL) ledger "
                "with 'tokentrail push --user NAME'"
            )


def _get_watermark(conn: sqlite3.Connection, machine: str, ledger_id: str) -> PushWatermark:
    row = conn.execute(
        f"SELECT {_WATERMARK_COLUMNS} FROM push_watermarks WHERE machine = ? AND ledger_id = ?",
        (machine, ledger_id),
    ).fetchone()
    return _watermark_from_row(row) if row else PushWatermark(machine, ledger_id)


def _watermark_to_row(mark: PushWatermark) -> tuple[Any, ...]:
    return (
        mark.machine,
        mark.ledger_id,
        mark.event_id,
        mark.event_change,
        mark.session_change,
        mark.run_change,
        mark.user,
        mark.pushed_ms,
        mark.tool_call_change,
        mark.tool_result_change,
        mark.rate_limit_change,
    )


def _watermark_from_row(row: Sequence[Any]) -> PushWatermark:
    return PushWatermark(*row)


def check_file(path: Path) -> list[str]:
    """SQLite's integrity check of a ledger file too damaged to open as a store (read-only:
    nothing is migrated or written)."""
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        return [str(exc)]
    try:
        return _integrity_problems(conn)
    finally:
        conn.close()


def backup_file(path: Path, destination: Path) -> None:
    """Copy a ledger file too damaged to open as a store, page by page as it is (read-only)."""
    try:
        source = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise StoreError(f"cannot read {path}: {exc}") from exc
    try:
        _backup(source, destination)
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"cannot copy {path}: {exc}; nothing readable is left") from exc
    finally:
        source.close()


def _backup(source: sqlite3.Connection, destination: Path) -> None:
    if destination.exists():
        raise StoreError(f"backup destination {destination} already exists; choose a new file name")
    destination.parent.mkdir(parents=True, exist_ok=True)
    target = sqlite3.connect(destination)
    try:
        source.backup(target)
    finally:
        target.close()


def _integrity_problems(conn: sqlite3.Connection) -> list[str]:
    try:
        rows = conn.execute("PRAGMA integrity_check").fetchall()
    except sqlite3.DatabaseError as exc:
        return [str(exc)]
    return [str(row[0]) for row in rows if row[0] != "ok"]


def _code(exc: sqlite3.Error) -> int | None:
    """SQLite's primary result code of an error (its extended code's low byte)."""
    code = getattr(exc, "sqlite_errorcode", None)
    return code & 0xFF if isinstance(code, int) else None


def _rollback(conn: sqlite3.Connection) -> None:
    """Roll back the open transaction, if any: SQLite has already rolled it back itself
    after some errors (a full disk), and a second ROLLBACK would hide the first error."""
    if conn.in_transaction:
        conn.execute("ROLLBACK")


def translate_error(exc: sqlite3.Error, location: str) -> Exception:
    """The typed error that says what a SQLite error means for the ledger at ``location``,
    or ``exc`` itself when it has nothing more to say."""
    code = _code(exc)
    if code == sqlite3.SQLITE_FULL:
        return LedgerFull(
            f"the disk holding the ledger {location} is full ({exc}); nothing of this write "
            "was recorded and the ledger is as it was: free some space and run it again"
        )
    if code == sqlite3.SQLITE_CORRUPT or "malformed" in str(exc):
        return LedgerDamaged(
            f"the ledger {location} is damaged ({exc}); 'tokentrail db check' lists what is "
            f"wrong. To recover: {DAMAGED_ADVICE}"
        )
    return exc


def _split_sql(script: str) -> list[str]:
    return [part.strip() for part in script.split(";") if part.strip()]
