"""SQL of the OpenTelemetry tables (SQLite migration ``0005_otlp_metrics``, PostgreSQL's
``0002_otlp_metrics``), for both stores: the reads are mixed into the stores, the writes into
their write transactions. OTLP data is received by a server, never pushed, so it has no user:
a ``users`` filter matches none of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from tokentrail.correlate import OTLP_RANK
from tokentrail.store.base import Filters, OffsetSegment, Totals
from tokentrail.store.dialect import Dialect, local_time_sql
from tokentrail.store.scope_sql import marks, scope_where

if TYPE_CHECKING:  # the rows are created on first use (see tokentrail.store.base)
    from tokentrail.store.records import (
        MetricDayRow,
        MetricSample,
        OtlpDayRow,
        OtlpReceipt,
        SourceDayRow,
        ToolStatRow,
    )

_RECEIPT_COLUMNS = (
    "receipt_key",
    "source",
    "ts_ms",
    "input",
    "cache_read",
    "cache_write",
    "output",
    "reasoning",
    "reported_cost_usd",
    "machine",
)
_SAMPLE_COLUMNS = (
    "source, name, kind, model, session, series, start_ms, time_ms, value, count, cumulative, "
    "delta, machine"
)
_RECEIPT_TOKENS = (
    "(COALESCE(r.input, 0) + COALESCE(r.cache_read, 0) + COALESCE(r.cache_write, 0) "
    "+ COALESCE(r.output, 0))"
)
_EVENT_TOKENS = (
    "(COALESCE(e.input, 0) + COALESCE(e.cache_read, 0) + COALESCE(e.cache_write_5m, 0) "
    "+ COALESCE(e.cache_write_1h, 0) + COALESCE(e.output, 0))"
)


class OtlpWrites:
    """Writing receipts, metric points and the aliases that tie a receipt to a request."""

    dialect: Dialect

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        raise NotImplementedError

    def _executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        raise NotImplementedError

    def alias_targets(self, aliases: Sequence[str]) -> dict[str, str]:
        select = "SELECT alias, event_key FROM event_aliases"
        rows = self.dialect.select_in(self._rows, select, "alias", aliases)
        return {alias: key for alias, key in rows}

    def put_aliases(self, pairs: Sequence[tuple[str, str]]) -> None:
        if pairs:
            values = marks(self.dialect.mark, 2)
            self._executemany(
                f"INSERT INTO event_aliases (alias, event_key) VALUES ({values}) "
                "ON CONFLICT (alias) DO NOTHING",
                list(pairs),
            )

    def put_otlp_receipts(self, receipts: Sequence[OtlpReceipt]) -> None:
        """A receipt sent again replaces its row (an exporter's retry)."""
        if not receipts:
            return
        updates = ", ".join(f"{c} = excluded.{c}" for c in _RECEIPT_COLUMNS[1:])
        self._executemany(
            f"INSERT INTO otlp_receipts ({', '.join(_RECEIPT_COLUMNS)}) "
            f"VALUES ({marks(self.dialect.mark, len(_RECEIPT_COLUMNS))}) "
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

    def put_metric_samples(self, samples: Sequence[MetricSample]) -> int:
        """Insert new points in series and time order, each with its increase: the value
        itself for delta temporality; for cumulative, the growth since the series' previous
        point (the whole value for its first point, or after the counter restarted below
        it)."""
        mark = self.dialect.mark
        added = 0
        for sample in sorted(samples, key=lambda s: (s.series, s.time_ms)):
            if self._rows(
                f"SELECT 1 FROM metric_samples WHERE series = {mark} AND time_ms = {mark}",
                (sample.series, sample.time_ms),
            ):
                continue
            delta = sample.value
            if sample.cumulative:
                previous = self._rows(
                    f"SELECT value FROM metric_samples WHERE series = {mark} "
                    f"AND time_ms < {mark} ORDER BY time_ms DESC LIMIT 1",
                    (sample.series, sample.time_ms),
                )
                if previous and sample.value >= previous[0][0]:
                    delta = sample.value - previous[0][0]
            self._execute(
                f"INSERT INTO metric_samples ({_SAMPLE_COLUMNS}) VALUES ({marks(mark, 13)})",
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


class OtlpReads:
    """Per-day sums of receipts, metric points and OTLP tool calls."""

    dialect: Dialect

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        raise NotImplementedError

    def source_day_totals(
        self, filters: Filters, segments: Sequence[OffsetSegment]
    ) -> list[SourceDayRow]:
        d = self.dialect
        where, params = d.rollup_where(filters)
        sql = (
            f"SELECT ({local_time_sql('bucket_ms', segments)}) / 86400000 AS day, source, "
            f"{d.measure_sums()} FROM rollups {where} GROUP BY day, source ORDER BY day, source"
        )
        from tokentrail.store.records import SourceDayRow

        return [
            SourceDayRow(day=row[0], source=row[1], totals=Totals(tuple(row[2:])))
            for row in self._rows(sql, params)
        ]

    def otlp_day_totals(
        self, filters: Filters, segments: Sequence[OffsetSegment]
    ) -> list[OtlpDayRow]:
        d = self.dialect
        where, params = scope_where(
            filters, d.mark, ts="r.ts_ms", source="r.source", machine="r.machine"
        )
        matched = f"(e.event_key IS NOT NULL AND substr(e.rank, 1, {len(OTLP_RANK)}) != {d.mark})"
        micro = d.round_half_away("r.reported_cost_usd * 1000000")

        def when_matched(then: str, otherwise: str = "0") -> str:
            return d.sum(f"CASE WHEN {matched} THEN {then} ELSE {otherwise} END")

        sql = (
            f"SELECT ({local_time_sql('r.ts_ms', segments)}) / 86400000 AS day, r.source, "
            f"COUNT(*), {d.sum(_RECEIPT_TOKENS)}, {d.sum('COALESCE(r.output, 0)')}, "
            f"{d.as_int(f'COALESCE(SUM(CAST({micro} AS {d.integer})), 0)')}, "
            f"COUNT(r.reported_cost_usd), {when_matched('1')}, "
            f"{when_matched(_RECEIPT_TOKENS)}, {when_matched(_EVENT_TOKENS)}, "
            f"{when_matched('COALESCE(e.cost_micro, 0)')}, "
            f"{when_matched('0', 'COALESCE(e.cost_micro, 0)')} "
            "FROM otlp_receipts r "
            "LEFT JOIN event_aliases a ON a.alias = r.receipt_key "
            "LEFT JOIN events e ON e.event_key = COALESCE(a.event_key, r.receipt_key) "
            f"{where} GROUP BY day, r.source ORDER BY day, r.source"
        )
        from tokentrail.store.records import OtlpDayRow

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
            for row in self._rows(sql, [*[OTLP_RANK] * 5, *params])
        ]

    def metric_day_totals(
        self, filters: Filters, segments: Sequence[OffsetSegment]
    ) -> list[MetricDayRow]:
        where, params = scope_where(filters, self.dialect.mark, ts="time_ms")
        sql = (
            f"SELECT ({local_time_sql('time_ms', segments)}) / 86400000 AS day, source, name, "
            f"kind, SUM(delta), COUNT(*) FROM metric_samples {where} "
            "GROUP BY day, source, name, kind ORDER BY day, source, name, kind"
        )
        from tokentrail.store.records import MetricDayRow

        return [
            MetricDayRow(
                day=row[0], source=row[1], name=row[2], kind=row[3], value=row[4], samples=row[5]
            )
            for row in self._rows(sql, params)
        ]

    def tool_call_stats(self, filters: Filters) -> list[ToolStatRow]:
        d = self.dialect
        where, params = scope_where(filters, d.mark, ts="ts_ms")
        # what OpenTelemetry reported (calls read from log files are tokentrail.insights')
        where = f"{where} AND origin = 'otlp'" if where else "WHERE origin = 'otlp'"
        sql = (
            "SELECT source, tool_name, COUNT(*), SUM(CASE WHEN success = 0 THEN 1 ELSE 0 END), "
            f"{d.as_int('COALESCE(SUM(duration_ms), 0)')} FROM tool_calls {where} "
            "GROUP BY source, tool_name ORDER BY source, COUNT(*) DESC, tool_name"
        )
        from tokentrail.store.records import ToolStatRow

        return [
            ToolStatRow(
                source=row[0],
                tool_name=row[1],
                calls=row[2],
                failures=row[3] or 0,
                duration_ms=row[4] or 0,
            )
            for row in self._rows(sql, params)
        ]
