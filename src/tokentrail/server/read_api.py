"""The read API behind the dashboard: every page's data as JSON, CSV exports of its tables,
and a cheap change marker for live updates.

    app.state.ledger = ledger
    app.include_router(read_api.router)

Routes find the ledger at ``request.app.state.ledger`` and read through
:meth:`tokentrail.ledger.Ledger.reading`. Filters are the dashboard's (and kept in its URLs):
``since``/``until`` (inclusive local days), ``range`` (``7d``, ``30d``, ``90d``, ``1y``,
``all``), ``tz``, ``source`` and ``model`` (repeatable), ``project`` (text in the path).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from tokentrail.export import TABLES, TableName, csv_chunks, table
from tokentrail.ingest import MAX_ID_LENGTH, InvalidUsage
from tokentrail.ledger import Ledger
from tokentrail.model_names import model_ids_of
from tokentrail.read_once import read_once
from tokentrail.reports.charts import HeatmapMetric, heatmap_report, token_timeline
from tokentrail.reports.charts import daily_cost_by_model as daily_cost_by_model_report
from tokentrail.reports.overview import overview_report
from tokentrail.reports.query import ReportQuery
from tokentrail.reports.sessions import session_page_report
from tokentrail.reports.sessions import top_sessions as top_sessions_report
from tokentrail.reports.spend import spend_by
from tokentrail.server.limits import API_PREFIX, MAX_NOTE_LENGTH, MAX_SESSIONS_LIMIT
from tokentrail.server.models import CurrentRunOut, Figures
from tokentrail.server.params import WITHOUT_USAGE, day_param, zone_param
from tokentrail.store.base import SESSION_SORTS, SessionSort, Store
from tokentrail.trends import overview_trends

FEATURES = (
    "overview",
    "reports.heatmap",
    "reports.timeline",
    "reports.daily_cost_by_model",
    "reports.top_sessions",
    "reports.models",
    "reports.projects",
    "reports.sources",
    "reports.trends",
    "sessions.list",
    "export.csv",
    "version",
    "dashboard",
)
"""Names for ``GET /api/v1/capabilities``: what this router (and the dashboard) adds."""

RANGES: dict[str, int | None] = {"7d": 7, "30d": 30, "90d": 90, "1y": 365, "all": None}
"""Preset ranges: the last N local days up to today (``all``: no bound)."""
PAGE_DEFAULT_RANGE = "30d"
"""What the dashboard's pages (and ``/api/v1/overview``) show when no range is given."""

router = APIRouter(prefix=API_PREFIX, tags=["dashboard"])


def get_ledger(request: Request) -> Ledger:
    ledger: Ledger = request.app.state.ledger
    return ledger


LedgerDep = Annotated[Ledger, Depends(get_ledger)]


def model_ids(store: Store, view: View) -> tuple[str, ...]:
    """The raw model ids the view's model filter names: a dated id and its alias are one
    model (:mod:`tokentrail.model_names`), so a filter on either matches both."""
    if not view.models:
        return ()
    return model_ids_of(view.models, store.group_names("model"))


# -- filters -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class View:
    """The filters shared by every page and endpoint, parsed, with what was given."""

    query: ReportQuery
    models: tuple[str, ...]
    range: str | None
    """The preset in force (``30d`` …), ``custom`` for explicit days, None for all time."""
    given: tuple[tuple[str, str], ...]
    """The filter parameters as given (for links that keep them)."""

    def params(self, **changes: str | None) -> str:
        """The query string of these filters with ``changes`` (None removes a key)."""
        pairs = [(k, v) for k, v in self.given if k not in changes]
        pairs += [(k, v) for k, v in changes.items() if v is not None]
        return urlencode(pairs)

    def value(self, name: str) -> str:
        return next((v for k, v in self.given if k == name), "")

    def values(self, name: str) -> list[str]:
        return [v for k, v in self.given if k == name]


def parse_view(
    *,
    since: str | None = None,
    until: str | None = None,
    range_: str | None = None,
    tz: str | None = None,
    sources: list[str] | None = None,
    project: str | None = None,
    models: list[str] | None = None,
    default_range: str | None = None,
    now: datetime | None = None,
) -> View:
    """Check the filters (errors name the parameter) and build the report query."""
    zone, zone_name = zone_param(tz)
    since_day = day_param(since, "since")
    until_day = day_param(until, "until")
    chosen = range_ or None
    if chosen is not None and chosen not in RANGES:
        raise InvalidUsage("range", f"{chosen!r} is not a range; use one of {', '.join(RANGES)}")
    if since_day or until_day:
        chosen = "custom"
    else:
        chosen = chosen or default_range
        days = RANGES.get(chosen or "all")
        if days is not None:
            today = (now or datetime.now(UTC)).astimezone(zone).date()
            since_day = today - timedelta(days=days - 1)
    if since_day and until_day and since_day > until_day:
        raise InvalidUsage("since", f"{since_day} is after until {until_day}; swap them")
    clean_sources = tuple(s for s in (sources or ()) if s)
    clean_models = tuple(dict.fromkeys(m for m in (models or ()) if m))
    given: list[tuple[str, str]] = []
    for key, value in (("since", since), ("until", until), ("range", range_), ("tz", tz)):
        if value:
            given.append((key, value))
    given += [("source", s) for s in clean_sources]
    if project:
        given.append(("project", project))
    given += [("model", m) for m in clean_models]
    query = ReportQuery(
        zone=zone,
        zone_name=zone_name,
        since=since_day,
        until=until_day,
        sources=clean_sources,
        project=project or None,
    )
    return View(query, clean_models, None if chosen == "all" else chosen, tuple(given))


Day = Annotated[str | None, Query(max_length=20, description="YYYY-MM-DD, a local day in tz")]
Text = Annotated[str | None, Query(max_length=MAX_NOTE_LENGTH)]
Names = Annotated[list[str] | None, Query(max_length=MAX_ID_LENGTH)]
RangeParam = Annotated[
    str | None,
    Query(
        alias="range",
        max_length=8,
        description="7d, 30d, 90d, 1y or all: the last N local days up to today "
        "(since/until win over it)",
    ),
]


def view_filters(
    since: Day = None,
    until: Day = None,
    range_: RangeParam = None,
    tz: Text = None,
    source: Annotated[
        list[str] | None, Query(max_length=MAX_ID_LENGTH, description="Repeatable")
    ] = None,
    project: Annotated[
        str | None, Query(max_length=MAX_NOTE_LENGTH, description="Text in the project path")
    ] = None,
    model: Annotated[
        list[str] | None, Query(max_length=MAX_ID_LENGTH, description="Repeatable")
    ] = None,
) -> View:
    """The shared filters of an API call (no range: all time)."""
    return parse_view(
        since=since,
        until=until,
        range_=range_,
        tz=tz,
        sources=source,
        project=project,
        models=model,
    )


def page_filters(
    since: Day = None,
    until: Day = None,
    range_: RangeParam = None,
    tz: Text = None,
    source: Annotated[list[str] | None, Query(max_length=MAX_ID_LENGTH)] = None,
    project: Annotated[str | None, Query(max_length=MAX_NOTE_LENGTH)] = None,
    model: Annotated[list[str] | None, Query(max_length=MAX_ID_LENGTH)] = None,
) -> View:
    """The shared filters of a page view (no range: the last 30 days)."""
    return parse_view(
        since=since,
        until=until,
        range_=range_,
        tz=tz,
        sources=source,
        project=project,
        models=model,
        default_range=PAGE_DEFAULT_RANGE,
    )


ViewDep = Annotated[View, Depends(view_filters)]
PageViewDep = Annotated[View, Depends(page_filters)]


# -- response models -----------------------------------------------------------------------


class UnpricedModelOut(BaseModel):
    model: str
    requests: int
    tokens: int


class SpendRowOut(Figures):
    group: str | None = Field(description="The source, model or project; null: not reported.")
    share: float | None = Field(description="Share of the priced cost (or of tokens).")


class SpendOut(BaseModel):
    by: str
    rows: list[SpendRowOut]
    totals: Figures
    share_of: Literal["cost", "tokens"]
    unpriced_models: list[UnpricedModelOut]
    timezone: str


class HeatmapDayOut(BaseModel):
    date: str
    value: float | None = Field(description="The chosen metric; null: not reported/priced.")
    requests: int
    cost_usd: float | None
    total_tokens: int | None
    output_tokens: int | None
    sessions: int
    unpriced_requests: int


class HeatmapOut(BaseModel):
    metric: str
    since: str
    until: str
    timezone: str
    max: float | None
    total: float | None
    days: list[HeatmapDayOut] = Field(description="Only days with usage or sessions.")


class TimelinePointOut(Figures):
    start: str = Field(description="The interval's first local moment, ISO 8601.")
    label: str
    cumulative_tokens: int | None
    cumulative_cost_usd: float | None


class TimelineOut(BaseModel):
    interval: str
    timezone: str
    totals: Figures
    points: list[TimelinePointOut]


class ModelSeriesOut(BaseModel):
    model: str | None
    values: list[float | None] = Field(description="Cost per day; null: usage without price.")
    unpriced_requests: list[int]
    totals: Figures


class DailyByModelOut(BaseModel):
    interval: Literal["day", "week", "month"] = Field(
        "day", description="What each of `days` starts: a day, an ISO week or a month"
    )
    days: list[str]
    series: list[ModelSeriesOut]
    unpriced_models: list[UnpricedModelOut]
    timezone: str


class SessionEntryOut(Figures):
    session_key: str
    source: str
    run_id: str | None
    issue_id: str | None
    identifier: str | None
    title: str | None
    project: str | None
    model: str | None
    state: str | None
    turns: int | None
    parent_key: str | None
    relationship: str | None
    git_branch: str | None
    started_at: datetime | None
    completed_at: datetime | None
    first_activity: datetime | None
    last_activity: datetime | None
    runtime_seconds: float | None = Field(description="Wall span (see runtime_basis).")
    name: str | None = Field(
        default=None,
        description="A readable name: the agent's title, else project · start (UTC) · first "
        "model; never prompt text.",
    )
    models: list[str] = Field(
        default_factory=list,
        description="The models that served the session's requests, most-used first.",
    )
    runtime_basis: str | None = Field(
        default=None,
        description="What runtime_seconds spans: 'recorded' (the start and end an orchestrator "
        "recorded) or 'requests' (first to last own request).",
    )
    active_seconds: float | None = Field(
        default=None,
        description="Sum of the gaps between consecutive requests up to 15 minutes (idle gaps "
        "left out).",
    )
    own: Figures = Field(description="The session's own usage, without its subagents'.")
    subagent_count: int


class SessionPageOut(BaseModel):
    rows: list[SessionEntryOut]
    total: int = Field(description="Sessions matching the filters, on all pages.")
    runtime_seconds: float | None
    sort: str
    order: Literal["asc", "desc"]
    limit: int
    offset: int


class ScopeOut(Figures):
    label: str
    since: str | None
    until: str | None
    sessions: int
    runtime_seconds: float | None


class OverviewOut(BaseModel):
    lifetime: ScopeOut
    selected: ScopeOut | None
    month: ScopeOut
    today: ScopeOut
    current_run: CurrentRunOut | None
    daily_cost_by_model: DailyByModelOut
    timeline: TimelineOut
    heatmap: HeatmapOut
    top_sessions: SessionPageOut
    recent_sessions: SessionPageOut
    by_source: SpendOut
    by_model: SpendOut
    by_project: SpendOut
    unpriced_models: list[UnpricedModelOut]
    timezone: str


class ChangeOut(BaseModel):
    previous: Figures = Field(description="The period of the same length just before")
    previous_since: str
    previous_until: str
    cost_change: float | None = Field(
        description="Relative change of the priced cost (0.12 is +12%); null without a base"
    )
    tokens_change: float | None


class RangeDaysOut(BaseModel):
    days: int
    active_days: int
    average_cost_usd: float | None = Field(description="Priced cost per active day")
    peak_day: str | None
    peak_cost_usd: float | None


class MonthEndOut(BaseModel):
    projected_usd: float = Field(description="An estimate: spend so far plus the burn rate")
    projected_low_usd: float | None
    projected_high_usd: float | None


class MonthOut(BaseModel):
    month: str
    requests: int
    total_tokens: int | None
    cost_usd: float | None
    unpriced_requests: int
    cost_change: float | None = Field(description="Against the month before; null if none")


class TrendsOut(BaseModel):
    selected: ChangeOut | None = Field(description="null without a range start")
    month: ChangeOut
    today: ChangeOut
    days: RangeDaysOut | None
    month_end_estimate: MonthEndOut | None = Field(
        description="null with a model filter or several agents (a projection cannot be "
        "scoped to them)"
    )
    months: list[MonthOut] = Field(description="Months with usage in the year, newest first")


class VersionOut(BaseModel):
    version: str = Field(description="Changes whenever the ledger changes; compare, don't parse.")


# -- routes --------------------------------------------------------------------------------


def _invalid(name: str, exc: ValueError) -> InvalidUsage:
    return InvalidUsage(name, str(exc))


@router.get("/version", response_model=VersionOut)
def version(request: Request, ledger: LedgerDep) -> Response:
    """The ledger's last-change marker: poll it (it is cheap) and reload what you show when
    it changes. Sends an ``ETag``; with ``If-None-Match`` and no change, answers 304."""
    with ledger.reading() as store:
        marker = store.change_marker()
    etag = f'"{marker}"'
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(
        VersionOut(version=marker).model_dump_json(), media_type="application/json", headers=headers
    )


@router.get("/overview", response_model=OverviewOut)
def overview(
    ledger: LedgerDep,
    view: PageViewDep,
    metric: Annotated[HeatmapMetric, Query(description="The heatmap's value")] = "cost",
) -> Any:
    """Everything the dashboard's overview shows (its default range: the last 30 days)."""
    with ledger.reading() as read:
        store = read_once(read)  # its reports ask some of the same questions
        return overview_report(
            store, view.query, models=model_ids(store, view), heatmap_metric=metric
        ).as_dict()


@router.get("/trends", response_model=TrendsOut)
def trends_report(ledger: LedgerDep, view: PageViewDep) -> Any:
    """The overview's trend answers (default range: the last 30 days): the range, this month
    and today each against the same length just before it, the range's active days, average
    and peak day, this month's end projected (an estimate) and the months of the year."""
    with ledger.reading() as store:
        return overview_trends(store, view.query, models=model_ids(store, view)).as_dict()


@router.get("/heatmap", response_model=HeatmapOut)
def heatmap(
    ledger: LedgerDep,
    view: ViewDep,
    metric: Annotated[HeatmapMetric, Query()] = "cost",
) -> Any:
    """Cost, tokens, output tokens and sessions per local day; ``value`` is ``metric``.
    Without ``since``: the 365 days up to ``until`` (or today)."""
    with ledger.reading() as store:
        return heatmap_report(store, view.query, metric, models=model_ids(store, view)).as_dict()


@router.get("/timeline", response_model=TimelineOut)
def timeline(
    ledger: LedgerDep,
    view: ViewDep,
    interval: Annotated[
        Literal["auto", "hour", "day", "week", "month"], Query(description="auto: by the span")
    ] = "auto",
) -> Any:
    """Tokens and cost per interval with cumulative totals; intervals without usage are
    present with 0 requests."""
    with ledger.reading() as store:
        try:
            result = token_timeline(
                store, view.query, interval=interval, models=model_ids(store, view)
            )
        except ValueError as exc:
            raise _invalid("interval", exc) from None
        return result.as_dict()


@router.get("/daily-cost-by-model", response_model=DailyByModelOut)
def daily_cost_by_model(
    ledger: LedgerDep,
    view: ViewDep,
    top: Annotated[int, Query(ge=1, le=50, description="Models shown apart")] = 8,
    interval: Annotated[
        Literal["day", "week", "month", "auto"],
        Query(description="Sum per ISO week or month; auto: by the span, as the overview"),
    ] = "day",
) -> Any:
    """Cost per local day (or week, or month) and model, the costliest ``top`` models apart,
    the rest summed as ``(other)``; a null value is usage of the model that day without a
    price."""
    with ledger.reading() as store:
        return daily_cost_by_model_report(
            store, view.query, models=model_ids(store, view), top=top, interval=interval
        ).as_dict()


@router.get("/top-sessions", response_model=SessionPageOut)
def top_sessions(
    ledger: LedgerDep,
    view: ViewDep,
    by: Annotated[Literal["cost", "tokens"], Query()] = "cost",
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
) -> Any:
    """The costliest (or largest) sessions active in the range, subagents rolled up."""
    with ledger.reading() as store:
        return top_sessions_report(
            store, view.query, by=by, limit=limit, models=model_ids(store, view)
        ).as_dict()


SortParam = Annotated[SessionSort, Query(description=f"One of {', '.join(SESSION_SORTS)}")]


@router.get("/session-list", response_model=SessionPageOut)
def session_list(
    ledger: LedgerDep,
    view: ViewDep,
    sort: SortParam = "last_activity",
    order: Annotated[Literal["asc", "desc"], Query()] = "desc",
    limit: Annotated[int, Query(ge=1, le=MAX_SESSIONS_LIMIT)] = 50,
    offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
    q: Annotated[str | None, Query(max_length=200, description="Text in title/key/project")] = None,
    without_usage: Annotated[bool, Query(description=WITHOUT_USAGE)] = False,
) -> Any:
    """Top-level sessions with at least one request (the one session count) active in the
    range, sorted and paged, with the number of all that match; subagents are rolled up on
    their parent."""
    with ledger.reading() as store:
        return session_page_report(
            store,
            view.query,
            models=model_ids(store, view),
            search=q,
            sort=sort,
            descending=order == "desc",
            limit=limit,
            offset=offset,
            without_usage=without_usage,
        ).as_dict()


def _spend_route(name: str, by: Literal["source", "model", "project"]) -> None:
    @router.get(f"/{name}", response_model=SpendOut, name=f"spend_by_{by}")
    def spend(
        ledger: LedgerDep,
        view: ViewDep,
        limit: Annotated[int | None, Query(ge=1, le=1000)] = None,
    ) -> Any:
        with ledger.reading() as store:
            return spend_by(
                store, view.query, by, models=model_ids(store, view), limit=limit
            ).as_dict()

    spend.__doc__ = (
        f"Usage and cost per {by}, costliest first, with each one's share; with ``limit``, "
        "the rest summed as ``(other)``."
    )


_spend_route("sources", "source")
_spend_route("models", "model")
_spend_route("projects", "project")


@router.get(
    "/export/{what}.csv",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}, "description": "CSV with a header row"}},
    description=f"Any table as CSV: {', '.join(TABLES)}. The filters apply as to the JSON "
    "endpoints; `requests` (a session's requests) needs `key`; `sessions` takes the session "
    "list's `sort`, `order`, `q` and `without_usage`. An empty cell is unknown (not reported "
    "or not priced).",
)
def export_csv(
    ledger: LedgerDep,
    view: ViewDep,
    what: TableName,
    key: Annotated[
        str | None, Query(max_length=MAX_ID_LENGTH, description="The session (requests)")
    ] = None,
    sort: SortParam = "last_activity",
    order: Annotated[Literal["asc", "desc"], Query()] = "desc",
    q: Annotated[str | None, Query(max_length=200)] = None,
    metric: Annotated[HeatmapMetric, Query()] = "cost",
    interval: Annotated[Literal["auto", "hour", "day", "week", "month"], Query()] = "auto",
    without_usage: Annotated[bool, Query(description=WITHOUT_USAGE)] = False,
) -> StreamingResponse:
    if what == "requests" and not key:
        raise InvalidUsage("key", "is required for the requests of a session")
    with ledger.reading() as store:
        models = model_ids(store, view)
    try:
        exported = table(
            ledger,
            what,
            view.query,
            models=models,
            session_key=key,
            sort=sort,
            descending=order == "desc",
            search=q,
            metric=metric,
            interval=interval,
            without_usage=without_usage,
        )
    except ValueError as exc:
        raise _invalid("interval", exc) from None
    if exported is None:
        raise InvalidUsage("key", f"no session with key {key!r}")
    stamp = datetime.now(UTC).strftime("%Y%m%d")
    return StreamingResponse(
        _stream(csv_chunks(exported)),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="tokentrail-{what}-{stamp}.csv"'},
    )


def _stream(chunks: Iterator[str]) -> Iterator[bytes]:
    for chunk in chunks:
        yield chunk.encode()
