"""SQL for tool calls read from log files, shared by the SQLite and PostgreSQL stores.

A call and its result are written as they are read (a sync may see the call and a later sync
its result), each keyed by the call's id, and joined when read. The statements are standard
SQL; only the placeholder differs (``?`` for SQLite, ``%s`` for psycopg).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from tokentrail.store.base import Filters
from tokentrail.store.dialect import Executemany, Rows
from tokentrail.store.scope_sql import Placeholder, contains, marks, scope_clauses
from tokentrail.usage import ToolCall, ToolResult

if TYPE_CHECKING:  # the rows are created on first use (see tokentrail.store.base)
    from tokentrail.store.records import ToolCallRow


def next_change(table: str) -> str:
    """SQL for the change sequence of a row written to ``table`` (tool_calls, tool_results,
    rate_limits): one more than the largest, so `tokentrail push` finds what was written since
    it last ran. Writes are serialised (SQLite's write lock, PostgreSQL's advisory lock), so
    the sequence grows in commit order; each row of an executemany sees the rows before it."""
    return f"(SELECT COALESCE(MAX(change_seq), 0) + 1 FROM {table})"


_OTLP_COLUMNS = ("source", "session_key", "tool_name", "ts_ms", "duration_ms", "success", "machine")


def _call_values(c: ToolCall) -> tuple[object, ...]:
    """What every writer stores of a call: its key, then :data:`_OTLP_COLUMNS`."""
    success = None if c.success is None else int(c.success)
    return (
        c.key,
        c.source,
        c.session_key,
        c.tool_name,
        c.timestamp_ms,
        c.duration_ms,
        success,
        c.machine or "",
    )


def put_otlp_tool_calls(
    executemany: Executemany, mark: Placeholder, calls: Sequence[ToolCall]
) -> None:
    """Tool calls an OpenTelemetry exporter reported; a call sent again replaces its row (an
    exporter's retry, or an update of the same call)."""
    if not calls:
        return
    updates = ", ".join(f"{c} = excluded.{c}" for c in _OTLP_COLUMNS)
    executemany(
        f"INSERT INTO tool_calls (call_key, {', '.join(_OTLP_COLUMNS)}, change_seq) "
        f"VALUES ({marks(mark, 8)}, {next_change('tool_calls')}) "
        f"ON CONFLICT (call_key) DO UPDATE SET {updates}, change_seq = excluded.change_seq",
        [_call_values(c) for c in calls],
    )


def put_log_tool_calls(
    executemany: Executemany,
    mark: Placeholder,
    calls: Sequence[ToolCall],
    results: Sequence[ToolResult],
) -> None:
    """Insert calls and results; a key already recorded keeps its first row (replays of a
    resumed or forked session carry the same call ids and change nothing), except that a
    call's missing outcome is filled in from a later copy that has it."""
    if calls:
        executemany(
            "INSERT INTO tool_calls (call_key, source, session_key, tool_name, ts_ms, "
            "duration_ms, success, machine, origin, model, lines_added, lines_removed, "
            f"change_seq) VALUES ({marks(mark, 12)}, {next_change('tool_calls')}) "
            # a copy read again (a resumed session's replay) fills in an outcome the first
            # copy lacked, and nothing else
            "ON CONFLICT (call_key) DO UPDATE SET "
            # the copy's duration runs from its own time: the result's time less the stored
            # call's (a replay may be stamped apart from the call it copies)
            "duration_ms = COALESCE(tool_calls.duration_ms, CASE WHEN excluded.ts_ms "
            "+ excluded.duration_ms > tool_calls.ts_ms THEN excluded.ts_ms "
            "+ excluded.duration_ms - tool_calls.ts_ms END), "
            "success = COALESCE(tool_calls.success, excluded.success), "
            "change_seq = excluded.change_seq "
            "WHERE (tool_calls.duration_ms IS NULL AND excluded.duration_ms IS NOT NULL) "
            "OR (tool_calls.success IS NULL AND excluded.success IS NOT NULL)",
            sorted(  # in key order, for the key index (see SQLiteStore.insert_entries)
                (
                    *_call_values(c),
                    "log" if c.from_log else "otlp",
                    c.model,
                    c.lines_added,
                    c.lines_removed,
                )
                for c in calls
            ),
        )
    if results:
        executemany(
            "INSERT INTO tool_results (call_key, source, session_key, ts_ms, success, machine, "
            f"change_seq) VALUES ({marks(mark, 6)}, {next_change('tool_results')}) "
            "ON CONFLICT (call_key) DO NOTHING",
            [
                (
                    r.key,
                    r.source,
                    r.session_key,
                    r.timestamp_ms,
                    None if r.success is None else int(r.success),
                    r.machine or "",
                )
                for r in results
            ],
        )


def tool_call_rows(
    rows: Rows, mark: Placeholder, filters: Filters, session_keys: Sequence[str] = ()
) -> list[ToolCallRow]:
    """Calls with their results joined (see :meth:`tokentrail.store.base.Store.tool_call_rows`)."""
    # tool calls are never attributed to a user; their project is their session's
    clauses, params = scope_clauses(
        filters._replace(project=None), mark, ts="c.ts_ms", source="c.source", machine="c.machine"
    )
    # OTLP copies only for sessions whose log file shows no calls: one call, counted once
    clauses.append(
        "(c.origin = 'log' OR c.session_key IS NULL OR NOT EXISTS (SELECT 1 FROM tool_calls l "
        "WHERE l.origin = 'log' AND l.session_key = c.session_key))"
    )
    if session_keys:
        clauses.append(f"c.session_key IN ({marks(mark, len(session_keys))})")
        params.extend(session_keys)
    if filters.project:
        clauses.append(
            "EXISTS (SELECT 1 FROM sessions s WHERE s.session_key = c.session_key "
            f"AND {contains(mark, 's.project')})"
        )
        params.append(filters.project)
    sql = (
        "SELECT c.source, c.session_key, c.tool_name, c.ts_ms, "
        "COALESCE(c.duration_ms, CASE WHEN r.ts_ms > c.ts_ms THEN r.ts_ms - c.ts_ms END), "
        "COALESCE(c.success, r.success), c.lines_added, c.lines_removed, c.model "
        "FROM tool_calls c LEFT JOIN tool_results r ON r.call_key = c.call_key "
        f"WHERE {' AND '.join(clauses)} ORDER BY c.ts_ms, c.call_key"
    )
    from tokentrail.store.records import ToolCallRow

    return [
        ToolCallRow(
            source=row[0],
            session_key=row[1],
            tool_name=row[2],
            timestamp_ms=int(row[3]),
            duration_ms=None if row[4] is None else int(row[4]),
            success=None if row[5] is None else bool(row[5]),
            lines_added=None if row[6] is None else int(row[6]),
            lines_removed=None if row[7] is None else int(row[7]),
            model=row[8],
        )
        for row in rows(sql, params)
    ]
