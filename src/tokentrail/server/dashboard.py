"""The web dashboard: server-rendered pages (Jinja2, autoescaped) with a little vanilla JS and
charts from the vendored Apache ECharts. Every asset is served by the app itself.

    app.state.ledger = ledger
    app.include_router(dashboard.router)  # the pages and their static files

Pages: ``/`` (overview), ``/sessions`` (sortable, filterable, paged), ``/sessions/{key}``
(one session with its requests, subagents, tool calls and efficiency), ``/runs`` and
``/tools`` (tool calls per tool name); the overview carries the active 5-hour block. The
filters (range, time zone, source, project, model) live in the URL, so a view can be
bookmarked and shared; the same data is in the read API (:mod:`tokentrail.server.read_api`).
Pages poll ``/api/v1/version`` and refresh themselves in place when the ledger changes.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, tzinfo
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, HTMLResponse, Response

from tokentrail import formatting
from tokentrail.blocks import BlocksQuery, active_block
from tokentrail.budgets import BudgetReport, budget_report
from tokentrail.ingest import MAX_ID_LENGTH
from tokentrail.insights.efficiency import cache_read_share
from tokentrail.insights.sessions import detail_dict, session_efficiency, session_tools
from tokentrail.insights.tools import tool_usage
from tokentrail.model_names import model_alias
from tokentrail.read_once import read_once
from tokentrail.reports.charts import HEATMAP_METRICS, HeatmapMetric
from tokentrail.reports.counting import SessionCounter, SessionFamilies
from tokentrail.reports.overview import Overview, overview_report
from tokentrail.reports.sessions import RequestRow, session_detail, session_page_report
from tokentrail.reports.spend import unpriced_models_of
from tokentrail.runs_view import run_detail, run_list
from tokentrail.server.rendering import (
    IMMUTABLE,
    PER_PAGE_CHOICES,
    STATIC_PREFIX,
    filter_choices,
    page_view,
    render,
    source_label,
    static_assets,
    unpriced_names,
)
from tokentrail.server.view import (
    View,
    get_ledger,
    model_ids,
)
from tokentrail.store.base import NO_MODEL, SESSION_SORTS, Filters, SessionSort
from tokentrail.trends import overview_trends
from tokentrail.usage import Session
from tokentrail.watch import BackgroundSync as BackgroundSync  # served with the app

router = APIRouter(include_in_schema=False)


@router.api_route(STATIC_PREFIX + "/{name:path}", methods=["GET", "HEAD"])
def static_file(name: str) -> Response:
    """A static file. Under its content-hashed name it is immutable (browsers keep it a year
    and never ask again); under its plain name it is revalidated each time."""
    hashed, files = static_assets()
    path = files.get(name)
    if path is None:
        return Response("not found", status_code=404, media_type="text/plain")
    immutable = name not in hashed
    return FileResponse(
        path,
        headers={
            "Cache-Control": IMMUTABLE if immutable else "no-cache",
            "X-Content-Type-Options": "nosniff",
        },
    )


def _budgets(store: Any, ledger: Any, view: View) -> BudgetReport | None:
    """Where each configured budget stands (in the page's zone), or None without budgets.
    Budgets have their own scope: the page's filters do not apply to them."""
    if not ledger.config.budgets:
        return None
    return budget_report(store, ledger.config.budgets, view.query.zone, view.query.zone_name)


def _active_block(store: Any, view: View) -> dict[str, Any] | None:
    """The 5-hour block in progress (as ``GET /api/v1/blocks?active=true`` gives it) with the
    official rate-limit figures still current, or None when no block is active. Only the last
    hours are read, so the overview stays cheap. The agent and project filters apply (as the
    API's ``source``/``project``); the range and model filters do not: a block is always the
    one holding now, over every model."""
    query = BlocksQuery(
        zone=view.query.zone,
        zone_name=view.query.zone_name,
        sources=view.query.sources,
        project=view.query.project,
    )
    report = active_block(store, query)
    if not report.rows:
        return None
    data = report.as_dict()
    row: dict[str, Any] = data["rows"][0]
    row["unpriced_names"] = ", ".join(m["model"] for m in row["unpriced_models"])
    row["left_seconds"] = max(0.0, (report.rows[0].end_ms - report.now_ms) / 1000)
    # the block's own official figures, else the latest ones whose window has not reset yet
    official = row["official_rate_limits"] or [s for s in data["rate_limits"] if s["current"]]
    row["official"] = [{**s, "label": _window_label(s)} for s in official]
    return row


def _window_label(snapshot: dict[str, Any]) -> str:
    """ "Codex CLI 5-hour window", "Codex CLI weekly window" …"""
    minutes = snapshot.get("window_minutes")
    if minutes == 300:
        span = "5-hour"
    elif minutes == 7 * 24 * 60:
        span = "weekly"
    elif minutes:
        span = formatting.duration(minutes * 60).replace(" 00m", "").replace(" 0h", "")
    else:
        span = snapshot["window"]
    return f"{source_label(snapshot['source'])} {span} window"


# -- pages ---------------------------------------------------------------------------------


@router.get("/", response_class=HTMLResponse)
def overview_page(
    request: Request,
    metric: Annotated[str, Query(max_length=20)] = "cost",
) -> HTMLResponse:
    ledger = get_ledger(request)
    view, error = page_view(request)
    chosen_metric: HeatmapMetric = metric if metric in HEATMAP_METRICS else "cost"
    with ledger.reading() as read:
        store = read_once(read)  # the page's reports ask some of the same questions
        marker = store.change_marker()
        counter = SessionCounter(store, _kept_families(request, marker))
        data = overview_report(
            store,
            view.query,
            models=model_ids(store, view),
            heatmap_metric=chosen_metric,
            counter=counter,
        )
        budgets = _budgets(store, ledger, view)
        block = _active_block(store, view)
        trend = overview_trends(store, view.query, models=model_ids(store, view), year=data.heatmap)
        data_span = _data_span(store, view) if _empty_range(data) else None
        run_silent = _silent_since(store, data.current_run.run_id) if data.current_run else None
        choices = filter_choices(store)
    charts = {
        "daily": data.daily.as_dict(),
        "timeline": data.timeline.as_dict(),
        "heatmap": data.heatmap.as_dict(),
        "metric": chosen_metric,
    }
    return render(
        request,
        "overview.html",
        view,
        page="overview",
        error=error,
        data=data,
        budgets=budgets,
        block=block,
        charts=charts,
        choices=choices,
        marker=marker,
        trend=trend,
        data_span=data_span,
        run_silent=run_silent,
        unpriced_names=unpriced_names(data.unpriced_models),
        metrics=HEATMAP_METRICS,
        page_params={"metric": chosen_metric if chosen_metric != "cost" else ""},
    )


def _kept_families(request: Request, marker: str) -> SessionFamilies:
    """What the session counts work out from every session of the ledger (a pass over
    thousands, the most of an overview's time), kept for the next pages until the ledger's
    change marker moves, as the store keeps its session index: never a count of an older
    ledger."""
    kept: tuple[str, SessionFamilies] | None = getattr(request.app.state, "session_families", None)
    if kept is None or kept[0] != marker or len(kept[1]) > _KEPT_FAMILIES:
        kept = (marker, {})
        request.app.state.session_families = kept
    return kept[1]


_KEPT_FAMILIES = 8
"""Scopes (agents and project chosen, a run) whose families are kept at most."""


def _silent_since(store: Any, run_id: str) -> datetime | None:
    """When the run still marked running last showed a sign of life, if it went silent."""
    return next((r.silent_since for r in run_list(store) if r.run.run_id == run_id), None)


def _empty_range(data: Overview) -> bool:
    """True when the chosen range holds nothing while the ledger (as filtered) has usage."""
    return (
        data.selected is not None
        and data.selected.figures.requests == 0
        and data.lifetime.figures.requests > 0
    )


def _data_span(store: Any, view: View) -> tuple[date, date] | None:
    """The first and last local day with usage (agent and project filters applied), to offer
    when the chosen range is empty."""
    filters = view.query.filters()
    span = store.time_range(Filters(sources=filters.sources, project=filters.project))
    if span is None:
        return None
    first, last = (
        datetime.fromtimestamp(ms / 1000, UTC).astimezone(view.query.zone).date() for ms in span
    )
    return first, last


SortQuery = Annotated[str, Query(max_length=20)]


@router.get("/sessions", response_class=HTMLResponse)
def sessions_page(
    request: Request,
    sort: SortQuery = "last_activity",
    order: Annotated[str, Query(max_length=4)] = "desc",
    page: Annotated[int, Query(ge=1, le=10**7)] = 1,
    per: Annotated[int, Query(ge=1, le=1000)] = 50,
    q: Annotated[str | None, Query(max_length=200)] = None,
    without_usage: Annotated[str | None, Query(max_length=1)] = None,
) -> HTMLResponse:
    ledger = get_ledger(request)
    # the sessions of the one session count; those that made no request on demand
    idle = without_usage == "1"
    view, error = page_view(request)
    chosen_sort: SessionSort = sort if sort in SESSION_SORTS else "last_activity"
    descending = order != "asc"
    per = per if per in PER_PAGE_CHOICES else 50
    with ledger.reading() as store:
        marker = store.change_marker()
        result = session_page_report(
            store,
            view.query,
            models=model_ids(store, view),
            search=q,
            sort=chosen_sort,
            descending=descending,
            limit=per,
            offset=(page - 1) * per,
            without_usage=idle,
        )
        choices = filter_choices(store)
        unpriced = unpriced_models_of(store, view.query.filters(), model_ids(store, view))
        # the one session count (docs/counting.md), when the list is not narrowed further
        counter = SessionCounter(store, _kept_families(request, marker))
        counts = None if q or view.models else counter.counts(view.query.filters())
    pages = max(1, math.ceil(result.total / per))
    return render(
        request,
        "sessions.html",
        view,
        page="sessions",
        error=error,
        result=result,
        counts=counts,
        choices=choices,
        marker=marker,
        sort=chosen_sort,
        descending=descending,
        current_page=min(page, pages),
        pages=pages,
        per=per,
        per_choices=PER_PAGE_CHOICES,
        search=q or "",
        without_usage=idle,
        unpriced_names=unpriced_names(unpriced),
        sorts=SESSION_SORTS,
        page_params={
            "q": q or "",
            "sort": chosen_sort if chosen_sort != "last_activity" else "",
            "order": "asc" if not descending else "",
            "per": str(per) if per != 50 else "",
            "page": str(page) if page > 1 else "",
            "without_usage": "1" if idle else "",
        },
    )


@router.get("/sessions/{key:path}", response_class=HTMLResponse)
def session_page(
    request: Request,
    key: Annotated[str, PathParam(min_length=1, max_length=MAX_ID_LENGTH)],
) -> HTMLResponse:
    ledger = get_ledger(request)
    view, error = page_view(request)
    with ledger.reading() as store:
        detail = session_detail(store, key)
        tools = session_tools(store, detail) if detail is not None else None
        extra = detail_dict(store, detail, tools) if detail is not None else None
        efficiency = (
            session_efficiency(detail, tools) if detail is not None and tools is not None else None
        )
        choices = filter_choices(store)
        marker = store.change_marker()
        parent: Session | None = None
        if detail is not None and detail.session.session.parent_key:
            parent = store.sessions_by_key([detail.session.session.parent_key]).get(
                detail.session.session.parent_key
            )
    if detail is None or extra is None:
        return _missing(request, view, "sessions", key, error=error, choices=choices, marker=marker)
    requests_shown = detail.requests[-REQUESTS_SHOWN:]
    unpriced = sorted({r.model or NO_MODEL for r in detail.requests if r.cost_usd is None})
    chart = {
        "requests": [
            {
                # wall-clock time in the view's zone, as the table and running total show it
                "t": r.timestamp.astimezone(view.query.zone).replace(tzinfo=None).isoformat(),
                "model": r.model,
                "session": r.session_key,
                "input": r.tokens.input,
                "cache_read": r.tokens.cache_read,
                "cache_write": r.tokens.cache_write,
                "output": r.tokens.output,
                "cost": r.cost_usd,
            }
            for r in detail.requests[-CHART_REQUESTS:]
        ],
        "timezone": view.query.zone_name,
        "cumulative": _cumulative_points(detail.requests, extra["timeline"], view.query.zone),
    }
    # the models that served its requests (and its subagents'), most-used first
    models = _models_by_alias(r.model for r in detail.requests if r.model)
    columns = [
        c for c in TOKEN_COLUMNS if any(getattr(r.tokens, c[0]) is not None for r in requests_shown)
    ]
    return render(
        request,
        "session.html",
        view,
        page="sessions",
        error=error,
        choices=choices,
        marker=marker,
        detail=detail,
        parent=parent,
        requests_shown=list(reversed(requests_shown)),
        requests_hidden=len(detail.requests) - len(requests_shown),
        token_columns=columns,
        hidden_columns=[c[1] for c in TOKEN_COLUMNS if c not in columns],
        unpriced_models=unpriced,
        models=models,
        chart=chart,
        summary=extra["summary"],
        tools=extra["tools"],
        efficiency=efficiency,
        cache_read_share=cache_read_share(detail.session.figures),
    )


def _missing(request: Request, view: View, page: str, key: str, **context: Any) -> HTMLResponse:
    """The "not in the ledger" page of a session or run ``key`` (404)."""
    response = render(request, "missing.html", view, page=page, key=key, **context)
    response.status_code = 404
    return response


def _models_by_alias(models: Iterable[str]) -> list[tuple[str, list[str]]]:
    """Each alias with the raw ids it stands for (a dated id and its alias: one model), the
    most-used first (``models`` holds one model per request served)."""
    served: Counter[str] = Counter()
    grouped: dict[str, set[str]] = {}
    for model in models:
        alias = model_alias(model)
        served[alias] += 1
        grouped.setdefault(alias, set()).add(model)
    ranked = sorted(grouped, key=lambda alias: (-served[alias], alias))
    return [(alias, sorted(grouped[alias])) for alias in ranked]


def _cumulative_points(
    requests: list[RequestRow], timeline: Sequence[Mapping[str, Any]], zone: tzinfo
) -> list[dict[str, Any]]:
    """The running totals of a session's requests (all of them, subagents' included) for the
    cumulative chart: at most CHART_CUMULATIVE points, evenly picked, the last always kept.
    ``t`` is the wall-clock time in the view's zone (the chart draws it as is)."""
    count = len(requests)
    step = max(1, math.ceil(count / CHART_CUMULATIVE))
    picked = [*range(0, count, step)]
    if count and picked[-1] != count - 1:
        picked.append(count - 1)
    return [
        {
            "t": requests[i].timestamp.astimezone(zone).replace(tzinfo=None).isoformat(),
            "tokens": timeline[i]["cumulative_tokens"],
            "cost": timeline[i]["cumulative_cost_usd"],
        }
        for i in picked
    ]


TOKEN_COLUMNS = (
    ("input", "Input", True),
    ("cache_read", "Cache read", True),
    ("cache_write", "Cache write", True),
    ("output", "Output", False),
    ("reasoning", "Reasoning", True),
)
"""A request's token columns: (field, label, hidden on a phone). A column no listed request
reported is left out, with a one-line note, rather than a placeholder on every row."""
REQUESTS_SHOWN = 500
"""Newest requests listed on a session's page (all of them are in the CSV export)."""
CHART_REQUESTS = 2_000
CHART_CUMULATIVE = 1_000
"""Points of a session's cumulative line (a longer session is sampled evenly)."""


@router.get("/runs", response_class=HTMLResponse)
def runs_page(request: Request) -> HTMLResponse:
    ledger = get_ledger(request)
    view, error = page_view(request)
    filters = view.query.filters()
    with ledger.reading() as store:
        rows = run_list(store)
        choices = filter_choices(store)
        marker = store.change_marker()
    shown = [r for r in rows if _started_in(r.run.started_at, filters)]
    return render(
        request,
        "runs.html",
        view,
        page="runs",
        error=error,
        choices=choices,
        marker=marker,
        rows=shown,
        hidden=len(rows) - len(shown),
    )


@router.get("/runs/{run_id:path}", response_class=HTMLResponse)
def run_page(
    request: Request,
    run_id: Annotated[str, PathParam(min_length=1, max_length=MAX_ID_LENGTH)],
) -> HTMLResponse:
    """One orchestrator run: its state (or its silence), restart reason, peak concurrency,
    its sessions and its spend over time."""
    ledger = get_ledger(request)
    view, error = page_view(request)
    with ledger.reading() as store:
        detail = run_detail(store, run_id, view.query.zone)
        choices = filter_choices(store)
        marker = store.change_marker()
    if detail is None:
        return _missing(request, view, "runs", run_id, error=error, choices=choices, marker=marker)
    return render(
        request,
        "run.html",
        view,
        page="runs",
        error=error,
        choices=choices,
        marker=marker,
        detail=detail,
        chart={"cumulative": detail.points, "timezone": view.query.zone_name},
        unpriced_names="",
    )


@router.get("/tools", response_class=HTMLResponse)
def tools_page(request: Request) -> HTMLResponse:
    """Tool calls per tool name in the range (agent and project filters apply; tool calls
    are not split by model)."""
    ledger = get_ledger(request)
    view, error = page_view(request)
    with ledger.reading() as store:
        report = tool_usage(store, view.query.filters())
        choices = filter_choices(store)
        marker = store.change_marker()
    return render(
        request,
        "tools.html",
        view,
        page="tools",
        error=error,
        choices=choices,
        marker=marker,
        report=report,
        api_params=_tools_api_params(view),
    )


def _tools_api_params(view: View) -> str:
    """The page's view as ``GET /api/v1/tools`` parameters (it takes days, not ranges)."""
    q = view.query
    pairs = [("since", q.since.isoformat() if q.since else None)]
    pairs += [("until", q.until.isoformat() if q.until else None), ("tz", q.zone_name)]
    pairs += [("source", source) for source in q.sources] + [("project", q.project)]
    return urlencode([(k, v) for k, v in pairs if v])


def _started_in(moment: datetime, filters: Filters) -> bool:
    ms = int(moment.astimezone(UTC).timestamp() * 1000)
    if filters.since_ms is not None and ms < filters.since_ms:
        return False
    return not (filters.until_ms is not None and ms >= filters.until_ms)
