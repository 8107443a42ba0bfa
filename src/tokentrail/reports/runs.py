"""Orchestrators' reports: the summary (all time, today, the current run) and the runs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, TypedDict

from tokentrail.figures import FiguresJson, UsageFigures
from tokentrail.periods import local_midnight_ms
from tokentrail.reports.counting import SessionCounter, SessionCounts, SessionCountsJson
from tokentrail.reports.query import ReportQuery, from_ms, iso_time
from tokentrail.shape import Default, Doc, IsoTime
from tokentrail.store.base import Filters, Store, Totals

# the JSON shapes (tokentrail.shape); a shape without a docstring has no description
# in the API


class _FiguresRuntimeJson(FiguresJson):
    runtime_seconds: float | None


class SummaryBlockJson(_FiguresRuntimeJson, SessionCountsJson):
    runs: int


class RunCoreJson(TypedDict):  # a run as recorded
    run_id: str
    app: str
    started_at: IsoTime
    stopped_at: IsoTime | None
    state: str
    reason: str | None
    peak_concurrency: int
    sessions_launched: int
    runtime_seconds: float | None


class RunJson(RunCoreJson):  # a run as the write API answers
    machine: str | None


class _RunSignsJson(RunCoreJson):
    last_activity: Annotated[
        IsoTime | None, Doc("Its last recorded request, else its start."), Default(None)
    ]
    no_heartbeat_since: Annotated[
        IsoTime | None,
        Doc(
            "Set while the run is still marked running but has shown no sign of life "
            "for over 15 minutes: when it was last heard from (its process may have died)."
        ),
        Default(None),
    ]


class RunRowJson(_RunSignsJson, FiguresJson):
    """A run and the usage recorded under it."""


class CurrentRunJson(RunRowJson, SessionCountsJson):
    runs: int


class SummaryJson(TypedDict):
    lifetime: SummaryBlockJson
    current_run: CurrentRunJson | None
    today: SummaryBlockJson
    timezone: str


class RunsJson(TypedDict):
    rows: list[RunRowJson]


@dataclass(frozen=True, slots=True)
class SummaryBlock:
    """Usage of one scope (all time, today, a run) with its sessions and their runtime."""

    figures: UsageFigures
    runtime_seconds: float | None
    counts: SessionCounts
    runs: int

    @property
    def sessions(self) -> int:
        return self.counts.sessions

    def as_dict(self) -> SummaryBlockJson:
        return {
            **self.figures.as_dict(),
            "runtime_seconds": self.runtime_seconds,
            **self.counts.as_dict(),
            "runs": self.runs,
        }


RUN_SILENT_AFTER = timedelta(hours=1)
"""How long a run still marked running may record nothing (no request, no session started or
updated under it) before it is shown as "no heartbeat since …" instead of running: a run has
no heartbeat of its own, what it records is its pulse."""


def run_silent_since(
    state: str, last_activity: datetime | None, now: datetime | None = None
) -> datetime | None:
    """The one rule for a silent run: when a run still marked running was last heard from,
    if that is longer ago than RUN_SILENT_AFTER; else None."""
    if state != "running" or last_activity is None:
        return None
    quiet = (now or datetime.now(UTC)) - last_activity > RUN_SILENT_AFTER
    return last_activity if quiet else None


@dataclass(frozen=True, slots=True)
class RunRow:
    run_id: str
    app: str
    started_at: datetime
    stopped_at: datetime | None
    state: str
    reason: str | None
    peak_concurrency: int
    sessions_launched: int
    runtime_seconds: float | None
    figures: UsageFigures
    last_activity: datetime | None = None
    """Its last recorded request, else its start: the last sign of life of its process."""

    def silent_since(self, now: datetime | None = None) -> datetime | None:
        """For a run still marked running whose process has shown no sign of life (no
        request) for longer than RUN_SILENT_AFTER: when it was last heard from. The process
        may have died; the next run of the app will close it as crashed."""
        return run_silent_since(self.state, self.last_activity, now)

    def elapsed_seconds(self, now: datetime | None = None) -> float:
        """Time since the run started (to its stop, once stopped)."""
        end = self.stopped_at or now or datetime.now(UTC)
        return max((end - self.started_at).total_seconds(), 0.0)

    def as_dict(self) -> RunRowJson:
        return {
            "run_id": self.run_id,
            "app": self.app,
            "started_at": iso_time(self.started_at),
            "stopped_at": iso_time(self.stopped_at),
            "state": self.state,
            "reason": self.reason,
            "peak_concurrency": self.peak_concurrency,
            "sessions_launched": self.sessions_launched,
            "runtime_seconds": self.runtime_seconds,
            "last_activity": iso_time(self.last_activity),
            "no_heartbeat_since": iso_time(self.silent_since()),
            **self.figures.as_dict(),
        }


@dataclass(frozen=True, slots=True)
class Summary:
    """ "This run / all time": lifetime totals, today's, and the current run's."""

    lifetime: SummaryBlock
    today: SummaryBlock
    current_run: RunRow | None
    current_run_block: SummaryBlock | None
    timezone: str

    def as_dict(self) -> SummaryJson:
        return {
            "lifetime": self.lifetime.as_dict(),
            "current_run": current_run_dict(self.current_run, self.current_run_block),
            "today": self.today.as_dict(),
            "timezone": self.timezone,
        }


def current_run_dict(run: RunRow | None, block: SummaryBlock | None) -> CurrentRunJson | None:
    """The current run as the summary and the overview show it: the run's row with its block
    (sessions, runtime), or None when no run is running."""
    if run is None or block is None:
        return None
    return {**run.as_dict(), **block.as_dict()}


def summary_report(
    store: Store, query: ReportQuery, *, now: datetime | None = None, run_id: str | None = None
) -> Summary:
    """Lifetime, today (local day in the query's zone) and the current run (the given one,
    else the most recently started run still running)."""
    now = now or datetime.now(UTC)
    base = Filters(sources=query.sources, project=query.project)
    today = now.astimezone(query.zone).date()
    today_filters = Filters(
        since_ms=local_midnight_ms(today, query.zone),
        until_ms=local_midnight_ms(today + timedelta(days=1), query.zone),
        sources=query.sources,
        project=query.project,
    )
    runs = store.count_runs()
    counter = SessionCounter(store)
    lifetime = _block(store, base, runs=runs, counter=counter)
    today_block = _block(
        store, today_filters, runs=_runs_started_today(store, today_filters), counter=counter
    )
    current: RunRow | None = None
    current_block: SummaryBlock | None = None
    candidates = store.list_runs()
    chosen = next(
        (r for r in candidates if r.run.run_id == run_id)
        if run_id
        else (r for r in candidates if r.run.state == "running"),
        None,
    )
    if chosen is not None:
        current = run_row(chosen.run, chosen.totals, chosen.last_ms)
        current_block = run_block(store, current, counter)
    return Summary(lifetime, today_block, current, current_block, query.zone_name)


def run_block(store: Store, row: RunRow, counter: SessionCounter | None = None) -> SummaryBlock:
    """A run's block: its usage, sessions and their runtime."""
    counts = (counter or SessionCounter(store)).counts(Filters(), row.run_id)
    return SummaryBlock(row.figures, counts.runtime_seconds, counts, 1)


def _block(store: Store, filters: Filters, *, runs: int, counter: SessionCounter) -> SummaryBlock:
    counts = counter.counts(filters)
    totals = UsageFigures.from_totals(store.totals(filters))
    return SummaryBlock(totals, counts.runtime_seconds, counts, runs)


def _runs_started_today(store: Store, filters: Filters) -> int:
    return sum(
        1
        for r in store.list_runs()
        if filters.since_ms is not None
        and filters.until_ms is not None
        and filters.since_ms <= int(r.run.started_at.timestamp() * 1000) < filters.until_ms
    )


def runs_report(store: Store, limit: int | None = None) -> list[RunRow]:
    """One row per orchestrator run, newest first, with the usage recorded under it."""
    return [run_row(r.run, r.totals, r.last_ms) for r in store.list_runs(limit)]


def run_row(run: Any, totals: Totals, last_ms: int | None = None) -> RunRow:
    return RunRow(
        run_id=run.run_id,
        app=run.app,
        started_at=run.started_at,
        stopped_at=run.stopped_at,
        state=run.state,
        reason=run.reason,
        peak_concurrency=run.peak_concurrency,
        sessions_launched=run.sessions_launched,
        runtime_seconds=run.runtime_seconds,
        figures=UsageFigures.from_totals(totals),
        last_activity=from_ms(last_ms) or run.started_at,
    )


def current_run_with_block(
    store: Store, counter: SessionCounter | None = None
) -> tuple[RunRow | None, SummaryBlock | None]:
    """The most recently started run still running, with its sessions (as the summary's)."""
    chosen = next((r for r in store.list_runs() if r.run.state == "running"), None)
    if chosen is None:
        return None, None
    row = run_row(chosen.run, chosen.totals, chosen.last_ms)
    return row, run_block(store, row, counter)
