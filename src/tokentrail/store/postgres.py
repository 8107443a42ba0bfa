"""The team store: one ledger for many machines in PostgreSQL (psycopg 3, a connection pool).

It runs the SQL both stores share (:mod:`tokentrail.store.sql_reads`,
:mod:`tokentrail.store.sql_write`) in PostgreSQL's dialect; what is here is its own:

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

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg.abc import Buffer
from psycopg.types.string import StrDumperUnknown
from psycopg_pool import ConnectionPool, PoolTimeout

from tokentrail.errors import LedgerTooNew, StoreError
from tokentrail.store import day_rollups, lifetime_rollups, postgres_dashboard
from tokentrail.store.base import (
    BUCKET_MS,
    MEASURES,
    Cursor,
    Entry,
    Filters,
    newer_schema_error,
)
from tokentrail.store.dialect import POSTGRES
from tokentrail.store.postgres_migrations import POSTGRES_MIGRATIONS
from tokentrail.store.rows import NUL, cursor_from_row, cursor_to_row, entry_to_row, no_nul
from tokentrail.store.scope_sql import marks
from tokentrail.store.sql_reads import SQLReads
from tokentrail.store.sql_write import SQLWrite

URL_SCHEMES = ("postgresql://", "postgres://")

_WRITE_LOCK = 0x746F6B656E747231  # "tokentr1": one writer at a time, for the transaction
_MIGRATE_LOCK = 0x746F6B656E747232  # "tokentr2": one process migrates at a time
_CONNECT_TIMEOUT_S = 15
_STAGING = "tokentrail_incoming"
"""A temporary table (one per connection) that new events are COPYed into first."""
_POOL_SIZE = 4

_CURSOR_COLUMNS = (
    "path, source, device, inode, size, mtime_ns, byte_offset, line_no, parser_version, "
    "head_hash, memory"
)
_PG_MEASURE_SQL = POSTGRES.measure_sql
""":data:`MEASURE_SQL` in PostgreSQL: the same definitions (one rounding rule spelled out)."""
_MEASURE_LIST = ", ".join(MEASURES)

_COPY_TYPES = (
    ["text"] * 5
    + ["int8", "text", "text"]
    + ["int8"] * 6
    + ["text", "int8", "text", "float8", "text", "text", "text", "text", "bytea", "int8", "int8"]
    + ["text"]
)
"""The types of ``POSTGRES.event_columns``, for a binary COPY."""


class _NulFreeStr(StrDumperUnknown):
    """Query parameters: text as psycopg sends it, with NUL characters replaced."""

    def dump(self, obj: str) -> Buffer | None:
        return super().dump(no_nul(obj))


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


class PostgresStore(SQLReads):
    """A ledger in a PostgreSQL database, shared by many machines."""

    dialect = POSTGRES

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

    def expect_bulk_writes(self) -> None:
        """Nothing to set: the server's checkpoints are its own."""

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
                    conn.execute(sql)  # no parameters: the whole script in one round trip
                    conn.execute("INSERT INTO _migrations (name) VALUES (%s)", (name,))
            except psycopg.errors.InsufficientPrivilege as exc:
                raise StoreError(
                    f"the team ledger {self.location} needs migration {name}, which this role "
                    f"may not apply ({self._clean(exc)}); open it once as the owner role "
                    "(see docs/team.md)"
                ) from None

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

    def _rows(
        self, sql: str, params: Sequence[Any] = (), *, prepare: bool | None = None
    ) -> list[tuple[Any, ...]]:
        with self._connection() as conn:
            return conn.execute(sql, params, prepare=prepare).fetchall()

    def cursors(self, paths: Sequence[str] | None = None) -> dict[str, Cursor]:
        query = f"SELECT {_CURSOR_COLUMNS} FROM cursors WHERE machine = %s"
        if paths is None:
            rows = self._rows(query, (self.machine,))
        else:
            rows = self._rows(f"{query} AND path = ANY(%s)", (self.machine, list(paths)))
        return {row[0]: cursor_from_row(row) for row in rows}

    def _session_totals_from(self, filters: Filters) -> tuple[str, list[Any], list[str], list[Any]]:
        # team ledgers keep session totals per machine and user
        clauses: list[str] = []
        params: list[Any] = []
        for column, values in (("t.machine", filters.machines), ("t.user_name", filters.users)):
            if values:
                clause, more = POSTGRES.in_list(column, values)
                clauses.append(clause)
                params.extend(more)
        return "session_totals", [], clauses, params

    def _size_bytes(self) -> int | None:
        try:
            return int(self._rows("SELECT pg_database_size(current_database())")[0][0])
        except StoreError:
            return None  # the role may not see the database's size; everything else is known

    def backup(self, destination: Path) -> None:
        raise StoreError(
            f"{self.location} is a PostgreSQL team ledger: back it up with the server's own "
            f"tools, e.g. pg_dump --format=custom --file={destination} <database URL>"
        )

    def _session_views(self) -> postgres_dashboard.RolledUp:
        """Sessions rolled up in SQL (see :mod:`tokentrail.store.postgres_dashboard`)."""
        return postgres_dashboard.ROLLED_UP

    def _keep_offset(self, offset_ms: int) -> bool:
        if self._too_new is not None:
            return False
        try:
            with self._connection() as conn, conn.transaction():
                # only if no writer holds the ledger: a report never queues behind a push
                found = conn.execute("SELECT pg_try_advisory_xact_lock(%s)", (_WRITE_LOCK,))
                free = bool(found.fetchone()[0])  # type: ignore[index]
                if free:
                    day_rollups.keep_offset(conn.execute, offset_ms, user=True)
                return free
        except StoreError:
            return False  # a reader role: the fine rollups answer

    def report_marker(self) -> str | None:
        return None  # see tokentrail.store.report_cache: computed each time

    def cached_report(self, key: str) -> str | None:
        return None

    def keep_report(self, key: str, marker: str, body: str) -> bool:
        return False

    def walk_record(self) -> bytes | None:
        return None  # the quick answer of a sync reads SQLite ledgers only

    def keep_walk_record(self, record: bytes | None) -> None:
        return None


class _PostgresWrite(SQLWrite):
    """The operations allowed inside one write transaction (the advisory lock is held)."""

    dialect = POSTGRES

    _conn: psycopg.Connection[Any]

    def __init__(self, conn: psycopg.Connection[Any], machine: str) -> None:
        self._conn = conn
        self._machine = machine

    def _executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        with self._conn.cursor() as cur:
            cur.executemany(sql, rows)

    def _entry_row(self, entry: Entry) -> tuple[Any, ...]:
        row = (*entry_to_row(entry), entry.user)
        if any(NUL in value for value in row if value.__class__ is str):
            return tuple(no_nul(v) if v.__class__ is str else v for v in row)
        return row

    def insert_entries(self, entries: Sequence[Entry]) -> None:
        """COPY the rows into a staging table, append them to ``events``, and add them to the
        totals from the staging table: its few rows, not a range of a large table whose
        statistics may lag behind a bulk load (the planner would scan all of it)."""
        if not entries:
            return
        columns = POSTGRES.event_columns
        self._conn.execute(
            f"CREATE TEMPORARY TABLE IF NOT EXISTS {_STAGING} ON COMMIT DELETE ROWS AS "
            f"SELECT {columns} FROM events WITH NO DATA"
        )
        with (
            self._conn.cursor() as cur,
            cur.copy(f"COPY {_STAGING} ({columns}) FROM STDIN (FORMAT BINARY)") as copy,
        ):
            copy.set_types(_COPY_TYPES)
            for entry in entries:
                copy.write_row(self._entry_row(entry))
        self._conn.execute(f"INSERT INTO events ({columns}) SELECT {columns} FROM {_STAGING}")
        self._add_totals("TRUE", [], sign=1, table=_STAGING)
        self._conn.execute(f"TRUNCATE {_STAGING}")

    def put_cursors(self, cursors: Sequence[Cursor]) -> None:
        if not cursors:
            return
        columns = [c.strip() for c in _CURSOR_COLUMNS.split(",")]
        updates = ", ".join(f"{c} = excluded.{c}" for c in columns[1:])
        self._executemany(
            f"INSERT INTO cursors (machine, {_CURSOR_COLUMNS}) "
            f"VALUES ({marks('%s', len(columns) + 1)}) "
            f"ON CONFLICT (machine, path) DO UPDATE SET {updates}",
            [(self._machine, *cursor_to_row(c)) for c in cursors],
        )

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
        day_add = ", ".join(f"{m} = rollups_daily.{m} + excluded.{m}" for m in MEASURES)
        self._conn.execute(  # per local day of each UTC offset kept (see store.day_rollups)
            day_rollups.add_sql(table, where, sums, day_add, user=True), params, prepare=False
        )
        lifetime = lifetime_rollups.TABLE
        lifetime_keys = lifetime_rollups.keys(user=True)
        lifetime_add = ", ".join(f"{m} = {lifetime}.{m} + excluded.{m}" for m in MEASURES)
        self._conn.execute(  # the same sums over all time (see store.lifetime_rollups)
            f"INSERT INTO {lifetime} ({lifetime_keys}, {_MEASURE_LIST}) "
            f"SELECT source, COALESCE(model, ''), COALESCE(project, ''), machine, "
            f"COALESCE(user_name, ''), {sums} FROM {table} WHERE {where} GROUP BY 1, 2, 3, 4, 5 "
            f"ON CONFLICT ({lifetime_keys}) DO UPDATE SET {lifetime_add}",
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
