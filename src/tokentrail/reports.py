"""The analytics: daily, weekly, monthly and per-session reports, as typed rows.

No formatting here: the CLI, the API and exports all render these same rows, so every face
shows the same numbers. Reports read the store's rollups, never raw events.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any, Literal

from tokentrail.figures import UsageFigures as UsageFigures  # re-exported
from tokentrail.figures import unpriced_dicts as unpriced_dicts
from tokentrail.model_names import model_alias
from tokentrail.periods import (
    DAY_MS,
    day_label,
    day_to_date,
    local_midnight_ms,
    month_label,
    next_period_start,
    offset_ms,
    offset_segments,
    period_start,
    week_label,
)
from tokentrail.store.base import (
    BUCKET_MS,
    SESSION_SORTS,
    Filters,
    GroupBy,
    GroupDimension,
    SessionPageQuery,
    SessionSort,
    SessionTotalsRow,
    Store,
    Totals,
    UnpricedModel,
)
from tokentrail.usage import Session

Period = Literal["daily", "weekly", "monthly"]


@dataclass(frozen=True, slots=True)
class ReportQuery:
    """What a report covers; ``since``/``until`` are inclusive local dates in ``zone``."""

    zone: tzinfo
    zone_name: str
    since: date | None = None
    until: date | None = None
    sources: tuple[str, ...] = ()
    project: str | None = None
    breakdown: bool = False
    machines: tuple[str, ...] = ()
    users: tuple[str, ...] = ()
    breakdown_by: GroupBy | None = None
    """One row per model, machine or user within each period (``breakdown`` is ``model``)."""

    @property
    def group_by(self) -> GroupBy | None:
        return self.breakdown_by or ("model" if self.breakdown else None)

    def filters(self) -> Filters:
        return Filters(
            since_ms=local_midnight_ms(self.since, self.zone) if self.since else None,
            until_ms=local_midnight_ms(self.until + timedelta(days=1), self.zone)
            if self.until
            else None,
            sources=self.sources,
            project=self.project,
            machines=self.machines,
            users=self.users,
        )


@dataclass(frozen=True, slots=True)
class PeriodRow:
    period: str
    model: str | None
    figures: UsageFigures
    group_by: str | None = None
    """``machine`` or ``user`` when the report is broken down by one (``group`` is its value)."""
    group: str | None = None

    def as_dict(self, breakdown: bool) -> dict[str, Any]:
        row: dict[str, Any] = {"period": self.period}
        if breakdown:
            row["model"] = self.model
        if self.group_by is not None:
            row[self.group_by] = self.group
        row.update(self.figures.as_dict())
        return row


@dataclass(frozen=True, slots=True)
class SessionRow:
    """One agent session with its own spend and its subagents' spend rolled up on it."""

    key: str
    source: str
    model: str | None
    project: str | None
    title: str | None
    started_at: datetime | None
    last_activity: datetime | None
    figures: UsageFigures
    """Rolled up: the session's own usage plus its subagents'."""
    own: UsageFigures
    subagents: UsageFigures | None
    subagent_count: int
    models: tuple[str, ...]
    summary: str | None = None
    """One sentence about the session (tokentrail.insights.summary_text), when computed."""
    name: str | None = None
    """A readable name (see :func:`session_name`)."""

    @property
    def period(self) -> str:
        """A session's "period" is its key, as in the JSON contract."""
        return self.key

    def as_dict(self, breakdown: bool) -> dict[str, Any]:
        row: dict[str, Any] = {"period": self.key, "session_key": self.key, "name": self.name}
        if breakdown:
            row["model"] = self.model
        row.update(self.figures.as_dict())
        row.update(
            {
                "source": self.source,
                "project": self.project,
                "title": self.title,
                "started_at": _iso(self.started_at),
                "last_activity": _iso(self.last_activity),
                "models": list(self.models),
                "subagent_count": self.subagent_count,
                "own": self.own.as_dict(),
                "subagents": self.subagents.as_dict() if self.subagents else None,
                "summary": self.summary,
            }
        )
        return row


@dataclass(frozen=True, slots=True)
class Report:
    """A report's rows, totals, the unpriced models, and the zone it was computed in."""

    kind: str
    rows: Sequence[PeriodRow | SessionRow]
    totals: UsageFigures
    unpriced_models: Sequence[UnpricedModel]
    timezone: str
    breakdown: bool = False
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": [row.as_dict(self.breakdown) for row in self.rows],
            "totals": self.totals.as_dict(),
            "unpriced_models": unpriced_dicts(self.unpriced_models),
            "timezone": self.timezone,
        }


_LABELS: dict[str, Callable[[date], str]] = {
    "daily": day_label,
    "weekly": week_label,
    "monthly": month_label,
}


def period_report(
    store: Store, kind: Period, query: ReportQuery, *, raw_models: bool = False
) -> Report:
    """Usage per local day, ISO week or month (optionally per model: a dated model id and
    its alias are one row, unless ``raw_models``, as exports keep the ids as logged)."""
    filters = query.filters()
    by = query.group_by
    span = store.time_range(filters)
    grouped: dict[tuple[str, str | None], Totals] = {}
    if span is not None:
        segments = offset_segments(query.zone, span[0] - DAY_MS, span[1] + DAY_MS)
        label = _LABELS[kind]
        day_rows = (
            store.day_totals(filters, segments, by_model=by == "model")
            if by in (None, "model")
            else store.day_totals_by(filters, segments, by)
        )
        for row in day_rows:
            group = row.model if by in (None, "model") else row.group
            if by == "model" and group is not None and not raw_models:
                group = model_alias(group)  # a dated id and its alias: one row
            key = (label(day_to_date(row.day)), group)
            grouped[key] = grouped.get(key, Totals.zero()) + row.totals
    team_group = by if by in ("machine", "user") else None
    rows = [
        PeriodRow(
            period=period,
            model=None if team_group else group,
            figures=UsageFigures.from_totals(totals),
            group_by=team_group,
            group=group if team_group else None,
        )
        for (period, group), totals in sorted(
            grouped.items(), key=lambda i: (i[0][0], i[0][1] or "")
        )
    ]
    total = sum(grouped.values(), Totals.zero())
    return Report(
        kind=kind,
        rows=rows,
        totals=UsageFigures.from_totals(total),
        unpriced_models=store.unpriced_models(filters),
        timezone=query.zone_name,
        breakdown=by == "model",
    )


def session_report(store: Store, query: ReportQuery) -> Report:
    """One row per agent session; subagent spend is rolled up on its parent and shown apart."""
    if query.group_by not in (None, "model"):
        raise ValueError("the session report breaks down by model only")
    filters = query.filters()
    # subagents are fetched without the date filter so a parent's row stays whole
    unfiltered = Filters(
        sources=filters.sources,
        project=filters.project,
        machines=filters.machines,
        users=filters.users,
    )
    per_model = store.session_totals(unfiltered, by_model=True)
    models_by_session = _models_served(per_model)
    rows = per_model if query.group_by == "model" else _merge_models(per_model)
    parents, children = _families(rows)
    out: list[SessionRow] = []
    grand = Totals.zero()
    for r in parents:
        kids = children.get((r.session.key, r.model), [])
        kid_totals = sum((k.totals for k in kids), Totals.zero())
        last_ms = _family_last_ms(r, children)
        if not _in_range(last_ms, filters):
            continue
        combined = r.totals + kid_totals
        grand = grand + combined
        out.append(
            SessionRow(
                key=r.session.key,
                source=r.session.source,
                model=r.model,
                project=r.session.project,
                title=r.session.title,
                started_at=r.session.started_at or _from_ms(r.first_ms),
                last_activity=_from_ms(last_ms),
                figures=UsageFigures.from_totals(combined),
                own=UsageFigures.from_totals(r.totals),
                subagents=UsageFigures.from_totals(kid_totals) if kids else None,
                subagent_count=len({k.session.key for k in kids}),
                models=models_by_session.get(r.session.key, ()),
                name=session_name(r.session, models_by_session.get(r.session.key, ()), r.first_ms),
            )
        )
    out.sort(key=lambda s: (s.last_activity or datetime.min.replace(tzinfo=UTC), s.key))
    return Report(
        kind="session",
        rows=out,
        totals=UsageFigures.from_totals(grand),
        unpriced_models=store.unpriced_models(filters),
        timezone=query.zone_name,
        breakdown=query.group_by == "model",
    )


def _families(
    rows: Sequence[SessionTotalsRow],
) -> tuple[list[SessionTotalsRow], dict[tuple[str, str | None], list[SessionTotalsRow]]]:
    """Top-level sessions, and the subagent sessions rolled up on each (per model when the
    rows are per model). A subagent whose parent has no usage row (an orphan) is top-level:
    shown on its own rather than lost. The one definition of a top-level session."""
    parents = [r for r in rows if r.session.relationship != "subagent" or not r.session.parent_key]
    children: dict[tuple[str, str | None], list[SessionTotalsRow]] = {}
    known = {r.session.key for r in rows}
    for r in rows:
        parent = r.session.parent_key
        if r.session.relationship == "subagent" and parent:
            if parent in known:
                children.setdefault((parent, r.model), []).append(r)
            else:
                parents.append(r)
    return parents, children


@dataclass(frozen=True, slots=True)
class SessionCounts:
    """How many sessions, by the one definition every face uses (docs/counting.md):
    ``sessions`` are top-level sessions with at least one request; subagent sessions (rolled
    up on a parent) and sessions without any request are counted apart."""

    sessions: int
    subagent_sessions: int
    sessions_without_usage: int
    runtime_seconds: float | None = None
    """The summed wall span of the counted sessions (see :func:`session_runtime`)."""

    def as_dict(self) -> dict[str, int]:
        return {
            "sessions": self.sessions,
            "subagent_sessions": self.subagent_sessions,
            "sessions_without_usage": self.sessions_without_usage,
        }


def session_counts(store: Store, filters: Filters, run_id: str | None = None) -> SessionCounts:
    """The sessions of the filters' sources and project (and of ``run_id``): with a time
    range, those whose last request falls in it (as in the session report); sessions without
    usage by their start."""
    return SessionCounter(store).counts(filters, run_id)


_Family = tuple[
    list[SessionTotalsRow],
    list[tuple[SessionTotalsRow, int | None]],
    dict[tuple[str, str | None], list[SessionTotalsRow]],
]
"""A scope's sessions with usage, its top-level ones with the last request of each (its
subagents' included), and the subagents rolled up on each."""


class SessionCounter:
    """:func:`session_counts` of several scopes (a page's blocks: all time, the range, this
    month, today, the current run) from one read of the per-session totals per scope of
    sources and project: each read is a pass over every session of the ledger."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._rows: dict[Filters, list[SessionTotalsRow]] = {}
        self._families: dict[tuple[Filters, str | None], _Family] = {}

    def counts(self, filters: Filters, run_id: str | None = None) -> SessionCounts:
        rows, parents, children = self._family(filters, run_id)
        counted = [r for r, last in parents if _in_range(last, filters)]
        spans = [
            span
            for r in counted
            if (span := session_runtime(r.session, r.first_ms, r.last_ms, None).span_seconds)
            is not None
        ]
        kids = sum(1 for group in children.values() for k in group if _in_range(k.last_ms, filters))
        started, _ = self._store.session_stats(filters, run_id=run_id)
        with_usage_started = sum(1 for r in rows if _started_in(r.session.started_at, filters))
        return SessionCounts(
            len(counted),
            kids,
            max(started - with_usage_started, 0),
            sum(spans) if spans else None,
        )

    def _family(self, filters: Filters, run_id: str | None) -> _Family:
        whole = Filters(
            sources=filters.sources,
            project=filters.project,
            machines=filters.machines,
            users=filters.users,
        )
        found = self._families.get((whole, run_id))
        if found is None:
            every = self._rows.get(whole)
            if every is None:
                read = self._store.session_totals(whole, by_model=False)
                every = self._rows[whole] = [r for r in read if r.totals.requests]
            rows = [r for r in every if run_id is None or r.session.run_id == run_id]
            parents, children = _families(rows)
            lasts = [(r, _family_last_ms(r, children)) for r in parents]
            found = self._families[(whole, run_id)] = (rows, lasts, children)
        return found


def _family_last_ms(
    row: SessionTotalsRow, children: Mapping[tuple[str, str | None], Sequence[SessionTotalsRow]]
) -> int | None:
    """The last request of a session and of the subagents rolled up on it."""
    kids = children.get((row.session.key, row.model), ())
    return max(
        [x for x in [row.last_ms, *(k.last_ms for k in kids)] if x is not None], default=None
    )


def _started_in(started: datetime | None, filters: Filters) -> bool:
    # session_stats counts a session by its start time; a session with no start is not in it
    if started is None:
        return filters.since_ms is None and filters.until_ms is None
    return _in_range(int(started.timestamp() * 1000), filters)


def _models_served(per_model: Sequence[SessionTotalsRow]) -> dict[str, tuple[str, ...]]:
    """The models that actually served each session's requests, most-used first (by
    requests, then name): what a session's model column shows, rather than the model it
    declared."""
    requests: dict[str, dict[str, int]] = {}
    for r in per_model:
        if r.model and r.totals.requests:
            served = requests.setdefault(r.session.key, {})
            served[r.model] = served.get(r.model, 0) + r.totals.requests
    return {
        key: tuple(sorted(served, key=lambda m: (-served[m], m)))
        for key, served in requests.items()
    }


def _merge_models(rows: Sequence[SessionTotalsRow]) -> list[SessionTotalsRow]:
    """Per-session rows from per-(session, model) rows."""
    merged: dict[str, SessionTotalsRow] = {}
    for r in rows:
        seen = merged.get(r.session.key)
        if seen is None:
            merged[r.session.key] = SessionTotalsRow(
                r.session, None, r.totals, r.first_ms, r.last_ms
            )
            continue
        merged[r.session.key] = SessionTotalsRow(
            r.session,
            None,
            seen.totals + r.totals,
            min((x for x in (seen.first_ms, r.first_ms) if x is not None), default=None),
            max((x for x in (seen.last_ms, r.last_ms) if x is not None), default=None),
        )
    return list(merged.values())


def _in_range(ms: int | None, filters: Filters) -> bool:
    if ms is None:
        return filters.since_ms is None and filters.until_ms is None
    if filters.since_ms is not None and ms < filters.since_ms:
        return False
    return not (filters.until_ms is not None and ms >= filters.until_ms)


def _from_ms(ms: int | None) -> datetime | None:
    return datetime.fromtimestamp(ms / 1000, tz=UTC) if ms is not None else None


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


# -- orchestrators: summary, runs, sessions -------------------------------------------------


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

    def as_dict(self) -> dict[str, Any]:
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

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "app": self.app,
            "started_at": _iso(self.started_at),
            "stopped_at": _iso(self.stopped_at),
            "state": self.state,
            "reason": self.reason,
            "peak_concurrency": self.peak_concurrency,
            "sessions_launched": self.sessions_launched,
            "runtime_seconds": self.runtime_seconds,
            "last_activity": _iso(self.last_activity),
            "no_heartbeat_since": _iso(self.silent_since()),
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

    def as_dict(self) -> dict[str, Any]:
        current = None
        if self.current_run is not None and self.current_run_block is not None:
            current = {**self.current_run.as_dict(), **self.current_run_block.as_dict()}
        return {
            "lifetime": self.lifetime.as_dict(),
            "current_run": current,
            "today": self.today.as_dict(),
            "timezone": self.timezone,
        }


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
        current = _run_row(chosen.run, chosen.totals, chosen.last_ms)
        current_block = _run_block(store, current, counter)
    return Summary(lifetime, today_block, current, current_block, query.zone_name)


def _run_block(store: Store, row: RunRow, counter: SessionCounter | None = None) -> SummaryBlock:
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
    return [_run_row(r.run, r.totals, r.last_ms) for r in store.list_runs(limit)]


def _run_row(run: Any, totals: Totals, last_ms: int | None = None) -> RunRow:
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
        last_activity=_from_ms(last_ms) or run.started_at,
    )


@dataclass(frozen=True, slots=True)
class SessionListRow:
    """A session in a list: what is known of it, and its spend with its subagents'."""

    session: Session
    figures: UsageFigures
    last_activity: datetime | None
    runtime: Runtime | None = None
    models: tuple[str, ...] = ()
    """The models that served its requests, most-used first."""
    first_ms: int | None = None
    """Its first own request (UTC epoch milliseconds)."""

    @property
    def name(self) -> str:
        return session_name(self.session, self.models, self.first_ms)

    def as_dict(self) -> dict[str, Any]:
        s = self.session
        return {
            "session_key": s.key,
            "name": self.name,
            "source": s.source,
            "run_id": s.run_id,
            "issue_id": s.issue_id,
            "identifier": s.identifier,
            "title": s.title,
            "project": s.project,
            **_model_fields(s, self.models),
            "state": s.state,
            "turns": s.turns,
            "parent_key": s.parent_key,
            "relationship": s.relationship,
            "started_at": _iso(s.started_at),
            "completed_at": _iso(s.ended_at),
            "last_activity": _iso(self.last_activity),
            **(self.runtime or session_runtime(s, None, None, None)).as_dict(),
            **self.figures.as_dict(),
        }


def recent_sessions(
    store: Store,
    query: ReportQuery,
    *,
    limit: int = 20,
    offset: int = 0,
    without_usage: bool = False,
) -> list[SessionListRow]:
    """Top-level sessions (as the one session count: with at least one request, unless
    ``without_usage``), most recently active first, subagents' spend rolled up."""
    page = store.session_page(
        SessionPageQuery(
            filters=Filters(sources=query.sources, project=query.project),
            limit=limit,
            offset=offset,
            without_usage=without_usage,
        )
    )
    active, models = _activity(store, [r.session.key for r in page.rows])
    return [
        SessionListRow(
            session=r.session,
            figures=UsageFigures.from_totals(r.totals),
            last_activity=_from_ms(r.last_ms) or r.session.ended_at or r.session.started_at,
            runtime=session_runtime(r.session, r.first_ms, r.last_ms, active.get(r.session.key)),
            models=models.get(r.session.key, ()),
            first_ms=r.first_ms,
        )
        for r in page.rows
    ]


IDLE_GAP_SECONDS = 15 * 60
"""A gap between two consecutive requests of a session longer than this is idle time (the
user away, the session left open): it counts in the session's span, not its active time."""


@dataclass(frozen=True, slots=True)
class Runtime:
    """How long a session ran, said two ways (docs/counting.md, Sessions)."""

    span_seconds: float | None
    """Wall span from its first to its last event (see ``basis``)."""
    basis: str | None
    """``recorded``: the start and end an orchestrator recorded for the session; ``requests``:
    from its first to its last own request (sessions read from logs)."""
    active_seconds: float | None
    """The sum of the gaps between its consecutive requests up to IDLE_GAP_SECONDS."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "runtime_seconds": self.span_seconds,
            "runtime_basis": self.basis,
            "active_seconds": self.active_seconds,
        }


def session_runtime(
    session: Session, first_ms: int | None, last_ms: int | None, active_ms: int | None
) -> Runtime:
    """A session's wall span and active time. A session an orchestrator opened and closed
    (it has a state) runs from its recorded start to its recorded end; a session read from
    logs from its first to its last own request (a resumed session's copies of its parent's
    lines are not its own, so they do not stretch it)."""
    active = active_ms / 1000 if active_ms is not None else None
    recorded = session.runtime_seconds
    if session.state is not None and recorded is not None:
        return Runtime(recorded, "recorded", active)
    if first_ms is not None and last_ms is not None:
        return Runtime(max(last_ms - first_ms, 0) / 1000, "requests", active)
    return Runtime(recorded, "recorded" if recorded is not None else None, active)


def session_name(session: Session, models: Sequence[str] = (), first_ms: int | None = None) -> str:
    """A readable name: the agent's own title (Claude Code's summary or custom title, Gemini's
    chat summary, an orchestrator's title or issue), else project · start (UTC; its first
    own request when known, so a resumed session is not named by its parent's start) · first
    model. Never prompt text."""
    if session.title:
        return session.title
    if session.identifier:
        return session.identifier
    project = session.project.rstrip("/").rsplit("/", 1)[-1] if session.project else None
    start = _from_ms(first_ms) or session.started_at
    started = start.strftime("%Y-%m-%d %H:%M") if start else None
    model = models[0] if models else session.model
    parts = [part for part in (project, started, model) if part]
    return " · ".join(parts) if parts else session.key


def _model_fields(session: Session, models: Sequence[str]) -> dict[str, Any]:
    """The model column: the models that served the session, most-used first; the model it
    declared only when it made no request."""
    return {
        "model": models[0] if models else session.model,
        "models": list(models),
    }


def _activity(
    store: Store, keys: Sequence[str]
) -> tuple[dict[str, int], dict[str, tuple[str, ...]]]:
    """Active milliseconds and served models of these sessions (their own requests)."""
    if not keys:
        return {}, {}
    wanted = set(keys)
    per_model = [
        r
        for r in store.session_totals(Filters(), by_model=True, family=list(keys))
        if r.session.key in wanted
    ]
    return store.active_ms(keys, IDLE_GAP_SECONDS * 1000), _models_served(per_model)


@dataclass(frozen=True, slots=True)
class RequestRow:
    """One request in a session's timeline."""

    timestamp: datetime
    model: str | None
    session_key: str | None
    tokens: Any
    cost_usd: float | None
    cost_status: str
    reported_cost_usd: float | None
    cache_saving_micro: int | None = None
    """What its cache reads saved (see :attr:`tokentrail.usage.Cost.cache_saving_micro`)."""

    def as_dict(self) -> dict[str, Any]:
        t = self.tokens
        cache_write = t.cache_write
        return {
            "timestamp": _iso(self.timestamp),
            "model": self.model,
            "session_key": self.session_key,
            "input_tokens": t.input,
            "cache_read_tokens": t.cache_read,
            "cache_write_tokens": cache_write,
            "output_tokens": t.output,
            "reasoning_tokens": t.reasoning,
            "total_tokens": t.total if not t.is_empty else None,
            "cost_usd": self.cost_usd,
            "cost_status": self.cost_status,
            "reported_cost_usd": self.reported_cost_usd,
        }


@dataclass(frozen=True, slots=True)
class SessionDetail:
    session: SessionListRow
    own: UsageFigures
    subagents: list[SessionListRow]
    requests: list[RequestRow]

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.session.as_dict(),
            "own": self.own.as_dict(),
            "subagents": [s.as_dict() for s in self.subagents],
            "timeline": [r.as_dict() for r in self.requests],
        }


def session_detail(store: Store, key: str) -> SessionDetail | None:
    """A session with its subagents and every request, oldest first; None if unknown."""
    session = store.sessions_by_key([key]).get(key)
    if session is None:
        return None
    all_rows = store.session_totals(Filters(), by_model=False, family=[key])
    own_totals = next((r.totals for r in all_rows if r.session.key == key), Totals.zero())
    kids = [r for r in all_rows if r.session.parent_key == key]
    kid_rows = [
        SessionListRow(r.session, UsageFigures.from_totals(r.totals), _from_ms(r.last_ms))
        for r in kids
    ]
    combined = own_totals + sum((r.totals for r in kids), Totals.zero())
    requests = [
        RequestRow(
            timestamp=e.event.timestamp,
            model=e.event.model,
            session_key=e.event.session_key,
            tokens=e.event.tokens,
            cost_usd=e.cost.micro_usd / 1_000_000 if e.cost.micro_usd is not None else None,
            cost_status=e.cost.status,
            reported_cost_usd=e.event.reported_cost_usd,
            cache_saving_micro=e.cost.cache_saving_micro,
        )
        for e in store.session_entries([key, *(r.session.key for r in kids)])
    ]
    last_activity = requests[-1].timestamp if requests else session.ended_at
    own_times = [r.timestamp for r in requests if r.session_key == key]
    active, models = _activity(store, [key])
    first_ms = int(own_times[0].timestamp() * 1000) if own_times else None
    runtime = session_runtime(
        session,
        first_ms,
        int(own_times[-1].timestamp() * 1000) if own_times else None,
        active.get(key),
    )
    return SessionDetail(
        session=SessionListRow(
            session,
            UsageFigures.from_totals(combined),
            last_activity,
            runtime,
            models.get(key, ()),
            first_ms,
        ),
        own=UsageFigures.from_totals(own_totals),
        subagents=kid_rows,
        requests=requests,
    )


# -- reconciliation: OpenTelemetry vs log files vs metrics --------------------------------------


RECONCILE_DEFAULT_DAYS = 7
"""Days a reconciliation covers when no ``since`` is given (today and the 6 before)."""


@dataclass(frozen=True, slots=True)
class ChannelFigures:
    """What one channel saw of a source in a period. ``None`` = that channel reported nothing."""

    requests: int | None
    tokens: int | None
    cost_usd: float | None
    """tokentrail's own cost of those requests (computed from prices)."""
    reported_cost_usd: float | None = None
    """The cost the agent itself reported, where it does."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "tokens": self.tokens,
            "cost_usd": self.cost_usd,
            "reported_cost_usd": self.reported_cost_usd,
        }


@dataclass(frozen=True, slots=True)
class ReconciliationRow:
    """One local day and source: the ledger's count, and what each channel saw."""

    period: str
    source: str
    ledger: ChannelFigures
    """What tokentrail counts: every request once, whichever channels saw it."""
    logs: ChannelFigures
    """Requests read from log files (or recorded by other clients): the ledger less the
    requests that came only through OpenTelemetry."""
    otlp: ChannelFigures
    """Requests received through OpenTelemetry, as the agent reported them."""
    metrics: ChannelFigures
    """The agent's usage metrics (kept to compare, never added to totals)."""
    metric_tokens: dict[str, float]
    """Metric tokens by the agent's own token type (``input``, ``cacheRead`` …)."""
    both: int
    """Requests seen both through OpenTelemetry and in a log file (counted once)."""
    only_otlp: int
    only_logs: int | None
    """Requests only in log files, when OpenTelemetry saw any of this source that day."""
    notes: list[str]

    def as_dict(self) -> dict[str, Any]:
        return {
            "period": self.period,
            "source": self.source,
            "ledger": self.ledger.as_dict(),
            "logs": self.logs.as_dict(),
            "otlp": self.otlp.as_dict(),
            "metrics": {**self.metrics.as_dict(), "tokens_by_type": dict(self.metric_tokens)},
            "both": self.both,
            "only_otlp": self.only_otlp,
            "only_logs": self.only_logs,
            "notes": list(self.notes),
        }


@dataclass(frozen=True, slots=True)
class ToolStat:
    source: str
    tool_name: str
    calls: int
    failures: int
    duration_seconds: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "tool_name": self.tool_name,
            "calls": self.calls,
            "failures": self.failures,
            "duration_seconds": self.duration_seconds,
        }


@dataclass(frozen=True, slots=True)
class Reconciliation:
    rows: list[ReconciliationRow]
    tools: list[ToolStat]
    since: date
    until: date
    timezone: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "timezone": self.timezone,
            "rows": [row.as_dict() for row in self.rows],
            "tools": [tool.as_dict() for tool in self.tools],
        }


def _metric_kinds() -> tuple[dict[str, tuple[str, ...]], frozenset[str]]:
    """Metric -> the token types that count as tokens (the rest, like Codex's "total" and
    "cached_input", are parts or sums of these), and the cost metrics: the agents' from the
    registry, plus the OpenTelemetry GenAI metric."""
    from tokentrail.agents import telemetry_agents

    tokens: dict[str, tuple[str, ...]] = {"gen_ai.client.token.usage": ("input", "output")}
    costs: set[str] = set()
    for _, telemetry in telemetry_agents():
        for metric in telemetry.metrics:
            if metric.cost:
                costs.add(metric.name)
            else:
                tokens[metric.name] = metric.token_kinds
    return tokens, frozenset(costs)


def reconciliation_report(store: Store, query: ReportQuery) -> Reconciliation:
    """For each source and local day: tokens and cost the ledger counts, and what log files,
    OpenTelemetry events and the agents' metrics each saw, with the differences explained."""
    today = datetime.now(query.zone).date()
    until = query.until or today
    since = query.since or (until - timedelta(days=RECONCILE_DEFAULT_DAYS - 1))
    scoped = ReportQuery(
        zone=query.zone,
        zone_name=query.zone_name,
        since=since,
        until=until,
        sources=query.sources,
    )
    filters = scoped.filters()
    assert filters.since_ms is not None and filters.until_ms is not None
    segments = offset_segments(query.zone, filters.since_ms - DAY_MS, filters.until_ms + DAY_MS)
    ledger_rows = {(r.day, r.source): r.totals for r in store.source_day_totals(filters, segments)}
    otlp_rows = {(r.day, r.source): r for r in store.otlp_day_totals(filters, segments)}
    metric_tokens: dict[tuple[int, str], dict[str, float]] = {}
    metric_cost: dict[tuple[int, str], float] = {}
    token_kinds, cost_metrics = _metric_kinds()
    for m in store.metric_day_totals(filters, segments):
        if m.name in cost_metrics:
            metric_cost[(m.day, m.source)] = metric_cost.get((m.day, m.source), 0.0) + m.value
        elif m.kind in token_kinds.get(m.name, ()):
            kinds = metric_tokens.setdefault((m.day, m.source), {})
            kinds[m.kind] = kinds.get(m.kind, 0.0) + m.value
    keys = sorted({*ledger_rows, *otlp_rows, *metric_tokens, *metric_cost})
    rows = [
        _reconcile(
            day_label(day_to_date(day)),
            source,
            ledger_rows.get((day, source)),
            otlp_rows.get((day, source)),
            metric_tokens.get((day, source)),
            metric_cost.get((day, source)),
        )
        for day, source in keys
    ]
    tools = [
        ToolStat(t.source, t.tool_name, t.calls, t.failures, round(t.duration_ms / 1000, 3))
        for t in store.tool_call_stats(filters)
    ]
    return Reconciliation(rows, tools, since, until, query.zone_name)


def _usd(micro: int) -> float:
    return round(micro / 1_000_000, 6)


def _reconcile(
    period: str,
    source: str,
    totals: Totals | None,
    otlp: Any,
    metric_kinds: dict[str, float] | None,
    metric_cost: float | None,
) -> ReconciliationRow:
    t = totals or Totals.zero()
    ledger_tokens = t.input + t.cache_read + t.cache_write_5m + t.cache_write_1h + t.output
    ledger = ChannelFigures(
        t.requests,
        ledger_tokens,
        _usd(t.cost_micro),
        _usd(t.reported_cost_micro) if t.n_reported_cost else None,
    )
    notes: list[str] = []
    if otlp is None:
        otlp_fig = ChannelFigures(None, None, None)
        both = only_otlp = 0
        only_otlp_tokens = only_otlp_cost = 0
        only_logs: int | None = None
        notes.append("nothing received through OpenTelemetry for this source on this day")
    else:
        both = otlp.matched
        only_otlp = otlp.requests - otlp.matched
        only_otlp_tokens = otlp.tokens - otlp.matched_tokens
        only_otlp_cost = otlp.only_otlp_cost_micro
        otlp_fig = ChannelFigures(
            otlp.requests,
            otlp.tokens,
            _usd(otlp.matched_ledger_cost_micro + otlp.only_otlp_cost_micro),
            _usd(otlp.reported_cost_micro) if otlp.n_reported_cost else None,
        )
        only_logs = max(t.requests - only_otlp - both, 0)
    logs = ChannelFigures(
        t.requests - only_otlp,
        ledger_tokens - only_otlp_tokens,
        _usd(t.cost_micro - only_otlp_cost),
    )
    metric_total = sum(metric_kinds.values()) if metric_kinds else None
    metrics = ChannelFigures(
        None,
        round(metric_total) if metric_total is not None else None,
        round(metric_cost, 6) if metric_cost is not None else None,
    )
    if otlp is not None:
        if only_otlp:
            notes.append(
                f"{only_otlp} request(s) came only through OpenTelemetry: their log files were "
                "not read here (another machine or container, or not synced yet)"
            )
        if only_logs:
            notes.append(
                f"{only_logs} request(s) are only in log files: sent while telemetry was off, "
                "dropped by the exporter, or from an agent version whose events carry no id "
                "that matches its log (see docs/opentelemetry.md)"
            )
        if both:
            notes.append(f"{both} request(s) were seen both ways and are counted once")
        if both and otlp.matched_ledger_tokens != otlp.matched_tokens:
            diff = otlp.matched_ledger_tokens - otlp.matched_tokens
            notes.append(
                f"for those, the ledger keeps {otlp.matched_ledger_tokens:,} tokens where "
                f"OpenTelemetry reported {otlp.matched_tokens:,} ({diff:+,}): the log file's "
                "buckets are kept, with the larger output count of the two"
            )
        reported = otlp_fig.reported_cost_usd
        if reported is not None and otlp_fig.cost_usd is not None:
            gap = round(otlp_fig.cost_usd - reported, 6)
            if abs(gap) >= 0.01:
                notes.append(
                    f"the agent reported ${reported:,.4f} for the OpenTelemetry requests; "
                    f"tokentrail prices them at ${otlp_fig.cost_usd:,.4f} ({gap:+,.4f})"
                )
    if metric_total is not None:
        compare = otlp_fig.tokens if otlp_fig.tokens is not None else ledger_tokens
        label = "OpenTelemetry events" if otlp_fig.tokens is not None else "the ledger"
        gap_tokens = round(metric_total - compare)
        if gap_tokens:
            notes.append(
                f"metrics add up to {round(metric_total):,} tokens, {label} to {compare:,} "
                f"({gap_tokens:+,}): metrics are exported on an interval (the newest may not "
                "have arrived), are not per request, and are never added to totals"
            )
        else:
            notes.append(f"metrics agree with {label} on tokens")
    return ReconciliationRow(
        period=period,
        source=source,
        ledger=ledger,
        logs=logs,
        otlp=otlp_fig,
        metrics=metrics,
        metric_tokens=dict(metric_kinds or {}),
        both=both,
        only_otlp=only_otlp,
        only_logs=only_logs,
        notes=notes,
    )


# -- dashboard: spend by group, heatmap, timelines, session pages, overview ----------------------


HeatmapMetric = Literal["cost", "tokens", "output_tokens", "sessions"]
HEATMAP_METRICS: tuple[HeatmapMetric, ...] = ("cost", "tokens", "output_tokens", "sessions")
TimelineInterval = Literal["hour", "day", "week", "month"]
TIMELINE_INTERVALS: tuple[TimelineInterval, ...] = ("hour", "day", "week", "month")
HOUR_MS = 3_600_000
MAX_TIMELINE_POINTS = 2_000
"""A timeline longer than this is refused: choose a coarser interval or a shorter range."""
HEATMAP_DAYS = 365
"""Days a heatmap covers when the query has no ``since``: a year up to ``until`` (or today)."""


def _priced_cost(figures: UsageFigures) -> float:
    return figures.cost_usd or 0.0


def model_totals(store: Store, filters: Filters, models: Sequence[str] = ()) -> Totals:
    """Totals of ``filters``, only of ``models`` when given (from the rollups)."""
    if not models:
        return store.totals(filters)
    rows = store.group_totals(filters, "model", models)
    return sum((r.totals for r in rows), Totals.zero())


def unpriced_models_of(
    store: Store, filters: Filters, models: Sequence[str] = ()
) -> list[UnpricedModel]:
    """The models without a price in ``filters`` (only ``models`` when given)."""
    found = store.unpriced_models(filters)
    if not models:
        return found
    wanted = set(models)
    return [m for m in found if m.model in wanted]


@dataclass(frozen=True, slots=True)
class SpendRow:
    """Usage of one source, model, project or machine, with its share of the whole."""

    group: str | None
    figures: UsageFigures
    share: float | None
    """Of the priced cost of all rows (of the tokens when nothing is priced); None if empty."""

    def as_dict(self) -> dict[str, Any]:
        return {"group": self.group, **self.figures.as_dict(), "share": self.share}


@dataclass(frozen=True, slots=True)
class SpendReport:
    by: GroupDimension
    rows: list[SpendRow]
    totals: UsageFigures
    unpriced_models: list[UnpricedModel]
    timezone: str
    share_of: Literal["cost", "tokens"]

    def as_dict(self) -> dict[str, Any]:
        return {
            "by": self.by,
            "rows": [row.as_dict() for row in self.rows],
            "totals": self.totals.as_dict(),
            "share_of": self.share_of,
            "unpriced_models": unpriced_dicts(self.unpriced_models),
            "timezone": self.timezone,
        }


def spend_by(
    store: Store,
    query: ReportQuery,
    by: GroupDimension,
    *,
    models: Sequence[str] = (),
    limit: int | None = None,
) -> SpendReport:
    """Usage and cost per source (agent), model, project or machine, most costly first.

    With ``limit``, the rows past it are summed into one row whose group is ``"(other)"``."""
    filters = query.filters()
    merged: dict[str | None, Totals] = {}
    for r in store.group_totals(filters, by, models):
        # a dated model id and its alias are one model: one row
        group = model_alias(r.group) if by == "model" and r.group is not None else r.group
        merged[group] = merged.get(group, Totals.zero()) + r.totals
    grouped = [(g, t, UsageFigures.from_totals(t)) for g, t in merged.items()]
    grouped.sort(
        key=lambda g: (-_priced_cost(g[2]), -(g[2].total_tokens or 0), g[0] is None, g[0] or "")
    )
    if limit is not None and len(grouped) > limit:
        rest = sum((g[1] for g in grouped[limit:]), Totals.zero())
        grouped = [*grouped[:limit], ("(other)", rest, UsageFigures.from_totals(rest))]
    total = sum((g[1] for g in grouped), Totals.zero())
    total_figures = UsageFigures.from_totals(total)
    share_of: Literal["cost", "tokens"] = "cost" if total_figures.cost_usd else "tokens"
    rows: list[SpendRow] = []
    for group, _, figures in grouped:
        if share_of == "cost":
            whole, part = total_figures.cost_usd or 0.0, figures.cost_usd or 0.0
        else:
            whole, part = float(total_figures.total_tokens or 0), float(figures.total_tokens or 0)
        share = round(part / whole, 6) if whole else None
        rows.append(SpendRow(group, figures, share))
    return SpendReport(
        by=by,
        rows=rows,
        totals=total_figures,
        unpriced_models=unpriced_models_of(store, filters, models),
        timezone=query.zone_name,
        share_of=share_of,
    )


@dataclass(frozen=True, slots=True)
class HeatmapDay:
    day: date
    requests: int
    cost_usd: float | None
    total_tokens: int | None
    output_tokens: int | None
    sessions: int
    unpriced_requests: int

    def value(self, metric: HeatmapMetric) -> float | int | None:
        if metric == "cost":
            return self.cost_usd
        if metric == "tokens":
            return self.total_tokens
        if metric == "output_tokens":
            return self.output_tokens
        return self.sessions

    def as_dict(self, metric: HeatmapMetric) -> dict[str, Any]:
        return {
            "date": self.day.isoformat(),
            "value": self.value(metric),
            "requests": self.requests,
            "cost_usd": self.cost_usd,
            "total_tokens": self.total_tokens,
            "output_tokens": self.output_tokens,
            "sessions": self.sessions,
            "unpriced_requests": self.unpriced_requests,
        }


@dataclass(frozen=True, slots=True)
class Heatmap:
    """One figure per local day. Days absent from ``days`` had no usage and no session."""

    metric: HeatmapMetric
    since: date
    until: date
    days: list[HeatmapDay]
    timezone: str

    def as_dict(self) -> dict[str, Any]:
        values = [v for d in self.days if (v := d.value(self.metric)) is not None]
        return {
            "metric": self.metric,
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "timezone": self.timezone,
            "max": max(values, default=None),
            "total": sum(values) if values else None,
            "days": [d.as_dict(self.metric) for d in self.days],
        }


def heatmap_report(
    store: Store,
    query: ReportQuery,
    metric: HeatmapMetric = "cost",
    *,
    models: Sequence[str] = (),
    now: datetime | None = None,
) -> Heatmap:
    """Cost, tokens, output tokens and sessions started per local day, for a calendar.

    Covers ``since``..``until`` of the query; without ``since``, the year up to ``until`` (or
    today). Every metric is in each day; ``metric`` picks the one called ``value``."""
    if metric not in HEATMAP_METRICS:
        raise ValueError(f"unknown heatmap metric {metric!r}")
    today = (now or datetime.now(UTC)).astimezone(query.zone).date()
    until = query.until or today
    since = query.since or (until - timedelta(days=HEATMAP_DAYS - 1))
    scoped = replace(query, since=since, until=until)
    filters = scoped.filters()
    assert filters.since_ms is not None and filters.until_ms is not None
    segments = offset_segments(query.zone, filters.since_ms - DAY_MS, filters.until_ms + DAY_MS)
    usage = {
        r.index: r.totals
        for r in store.interval_totals(filters, segments, DAY_MS, by_model=False, models=models)
    }
    sessions = dict(store.session_day_counts(filters, segments, models))
    days: list[HeatmapDay] = []
    for index in sorted(set(usage) | set(sessions)):
        figures = UsageFigures.from_totals(usage.get(index, Totals.zero()))
        days.append(
            HeatmapDay(
                day=day_to_date(index),
                requests=figures.requests,
                cost_usd=figures.cost_usd,
                total_tokens=figures.total_tokens,
                output_tokens=figures.output_tokens,
                sessions=sessions.get(index, 0),
                unpriced_requests=figures.unpriced_requests,
            )
        )
    return Heatmap(metric, since, until, days, query.zone_name)


@dataclass(frozen=True, slots=True)
class TimelinePoint:
    start: datetime
    """The interval's first local moment (aware, in the query's zone)."""
    label: str
    figures: UsageFigures
    cumulative_tokens: int | None
    cumulative_cost_usd: float | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(),
            "label": self.label,
            **self.figures.as_dict(),
            "cumulative_tokens": self.cumulative_tokens,
            "cumulative_cost_usd": self.cumulative_cost_usd,
        }


@dataclass(frozen=True, slots=True)
class Timeline:
    """Usage per interval with running totals; intervals without usage have 0 requests."""

    interval: TimelineInterval
    points: list[TimelinePoint]
    totals: UsageFigures
    timezone: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "interval": self.interval,
            "timezone": self.timezone,
            "totals": self.totals.as_dict(),
            "points": [p.as_dict() for p in self.points],
        }


def auto_interval(days: float) -> TimelineInterval:
    """The interval that gives a readable number of points for a span of ``days``."""
    if days <= 3:
        return "hour"
    if days <= 180:
        return "day"
    if days <= 3 * 366:
        return "week"
    return "month"


def _local_naive(ms: int) -> datetime:
    return datetime(1970, 1, 1) + timedelta(milliseconds=ms)


def token_timeline(
    store: Store,
    query: ReportQuery,
    *,
    interval: TimelineInterval | Literal["auto"] = "auto",
    models: Sequence[str] = (),
    now: datetime | None = None,
) -> Timeline:
    """Tokens and cost per hour, day, ISO week or month (``auto`` picks one for the span),
    from the query's ``since`` (else the first usage) to its ``until`` (else the last usage,
    or now when ``since`` is given), every interval present, with cumulative totals."""
    filters = query.filters()
    zone = query.zone
    span = store.time_range(filters)
    now_ms = int((now or datetime.now(UTC)).timestamp() * 1000)
    if filters.since_ms is not None:
        start_ms = filters.since_ms
    elif span is not None:
        start_ms = span[0]
    else:
        start_ms = now_ms
    if filters.until_ms is not None:
        end_ms = filters.until_ms
    elif filters.since_ms is not None:
        end_ms = max(now_ms, span[1] + BUCKET_MS if span else now_ms)
    else:
        end_ms = span[1] + BUCKET_MS if span else now_ms
    end_ms = max(end_ms, start_ms + 1)
    chosen: TimelineInterval = (
        auto_interval((end_ms - start_ms) / DAY_MS) if interval == "auto" else interval
    )
    if chosen not in TIMELINE_INTERVALS:
        raise ValueError(f"unknown timeline interval {chosen!r}")
    segments = offset_segments(zone, start_ms - DAY_MS, end_ms + DAY_MS)
    step = HOUR_MS if chosen == "hour" else DAY_MS
    rows = store.interval_totals(filters, segments, step, by_model=False, models=models)
    first_local = start_ms + offset_ms(zone, start_ms)
    last_local = end_ms - 1 + offset_ms(zone, end_ms - 1)
    keys: list[tuple[str, datetime]] = []
    grouped: dict[str, Totals] = {}
    if chosen == "hour":
        first, last = first_local // HOUR_MS, last_local // HOUR_MS
        if last - first + 1 > MAX_TIMELINE_POINTS:
            raise ValueError(_too_many(chosen, last - first + 1))
        for index in range(first, last + 1):
            moment = _local_naive(index * HOUR_MS)
            keys.append((moment.strftime("%Y-%m-%d %H:00"), moment))
        for r in rows:
            label = _local_naive(r.index * HOUR_MS).strftime("%Y-%m-%d %H:00")
            grouped[label] = grouped.get(label, Totals.zero()) + r.totals
    else:
        label_of: Callable[[date], str] = _LABELS[
            {"day": "daily", "week": "weekly", "month": "monthly"}[chosen]
        ]
        first_day = day_to_date(first_local // DAY_MS)
        last_day = day_to_date(last_local // DAY_MS)
        day = _period_start(first_day, chosen)
        while day <= last_day:
            keys.append((label_of(day), datetime(day.year, day.month, day.day)))
            if len(keys) > MAX_TIMELINE_POINTS:
                raise ValueError(_too_many(chosen, len(keys)))
            day = _next_period(day, chosen)
        for r in rows:
            label = label_of(day_to_date(r.index))
            grouped[label] = grouped.get(label, Totals.zero()) + r.totals
    points: list[TimelinePoint] = []
    running_tokens: int | None = None
    running_cost: float | None = None
    whole = Totals.zero()
    for label, moment in keys:
        totals = grouped.get(label, Totals.zero())
        whole = whole + totals
        figures = UsageFigures.from_totals(totals)
        if figures.total_tokens is not None:
            running_tokens = (running_tokens or 0) + figures.total_tokens
        if figures.cost_usd is not None:
            running_cost = round((running_cost or 0.0) + figures.cost_usd, 6)
        points.append(
            TimelinePoint(
                start=moment.replace(tzinfo=zone),
                label=label,
                figures=figures,
                cumulative_tokens=running_tokens,
                cumulative_cost_usd=running_cost,
            )
        )
    return Timeline(chosen, points, UsageFigures.from_totals(whole), query.zone_name)


def _too_many(interval: str, count: int) -> str:
    return (
        f"a timeline per {interval} of this range has {count:,} points (at most "
        f"{MAX_TIMELINE_POINTS:,}); choose a coarser interval or a shorter range"
    )


def _period_start(day: date, interval: TimelineInterval) -> date:
    return period_start(day, interval)


def _next_period(day: date, interval: TimelineInterval) -> date:
    return next_period_start(day, interval)


@dataclass(frozen=True, slots=True)
class ModelSeries:
    model: str | None
    """None for usage without a model; ``"(other)"`` for the models past the top ones."""
    values: list[float | None]
    """Cost per day: None where the model had usage but no price; 0.0 where it had none."""
    unpriced_requests: list[int]
    figures: UsageFigures

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "values": list(self.values),
            "unpriced_requests": list(self.unpriced_requests),
            "totals": self.figures.as_dict(),
        }


@dataclass(frozen=True, slots=True)
class DailyByModel:
    days: list[date]
    """The first day of each bar: days, or the Mondays of ISO weeks, or months' first days."""
    series: list[ModelSeries]
    unpriced_models: list[UnpricedModel]
    timezone: str
    interval: Literal["day", "week", "month"] = "day"

    def as_dict(self) -> dict[str, Any]:
        return {
            "interval": self.interval,
            "days": [d.isoformat() for d in self.days],
            "series": [s.as_dict() for s in self.series],
            "unpriced_models": unpriced_dicts(self.unpriced_models),
            "timezone": self.timezone,
        }


def daily_cost_by_model(
    store: Store,
    query: ReportQuery,
    *,
    models: Sequence[str] = (),
    top: int = 8,
    max_days: int = 3 * 366,
    interval: Literal["day", "week", "month", "auto"] = "day",
) -> DailyByModel:
    """Cost per local day and model (for a stacked chart), the ``top`` costliest models apart
    and the others summed; every day from ``since`` (else the first usage) to ``until`` (else
    the last usage), at most ``max_days`` of them (the newest). With ``interval`` ``week`` or
    ``month`` the days are summed per ISO week or month; ``auto`` picks by the span as the
    token timeline does (days up to 180 days, then weeks, months past three years)."""
    filters = query.filters()
    span = store.time_range(filters)
    if span is None and (filters.since_ms is None or filters.until_ms is None):
        return DailyByModel([], [], [], query.zone_name)
    start_ms = filters.since_ms if filters.since_ms is not None else span[0]  # type: ignore[index]
    end_ms = filters.until_ms if filters.until_ms is not None else span[1] + BUCKET_MS  # type: ignore[index]
    segments = offset_segments(query.zone, start_ms - DAY_MS, end_ms + DAY_MS)
    first = day_to_date((start_ms + offset_ms(query.zone, start_ms)) // DAY_MS)
    last = day_to_date((end_ms - 1 + offset_ms(query.zone, end_ms - 1)) // DAY_MS)
    first = max(first, last - timedelta(days=max_days - 1))
    chosen = interval
    if chosen == "auto":
        picked = auto_interval((last - first).days + 1)
        chosen = "day" if picked == "hour" else picked
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    if chosen != "day":  # one bar per week or month: each day counts in its period's bar
        starts = sorted({_period_start(d, chosen) for d in days})
        at_start = {d: i for i, d in enumerate(starts)}
        position = {d: at_start[_period_start(d, chosen)] for d in days}
        days = starts
    else:
        position = {d: i for i, d in enumerate(days)}
    per_model: dict[str | None, dict[int, Totals]] = {}
    for r in store.interval_totals(filters, segments, DAY_MS, by_model=True, models=models):
        at = position.get(day_to_date(r.index))
        if at is not None:
            cells = per_model.setdefault(None if r.model is None else model_alias(r.model), {})
            cells[at] = cells.get(at, Totals.zero()) + r.totals
    whole = {m: sum(cells.values(), Totals.zero()) for m, cells in per_model.items()}
    ranked = sorted(
        per_model,
        key=lambda m: (
            -_priced_cost(UsageFigures.from_totals(whole[m])),
            -whole[m].requests,
            m is None,
            m or "",
        ),
    )
    kept, rest = ranked[:top], ranked[top:]
    groups: list[tuple[str | None, dict[int, Totals]]] = [(m, per_model[m]) for m in kept]
    if rest:
        merged: dict[int, Totals] = {}
        for m in rest:
            for at, totals in per_model[m].items():
                merged[at] = merged.get(at, Totals.zero()) + totals
        groups.append(("(other)", merged))
    series: list[ModelSeries] = []
    for model, cells in groups:
        values: list[float | None] = []
        unpriced: list[int] = []
        for at in range(len(days)):
            cell = cells.get(at)
            if cell is None:
                values.append(0.0)
                unpriced.append(0)
                continue
            day_figures = UsageFigures.from_totals(cell)
            values.append(day_figures.cost_usd)
            unpriced.append(day_figures.unpriced_requests)
        whole_figures = UsageFigures.from_totals(sum(cells.values(), Totals.zero()))
        series.append(ModelSeries(model, values, unpriced, whole_figures))
    return DailyByModel(
        days, series, unpriced_models_of(store, filters, models), query.zone_name, chosen
    )


@dataclass(frozen=True, slots=True)
class SessionPageEntry:
    """A session in a sorted page: its figures with its subagents' and its own apart."""

    session: Session
    figures: UsageFigures
    own: UsageFigures
    subagent_count: int
    first_activity: datetime | None
    last_activity: datetime | None
    runtime: Runtime | None = None
    models: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        first = self.first_activity
        return session_name(
            self.session, self.models, int(first.timestamp() * 1000) if first else None
        )

    def as_dict(self) -> dict[str, Any]:
        s = self.session
        return {
            "session_key": s.key,
            "name": self.name,
            "source": s.source,
            "run_id": s.run_id,
            "issue_id": s.issue_id,
            "identifier": s.identifier,
            "title": s.title,
            "project": s.project,
            **_model_fields(s, self.models),
            "state": s.state,
            "turns": s.turns,
            "parent_key": s.parent_key,
            "relationship": s.relationship,
            "git_branch": s.git_branch,
            "started_at": _iso(s.started_at),
            "completed_at": _iso(s.ended_at),
            "first_activity": _iso(self.first_activity),
            "last_activity": _iso(self.last_activity),
            **(self.runtime or session_runtime(s, None, None, None)).as_dict(),
            **self.figures.as_dict(),
            "own": self.own.as_dict(),
            "subagent_count": self.subagent_count,
        }


@dataclass(frozen=True, slots=True)
class SessionPageReport:
    rows: list[SessionPageEntry]
    total: int
    runtime_seconds: float | None
    sort: SessionSort
    descending: bool
    limit: int
    offset: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": [row.as_dict() for row in self.rows],
            "total": self.total,
            "runtime_seconds": self.runtime_seconds,
            "sort": self.sort,
            "order": "desc" if self.descending else "asc",
            "limit": self.limit,
            "offset": self.offset,
        }


def session_page_report(
    store: Store,
    query: ReportQuery,
    *,
    models: Sequence[str] = (),
    search: str | None = None,
    sort: SessionSort = "last_activity",
    descending: bool = True,
    limit: int = 50,
    offset: int = 0,
    without_usage: bool = False,
) -> SessionPageReport:
    """One page of top-level sessions active in the query's range, sorted, subagents rolled
    up: the sessions of the one session count, and with ``without_usage`` those that made no
    request too (see :meth:`tokentrail.store.base.Store.session_page`)."""
    if sort not in SESSION_SORTS:
        raise ValueError(f"cannot sort sessions by {sort!r}; use one of {', '.join(SESSION_SORTS)}")
    page = store.session_page(
        SessionPageQuery(
            filters=query.filters(),
            models=tuple(models),
            search=search or None,
            sort=sort,
            descending=descending,
            limit=limit,
            offset=offset,
            without_usage=without_usage,
        )
    )
    active, served = _activity(store, [r.session.key for r in page.rows])
    rows = [
        SessionPageEntry(
            session=r.session,
            figures=UsageFigures.from_totals(r.totals),
            own=UsageFigures.from_totals(r.own),
            subagent_count=r.subagents,
            first_activity=_from_ms(r.first_ms) or r.session.started_at,
            last_activity=_from_ms(r.last_ms) or r.session.ended_at or r.session.started_at,
            runtime=session_runtime(r.session, r.first_ms, r.last_ms, active.get(r.session.key)),
            models=served.get(r.session.key, ()),
        )
        for r in page.rows
    ]
    runtime = page.runtime_ms / 1000 if page.runtime_ms is not None else None
    return SessionPageReport(rows, page.total, runtime, sort, descending, limit, offset)


def top_sessions(
    store: Store,
    query: ReportQuery,
    *,
    by: Literal["cost", "tokens"] = "cost",
    limit: int = 10,
    models: Sequence[str] = (),
) -> SessionPageReport:
    """The costliest (or largest) sessions active in the query's range."""
    return session_page_report(store, query, models=models, sort=by, limit=limit)


@dataclass(frozen=True, slots=True)
class ScopeBlock:
    """Usage of one time scope (all time, the selected range, this month, today) with the
    number of top-level sessions active in it and their summed runtime."""

    label: str
    since: date | None
    until: date | None
    figures: UsageFigures
    sessions: int
    runtime_seconds: float | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            **self.figures.as_dict(),
            "sessions": self.sessions,
            "runtime_seconds": self.runtime_seconds,
        }


def scope_block(
    store: Store,
    query: ReportQuery,
    label: str,
    *,
    models: Sequence[str] = (),
    counter: SessionCounter | None = None,
) -> ScopeBlock:
    filters = query.filters()
    if not models:  # the one session count
        counts = (counter or SessionCounter(store)).counts(filters)
        sessions, runtime = counts.sessions, counts.runtime_seconds
    else:
        # with a model filter: the sessions that used those models, which all made requests
        page = store.session_page(SessionPageQuery(filters=filters, models=tuple(models), limit=0))
        sessions = page.total
        runtime = page.runtime_ms / 1000 if page.runtime_ms is not None else None
    return ScopeBlock(
        label=label,
        since=query.since,
        until=query.until,
        figures=UsageFigures.from_totals(model_totals(store, filters, models)),
        sessions=sessions,
        runtime_seconds=runtime,
    )


@dataclass(frozen=True, slots=True)
class Overview:
    """Everything the dashboard's overview shows, computed in one pass."""

    lifetime: ScopeBlock
    selected: ScopeBlock | None
    month: ScopeBlock
    today: ScopeBlock
    current_run: RunRow | None
    current_run_block: SummaryBlock | None
    daily: DailyByModel
    timeline: Timeline
    heatmap: Heatmap
    top_sessions: SessionPageReport
    recent_sessions: SessionPageReport
    by_source: SpendReport
    by_model: SpendReport
    by_project: SpendReport
    unpriced_models: list[UnpricedModel]
    timezone: str

    def as_dict(self) -> dict[str, Any]:
        current = None
        if self.current_run is not None and self.current_run_block is not None:
            current = {**self.current_run.as_dict(), **self.current_run_block.as_dict()}
        return {
            "lifetime": self.lifetime.as_dict(),
            "selected": self.selected.as_dict() if self.selected else None,
            "month": self.month.as_dict(),
            "today": self.today.as_dict(),
            "current_run": current,
            "daily_cost_by_model": self.daily.as_dict(),
            "timeline": self.timeline.as_dict(),
            "heatmap": self.heatmap.as_dict(),
            "top_sessions": self.top_sessions.as_dict(),
            "recent_sessions": self.recent_sessions.as_dict(),
            "by_source": self.by_source.as_dict(),
            "by_model": self.by_model.as_dict(),
            "by_project": self.by_project.as_dict(),
            "unpriced_models": unpriced_dicts(self.unpriced_models),
            "timezone": self.timezone,
        }


def overview_report(
    store: Store,
    query: ReportQuery,
    *,
    models: Sequence[str] = (),
    heatmap_metric: HeatmapMetric = "cost",
    now: datetime | None = None,
) -> Overview:
    """The overview: lifetime, selected range, this month and today; the current run; daily
    cost by model, the token timeline and the heatmap; top and recent sessions; spend by
    source, model and project. Everything but the lifetime block covers the query's range."""
    now = now or datetime.now(UTC)
    today = now.astimezone(query.zone).date()
    everything = replace(query, since=None, until=None)
    counter = SessionCounter(store)  # each block's session count from one read
    lifetime = scope_block(store, everything, "All time", models=models, counter=counter)
    selected = (
        scope_block(store, query, "Selected range", models=models, counter=counter)
        if query.since or query.until
        else None
    )
    month = scope_block(
        store,
        replace(query, since=today.replace(day=1), until=today),
        "This month",
        models=models,
        counter=counter,
    )
    today_block = scope_block(
        store, replace(query, since=today, until=today), "Today", models=models, counter=counter
    )
    current_run, current_block = _current_run(store, counter)
    heat_query = replace(everything, until=query.until or today)
    return Overview(
        lifetime=lifetime,
        selected=selected,
        month=month,
        today=today_block,
        current_run=current_run,
        current_run_block=current_block,
        # a readable chart at any range: weeks or months past 180 days, five models apart
        daily=daily_cost_by_model(store, query, models=models, top=5, interval="auto"),
        timeline=token_timeline(store, query, models=models, now=now),
        heatmap=heatmap_report(store, heat_query, heatmap_metric, models=models, now=now),
        top_sessions=top_sessions(store, query, models=models),
        recent_sessions=session_page_report(store, query, models=models, limit=20),
        by_source=spend_by(store, query, "source", models=models),
        by_model=spend_by(store, query, "model", models=models),
        by_project=spend_by(store, query, "project", models=models, limit=12),
        unpriced_models=unpriced_models_of(store, query.filters(), models),
        timezone=query.zone_name,
    )


def _current_run(
    store: Store, counter: SessionCounter | None = None
) -> tuple[RunRow | None, SummaryBlock | None]:
    """The most recently started run still running, with its sessions (as the summary's)."""
    chosen = next((r for r in store.list_runs() if r.run.state == "running"), None)
    if chosen is None:
        return None, None
    row = _run_row(chosen.run, chosen.totals, chosen.last_ms)
    return row, _run_block(store, row, counter)
