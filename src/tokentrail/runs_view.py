"""Orchestrator runs as the dashboard shows them: whether a run still marked running is alive,
and one run's page (its sessions and its spend over time).

A run has no heartbeat of its own: what it records is its pulse. A run still marked
``running`` with nothing recorded under it for
:data:`~tokentrail.reports.runs.RUN_SILENT_AFTER` (no request, and no start
that recent) most likely died without closing, and is shown as "no heartbeat since …" rather
than as running. The next run of the same app marks it ``crashed``
(:meth:`tokentrail.ledger.Ledger.run`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from tokentrail.reports.query import ReportQuery
from tokentrail.reports.runs import RunRow, run_row, run_silent_since
from tokentrail.reports.sessions import SessionPageEntry, session_page_report
from tokentrail.store.base import SessionPageQuery, Store
from tokentrail.usage import utc_from_ms

MAX_RUN_SESSIONS = 1_000
"""Sessions listed on a run's page (the sessions active while it ran, of this run)."""
MAX_POINTS = 1_000
"""Points of a run's running total (a longer run is sampled evenly, its last point kept)."""


@dataclass(frozen=True, slots=True)
class RunListRow:
    run: RunRow
    last_activity: datetime
    """Its last request, else its start."""
    silent_since: datetime | None
    """Set when the run is marked running but has recorded nothing for RUN_SILENT_AFTER."""


@dataclass(frozen=True, slots=True)
class RunDetail:
    row: RunListRow
    sessions: list[SessionPageEntry]
    more_sessions: bool
    """True when the run has more sessions than are listed."""
    points: list[dict[str, Any]]
    """The running total: ``t`` (wall-clock time in the zone), ``tokens`` and ``cost``."""


def run_list(store: Store, now: datetime | None = None) -> list[RunListRow]:
    """Every run, newest first, with its last activity and whether it went silent (for a run
    still marked running, its sessions' activity counts too)."""
    now = now or datetime.now(UTC)
    rows = []
    for r in store.list_runs():
        row = run_row(r.run, r.totals)
        last = utc_from_ms(r.last_ms) if r.last_ms is not None else None
        listed = _list_row(row, last, now)
        if row.state == "running":
            listed = _with_activity(listed, _sessions_last_activity(store, listed, now), now)
        rows.append(listed)
    return rows


def _list_row(row: RunRow, last_request: datetime | None, now: datetime) -> RunListRow:
    last = max(filter(None, (last_request, row.started_at)))
    return RunListRow(row, last, run_silent_since(row.state, last, now))


def _with_sessions(row: RunListRow, sessions: list[SessionPageEntry], now: datetime) -> RunListRow:
    """The row with its sessions' activity folded in: a session started or updated under the
    run is a sign of life too."""
    return _with_activity(row, [s.last_activity for s in sessions], now)


def _with_activity(row: RunListRow, activity: list[datetime | None], now: datetime) -> RunListRow:
    seen = [moment for moment in activity if moment is not None]
    if not seen or max(seen) <= row.last_activity:
        return row
    return _list_row(row.run, max(seen), now)


def _run_span(row: RunListRow, now: datetime) -> ReportQuery:
    """The days a run's sessions are looked for in: while it ran, in UTC."""
    end = max(row.run.stopped_at or now, row.last_activity)
    return ReportQuery(
        zone=UTC,
        zone_name="UTC",
        since=row.run.started_at.astimezone(UTC).date(),
        until=end.astimezone(UTC).date() + timedelta(days=1),
    )


def _sessions_last_activity(store: Store, row: RunListRow, now: datetime) -> list[datetime | None]:
    """The last activity of the sessions :func:`_run_sessions` lists, from the session page
    alone: the list of runs needs no more of them (their figures and models cost a read of
    their requests)."""
    page = store.session_page(
        SessionPageQuery(
            filters=_run_span(row, now).filters(),
            sort="started",
            descending=False,
            limit=MAX_RUN_SESSIONS,
        )
    )
    return [
        (utc_from_ms(r.last_ms) if r.last_ms is not None else None)
        or r.session.ended_at
        or r.session.started_at
        for r in page.rows
        if r.session.run_id == row.run.run_id
    ]


def _run_sessions(
    store: Store, row: RunListRow, now: datetime
) -> tuple[list[SessionPageEntry], bool]:
    """The run's sessions, oldest first (those active while it ran, of this run), and whether
    there were more than are listed."""
    page = session_page_report(
        store, _run_span(row, now), sort="started", descending=False, limit=MAX_RUN_SESSIONS
    )
    mine = [s for s in page.rows if s.session.run_id == row.run.run_id]
    return mine, page.total > MAX_RUN_SESSIONS


def run_detail(
    store: Store, run_id: str, zone: tzinfo, now: datetime | None = None
) -> RunDetail | None:
    """One run with its sessions and running total; None when there is no such run."""
    now = now or datetime.now(UTC)
    row = next((r for r in run_list(store, now) if r.run.run_id == run_id), None)
    if row is None:
        return None
    sessions, more = _run_sessions(store, row, now)
    row = _with_sessions(row, sessions, now)
    keys = [s.session.key for s in sessions]
    entries = [e for e in store.session_entries(keys) if e.event.run_id == run_id] if keys else []
    return RunDetail(
        row=row, sessions=sessions, more_sessions=more, points=_running_total(entries, zone)
    )


def _running_total(entries: list[Any], zone: tzinfo) -> list[dict[str, Any]]:
    entries = sorted(entries, key=lambda e: e.event.timestamp)
    tokens = 0
    micro = 0
    points: list[dict[str, Any]] = []
    step = max(1, math.ceil(len(entries) / MAX_POINTS))
    for i, e in enumerate(entries):
        tokens += e.event.tokens.total or 0
        micro += e.cost.micro_usd or 0
        if i % step == 0 or i == len(entries) - 1:
            local = e.event.timestamp.astimezone(zone).replace(tzinfo=None)
            points.append({"t": local.isoformat(), "tokens": tokens, "cost": micro / 1_000_000})
    return points
