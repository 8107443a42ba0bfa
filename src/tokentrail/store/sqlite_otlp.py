"""SQL of the OpenTelemetry tables of the SQLite store (migration ``0005_otlp_metrics``).

:class:`tokentrail.store.sqlite.SQLiteStore` and its write transaction delegate to these
functions; they take the open connection and run inside the caller's transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from tokentrail.correlate import OTLP_RANK
from tokentrail.store.base import (
    Filters,
    MetricDayRow,
    MetricSample,
    OffsetSegment,
    OtlpDayRow,
    OtlpReceipt,
    SourceDayRow,
    ToolStatRow,
    Totals,
)
from tokentrail.store.scope_sql import scope_where

_IN_CHUNK = 500


def _chunks(items: Sequence[Any], size: int = _IN_CHUNK) -> list[list[Any]]:
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


# -- writing ----------------------------------------------------------------------------------


def alias_targets(conn: sqlite3.Connection, aliases: Sequence[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for chunk in _chunks(aliases):
        rows = conn.execute(
            "SELECT alias, event_key FROM event_aliases "
            f"WHERE alias IN ({', '.join('?' * len(chunk))})",
            chunk,
        )
        found.update((alias, key) for alias, key in rows)
    return found


def put_aliases(conn: sqlite3.Connection, pairs: Sequence[tuple[str, str]]) -> None:
    if pairs:
        conn.executemany(
            "INSERT OR IGNORE INTO event_aliases (alias, event_key) VALUES (?, ?)", pairs
        )


def put_otlp_receipts(conn: sqlite3.Connection, receipts: Sequence[OtlpReceipt]) -> None:
    if not receipts:
        return
    conn.executemany(
        "INSERT OR REPLACE INTO otlp_receipts (receipt_key, source, ts_ms, input, cache_read, "
        "cache_write, output, reasoning, reported_cost_usd, machine) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            (
                r.key,
                r.source,
                r.timestamp_ms,
                r.tokens.input,
                r.tokens.cache_read,
                r.tokens.cache_write,
                r.tokens.output,
                r.tokens.reasoning,
                r.reported_cost_usd,
                r.machine or "",
            )
            for r in receipts
        ],
    )


def put_metric_samples(conn: sqlite3.Connection, samples: Sequence[MetricSample]) -> int:
    """Insert new points in series and time order, each with its increase: the value itself
    for delta temporality; for cumulative, the growth since the series' previous point (the
    whole value for its first point, or after the counter restarted below it)."""
    added = 0
    for sample in sorted(samples, key=lambda s: (s.series, s.time_ms)):
        if conn.execute(
            "SELECT 1 FROM metric_samples WHERE series = ? AND time_ms = ?",
            (sample.series, sample.time_ms),
        ).fetchone():
            continue
        delta = sample.value
        if sample.cumulative:
            previous = conn.execute(
                "SELECT value FROM metric_samples WHERE series = ? AND time_ms < ? "
                "ORDER BY time_ms DESC LIMIT 1",
                (sample.series, sample.time_ms),
            ).fetchone()
            if previous is not None and sample.value >= previous[0]:
                delta = sample.value - previous[0]
        conn.execute(
            "INSERT INTO metric_samples (source, name, kind, model, session, series, start_ms, "
            "time_ms, value, count, cumulative, delta, machine) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                sample.source,
                sample.name,
                sample.kind,
                sample.model or "",
                sample.session,
                sample.series,
                sample.start_ms,
                sample.time_ms,
                sample.value,
                sample.count,
                int(sample.cumulative),
                delta,
                sample.machine or "",
            ),
        )
        added += 1
    return added


# -- reading ----------------------------------------------------------------------------------


def _local(column: str, segments: Sequence[OffsetSegment]) -> str:
    from tokentrail.store.sqlite import _local_time_sql

    if not segments:
        raise ValueError("a day grouping needs at least one UTC offset segment")
    return _local_time_sql(column, segments)


def source_day_totals(
    conn: sqlite3.Connection, filters: Filters, segments: Sequence[OffsetSegment]
) -> list[SourceDayRow]:
    from tokentrail.store.base import MEASURES
    from tokentrail.store.sqlite import _rollup_where

    where, params = _rollup_where(filters)
    sums = ", ".join(f"SUM({m})" for m in MEASURES)
    sql = (
        f"SELECT ({_local('bucket_ms', segments)}) / 86400000 AS day, source, {sums} "
        f"FROM rollups {where} GROUP BY day, source ORDER BY day, source"
    )
    return [
        SourceDayRow(day=row[0], source=row[1], totals=Totals(tuple(row[2:])))
        for row in conn.execute(sql, params)
    ]


_RECEIPT_TOKENS = (
    "(COALESCE(r.input, 0) + COALESCE(r.cache_read, 0) + COALESCE(r.cache_write, 0) "
    "+ COALESCE(r.output, 0))"
)
_EVENT_TOKENS = (
    "(COALESCE(e.input, 0) + COALESCE(e.cache_read, 0) + COALESCE(e.cache_write_5m, 0) "
    "+ COALESCE(e.cache_write_1h, 0) + COALESCE(e.output, 0))"
)


def otlp_day_totals(
    conn: sqlite3.Connection, filters: Filters, segments: Sequence[OffsetSegment]
) -> list[OtlpDayRow]:
    where, params = scope_where(filters, "?", ts="r.ts_ms", source="r.source", machine="r.machine")
    matched = f"(e.event_key IS NOT NULL AND substr(e.rank, 1, {len(OTLP_RANK)}) != ?)"
    sql = (
        f"SELECT ({_local('r.ts_ms', segments)}) / 86400000 AS day, r.source, COUNT(*), "
        f"SUM({_RECEIPT_TOKENS}), SUM(COALESCE(r.output, 0)), "
        "COALESCE(SUM(CAST(ROUND(r.reported_cost_usd * 1000000) AS INTEGER)), 0), "
        "COUNT(r.reported_cost_usd), "
        f"SUM(CASE WHEN {matched} THEN 1 ELSE 0 END), "
        f"SUM(CASE WHEN {matched} THEN {_RECEIPT_TOKENS} ELSE 0 END), "
        f"SUM(CASE WHEN {matched} THEN {_EVENT_TOKENS} ELSE 0 END), "
        f"SUM(CASE WHEN {matched} THEN COALESCE(e.cost_micro, 0) ELSE 0 END), "
        f"SUM(CASE WHEN {matched} THEN 0 ELSE COALESCE(e.cost_micro, 0) END) "
        "FROM otlp_receipts r "
        "LEFT JOIN event_aliases a ON a.alias = r.receipt_key "
        "LEFT JOIN events e ON e.event_key = COALESCE(a.event_key, r.receipt_key) "
        f"{where} GROUP BY day, r.source ORDER BY day, r.source"
    )
    return [
        OtlpDayRow(
            day=row[0],
            source=row[1],
            requests=row[2],
            tokens=row[3] or 0,
            output=row[4] or 0,
            reported_cost_micro=row[5] or 0,
            n_reported_cost=row[6] or 0,
            matched=row[7] or 0,
            matched_tokens=row[8] or 0,
            matched_ledger_tokens=row[9] or 0,
            matched_ledger_cost_micro=row[10] or 0,
            only_otlp_cost_micro=row[11] or 0,
        )
        for row in conn.execute(sql, [*[OTLP_RANK] * 5, *params])
    ]


def metric_day_totals(
    conn: sqlite3.Connection, filters: Filters, segments: Sequence[OffsetSegment]
) -> list[MetricDayRow]:
    where, params = scope_where(filters, "?", ts="time_ms")
    sql = (
        f"SELECT ({_local('time_ms', segments)}) / 86400000 AS day, source, name, kind, "
        f"SUM(delta), COUNT(*) FROM metric_samples {where} "
        "GROUP BY day, source, name, kind ORDER BY day, source, name, kind"
    )
    return [
        MetricDayRow(
            day=row[0], source=row[1], name=row[2], kind=row[3], value=row[4], samples=row[5]
        )
        for row in conn.execute(sql, params)
    ]


def tool_call_stats(conn: sqlite3.Connection, filters: Filters) -> list[ToolStatRow]:
    where, params = scope_where(filters, "?", ts="ts_ms")
    # what OpenTelemetry reported (calls read from log files are tokentrail.insights')
    where = f"{where} AND origin = 'otlp'" if where else "WHERE origin = 'otlp'"
    sql = (
        "SELECT source, tool_name, COUNT(*), SUM(CASE WHEN success = 0 THEN 1 ELSE 0 END), "
        f"COALESCE(SUM(duration_ms), 0) FROM tool_calls {where} "
        "GROUP BY source, tool_name ORDER BY source, COUNT(*) DESC, tool_name"
    )
    return [
        ToolStatRow(
            source=row[0],
            tool_name=row[1],
            calls=row[2],
            failures=row[3] or 0,
            duration_ms=row[4] or 0,
        )
        for row in conn.execute(sql, params)
    ]
