"""The OTLP/HTTP receiver: ``POST /v1/logs``, ``/v1/metrics`` and ``/v1/traces``, and the
reconciliation view ``GET /api/v1/reconciliation``.

Mount it on the API app (:func:`include_otlp`) or serve it alone on the conventional port
4318 (:func:`create_otlp_app`). Bodies are ``application/x-protobuf`` or
``application/json``, gzip or identity, answered as OTLP/HTTP specifies: 200 with an export
response (``partial_success`` counts the rejected records and says why), 400 for a body that
is not an export request, 413 for one too large, 415 for another content type or encoding,
and 503 when the ledger is busy (exporters retry). The response is in the request's encoding.

Authentication is the API's: with a token, ``Authorization: Bearer <token>``. Exporters that
cannot set headers put the token in the path instead -- ``/otlp/<token>/v1/logs`` -- which
:class:`PathToken` checks (in constant time) and turns into the header before any other check.
"""

from __future__ import annotations

import hmac
import logging
import re
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from tokentrail.errors import LedgerFull, OtlpDecodeError, StoreError
from tokentrail.ingest import MAX_ID_LENGTH
from tokentrail.ledger import Ledger
from tokentrail.otlp.mapping import map_request, record
from tokentrail.otlp.wire import (
    JSON,
    MAX_OTLP_BODY_BYTES,
    PROTOBUF,
    Encoding,
    Signal,
    decode,
    export_response,
    inflate,
    media_encoding,
    status_body,
)
from tokentrail.reports.query import ReportQuery
from tokentrail.reports.reconciliation import reconciliation_report
from tokentrail.server.errors import FULL_RETRY_AFTER_S
from tokentrail.server.models import ReconciliationOut
from tokentrail.server.params import report_query

log = logging.getLogger("tokentrail.server.otlp")

OTLP_PORT = 4318
"""The conventional OTLP/HTTP port (``tokentrail serve --otlp-port 4318``)."""

SIGNALS: tuple[Signal, ...] = ("logs", "metrics", "traces")
FEATURES = ("otlp.logs", "otlp.metrics", "otlp.traces", "otlp.path_token", "reconciliation")
"""Names for ``GET /api/v1/capabilities``: what the receiver adds."""

_RPC_INVALID_ARGUMENT = 3
_RPC_UNAUTHENTICATED = 16
_RPC_UNAVAILABLE = 14
_RPC_RESOURCE_EXHAUSTED = 8


def otlp_router(ledger: Ledger, *, max_body_bytes: int = MAX_OTLP_BODY_BYTES) -> APIRouter:
    """The receiver's routes over ``ledger`` (authentication is the app's middleware)."""
    router = APIRouter()

    for signal in SIGNALS:
        _export_route(router, ledger, signal, max_body_bytes)

    @router.get("/api/v1/reconciliation", response_model=ReconciliationOut, tags=["read"])
    def reconciliation(
        since: Annotated[str | None, Query(max_length=20, description="YYYY-MM-DD")] = None,
        until: Annotated[str | None, Query(max_length=20, description="YYYY-MM-DD")] = None,
        tz: Annotated[str | None, Query(max_length=200)] = None,
        source: Annotated[list[str] | None, Query(max_length=MAX_ID_LENGTH)] = None,
    ) -> Any:
        """For each source and local day: tokens and cost the ledger counts, and what log
        files, OpenTelemetry events and the agents' metrics each saw, with the differences
        explained (the CLI's `tokentrail reconcile --json`). Without `since`, the last 7
        days."""
        query = reconcile_query(tz=tz, since=since, until=until, sources=source)
        with ledger.reading() as store:
            return reconciliation_report(store, query).as_dict()

    return router


def _export_route(router: APIRouter, ledger: Ledger, signal: Signal, limit: int) -> None:
    async def export(request: Request) -> Response:
        return await receive(request, ledger, signal, limit)

    export.__doc__ = (
        f"OTLP/HTTP export of {signal} (protobuf or JSON, gzip or not). Usage is recorded "
        "once per request even when its log file is read too; see docs/opentelemetry.md."
    )
    router.add_api_route(
        f"/v1/{signal}",
        export,
        methods=["POST"],
        tags=["opentelemetry"],
        name=f"otlp_{signal}",
        summary=f"OTLP {signal}",
        response_class=Response,
    )


async def receive(request: Request, ledger: Ledger, signal: Signal, limit: int) -> Response:
    """Answer one export request."""
    try:
        encoding = media_encoding(request.headers.get("content-type"))
    except OtlpDecodeError as error:
        return _status(error.status, _RPC_INVALID_ARGUMENT, error.message, "json")
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > limit:
            message = f"the body is larger than {limit:,} bytes; send smaller batches"
            return _status(413, _RPC_RESOURCE_EXHAUSTED, message, encoding)
    try:
        return await run_in_threadpool(
            _ingest,
            ledger,
            signal,
            bytes(body),
            encoding,
            request.headers.get("content-encoding"),
            limit,
        )
    except OtlpDecodeError as error:
        return _status(error.status, _RPC_INVALID_ARGUMENT, error.message, encoding)
    except LedgerFull as error:
        log.error("OTLP %s not recorded: %s", signal, error)
        message = "the disk holding the ledger is full; retry later"
        retry = {"Retry-After": str(FULL_RETRY_AFTER_S)}
        return _status(507, _RPC_RESOURCE_EXHAUSTED, message, encoding, retry)
    except StoreError as error:  # a busy or unavailable ledger, on either engine
        log.warning("OTLP %s not recorded: %s", signal, error)
        return _status(
            503, _RPC_UNAVAILABLE, "the ledger is busy; retry later", encoding, {"Retry-After": "5"}
        )


def _ingest(
    ledger: Ledger,
    signal: Signal,
    body: bytes,
    encoding: Encoding,
    content_encoding: str | None,
    limit: int,
) -> Response:
    data = inflate(body, content_encoding, limit)
    batch = map_request(signal, decode(signal, data, encoding))
    record(ledger, batch)
    return Response(
        export_response(signal, batch.rejected, batch.message, encoding),
        media_type=JSON if encoding == "json" else PROTOBUF,
    )


def _status(
    http_status: int,
    rpc_code: int,
    message: str,
    encoding: Encoding,
    headers: dict[str, str] | None = None,
) -> Response:
    return Response(
        status_body(rpc_code, message, encoding),
        status_code=http_status,
        media_type=JSON if encoding == "json" else PROTOBUF,
        headers=headers,
    )


def reconcile_query(
    *,
    tz: str | None = None,
    since: str | None = None,
    until: str | None = None,
    sources: list[str] | None = None,
) -> ReportQuery:
    """The reconciliation's scope, with the field named in any error (422)."""
    return report_query(tz=tz, since=since, until=until, sources=sources)


# -- authentication ---------------------------------------------------------------------------

_PATH_TOKEN = re.compile(r"^/otlp/([^/]+)(/v1/(?:logs|metrics|traces))/?$")


class PathToken:
    """ASGI middleware for exporters that cannot send headers: ``/otlp/<token>/v1/<signal>``
    becomes ``/v1/<signal>`` with ``Authorization: Bearer <token>`` when the token is right
    (compared in constant time), else 401. Add it outermost, so the app's own bearer check
    then sees the header. Without a server token the path's token is not needed and ignored."""

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self.app = app
        self._token = (token or "").encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        match = _PATH_TOKEN.match(scope.get("path", ""))
        if match is None:
            await self.app(scope, receive, send)
            return
        given = match.group(1).encode()
        if self._token and not hmac.compare_digest(given, self._token):
            response = _status(
                401, _RPC_UNAUTHENTICATED, "the token in the path is not this server's", "json"
            )
            await response(scope, receive, send)
            return
        path = match.group(2)
        headers = [(k, v) for k, v in scope.get("headers", ()) if k != b"authorization"]
        if self._token:
            headers.append((b"authorization", b"Bearer " + self._token))
        inner = dict(scope, path=path, raw_path=path.encode(), headers=headers)
        await self.app(inner, receive, send)


def include_otlp(app: FastAPI, ledger: Ledger, *, token: str | None) -> None:
    """Add the receiver to the API app: its routes, and :class:`PathToken` outermost."""
    app.include_router(otlp_router(ledger))
    app.add_middleware(PathToken, token=token)


def create_otlp_app(
    ledger: Ledger, *, token: str | None, hosts: frozenset[str] | None = None
) -> FastAPI:
    """An app with only the receiver (and the reconciliation view), for its own port;
    ``hosts`` as :func:`tokentrail.server.app.create_app`'s."""
    from tokentrail.server.auth import BearerAuth, BrowserGuard
    from tokentrail.server.errors import install_handlers

    app = FastAPI(title="tokentrail OTLP receiver", docs_url=None, redoc_url=None, openapi_url=None)
    install_handlers(app)
    app.include_router(otlp_router(ledger))
    if token:
        app.add_middleware(BearerAuth, token=token)
    app.add_middleware(BrowserGuard, hosts=hosts)
    app.add_middleware(PathToken, token=token)
    return app


async def serve_together(*servers: Any) -> None:
    """Run uvicorn servers in one event loop until any of them stops, then stop the others
    (a Ctrl-C reaches only the server that installed its signal handlers last)."""
    import asyncio

    tasks = [asyncio.create_task(server.serve()) for server in servers]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for server in servers:
            server.should_exit = True
        await asyncio.gather(*tasks, return_exceptions=True)
