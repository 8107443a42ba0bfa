"""SQL of the 5-hour blocks for the PostgreSQL store (see :mod:`.sqlite_blocks`; migration
``0003_rate_limits``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg

from tokentrail.ratelimits import RateLimitSnapshot
from tokentrail.store.base import MEASURES, Filters, MinuteRow, Totals
from tokentrail.store.scope_sql import scope_where
from tokentrail.store.sqlite_blocks import snapshot_from_row
from tokentrail.store.tool_sql import next_change

Conn = psycopg.Connection[Any]

_SNAPSHOT_COLUMNS = (
    "source, limit_window, observed_ms, used_percent, window_minutes, resets_at_ms, "
    "session_key, machine"
)


def _measures() -> str:
    from tokentrail.store.postgres import _PG_MEASURE_SQL

    return ", ".join(f"CAST({_PG_MEASURE_SQL[m]} AS BIGINT)" for m in MEASURES)


def put_rate_limits(conn: Conn, snapshots: Sequence[RateLimitSnapshot]) -> None:
    if not snapshots:
        return
    with conn.cursor() as cur:
        cur.executemany(
            f"INSERT INTO rate_limits ({_SNAPSHOT_COLUMNS}, change_seq) "
            f"VALUES (%s, %s, %s, %s, %s, %s, %s, %s, {next_change('rate_limits')}) "
            "ON CONFLICT DO NOTHING",
            [
                (
                    s.source,
                    s.window,
                    s.observed_ms,
                    s.used_percent,
                    s.window_minutes,
                    s.resets_at_ms,
                    s.session_key,
                    s.machine or "",
                )
                for s in snapshots
            ],
        )


def minute_totals(conn: Conn, filters: Filters) -> list[MinuteRow]:
    where, params = scope_where(filters, "%s", ts="ts_ms", project="project", user="user_name")
    rows = conn.execute(
        f"SELECT ts_ms / 60000, model, MIN(ts_ms), MAX(ts_ms), {_measures()} FROM events "
        f"{where} GROUP BY 1, 2 ORDER BY 1, 2",
        params,
        prepare=False,
    ).fetchall()
    return [
        MinuteRow(
            minute=int(row[0]),
            model=row[1],
            first_ms=int(row[2]),
            last_ms=int(row[3]),
            totals=Totals(tuple(int(v or 0) for v in row[4:])),
        )
        for row in rows
    ]


def rate_limits(conn: Conn, filters: Filters) -> list[RateLimitSnapshot]:
    where, params = scope_where(filters, "%s", ts="observed_ms")
    rows = conn.execute(
        f"SELECT {_SNAPSHOT_COLUMNS} FROM rate_limits {where} "
        "ORDER BY observed_ms, source, limit_window, machine",
        params,
    ).fetchall()
    return [snapshot_from_row(row) for row in rows]
