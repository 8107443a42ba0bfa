"""tokentrail.client against a real uvicorn server on a loopback port: retries while the
server is down or restarting, lost answers, and that no retry ever counts twice."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from tokentrail.client import Client, ClientError
from tokentrail.ledger import Ledger
from tokentrail.server.app import create_app


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Server:
    """``tokentrail serve`` in a thread: a real uvicorn server over a real ledger file."""

    def __init__(self, db_path: Path, port: int, token: str | None = None) -> None:
        self.db_path, self.port, self.token = db_path, port, token
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._ledger: Ledger | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._ledger = Ledger(self.db_path)
        app = create_app(self._ledger, token=self.token)
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", access_log=False
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            assert time.monotonic() < deadline, "the server did not start"
            assert self._thread.is_alive(), "the server thread died"
            time.sleep(0.01)

    def start_later(self, delay: float) -> threading.Thread:
        def later() -> None:
            time.sleep(delay)
            self.start()

        thread = threading.Thread(target=later, daemon=True)
        thread.start()
        return thread

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
        if self._ledger is not None:
            self._ledger.close()
        self._server = self._thread = self._ledger = None


@pytest.fixture
def server(db_path: Path) -> Iterator[Server]:
    server = Server(db_path, free_port())
    server.start()
    yield server
    server.stop()


class Hooked(httpx.BaseTransport):
    """A real transport with a hook around each request: counts them, or fails some."""

    def __init__(
        self, hook: Callable[[httpx.Request, Callable[[], httpx.Response]], httpx.Response]
    ) -> None:
        self._real = httpx.HTTPTransport()
        self.hook = hook
        self.requests: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(f"{request.method} {request.url.path}")
        return self.hook(request, lambda: self._real.handle_request(request))

    def close(self) -> None:
        self._real.close()


def passthrough() -> Hooked:
    return Hooked(lambda request, forward: forward())


def lose_first_answer(method: str, path_part: str) -> Hooked:
    """The request reaches the server and is recorded, but its answer never arrives."""
    lost: list[bool] = []

    def hook(request: httpx.Request, forward: Callable[[], httpx.Response]) -> httpx.Response:
        response = forward()
        if request.method == method and path_part in request.url.path and not lost:
            lost.append(True)
            response.read()
            raise httpx.ReadTimeout("answer lost", request=request)
        return response

    return Hooked(hook)


def events(prefix: str, count: int, **fields: Any) -> list[dict[str, Any]]:
    return [
        {
            "event_id": f"{prefix}-{i}",
            "session_key": "s1",
            "model": "claude-sonnet-4-5",
            "input_tokens": 10 + i,
            "output_tokens": 2,
            **fields,
        }
        for i in range(count)
    ]


def recorded(client: Client) -> int:
    count: int = client.summary()["lifetime"]["requests"]
    return count


def test_an_orchestrator_round_trip(server: Server) -> None:
    with Client(server.url) as tt:
        run = tt.start_run("orch", reason="deploy")
        assert run["state"] == "running" and run["reason"] == "deploy"
        session = tt.put_session(
            "issue-1", run_id=run["run_id"], state="running", started_at=datetime.now(UTC)
        )
        assert session["run_id"] == run["run_id"]
        results = tt.record(events("a", 3, run_id=run["run_id"], session_key="issue-1"))
        assert [r["status"] for r in results] == ["created"] * 3
        tt.put_session("issue-1", state="completed", completed_at=datetime.now(UTC), turns=3)
        summary = tt.summary()
        assert summary["current_run"]["run_id"] == run["run_id"]
        assert summary["current_run"]["requests"] == 3 and summary["lifetime"]["sessions"] == 1
        stopped = tt.update_run(run["run_id"], state="stopped", stopped_at=datetime.now(UTC))
        assert stopped["state"] == "stopped"
        assert tt.runs()[0]["requests"] == 3
        assert tt.sessions()[0]["session_key"] == "issue-1"
        assert tt.session("issue-1")["turns"] == 3
        assert tt.capabilities()["api_version"] == 1
        assert tt.summary()["current_run"] is None


def test_the_client_waits_for_a_server_that_is_starting(db_path: Path) -> None:
    server = Server(db_path, free_port())
    starter = server.start_later(0.5)
    try:
        with Client(server.url, retries=10, backoff=0.05) as tt:
            results = tt.record(events("early", 5))
            assert [r["status"] for r in results] == ["created"] * 5
            assert recorded(tt) == 5
    finally:
        starter.join()
        server.stop()


def test_a_server_restart_between_calls_loses_and_doubles_nothing(server: Server) -> None:
    with Client(server.url, retries=10, backoff=0.05) as tt:
        first = events("before", 20)
        assert {r["status"] for r in tt.record(first)} == {"created"}
        server.stop()  # the process dies; a new one starts on the same ledger file
        starter = server.start_later(0.4)
        second = events("after", 10)
        results = tt.record(first + second)  # the caller resends everything it had
        starter.join()
        assert [r["status"] for r in results] == ["duplicate"] * 20 + ["created"] * 10
        assert recorded(tt) == 30


def test_a_lost_answer_is_retried_without_counting_twice(server: Server) -> None:
    transport = lose_first_answer("POST", "/events")
    with Client(server.url, retries=3, backoff=0.01, transport=transport) as tt:
        results = tt.record(events("x", 4))
        # the first attempt was recorded; the retry is recognised by its event ids
        assert [r["status"] for r in results] == ["duplicate"] * 4
        assert transport.requests.count("POST /api/v1/events") == 2
        assert recorded(tt) == 4


def test_missing_event_ids_are_filled_before_the_first_attempt(server: Server) -> None:
    transport = lose_first_answer("POST", "/events")
    anonymous = [{"session_key": "s", "input_tokens": n} for n in (1, 2, 3)]
    with Client(server.url, retries=3, backoff=0.01, transport=transport) as tt:
        results = tt.record(anonymous)
        ids = [r["event_id"] for r in results]
        assert len(set(ids)) == 3 and all(len(i) == 32 for i in ids)
        assert recorded(tt) == 3
    assert all("event_id" not in e for e in anonymous)  # the caller's dicts are untouched


def test_a_retried_run_start_is_not_a_second_run(server: Server) -> None:
    transport = lose_first_answer("POST", "/runs")
    with Client(server.url, retries=3, backoff=0.01, transport=transport) as tt:
        run = tt.start_run("orch")
        rows = tt.runs()
        assert [r["run_id"] for r in rows] == [run["run_id"]]
        assert rows[0]["state"] == "running"  # not closed as crashed by its own retry


def test_503_and_429_are_retried(server: Server) -> None:
    answers = iter([503, 429])

    def hook(request: httpx.Request, forward: Callable[[], httpx.Response]) -> httpx.Response:
        status = next(answers, None)
        if status is not None:
            return httpx.Response(status, headers={"Retry-After": "0"}, json={})
        return forward()

    transport = Hooked(hook)
    with Client(server.url, retries=2, backoff=0.01, transport=transport) as tt:
        assert tt.record(events("r", 2))[0]["status"] == "created"
    assert len(transport.requests) == 3


def test_retry_after_as_seconds_or_an_http_date() -> None:
    from tokentrail.client import retry_after

    now = datetime(2026, 10, 21, 7, 27, tzinfo=UTC)
    assert retry_after("120", now) == 120.0
    assert retry_after("Wed, 21 Oct 2026 07:28:00 GMT", now) == 60.0
    assert retry_after("Wed, 21 Oct 2026 07:00:00 GMT", now) == 0.0  # past: at once
    assert retry_after("soon", now) is None and retry_after(None, now) is None


def test_the_wait_is_what_retry_after_asks_seconds_or_date(
    server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    from email.utils import format_datetime

    past = format_datetime(datetime(2020, 1, 1, tzinfo=UTC), usegmt=True)
    answers = iter([("Retry-After", "2"), ("Retry-After", past), ("X-None", "")])

    def hook(request: httpx.Request, forward: Callable[[], httpx.Response]) -> httpx.Response:
        header = next(answers, None)
        if header is not None:
            return httpx.Response(503, headers=[header], json={})
        return forward()

    waits: list[float] = []
    monkeypatch.setattr(time, "sleep", waits.append)
    transport = Hooked(hook)
    with Client(server.url, retries=3, backoff=1, transport=transport) as tt:
        assert tt.record(events("d", 1))[0]["status"] == "created"
    assert len(transport.requests) == 4
    # two seconds; a date long past (at once); no header: backoff * 2**2 * (0.5 to 1)
    assert waits[:2] == [2.0, 0.0] and 2 <= waits[2] <= 4


def test_bad_input_raises_a_typed_error_at_once(server: Server) -> None:
    transport = passthrough()
    with Client(server.url, retries=5, transport=transport) as tt:
        with pytest.raises(ClientError) as bad_state:
            tt.put_session("s", state="exploded")
        error = bad_state.value
        assert (error.status, error.code, error.field) == (422, "invalid_field", "state")
        assert "must be one of" in error.message
        with pytest.raises(ClientError) as unknown:
            tt.update_run("nope", state="stopped")
        assert unknown.value.status == 404
    assert len(transport.requests) == 2  # 4xx are never retried


def test_rejected_items_are_results_not_exceptions(server: Server) -> None:
    with Client(server.url) as tt:
        results = tt.record([*events("ok", 1), {"event_id": "bad", "input_tokens": -5}])
        assert [r["status"] for r in results] == ["created", "rejected"]
        assert results[1]["error"]["field"] == "input_tokens"


def test_long_lists_are_sent_in_batches(server: Server) -> None:
    transport = passthrough()
    with Client(server.url, batch_size=7, transport=transport) as tt:
        results = tt.record(events("b", 20))
        assert [r["event_id"] for r in results] == [f"b-{i}" for i in range(20)]
        assert transport.requests.count("POST /api/v1/events") == 3
        assert recorded(tt) == 20


def test_naive_datetimes_are_refused_before_sending(server: Server) -> None:
    with Client(server.url) as tt, pytest.raises(ValueError, match="time zone"):
        tt.put_session("s", started_at=datetime(2026, 5, 4, 9, 0))


def test_no_server_at_all(db_path: Path) -> None:
    started = time.monotonic()
    client = Client(f"http://127.0.0.1:{free_port()}", retries=2, backoff=0.01)
    with client as tt, pytest.raises(ClientError) as failed:
        tt.summary()
    assert failed.value.status is None and "no answer" in failed.value.message
    assert time.monotonic() - started < 5


def test_a_token_server(db_path: Path) -> None:
    server = Server(db_path, free_port(), token="s3cret")
    server.start()
    try:
        with Client(server.url, token="s3cret") as tt:
            assert tt.record(events("t", 1))[0]["status"] == "created"
        transport = passthrough()
        with Client(server.url, token="wrong", transport=transport) as tt:
            with pytest.raises(ClientError) as refused:
                tt.summary()
            assert refused.value.status == 401 and refused.value.code == "unauthorized"
        assert len(transport.requests) == 1
    finally:
        server.stop()
