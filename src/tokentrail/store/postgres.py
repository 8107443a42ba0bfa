"""The team store: one ledger for many machines in PostgreSQL (psycopg 3, a connection pool).

It follows the SQLite store's semantics exactly, in PostgreSQL's dialect:

* ``write()`` is one transaction that first takes a transaction-level advisory lock, so
  writers (several machines pushing, a sync's workers, an orchestrator) take turns and the
  ledger's read-merge-write of a batch can never lose a concurrent merge;
* rollups, session totals and run totals are kept in the same transaction from the rows just
  written, with the measure definitions of :data:`~tokentrail.store.base.MEASURE_SQL`;
* local days come from the same :class:`~tokentrail.store.base.OffsetSegment` list, turned into
  the same CASE expression, so both backends give identical numbers;
* bulk inserts use COPY; lookups of many keys one ``= ANY(array)`` query.

Team additions: events and rollups carry a ``user_name`` (who pushed them), session totals are
kept per machine and user so the session report can be filtered by either, file cursors are
kept per machine, and push watermarks live here.
"""

from __future__ import annotations

import itertools
import re
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import orjson
import psycopg
from psycopg.abc import Buffer
from psycopg.types.string import StrDumperUnknown
from psycopg_pool import ConnectionPool, PoolTimeout

from tokentrail.errors import LedgerTooNew, StoreError
from tokentrail.ratelimits import RateLimitSnapshot
from tokentrail.store import (
    blocks_sql,
    postgres_dashboard,
    postgres_otlp,
    push_sql,
    tool_sql,
)
from tokentrail.store.base import (
    ACTIVE_MS_SQL,
    BUCKET_MS,
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
from tokentrail.store.postgres_migrations import POSTGRES_MIGRATIONS
from tokentrail.store.sqlite import (
    _OPEN_SESSION,
    _cursor_from_row,
    _entry_from_row,
    _entry_to_row,
    _run_from_row,
    _run_to_row,
    _session_from_row,
    _session_to_row,
    _split_sql,
)
from tokentrail.usage import Run, Session, ToolCall, ToolResult, utc_from_ms

URL_SCHEMES = ("postgresql://", "postgres://")

T = TypeVar("T")

_WRITE_LOCK = 0x746F6B656E747231  # "tokentr1": one writer at a time, for the transaction
_MIGRATE_LOCK = 0x746F6B656E747232  # "tokentr2": one process migrates at a time
_CONNECT_TIMEOUT_S = 15
_STAGING = "tokentrail_incoming"
"""A temporary table (one per connection) that new events are COPYed into first."""
_POOL_SIZE = 4

_EVENT_COLUMNS = (
    "event_key, source, machine, run_id, session_key, ts_ms, model, provider, "
    "input, cache_read, cache_write_5m, cache_write_1h, output, reasoning, "
    "cost_status, cost_micro, price_version, reported_cost_usd, pricing_context, "
    "project, git_branch, rank, raw_usage, cache_saving_micro, web_searches, user_name"
)
_EVENT_COLUMN_LIST = [c.strip() for c in _EVENT_COLUMNS.split(",")]
_SESSION_COLUMNS = (
    "session_key, source, parent_key, relationship, project, title, "
    "started_ms, ended_ms, model, git_branch, run_id, issue_id, identifier, state, turns"
)
_SESSION_COLUMN_LIST = [c.strip() for c in _SESSION_COLUMNS.split(",")]
_RUN_COLUMNS = (
    "run_id, app, started_ms, stopped_ms, state, reason, peak_concurrency, sessions_launched, "
    "machine"
)
_RUN_COLUMN_LIST = [c.strip() for c in _RUN_COLUMNS.split(",")]
_WATERMARK_COLUMNS = (
    "machine, ledger_id, event_id, event_change, session_change, run_change, user_name, "
    "pushed_ms, tool_call_change, tool_result_change, rate_limit_change"
)
_CURSOR_COLUMNS = (
    "path, source, device, inode, size, mtime_ns, byte_offset, line_no, parser_version, "
    "head_hash, memory"
)

_PG_MEASURE_SQL: dict[str, str] = {
    **MEASURE_SQL,
    # PostgreSQL's round(double precision) rounds halves to even, SQLite's ROUND away from
    # zero: spell SQLite's rule out (in double precision, as SQLite computes it) so both
    # backends turn a reported cost into the very same micro-dollars.
    "reported_cost_micro": "COALESCE(SUM(CAST(CASE WHEN reported_cost_usd * 1000000 >= 0 "
    "THEN floor(reported_cost_usd * 1000000 + 0.5) "
    "ELSE ceil(reported_cost_usd * 1000000 - 0.5) END AS BIGINT)), 0)",
}
""":data:`MEASURE_SQL` in PostgreSQL: the same definitions (one rounding rule spelled out)."""

_MEASURE_LIST = ", ".join(MEASURES)
_MINUTE_MEASURES = ", ".join(f"CAST({_PG_MEASURE_SQL[m]} AS BIGINT)" for m in MEASURES)
_MEASURE_SUMS = ", ".join(f"CAST(SUM({m}) AS BIGINT)" for m in MEASURES)


_NUL = "\x00"
_NUL_STAND_IN = "\ufffd"

_COPY_TYPES = (
    ["text"] * 5
    + ["int8", "text", "text"]
    + ["int8"] * 6
    + ["text", "int8", "text", "float8", "text", "text", "text", "text", "bytea", "int8", "int8"]
    + ["text"]
)
"""The types of :data:`_EVENT_COLUMNS`, for a binary COPY."""


def _no_nul(value: str) -> str:
    """PostgreSQL text cannot hold NUL characters (SQLite's can): each becomes U+FFFD. The
    same text always becomes the same text, so a key with a NUL still names one request."""
    return value.replace(_NUL, _NUL_STAND_IN) if _NUL in value else value


class _NulFreeStr(StrDumperUnknown):
    """Query parameters: text as psycopg sends it, with NUL characters replaced."""

    def dump(self, obj: str) -> Buffer | None:
        return super().dump(_no_nul(obj))


def _configure(conn: psycopg.Connection[Any]) -> None:
    conn.adapters.register_dumper(str, _NulFreeStr)


def redact_url(url: str) -> str:
    """The URL without its password (in the authority or as a ``password=`` parameter)."""
    try:
        parts = urlsplit(url)
    except ValueError:  # malformed: hide the passwords found by their place in the text
        masked = url
        for secret in _secrets(url):
            masked = masked.replace(secret, "***")
        return masked
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostinfo = netloc.rpartition("@")
        if ":" in userinfo:
            userinfo = userinfo.split(":", 1)[0] + ":***"
        netloc = f"{userinfo}@{hostinfo}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode(
            [(k, "***" if k.lower() == "password" else v) for k, v in pairs], safe="*/:"
        )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


_PASSWORDS = re.compile(r"^[^:/]+://[^/@:]*:([^@]+)@|[?&]password=([^&#]+)", re.IGNORECASE)
"""A URL's passwords found by their place in the text: a malformed URL has them too."""


def _secrets(url: str) -> list[str]:
    found: list[str] = []
    try:
        parts = urlsplit(url)
        if parts.password:
            found.append(parts.password)
        found.extend(v for k, v in parse_qsl(parts.query) if k.lower() == "password" and v)
    except ValueError:
        pass
    found.extend(text for match in _PASSWORDS.finditer(url) for text in match.groups() if text)
    # the longest first, so no part of a longer password is left around a shorter one
    return sorted(set(found), key=len, reverse=True)


class PostgresStore:
    """A ledger in a PostgreSQL database, shared by many machines."""

    def __init__(self, url: str, *, machine: str | None = None, pool_size: int = _POOL_SIZE):
        self.url = url
        self.location = redact_url(url)
        self._machine = machine
        self._secrets = _secrets(url)
        self._too_new: LedgerTooNew | None = None
        try:
            with psycopg.connect(url, autocommit=True, connect_timeout=_CONNECT_TIMEOUT_S) as conn:
                self._migrate(conn)
        except psycopg.Error as exc:
            raise StoreError(
                f"cannot open the team ledger {self.location}: {self._clean(exc)}; check the "
                "URL given with -d/--database, --to or TOKENTRAIL_DB, that the server runs and "
                "that the role may connect (see docs/team.md)"
            ) from None
        self._pool = ConnectionPool(
            url,
            min_size=1,
            max_size=pool_size,
            kwargs={"autocommit": True, "connect_timeout": _CONNECT_TIMEOUT_S},
            configure=_configure,
            open=False,
            name="tokentrail",
        )
        try:
            self._pool.open(wait=True, timeout=_CONNECT_TIMEOUT_S * 2)
        except PoolTimeout:
            self._pool.close()
            raise StoreError(
                f"cannot open the team ledger {self.location}: no connection within "
                f"{_CONNECT_TIMEOUT_S * 2} s; check that the server runs and accepts this role"
            ) from None

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def machine(self) -> str:
        """The machine whose file cursors this store reads and writes (sync state is per
        machine in a team ledger)."""
        if self._machine is None:
            from tokentrail.config import load_config, machine_name

            self._machine = machine_name(load_config())
        return self._machine

    def close(self) -> None:
        self._pool.close()

    def _clean(self, exc: BaseException) -> str:
        """An error message with no password in it."""
        text = str(exc).strip().replace("\n", " ").replace(self.url, self.location)
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except psycopg.errors.InsufficientPrivilege as exc:
            raise StoreError(
                f"the team ledger {self.location} refused: {self._clean(exc)}; this role may "
                "not do that (a reader role cannot sync or record; see docs/team.md)"
            ) from None
        except psycopg.Error as exc:
            raise StoreError(
                f"the team ledger {self.location} failed: {self._clean(exc)}"
            ) from None

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[Any]]:
        with self._errors(), self._pool.connection() as conn:
            yield conn

    def _migrate(self, conn: psycopg.Connection[Any]) -> None:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATE_LOCK,))
            exists = conn.execute("SELECT to_regclass('_migrations')").fetchone()
            if exists is None or exists[0] is None:
                conn.execute(
                    "CREATE TABLE _migrations (name TEXT PRIMARY KEY, "
                    "applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
                )
            applied = {row[0] for row in conn.execute("SELECT name FROM _migrations")}
        unknown = applied - {name for name, _ in POSTGRES_MIGRATIONS}
        if unknown:  # a newer tokentrail migrated it: read it as it is, never write it
            known = len(POSTGRES_MIGRATIONS)
            self._too_new = newer_schema_error(self.location, known + len(unknown), known)
            return
        pending = [(name, sql) for name, sql in POSTGRES_MIGRATIONS if name not in applied]
        for name, sql in pending:
            try:
                with conn.transaction():
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATE_LOCK,))
                    # another process may have applied it while we waited for the lock
                    done = conn.execute("SELECT 1 FROM _migrations WHERE name = %s", (name,))
                    if done.fetchone():
                        continue
                    for statement in _split_sql(sql):
                        conn.execute(statement)
                    conn.execute("INSERT INTO _migrations (name) VALUES (%s)", (name,))
            except psycopg.errors.InsufficientPrivilege as exc:
                raise StoreError(
                    f"the team ledger {self.location} needs migration {name}, which this role "
                    f"may not apply ({self._clean(exc)}); open it once as the owner role "
                    "(see docs/team.md)"
                ) from None

    def applied_migrations(self) -> list[str]:
        with self._connection() as conn:
            rows = conn.execute("SELECT name FROM _migrations ORDER BY name").fetchall()
        return [row[0] for row in rows]

    # -- writing -------------------------------------------------------------------------

    def check(self) -> list[str]:
        """Nothing to report: PostgreSQL checks its own pages (its amcheck extension checks
        them on demand); this proves the database answers."""
        self._rows("SELECT COUNT(*) FROM _migrations")
        return []

    @contextmanager
    def write(self) -> Iterator[_PostgresWrite]:
        if self._too_new is not None:
            raise self._too_new
        with self._connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_WRITE_LOCK,))
            yield _PostgresWrite(conn, self.machine)

    # -- reading -------------------------------------------------------------------------

    def _rows(self, query: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._connection() as conn:
            return conn.execute(query, params).fetchall()

    def cursors(self, paths: Sequence[str] | None = None) -> dict[str, Cursor]:
        query = f"SELECT {_CURSOR_COLUMNS} FROM cursors WHERE machine = %s"
        if paths is None:
            rows = self._rows(query, (self.machine,))
        else:
            rows = self._rows(f"{query} AND path = ANY(%s)", (self.machine, list(paths)))
        return {row[0]: _cursor_from_row(row) for row in rows}

    def day_totals(
        self, filters: Filters, segments: Sequence[OffsetSegment], by_model: bool
    ) -> list[DayRow]:
        if by_model:
            return self.day_totals_by(filters, segments, "model")
        if not segments:
            raise ValueError("day_totals needs at least one UTC offset segment")
        where, params = _rollup_where(filters)
        local = _local_time_sql("bucket_ms", segments)
        rows = self._rows(
            f"SELECT ({local}) / 86400000 AS day, {_MEASURE_SUMS} "
            f"FROM rollups {where} GROUP BY 1 ORDER BY 1",
            params,
        )
        return [DayRow(day=row[0], model=None, totals=Totals(tuple(row[1:]))) for row in rows]

    def day_totals_by(
        self, filters: Filters, segments: Sequence[OffsetSegment], by: GroupBy
    ) -> list[DayRow]:
        if not segments:
            raise ValueError("day_totals_by needs at least one UTC offset segment")
        group_col = {"model": "model", "machine": "machine", "user": "user_name"}[by]
        where, params = _rollup_where(filters)
        local = _local_time_sql("bucket_ms", segments)
        rows = self._rows(
            f"SELECT ({local}) / 86400000 AS day, {group_col} AS g, {_MEASURE_SUMS} "
            f"FROM rollups {where} GROUP BY 1, 2 ORDER BY 1, 2",
            params,
        )
        return [
            DayRow(
                day=row[0],
                model=(row[1] or None) if by == "model" else None,
                totals=Totals(tuple(row[2:])),
                group=row[1] or None,
            )
            for row in rows
        ]

    def session_totals(
        self, filters: Filters, by_model: bool, family: Sequence[str] | None = None
    ) -> list[SessionTotalsRow]:
        clauses: list[str] = []
        params: list[Any] = []
        if family is not None:
            clauses.append("(s.session_key = ANY(%s) OR s.parent_key = ANY(%s))")
            params.extend([list(family), list(family)])
        if filters.sources:
            clauses.append("s.source = ANY(%s)")
            params.append(list(filters.sources))
        if filters.project:
            clauses.append("strpos(COALESCE(s.project, ''), %s) > 0")
            params.append(filters.project)
        if filters.machines:
            clauses.append("t.machine = ANY(%s)")
            params.append(list(filters.machines))
        if filters.users:
            clauses.append("t.user_name = ANY(%s)")
            params.append(list(filters.users))
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        columns = ", ".join(f"s.{c}" for c in _SESSION_COLUMN_LIST)
        model_col = "t.model" if by_model else "NULL"
        group = "s.session_key, t.model" if by_model else "s.session_key"
        rows = self._rows(
            f"SELECT {columns}, {model_col}, MIN(t.first_ms), MAX(t.last_ms), "
            + ", ".join(f"CAST(SUM(t.{m}) AS BIGINT)" for m in MEASURES)
            + f" FROM session_totals t JOIN sessions s ON s.session_key = t.session_key {where} "
            f"GROUP BY {group}",
            params,
        )
        width = len(_SESSION_COLUMN_LIST)
        return [
            SessionTotalsRow(
                session=_session_from_row(row[:width]),
                model=(row[width] or None) if by_model else None,
                totals=Totals(tuple(row[width + 3 :])),
                first_ms=row[width + 1],
                last_ms=row[width + 2],
            )
            for row in rows
        ]

    def unpriced_models(self, filters: Filters) -> list[UnpricedModel]:
        where, params = _rollup_where(filters, "unpriced_requests > 0")
        rows = self._rows(
            "SELECT model, CAST(SUM(unpriced_requests) AS BIGINT), "
            f"CAST(SUM(unpriced_tokens) AS BIGINT) FROM rollups {where} "
            "GROUP BY model ORDER BY model",
            params,
        )
        return [
            UnpricedModel(model=row[0] or NO_MODEL, requests=row[1], tokens=row[2]) for row in rows
        ]

    def time_range(self, filters: Filters) -> tuple[int, int] | None:
        where, params = _rollup_where(filters)
        (row,) = self._rows(f"SELECT MIN(bucket_ms), MAX(bucket_ms) FROM rollups {where}", params)
        if row[0] is None:
            return None
        return int(row[0]), int(row[1])

    def totals(self, filters: Filters) -> Totals:
        where, params = _rollup_where(filters)
        (row,) = self._rows(f"SELECT {_MEASURE_SUMS} FROM rollups {where}", params)
        return Totals(tuple(v or 0 for v in row))

    def sessions_by_key(self, keys: Sequence[str]) -> dict[str, Session]:
        if not keys:
            return {}
        rows = self._rows(
            f"SELECT {_SESSION_COLUMNS} FROM sessions WHERE session_key = ANY(%s)", (list(keys),)
        )
        found = {row[0]: _session_from_row(row) for row in rows}
        return _by_asked_key(keys, found, lambda s, key: replace(s, key=key))

    def runs_by_id(self, run_ids: Sequence[str]) -> dict[str, Run]:
        if not run_ids:
            return {}
        rows = self._rows(
            f"SELECT {_RUN_COLUMNS} FROM runs WHERE run_id = ANY(%s)", (list(run_ids),)
        )
        found = {row[0]: _run_from_row(row) for row in rows}
        return _by_asked_key(run_ids, found, lambda r, key: replace(r, run_id=key))

    def list_runs(self, limit: int | None = None, app: str | None = None) -> list[RunTotalsRow]:
        where = "WHERE r.app = %s" if app else ""
        params: list[Any] = [app] if app else []
        columns = ", ".join(f"r.{c}" for c in _RUN_COLUMN_LIST)
        query = (
            f"SELECT {columns}, t.first_ms, t.last_ms, "
            f"{', '.join('COALESCE(t.' + m + ', 0)' for m in MEASURES)} "
            f"FROM runs r LEFT JOIN run_totals t ON t.run_id = r.run_id {where} "
            "ORDER BY r.started_ms DESC, r.run_id"
        )
        if limit is not None:
            query += " LIMIT %s"
            params.append(limit)
        width = len(_RUN_COLUMN_LIST)
        return [
            RunTotalsRow(
                run=_run_from_row(row[:width]),
                first_ms=row[width],
                last_ms=row[width + 1],
                totals=Totals(tuple(row[width + 2 :])),
            )
            for row in self._rows(query, params)
        ]

    def session_stats(
        self, filters: Filters, run_id: str | None = None
    ) -> tuple[int, float | None]:
        clauses = []
        params: list[Any] = []
        if filters.since_ms is not None:
            clauses.append("s.started_ms >= %s")
            params.append(filters.since_ms)
        if filters.until_ms is not None:
            clauses.append("s.started_ms < %s")
            params.append(filters.until_ms)
        if run_id is not None:
            clauses.append("s.run_id = %s")
            params.append(run_id)
        where, more = _session_where(filters, *clauses)
        ((count, runtime_ms),) = self._rows(
            "SELECT COUNT(*), CAST(SUM(CASE WHEN s.ended_ms >= s.started_ms "
            f"THEN s.ended_ms - s.started_ms END) AS BIGINT) FROM sessions s {where}",
            [*params, *more],
        )
        return int(count), (runtime_ms / 1000 if runtime_ms is not None else None)

    def run_totals(self, run_id: str) -> Totals:
        rows = self._rows(f"SELECT {_MEASURE_LIST} FROM run_totals WHERE run_id = %s", (run_id,))
        return Totals(tuple(rows[0])) if rows else Totals.zero()

    def count_runs(self) -> int:
        return int(self._rows("SELECT COUNT(*) FROM runs")[0][0])

    def count_sessions(self, filters: Filters) -> int:
        where, params = _session_where(filters)
        return int(self._rows(f"SELECT COUNT(*) FROM sessions s {where}", params)[0][0])

    def recent_sessions(
        self, filters: Filters, limit: int, offset: int = 0
    ) -> list[SessionTotalsRow]:
        """Top-level sessions, most recently active first, with their own totals."""
        where, params = _session_where(
            filters, "(s.relationship IS NULL OR s.relationship != 'subagent')"
        )
        columns = ", ".join(f"s.{c}" for c in _SESSION_COLUMN_LIST)
        query = (
            f"SELECT {columns}, t.first_ms, t.last_ms, "
            + ", ".join(f"COALESCE(t.{m}, 0)" for m in MEASURES)
            + " FROM sessions s LEFT JOIN (SELECT session_key, MIN(first_ms) AS first_ms, "
            "MAX(last_ms) AS last_ms, "
            + ", ".join(f"CAST(SUM({m}) AS BIGINT) AS {m}" for m in MEASURES)
            + " FROM session_totals GROUP BY session_key) t ON t.session_key = s.session_key "
            # SQLite sorts NULL lowest: last when descending
            f"{where} ORDER BY COALESCE(s.ended_ms, t.last_ms, s.started_ms) DESC NULLS LAST, "
            "s.session_key LIMIT %s OFFSET %s"
        )
        width = len(_SESSION_COLUMN_LIST)
        return [
            SessionTotalsRow(
                session=_session_from_row(row[:width]),
                model=None,
                totals=Totals(tuple(row[width + 2 :])),
                first_ms=row[width],
                last_ms=row[width + 1],
            )
            for row in self._rows(query, [*params, limit, offset])
        ]

    def active_ms(self, session_keys: Sequence[str], idle_gap_ms: int) -> dict[str, int]:
        if not session_keys:
            return {}
        sql = ACTIVE_MS_SQL.format(gap="%s", keys="SELECT unnest(%s::text[])")
        rows = self._rows(sql, (idle_gap_ms, list(session_keys)))
        return {key: int(active or 0) for key, active in rows}

    def session_entries(self, session_keys: Sequence[str]) -> list[Entry]:
        """Every request of these sessions, oldest first (a session's timeline)."""
        if not session_keys:
            return []
        rows = self._rows(
            f"SELECT {_EVENT_COLUMNS} FROM events WHERE session_key = ANY(%s)",
            (list(session_keys),),
        )
        entries = [_entry_from_pg_row(row) for row in rows]
        entries.sort(key=lambda e: (e.event.timestamp_ms, e.event.key))
        return entries

    def iter_entries(self, batch_size: int = 5000) -> Iterator[list[Entry]]:
        last_id = 0
        while True:
            batch = self.entries_after(last_id, batch_size)
            if not batch:
                return
            last_id = batch[-1][0]
            yield [entry for _, entry in batch]

    def status(self) -> StoreStatus:
        ((events, first, last),) = self._rows("SELECT COUNT(*), MIN(ts_ms), MAX(ts_ms) FROM events")
        sessions = int(self._rows("SELECT COUNT(*) FROM sessions")[0][0])
        files = int(self._rows("SELECT COUNT(*) FROM cursors")[0][0])
        retracted = int(self._rows("SELECT COUNT(*) FROM retractions")[0][0])
        try:
            size: int | None = int(self._rows("SELECT pg_database_size(current_database())")[0][0])
        except StoreError:
            size = None  # the role may not see the database's size; everything else is known
        migrations = tuple(self.applied_migrations())
        return StoreStatus(
            location=self.location,
            schema_version=len(migrations),
            migrations=migrations,
            events=int(events),
            sessions=sessions,
            files=files,
            first_event=utc_from_ms(first) if first is not None else None,
            last_event=utc_from_ms(last) if last is not None else None,
            size_bytes=size,
            retracted=retracted,
        )

    def backup(self, destination: Path) -> None:
        raise StoreError(
            f"{self.location} is a PostgreSQL team ledger: back it up with the server's own "
            f"tools, e.g. pg_dump --format=custom --file={destination} <database URL>"
        )

    # -- team mode -----------------------------------------------------------------------

    def ledger_id(self) -> str:
        if self._too_new is not None:  # read-only: the id it has, never a new one
            found = self._rows("SELECT value FROM meta WHERE key = 'ledger_id'")
            if not found:
                raise self._too_new
            return str(found[0][0])
        with self._connection() as conn, conn.transaction():
            conn.execute(
                "INSERT INTO meta (key, value) VALUES ('ledger_id', %s) "
                "ON CONFLICT (key) DO NOTHING",
                (uuid.uuid4().hex,),
            )
            row = conn.execute("SELECT value FROM meta WHERE key = 'ledger_id'").fetchone()
        assert row is not None
        return str(row[0])

    def entries_after(self, after_id: int, limit: int) -> list[tuple[int, Entry]]:
        rows = self._rows(
            f"SELECT id, {_EVENT_COLUMNS} FROM events WHERE id > %s ORDER BY id LIMIT %s",
            (after_id, limit),
        )
        return [(row[0], _entry_from_pg_row(row[1:])) for row in rows]

    def entries_changed_after(self, after_seq: int, limit: int) -> list[tuple[int, Entry]]:
        rows = self._rows(
            f"SELECT changed_seq, {_EVENT_COLUMNS} FROM events WHERE changed_seq > %s "
            "ORDER BY changed_seq LIMIT %s",
            (after_seq, limit),
        )
        return [(row[0], _entry_from_pg_row(row[1:])) for row in rows]

    def sessions_changed_after(self, after_seq: int, limit: int) -> list[tuple[int, Session]]:
        rows = self._rows(
            f"SELECT change_seq, {_SESSION_COLUMNS} FROM sessions WHERE change_seq > %s "
            "ORDER BY change_seq LIMIT %s",
            (after_seq, limit),
        )
        return [(row[0], _session_from_row(row[1:])) for row in rows]

    def runs_changed_after(self, after_seq: int, limit: int) -> list[tuple[int, Run]]:
        rows = self._rows(
            f"SELECT change_seq, {_RUN_COLUMNS} FROM runs WHERE change_seq > %s "
            "ORDER BY change_seq LIMIT %s",
            (after_seq, limit),
        )
        return [(row[0], _run_from_row(row[1:])) for row in rows]

    def tool_calls_changed_after(self, after_seq: int, limit: int) -> list[tuple[int, ToolCall]]:
        with self._connection() as conn:
            return push_sql.tool_calls_changed_after(conn, "%s", after_seq, limit)

    def tool_results_changed_after(
        self, after_seq: int, limit: int
    ) -> list[tuple[int, ToolResult]]:
        with self._connection() as conn:
            return push_sql.tool_results_changed_after(conn, "%s", after_seq, limit)

    def rate_limits_changed_after(
        self, after_seq: int, limit: int
    ) -> list[tuple[int, RateLimitSnapshot]]:
        with self._connection() as conn:
            return push_sql.rate_limits_changed_after(conn, "%s", after_seq, limit)

    def push_watermark(self, machine: str, ledger_id: str) -> PushWatermark:
        rows = self._rows(
            f"SELECT {_WATERMARK_COLUMNS} FROM push_watermarks "
            "WHERE machine = %s AND ledger_id = %s",
            (machine, ledger_id),
        )
        return PushWatermark(*rows[0]) if rows else PushWatermark(machine, ledger_id)

    def push_watermarks(self) -> list[PushWatermark]:
        rows = self._rows(
            f"SELECT {_WATERMARK_COLUMNS} FROM push_watermarks ORDER BY machine, ledger_id"
        )
        return [PushWatermark(*row) for row in rows]

    # -- OpenTelemetry (SQL in tokentrail.store.postgres_otlp) ------------------------------

    def source_day_totals(
        self, filters: Filters, segments: Sequence[OffsetSegment]
    ) -> list[SourceDayRow]:
        with self._connection() as conn:
            return postgres_otlp.source_day_totals(conn, filters, segments)

    def otlp_day_totals(
        self, filters: Filters, segments: Sequence[OffsetSegment]
    ) -> list[OtlpDayRow]:
        with self._connection() as conn:
            return postgres_otlp.otlp_day_totals(conn, filters, segments)

    def metric_day_totals(
        self, filters: Filters, segments: Sequence[OffsetSegment]
    ) -> list[MetricDayRow]:
        with self._connection() as conn:
            return postgres_otlp.metric_day_totals(conn, filters, segments)

    def minute_totals(self, filters: Filters) -> list[MinuteRow]:
        with self._connection() as conn:
            sql, params = blocks_sql.minute_totals_query(
                filters, "%s", _MINUTE_MEASURES, user="user_name"
            )
            rows = conn.execute(sql, params, prepare=False).fetchall()
            return [blocks_sql.minute_row(row) for row in rows]

    def rate_limits(self, filters: Filters) -> list[RateLimitSnapshot]:
        with self._connection() as conn:
            return blocks_sql.rate_limits(conn, "%s", filters)

    def tool_call_stats(self, filters: Filters) -> list[ToolStatRow]:
        with self._connection() as conn:
            return postgres_otlp.tool_call_stats(conn, filters)

    def tool_call_rows(
        self, filters: Filters, session_keys: Sequence[str] = ()
    ) -> list[ToolCallRow]:
        with self._connection() as conn:
            return tool_sql.tool_call_rows(conn, "%s", filters, session_keys)

    # -- dashboard (SQL in tokentrail.store.postgres_dashboard) -----------------------------

    def change_marker(self) -> str:
        return postgres_dashboard.change_marker(self._rows)

    def group_totals(
        self, filters: Filters, by: GroupDimension, models: Sequence[str] = ()
    ) -> list[GroupTotalsRow]:
        return postgres_dashboard.group_totals(self._rows, filters, by, models)

    def interval_totals(
        self,
        filters: Filters,
        segments: Sequence[OffsetSegment],
        interval_ms: int,
        by_model: bool,
        models: Sequence[str] = (),
    ) -> list[IntervalRow]:
        return postgres_dashboard.interval_totals(
            self._rows, filters, segments, interval_ms, by_model, models
        )

    def session_day_counts(
        self, filters: Filters, segments: Sequence[OffsetSegment], models: Sequence[str] = ()
    ) -> list[tuple[int, int]]:
        return postgres_dashboard.session_day_counts(self._rows, filters, segments, models)

    def session_page(self, query: SessionPageQuery) -> SessionPage:
        return postgres_dashboard.session_page(self._rows, query)

    def group_names(self, by: GroupDimension) -> list[str]:
        return postgres_dashboard.group_names(self._rows, by)

    def report_marker(self) -> str | None:
        return None  # see tokentrail.store.report_cache: computed each time

    def cached_report(self, key: str) -> str | None:
        return None

    def keep_report(self, key: str, marker: str, body: str) -> bool:
        return False


class _PostgresWrite:
    """The operations allowed inside one write transaction (the advisory lock is held)."""

    def __init__(self, conn: psycopg.Connection[Any], machine: str) -> None:
        self._conn = conn
        self._machine = machine

    def _rows(self, query: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self._conn.execute(query, params).fetchall()

    def get_entries(self, keys: Sequence[str]) -> dict[str, Entry]:
        if not keys:
            return {}
        rows = self._rows(
            f"SELECT {_EVENT_COLUMNS} FROM events WHERE event_key = ANY(%s)", (list(keys),)
        )
        found = {row[0]: _entry_from_pg_row(row) for row in rows}
        return _by_asked_key(
            keys, found, lambda e, key: Entry(e.event.evolve(key=key), e.cost, e.user)
        )

    def insert_entries(self, entries: Sequence[Entry]) -> None:
        """COPY the rows into a staging table, append them to ``events``, and add them to the
        totals from the staging table: its few rows, not a range of a large table whose
        statistics may lag behind a bulk load (the planner would scan all of it)."""
        if not entries:
            return
        self._conn.execute(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {_STAGING} ON COMMIT DELETE ROWS AS "
            f"SELECT {_EVENT_COLUMNS} FROM events WITH NO DATA"
        )
        with (
            self._conn.cursor() as cur,
            cur.copy(f"COPY {_STAGING} ({_EVENT_COLUMNS}) FROM STDIN (FORMAT BINARY)") as copy,
        ):
            copy.set_types(_COPY_TYPES)
            for entry in entries:
                copy.write_row(_entry_to_pg_row(entry))
        self._conn.execute(
            f"INSERT INTO events ({_EVENT_COLUMNS}) SELECT {_EVENT_COLUMNS} FROM {_STAGING}"
        )
        self._add_totals("TRUE", [], sign=1, table=_STAGING)
        self._conn.execute(f"TRUNCATE {_STAGING}")

    def replace_entries(self, changes: Sequence[tuple[Entry, Entry]]) -> None:
        if not changes:
            return
        keys = [new.event.key for _, new in changes]
        self._add_totals("event_key = ANY(%s)", [keys], sign=-1)
        # each changed request gets the next change sequence, so a push sends it again
        ((last_seq,),) = self._rows(
            "SELECT COALESCE(MAX(changed_seq), 0) FROM events WHERE changed_seq IS NOT NULL"
        )
        assignments = ", ".join(f"{c} = %s" for c in _EVENT_COLUMN_LIST[1:])
        with self._conn.cursor() as cur:
            cur.executemany(
                f"UPDATE events SET {assignments}, changed_seq = %s WHERE event_key = %s",
                [
                    (*_entry_to_pg_row(new)[1:], last_seq + index, new.event.key)
                    for index, (_, new) in enumerate(changes, start=1)
                ],
            )
        self._add_totals("event_key = ANY(%s)", [keys], sign=1)
        # an entry that moved to another session, model or bucket may leave empty rows
        self._conn.execute("DELETE FROM rollups WHERE requests = 0")
        self._conn.execute("DELETE FROM session_totals WHERE requests = 0")

    def retracted_keys(self, keys: Sequence[str]) -> set[str]:
        if not keys:
            return set()
        rows = self._rows(
            "SELECT event_key FROM retractions WHERE event_key = ANY(%s)", (list(keys),)
        )
        return {row[0] for row in rows}

    def retract_entries(self, keys: Sequence[str], reason: str, at_ms: int) -> list[str]:
        if not keys:
            return []
        rows = self._rows(
            f"SELECT {_EVENT_COLUMNS} FROM events WHERE event_key = ANY(%s)", (list(keys),)
        )
        if not rows:
            return []
        found = [row[0] for row in rows]
        self._add_totals("event_key = ANY(%s)", [found], sign=-1)
        with self._conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO retractions (event_key, retracted_ms, reason, event) "
                "VALUES (%s, %s, %s, %s)",
                [(row[0], at_ms, reason, retraction_json(_EVENT_COLUMN_LIST, row)) for row in rows],
            )
        self._conn.execute("DELETE FROM events WHERE event_key = ANY(%s)", (found,))
        self._conn.execute("DELETE FROM rollups WHERE requests = 0")
        self._conn.execute("DELETE FROM session_totals WHERE requests = 0")
        return found

    def get_sessions(self, keys: Sequence[str]) -> dict[str, Session]:
        if not keys:
            return {}
        rows = self._rows(
            f"SELECT {_SESSION_COLUMNS} FROM sessions WHERE session_key = ANY(%s)", (list(keys),)
        )
        found = {row[0]: _session_from_row(row) for row in rows}
        return _by_asked_key(keys, found, lambda s, key: replace(s, key=key))

    def put_sessions(self, sessions: Sequence[Session]) -> None:
        if not sessions:
            return
        ((last_seq,),) = self._rows("SELECT COALESCE(MAX(change_seq), 0) FROM sessions")
        updates = ", ".join(
            f"{c} = excluded.{c}" for c in [*_SESSION_COLUMN_LIST[1:], "change_seq"]
        )
        placeholders = ", ".join(["%s"] * (len(_SESSION_COLUMN_LIST) + 1))
        with self._conn.cursor() as cur:
            cur.executemany(
                f"INSERT INTO sessions ({_SESSION_COLUMNS}, change_seq) VALUES ({placeholders}) "
                f"ON CONFLICT (session_key) DO UPDATE SET {updates}",
                [(*_session_to_row(s), last_seq + i) for i, s in enumerate(sessions, start=1)],
            )

    def put_cursors(self, cursors: Sequence[Cursor]) -> None:
        if not cursors:
            return
        columns = [c.strip() for c in _CURSOR_COLUMNS.split(",")]
        updates = ", ".join(f"{c} = excluded.{c}" for c in columns[1:])
        with self._conn.cursor() as cur:
            cur.executemany(
                f"INSERT INTO cursors (machine, {_CURSOR_COLUMNS}) "
                f"VALUES ({', '.join(['%s'] * (len(columns) + 1))}) "
                f"ON CONFLICT (machine, path) DO UPDATE SET {updates}",
                [
                    (
                        self._machine,
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

    def get_runs(self, run_ids: Sequence[str]) -> dict[str, Run]:
        if not run_ids:
            return {}
        rows = self._rows(
            f"SELECT {_RUN_COLUMNS} FROM runs WHERE run_id = ANY(%s)", (list(run_ids),)
        )
        found = {row[0]: _run_from_row(row) for row in rows}
        return _by_asked_key(run_ids, found, lambda r, key: replace(r, run_id=key))

    def running_runs(self, app: str) -> list[Run]:
        rows = self._rows(
            f"SELECT {_RUN_COLUMNS} FROM runs WHERE app = %s AND state = 'running'", (app,)
        )
        return [_run_from_row(row) for row in rows]

    def last_event_ms(self, run_id: str) -> int | None:
        rows = self._rows("SELECT last_ms FROM run_totals WHERE run_id = %s", (run_id,))
        return int(rows[0][0]) if rows and rows[0][0] is not None else None

    def open_sessions_of_run(self, run_id: str) -> list[tuple[Session, int | None]]:
        rows = self._rows(
            f"SELECT {_SESSION_COLUMNS}, (SELECT MAX(t.last_ms) FROM session_totals t "
            "WHERE t.session_key = sessions.session_key) FROM sessions "
            f"WHERE run_id = %s AND ({_OPEN_SESSION})",
            (run_id,),
        )
        width = len(_SESSION_COLUMN_LIST)
        return [
            (_session_from_row(row[:width]), int(row[width]) if row[width] is not None else None)
            for row in rows
        ]

    def put_runs(self, runs: Sequence[Run]) -> None:
        if not runs:
            return
        ((last_seq,),) = self._rows("SELECT COALESCE(MAX(change_seq), 0) FROM runs")
        updates = ", ".join(f"{c} = excluded.{c}" for c in [*_RUN_COLUMN_LIST[1:], "change_seq"])
        placeholders = ", ".join(["%s"] * (len(_RUN_COLUMN_LIST) + 1))
        with self._conn.cursor() as cur:
            cur.executemany(
                f"INSERT INTO runs ({_RUN_COLUMNS}, change_seq) VALUES ({placeholders}) "
                f"ON CONFLICT (run_id) DO UPDATE SET {updates}",
                [(*_run_to_row(run), last_seq + i) for i, run in enumerate(runs, start=1)],
            )

    def get_push_watermark(self, machine: str, ledger_id: str) -> PushWatermark:
        rows = self._rows(
            f"SELECT {_WATERMARK_COLUMNS} FROM push_watermarks "
            "WHERE machine = %s AND ledger_id = %s",
            (machine, ledger_id),
        )
        return PushWatermark(*rows[0]) if rows else PushWatermark(machine, ledger_id)

    def put_push_watermark(self, mark: PushWatermark) -> None:
        self._conn.execute(
            f"INSERT INTO push_watermarks ({_WATERMARK_COLUMNS}) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (machine, ledger_id) DO UPDATE SET "
            "event_id = GREATEST(push_watermarks.event_id, excluded.event_id), "
            "event_change = GREATEST(push_watermarks.event_change, excluded.event_change), "
            "session_change = GREATEST(push_watermarks.session_change, excluded.session_change), "
            "run_change = GREATEST(push_watermarks.run_change, excluded.run_change), "
            "tool_call_change = GREATEST(push_watermarks.tool_call_change, "
            "excluded.tool_call_change), "
            "tool_result_change = GREATEST(push_watermarks.tool_result_change, "
            "excluded.tool_result_change), "
            "rate_limit_change = GREATEST(push_watermarks.rate_limit_change, "
            "excluded.rate_limit_change), "
            "user_name = excluded.user_name, pushed_ms = excluded.pushed_ms",
            (
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
            ),
        )

    # -- OpenTelemetry (SQL in tokentrail.store.postgres_otlp) ------------------------------

    def alias_targets(self, aliases: Sequence[str]) -> dict[str, str]:
        return postgres_otlp.alias_targets(self._conn, aliases)

    def put_aliases(self, pairs: Sequence[tuple[str, str]]) -> None:
        postgres_otlp.put_aliases(self._conn, pairs)

    def put_otlp_receipts(self, receipts: Sequence[OtlpReceipt]) -> None:
        postgres_otlp.put_otlp_receipts(self._conn, receipts)

    def put_metric_samples(self, samples: Sequence[MetricSample]) -> int:
        return postgres_otlp.put_metric_samples(self._conn, samples)

    def put_rate_limits(self, snapshots: Sequence[RateLimitSnapshot]) -> None:
        with self._conn.cursor() as cur:
            blocks_sql.put_rate_limits(cur, "%s", snapshots)

    def put_tool_calls(self, calls: Sequence[ToolCall]) -> None:
        with self._conn.cursor() as cur:
            tool_sql.put_otlp_tool_calls(cur, "%s", calls)

    def put_log_tool_calls(self, calls: Sequence[ToolCall], results: Sequence[ToolResult]) -> None:
        with self._conn.cursor() as cur:
            tool_sql.put_log_tool_calls(cur, "%s", calls, results)

    def _add_totals(
        self, where: str, params: Sequence[Any], sign: int, table: str = "events"
    ) -> None:
        """Add (``sign=1``) or take away (``-1``) the events matching ``where`` from the
        rollups, session totals and run totals, in three statements (planned for the values at
        hand: ``prepare=False``)."""
        sums = ", ".join(f"{sign} * {_PG_MEASURE_SQL[m]}" for m in MEASURES)
        rollup_add = ", ".join(f"{m} = rollups.{m} + excluded.{m}" for m in MEASURES)
        self._conn.execute(
            "INSERT INTO rollups (bucket_ms, source, model, project, machine, user_name, "
            f"{_MEASURE_LIST}) "
            f"SELECT ts_ms - ts_ms %% {BUCKET_MS}, source, COALESCE(model, ''), "
            f"COALESCE(project, ''), machine, COALESCE(user_name, ''), {sums} "
            f"FROM {table} WHERE {where} GROUP BY 1, 2, 3, 4, 5, 6 "
            "ON CONFLICT (bucket_ms, source, model, project, machine, user_name) "
            f"DO UPDATE SET {rollup_add}",
            params,
            prepare=False,
        )
        span = "MIN(ts_ms), MAX(ts_ms)" if sign > 0 else "NULL::BIGINT, NULL::BIGINT"
        session_add = ", ".join(f"{m} = session_totals.{m} + excluded.{m}" for m in MEASURES)
        self._conn.execute(
            "INSERT INTO session_totals (session_key, model, machine, user_name, first_ms, "
            f"last_ms, {_MEASURE_LIST}) "
            f"SELECT session_key, COALESCE(model, ''), machine, COALESCE(user_name, ''), {span}, "
            f"{sums} FROM {table} WHERE session_key IS NOT NULL AND ({where}) "
            "GROUP BY 1, 2, 3, 4 "
            "ON CONFLICT (session_key, model, machine, user_name) DO UPDATE SET "
            "first_ms = LEAST(session_totals.first_ms, excluded.first_ms), "
            "last_ms = GREATEST(session_totals.last_ms, excluded.last_ms), "
            f"{session_add}",
            params,
            prepare=False,
        )
        run_add = ", ".join(f"{m} = run_totals.{m} + excluded.{m}" for m in MEASURES)
        self._conn.execute(
            f"INSERT INTO run_totals (run_id, first_ms, last_ms, {_MEASURE_LIST}) "
            f"SELECT run_id, {span}, {sums} FROM {table} "
            f"WHERE run_id IS NOT NULL AND ({where}) GROUP BY 1 "
            "ON CONFLICT (run_id) DO UPDATE SET "
            "first_ms = LEAST(run_totals.first_ms, excluded.first_ms), "
            "last_ms = GREATEST(run_totals.last_ms, excluded.last_ms), "
            f"{run_add}",
            params,
            prepare=False,
        )


# -- row conversion (the SQLite store's, plus the user) ---------------------------------------


def _entry_to_pg_row(entry: Entry) -> tuple[Any, ...]:
    row = (*_entry_to_row(entry), entry.user)
    if any(_NUL in value for value in row if value.__class__ is str):
        return tuple(_no_nul(v) if v.__class__ is str else v for v in row)
    return row


def _entry_from_pg_row(row: Sequence[Any]) -> Entry:
    base = _entry_from_row(row[:-1])
    user = row[-1]
    return Entry(base.event, base.cost, user) if user is not None else base


def _by_asked_key(
    asked: Sequence[str], found: dict[str, T], rekey: Callable[[T, str], T]
) -> dict[str, T]:
    """``found`` (keyed as stored) keyed by the keys asked for: a key with a NUL character is
    stored with U+FFFD in its place (see :func:`_no_nul`), and answers under the asked key."""
    if not any(_NUL in key for key in asked):
        return found
    out: dict[str, T] = {}
    for key in asked:
        hit = found.get(_no_nul(key))
        if hit is not None:
            out[key] = hit if _no_nul(key) == key else rekey(hit, key)
    return out


# -- SQL helpers ----------------------------------------------------------------------------


def _rollup_where(filters: Filters, *extra: str) -> tuple[str, list[Any]]:
    clauses: list[str] = list(extra)
    params: list[Any] = []
    if filters.since_ms is not None:
        clauses.append("bucket_ms >= %s")
        params.append(filters.since_ms)
    if filters.until_ms is not None:
        clauses.append("bucket_ms < %s")
        params.append(filters.until_ms)
    if filters.sources:
        clauses.append("source = ANY(%s)")
        params.append(list(filters.sources))
    if filters.project:
        clauses.append("strpos(project, %s) > 0")
        params.append(filters.project)
    if filters.machines:
        clauses.append("machine = ANY(%s)")
        params.append(list(filters.machines))
    if filters.users:
        clauses.append("user_name = ANY(%s)")
        params.append(list(filters.users))
    return (f"WHERE {' AND '.join(clauses)}" if clauses else ""), params


def _session_where(filters: Filters, *extra: str) -> tuple[str, list[Any]]:
    clauses: list[str] = list(extra)
    params: list[Any] = []
    if filters.sources:
        clauses.append("s.source = ANY(%s)")
        params.append(list(filters.sources))
    if filters.project:
        clauses.append("strpos(COALESCE(s.project, ''), %s) > 0")
        params.append(filters.project)
    return (f"WHERE {' AND '.join(clauses)}" if clauses else ""), params


def _local_time_sql(column: str, segments: Sequence[OffsetSegment]) -> str:
    """``column`` shifted into local time: a CASE over the zone's offset segments, exactly as
    the SQLite store builds it. The values are integers computed by us, not user input."""
    if len(segments) == 1:
        return f"{column} + {int(segments[0].offset_ms)}"
    cases = " ".join(
        f"WHEN {column} < {int(nxt.start_ms)} THEN {column} + {int(seg.offset_ms)}"
        for seg, nxt in itertools.pairwise(segments)
    )
    return f"CASE {cases} ELSE {column} + {int(segments[-1].offset_ms)} END"
