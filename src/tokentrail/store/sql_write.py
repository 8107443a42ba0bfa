"""The writes both stores share, inside one write transaction.

:class:`SQLWrite` is the base of each engine's write transaction; the engine supplies how a
statement runs (``_rows``, ``_execute``, ``_executemany``), how new requests go in (SQLite's
rows by id, PostgreSQL's COPY), how the totals follow them (``_add_totals``) and its file
cursors.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Protocol

from tokentrail.ratelimits import RateLimitSnapshot
from tokentrail.store import blocks_sql, tool_sql
from tokentrail.store.base import Cursor, Entry, PushWatermark, retraction_json
from tokentrail.store.dialect import Dialect, Rows
from tokentrail.store.otlp_sql import OtlpWrites
from tokentrail.store.rows import (
    OPEN_SESSION,
    RUN_COLUMN_LIST,
    RUN_COLUMNS,
    SESSION_COLUMN_LIST,
    SESSION_COLUMNS,
    WATERMARK_COLUMNS,
    by_asked_key,
    entry_from_row,
    run_from_row,
    run_to_row,
    session_from_row,
    session_to_row,
    watermark_from_row,
    watermark_to_row,
)
from tokentrail.store.scope_sql import Placeholder, marks
from tokentrail.usage import Run, Session, ToolCall, ToolResult

_WATERMARK_SEQUENCES = (
    "event_id",
    "event_change",
    "session_change",
    "run_change",
    "tool_call_change",
    "tool_result_change",
    "rate_limit_change",
)
"""How far a push got, per table: a watermark only moves forward."""


def upsert(table: str, key: str, columns: Sequence[str], mark: Placeholder) -> str:
    """INSERT of ``columns``; a row whose ``key`` is taken replaces that row's other columns."""
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c != key)
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks(mark, len(columns))}) "
        f"ON CONFLICT ({key}) DO UPDATE SET {updates}"
    )


class Connection(Protocol):
    """What a write transaction needs of a DB-API connection (sqlite3's or psycopg's)."""

    def execute(self, sql: str, params: Sequence[Any], /) -> Any: ...


class SQLWrite(OtlpWrites):
    """The operations allowed inside one write transaction, in SQL both engines run."""

    dialect: Dialect
    _conn: Connection

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        rows: list[tuple[Any, ...]] = self._conn.execute(sql, params).fetchall()
        return rows

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self._conn.execute(sql, params)

    def _executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        raise NotImplementedError

    def _entry_row(self, entry: Entry) -> tuple[Any, ...]:
        """The row of ``Dialect.event_columns`` this engine stores for ``entry``."""
        raise NotImplementedError

    def _add_totals(self, where: str, params: Sequence[Any], sign: int) -> None:
        """Add (``sign=1``) or take away (``-1``) the events matching ``where`` from the
        rollups, session totals and run totals."""
        raise NotImplementedError

    def insert_entries(self, entries: Sequence[Entry]) -> None:
        raise NotImplementedError

    def put_cursors(self, cursors: Sequence[Cursor]) -> None:
        raise NotImplementedError

    # -- requests ----------------------------------------------------------------------

    def get_entries(self, keys: Sequence[str]) -> dict[str, Entry]:
        d = self.dialect
        rows = d.select_in(self._rows, f"SELECT {d.event_columns} FROM events", "event_key", keys)
        found = {row[0]: entry_from_row(row) for row in rows}
        if d.text_keeps_nul:
            return found
        return by_asked_key(
            keys, found, lambda e, key: Entry(e.event.evolve(key=key), e.cost, e.user)
        )

    def replace_entries(self, changes: Sequence[tuple[Entry, Entry]]) -> None:
        if not changes:
            return
        d = self.dialect
        rows = [self._entry_row(new) for _, new in changes]
        keys = [new.event.key for _, new in changes]
        for clause, params in d.key_lists("event_key", keys):
            self._add_totals(clause, params, sign=-1)
        # each changed request gets the next change sequence, so a push sends it again
        ((last_seq,),) = self._rows(
            "SELECT COALESCE(MAX(changed_seq), 0) FROM events WHERE changed_seq IS NOT NULL"
        )
        columns = [c.strip() for c in d.event_columns.split(",")][1:]
        assignments = ", ".join(f"{c} = {d.mark}" for c in columns)
        self._executemany(
            f"UPDATE events SET {assignments}, changed_seq = {d.mark} WHERE event_key = {d.mark}",
            [
                (*row[1:], last_seq + index, key)
                for index, (row, key) in enumerate(zip(rows, keys, strict=True), start=1)
            ],
        )
        for clause, params in d.key_lists("event_key", keys):
            self._add_totals(clause, params, sign=1)
        # an entry that moved to another session, model or bucket may leave empty rows
        self._drop_empty_totals()

    def _drop_empty_totals(self) -> None:
        for table in self.dialect.totals_tables:
            self._execute(f"DELETE FROM {table} WHERE requests = 0")

    def has_retractions(self) -> bool:
        return bool(self._rows("SELECT 1 FROM retractions LIMIT 1"))

    def retracted_keys(self, keys: Sequence[str]) -> set[str]:
        if not keys or not self.has_retractions():
            return set()  # the usual case, answered without looking up every key of a sync
        select = "SELECT event_key FROM retractions"
        return {row[0] for row in self.dialect.select_in(self._rows, select, "event_key", keys)}

    def retract_entries(self, keys: Sequence[str], reason: str, at_ms: int) -> list[str]:
        d = self.dialect
        rows = d.select_in(self._rows, f"SELECT {d.event_columns} FROM events", "event_key", keys)
        if not rows:
            return []
        found = [row[0] for row in rows]
        for clause, params in d.key_lists("event_key", found):
            self._add_totals(clause, params, sign=-1)
        columns = [c.strip() for c in d.event_columns.split(",")]
        self._executemany(
            "INSERT INTO retractions (event_key, retracted_ms, reason, event) "
            f"VALUES ({marks(d.mark, 4)})",
            [(row[0], at_ms, reason, retraction_json(columns, row)) for row in rows],
        )
        for clause, params in d.key_lists("event_key", found):
            self._execute(f"DELETE FROM events WHERE {clause}", params)
        self._drop_empty_totals()
        return found

    # -- sessions and runs -------------------------------------------------------------

    def get_sessions(self, keys: Sequence[str]) -> dict[str, Session]:
        return sessions_by_key(self.dialect, self._rows, keys)

    def put_sessions(self, sessions: Sequence[Session]) -> None:
        rows = [session_to_row(s) for s in sessions]
        self._put_changed("sessions", SESSION_COLUMN_LIST, rows)

    def get_runs(self, run_ids: Sequence[str]) -> dict[str, Run]:
        return runs_by_key(self.dialect, self._rows, run_ids)

    def put_runs(self, runs: Sequence[Run]) -> None:
        self._put_changed("runs", RUN_COLUMN_LIST, [run_to_row(run) for run in runs])

    def _put_changed(self, table: str, columns: list[str], rows: list[tuple[Any, ...]]) -> None:
        """Write rows keyed by their first column; each gets the next change sequence of
        ``table``, so a push sends it again."""
        if not rows:
            return
        d = self.dialect
        key = columns[0]
        ((last_seq,),) = self._rows(
            f"SELECT COALESCE(MAX(change_seq), 0) FROM {d.change_source(table)}"
        )
        seqs = range(last_seq + 1, last_seq + 1 + len(rows))
        changes = d.change_tables.get(table)
        if changes is None:
            self._executemany(
                upsert(table, key, [*columns, "change_seq"], d.mark),
                [(*row, seq) for row, seq in zip(rows, seqs, strict=True)],
            )
            return
        self._executemany(upsert(table, key, columns, d.mark), rows)
        self._executemany(
            upsert(changes, key, [key, "change_seq"], d.mark),
            [(row[0], seq) for row, seq in zip(rows, seqs, strict=True)],
        )

    def running_runs(self, app: str) -> list[Run]:
        rows = self._rows(
            f"SELECT {RUN_COLUMNS} FROM runs WHERE app = {self.dialect.mark} AND state = 'running'",
            (app,),
        )
        return [run_from_row(row) for row in rows]

    def last_event_ms(self, run_id: str) -> int | None:
        rows = self._rows(
            f"SELECT last_ms FROM run_totals WHERE run_id = {self.dialect.mark}", (run_id,)
        )
        return int(rows[0][0]) if rows and rows[0][0] is not None else None

    def open_sessions_of_run(self, run_id: str) -> list[tuple[Session, int | None]]:
        rows = self._rows(
            f"SELECT {SESSION_COLUMNS}, (SELECT MAX(t.last_ms) FROM session_totals t "
            "WHERE t.session_key = sessions.session_key) FROM sessions "
            f"WHERE run_id = {self.dialect.mark} AND ({OPEN_SESSION})",
            (run_id,),
        )
        width = len(SESSION_COLUMN_LIST)
        return [
            (session_from_row(row[:width]), int(row[width]) if row[width] is not None else None)
            for row in rows
        ]

    # -- team mode -----------------------------------------------------------------------

    def ledger_id(self) -> str:
        """The ledger's id, made on first use."""
        import uuid  # which imports platform: only a push pays for it

        self._execute(
            f"INSERT INTO meta (key, value) VALUES ('ledger_id', {self.dialect.mark}) "
            "ON CONFLICT (key) DO NOTHING",
            (uuid.uuid4().hex,),
        )
        ((value,),) = self._rows("SELECT value FROM meta WHERE key = 'ledger_id'")
        return str(value)

    def get_push_watermark(self, machine: str, ledger_id: str) -> PushWatermark:
        return get_watermark(self.dialect, self._rows, machine, ledger_id)

    def put_push_watermark(self, mark: PushWatermark) -> None:
        d = self.dialect
        moves = ", ".join(
            f"{c} = {d.greatest}(push_watermarks.{c}, excluded.{c})" for c in _WATERMARK_SEQUENCES
        )
        columns = WATERMARK_COLUMNS.split(", ")
        self._execute(
            f"INSERT INTO push_watermarks ({WATERMARK_COLUMNS}) "
            f"VALUES ({marks(d.mark, len(columns))}) "
            f"ON CONFLICT (machine, ledger_id) DO UPDATE SET {moves}, "
            "user_name = excluded.user_name, pushed_ms = excluded.pushed_ms",
            watermark_to_row(mark),
        )

    # -- rate limits and tool calls --------------------------------------------------------

    def put_rate_limits(self, snapshots: Sequence[RateLimitSnapshot]) -> None:
        blocks_sql.put_rate_limits(self._executemany, self.dialect.mark, snapshots)

    def put_tool_calls(self, calls: Sequence[ToolCall]) -> None:
        tool_sql.put_otlp_tool_calls(self._executemany, self.dialect.mark, calls)

    def put_log_tool_calls(self, calls: Sequence[ToolCall], results: Sequence[ToolResult]) -> None:
        tool_sql.put_log_tool_calls(self._executemany, self.dialect.mark, calls, results)


# -- shared by reads and writes ------------------------------------------------------------


def sessions_by_key(d: Dialect, rows: Rows, keys: Sequence[str]) -> dict[str, Session]:
    found_rows = d.select_in(rows, f"SELECT {SESSION_COLUMNS} FROM sessions", "session_key", keys)
    found = {row[0]: session_from_row(row) for row in found_rows}
    if d.text_keeps_nul:
        return found
    return by_asked_key(keys, found, lambda s, key: replace(s, key=key))


def runs_by_key(d: Dialect, rows: Rows, run_ids: Sequence[str]) -> dict[str, Run]:
    found_rows = d.select_in(rows, f"SELECT {RUN_COLUMNS} FROM runs", "run_id", run_ids)
    found = {row[0]: run_from_row(row) for row in found_rows}
    if d.text_keeps_nul:
        return found
    return by_asked_key(run_ids, found, lambda r, key: replace(r, run_id=key))


def get_watermark(d: Dialect, rows: Rows, machine: str, ledger_id: str) -> PushWatermark:
    found = rows(
        f"SELECT {WATERMARK_COLUMNS} FROM push_watermarks "
        f"WHERE machine = {d.mark} AND ledger_id = {d.mark}",
        (machine, ledger_id),
    )
    return watermark_from_row(found[0]) if found else PushWatermark(machine, ledger_id)
