"""SQL of the OpenTelemetry tables of the PostgreSQL store (migration ``0002_otlp_metrics``).

The same operations as :mod:`tokentrail.store.sqlite_otlp`, in PostgreSQL's dialect; the
:class:`~tokentrail.store.postgres.PostgresStore` and its write transaction delegate here.
OTLP data is received by a server, never pushed, so it has no user: a ``users`` filter
matches none of it (as on SQLite).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg

from tokentrail.correlate import OTLP_RANK
from tokentrail.store.base import (
    MEASURES,
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

Conn = psycopg.Connection[Any]

# SQLite's ROUND (half away from zero, in double precision), as in postgres._PG_MEASURE_SQL
_REPORTED_MICRO = (
    "CAST(CASE WHEN r.reported_cost_usd * 1000000 >= 0 "
    "THEN floor(r.reported_cost_usd * 1000000 + 0.5) "
    "ELSE ceil(r.reported_cost_usd * 1000000 - 0.5) END AS BIGINT)"
)


# -- writing ----------------------------------------------------------------------------------


def alias_targets(conn: Conn, aliases: Sequence[str]) -> dict[str, str]:
    if not aliases:
        return {}
    rows = conn.execute(
        "SELECT alias, event_key FROM event_aliases WHERE alias = ANY(%s)", (list(aliases),)
    ).fetchall()
    return {alias: key for alias, key in rows}


def put_aliases(conn: Conn, pairs: Sequence[tuple[str, str]]) -> None:
    if pairs:
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO event_aliases (alias, event_key) VALUES (%s, %s) "
                "ON CONFLICT (alias) DO NOTHING",
                list(pairs),
            )


def put_otlp_receipts(conn: Conn, receipts: Sequence[OtlpReceipt]) -> None:
    if not receipts:
        return
    columns = (
        "receipt_key, source, ts_ms, input, cache_read, cache_write, output, reasoning, "
        "reported_cost_usd, machine"
    )
    updates = ", ".join(f"{c.strip()} = excluded.{c.strip()}" for c in columns.split(",")[1:])
    with conn.cursor() as cur:
        cur.executemany(
            f"INSERT INTO otlp_receipts ({columns}) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
            f"ON CONFLICT (receipt_key) DO UPDATE SET {updates}",
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


def put_metric_samples(conn: Conn, samples: Sequence[MetricSample]) -> int:
    """Insert new points in series and time order, each with its increase (see
    :func:`tokentrail.store.sqlite_otlp.put_metric_samples`)."""
    added = 0
    for sample in sorted(samples, key=lambda s: (s.series, s.time_ms)):
        if conn.execute(
            "SELECT 1 FROM metric_samples WHERE series = %s AND time_ms = %s",
            (sample.series, sample.time_ms),
        ).fetchone():
            continue
        delta = sample.value
        if sample.cumulative:
            previous = conn.execute(
                "SELECT value FROM metric_samples WHERE series = %s AND time_ms < %s "
                "ORDER BY time_ms DESC LIMIT 1",
                (sample.series, sample.time_ms),
            ).fetchone()
            if previous is not None and sample.value >= previous[0]:
                delta = sample.value - previous[0]
        conn.execute(
            "INSERT INTO metric_samples (source, name, kind, model, session, series, start_ms, "
            "time_ms, value, count, cumulative, delta, machine) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
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
    from tokentrail.store.postgres import _local_time_sql

    if not segments:
        raise ValueError("a day grouping needs at least one UTC offset segment")
    return _local_time_sql(column, segments)


def source_day_totals(
    conn: Conn, filters: Filters, segments: Sequence[OffsetSegment]
) -> list[SourceDayRow]:
    from tokentrail.store.postgres import _rollup_where

    where, params = _rollup_where(filters)
    sums = ", ".join(f"CAST(SUM({m}) AS BIGINT)" for m in MEASURES)
    rows = conn.execute(
        f"SELECT ({_local('bucket_ms', segments)}) / 86400000 AS day, source, {sums} "
        f"FROM rollups {where} GROUP BY 1, 2 ORDER BY 1, 2",
        params,
    ).fetchall()
    return [SourceDayRow(day=row[0], source=row[1], totals=Totals(tuple(row[2:]))) for row in rows]


_RECEIPT_TOKENS = (
    "(COALESCE(r.input, 0) + COALESCE(r.cache_read, 0) + COALESCE(r.cache_write, 0) "
    "+ COALESCE(r.output, 0))"
)
_EVENT_TOKENS = (
    "(COALESCE(e.input, 0) + COALESCE(e.cache_read, 0) + COALESCE(e.cache_write_5m, 0) "
    "+ COALESCE(e.cache_write_1h, 0) + COALESCE(e.output, 0))"
)


def otlp_day_totals(
    conn: Conn, filters: Filters, segments: Sequence[OffsetSegment]
) -> list[OtlpDayRow]:
    where, params = scope_where(filters, "%s", ts="r.ts_ms", source="r.source", machine="r.machine")
    matched = f"(e.event_key IS NOT NULL AND substr(e.rank, 1, {len(OTLP_RANK)}) != %s)"
    rows = conn.execute(
        f"SELECT ({_local('r.ts_ms', segments)}) / 86400000 AS day, r.source, COUNT(*), "
        f"CAST(SUM({_RECEIPT_TOKENS}) AS BIGINT), CAST(SUM(COALESCE(r.output, 0)) AS BIGINT), "
        f"CAST(COALESCE(SUM({_REPORTED_MICRO}), 0) AS BIGINT), "
        "COUNT(r.reported_cost_usd), "
        f"SUM(CASE WHEN {matched} THEN 1 ELSE 0 END), "
        f"CAST(SUM(CASE WHEN {matched} THEN {_RECEIPT_TOKENS} ELSE 0 END) AS BIGINT), "
        f"CAST(SUM(CASE WHEN {matched} THEN {_EVENT_TOKENS} ELSE 0 END) AS BIGINT) "
        "FROM otlp_receipts r "
        "LEFT JOIN event_aliases a ON a.alias = r.receipt_key "
        "LEFT JOIN events e ON e.event_key = COALESCE(a.event_key, r.receipt_key) "
        f"{where} GROUP BY 1, 2 ORDER BY 1, 2",
        [OTLP_RANK, OTLP_RANK, OTLP_RANK, *params],
    ).fetchall()
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
        )
        for row in rows
    ]


def metric_day_totals(
    conn: Conn, filters: Filters, segments: Sequence[OffsetSegment]
) -> list[MetricDayRow]:
    where, params = scope_where(filters, "%s", ts="time_ms")
    rows = conn.execute(
        f"SELECT ({_local('time_ms', segments)}) / 86400000 AS day, source, name, kind, "
        f"SUM(delta), COUNT(*) FROM metric_samples {where} "
        "GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4",
        params,
    ).fetchall()
    return [
        MetricDayRow(
            day=row[0], source=row[1], name=row[2], kind=row[3], value=row[4], samples=row[5]
        )
        for row in rows
    ]


def tool_call_stats(conn: Conn, filters: Filters) -> list[ToolStatRow]:
    where, params = scope_where(filters, "%s", ts="ts_ms")
    # what OpenTelemetry reported (calls read from log files are tokentrail.insights')
    where = f"{where} AND origin = 'otlp'" if where else "WHERE origin = 'otlp'"
    rows = conn.execute(
        "SELECT source, tool_name, COUNT(*), SUM(CASE WHEN success = 0 THEN 1 ELSE 0 END), "
        f"CAST(COALESCE(SUM(duration_ms), 0) AS BIGINT) FROM tool_calls {where} "
        "GROUP BY source, tool_name ORDER BY source, COUNT(*) DESC, tool_name",
        params,
    ).fetchall()
    return [
        ToolStatRow(
            source=row[0],
            tool_name=row[1],
            calls=row[2],
            failures=row[3] or 0,
            duration_ms=row[4] or 0,
        )
        for row in rows
    ]
