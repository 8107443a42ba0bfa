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
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse

from tokentrail.export import TABLES, TableName, csv_chunks, table
from tokentrail.ingest import MAX_ID_LENGTH, InvalidUsage
from tokentrail.read_once import read_once
from tokentrail.reports.charts import HeatmapMetric, heatmap_report, token_timeline
from tokentrail.reports.charts import daily_cost_by_model as daily_cost_by_model_report
from tokentrail.reports.overview import overview_report
from tokentrail.reports.sessions import session_page_report
from tokentrail.reports.sessions import top_sessions as top_sessions_report
from tokentrail.reports.spend import spend_by
from tokentrail.server.limits import API_PREFIX, MAX_SESSIONS_LIMIT
from tokentrail.server.models import (
    DailyByModelOut,
    HeatmapOut,
    OverviewOut,
    SessionPageOut,
    SpendOut,
    TimelineOut,
    TrendsOut,
    VersionOut,
)
from tokentrail.server.params import WITHOUT_USAGE
from tokentrail.server.view import LedgerDep, PageViewDep, ViewDep, model_ids
from tokentrail.store.base import SESSION_SORTS, SessionSort
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

router = APIRouter(prefix=API_PREFIX, tags=["dashboard"])


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
