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

import hashlib
import logging
import math
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta, tzinfo
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, HTMLResponse, Response
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from tokentrail import formatting, insights
from tokentrail.blocks import BlocksQuery, active_block
from tokentrail.budgets import BudgetReport, budget_report
from tokentrail.ingest import MAX_ID_LENGTH, InvalidUsage
from tokentrail.model_names import aliases_of, model_alias
from tokentrail.read_once import read_once
from tokentrail.reports.charts import HEATMAP_METRICS, HeatmapMetric
from tokentrail.reports.counting import session_counts
from tokentrail.reports.overview import Overview, overview_report
from tokentrail.reports.sessions import RequestRow, session_detail, session_page_report
from tokentrail.reports.spend import unpriced_models_of
from tokentrail.runs_view import run_detail, run_list
from tokentrail.server.read_api import (
    PAGE_DEFAULT_RANGE,
    RANGES,
    View,
    get_ledger,
    model_ids,
    parse_view,
)
from tokentrail.store.base import NO_MODEL, SESSION_SORTS, Filters, SessionSort
from tokentrail.trends import overview_trends
from tokentrail.usage import Session
from tokentrail.watch import BackgroundSync as BackgroundSync  # served with the app

router = APIRouter(include_in_schema=False)
_log = logging.getLogger("tokentrail.server")

STATIC_PREFIX = "/static"
DEFAULT_POLL_MS = 5_000
"""How often pages ask ``/api/v1/version`` whether the ledger changed (``app.state.
dashboard_poll_ms`` overrides it)."""
PER_PAGE_CHOICES = (25, 50, 100, 200)
COMMON_ZONES = (
    "UTC",
    "America/Los_Angeles",
    "America/Denver",
    "America/Chicago",
    "America/New_York",
    "America/Sao_Paulo",
    "Europe/London",
    "Europe/Paris",
    "Europe/Berlin",
    "Europe/Madrid",
    "Europe/Warsaw",
    "Europe/Kyiv",
    "Africa/Lagos",
    "Africa/Johannesburg",
    "Asia/Dubai",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Asia/Singapore",
    "Asia/Shanghai",
    "Asia/Tokyo",
    "Asia/Seoul",
    "Australia/Sydney",
    "Pacific/Auckland",
)
RANGE_TITLES = {
    "7d": "Last 7 days",
    "30d": "Last 30 days",
    "90d": "Last 90 days",
    "1y": "Last 12 months",
}
OTHER_SOURCE_LABELS = {"sdk": "SDK"}
"""Labels of sources that are not agents (the agents' come from the registry)."""


def source_labels() -> dict[str, str]:
    """Every known source's label: the registered agents', then the HTTP API's ``sdk``."""
    from tokentrail.agents import all_agents

    return {**{a.name: a.label for a in all_agents()}, **OTHER_SOURCE_LABELS}


def agent_colours() -> str:
    """A CSS rule per registered agent giving its colour to its ``.source-<name>`` marker (the
    stylesheet has the others'); goes in an inline ``<style>``, which the CSP allows."""
    from tokentrail.agents import all_agents

    return "".join(
        f".source-{a.name}::before {{ background: {a.colour}; }}\n" for a in all_agents()
    )


IMMUTABLE = "public, max-age=31536000, immutable"
"""Cache-Control of a content-hashed asset: its name changes whenever its content does."""


def _static_dir() -> Path:
    return Path(str(resources.files("tokentrail.server") / "static"))


@cache
def _assets() -> tuple[dict[str, str], dict[str, Path]]:
    """The static files: each one's content-hashed name (``app.js`` → ``app.1a2b3c4d5e.js``)
    and the file behind every name, hashed or plain (licences are linked by their plain names)."""
    root = _static_dir()
    hashed: dict[str, str] = {}
    files: dict[str, Path] = {}
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        name = path.relative_to(root).as_posix()
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:10]
        stem, dot, suffix = name.rpartition(".")
        hashed[name] = f"{stem}.{digest}.{suffix}" if dot else f"{name}.{digest}"
        files[name] = path
        files[hashed[name]] = path
    return hashed, files


def asset_url(name: str) -> str:
    """The URL of a static file under its content-hashed name (cached for a year)."""
    return f"{STATIC_PREFIX}/{_assets()[0][name]}"


@router.api_route(STATIC_PREFIX + "/{name:path}", methods=["GET", "HEAD"])
def static_file(name: str) -> Response:
    """A static file. Under its content-hashed name it is immutable (browsers keep it a year
    and never ask again); under its plain name it is revalidated each time."""
    hashed, files = _assets()
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


# -- formatting (numbers, money and durations: tokentrail.formatting, as the CLI) -----------


def _parse_moment(value: datetime | str | None) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value


def format_time(value: datetime | str | None, zone: tzinfo, today: date | None = None) -> str:
    """A moment in the view's zone, always with its time on a 24-hour clock: "today 14:05",
    "yesterday 14:05", "Mon 14:05" this week, "Mar 3, 14:05" this year, else "Dec 31 2025,
    14:05" (a moment of another year keeps its time too)."""
    moment = _parse_moment(value)
    if moment is None:
        return ""
    local = moment.astimezone(zone)
    today = today or datetime.now(zone).date()
    clock = local.strftime("%H:%M")
    if local.date() == today:
        return f"today {clock}"
    if local.date() == today - timedelta(days=1):
        return f"yesterday {clock}"
    if timedelta(0) < today - local.date() < timedelta(days=7):
        return f"{local:%a} {clock}"
    if local.year == today.year:
        return f"{local:%b} {local.day}, {clock}"
    return f"{local:%b} {local.day} {local.year}, {clock}"


def format_full_time(value: datetime | str | None, zone: tzinfo) -> str:
    moment = _parse_moment(value)
    if moment is None:
        return ""
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S %Z")


def source_label(name: str | None) -> str:
    if not name:
        return ""
    return source_labels().get(name, name)


def short_path(path: str | None) -> str:
    """The last two parts of a project path (the full one goes in a title)."""
    if not path:
        return ""
    parts = [p for p in path.replace("\\", "/").split("/") if p]
    return "/".join(parts[-2:]) if len(parts) > 2 else path


def short_key(key: str) -> str:
    return key if len(key) <= 14 else key[:8] + "…"


def _env() -> Environment:
    env = Environment(
        loader=PackageLoader("tokentrail.server", "templates"),
        autoescape=select_autoescape(["html"], default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        usd=formatting.usd,
        usd_exact=formatting.usd_exact,
        tokens=formatting.tokens,
        int=formatting.integer,
        duration=formatting.duration,
        duration_s=formatting.seconds,
        share=formatting.share,
        percent=formatting.percent,
        source_label=source_label,
        short_path=short_path,
        short_key=short_key,
        model_alias=model_alias,
        change=formatting.change,
        day=formatting.day,
    )
    env.globals["agent_colours"] = agent_colours
    env.policies["json.dumps_kwargs"] = {"sort_keys": False, "ensure_ascii": False}
    return env


_ENV = _env()


def render(
    request: Request,
    template: str,
    view: View,
    *,
    page_params: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    zone = view.query.zone
    today = datetime.now(zone).date()
    extra = {k: v for k, v in (page_params or {}).items() if v}

    def href(**changes: str | None) -> str:
        """This page's query string (filters and its own parameters) with ``changes``."""
        pairs = [(k, v) for k, v in view.given if k not in changes]
        pairs += [(k, v) for k, v in extra.items() if k not in changes]
        pairs += [(k, v) for k, v in changes.items() if v is not None]
        return urlencode(pairs)

    zones = list(COMMON_ZONES)
    if view.query.zone_name not in zones:
        zones.insert(0, view.query.zone_name)
    poll_ms = int(getattr(request.app.state, "dashboard_poll_ms", DEFAULT_POLL_MS))
    page = _ENV.get_template(template).render(
        poll_ms=poll_ms,
        href=href,
        zones=zones,
        request=request,
        view=view,
        zone=zone,
        today=today,
        offset_min=int((datetime.now(zone).utcoffset() or timedelta(0)).total_seconds() // 60),
        static=lambda name: Markup(asset_url(name)),
        time=lambda value: format_time(value, zone, today),
        full_time=lambda value: format_full_time(value, zone),
        ranges=tuple(RANGES),
        range_titles=RANGE_TITLES,
        **context,
    )
    return HTMLResponse(
        page,
        headers={
            "Cache-Control": "no-store",
            # nothing runs but our own files: no inline script, nothing from elsewhere
            "Content-Security-Policy": "default-src 'self'; script-src 'self'; "
            "style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
            "object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
        },
    )


def _page_view(request: Request) -> tuple[View, list[str]]:
    """The filters of a page; each bad one is named on the page (every one of them, not only
    the first) and left out, the rest still applies."""
    params = request.query_params
    given: dict[str, Any] = {
        "since": params.get("since"),
        "until": params.get("until"),
        "range_": params.get("range"),
        "tz": params.get("tz"),
        "sources": params.getlist("source"),
        "project": params.get("project"),
        "models": params.getlist("model"),
    }
    errors: list[str] = []
    for name in ("tz", "since", "until", "range_"):
        if not given[name]:
            continue
        try:  # each filter alone, so that every bad one is named
            parse_view(**{name: given[name]})
        except InvalidUsage as exc:
            errors.append(_error_text(exc))
            given[name] = None
    try:
        return parse_view(**given, default_range=PAGE_DEFAULT_RANGE), errors
    except InvalidUsage as exc:  # good alone, not together (since after until)
        errors.append(_error_text(exc))
        for name in ("since", "until"):
            given[name] = None
        return parse_view(**given, default_range=PAGE_DEFAULT_RANGE), errors


def _error_text(exc: InvalidUsage) -> str:
    """The message naming its filter once ("since 'x' is not a date", not "since: since …")."""
    message = exc.message.removeprefix("--")  # the zone's message is the CLI's ("--tz …")
    if message.startswith(exc.field):
        return message
    return f"{exc.field}: {message}"


def _choices(store: Any) -> dict[str, list[str]]:
    """Every source, model and project the ledger knows, for the filter menus."""
    names = {by: store.group_names(by) for by in ("source", "model", "project")}
    names["model"] = aliases_of(names["model"])  # a dated id and its alias: one choice
    return names


def _unpriced_names(models: list[Any]) -> str:
    return ", ".join(m.model for m in models)


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
    view, error = _page_view(request)
    chosen_metric: HeatmapMetric = metric if metric in HEATMAP_METRICS else "cost"
    with ledger.reading() as read:
        store = read_once(read)  # the page's reports ask some of the same questions
        data = overview_report(
            store, view.query, models=model_ids(store, view), heatmap_metric=chosen_metric
        )
        budgets = _budgets(store, ledger, view)
        block = _active_block(store, view)
        trend = overview_trends(store, view.query, models=model_ids(store, view), year=data.heatmap)
        data_span = _data_span(store, view) if _empty_range(data) else None
        run_silent = _silent_since(store, data.current_run.run_id) if data.current_run else None
        choices = _choices(store)
        marker = store.change_marker()
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
        unpriced_names=_unpriced_names(data.unpriced_models),
        metrics=HEATMAP_METRICS,
        page_params={"metric": chosen_metric if chosen_metric != "cost" else ""},
    )


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
    view, error = _page_view(request)
    chosen_sort: SessionSort = sort if sort in SESSION_SORTS else "last_activity"
    descending = order != "asc"
    per = per if per in PER_PAGE_CHOICES else 50
    with ledger.reading() as store:
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
        choices = _choices(store)
        marker = store.change_marker()
        unpriced = unpriced_models_of(store, view.query.filters(), model_ids(store, view))
        # the one session count (docs/counting.md), when the list is not narrowed further
        counts = None if q or view.models else session_counts(store, view.query.filters())
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
        unpriced_names=_unpriced_names(unpriced),
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
    view, error = _page_view(request)
    with ledger.reading() as store:
        detail = session_detail(store, key)
        tools = insights.session_tools(store, detail) if detail is not None else None
        extra = insights.detail_dict(store, detail, tools) if detail is not None else None
        efficiency = (
            insights.session_efficiency(detail, tools)
            if detail is not None and tools is not None
            else None
        )
        choices = _choices(store)
        marker = store.change_marker()
        parent: Session | None = None
        if detail is not None and detail.session.session.parent_key:
            parent = store.sessions_by_key([detail.session.session.parent_key]).get(
                detail.session.session.parent_key
            )
    if detail is None or extra is None:
        response = render(
            request,
            "missing.html",
            view,
            page="sessions",
            error=error,
            choices=choices,
            marker=marker,
            key=key,
        )
        response.status_code = 404
        return response
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
        cache_read_share=insights.cache_read_share(detail.session.figures),
    )


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
    requests: list[RequestRow], timeline: list[dict[str, Any]], zone: tzinfo
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
    view, error = _page_view(request)
    filters = view.query.filters()
    with ledger.reading() as store:
        rows = run_list(store)
        choices = _choices(store)
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
    view, error = _page_view(request)
    with ledger.reading() as store:
        detail = run_detail(store, run_id, view.query.zone)
        choices = _choices(store)
        marker = store.change_marker()
    if detail is None:
        response = render(
            request,
            "missing.html",
            view,
            page="runs",
            error=error,
            choices=choices,
            marker=marker,
            key=run_id,
        )
        response.status_code = 404
        return response
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
    view, error = _page_view(request)
    with ledger.reading() as store:
        report = insights.tool_usage(store, view.query.filters())
        choices = _choices(store)
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
