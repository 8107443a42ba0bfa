"""The dashboard's session views for the PostgreSQL store: the pages and day counts that
:mod:`tokentrail.store.sqlite_dashboard` computes from an in-memory index, here rolled up in
one query (subagents on their top-level session; text sorted byte-wise, as SQLite does). The
shared views (:mod:`tokentrail.store.dashboard_sql`) are named here too, in this dialect.

:class:`tokentrail.store.postgres.PostgresStore` delegates to these functions, passing its
``_rows`` (run one query on a pooled connection, return its rows).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

from tokentrail.store import dashboard_sql
from tokentrail.store.dashboard_sql import Days, Models, Segments
from tokentrail.store.dialect import POSTGRES, Rows, local_time_sql
from tokentrail.store.figures import MEASURES, Filters, Totals
from tokentrail.store.records import (
    GroupDimension,
    SessionPage,
    SessionPageQuery,
    SessionPageRow,
    SessionSort,
)
from tokentrail.store.rows import SESSION_COLUMN_LIST, session_from_row
from tokentrail.store.scope_sql import time_clauses

# the shared views in this dialect, by the names the tests compare with SQLite's
change_marker = partial(dashboard_sql.change_marker, POSTGRES)
group_totals = partial(dashboard_sql.group_totals, POSTGRES)
group_totals_by = partial(dashboard_sql.group_totals_by, POSTGRES)
interval_totals = partial(dashboard_sql.interval_totals, POSTGRES)


# the one session rule (tokentrail.reports.session_counts): a subagent rolls up on a parent
# that made a request (of any model); else it is a session of its own
_PARENT_USED = (
    "EXISTS (SELECT 1 FROM session_totals p WHERE p.session_key = {0}.parent_key "
    "AND p.requests > 0)"
)
_TOP_LEVEL = (
    "(COALESCE(s.relationship, '') != 'subagent' OR s.parent_key IS NULL OR NOT "
    + _PARENT_USED.format("s")
    + ")"
)


def _rolled_up(models: Sequence[str]) -> tuple[str, list[Any]]:
    own = ", ".join(
        f"CAST(SUM(CASE WHEN t.session_key = r.root THEN t.{m} ELSE 0 END) AS BIGINT) AS own_{m}"
        for m in MEASURES
    )
    where = "WHERE t.model = ANY(%s)" if models else ""
    sql = (
        # every top-level session, and its subagents (of subagents …) rolled up on it
        f"WITH RECURSIVE roots(key, root, depth) AS (SELECT s.session_key, s.session_key, 0 "
        f"FROM sessions s WHERE {_TOP_LEVEL} UNION ALL SELECT c.session_key, r.root, "
        "r.depth + 1 FROM sessions c JOIN roots r ON c.parent_key = r.key "
        f"WHERE c.relationship = 'subagent' AND {_PARENT_USED.format('c')} AND r.depth < 64), "
        "kids AS (SELECT root, COUNT(*) - 1 AS n FROM roots GROUP BY root), "
        "agg AS (SELECT r.root AS root, MIN(t.first_ms) AS first_ms, MAX(t.last_ms) AS last_ms, "
        + ", ".join(f"CAST(SUM(t.{m}) AS BIGINT) AS {m}" for m in MEASURES)
        + f", {own} FROM session_totals t JOIN roots r ON r.key = t.session_key {where} "
        "GROUP BY r.root) "
    )
    return sql, [list(models)] if models else []


def _page_where(query: SessionPageQuery) -> tuple[str, list[Any]]:
    f = query.filters
    # as the one session count: by its last request, or a session without usage by its start
    when = "(CASE WHEN COALESCE(a.requests, 0) > 0 THEN a.last_ms ELSE s.started_ms END)"
    in_range, params = time_clauses(f, POSTGRES.mark, when)
    clauses = [_TOP_LEVEL, *in_range]
    if query.models or not query.without_usage:
        clauses.append("COALESCE(a.requests, 0) > 0")
    if query.search:
        clauses.append(
            "(strpos(lower(COALESCE(s.title, '')), %s) > 0 "
            "OR strpos(lower(s.session_key), %s) > 0 "
            "OR strpos(lower(COALESCE(s.project, '')), %s) > 0 "
            "OR strpos(lower(COALESCE(s.identifier, '')), %s) > 0)"
        )
        params.extend([query.search.lower()] * 4)
    where, more = POSTGRES.session_where(f, *clauses)
    return where, [*params, *more]


_SPAN = (
    # the wall span a session's row shows (tokentrail.reports.session_runtime): recorded start
    # to end when an orchestrator closed it (it has a state), else first to last request
    "(CASE WHEN s.state IS NOT NULL AND s.ended_ms IS NOT NULL AND s.started_ms IS NOT NULL "
    "THEN GREATEST(s.ended_ms - s.started_ms, 0) "
    "WHEN a.first_ms IS NOT NULL AND a.last_ms IS NOT NULL "
    "THEN GREATEST(a.last_ms - a.first_ms, 0) "
    "WHEN s.ended_ms IS NOT NULL AND s.started_ms IS NOT NULL "
    "THEN GREATEST(s.ended_ms - s.started_ms, 0) END)"
)
# a session none of whose requests reported a token count (Crush) has unknown tokens
_TOKENS = (
    "CASE WHEN a.n_input + a.n_cache_read + a.n_cache_write + a.n_output > 0 "
    "THEN a.input + a.cache_read + a.cache_write_5m + a.cache_write_1h + a.output END"
)
_SORT_SQL: dict[str, str] = {
    "last_activity": "COALESCE(a.last_ms, s.ended_ms, s.started_ms)",
    "started": "COALESCE(s.started_ms, a.first_ms)",
    # a session none of whose requests could be priced has an unknown cost: it sorts last
    "cost": "CASE WHEN a.requests > a.unpriced_requests THEN a.cost_micro END",
    "tokens": _TOKENS,
    "requests": "a.requests",
    "runtime": _SPAN,
    "title": 'lower(COALESCE(s.title, s.session_key)) COLLATE "C"',
    "source": 's.source COLLATE "C"',
}


def _order_by(sort: SessionSort, descending: bool) -> str:
    direction = "DESC" if descending else "ASC"
    key = _SORT_SQL[sort]
    return (
        f"ORDER BY ({_SORT_SQL[sort].split(' COLLATE')[0]}) IS NULL, {key} {direction}, "
        f's.session_key COLLATE "C" {direction}'
    )


def session_page(rows: Rows, query: SessionPageQuery) -> SessionPage:
    if query.sort not in _SORT_SQL:
        raise ValueError(f"cannot sort sessions by {query.sort!r}")
    cte, cte_params = _rolled_up(query.models)
    where, params = _page_where(query)
    base = f"FROM sessions s LEFT JOIN agg a ON a.root = s.session_key {where}"
    ((count, runtime),) = rows(
        f"{cte} SELECT COUNT(*), CAST(SUM({_SPAN}) AS BIGINT) {base}",
        [*cte_params, *params],
    )
    found: list[SessionPageRow] = []
    if query.limit > 0 and query.offset < count:
        columns = ", ".join(f"s.{c}" for c in SESSION_COLUMN_LIST)
        sums = ", ".join(f"COALESCE(a.{m}, 0)" for m in MEASURES)
        own = ", ".join(f"COALESCE(a.own_{m}, 0)" for m in MEASURES)
        sql = (
            f"{cte} SELECT {columns}, a.first_ms, a.last_ms, {sums}, {own}, "
            "(SELECT k.n FROM kids k WHERE k.root = s.session_key) "
            f"{base} "
            f"{_order_by(query.sort, query.descending)} LIMIT %s OFFSET %s"
        )
        width = len(SESSION_COLUMN_LIST)
        n = len(MEASURES)
        for row in rows(sql, [*cte_params, *params, query.limit, query.offset]):
            found.append(
                SessionPageRow(
                    session=session_from_row(row[:width]),
                    first_ms=row[width],
                    last_ms=row[width + 1],
                    totals=Totals(tuple(int(v) for v in row[width + 2 : width + 2 + n])),
                    own=Totals(tuple(int(v) for v in row[width + 2 + n : width + 2 + 2 * n])),
                    subagents=int(row[width + 2 + 2 * n]),
                )
            )
    return SessionPage(
        rows=found, total=int(count), runtime_ms=int(runtime) if runtime is not None else None
    )


def session_day_counts(
    rows: Rows, filters: Filters, segments: Segments, models: Sequence[str]
) -> list[tuple[int, int]]:
    if not segments:
        raise ValueError("session_day_counts needs at least one UTC offset segment")
    cte, cte_params = _rolled_up(models)
    clauses = [_TOP_LEVEL, "COALESCE(a.requests, 0) > 0"]
    where, params = POSTGRES.session_where(
        Filters(sources=filters.sources, project=filters.project), *clauses
    )
    bounds = ["start_ms IS NOT NULL"]
    bound_params: list[Any] = []
    if filters.since_ms is not None:
        bounds.append("start_ms >= %s")
        bound_params.append(filters.since_ms)
    if filters.until_ms is not None:
        bounds.append("start_ms < %s")
        bound_params.append(filters.until_ms)
    local = local_time_sql("start_ms", segments)
    sql = (
        f"{cte} SELECT ({local}) / 86400000 AS day, COUNT(*) FROM ("
        "SELECT COALESCE(s.started_ms, a.first_ms) AS start_ms "
        f"FROM sessions s LEFT JOIN agg a ON a.root = s.session_key {where}) starts "
        f"WHERE {' AND '.join(bounds)} GROUP BY 1 ORDER BY 1"
    )
    return [(int(day), int(n)) for day, n in rows(sql, [*cte_params, *params, *bound_params])]


def group_names(rows: Rows, by: GroupDimension) -> list[str]:
    column = dashboard_sql.GROUP_COLUMN[by]
    found = rows(f"SELECT DISTINCT {column} FROM rollups WHERE {column} != ''", ())
    return sorted(row[0] for row in found if row[0])


class RolledUp:
    """The session views of :class:`~tokentrail.store.dashboard_sql.SessionViews`, in SQL."""

    def day_counts(self, rows: Rows, filters: Filters, segments: Segments, models: Models) -> Days:
        return session_day_counts(rows, filters, segments, models)

    def page(self, rows: Rows, query: SessionPageQuery) -> SessionPage:
        return session_page(rows, query)

    def names(self, rows: Rows, by: GroupDimension) -> list[str]:
        return group_names(rows, by)


ROLLED_UP = RolledUp()
