"""How each engine spells the SQL both stores share, and where their schemas differ.

The stores run the same statements (:mod:`tokentrail.store.sql_reads`,
:mod:`tokentrail.store.sql_write`, :mod:`tokentrail.store.otlp_sql`,
:mod:`tokentrail.store.dashboard_sql`); a :class:`Dialect` fills in what is not standard SQL
(the placeholder, sums that PostgreSQL widens to NUMERIC, the rounding of a reported cost,
NULL ordering, lists of keys) and names the few tables and columns one engine has and the
other has not (users, hourly rollups, change sequences).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tokentrail.store.base import MEASURE_SQL, MEASURES, Filters, OffsetSegment
from tokentrail.store.scope_sql import Placeholder, contains, marks, scope_clauses

Rows = Callable[[str, Sequence[Any]], list[tuple[Any, ...]]]
"""Run one query and return its rows (each store's ``_rows``)."""

Executemany = Callable[[str, Sequence[Sequence[Any]]], Any]
"""Run one statement once per row of parameters (inside a write transaction)."""


def _round_sqlite(expr: str) -> str:
    return f"ROUND({expr})"


def _round_postgres(expr: str) -> str:
    # PostgreSQL's round(double precision) rounds halves to even, SQLite's ROUND away from
    # zero: spell SQLite's rule out (in double precision, as SQLite computes it) so both
    # engines turn a reported cost into the very same micro-dollars.
    return f"CASE WHEN {expr} >= 0 THEN floor({expr} + 0.5) ELSE ceil({expr} - 0.5) END"


@dataclass(frozen=True, slots=True)
class Dialect:
    """One engine's spelling of the shared SQL, and its schema's differences."""

    name: str
    """``sqlite`` or ``postgres``."""
    mark: Placeholder
    integer: str
    """The integer type to CAST to."""
    widening_sums: bool
    """True where SUM of an integer column is a wider type (PostgreSQL's NUMERIC)."""
    nulls_last: str
    """What makes a descending order put NULL last (SQLite sorts NULL lowest already)."""
    greatest: str
    """The scalar larger-of function."""
    user_column: str | None
    """The column naming who a row belongs to; None: a local ledger keeps no users."""
    in_chunk: int | None
    """Keys per ``IN (...)`` list (SQLite's limit on variables); None: one array parameter."""
    hourly_rollups: bool
    """Whether ``rollups_hourly`` exists beside the 15-minute ``rollups``."""
    text_keeps_nul: bool
    """Whether text may hold NUL characters (PostgreSQL's cannot: they become U+FFFD)."""
    change_tables: Mapping[str, str]
    """Tables whose change sequence is kept in a table of its own (``sessions`` → its);
    the others have a ``change_seq`` column."""
    round_half_away: Callable[[str], str]
    """An expression rounding a number half away from zero (SQLite's ROUND)."""

    @property
    def totals_tables(self) -> tuple[str, ...]:
        """The tables of sums whose rows go once they are empty (a run's totals stay)."""
        hourly = ("rollups_hourly",) if self.hourly_rollups else ()
        return ("rollups", *hourly, "rollups_daily", "lifetime_rollups", "session_totals")

    @property
    def event_columns(self) -> str:
        user = f", {self.user_column}" if self.user_column else ""
        return f"{EVENT_COLUMNS}{user}"

    def changes(self, table: str, alias: str, key: str) -> tuple[str, str]:
        """The FROM clause of ``table`` (as ``alias``) joined to its change sequence, and the
        sequence's column."""
        changes = self.change_tables.get(table)
        if changes is None:
            return f"{table} {alias}", f"{alias}.change_seq"
        return f"{changes} c JOIN {table} {alias} ON {alias}.{key} = c.{key}", "c.change_seq"

    def change_source(self, table: str) -> str:
        """The table holding ``table``'s change sequence."""
        return self.change_tables.get(table, table)

    @property
    def measure_sql(self) -> dict[str, str]:
        """:data:`MEASURE_SQL`, with this engine's rounding of a reported cost."""
        if not self.widening_sums:
            return dict(MEASURE_SQL)
        micro = self.round_half_away("reported_cost_usd * 1000000")
        return {
            **MEASURE_SQL,
            "reported_cost_micro": f"COALESCE(SUM(CAST({micro} AS {self.integer})), 0)",
        }

    def sum(self, expr: str) -> str:
        """SUM of integers, as an integer."""
        return f"CAST(SUM({expr}) AS {self.integer})" if self.widening_sums else f"SUM({expr})"

    def as_int(self, expr: str) -> str:
        """An aggregate of integers (or a wider sum), as an integer."""
        return f"CAST({expr} AS {self.integer})" if self.widening_sums else expr

    def measure_sums(self, prefix: str = "") -> str:
        return ", ".join(self.sum(f"{prefix}{m}") for m in MEASURES)

    def key_lists(self, column: str, keys: Sequence[str]) -> Iterator[tuple[str, list[Any]]]:
        """``column`` is one of ``keys``: one clause and its parameters per chunk."""
        if self.in_chunk is None:
            if keys:
                yield f"{column} = ANY({self.mark})", [list(keys)]
            return
        for start in range(0, len(keys), self.in_chunk):
            chunk = list(keys[start : start + self.in_chunk])
            yield f"{column} IN ({marks(self.mark, len(chunk))})", chunk

    def in_list(self, column: str, keys: Sequence[str]) -> tuple[str, list[Any]]:
        """``column`` is one of ``keys``, as one clause (however many keys)."""
        if not keys:
            return "1 = 0", []
        if self.in_chunk is None:
            return f"{column} = ANY({self.mark})", [list(keys)]
        return f"{column} IN ({marks(self.mark, len(keys))})", list(keys)

    def select_in(
        self, rows: Rows, select: str, column: str, keys: Sequence[str]
    ) -> list[tuple[Any, ...]]:
        """Rows of ``select`` whose ``column`` is one of ``keys``."""
        found: list[tuple[Any, ...]] = []
        for clause, params in self.key_lists(column, keys):
            found.extend(rows(f"{select} WHERE {clause}", params))
        return found

    def rollup_table(
        self, filters: Filters, segments: Sequence[OffsetSegment] = (), interval_ms: int = 0
    ) -> str:
        """The rollups to sum for these bounds (see :func:`hourly_fits`)."""
        if self.hourly_rollups and hourly_fits(filters, segments, interval_ms or HOUR_MS):
            return "rollups_hourly"
        return "rollups"

    def rollup_where(self, filters: Filters, *extra: str) -> tuple[str, list[Any]]:
        """WHERE clause of a rollup table's rows in the filters' scope."""
        clauses, params = scope_clauses(
            filters, self.mark, ts="bucket_ms", project="project", user=self.user_column
        )
        clauses = [*extra, *clauses]
        return (f"WHERE {' AND '.join(clauses)}" if clauses else ""), params

    def session_where(self, filters: Filters, *extra: str) -> tuple[str, list[Any]]:
        """WHERE clause of sessions (alias ``s``) of the filters' sources and project."""
        clauses: list[str] = list(extra)
        params: list[Any] = []
        if filters.sources:
            clauses.append(f"s.source IN ({marks(self.mark, len(filters.sources))})")
            params.extend(filters.sources)
        if filters.project:
            clauses.append(contains(self.mark, "s.project"))
            params.append(filters.project)
        return (f"WHERE {' AND '.join(clauses)}" if clauses else ""), params


HOUR_MS = 3_600_000

EVENT_COLUMNS = (
    "event_key, source, machine, run_id, session_key, ts_ms, model, provider, "
    "input, cache_read, cache_write_5m, cache_write_1h, output, reasoning, "
    "cost_status, cost_micro, price_version, reported_cost_usd, pricing_context, "
    "project, git_branch, rank, raw_usage, cache_saving_micro, web_searches"
)


def hourly_fits(filters: Filters, segments: Sequence[OffsetSegment], interval_ms: int) -> bool:
    """True when every bound, every change of UTC offset (after the first segment's start) and
    the interval are whole hours: local days and hours are then unions of UTC hours, and the
    hourly rollups give the same sums from a fraction of the rows. Otherwise (zones such as
    Asia/Kolkata, +05:30) only the 15-minute ones do."""
    bounds = [filters.since_ms, filters.until_ms, *(s.start_ms for s in segments[1:])]
    if any(ms is not None and ms % HOUR_MS for ms in bounds):
        return False
    return not (any(s.offset_ms % HOUR_MS for s in segments) or interval_ms % HOUR_MS)


def local_time_sql(column: str, segments: Sequence[OffsetSegment]) -> str:
    """``column`` shifted into local time: a CASE over the zone's offset segments.

    The values are integers computed by us, not user input, so inlining them is safe.
    """
    if not segments:
        raise ValueError("a local-time grouping needs at least one UTC offset segment")
    if len(segments) == 1:
        return f"{column} + {int(segments[0].offset_ms)}"
    cases = " ".join(
        f"WHEN {column} < {int(nxt.start_ms)} THEN {column} + {int(seg.offset_ms)}"
        for seg, nxt in itertools.pairwise(segments)
    )
    return f"CASE {cases} ELSE {column} + {int(segments[-1].offset_ms)} END"


SQLITE = Dialect(
    name="sqlite",
    mark="?",
    integer="INTEGER",
    widening_sums=False,
    nulls_last="",
    greatest="MAX",
    user_column=None,
    in_chunk=500,
    hourly_rollups=True,
    text_keeps_nul=True,
    change_tables={"sessions": "session_changes", "runs": "run_changes"},
    round_half_away=_round_sqlite,
)

POSTGRES = Dialect(
    name="postgres",
    mark="%s",
    integer="BIGINT",
    widening_sums=True,
    nulls_last=" NULLS LAST",
    greatest="GREATEST",
    user_column="user_name",
    in_chunk=None,
    hourly_rollups=False,
    text_keeps_nul=False,
    change_tables={},
    round_half_away=_round_postgres,
)
