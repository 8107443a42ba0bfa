"""One JSON error body for every failure: ``{"error": {"code", "message", "field"?}}``.

Bad input is always a 4xx that names the field; a 500 means a bug in tokentrail (the details
go to the server's log, never to the client).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.middleware.body_limit import MAX_BODY_SIZE_SCOPE_KEY
from starlette.responses import JSONResponse, Response

from tokentrail.errors import (
    ConfigError,
    InvalidUsage,
    LedgerDamaged,
    LedgerFull,
    LedgerTooNew,
    StoreError,
    TokentrailError,
    UnknownRun,
)
from tokentrail.validation import and_more, problems

log = logging.getLogger("tokentrail.server")

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    421: "misdirected_request",
    422: "invalid_field",
    429: "too_many_requests",
    503: "unavailable",
    507: "insufficient_storage",
}

FULL_RETRY_AFTER_S = 60
"""When a client may retry a write refused for a full disk (someone has to free space)."""


def store_error_response(exc: StoreError) -> JSONResponse:
    """The answer to a ledger that cannot do what was asked: 507 for a full disk (retry
    later), 503 for a busy ledger (retry soon) or one a newer tokentrail wrote, 500 for a
    damaged file; the message says which."""
    if isinstance(exc, LedgerFull):
        log.error("ledger full: %s", exc)
        return error_response(
            507,
            "insufficient_storage",
            "the disk holding the ledger is full: nothing of this request was recorded; "
            "retry once the server's administrator has freed space",
            headers={"Retry-After": str(FULL_RETRY_AFTER_S)},
        )
    if isinstance(exc, LedgerDamaged):
        log.error("ledger damaged: %s", exc)
        return error_response(
            500,
            "ledger_damaged",
            "the ledger's file is damaged; the server's administrator should run "
            "'tokentrail db check' (the server log has the details)",
        )
    if isinstance(exc, LedgerTooNew):
        log.error("%s", exc)
        return error_response(503, "unavailable", str(exc))
    # e.g. the database is locked by another process for too long: worth retrying
    log.warning("store error: %s", exc)
    return error_response(
        503,
        "unavailable",
        f"the ledger is busy or unavailable: {exc}",
        headers={"Retry-After": "1"},
    )


def body_too_large(limit: int) -> str:
    return f"the request body is larger than {limit:,} bytes; send smaller batches"


class ApiError(Exception):
    """An error the API answers with as it is."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field


def error_response(
    status: int,
    code: str,
    message: str,
    field: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    error: dict[str, Any] = {"code": code, "message": message}
    if field is not None:
        error["field"] = field
    return JSONResponse({"error": error}, status_code=status, headers=headers)


def _field_of(loc: tuple[Any, ...]) -> str | None:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    # a union's branch names (e.g. "function-after[...]") say nothing to a client
    parts = [p for p in parts if "[" not in p]
    return ".".join(parts) or None


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _validation_response(exc: RequestValidationError) -> JSONResponse:
    errors = list(exc.errors())
    if not errors:
        return error_response(422, "invalid_request", "the request is not valid")
    first = errors[0]
    kind = str(first.get("type", ""))
    if kind == "json_invalid":
        return error_response(400, "invalid_json", "the request body is not valid JSON")
    if isinstance(first.get("input"), bytes | bytearray):
        return error_response(
            415,
            "unsupported_media_type",
            "send the body as JSON, with the header 'Content-Type: application/json'",
        )
    field = _field_of(tuple(first.get("loc", ())))
    problem = problems([first])[0]
    message = problem.message
    if kind == "missing" and field is None:
        message = "a JSON request body is required"
    elif field is None and kind.endswith("_type"):
        return error_response(
            400,
            "invalid_body",
            f"the request body must be a JSON object, not {json_type(first.get('input'))}",
        )
    text = f"{field}: {message}" if field else message
    text += and_more(len(errors) - 1)
    return error_response(422, "invalid_field", text, field)


def install_handlers(app: FastAPI) -> None:
    """Turn every exception the routes may raise into the JSON error body."""

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> Response:
        return error_response(exc.status, exc.code, exc.message, exc.field)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        return _validation_response(exc)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        code = _CODES.get(exc.status_code, "error")
        message = str(exc.detail) if exc.detail else code.replace("_", " ")
        if exc.status_code == 413 and MAX_BODY_SIZE_SCOPE_KEY in request.scope:
            # Starlette's body limit says only "Content Too Large": say how large is too large
            message = body_too_large(request.scope[MAX_BODY_SIZE_SCOPE_KEY])
        elif exc.status_code == 404 and message == "Not Found":
            message = f"no such endpoint: {request.method} {request.url.path}"
        elif exc.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path}"
        return error_response(exc.status_code, code, message, headers=exc.headers)

    @app.exception_handler(InvalidUsage)
    async def invalid_usage(request: Request, exc: InvalidUsage) -> Response:
        return error_response(422, "invalid_field", str(exc), exc.field)

    @app.exception_handler(UnknownRun)
    async def unknown_run(request: Request, exc: UnknownRun) -> Response:
        return error_response(404, "not_found", str(exc), "run_id")

    @app.exception_handler(ConfigError)
    async def config_error(request: Request, exc: ConfigError) -> Response:
        return error_response(422, "invalid_field", str(exc))

    @app.exception_handler(StoreError)
    async def store_error(request: Request, exc: StoreError) -> Response:
        return store_error_response(exc)

    @app.exception_handler(TokentrailError)
    async def tokentrail_error(request: Request, exc: TokentrailError) -> Response:
        return error_response(400, "bad_request", str(exc))

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> Response:
        log.exception("internal error on %s %s", request.method, request.url.path)
        return error_response(500, "internal", "internal error; the server log has the details")
