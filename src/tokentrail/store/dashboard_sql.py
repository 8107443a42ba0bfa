"""SQL behind the dashboard's views that both stores share: the change marker, and usage
grouped by a rollup dimension or by local interval, read from the rollups.

Sorted pages of sessions are each engine's own: SQLite keeps the per-session figures in
memory (:mod:`tokentrail.store.sqlite_dashboard`), PostgreSQL rolls them up in one query
(:mod:`tokentrail.store.postgres_dashboard`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from tokentrail.store import lifetime_rollups
from tokentrail.store.base import MEASURES, Filters, OffsetSegment, Totals
from tokentrail.store.dialect import Dialect, Rows, local_time_sql

if TYPE_CHECKING:  # the rows are created on first use (see tokentrail.store.base)
    from tokentrail.store.records import (
        GroupDimension,
        GroupsTotalsRow,
        GroupTotalsRow,
        IntervalRow,
        SessionPage,
        SessionPageQuery,
    )

GROUP_COLUMN: dict[str, str] = {
    "source": "source",
    "model": "model",
    "project": "project",
    "machine": "machine",
}


Segments = Sequence[OffsetSegment]
Models = Sequence[str]
Days = list[tuple[int, int]]


class SessionViews(Protocol):
    """An engine's way to list sessions with their subagents rolled up on them."""

    def day_counts(self, rows: Rows, filters: Filters, segments: Segments, models: Models) -> Days:
        """How many top-level sessions started on each local day (see
        :meth:`~tokentrail.store.base.Store.session_day_counts`)."""
        ...

    def page(self, rows: Rows, query: SessionPageQuery) -> SessionPage: ...

    def names(self, rows: Rows, by: GroupDimension) -> list[str]: ...


def change_marker(d: Dialect, rows: Rows) -> str:
    """Moves with every write: each part is the newest value of an indexed, ever-growing
    sequence (a few index lookups)."""
    ((*values,),) = rows(
        "SELECT (SELECT MAX(id) FROM events), "
        "(SELECT MAX(changed_seq) FROM events WHERE changed_seq IS NOT NULL), "
        f"(SELECT MAX(change_seq) FROM {d.change_source('sessions')}), "
        f"(SELECT MAX(change_seq) FROM {d.change_source('runs')}), "
        "(SELECT COUNT(*) FROM retractions)",
        (),
    )
    return ".".join(str(value or 0) for value in values)


def _rollups_where(d: Dialect, filters: Filters, models: Sequence[str]) -> tuple[str, list[Any]]:
    where, params = d.rollup_where(filters)
    if models:
        clause, more = d.in_list("model", models)
        where = f"{where} AND {clause}" if where else f"WHERE {clause}"
        params = [*params, *more]
    return where, params


def group_totals(
    d: Dialect, rows: Rows, filters: Filters, by: GroupDimension, models: Sequence[str]
) -> list[GroupTotalsRow]:
    column = GROUP_COLUMN[by]
    where, params = _rollups_where(d, filters, models)
    table = lifetime_rollups.table_for(filters, d.rollup_table(filters))
    sql = f"SELECT {column}, {d.measure_sums()} FROM {table} {where} GROUP BY {column}"
    from tokentrail.store.records import GroupTotalsRow

    return [
        GroupTotalsRow(group=row[0] or None, totals=Totals(tuple(row[1:])))
        for row in rows(sql, params)
    ]


def group_totals_by(
    d: Dialect, rows: Rows, filters: Filters, by: Sequence[GroupDimension], models: Sequence[str]
) -> list[GroupsTotalsRow]:
    columns = ", ".join(GROUP_COLUMN[b] for b in by)
    where, params = _rollups_where(d, filters, models)
    table = lifetime_rollups.table_for(filters, d.rollup_table(filters))
    sql = f"SELECT {columns}, {d.measure_sums()} FROM {table} {where} GROUP BY {columns}"
    width = len(by)
    from tokentrail.store.records import GroupsTotalsRow

    return [
        GroupsTotalsRow(
            groups=tuple(value or None for value in row[:width]), totals=Totals(tuple(row[width:]))
        )
        for row in rows(sql, params)
    ]


def interval_totals(
    d: Dialect,
    rows: Rows,
    filters: Filters,
    segments: Segments,
    interval_ms: int,
    by_model: bool,
    models: Sequence[str],
) -> list[IntervalRow]:
    if not segments:
        raise ValueError("interval_totals needs at least one UTC offset segment")
    if interval_ms <= 0:
        raise ValueError("interval_ms must be positive")
    where, params = _rollups_where(d, filters, models)
    local = local_time_sql("bucket_ms", segments)
    table = d.rollup_table(filters, segments, interval_ms)
    sums = d.measure_sums()
    if by_model:
        sql = (
            f"SELECT ({local}) / {int(interval_ms)} AS idx, model AS m, {sums} "
            f"FROM {table} {where} GROUP BY idx, m ORDER BY idx, m"
        )
    else:
        # sum each bucket first, in the table's own order (no sort), then the few buckets
        # of each interval: a third faster than grouping every row by its interval
        per_bucket = ", ".join(f"{d.sum(m)} AS {m}" for m in MEASURES)
        sql = (
            f"SELECT ({local}) / {int(interval_ms)} AS idx, '' AS m, {sums} FROM "
            f"(SELECT bucket_ms, {per_bucket} FROM {table} {where} GROUP BY bucket_ms) b "
            "GROUP BY idx ORDER BY idx"
        )
    from tokentrail.store.records import IntervalRow

    return [
        IntervalRow(index=int(row[0]), model=row[1] or None, totals=Totals(tuple(row[2:])))
        for row in rows(sql, params)
    ]
