"""SQL of the 5-hour blocks, shared by the SQLite and PostgreSQL stores: per-minute usage from
the raw requests of a bounded time range, and the official rate-limit snapshots (migrations
``0007_rate_limits`` / ``0003_rate_limits``). The statements are standard SQL; only the
placeholder, and how each backend spells its measures, differ.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from tokentrail.store.figures import Filters, MinuteRow, Totals
from tokentrail.store.scope_sql import Placeholder, marks, scope_where

if TYPE_CHECKING:  # the quick reader imports this module: only the light part at run time
    from tokentrail.ratelimits import RateLimitSnapshot
    from tokentrail.store.dialect import Executemany, Rows

SNAPSHOT_COLUMNS = (
    "source, limit_window, observed_ms, used_percent, window_minutes, resets_at_ms, "
    "session_key, machine"
)


def put_rate_limits(
    executemany: Executemany, mark: Placeholder, snapshots: Sequence[RateLimitSnapshot]
) -> None:
    """Insert snapshots; one already recorded (same source, machine, window and time) stays."""
    from tokentrail.store.tool_sql import next_change  # the write side: not for readers

    if not snapshots:
        return
    executemany(
        f"INSERT INTO rate_limits ({SNAPSHOT_COLUMNS}, change_seq) "
        f"VALUES ({marks(mark, 8)}, {next_change('rate_limits')}) ON CONFLICT DO NOTHING",
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


def rate_limits(rows: Rows, mark: Placeholder, filters: Filters) -> list[RateLimitSnapshot]:
    where, params = scope_where(filters, mark, ts="observed_ms")
    found = rows(
        f"SELECT {SNAPSHOT_COLUMNS} FROM rate_limits {where} "
        "ORDER BY observed_ms, source, limit_window, machine",
        params,
    )
    return [snapshot_from_row(row) for row in found]


def snapshot_from_row(row: Sequence[Any]) -> RateLimitSnapshot:
    """A snapshot from the columns of :data:`SNAPSHOT_COLUMNS`, in their order."""
    from tokentrail.ratelimits import RateLimitSnapshot  # only when there are any

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


def minute_totals_query(
    filters: Filters, mark: Placeholder, measures: str, *, user: str | None
) -> tuple[str, list[Any]]:
    """Usage per minute and model, with each minute's first and last request time;
    ``measures`` is the backend's spelling of the measure sums, ``user`` its user column
    (None: rows have no user)."""
    where, params = scope_where(filters, mark, ts="ts_ms", project="project", user=user)
    sql = (
        f"SELECT ts_ms / 60000, model, MIN(ts_ms), MAX(ts_ms), {measures} FROM events "
        f"{where} GROUP BY 1, 2 ORDER BY 1, 2"
    )
    return sql, params


def minute_row(row: Sequence[Any]) -> MinuteRow:
    return MinuteRow(
        minute=int(row[0]),
        model=row[1],
        first_ms=int(row[2]),
        last_ms=int(row[3]),
        totals=Totals(tuple(int(v or 0) for v in row[4:])),
    )


# -- the active block from the hourly rollups (tokentrail.blocks.RollupReader) ---------------


def usage_hours(rows: Rows, mark: Placeholder, filters: Filters) -> list[int]:
    """The UTC hours (epoch ms) holding usage in ``filters``' range, oldest first: a few
    hundred rows of the hourly rollups' key, where the raw requests are thousands."""
    where, params = scope_where(filters, mark, ts="bucket_ms", project="project")
    sql = f"SELECT DISTINCT bucket_ms FROM rollups_hourly {where} ORDER BY 1"
    return [int(row[0]) for row in rows(sql, params)]


def hour_model_totals(
    rows: Rows, mark: Placeholder, filters: Filters, measure_sums: str
) -> list[tuple[str | None, Totals]]:
    """Usage per model in ``filters``' range of whole hours, from the hourly rollups;
    ``measure_sums`` is the engine's spelling of the measures' sums."""
    where, params = scope_where(filters, mark, ts="bucket_ms", project="project")
    sql = f"SELECT model, {measure_sums} FROM rollups_hourly {where} GROUP BY 1 ORDER BY 1"
    return [(row[0] or None, Totals(tuple(row[1:]))) for row in rows(sql, params)]


def request_span(rows: Rows, mark: Placeholder, filters: Filters) -> tuple[int, int] | None:
    """The first and last request time in ``filters``' range: two walks of the time index,
    each stopping at its first match (one ``MIN(), MAX()`` reads the whole range)."""
    where, params = scope_where(filters, mark, ts="ts_ms", project="project")
    spans = [
        rows(f"SELECT ts_ms FROM events {where} ORDER BY ts_ms {way} LIMIT 1", params)
        for way in ("ASC", "DESC")
    ]
    if not spans[0] or not spans[1]:
        return None
    return int(spans[0][0][0]), int(spans[1][0][0])
