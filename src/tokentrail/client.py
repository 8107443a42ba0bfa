"""A small client for a tokentrail server, for orchestrators on another machine.

    from tokentrail.client import Client

    with Client("http://127.0.0.1:8787", token=None) as tt:
        run = tt.start_run("my-orchestrator", reason="deploy")
        tt.put_session("issue-42", run_id=run["run_id"], state="running",
                       started_at=datetime.now(UTC))
        tt.record([{"event_id": response_id, "session_key": "issue-42",
                    "run_id": run["run_id"], "model": "claude-sonnet-4-5",
                    "input_tokens": 1200, "output_tokens": 310}])
        tt.put_session("issue-42", state="completed", completed_at=datetime.now(UTC))
        tt.update_run(run["run_id"], state="stopped", stopped_at=datetime.now(UTC))

Every call is retried on connection errors, timeouts, 429 and 5xx with the *same* payload, so
a retry can never count twice: events are recognised by their ``event_id`` (send your own,
e.g. the provider's response id; :meth:`Client.record` gives a missing one a fresh uuid4
before the first attempt, so its retries reuse it), and :meth:`Client.start_run` picks the
``run_id`` before the first attempt (the server answers a repeated start with the run it
already has). An error the server will not change its mind about (4xx) raises
:class:`ClientError` at once.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote

import httpx
import tenacity

from tokentrail.errors import ClientError
from tokentrail.server.limits import API_PREFIX, MAX_BATCH_EVENTS

__all__ = ["Client", "ClientError"]

_RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
_MAX_BACKOFF_S = 10.0
_MAX_RETRY_AFTER_S = 30.0


class _Retryable(Exception):
    """A failure worth another attempt: ``retry_after`` is the server's wish, in seconds."""

    def __init__(self, problem: ClientError, retry_after: float | None = None) -> None:
        super().__init__(problem.message)
        self.problem = problem
        self.retry_after = retry_after


class Client:
    """A tokentrail server's API. Use as a context manager or call :meth:`close`.

    ``retries`` is how many times a failed request is sent again (so at most
    ``retries + 1`` attempts), waiting ``backoff * 2**n`` seconds (with jitter, at most 10 s)
    before the n-th retry, or what the server's ``Retry-After`` asks (seconds or an HTTP-date,
    at most 30 s).
    """

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        timeout: float = 10.0,
        retries: int = 5,
        backoff: float = 0.2,
        batch_size: int = MAX_BATCH_EVENTS,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if retries < 0:
            raise ValueError("retries must not be negative")
        if not 1 <= batch_size <= MAX_BATCH_EVENTS:
            raise ValueError(f"batch_size must be between 1 and {MAX_BATCH_EVENTS}")
        headers = {"Accept": "application/json", "User-Agent": "tokentrail-client"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.retries = retries
        self.backoff = backoff
        self.batch_size = batch_size
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"), headers=headers, timeout=timeout, transport=transport
        )

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # -- writing --------------------------------------------------------------------------

    def start_run(
        self,
        app: str,
        reason: str | None = None,
        run_id: str | None = None,
        *,
        started_at: datetime | None = None,
    ) -> dict[str, Any]:
        """Record the start of a run; returns it (``run_id`` is new unless given)."""
        body = _json_fields(
            app=app, reason=reason, run_id=run_id or uuid.uuid4().hex, started_at=started_at
        )
        result: dict[str, Any] = self._request("POST", f"{API_PREFIX}/runs", json=body)
        return result

    def update_run(self, run_id: str, **fields: Any) -> dict[str, Any]:
        """Change a run: ``stopped_at``, ``state``, ``peak_concurrency``,
        ``sessions_launched``."""
        result: dict[str, Any] = self._request(
            "PATCH", f"{API_PREFIX}/runs/{_segment(run_id)}", json=_json_fields(**fields)
        )
        return result

    def put_session(self, key: str, **fields: Any) -> dict[str, Any]:
        """Create or update a session: ``source``, ``run_id``, ``issue_id``, ``identifier``,
        ``model``, ``project``, ``parent``, ``relationship``, ``title``, ``started_at``,
        ``completed_at``, ``state``, ``turns``."""
        result: dict[str, Any] = self._request(
            "PUT", f"{API_PREFIX}/sessions/{_segment(key)}", json=_json_fields(**fields)
        )
        return result

    def record(self, events: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Record usage events; returns one result per event, in order: ``{"event_id",
        "status": "created" | "duplicate" | "rejected", "error"}``.

        Lists longer than the server's batch size are sent in several requests (each one
        transaction). Events without an ``event_id`` get a fresh uuid4 before anything is
        sent, so retries resend the same ids and nothing is counted twice; to make a resend
        after a crash of *your* process safe too, send ids of your own.
        """
        prepared = []
        for event in events:
            item = _json_fields(**event)
            if not item.get("event_id"):
                item["event_id"] = uuid.uuid4().hex
            prepared.append(item)
        results: list[dict[str, Any]] = []
        for start in range(0, len(prepared), self.batch_size):
            chunk = prepared[start : start + self.batch_size]
            answer = self._request("POST", f"{API_PREFIX}/events", json={"events": chunk})
            results.extend(answer["results"])
        return results

    # -- reading --------------------------------------------------------------------------

    def summary(self, *, run_id: str | None = None, tz: str | None = None) -> dict[str, Any]:
        """Lifetime, today's and the current run's totals."""
        params = {k: v for k, v in (("run_id", run_id), ("tz", tz)) if v is not None}
        result: dict[str, Any] = self._request("GET", f"{API_PREFIX}/summary", params=params)
        return result

    def runs(self, limit: int | None = None) -> list[dict[str, Any]]:
        params = {"limit": limit} if limit is not None else {}
        rows: list[dict[str, Any]] = self._request("GET", f"{API_PREFIX}/runs", params=params)[
            "rows"
        ]
        return rows

    def sessions(self, limit: int = 20, offset: int = 0) -> list[dict[str, Any]]:
        params = {"limit": limit, "offset": offset}
        rows: list[dict[str, Any]] = self._request("GET", f"{API_PREFIX}/sessions", params=params)[
            "rows"
        ]
        return rows

    def session(self, key: str) -> dict[str, Any]:
        result: dict[str, Any] = self._request("GET", f"{API_PREFIX}/sessions/{_segment(key)}")
        return result

    def capabilities(self) -> dict[str, Any]:
        result: dict[str, Any] = self._request("GET", f"{API_PREFIX}/capabilities")
        return result

    # -- transport ------------------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
    ) -> Any:
        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.retries + 1),
            wait=self._wait,
            retry=tenacity.retry_if_exception_type(_Retryable),
            sleep=time.sleep,
        )
        try:
            return retrying(self._attempt, method, path, json, params)
        except tenacity.RetryError as exhausted:
            failure = exhausted.last_attempt.exception()
            assert isinstance(failure, _Retryable)
            raise failure.problem from None

    def _attempt(self, method: str, path: str, json: Any, params: Mapping[str, Any] | None) -> Any:
        try:
            response = self._http.request(method, path, json=json, params=params)
        except httpx.TransportError as exc:
            raise _Retryable(
                ClientError(
                    f"{method} {path}: no answer from the server ({type(exc).__name__}: {exc})"
                )
            ) from exc
        if response.status_code < 400:
            return response.json()
        problem = _error_from(method, path, response)
        if response.status_code not in _RETRY_STATUSES:
            raise problem
        raise _Retryable(problem, retry_after(response.headers.get("Retry-After")))

    def _wait(self, state: tenacity.RetryCallState) -> float:
        """The server's Retry-After when it gave one (at most 30 s), else exponential backoff
        with jitter (at most 10 s)."""
        failure = state.outcome.exception() if state.outcome else None
        if isinstance(failure, _Retryable) and failure.retry_after is not None:
            return min(failure.retry_after, _MAX_RETRY_AFTER_S)
        # half fixed, half random: backoff * 2**n * (0.5 to 1), so clients that failed
        # together do not all come back at the same moment
        half, cap = self.backoff / 2, _MAX_BACKOFF_S / 2
        backoff = tenacity.wait_exponential(multiplier=half, max=cap) + (
            tenacity.wait_random_exponential(multiplier=half, max=cap)
        )
        return float(backoff(state))


def _segment(value: str) -> str:
    return quote(value, safe="")


def _json_fields(**fields: Any) -> dict[str, Any]:
    """Fields as JSON values: datetimes as ISO 8601, ``None`` left out."""
    out: dict[str, Any] = {}
    for name, value in fields.items():
        if value is None:
            continue
        if isinstance(value, datetime):
            if value.tzinfo is None:
                raise ValueError(f"{name}: give the datetime a time zone, e.g. datetime.now(UTC)")
            value = value.isoformat()
        elif isinstance(value, date):
            value = value.isoformat()
        out[name] = value
    return out


def _error_from(method: str, path: str, response: httpx.Response) -> ClientError:
    code = field = None
    message = response.reason_phrase or "error"
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        error = body["error"]
        message = str(error.get("message", message))
        code = error.get("code")
        field = error.get("field")
    return ClientError(
        f"{method} {path}: {response.status_code} {message}",
        status=response.status_code,
        code=code,
        field=field,
    )


def retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: a number of seconds or an HTTP-date
    (RFC 9110); None when absent or unreadable. A date in the past means now."""
    if value is None:
        return None
    value = value.strip()
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # "-0000": the sender's zone is unknown; HTTP-dates are GMT
        when = when.replace(tzinfo=UTC)
    return max((when - (now or datetime.now(UTC))).total_seconds(), 0.0)
