"""The ASGI app of ``tokentrail serve``: the REST API under ``/api/v1``, the dashboard's
pages at ``/``, and the OpenTelemetry receiver at ``/v1/logs`` and ``/v1/metrics``.

    from tokentrail import Ledger
    from tokentrail.server.app import create_app

    app = create_app(Ledger(), token=None, hosts=allowed_hosts("127.0.0.1"))
    # then serve it with uvicorn on 127.0.0.1

Routes are plain functions run in the server's thread pool: the ledger serialises threads with
its own lock, and every read goes through :meth:`tokentrail.ledger.Ledger.reading`. The
contract is documented by the app's OpenAPI schema (``/openapi.json``) and docs/http-api.md.
"""

from __future__ import annotations

import html
from datetime import UTC
from typing import Annotated, Any

from fastapi import Body, FastAPI, Path, Query, Request, Response
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers
from starlette.middleware.body_limit import RequestBodyLimitMiddleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

from tokentrail.ingest import MAX_ID_LENGTH
from tokentrail.insights.sessions import detail_dict, list_summaries
from tokentrail.ledger import Ledger
from tokentrail.reports.periods import Period, period_report
from tokentrail.reports.query import iso_time
from tokentrail.reports.runs import RunJson, runs_report, summary_report
from tokentrail.reports.sessions import SessionJson, recent_sessions, session_detail
from tokentrail.server import dashboard, insights_api, read_api
from tokentrail.server.auth import BearerAuth, BrowserGuard
from tokentrail.server.errors import ApiError, body_too_large, error_response, install_handlers
from tokentrail.server.events import record_batch
from tokentrail.server.limits import (
    API_PREFIX,
    API_VERSION,
    MAX_BATCH_EVENTS,
    MAX_BODY_BYTES,
    MAX_NOTE_LENGTH,
    MAX_SESSIONS_LIMIT,
)
from tokentrail.server.models import (
    Capabilities,
    ErrorBody,
    EventBatch,
    EventResults,
    PeriodReportOut,
    RunOut,
    RunsOut,
    RunStart,
    RunUpdate,
    SessionDetailOut,
    SessionOut,
    SessionPut,
    SessionsOut,
    SummaryOut,
)
from tokentrail.server.otlp_routes import FEATURES as OTLP_FEATURES
from tokentrail.server.otlp_routes import include_otlp
from tokentrail.server.params import WITHOUT_USAGE, report_query
from tokentrail.usage import Run, Session

FEATURES = (
    "runs",
    "sessions",
    "events",
    "events.idempotent",
    "summary",
    "reports.daily",
    "reports.weekly",
    "reports.monthly",
    *read_api.FEATURES,
    *insights_api.FEATURES,
    *OTLP_FEATURES,
)

_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text}
    for status, text in (
        (400, "Malformed request (e.g. the body is not JSON)"),
        (401, "Missing or wrong bearer token (when the server has one)"),
        (403, "A write from another web site's page (Origin / Sec-Fetch-Site)"),
        (413, "Body or batch too large"),
        (415, "A write whose body is not sent as Content-Type: application/json"),
        (421, "The Host header names another server (DNS rebinding)"),
        (422, "A field or parameter is not valid; error.field names it"),
    )
}

QueryText = Annotated[str | None, Query(max_length=MAX_NOTE_LENGTH)]


def create_app(
    ledger: Ledger,
    *,
    token: str | None,
    max_body_bytes: int = MAX_BODY_BYTES,
    max_batch_events: int = MAX_BATCH_EVENTS,
    hosts: frozenset[str] | None = None,
) -> FastAPI:
    """The API over ``ledger``. With a ``token``, every request needs it as a bearer token.

    ``hosts``: the names the Host header may carry (:func:`~tokentrail.server.auth.
    allowed_hosts` of the bound address; None accepts any). Writes from another site's pages
    and writes that are not JSON are refused either way (:class:`BrowserGuard`). The caller
    keeps ownership of the ledger (and closes it after the server stops).
    """
    app = FastAPI(
        title="tokentrail",
        version=_version(),
        summary="A persistent, truthful ledger of what AI agents spend.",
        description="Record runs, sessions and per-request usage; read lifetime, per-run and "
        "per-period totals. Additive changes only. See docs/http-api.md.",
        docs_url=None,  # the default pages load their scripts from a CDN: we work offline
        redoc_url=None,
        responses=_ERRORS,
    )
    install_handlers(app)
    app.state.ledger = ledger
    _add_routes(
        app, ledger, token=token, max_batch_events=max_batch_events, max_body_bytes=max_body_bytes
    )
    app.include_router(read_api.router)
    app.include_router(insights_api.router)
    app.include_router(dashboard.router)  # pages and their static files
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    app.add_middleware(BodyLimit, max_bytes=max_body_bytes)
    # pages, JSON, the chart library; level 6 (zlib's default), not Starlette's 9: a third of
    # the CPU (9 vs 26 ms for a 560 KB session page) for 4 % more bytes
    app.add_middleware(GZipMiddleware, minimum_size=1_000, compresslevel=6)
    if token:
        app.add_middleware(BearerAuth, token=token)
    app.add_middleware(BrowserGuard, hosts=hosts)
    # outermost: turns /otlp/<token>/v1/... into /v1/... with the bearer header
    include_otlp(app, ledger, token=token)
    return app


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("tokentrail")
    except PackageNotFoundError:
        return "0"


def _openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title,
            version=app.version,
            summary=app.summary,
            description=app.description,
            routes=app.routes,
        )
        components = schema.setdefault("components", {})
        # POST /events reads its body itself (item by item): document the batch here
        batch = EventBatch.model_json_schema(ref_template="#/components/schemas/{model}")
        components.setdefault("schemas", {}).update(batch.pop("$defs", {}))
        components["schemas"]["EventBatch"] = batch
        components["schemas"] = dict(sorted(components["schemas"].items()))
        components["securitySchemes"] = {
            "bearer": {
                "type": "http",
                "scheme": "bearer",
                "description": "Needed on every request when the server was started with a "
                "token (--token / TOKENTRAIL_TOKEN); always needed off loopback.",
            }
        }
        schema["security"] = [{}, {"bearer": []}]
        app.openapi_schema = schema
    return app.openapi_schema


class BodyLimit:
    """ASGI middleware: 413 for a body over ``max_bytes``, announced or streamed.

    A streamed body is counted by Starlette's ``RequestBodyLimitMiddleware`` (its 413 is worded
    by :func:`~tokentrail.server.errors.install_handlers`). An announced Content-Length over
    the limit is answered here, before it: Starlette answers that one in plain text, in place
    of whatever the app answered, and every error of this API is a JSON body."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = RequestBodyLimitMiddleware(app, max_body_size=max_bytes)
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        announced = Headers(scope=scope).get("content-length") if scope["type"] == "http" else None
        if announced is not None:
            size = int(announced) if announced.isdigit() else -1
            if size < 0:
                response = error_response(
                    400, "bad_request", "the Content-Length header is not valid"
                )
                await response(scope, receive, send)
                return
            if size > self.max_bytes:
                response = error_response(413, "too_large", body_too_large(self.max_bytes))
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _run_out(run: Run) -> RunJson:
    return {
        "run_id": run.run_id,
        "app": run.app,
        "started_at": iso_time(run.started_at.astimezone(UTC)),
        "stopped_at": iso_time(run.stopped_at.astimezone(UTC) if run.stopped_at else None),
        "state": run.state,
        "reason": run.reason,
        "peak_concurrency": run.peak_concurrency,
        "sessions_launched": run.sessions_launched,
        "runtime_seconds": run.runtime_seconds,
        "machine": run.machine,
    }


def _session_out(s: Session) -> SessionJson:
    return {
        "session_key": s.key,
        "source": s.source,
        "run_id": s.run_id,
        "issue_id": s.issue_id,
        "identifier": s.identifier,
        "title": s.title,
        "project": s.project,
        "model": s.model,
        "state": s.state,
        "turns": s.turns,
        "parent_key": s.parent_key,
        "relationship": s.relationship,
        "started_at": iso_time(s.started_at),
        "completed_at": iso_time(s.ended_at),
        "runtime_seconds": s.runtime_seconds,
    }


def _add_routes(
    app: FastAPI, ledger: Ledger, *, token: str | None, max_batch_events: int, max_body_bytes: int
) -> None:
    p = API_PREFIX

    # -- write side ------------------------------------------------------------------------

    @app.post(
        f"{p}/runs",
        response_model=RunOut,
        status_code=201,
        tags=["write"],
        responses={
            200: {"model": RunOut, "description": "The run already recorded under this run_id"},
            409: {"model": ErrorBody, "description": "run_id is taken by another app"},
        },
    )
    def start_run(body: RunStart, response: Response) -> RunJson:
        """Record the start of a run (one boot of an orchestrator). The app's runs still
        marked running are closed as ``crashed`` at their last event. Retrying with the same
        ``run_id`` and ``app`` returns the recorded run (200) instead of a new one (201)."""
        if body.run_id is not None:
            with ledger.reading() as store:
                known = store.runs_by_id([body.run_id]).get(body.run_id)
            if known is not None:
                if known.app != body.app:
                    raise ApiError(
                        409,
                        "conflict",
                        f"run_id: {body.run_id!r} belongs to app {known.app!r}; "
                        "choose another run_id",
                        "run_id",
                    )
                response.status_code = 200
                return _run_out(known)
        run = ledger.start_run(
            body.app, reason=body.reason, run_id=body.run_id, started_at=body.started_at
        )
        return _run_out(run)

    @app.patch(
        f"{p}/runs/{{run_id:path}}",
        response_model=RunOut,
        tags=["write"],
        responses={404: {"model": ErrorBody, "description": "No run has this id"}},
    )
    def update_run(
        run_id: Annotated[str, Path(min_length=1, max_length=MAX_ID_LENGTH)],
        body: Annotated[RunUpdate, Body()],
    ) -> RunJson:
        """Change what is known of a run: on shutdown send ``stopped_at`` and
        ``state: "stopped"``. Peak concurrency and sessions launched only ever grow."""
        run = ledger.update_run(
            run_id,
            stopped_at=body.stopped_at,
            state=body.state,
            peak_concurrency=body.peak_concurrency,
            sessions_launched=body.sessions_launched,
        )
        return _run_out(run)

    @app.put(f"{p}/sessions/{{key:path}}", response_model=SessionOut, tags=["write"])
    def put_session(
        key: Annotated[str, Path(min_length=1, max_length=MAX_ID_LENGTH)],
        body: Annotated[SessionPut, Body()],
    ) -> SessionJson:
        """Create or update an agent session. Call it when the session starts
        (``started_at``, ``state: "running"``) and when it ends (``completed_at``, ``state``,
        ``turns``). Omitted fields keep what was known."""
        given = body.model_dump(exclude_none=True)
        if "parent" in given:
            given["parent_key"] = given.pop("parent")
        if "completed_at" in given:
            given["ended_at"] = given.pop("completed_at")
        return _session_out(ledger.update_session(key, **given))

    @app.post(
        f"{p}/events",
        response_model=EventResults,
        tags=["write"],
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/EventBatch"}}
                },
            }
        },
    )
    async def post_events(request: Request) -> Response:
        """Record a batch of per-request usage (at most ``max_batch_events`` items). Answers
        200 with one result per item, in order: ``created``, ``duplicate`` (this
        ``event_id`` was already recorded: nothing new is counted) or ``rejected`` (with the
        error; the other items are still recorded). The valid items are written in one
        transaction, so resending a whole batch after a failure is always safe."""
        body = await request.body()
        results = await run_in_threadpool(record_batch, ledger, body, max_batch_events)
        # already typed and checked: skip FastAPI's re-validation (a few ms per 1,000 items)
        return Response(results.model_dump_json(), media_type="application/json")

    # -- read side -------------------------------------------------------------------------

    @app.get(f"{p}/summary", response_model=SummaryOut, tags=["read"])
    def summary(
        run_id: Annotated[str | None, Query(max_length=MAX_ID_LENGTH)] = None,
        tz: QueryText = None,
        source: Annotated[list[str] | None, Query(max_length=MAX_ID_LENGTH)] = None,
        project: QueryText = None,
    ) -> Any:
        """Lifetime totals, today's (the local day in ``tz``) and the current run's: the
        given ``run_id``, else the most recently started run still running (or null)."""
        query = report_query(tz=tz, sources=source, project=project)
        with ledger.reading() as store:
            return summary_report(store, query, run_id=run_id).as_dict()

    @app.get(f"{p}/runs", response_model=RunsOut, tags=["read"])
    def list_runs(
        limit: Annotated[int | None, Query(ge=1, le=MAX_SESSIONS_LIMIT)] = None,
    ) -> Any:
        """One row per run, newest first, with the usage recorded under it."""
        with ledger.reading() as store:
            return {"rows": [row.as_dict() for row in runs_report(store, limit)]}

    @app.get(f"{p}/sessions", response_model=SessionsOut, tags=["read"])
    def list_sessions(
        limit: Annotated[int, Query(ge=1, le=MAX_SESSIONS_LIMIT)] = 20,
        offset: Annotated[int, Query(ge=0, le=10**9)] = 0,
        source: Annotated[list[str] | None, Query(max_length=MAX_ID_LENGTH)] = None,
        project: QueryText = None,
        without_usage: Annotated[bool, Query(description=WITHOUT_USAGE)] = False,
    ) -> Any:
        """Top-level sessions with at least one request (the one session count), most
        recently active first, subagents' spend rolled up."""
        query = report_query(sources=source, project=project)
        with ledger.reading() as store:
            rows = recent_sessions(
                store, query, limit=limit, offset=offset, without_usage=without_usage
            )
            summaries = list_summaries(store, rows)
            return {
                "rows": [
                    {**row.as_dict(), "summary": summaries.get(row.session.key)} for row in rows
                ]
            }

    @app.get(
        f"{p}/sessions/{{key:path}}",
        response_model=SessionDetailOut,
        tags=["read"],
        responses={404: {"model": ErrorBody, "description": "No session has this key"}},
    )
    def get_session(key: Annotated[str, Path(min_length=1, max_length=MAX_ID_LENGTH)]) -> Any:
        """One session with its own usage, its subagents and every request, oldest first."""
        with ledger.reading() as store:
            detail = session_detail(store, key)
            if detail is None:
                raise ApiError(404, "not_found", f"no session with key {key!r}", "key")
            return detail_dict(store, detail)

    def period_route(kind: Period) -> None:
        @app.get(
            f"{p}/{kind}",
            response_model=PeriodReportOut,
            response_model_exclude_unset=True,
            tags=["read"],
            name=kind,
            summary=f"{kind.capitalize()} report",
        )
        def period(
            since: Annotated[str | None, Query(max_length=20, description="YYYY-MM-DD")] = None,
            until: Annotated[str | None, Query(max_length=20, description="YYYY-MM-DD")] = None,
            tz: QueryText = None,
            source: Annotated[list[str] | None, Query(max_length=MAX_ID_LENGTH)] = None,
            project: QueryText = None,
            breakdown: bool = False,
        ) -> Any:
            query = report_query(
                tz=tz,
                since=since,
                until=until,
                sources=source,
                project=project,
                breakdown=breakdown,
            )
            with ledger.reading() as store:
                return period_report(store, kind, query).as_dict()

        period.__doc__ = (
            f"Usage and cost per {_UNITS[kind]} (the CLI's `tokentrail {kind} --json`); "
            "`since`/`until` are inclusive local days in `tz`; `source` is repeatable; "
            "`breakdown=true` gives one row per model."
        )

    for kind in ("daily", "weekly", "monthly"):
        period_route(kind)

    @app.get(f"{p}/capabilities", response_model=Capabilities, tags=["read"])
    def capabilities() -> Capabilities:
        """What this server supports and its limits."""
        return Capabilities(
            api_version=API_VERSION,
            features=list(FEATURES),
            max_batch_events=max_batch_events,
            max_body_bytes=max_body_bytes,
            auth_required=bool(token),
        )

    @app.get("/docs", include_in_schema=False, response_class=HTMLResponse)
    def docs() -> HTMLResponse:
        return HTMLResponse(_docs_page(app.openapi()))


_UNITS = {"daily": "local day", "weekly": "ISO week", "monthly": "month"}


def _docs_page(schema: dict[str, Any]) -> str:
    """A plain HTML list of the endpoints (no scripts, no CDN: works offline)."""
    e = html.escape
    rows = []
    for path, methods in schema.get("paths", {}).items():
        for method, op in methods.items():
            text = op.get("description") or op.get("summary") or ""
            rows.append(
                f"<tr><td><code>{e(method.upper())}</code></td><td><code>{e(path)}</code></td>"
                f"<td>{e(text)}</td></tr>"
            )
    info = schema.get("info", {})
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>tokentrail API</title>"
        "<style>body{font-family:sans-serif;margin:2em}td{padding:.3em .8em;"
        "vertical-align:top;border-bottom:1px solid #ddd}</style></head><body>"
        f"<h1>{e(str(info.get('title', 'tokentrail')))} API "
        f"{e(str(info.get('version', '')))}</h1>"
        "<p>The machine-readable contract: <a href='/openapi.json'>/openapi.json</a>. "
        'Errors are <code>{"error": {"code", "message", "field"}}</code>.</p>'
        f"<table>{''.join(rows)}</table></body></html>"
    )
