"""What `tokentrail push` reads of tool calls, tool results and rate-limit snapshots, shared by
the SQLite and PostgreSQL stores: the rows written after a change sequence, in its order.

Every write of these tables gives the row the next change sequence of its table
(:func:`tokentrail.store.tool_sql.next_change`; migrations ``0009_push_tool_rows`` and
``0005_push_tool_rows``). The statements are standard SQL; only the placeholder differs.
"""

from __future__ import annotations

from typing import Any

from tokentrail.ratelimits import RateLimitSnapshot
from tokentrail.store.blocks_sql import SNAPSHOT_COLUMNS, snapshot_from_row
from tokentrail.store.dialect import Rows
from tokentrail.store.scope_sql import Placeholder
from tokentrail.usage import ToolCall, ToolResult

_CALL_COLUMNS = (
    "change_seq, call_key, source, session_key, tool_name, ts_ms, duration_ms, success, "
    "machine, origin, model, lines_added, lines_removed"
)
_RESULT_COLUMNS = "change_seq, call_key, source, session_key, ts_ms, success, machine"


def _changed(
    rows: Rows, mark: Placeholder, table: str, columns: str, after_seq: int, limit: int
) -> list[tuple[Any, ...]]:
    return rows(
        f"SELECT {columns} FROM {table} WHERE change_seq > {mark} ORDER BY change_seq LIMIT {mark}",
        (after_seq, limit),
    )


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


def _bool(value: Any) -> bool | None:
    return None if value is None else bool(value)


def tool_calls_changed_after(
    rows: Rows, mark: Placeholder, after_seq: int, limit: int
) -> list[tuple[int, ToolCall]]:
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
        for row in _changed(rows, mark, "tool_calls", _CALL_COLUMNS, after_seq, limit)
    ]


def tool_results_changed_after(
    rows: Rows, mark: Placeholder, after_seq: int, limit: int
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
        for row in _changed(rows, mark, "tool_results", _RESULT_COLUMNS, after_seq, limit)
    ]


def rate_limits_changed_after(
    rows: Rows, mark: Placeholder, after_seq: int, limit: int
) -> list[tuple[int, RateLimitSnapshot]]:
    columns = f"change_seq, {SNAPSHOT_COLUMNS}"
    return [
        (int(row[0]), snapshot_from_row(row[1:]))
        for row in _changed(rows, mark, "rate_limits", columns, after_seq, limit)
    ]
