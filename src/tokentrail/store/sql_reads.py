"""The reads both stores share: one statement each, spelled for the engine by its
:class:`~tokentrail.store.dialect.Dialect`.

:class:`SQLReads` is the base of :class:`~tokentrail.store.sqlite.SQLiteStore` and
:class:`~tokentrail.store.postgres.PostgresStore`; each engine supplies ``_rows`` (run one
query, return its rows, errors typed) and what is its own (connections, cursors, sizes, the
dashboard's session listing).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any

from tokentrail.ratelimits import RateLimitSnapshot
from tokentrail.store import (
    blocks_sql,
    dashboard_sql,
    day_reads,
    day_rollups,
    lifetime_rollups,
    push_sql,
    tool_sql,
)
from tokentrail.store.base import (
    ACTIVE_MS_SQL,
    MEASURES,
    NO_MODEL,
    DayRow,
    Entry,
    Filters,
    GroupBy,
    MinuteRow,
    OffsetSegment,
    RunTotalsRow,
    SessionTotalsRow,
    StoreStatus,
    Totals,
    UnpricedModel,
)
from tokentrail.store.dialect import Dialect, local_time_sql
from tokentrail.store.otlp_sql import OtlpReads
from tokentrail.store.rows import (
    RUN_COLUMN_LIST,
    SESSION_COLUMN_LIST,
    entry_from_row,
    prefixed,
    run_from_row,
    session_from_row,
)
from tokentrail.store.sql_write import SQLWrite, runs_by_key, sessions_by_key
from tokentrail.usage import Run, Session, utc_from_ms

if TYPE_CHECKING:  # the rows are created on first use (see tokentrail.store.base)
    from tokentrail.store.records import (
        GroupDimension,
        GroupsTotalsRow,
        GroupTotalsRow,
        IntervalRow,
        SessionPage,
        SessionPageQuery,
        ToolCallRow,
    )


class SQLReads(OtlpReads, push_sql.PushReads):
    """What a store reads, in SQL both engines run."""

    dialect: Dialect
    location: str

    def _rows(
        self, sql: str, params: Sequence[Any] = (), *, prepare: bool | None = None
    ) -> list[tuple[Any, ...]]:
        """The rows of one query; ``prepare=False``: plan it for these values only."""
        raise NotImplementedError

    def write(self) -> AbstractContextManager[SQLWrite]:
        raise NotImplementedError

    def applied_migrations(self) -> list[str]:
        return [row[0] for row in self._rows("SELECT name FROM _migrations ORDER BY name")]

    def _size_bytes(self) -> int | None:
        raise NotImplementedError

    # -- totals ------------------------------------------------------------------------

    def _day_rows(
        self, filters: Filters, segments: Sequence[OffsetSegment], group: str | None
    ) -> list[tuple[Any, ...]]:
        """Rows ``(day, group or '', <measures>)`` per local day of ``segments``' zone."""
        if day_reads.fits(filters, group):
            union, params = day_reads.day_union(
                self.dialect, filters, segments, self._kept_offsets(segments), group
            )
            sql = (
                f"SELECT day, g, {self.dialect.measure_sums()} FROM ({union}) u "
                "GROUP BY day, g ORDER BY day, g"
            )
            return self._rows(sql, params)
        where, params = self.dialect.rollup_where(filters)
        # a local ledger keeps no users: grouped by user, everything is one group
        column = (self.dialect.user_column if group == "user" else group) or "''"
        sql = (
            f"SELECT ({local_time_sql('bucket_ms', segments)}) / 86400000 AS day, {column} AS g, "
            f"{self.dialect.measure_sums()} FROM {self.dialect.rollup_table(filters, segments)} "
            f"{where} GROUP BY day, g ORDER BY day, g"
        )
        return self._rows(sql, params)

    # -- the local days kept (see tokentrail.store.day_rollups) ---------------------------

    def _kept_offsets(self, segments: Sequence[OffsetSegment]) -> frozenset[int]:
        """The UTC offsets whose days are kept, after keeping those of ``segments`` too
        where the ledger can take them now (see :meth:`_keep_offset`)."""
        kept = frozenset(
            int(row[0]) for row in self._rows(f"SELECT offset_ms FROM {day_rollups.OFFSETS}")
        )
        for offset in sorted({s.offset_ms for s in segments} - kept):
            if len(kept) >= day_rollups.MAX_OFFSETS or not day_rollups.keepable(offset):
                continue
            if self._keep_offset(offset):
                kept = kept | {offset}
        return kept

    def _keep_offset(self, offset_ms: int) -> bool:
        """Start keeping the days of ``offset_ms`` (filled from the rollups in the writers'
        transaction order), if the ledger can be written at once; False when it cannot (busy,
        read-only): the days are then summed from the hourly rollups this time."""
        raise NotImplementedError

    def day_totals(
        self, filters: Filters, segments: Sequence[OffsetSegment], by_model: bool
    ) -> list[DayRow]:
        if not segments:
            raise ValueError("day_totals needs at least one UTC offset segment")
        rows = self._day_rows(filters, segments, "model" if by_model else None)
        return [
            DayRow(
                day=row[0],
                model=(row[1] or None) if by_model else None,
                totals=Totals(tuple(row[2:])),
            )
            for row in rows
        ]

    def day_totals_by(
        self, filters: Filters, segments: Sequence[OffsetSegment], by: GroupBy
    ) -> list[DayRow]:
        if not segments:
            raise ValueError("day_totals_by needs at least one UTC offset segment")
        return [
            DayRow(
                day=row[0],
                model=(row[1] or None) if by == "model" else None,
                totals=Totals(tuple(row[2:])),
                group=row[1] or None,
            )
            for row in self._day_rows(filters, segments, by)
        ]

    def _session_totals_from(self, filters: Filters) -> tuple[str, list[Any], list[str], list[Any]]:
        """The per-session totals to read for the filters' machines and users: a table (or
        subquery) with its parameters, and clauses on it (alias ``t``) with theirs."""
        raise NotImplementedError

    def session_totals(
        self, filters: Filters, by_model: bool, family: Sequence[str] | None = None
    ) -> list[SessionTotalsRow]:
        d = self.dialect
        if family is not None and d.in_chunk is not None and len(family) > d.in_chunk:
            # a session can be in two chunks' families (its own and its parent's): once each
            unique = {
                (row.session.key, row.model): row
                for start in range(0, len(family), d.in_chunk)
                for row in self.session_totals(
                    filters, by_model, family[start : start + d.in_chunk]
                )
            }
            return list(unique.values())
        table, params, clauses, clause_params = self._session_totals_from(filters)
        if family is not None:
            own, keys = d.in_list("s.session_key", family)
            parent, _ = d.in_list("s.parent_key", family)
            clauses = [f"({own} OR {parent})", *clauses]
            params = [*params, *keys, *keys]
        where, more = d.session_where(filters, *clauses)
        more = [*clause_params, *more]
        group = "s.session_key, t.model" if by_model else "s.session_key"
        sql = (
            f"SELECT {prefixed(SESSION_COLUMN_LIST, 's')}, "
            f"{'t.model' if by_model else 'NULL'}, MIN(t.first_ms), MAX(t.last_ms), "
            f"{d.measure_sums('t.')} FROM {table} t "
            f"JOIN sessions s ON s.session_key = t.session_key {where} GROUP BY {group}"
        )
        width = len(SESSION_COLUMN_LIST)
        sessions: dict[str, Session] = {}  # a session has a row per model: built once
        found: list[SessionTotalsRow] = []
        for row in self._rows(sql, [*params, *more]):
            session = sessions.get(row[0])
            if session is None:
                session = sessions[row[0]] = session_from_row(row[:width])
            found.append(
                SessionTotalsRow(
                    session=session,
                    model=(row[width] or None) if by_model else None,
                    totals=Totals(row[width + 3 :]),
                    first_ms=row[width + 1],
                    last_ms=row[width + 2],
                )
            )
        return found

    def session_model_requests(self, filters: Filters) -> list[tuple[str, str, int]]:
        table, params, clauses, clause_params = self._session_totals_from(filters)
        where, more = self.dialect.session_where(filters, *clauses, "t.model <> ''")
        return self._rows(
            f"SELECT t.session_key, t.model, {self.dialect.sum('t.requests')} FROM {table} t "
            f"JOIN sessions s ON s.session_key = t.session_key {where} "
            "GROUP BY t.session_key, t.model HAVING SUM(t.requests) > 0",
            [*params, *clause_params, *more],
        )

    def subagents_of(self, parent_keys: Sequence[str]) -> dict[str, list[str]]:
        """The subagent sessions with usage whose parent is one of ``parent_keys`` (the
        sessions the session report rolls up on each), by parent."""
        d = self.dialect
        children: dict[str, list[str]] = {}
        for clause, params in d.key_lists("s.parent_key", parent_keys):
            for key, parent in self._rows(
                "SELECT s.session_key, s.parent_key FROM sessions s "
                f"WHERE {clause} AND s.relationship = 'subagent' AND EXISTS "
                "(SELECT 1 FROM session_totals t WHERE t.session_key = s.session_key) "
                "ORDER BY s.session_key",
                params,
            ):
                children.setdefault(parent, []).append(key)
        return children

    def _over_days(
        self, filters: Filters, group: str | None, models: Sequence[str] = ()
    ) -> tuple[str, list[Any]] | None:
        """Rows ``(day, g, <measures>)`` of the filters' scope from the kept UTC days and the
        fine rollups at the ends of the range; None when the days cannot answer (a project)
        or the lifetime rollups answer (no time range)."""
        if not day_reads.fits(filters, group):
            return None
        if filters.since_ms is None and filters.until_ms is None:
            return None
        return day_reads.day_union(
            self.dialect, filters, day_reads.UTC, frozenset({0}), group, models
        )

    def _rollups_of(self, filters: Filters) -> str:
        """The lifetime rollups for a scope without a time range, else the hourly or 15-minute
        ones its bounds fit."""
        return lifetime_rollups.table_for(filters, self.dialect.rollup_table(filters))

    def unpriced_models(self, filters: Filters) -> list[UnpricedModel]:
        d = self.dialect
        union = self._over_days(filters, "model")
        if union is not None:
            sql = (
                f"SELECT g, {d.sum('unpriced_requests')}, {d.sum('unpriced_tokens')} "
                f"FROM ({union[0]}) u GROUP BY g HAVING SUM(unpriced_requests) > 0 ORDER BY g"
            )
            params = union[1]
        else:
            where, params = d.rollup_where(filters, "unpriced_requests > 0")
            sql = (
                f"SELECT model, {d.sum('unpriced_requests')}, {d.sum('unpriced_tokens')} "
                f"FROM {self._rollups_of(filters)} {where} GROUP BY model ORDER BY model"
            )
        return [
            UnpricedModel(model=row[0] or NO_MODEL, requests=row[1], tokens=row[2])
            for row in self._rows(sql, params)
        ]

    def time_range(self, filters: Filters) -> tuple[int, int] | None:
        where, params = self.dialect.rollup_where(filters)
        # two lookups, not one scan: a MIN and a MAX in one SELECT read every row
        (row,) = self._rows(
            f"SELECT (SELECT MIN(bucket_ms) FROM rollups {where}), "
            f"(SELECT MAX(bucket_ms) FROM rollups {where})",
            [*params, *params],
        )
        if row[0] is None:
            return None
        return int(row[0]), int(row[1])

    def totals(self, filters: Filters) -> Totals:
        d = self.dialect
        union = self._over_days(filters, None)
        if union is not None:
            (row,) = self._rows(f"SELECT {d.measure_sums()} FROM ({union[0]}) u", union[1])
        else:
            where, params = d.rollup_where(filters)
            (row,) = self._rows(
                f"SELECT {d.measure_sums()} FROM {self._rollups_of(filters)} {where}", params
            )
        return Totals(tuple(v or 0 for v in row))

    def run_totals(self, run_id: str) -> Totals:
        rows = self._rows(
            f"SELECT {', '.join(MEASURES)} FROM run_totals WHERE run_id = {self.dialect.mark}",
            (run_id,),
        )
        return Totals(tuple(rows[0])) if rows else Totals.zero()

    def minute_totals(self, filters: Filters) -> list[MinuteRow]:
        d = self.dialect
        measures = ", ".join(d.as_int(d.measure_sql[m]) for m in MEASURES)
        sql, params = blocks_sql.minute_totals_query(filters, d.mark, measures, user=d.user_column)
        # planned for the range at hand: a plan kept for another range may scan all events
        return [blocks_sql.minute_row(row) for row in self._rows(sql, params, prepare=False)]

    # -- sessions and runs -------------------------------------------------------------

    def sessions_by_key(self, keys: Sequence[str]) -> dict[str, Session]:
        return sessions_by_key(self.dialect, self._rows, keys)

    def runs_by_id(self, run_ids: Sequence[str]) -> dict[str, Run]:
        return runs_by_key(self.dialect, self._rows, run_ids)

    def list_runs(self, limit: int | None = None, app: str | None = None) -> list[RunTotalsRow]:
        mark = self.dialect.mark
        where = f"WHERE r.app = {mark}" if app else ""
        params: list[Any] = [app] if app else []
        sql = (
            f"SELECT {prefixed(RUN_COLUMN_LIST, 'r')}, t.first_ms, t.last_ms, "
            f"{', '.join('COALESCE(t.' + m + ', 0)' for m in MEASURES)} "
            f"FROM runs r LEFT JOIN run_totals t ON t.run_id = r.run_id {where} "
            "ORDER BY r.started_ms DESC, r.run_id"
        )
        if limit is not None:
            sql += f" LIMIT {mark}"
            params.append(limit)
        width = len(RUN_COLUMN_LIST)
        return [
            RunTotalsRow(
                run=run_from_row(row[:width]),
                first_ms=row[width],
                last_ms=row[width + 1],
                totals=Totals(tuple(row[width + 2 :])),
            )
            for row in self._rows(sql, params)
        ]

    def session_stats(
        self, filters: Filters, run_id: str | None = None
    ) -> tuple[int, float | None]:
        """How many sessions (started in the filters' time range, of its sources and project,
        of ``run_id`` if given) and the sum of their runtimes in seconds (None when no session
        has both a start and an end)."""
        d = self.dialect
        clauses = []
        params: list[Any] = []
        for clause, value in (
            (f"s.started_ms >= {d.mark}", filters.since_ms),
            (f"s.started_ms < {d.mark}", filters.until_ms),
            (f"s.run_id = {d.mark}", run_id),
        ):
            if value is not None:
                clauses.append(clause)
                params.append(value)
        where, more = d.session_where(filters, *clauses)
        runtime = d.sum("CASE WHEN s.ended_ms >= s.started_ms THEN s.ended_ms - s.started_ms END")
        ((count, runtime_ms),) = self._rows(
            f"SELECT COUNT(*), {runtime} FROM sessions s {where}", [*params, *more]
        )
        return int(count), (runtime_ms / 1000 if runtime_ms is not None else None)

    def count_runs(self) -> int:
        return int(self._rows("SELECT COUNT(*) FROM runs")[0][0])

    def count_sessions(self, filters: Filters) -> int:
        where, params = self.dialect.session_where(filters)
        return int(self._rows(f"SELECT COUNT(*) FROM sessions s {where}", params)[0][0])

    def recent_sessions(
        self, filters: Filters, limit: int, offset: int = 0
    ) -> list[SessionTotalsRow]:
        """Top-level sessions, most recently active first, with their own totals."""
        d = self.dialect
        where, params = d.session_where(
            filters, "(s.relationship IS NULL OR s.relationship != 'subagent')"
        )
        sums = ", ".join(f"{d.sum(m)} AS {m}" for m in MEASURES)
        sql = (
            f"SELECT {prefixed(SESSION_COLUMN_LIST, 's')}, t.first_ms, t.last_ms, "
            + ", ".join(f"COALESCE(t.{m}, 0)" for m in MEASURES)
            + " FROM sessions s LEFT JOIN (SELECT session_key, MIN(first_ms) AS first_ms, "
            f"MAX(last_ms) AS last_ms, {sums} FROM session_totals GROUP BY session_key) t "
            f"ON t.session_key = s.session_key {where} "
            # SQLite sorts NULL lowest: last when descending
            f"ORDER BY COALESCE(s.ended_ms, t.last_ms, s.started_ms) DESC{d.nulls_last}, "
            f"s.session_key LIMIT {d.mark} OFFSET {d.mark}"
        )
        width = len(SESSION_COLUMN_LIST)
        return [
            SessionTotalsRow(
                session=session_from_row(row[:width]),
                model=None,
                totals=Totals(tuple(row[width + 2 :])),
                first_ms=row[width],
                last_ms=row[width + 1],
            )
            for row in self._rows(sql, [*params, limit, offset])
        ]

    def active_ms(self, session_keys: Sequence[str], idle_gap_ms: int) -> dict[str, int]:
        found: dict[str, int] = {}
        for clause, params in self.dialect.key_lists("session_key", session_keys):
            sql = ACTIVE_MS_SQL.format(gap=self.dialect.mark, keys=clause)
            for key, active in self._rows(sql, [idle_gap_ms, *params]):
                found[key] = int(active or 0)
        return found

    # -- requests ----------------------------------------------------------------------

    def session_entries(self, session_keys: Sequence[str]) -> list[Entry]:
        """Every request of these sessions, oldest first (a session's timeline)."""
        d = self.dialect
        rows = d.select_in(
            self._rows, f"SELECT {d.event_columns} FROM events", "session_key", session_keys
        )
        entries = [entry_from_row(row) for row in rows]
        entries.sort(key=lambda e: (e.event.timestamp_ms, e.event.key))
        return entries

    def status(self) -> StoreStatus:
        ((events, first, last),) = self._rows("SELECT COUNT(*), MIN(ts_ms), MAX(ts_ms) FROM events")
        counts = [
            int(self._rows(f"SELECT COUNT(*) FROM {table}")[0][0])
            for table in ("sessions", "cursors", "retractions")
        ]
        size = self._size_bytes()
        migrations = tuple(self.applied_migrations())
        return StoreStatus(
            location=self.location,
            schema_version=len(migrations),
            migrations=migrations,
            events=int(events),
            sessions=counts[0],
            files=counts[1],
            first_event=utc_from_ms(first) if first is not None else None,
            last_event=utc_from_ms(last) if last is not None else None,
            size_bytes=size,
            retracted=counts[2],
        )

    # -- team mode -----------------------------------------------------------------------

    def ledger_id(self) -> str:
        found = self._rows("SELECT value FROM meta WHERE key = 'ledger_id'")
        if found:
            return str(found[0][0])
        with self.write() as tx:  # a ledger a newer tokentrail wrote raises: read-only
            return tx.ledger_id()

    # -- blocks and tools ----------------------------------------------------------------

    def rate_limits(self, filters: Filters) -> list[RateLimitSnapshot]:
        return blocks_sql.rate_limits(self._rows, self.dialect.mark, filters)

    # the active block from the hourly rollups, where the engine keeps them
    # (tokentrail.blocks.RollupReader): a few hundred hours instead of every minute

    @property
    def reads_hourly_rollups(self) -> bool:
        return self.dialect.hourly_rollups

    def usage_hours(self, filters: Filters) -> list[int]:
        return blocks_sql.usage_hours(self._rows, self.dialect.mark, filters)

    def model_totals(self, filters: Filters) -> list[tuple[str | None, Totals]]:
        sums = self.dialect.measure_sums()
        return blocks_sql.hour_model_totals(self._rows, self.dialect.mark, filters, sums)

    def request_span(self, filters: Filters) -> tuple[int, int] | None:
        return blocks_sql.request_span(self._rows, self.dialect.mark, filters)

    def tool_call_rows(
        self, filters: Filters, session_keys: Sequence[str] = ()
    ) -> list[ToolCallRow]:
        return tool_sql.tool_call_rows(self._rows, self.dialect.mark, filters, session_keys)

    # -- dashboard (SQL in tokentrail.store.dashboard_sql) ---------------------------------

    def _session_views(self) -> dashboard_sql.SessionViews:
        raise NotImplementedError

    def session_day_counts(
        self, filters: Filters, segments: Sequence[OffsetSegment], models: Sequence[str] = ()
    ) -> list[tuple[int, int]]:
        return self._session_views().day_counts(self._rows, filters, segments, models)

    def session_page(self, query: SessionPageQuery) -> SessionPage:
        return self._session_views().page(self._rows, query)

    def group_names(self, by: GroupDimension) -> list[str]:
        return self._session_views().names(self._rows, by)

    def change_marker(self) -> str:
        return dashboard_sql.change_marker(self.dialect, self._rows)

    def group_totals(
        self, filters: Filters, by: GroupDimension, models: Sequence[str] = ()
    ) -> list[GroupTotalsRow]:
        by_days = self.group_totals_by_days(filters, (by,), models)
        if by_days is None:
            return dashboard_sql.group_totals(self.dialect, self._rows, filters, by, models)
        from tokentrail.store.records import GroupTotalsRow

        return [GroupTotalsRow(group=row.groups[0], totals=row.totals) for row in by_days]

    def group_totals_by(
        self, filters: Filters, by: Sequence[GroupDimension], models: Sequence[str] = ()
    ) -> list[GroupsTotalsRow]:
        by_days = self.group_totals_by_days(filters, by, models)
        if by_days is not None:
            return by_days
        return dashboard_sql.group_totals_by(self.dialect, self._rows, filters, by, models)

    def group_totals_by_days(
        self, filters: Filters, by: Sequence[GroupDimension], models: Sequence[str]
    ) -> list[GroupsTotalsRow] | None:
        """:meth:`group_totals_by` from the kept UTC days (and the fine rollups at the ends
        of the range); None when they cannot answer (a project) or the lifetime rollups can
        (no time range: see :mod:`tokentrail.store.lifetime_rollups`)."""
        if len(by) != 1 or not day_reads.fits(filters, by[0]):
            return None
        if filters.since_ms is None and filters.until_ms is None:
            return None
        union, params = day_reads.day_union(
            self.dialect, filters, day_reads.UTC, frozenset({0}), by[0], models
        )
        sql = f"SELECT g, {self.dialect.measure_sums()} FROM ({union}) u GROUP BY g"
        from tokentrail.store.records import GroupsTotalsRow

        return [
            GroupsTotalsRow(groups=(row[0] or None,), totals=Totals(tuple(row[1:])))
            for row in self._rows(sql, params)
        ]

    def interval_totals(
        self,
        filters: Filters,
        segments: Sequence[OffsetSegment],
        interval_ms: int,
        by_model: bool,
        models: Sequence[str] = (),
    ) -> list[IntervalRow]:
        group = "model" if by_model else None
        if interval_ms % day_reads.DAY_MS == 0 and day_reads.fits(filters, group) and segments:
            # whole days: summed from the kept days of the zone's offsets
            union, params = day_reads.day_union(
                self.dialect, filters, segments, self._kept_offsets(segments), group, models
            )
            sql = (
                f"SELECT (day * {day_reads.DAY_MS}) / {int(interval_ms)} AS idx, g, "
                f"{self.dialect.measure_sums()} FROM ({union}) u GROUP BY idx, g ORDER BY idx, g"
            )
            from tokentrail.store.records import IntervalRow

            return [
                IntervalRow(index=int(row[0]), model=row[1] or None, totals=Totals(tuple(row[2:])))
                for row in self._rows(sql, params)
            ]
        return dashboard_sql.interval_totals(
            self.dialect, self._rows, filters, segments, interval_ms, by_model, models
        )
