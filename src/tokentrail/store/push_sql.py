"""What `tokentrail push` reads, shared by the SQLite and PostgreSQL stores: the ledger's
entries by id or change sequence, the sessions, runs, tool calls, tool results and rate-limit
snapshots written after a change sequence, in its order, and the push watermarks.

Every write of the tool and rate-limit tables gives the row the next change sequence of its
table (:func:`tokentrail.store.tool_sql.next_change`; migrations ``0009_push_tool_rows`` and
``0005_push_tool_rows``); sessions and runs keep theirs as the dialect says
(:meth:`~tokentrail.store.dialect.Dialect.changes`). The statements are standard SQL; only
the placeholder differs.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from tokentrail.ratelimits import RateLimitSnapshot
from tokentrail.store.base import Entry, PushWatermark
from tokentrail.store.blocks_sql import SNAPSHOT_COLUMNS, snapshot_from_row
from tokentrail.store.dialect import Dialect
from tokentrail.store.rows import (
    RUN_COLUMN_LIST,
    SESSION_COLUMN_LIST,
    WATERMARK_COLUMNS,
    entry_from_row,
    prefixed,
    run_from_row,
    session_from_row,
    watermark_from_row,
)
from tokentrail.store.sql_write import get_watermark
from tokentrail.usage import Run, Session, ToolCall, ToolResult

_CALL_COLUMNS = (
    "change_seq, call_key, source, session_key, tool_name, ts_ms, duration_ms, success, "
    "machine, origin, model, lines_added, lines_removed"
)
_RESULT_COLUMNS = "change_seq, call_key, source, session_key, ts_ms, success, machine"


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _bool(value: Any) -> bool | None:
    return None if value is None else bool(value)


class PushReads:
    """The change feeds a push sends on, in SQL both engines run."""

    dialect: Dialect

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def iter_entries(self, batch_size: int = 5000) -> Iterator[list[Entry]]:
        last_id = 0
        while True:
            batch = self.entries_after(last_id, batch_size)
            if not batch:
                return
            last_id = batch[-1][0]
            yield [entry for _, entry in batch]

    def _entries_by(self, seq: str, after: int, limit: int) -> list[tuple[int, Entry]]:
        d = self.dialect
        rows = self._rows(
            f"SELECT {seq}, {d.event_columns} FROM events WHERE {seq} > {d.mark} "
            f"ORDER BY {seq} LIMIT {d.mark}",
            (after, limit),
        )
        return [(row[0], entry_from_row(row[1:])) for row in rows]

    def entries_after(self, after_id: int, limit: int) -> list[tuple[int, Entry]]:
        return self._entries_by("id", after_id, limit)

    def entries_changed_after(self, after_seq: int, limit: int) -> list[tuple[int, Entry]]:
        return self._entries_by("changed_seq", after_seq, limit)

    def _changed(
        self, table: str, alias: str, key: str, columns: Sequence[str], after: int, limit: int
    ) -> list[tuple[Any, ...]]:
        mark = self.dialect.mark
        source, seq = self.dialect.changes(table, alias, key)
        return self._rows(
            f"SELECT {seq}, {prefixed(columns, alias)} FROM {source} WHERE {seq} > {mark} "
            f"ORDER BY {seq} LIMIT {mark}",
            (after, limit),
        )

    def _changed_rows(
        self, table: str, columns: str, after_seq: int, limit: int
    ) -> list[tuple[Any, ...]]:
        """Rows of a table that keeps its own ``change_seq`` column."""
        mark = self.dialect.mark
        return self._rows(
            f"SELECT {columns} FROM {table} WHERE change_seq > {mark} "
            f"ORDER BY change_seq LIMIT {mark}",
            (after_seq, limit),
        )

    def sessions_changed_after(self, after_seq: int, limit: int) -> list[tuple[int, Session]]:
        rows = self._changed("sessions", "s", "session_key", SESSION_COLUMN_LIST, after_seq, limit)
        return [(row[0], session_from_row(row[1:])) for row in rows]

    def runs_changed_after(self, after_seq: int, limit: int) -> list[tuple[int, Run]]:
        rows = self._changed("runs", "r", "run_id", RUN_COLUMN_LIST, after_seq, limit)
        return [(row[0], run_from_row(row[1:])) for row in rows]

    def tool_calls_changed_after(self, after_seq: int, limit: int) -> list[tuple[int, ToolCall]]:
        return [
            (
                int(row[0]),
                ToolCall(
                    key=row[1],
                    source=row[2],
                    session_key=row[3],
                    tool_name=row[4],
                    timestamp_ms=int(row[5]),
                    duration_ms=_int(row[6]),
                    success=_bool(row[7]),
                    machine=row[8] or None,
                    from_log=row[9] == "log",
                    model=row[10],
                    lines_added=_int(row[11]),
                    lines_removed=_int(row[12]),
                ),
            )
            for row in self._changed_rows("tool_calls", _CALL_COLUMNS, after_seq, limit)
        ]

    def tool_results_changed_after(
        self, after_seq: int, limit: int
    ) -> list[tuple[int, ToolResult]]:
        return [
            (
                int(row[0]),
                ToolResult(
                    key=row[1],
                    source=row[2],
                    session_key=row[3],
                    timestamp_ms=int(row[4]),
                    success=_bool(row[5]),
                    machine=row[6] or None,
                ),
            )
            for row in self._changed_rows("tool_results", _RESULT_COLUMNS, after_seq, limit)
        ]

    def rate_limits_changed_after(
        self, after_seq: int, limit: int
    ) -> list[tuple[int, RateLimitSnapshot]]:
        columns = f"change_seq, {SNAPSHOT_COLUMNS}"
        return [
            (int(row[0]), snapshot_from_row(row[1:]))
            for row in self._changed_rows("rate_limits", columns, after_seq, limit)
        ]

    def push_watermark(self, machine: str, ledger_id: str) -> PushWatermark:
        return get_watermark(self.dialect, self._rows, machine, ledger_id)

    def push_watermarks(self) -> list[PushWatermark]:
        rows = self._rows(
            f"SELECT {WATERMARK_COLUMNS} FROM push_watermarks ORDER BY machine, ledger_id"
        )
        return [watermark_from_row(row) for row in rows]
