"""Local days read from the kept ones (:mod:`tokentrail.store.day_rollups`) where they can
answer, and from the hourly or 15-minute rollups where they cannot: the same sums either way."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tokentrail.store.base import Filters, OffsetSegment
from tokentrail.store.day_rollups import DAY_MS, FIRST_DAY, TABLE

__all__ = ["DAY_MS", "UTC", "DayPlan", "day_union", "fits", "plan"]
from tokentrail.store.dialect import Dialect, hourly_fits, local_time_sql
from tokentrail.store.figures import MEASURES
from tokentrail.store.scope_sql import scope_clauses


@dataclass(frozen=True, slots=True)
class DayPlan:
    """Where a range's local days are read from."""

    days: tuple[tuple[int, int, int | None], ...]
    """(offset, first day, end day or None: unbounded): whole days from the kept ones."""
    fine: tuple[tuple[int | None, int | None], ...]
    """UTC ranges [from, to) (None: unbounded) read from the fine rollups."""


def plan(filters: Filters, segments: Sequence[OffsetSegment], kept: frozenset[int]) -> DayPlan:
    """Split the filters' time range along the zone's offset stretches: the whole local days
    of a stretch whose offset is kept, and everything else for the fine rollups."""
    days: list[tuple[int, int, int | None]] = []
    fine: list[tuple[int | None, int | None]] = []
    for i, segment in enumerate(segments):
        start = _later(segment.start_ms if i else None, filters.since_ms)
        end = _earlier(
            segments[i + 1].start_ms if i + 1 < len(segments) else None, filters.until_ms
        )
        if start is not None and end is not None and start >= end:
            continue
        offset = segment.offset_ms
        first = FIRST_DAY if start is None else max(-(-(start + offset) // DAY_MS), FIRST_DAY)
        last = None if end is None else (end + offset) // DAY_MS
        if offset not in kept or (last is not None and first >= last):
            fine.append((start, end))
            continue
        days.append((offset, first, last))
        head_end = first * DAY_MS - offset
        if start is None or start < head_end:
            fine.append((start, head_end))
        if last is not None and end is not None and last * DAY_MS - offset < end:
            fine.append((last * DAY_MS - offset, end))
    return DayPlan(tuple(days), tuple(fine))


def _later(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else max(a, b)


def _earlier(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else min(a, b)


def fits(filters: Filters, group: str | None) -> bool:
    """Whether kept days can answer: no project filter, and a group they are kept per."""
    return not filters.project and group in (None, "source", "model", "machine", "user")


def day_union(
    d: Dialect,
    filters: Filters,
    segments: Sequence[OffsetSegment],
    kept: frozenset[int],
    group: str | None,
    models: Sequence[str] = (),
) -> tuple[str, list[Any]]:
    """A query of rows ``(day, g, <measures>)``: the local days (numbered as
    ``local_time_sql(...) / DAY_MS`` numbers them) of the filters' scope, in ``segments``'
    zone, one or more rows per day and group (``group``: a column kept per day, or None for
    one group ''). Sum them per day (and group) for the figures."""
    the_plan = plan(filters, segments, kept)
    scope, scope_params = _scope(d, filters, models)
    measures = ", ".join(MEASURES)
    parts: list[str] = []
    params: list[Any] = []
    for offset, first, last in the_plan.days:
        bounds = "day >= " + d.mark + ("" if last is None else f" AND day < {d.mark}")
        clauses = " AND ".join([f"offset_ms = {d.mark}", bounds, *scope])
        parts.append(
            f"SELECT day, {_group_sql(d, group)} AS g, {measures} FROM {TABLE} WHERE {clauses}"
        )
        params += [offset, first, *(() if last is None else (last,)), *scope_params]
    if the_plan.fine or not parts:  # (an empty range: a part that finds nothing)
        ranges: list[str] = ["1 = 0"] if not the_plan.fine else []
        range_params: list[Any] = []
        for start, end in the_plan.fine:
            tests = [
                *(() if start is None else (f"bucket_ms >= {d.mark}",)),
                *(() if end is None else (f"bucket_ms < {d.mark}",)),
            ]
            ranges.append("(" + (" AND ".join(tests) or "1 = 1") + ")")
            range_params += [v for v in (start, end) if v is not None]
        table = _fine_table(d, filters, segments)
        clauses = " AND ".join(["(" + " OR ".join(ranges) + ")", *scope])
        parts.append(
            f"SELECT ({local_time_sql('bucket_ms', segments)}) / {DAY_MS} AS day, "
            f"{_group_sql(d, group)} AS g, {measures} FROM {table} WHERE {clauses}"
        )
        params += [*range_params, *scope_params]
    return " UNION ALL ".join(parts), params


def _fine_table(d: Dialect, filters: Filters, segments: Sequence[OffsetSegment]) -> str:
    """The hourly rollups when the range's bounds and the zone's offsets and changes are
    whole hours (so is then every bound of the fine ranges, and each hourly bucket lies in one
    local day), else the 15-minute ones."""
    return (
        "rollups_hourly"
        if d.hourly_rollups and hourly_fits(filters, segments, DAY_MS)
        else "rollups"
    )


def _group_sql(d: Dialect, group: str | None) -> str:
    if group is None:
        return "''"
    if group == "user":
        return d.user_column or "''"
    return group


def _scope(d: Dialect, filters: Filters, models: Sequence[str]) -> tuple[list[str], list[Any]]:
    """Clauses on sources, machines, users (and ``models``) that both kinds of rows take."""
    clauses, params = scope_clauses(
        filters._replace(since_ms=None, until_ms=None), d.mark, ts="", user=d.user_column
    )
    if models:
        clause, more = d.in_list("model", models)
        clauses.append(clause)
        params += more
    return clauses, params


UTC: tuple[OffsetSegment, ...] = (OffsetSegment(0, 0),)
"""The zone whose days are kept in every ledger: what a sum over a time range, whatever its
days, reads."""
