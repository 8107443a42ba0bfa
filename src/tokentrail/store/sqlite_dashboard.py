"""The dashboard's session views for the SQLite store: session counts per day and sorted
pages of sessions (the shared views are in :mod:`tokentrail.store.dashboard_sql`).

:class:`tokentrail.store.sqlite.SQLiteStore` delegates to these functions, passing its
``_rows``; each reads the per-session totals, never the raw events.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from tokentrail.store.base import (
    MEASURES,
    SESSION_SORTS,
    Filters,
    GroupDimension,
    SessionPage,
    SessionPageQuery,
    SessionPageRow,
    SessionSort,
    SessionTotalsRow,
    Totals,
)
from tokentrail.store.dashboard_sql import GROUP_COLUMN, Days, Models, Segments, change_marker
from tokentrail.store.dialect import HOUR_MS, SQLITE, Rows
from tokentrail.store.rows import SESSION_COLUMNS, session_from_row

_SUMS = ", ".join(f"SUM({m})" for m in MEASURES)


def rollup_table(filters: Filters, segments: Segments = (), interval_ms: int = HOUR_MS) -> str:
    """The SQLite store's rollups for these bounds (see :func:`dialect.hourly_fits`)."""
    return SQLITE.rollup_table(filters, segments, interval_ms)


# -- sessions --------------------------------------------------------------------------------
#
# Listing sessions needs a few figures of every session (first and last request, cost, size)
# with subagents rolled up on their parents. Aggregating them in SQL for every page costs a
# full pass over the per-session totals with a join SQLite cannot index; instead the store
# keeps them in memory, read in two ordered passes, until the ledger's change marker moves.
# A page then filters and sorts those in Python and reads full sums only for its own rows.
# The per-session totals of every session of a scope (what the session counts are worked out
# from, a row built per session) are kept the same way.


@dataclass(slots=True)
class _Listed:
    """A top-level session with the figures it is filtered and sorted by (rolled up)."""

    key: str
    source: str
    project: str | None
    title: str | None
    identifier: str | None
    started_ms: int | None
    ended_ms: int | None
    state: str | None = None
    first_ms: int | None = None
    last_ms: int | None = None
    requests: int = 0
    unpriced: int = 0
    cost_micro: int = 0
    tokens: int = 0
    has_tokens: bool = False
    """Some request reported a token count (a Crush session reports its cost alone)."""
    has_usage: bool = False
    kids: list[str] = field(default_factory=list)
    runtime_ms: int | None = None
    """Its wall span (:func:`_runtime`), worked out once its figures are whole."""


@dataclass(slots=True)
class _Spans:
    """When each listed session counts (:func:`_matches`' moment), sorted, with the running
    count and sum of the known runtimes: a page's total and runtime over a time range by two
    bisections instead of a pass over every session."""

    whens: list[int]
    known: list[int]
    """Sessions with a known runtime among the first i of ``whens`` (i = 0 … len)."""
    runtime: list[int]
    """Their summed runtime (ms)."""
    unknown_when: tuple[int, int, int]
    """Sessions without a moment (counted only without a time range): count, known runtimes,
    their sum."""


@dataclass(slots=True)
class _Index:
    sessions: list[_Listed]
    spans: dict[bool, _Spans] = field(default_factory=dict)
    """By whether sessions without usage are listed too; built on first use."""
    orders: dict[tuple[SessionSort, bool], list[_Listed]] = field(default_factory=dict)
    """Every session in a sort's order (sort, descending); built on first use."""

    def spans_of(self, idle: bool) -> _Spans:
        found = self.spans.get(idle)
        if found is None:
            pairs: list[tuple[int, int | None]] = []
            unknown = [0, 0, 0]
            for e in self.sessions:
                if not e.requests and not idle:
                    continue
                when = e.last_ms if e.requests else e.started_ms
                if when is None:
                    unknown[0] += 1
                    if e.runtime_ms is not None:
                        unknown[1] += 1
                        unknown[2] += e.runtime_ms
                else:
                    pairs.append((when, e.runtime_ms))
            pairs.sort(key=lambda pair: pair[0])
            known, runtime = [0], [0]
            for _, ms in pairs:
                known.append(known[-1] + (ms is not None))
                runtime.append(runtime[-1] + (ms or 0))
            found = self.spans[idle] = _Spans(
                [when for when, _ in pairs], known, runtime, (unknown[0], unknown[1], unknown[2])
            )
        return found

    def ordered(self, sort: SessionSort, descending: bool) -> list[_Listed]:
        """Every session in the order of a page (what heapq.nlargest / nsmallest of the
        sessions with a value, then the others by key, give), sorted once."""
        key = (sort, descending)
        found = self.orders.get(key)
        if found is None:
            valued = [(_sort_value(e, sort), e) for e in self.sessions]
            known = sorted(
                ((v, e) for v, e in valued if v is not None),
                key=lambda pair: (pair[0], pair[1].key),
                reverse=descending,
            )
            found = self.orders[key] = [e for _, e in known] + sorted(
                (e for v, e in valued if v is None), key=lambda e: e.key, reverse=descending
            )
        return found


class SessionIndex:
    """The per-session figures of the ledger, per model filter, valid for one change marker."""

    def __init__(self) -> None:
        self._marker: str | None = None
        self._by_models: dict[tuple[str, ...], _Index] = {}
        self._names: dict[str, list[str]] = {}
        self._totals: dict[tuple[Filters, bool], list[SessionTotalsRow]] = {}

    def _check(self, rows: Rows) -> None:
        marker = change_marker(SQLITE, rows)
        if marker != self._marker:
            self._by_models.clear()
            self._names.clear()
            self._totals.clear()
            self._marker = marker

    def session_totals(
        self,
        rows: Rows,
        filters: Filters,
        by_model: bool,
        read: Callable[[], list[SessionTotalsRow]],
    ) -> list[SessionTotalsRow]:
        """``read()``: the per-session totals of every session of a scope (the overview's
        session counts, every period report's), kept like the index: building a row per
        session is most of a page's time on a ledger of thousands of sessions."""
        self._check(rows)
        key = (filters, by_model)
        found = self._totals.get(key)
        if found is None:
            if len(self._totals) >= 8:
                self._totals.pop(next(iter(self._totals)))
            found = self._totals[key] = read()
        return list(found)

    def names(self, rows: Rows, by: GroupDimension) -> list[str]:
        """The distinct values of a rollup dimension (cached like the index)."""
        self._check(rows)
        found = self._names.get(by)
        if found is None:
            column = GROUP_COLUMN[by]
            values = rows(f"SELECT DISTINCT {column} FROM rollups_hourly", ())
            found = self._names[by] = sorted(row[0] for row in values if row[0])
        return list(found)

    def day_counts(self, rows: Rows, filters: Filters, segments: Segments, models: Models) -> Days:
        return session_day_counts(rows, filters, segments, models, self)

    def page(self, rows: Rows, query: SessionPageQuery) -> SessionPage:
        return session_page(rows, query, self)

    def get(self, rows: Rows, models: Sequence[str]) -> _Index:
        self._check(rows)
        key = tuple(sorted(set(models)))
        index = self._by_models.get(key)
        if index is None:
            if len(self._by_models) >= 8:
                self._by_models.pop(next(iter(self._by_models)))
            index = self._by_models[key] = _build_index(rows, key)
        return index


def _build_index(rows: Rows, models: tuple[str, ...]) -> _Index:
    sessions = rows(
        "SELECT session_key, source, parent_key, relationship, project, title, identifier, "
        "started_ms, ended_ms, state FROM sessions",
        (),
    )
    where = f"WHERE model IN ({', '.join('?' * len(models))})" if models else ""
    usage = {
        row[0]: row[1:]
        for row in rows(
            "SELECT session_key, MIN(first_ms), MAX(last_ms), SUM(requests), "
            "SUM(unpriced_requests), SUM(cost_micro), "
            "SUM(input + cache_read + cache_write_5m + cache_write_1h + output), "
            "SUM(n_input + n_cache_read + n_cache_write + n_output) "
            f"FROM session_totals {where} GROUP BY session_key",
            models,
        )
    }
    # the one session rule (tokentrail.reports.session_counts): a subagent rolls up on a
    # parent that made a request (of any model); else it is a session of its own
    known = (
        {key for key, figures in usage.items() if figures[2]}
        if not models
        else {
            row[0]
            for row in rows(
                "SELECT session_key FROM session_totals GROUP BY session_key "
                "HAVING SUM(requests) > 0",
                (),
            )
        }
    )
    listed: dict[str, _Listed] = {}
    children: dict[str, list[str]] = {}
    for key, source, parent, relationship, *described in sessions:
        if relationship == "subagent" and parent is not None and parent in known:
            children.setdefault(parent, []).append(key)
        else:
            # project, title, identifier, started, ended, state: in _Listed's order
            listed[key] = _Listed(key, source, *described)
    for entry in listed.values():
        _absorb(entry, usage.get(entry.key))
        # subagents of subagents roll up on the top-level session too
        pending, depth = list(children.get(entry.key, ())), 0
        while pending and depth < _MAX_DEPTH:
            entry.kids.extend(pending)
            for key in pending:
                _absorb(entry, usage.get(key))
            pending = [kid for key in pending for kid in children.get(key, ())]
            depth += 1
        entry.runtime_ms = _runtime(entry)
    return _Index(list(listed.values()))


_MAX_DEPTH = 64
"""Levels of subagents followed (a cycle of parents never reaches a top-level session)."""


def _absorb(entry: _Listed, figures: tuple[Any, ...] | None) -> None:
    if figures is None:
        return
    first, last, requests, unpriced, cost, tokens, reported_buckets = figures
    entry.has_usage = True
    if first is not None:
        entry.first_ms = first if entry.first_ms is None else min(entry.first_ms, first)
    if last is not None:
        entry.last_ms = last if entry.last_ms is None else max(entry.last_ms, last)
    entry.requests += requests or 0
    entry.unpriced += unpriced or 0
    entry.cost_micro += cost or 0
    entry.tokens += tokens or 0
    entry.has_tokens = entry.has_tokens or bool(reported_buckets)


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _matches(entry: _Listed, query: SessionPageQuery) -> bool:
    """The filters of a page, as the SQL of the PostgreSQL store applies them."""
    f = query.filters
    if not entry.requests and (query.models or not query.without_usage):
        return False
    if f.sources and entry.source not in f.sources:
        return False
    if f.project and f.project not in (entry.project or ""):
        return False
    # as the one session count: by its last request, or a session without usage by its start
    when = entry.last_ms if entry.requests else entry.started_ms
    if when is None:
        if f.since_ms is not None or f.until_ms is not None:
            return False
    elif (f.since_ms is not None and when < f.since_ms) or (
        f.until_ms is not None and when >= f.until_ms
    ):
        return False
    if query.search:
        needle = query.search.translate(_ASCII_LOWER)
        texts = (entry.title or "", entry.key, entry.project or "", entry.identifier or "")
        if not any(needle in text.translate(_ASCII_LOWER) for text in texts):
            return False
    return True


def _runtime(entry: _Listed) -> int | None:
    """The wall span a session's row shows (tokentrail.reports.session_runtime): its recorded
    start to end when an orchestrator closed it (it has a state), else its first to its last
    request, else its recorded start to end."""
    recorded = (
        max(entry.ended_ms - entry.started_ms, 0)
        if entry.started_ms is not None and entry.ended_ms is not None
        else None
    )
    if entry.state is not None and recorded is not None:
        return recorded
    if entry.first_ms is not None and entry.last_ms is not None:
        return max(entry.last_ms - entry.first_ms, 0)
    return recorded


def _sort_value(entry: _Listed, sort: SessionSort) -> Any:
    if sort == "last_activity":
        return next(
            (v for v in (entry.last_ms, entry.ended_ms, entry.started_ms) if v is not None), None
        )
    if sort == "started":
        return entry.started_ms if entry.started_ms is not None else entry.first_ms
    if sort == "cost":
        # a session none of whose requests could be priced has an unknown cost: it sorts last
        return entry.cost_micro if entry.requests > entry.unpriced else None
    if sort == "tokens":
        return entry.tokens if entry.has_tokens else None
    if sort == "requests":
        return entry.requests if entry.has_usage else None
    if sort == "runtime":
        return entry.runtime_ms
    if sort == "title":
        return (entry.title if entry.title is not None else entry.key).translate(_ASCII_LOWER)
    if sort == "source":
        return entry.source
    raise ValueError(f"cannot sort sessions by {sort!r}")


def session_page(rows: Rows, query: SessionPageQuery, index: SessionIndex) -> SessionPage:
    if query.sort not in SESSION_SORTS:
        raise ValueError(f"cannot sort sessions by {query.sort!r}")
    listed = index.get(rows, query.models)
    f = query.filters
    if f.sources or f.project or query.search:
        chosen = [e for e in listed.sessions if _matches(e, query)]
        runtimes = [e.runtime_ms for e in chosen if e.runtime_ms is not None]
        total, runtime_ms = len(chosen), sum(runtimes) if runtimes else None
    else:  # a time range at most: counted from the sorted moments
        total, runtime_ms = _in_range(listed.spans_of(query.without_usage and not query.models), f)
    page = SessionPage(rows=[], total=total, runtime_ms=runtime_ms)
    if query.limit <= 0 or query.offset >= total:
        return page
    end = query.offset + query.limit
    # the page's rows: the first of the sessions in the sort's order that the filters keep
    matching = (e for e in listed.ordered(query.sort, query.descending) if _matches(e, query))
    shown = list(islice(matching, query.offset, end))
    wanted = [key for e in shown for key in (e.key, *e.kids)]
    where = f" AND model IN ({', '.join('?' * len(query.models))})" if query.models else ""
    sums: dict[str, Totals] = {}
    for start in range(0, len(wanted), 400):
        chunk = wanted[start : start + 400]
        for row in rows(
            f"SELECT session_key, {_SUMS} FROM session_totals WHERE session_key IN "
            f"({', '.join('?' * len(chunk))}){where} GROUP BY session_key",
            [*chunk, *query.models],
        ):
            sums[row[0]] = Totals(tuple(row[1:]))
    sessions = {
        row[0]: session_from_row(row)
        for row in SQLITE.select_in(
            rows, f"SELECT {SESSION_COLUMNS} FROM sessions", "session_key", [e.key for e in shown]
        )
    }
    for e in shown:
        own = sums.get(e.key, Totals.zero())
        rolled = sum((sums.get(k, Totals.zero()) for k in e.kids), own)
        page.rows.append(
            SessionPageRow(
                session=sessions[e.key],
                totals=rolled,
                own=own,
                first_ms=e.first_ms,
                last_ms=e.last_ms,
                subagents=len(e.kids),
            )
        )
    return page


def _in_range(spans: _Spans, f: Filters) -> tuple[int, int | None]:
    """How many sessions :func:`_matches` keeps in the filters' time range, and their summed
    runtime (None: none known)."""
    if f.since_ms is None and f.until_ms is None:
        count, known, runtime = spans.unknown_when
        low, high = 0, len(spans.whens)
    else:
        count = known = runtime = 0
        low = 0 if f.since_ms is None else bisect_left(spans.whens, f.since_ms)
        high = len(spans.whens) if f.until_ms is None else bisect_left(spans.whens, f.until_ms)
        high = max(high, low)
    count += high - low
    known += spans.known[high] - spans.known[low]
    runtime += spans.runtime[high] - spans.runtime[low]
    return count, runtime if known else None


def session_day_counts(
    rows: Rows,
    filters: Filters,
    segments: Segments,
    models: Sequence[str],
    index: SessionIndex,
) -> list[tuple[int, int]]:
    if not segments:
        raise ValueError("session_day_counts needs at least one UTC offset segment")
    starts = [s.start_ms for s in segments[1:]]
    scope = SessionPageQuery(
        filters=Filters(sources=filters.sources, project=filters.project), models=tuple(models)
    )
    days: dict[int, int] = {}
    for e in index.get(rows, models).sessions:
        start = e.started_ms if e.started_ms is not None else e.first_ms
        if start is None or not _matches(e, scope):
            continue
        if filters.since_ms is not None and start < filters.since_ms:
            continue
        if filters.until_ms is not None and start >= filters.until_ms:
            continue
        day = (start + segments[bisect_right(starts, start)].offset_ms) // 86_400_000
        days[day] = days.get(day, 0) + 1
    return sorted(days.items())
