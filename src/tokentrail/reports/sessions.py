"""Lists of sessions (recent, sorted pages, the costliest) and one session in detail."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal, NotRequired, TypedDict

from tokentrail.figures import FiguresJson, TokensCostJson, UsageFigures
from tokentrail.insights.tools import ToolUsageRowJson
from tokentrail.reports.counting import (
    Runtime,
    SessionRuntimeJson,
    SessionWhoJson,
    session_activity,
    session_identity,
    session_name,
    session_runtime,
)
from tokentrail.reports.query import ReportQuery, from_ms, iso_time
from tokentrail.shape import Default, Doc, IsoTime
from tokentrail.store.base import (
    SESSION_SORTS,
    Filters,
    SessionPageQuery,
    SessionSort,
    Store,
    Totals,
)
from tokentrail.usage import Session

# the JSON shapes (tokentrail.shape), their fields in the API's order; a shape
# without a docstring has no description in the API


class SessionJson(SessionWhoJson):  # a session as the write API answers
    started_at: IsoTime | None
    completed_at: IsoTime | None
    runtime_seconds: float | None


class _SessionTimesJson(TypedDict):
    started_at: IsoTime | None
    completed_at: IsoTime | None
    last_activity: IsoTime | None


class SessionRowJson(SessionWhoJson, _SessionTimesJson, SessionRuntimeJson, FiguresJson):
    """A session with its spend and its subagents' spend."""

    summary: NotRequired[
        Annotated[
            str | None,
            Doc(
                "One generated sentence about the session; parts without data are left "
                "out (docs/insights.md, Session summary)."
            ),
            Default(None),
        ]
    ]


class SessionsJson(TypedDict):
    rows: list[SessionRowJson]


class _RequestWhenJson(TypedDict):
    timestamp: IsoTime
    model: str | None
    session_key: str | None


class RequestJson(_RequestWhenJson, TokensCostJson):
    cost_status: str
    reported_cost_usd: float | None
    cumulative_tokens: NotRequired[
        Annotated[
            int | None,
            Doc("Tokens of the session up to and including this request."),
            Default(None),
        ]
    ]
    cumulative_cost_usd: NotRequired[
        Annotated[
            float | None,
            Doc("Cost of the session up to and including this request."),
            Default(None),
        ]
    ]


class SessionToolJson(ToolUsageRowJson):
    pass  # a tool's row in a session's detail (its own name in the API)


class SessionDetailJson(SessionRowJson):
    """A session with its spend and its subagents' (the figures here), its own spend, its
    subagents and every request."""

    own: Annotated[FiguresJson, Doc("The session's own usage, without its subagents'.")]
    subagents: list[SessionRowJson]
    timeline: Annotated[list[RequestJson], Doc("Every request, oldest first.")]
    lines_added: NotRequired[
        Annotated[
            int | None, Doc("Lines its edit tool calls added (null: no edit data)."), Default(None)
        ]
    ]
    lines_removed: NotRequired[Annotated[int | None, Default(None)]]
    cache_read_share: NotRequired[
        Annotated[
            float | None, Doc("cache_read / (input + cache_read + cache_write)."), Default(None)
        ]
    ]
    tools: NotRequired[
        Annotated[
            list[SessionToolJson],
            Doc("Tool calls per tool (its subagents' included)."),
            Default(factory=list),
        ]
    ]


class _PageTimesJson(TypedDict):
    git_branch: str | None
    started_at: IsoTime | None
    completed_at: IsoTime | None
    first_activity: IsoTime | None
    last_activity: IsoTime | None


class SessionEntryJson(FiguresJson, SessionWhoJson, _PageTimesJson, SessionRuntimeJson):
    own: Annotated[FiguresJson, Doc("The session's own usage, without its subagents'.")]
    subagent_count: int


class SessionPageJson(TypedDict):
    rows: list[SessionEntryJson]
    total: Annotated[int, Doc("Sessions matching the filters, on all pages.")]
    runtime_seconds: float | None
    sort: str
    order: Literal["asc", "desc"]
    limit: int
    offset: int


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

    def as_dict(self) -> SessionRowJson:
        s = self.session
        # summary is the API's to add (insights.sessions.list_summaries); mypy's strict check
        # asks a literal built with ** to write every NotRequired key
        return {
            **session_identity(s, self.name, self.models),
            "started_at": iso_time(s.started_at),
            "completed_at": iso_time(s.ended_at),
            "last_activity": iso_time(self.last_activity),
            **(self.runtime or session_runtime(s, None, None, None)).as_dict(),
            **self.figures.as_dict(),  # type: ignore[typeddict-item]
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
    active, models = session_activity(store, [r.session.key for r in page.rows])
    return [
        SessionListRow(
            session=r.session,
            figures=UsageFigures.from_totals(r.totals),
            last_activity=from_ms(r.last_ms) or r.session.ended_at or r.session.started_at,
            runtime=session_runtime(r.session, r.first_ms, r.last_ms, active.get(r.session.key)),
            models=models.get(r.session.key, ()),
            first_ms=r.first_ms,
        )
        for r in page.rows
    ]


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

    def as_dict(self) -> RequestJson:
        t = self.tokens
        cache_write = t.cache_write
        return {
            "timestamp": iso_time(self.timestamp),
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

    def as_dict(self) -> SessionDetailJson:
        # summary, lines and tools are the insights' to add (insights.sessions.detail_dict)
        return {
            **self.session.as_dict(),  # type: ignore[typeddict-item]
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
        SessionListRow(r.session, UsageFigures.from_totals(r.totals), from_ms(r.last_ms))
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
    active, models = session_activity(store, [key])
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

    def as_dict(self) -> SessionEntryJson:
        s = self.session
        return {
            **session_identity(s, self.name, self.models),
            "git_branch": s.git_branch,
            "started_at": iso_time(s.started_at),
            "completed_at": iso_time(s.ended_at),
            "first_activity": iso_time(self.first_activity),
            "last_activity": iso_time(self.last_activity),
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

    def as_dict(self) -> SessionPageJson:
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
    active, served = session_activity(store, [r.session.key for r in page.rows])
    rows = [
        SessionPageEntry(
            session=r.session,
            figures=UsageFigures.from_totals(r.totals),
            own=UsageFigures.from_totals(r.own),
            subagent_count=r.subagents,
            first_activity=from_ms(r.first_ms) or r.session.started_at,
            last_activity=from_ms(r.last_ms) or r.session.ended_at or r.session.started_at,
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
