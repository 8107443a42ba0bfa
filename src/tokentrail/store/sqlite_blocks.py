"""SQL of the 5-hour blocks for the SQLite store: per-minute usage from the raw requests of a
bounded time range, and the official rate-limit snapshots (migration ``0007_rate_limits``).

:class:`tokentrail.store.sqlite.SQLiteStore` and its write transaction delegate here.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from tokentrail.ratelimits import RateLimitSnapshot
from tokentrail.store.base import MEASURE_SQL, MEASURES, Filters, MinuteRow, Totals
from tokentrail.store.scope_sql import scope_where
from tokentrail.store.tool_sql import next_change

_MEASURES = ", ".join(MEASURE_SQL[m] for m in MEASURES)
_SNAPSHOT_COLUMNS = (
    "source, limit_window, observed_ms, used_percent, window_minutes, resets_at_ms, "
    "session_key, machine"
)


def put_rate_limits(conn: sqlite3.Connection, snapshots: Sequence[RateLimitSnapshot]) -> None:
    if not snapshots:
        return
    conn.executemany(
        f"INSERT OR IGNORE INTO rate_limits ({_SNAPSHOT_COLUMNS}, change_seq) "
        f"VALUES (?, ?, ?, ?, ?, ?, ?, ?, {next_change('rate_limits')})",
        [_snapshot_row(s) for s in snapshots],
    )


def minute_totals(conn: sqlite3.Connection, filters: Filters) -> list[MinuteRow]:
    where, params = scope_where(filters, "?", ts="ts_ms", project="project")
    rows = conn.execute(
        f"SELECT ts_ms / 60000, model, MIN(ts_ms), MAX(ts_ms), {_MEASURES} FROM events "
        f"{where} GROUP BY 1, 2 ORDER BY 1, 2",
        params,
    )
    return [
        MinuteRow(
            minute=row[0], model=row[1], first_ms=row[2], last_ms=row[3], totals=Totals(row[4:])
        )
        for row in rows
    ]


def rate_limits(conn: sqlite3.Connection, filters: Filters) -> list[RateLimitSnapshot]:
    where, params = scope_where(filters, "?", ts="observed_ms")
    rows = conn.execute(
        f"SELECT {_SNAPSHOT_COLUMNS} FROM rate_limits {where} "
        "ORDER BY observed_ms, source, limit_window, machine",
        params,
    )
    return [snapshot_from_row(row) for row in rows]


def _snapshot_row(s: RateLimitSnapshot) -> tuple[Any, ...]:
    return (
        s.source,
        s.window,
        s.observed_ms,
        s.used_percent,
        s.window_minutes,
        s.resets_at_ms,
        s.session_key,
        s.machine or "",
    )


def snapshot_from_row(row: Sequence[Any]) -> RateLimitSnapshot:
    return RateLimitSnapshot(
        source=row[0],
        window=row[1],
        observed_ms=int(row[2]),
        used_percent=float(row[3]),
        window_minutes=None if row[4] is None else int(row[4]),
        resets_at_ms=None if row[5] is None else int(row[5]),
        session_key=row[6],
        machine=row[7] or None,
    )
