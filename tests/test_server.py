"""The REST API (``tokentrail serve``), in-process through Starlette's TestClient, on a real
temporary ledger: every endpoint, every validation rule, auth and limits."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from tokentrail.cli import cli
from tokentrail.errors import ConfigError
from tokentrail.ledger import Ledger
from tokentrail.periods import resolve_timezone
from tokentrail.reports.query import ReportQuery
from tokentrail.reports.runs import summary_report
from tokentrail.reports.sessions import recent_sessions
from tokentrail.server.app import create_app
from tokentrail.server.auth import allowed_hosts, check_bind, is_loopback, token_problem
from tokentrail.server.limits import MAX_BATCH_EVENTS

API = "/api/v1"
MODEL = "claude-sonnet-4-5"


@pytest.fixture
def ledger(db_path: Path) -> Iterator[Ledger]:
    with Ledger(db_path) as ledger:
        yield ledger


@pytest.fixture
def client(ledger: Ledger) -> Iterator[TestClient]:
    with TestClient(create_app(ledger, token=None)) as client:
        yield client


def event(event_id: Any, **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "event_id": event_id,
        "session_key": "s1",
        "timestamp": "2026-05-04T09:30:00Z",
        "model": MODEL,
        "input_tokens": 100,
        "output_tokens": 20,
    }
    base.update(fields)
    return {k: v for k, v in base.items() if v is not ...}


def post_events(client: TestClient, *items: Any) -> list[dict[str, Any]]:
    response = client.post(f"{API}/events", json={"events": list(items)})
    assert response.status_code == 200, response.text
    results: list[dict[str, Any]] = response.json()["results"]
    return results


def assert_error(response: Any, status: int, field: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    error: dict[str, Any] = response.json()["error"]
    assert set(error) <= {"code", "message", "field"}
    assert error["code"] and error["message"]
    if field is not None:
        assert error.get("field") == field, error
        assert field in error["message"]
    return error


def lifetime_requests(client: TestClient) -> int:
    count: int = client.get(f"{API}/summary").json()["lifetime"]["requests"]
    return count


# -- runs -----------------------------------------------------------------------------------


def test_run_start_update_and_replay(client: TestClient) -> None:
    started = client.post(
        f"{API}/runs",
        json={"app": "orch", "reason": "deploy", "started_at": "2026-05-04T11:00:00+02:00"},
    )
    assert started.status_code == 201
    run = started.json()
    assert run["app"] == "orch" and run["reason"] == "deploy" and run["state"] == "running"
    assert run["started_at"] == "2026-05-04T09:00:00Z"
    assert run["stopped_at"] is None and run["runtime_seconds"] is None

    # a retry with the same run_id returns the run as recorded, creating nothing
    again = client.post(f"{API}/runs", json={"app": "orch", "run_id": run["run_id"]})
    assert again.status_code == 200 and again.json() == run
    taken = client.post(f"{API}/runs", json={"app": "other", "run_id": run["run_id"]})
    assert_error(taken, 409, "run_id")

    patched = client.patch(
        f"{API}/runs/{run['run_id']}",
        json={"state": "stopped", "stopped_at": "2026-05-04T10:00:00Z", "peak_concurrency": 3},
    )
    assert patched.status_code == 200
    assert patched.json()["state"] == "stopped"
    assert patched.json()["runtime_seconds"] == 3600.0
    # peak concurrency only grows; an empty patch changes nothing
    lower = client.patch(f"{API}/runs/{run['run_id']}", json={"peak_concurrency": 1})
    assert lower.json()["peak_concurrency"] == 3
    assert client.patch(f"{API}/runs/{run['run_id']}", json={}).json() == lower.json()
    rows = client.get(f"{API}/runs").json()["rows"]
    assert [r["run_id"] for r in rows] == [run["run_id"]]
    assert rows[0]["peak_concurrency"] == 3 and rows[0]["requests"] == 0


def test_a_new_run_closes_the_apps_running_run_as_crashed(client: TestClient) -> None:
    first = client.post(f"{API}/runs", json={"app": "orch"}).json()
    post_events(client, event("e1", run_id=first["run_id"], timestamp="2026-05-04T09:00:00Z"))
    second = client.post(f"{API}/runs", json={"app": "orch", "reason": "restart"}).json()
    rows = {r["run_id"]: r for r in client.get(f"{API}/runs").json()["rows"]}
    assert rows[first["run_id"]]["state"] == "crashed"
    assert rows[first["run_id"]]["stopped_at"] == "2026-05-04T09:00:00Z"
    assert rows[second["run_id"]]["state"] == "running"
    assert rows[first["run_id"]]["requests"] == 1
    limited = client.get(f"{API}/runs", params={"limit": 1}).json()["rows"]
    assert [r["run_id"] for r in limited] == [second["run_id"]]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "app"),
        ({"app": ""}, "app"),
        ({"app": 5}, "app"),
        ({"app": "x" * 201}, "app"),
        ({"app": "orch", "extra": 1}, "extra"),
        ({"app": "orch", "started_at": "2026-05-04T09:00:00"}, "started_at"),
        ({"app": "orch", "started_at": "yesterday"}, "started_at"),
        ({"app": "orch", "started_at": 1777777777}, "started_at"),
        ({"app": "orch", "started_at": "0001-01-01T00:00:00+01:00"}, "started_at"),
        ({"app": "orch", "run_id": ""}, "run_id"),
        ({"app": "orch", "started_at": "3000-01-01T00:00:00Z"}, "started_at"),
    ],
)
def test_run_start_rejects_bad_fields(client: TestClient, body: Any, field: str) -> None:
    assert_error(client.post(f"{API}/runs", json=body), 422, field)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"state": "exploded"}, "state"),
        ({"peak_concurrency": -1}, "peak_concurrency"),
        ({"peak_concurrency": 1.5}, "peak_concurrency"),
        ({"sessions_launched": True}, "sessions_launched"),
        ({"sessions_launched": "3"}, "sessions_launched"),
        ({"stopped_at": "2026-05-04"}, "stopped_at"),
        ({"stopped_at": "2001-05-04T09:30:00Z"}, "stopped_at"),  # before the run started
        ({"app": "renamed"}, "app"),
    ],
)
def test_run_update_rejects_bad_fields(client: TestClient, body: Any, field: str) -> None:
    run = client.post(f"{API}/runs", json={"app": "orch"}).json()
    assert_error(client.patch(f"{API}/runs/{run['run_id']}", json=body), 422, field)


def test_updating_an_unknown_run_is_404(client: TestClient) -> None:
    error = assert_error(client.patch(f"{API}/runs/nope", json={"state": "stopped"}), 404)
    assert error["code"] == "not_found" and "nope" in error["message"]


# -- sessions -------------------------------------------------------------------------------


def test_put_session_creates_then_updates(client: TestClient) -> None:
    run = client.post(f"{API}/runs", json={"app": "orch"}).json()
    created = client.put(
        f"{API}/sessions/issue-42/attempt-1",
        json={
            "run_id": run["run_id"],
            "issue_id": "42",
            "identifier": "ENG-42",
            "model": MODEL,
            "project": "/src/app",
            "parent": "root",
            "relationship": "subagent",
            "title": "Fix the bug",
            "started_at": "2026-05-04T09:00:00Z",
            "state": "running",
        },
    )
    assert created.status_code == 200, created.text
    session = created.json()
    assert session["session_key"] == "issue-42/attempt-1"
    assert session["source"] == "sdk" and session["parent_key"] == "root"
    assert session["state"] == "running" and session["completed_at"] is None

    ended = client.put(
        f"{API}/sessions/issue-42/attempt-1",
        json={"state": "completed", "completed_at": "2026-05-04T09:10:00Z", "turns": 7},
    ).json()
    assert ended["state"] == "completed" and ended["turns"] == 7
    assert ended["completed_at"] == "2026-05-04T09:10:00Z"
    assert ended["runtime_seconds"] == 600.0
    assert ended["issue_id"] == "42"  # omitted fields keep what was known

    detail = client.get(f"{API}/sessions/issue-42/attempt-1").json()
    assert detail["state"] == "completed" and detail["runtime_seconds"] == 600.0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"state": "sleeping"}, "state"),
        ({"turns": -2}, "turns"),
        ({"turns": "3"}, "turns"),
        ({"parent_key": "x"}, "parent_key"),
        ({"ended_at": "2026-05-04T09:00:00Z"}, "ended_at"),
        ({"completed_at": "2026-05-04 09:00"}, "completed_at"),
        ({"model": ["a"]}, "model"),
        ({"title": "t" * 5000}, "title"),
    ],
)
def test_put_session_rejects_bad_fields(client: TestClient, body: Any, field: str) -> None:
    assert_error(client.put(f"{API}/sessions/s1", json=body), 422, field)
    assert_error(client.get(f"{API}/sessions/s1"), 404)  # nothing was written


def test_session_key_limits(client: TestClient) -> None:
    assert_error(client.put(f"{API}/sessions/{'k' * 201}", json={}), 422, "key")
    assert client.put(f"{API}/sessions/{'k' * 200}", json={}).status_code == 200


def test_unknown_session_is_404(client: TestClient) -> None:
    error = assert_error(client.get(f"{API}/sessions/missing"), 404, "key")
    assert error["code"] == "not_found"


# -- events ---------------------------------------------------------------------------------


def test_events_are_created_once_and_a_resend_creates_nothing(client: TestClient) -> None:
    batch = [event("e1"), event("e2", output_tokens=5), event("e3", model="gpt-5")]
    assert [r["status"] for r in post_events(client, *batch)] == ["created"] * 3
    before = client.get(f"{API}/summary").json()["lifetime"]
    results = post_events(client, *batch)
    assert [r["status"] for r in results] == ["duplicate"] * 3
    assert [r["event_id"] for r in results] == ["e1", "e2", "e3"]
    assert all(r["error"] is None for r in results)
    assert client.get(f"{API}/summary").json()["lifetime"] == before
    assert before["requests"] == 3 and before["output_tokens"] == 45


def test_a_repeated_id_within_one_batch_counts_once(client: TestClient) -> None:
    results = post_events(client, event("same"), event("same"))
    assert [r["status"] for r in results] == ["created", "duplicate"]
    assert lifetime_requests(client) == 1


def test_the_same_id_from_another_source_is_another_request(client: TestClient) -> None:
    results = post_events(client, event("e1"), event("e1", source="my-agent"))
    assert [r["status"] for r in results] == ["created", "created"]


BAD_ITEMS: list[tuple[Any, str]] = [
    (event("b", input_tokens=-1), "input_tokens"),
    (event("b", output_tokens=1.5), "output_tokens"),
    (event("b", output_tokens=2.0), "output_tokens"),
    (event("b", cache_read_tokens=True), "cache_read_tokens"),
    (event("b", cache_write_tokens="12"), "cache_write_tokens"),
    (event("b", cache_write_1h_tokens=10**13), "cache_write_1h_tokens"),
    (event("b", reasoning_tokens=10**40), "reasoning_tokens"),
    (event("b", output_tokens=5, reasoning_tokens=9), "reasoning_tokens"),
    (event("b", input_tokens=..., output_tokens=...), "input_tokens"),
    (event("b", timestamp="2026-05-04T09:30:00"), "timestamp"),
    (event("b", timestamp="2026-05-04"), "timestamp"),
    (event("b", timestamp="not a time"), "timestamp"),
    (event("b", timestamp=1777777777), "timestamp"),
    (event("b", timestamp="0001-01-01T00:00:00+05:00"), "timestamp"),
    (event("b", timestamp="2500-01-01T00:00:00Z"), "timestamp"),
    (event("b", timestamp="1999-12-31T23:59:59Z"), "timestamp"),
    (event("b", cost_usd=-0.5), "cost_usd"),
    (event("b", cost_usd="0.10"), "cost_usd"),
    (event("b", cost_usd=1e20), "cost_usd"),
    (event("b", model=42), "model"),
    (event("b", session_key={"a": 1}), "session_key"),
    (event("b", run_id="r" * 201), "run_id"),
    (event("b", project=["p"]), "project"),
    (event("b", source=""), "source"),
    (event("b", prompt="never stored"), "prompt"),
    (event("b", **{"inputTokens": 5}), "inputTokens"),
    ({"session_key": "s1", "input_tokens": 5}, "event_id"),
    (event(""), "event_id"),
    (event(7), "event_id"),
    ("not an object", "event"),
    ([1, 2], "event"),
    (None, "event"),
]


@pytest.mark.parametrize(("bad", "field"), BAD_ITEMS)
def test_a_bad_item_is_rejected_alone(client: TestClient, bad: Any, field: str) -> None:
    results = post_events(client, event("good-1"), bad, event("good-2"))
    assert [r["status"] for r in results] == ["created", "rejected", "created"]
    error = results[1]["error"]
    assert error["field"] == field, error
    assert error["message"].startswith(f"{field}:") and error["code"] == "invalid_field"
    assert lifetime_requests(client) == 2


def test_big_integers_are_rejected_per_item(client: TestClient) -> None:
    # larger than 64 bits: orjson refuses the document, the fallback parser keeps the item
    body = b'{"events": [{"event_id": "a", "input_tokens": 1}, {"event_id": "b", ' + (
        b'"input_tokens": 123456789012345678901234567890}]}'
    )
    results = client.post(f"{API}/events", content=body, headers=_JSON).json()["results"]
    assert [r["status"] for r in results] == ["created", "rejected"]
    assert results[1]["error"]["field"] == "input_tokens"


def test_valid_items_are_written_in_one_ledger_call(
    client: TestClient, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    real = ledger.record_events

    def counting(events: Any) -> list[str]:
        calls.append(len(events))
        return real(events)

    monkeypatch.setattr(ledger, "record_events", counting)
    post_events(client, *(event(f"e{i}") for i in range(50)), "bad", event("e50"))
    assert calls == [51]
    post_events(client, "bad", "worse")
    assert calls == [51]  # nothing valid: no write at all


def test_omitted_buckets_are_not_reported_not_zero(client: TestClient) -> None:
    client.put(f"{API}/sessions/s1", json={})
    client.put(f"{API}/sessions/s2", json={})
    post_events(
        client,
        {"event_id": "only-input", "session_key": "s1", "input_tokens": 100},
        {"event_id": "zero-out", "session_key": "s2", "input_tokens": 1, "output_tokens": 0},
    )
    timeline = client.get(f"{API}/sessions/s1").json()["timeline"]
    assert len(timeline) == 1
    request = timeline[0]
    assert request["input_tokens"] == 100
    for bucket in ("cache_read_tokens", "cache_write_tokens", "output_tokens"):
        assert request[bucket] is None, bucket
    assert request["reasoning_tokens"] is None
    assert client.get(f"{API}/sessions/s2").json()["timeline"][0]["output_tokens"] == 0
    lifetime = client.get(f"{API}/summary").json()["lifetime"]
    assert lifetime["cache_read_tokens"] is None and lifetime["output_tokens"] == 0


def test_events_default_to_now_and_source_sdk(client: TestClient) -> None:
    before = datetime.now(UTC)
    post_events(client, {"event_id": "x", "session_key": "s9", "output_tokens": 3})
    detail = client.get(f"{API}/sessions/s9").json()  # usage alone makes the session known
    assert (detail["source"], detail["state"], detail["output_tokens"]) == ("sdk", None, 3)
    assert datetime.fromisoformat(detail["started_at"]) >= before
    assert client.get(f"{API}/sessions/unknown").status_code == 404
    rows = client.get(f"{API}/daily", params={"source": "sdk"}).json()["rows"]
    assert rows[-1]["period"] == before.date().isoformat() and rows[-1]["requests"] == 1


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"", 400, "invalid_json"),
        (b"{", 400, "invalid_json"),
        (b"\xff\xfe", 400, "invalid_json"),
        (b'{"events": [NaN]}', 400, "invalid_json"),
        (b"[]", 400, "invalid_body"),
        (b'"events"', 400, "invalid_body"),
        (b"{}", 422, "invalid_field"),
        (b'{"events": {"a": 1}}', 422, "invalid_field"),
        (b'{"events": null}', 422, "invalid_field"),
        (b'{"events": [], "extra": 1}', 422, "invalid_field"),
    ],
)
def test_malformed_batches_are_4xx(client: TestClient, body: bytes, status: int, code: str) -> None:
    response = client.post(
        f"{API}/events", content=body, headers={"Content-Type": "application/json"}
    )
    assert assert_error(response, status)["code"] == code


def test_an_empty_batch_is_fine(client: TestClient) -> None:
    assert client.post(f"{API}/events", json={"events": []}).json() == {"results": []}


def test_batch_size_limit(client: TestClient) -> None:
    items = [event(f"e{i}") for i in range(MAX_BATCH_EVENTS + 1)]
    error = assert_error(client.post(f"{API}/events", json={"events": items}), 413, "events")
    assert str(MAX_BATCH_EVENTS) in error["message"]
    assert lifetime_requests(client) == 0
    results = post_events(client, *items[:MAX_BATCH_EVENTS])
    assert len(results) == MAX_BATCH_EVENTS


def test_body_size_limit(ledger: Ledger) -> None:
    app = create_app(ledger, token=None, max_body_bytes=2_000)
    items = [event(f"e{i}") for i in range(30)]
    body = orjson.dumps({"events": items})
    assert len(body) > 2_000
    with TestClient(app) as client:
        announced = client.post(f"{API}/events", content=body, headers=_JSON)
        assert assert_error(announced, 413)["code"] == "too_large"

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted while read
            for start in range(0, len(body), 500):
                yield body[start : start + 500]

        streamed = client.post(f"{API}/events", content=chunks(), headers=_JSON)
        assert assert_error(streamed, 413)["code"] == "too_large"
        assert lifetime_requests(client) == 0
        small = client.post(f"{API}/events", json={"events": items[:3]})
        assert small.status_code == 200
        too_big_run = client.post(f"{API}/runs", json={"app": "a", "reason": "r" * 1999})
        assert too_big_run.status_code == 413


def test_bodies_must_be_json(client: TestClient) -> None:
    response = client.post(
        f"{API}/runs", content=b"app=orch", headers={"Content-Type": "text/plain"}
    )
    assert "Content-Type: application/json" in assert_error(response, 415)["message"]
    assert assert_error(client.post(f"{API}/runs", content=b"[1]", headers=_JSON), 400)
    assert assert_error(client.post(f"{API}/runs", content=b"{", headers=_JSON), 400)
    assert assert_error(client.put(f"{API}/sessions/s", content=b"null", headers=_JSON), 400)


_JSON = {"Content-Type": "application/json"}


# -- read side ------------------------------------------------------------------------------


@pytest.fixture
def recorded(client: TestClient) -> dict[str, Any]:
    run = client.post(f"{API}/runs", json={"app": "orch"}).json()
    for key, start in (("a", "2026-05-01T08:00:00Z"), ("b", "2026-05-04T08:00:00Z")):
        client.put(
            f"{API}/sessions/{key}",
            json={"run_id": run["run_id"], "started_at": start, "project": f"/p/{key}"},
        )
    post_events(
        client,
        event("1", session_key="a", run_id=run["run_id"], timestamp="2026-05-01T09:00:00Z"),
        event("2", session_key="a", run_id=run["run_id"], timestamp="2026-05-01T23:30:00Z"),
        event("3", session_key="b", run_id=run["run_id"], model="mystery-model", project="/p/b"),
        event("4", session_key="b", source="other", timestamp="2026-05-12T10:00:00Z"),
    )
    client.put(
        f"{API}/sessions/a", json={"state": "completed", "completed_at": "2026-05-02T00:00:00Z"}
    )
    started: dict[str, Any] = run
    return started


def test_summary_matches_the_report(
    client: TestClient, ledger: Ledger, recorded: dict[str, Any]
) -> None:
    body = client.get(f"{API}/summary", params={"tz": "Asia/Kolkata"}).json()
    assert set(body) == {"lifetime", "current_run", "today", "timezone"}
    assert body["lifetime"]["requests"] == 4 and body["lifetime"]["runs"] == 1
    assert body["current_run"]["run_id"] == recorded["run_id"]
    assert body["current_run"]["requests"] == 3
    assert body["timezone"] == "Asia/Kolkata"
    query = ReportQuery(*resolve_timezone("Asia/Kolkata"))
    with ledger.reading() as store:
        expected = summary_report(store, query).as_dict()
    assert body["lifetime"] == expected["lifetime"]
    assert body["current_run"] == expected["current_run"]
    for name in ("lifetime", "today", "current_run"):
        assert list(body[name]) == list(expected[name]), "same fields, same order"
    by_id = client.get(f"{API}/summary", params={"run_id": recorded["run_id"]}).json()
    assert by_id["current_run"]["run_id"] == recorded["run_id"]
    assert client.get(f"{API}/summary", params={"run_id": "nope"}).json()["current_run"] is None


def test_summary_with_nothing_recorded(client: TestClient) -> None:
    body = client.get(f"{API}/summary").json()
    assert body["current_run"] is None
    assert body["lifetime"]["requests"] == 0
    assert body["lifetime"]["total_tokens"] is None and body["lifetime"]["cost_usd"] is None


def test_sessions_list(client: TestClient, ledger: Ledger, recorded: dict[str, Any]) -> None:
    rows = client.get(f"{API}/sessions").json()["rows"]
    assert [r["session_key"] for r in rows] == ["b", "a"]  # most recent first
    with ledger.reading() as store:
        query = ReportQuery(*resolve_timezone("UTC"))
        expected = [r.as_dict() for r in recent_sessions(store, query)]
    # each row also carries its generated summary (tests/test_insights.py)
    assert all(isinstance(r.pop("summary"), str) for r in rows)
    assert rows == orjson.loads(orjson.dumps(expected))
    assert rows[1]["state"] == "completed" and rows[1]["runtime_seconds"] == 16 * 3600
    page = client.get(f"{API}/sessions", params={"limit": 1, "offset": 1}).json()["rows"]
    assert [r["session_key"] for r in page] == ["a"]
    by_project = client.get(f"{API}/sessions", params={"project": "/p/a"}).json()["rows"]
    assert [r["session_key"] for r in by_project] == ["a"]
    other = client.get(f"{API}/sessions", params={"source": "other"}).json()["rows"]
    assert all(r["session_key"] == "b" for r in other)


def test_session_detail(client: TestClient, recorded: dict[str, Any]) -> None:
    detail = client.get(f"{API}/sessions/a").json()
    assert detail["session_key"] == "a" and detail["requests"] == 2
    assert [r["timestamp"] for r in detail["timeline"]] == [
        "2026-05-01T09:00:00Z",
        "2026-05-01T23:30:00Z",
    ]
    assert detail["own"]["requests"] == 2 and detail["subagents"] == []
    assert detail["timeline"][0]["cost_status"] == "priced"


@pytest.mark.parametrize("kind", ["daily", "weekly", "monthly"])
def test_period_reports_are_the_clis_json(
    client: TestClient, db_path: Path, recorded: dict[str, Any], kind: str
) -> None:
    params: dict[str, Any] = {"tz": "Asia/Kolkata", "breakdown": "true"}
    api = client.get(f"{API}/{kind}", params=params).json()
    cli_result = CliRunner().invoke(
        cli,
        [kind, "-d", str(db_path), "--no-sync", "--json", "--tz", "Asia/Kolkata", "--breakdown"],
    )
    assert cli_result.exit_code == 0, cli_result.output
    assert api == orjson.loads(cli_result.output)
    assert all("model" in row for row in api["rows"])
    plain = client.get(f"{API}/{kind}").json()
    assert all("model" not in row for row in plain["rows"])
    assert plain["unpriced_models"][0]["model"] == "mystery-model"


def test_period_filters(client: TestClient, recorded: dict[str, Any]) -> None:
    daily = client.get(f"{API}/daily", params={"tz": "UTC"}).json()
    assert [(r["period"], r["requests"]) for r in daily["rows"]] == [
        ("2026-05-01", 2),
        ("2026-05-04", 1),
        ("2026-05-12", 1),
    ]
    ranged = client.get(
        f"{API}/daily", params={"since": "2026-05-01", "until": "20260501", "tz": "UTC"}
    ).json()
    assert [r["period"] for r in ranged["rows"]] == ["2026-05-01"]
    assert ranged["totals"]["requests"] == 2
    kolkata = client.get(
        f"{API}/daily", params={"since": "2026-05-02", "until": "2026-05-02", "tz": "Asia/Kolkata"}
    ).json()
    assert kolkata["totals"]["requests"] == 1  # 23:30 UTC is the next local day there
    sources = client.get(f"{API}/daily", params=[("source", "other"), ("source", "nope")]).json()
    assert sources["totals"]["requests"] == 1
    project = client.get(f"{API}/monthly", params={"project": "/p/b"}).json()
    assert project["totals"]["requests"] == 1


@pytest.mark.parametrize(
    ("path", "params", "field"),
    [
        ("daily", {"tz": "Mars/Olympus"}, "tz"),
        ("summary", {"tz": "nowhere"}, "tz"),
        ("weekly", {"since": "2026-13-01"}, "since"),
        ("monthly", {"until": "tomorrow"}, "until"),
        ("daily", {"since": "2026-05-04", "until": "2026-05-01"}, "since"),
        ("daily", {"since": "0001-01-01"}, "since"),
        ("daily", {"breakdown": "maybe"}, "breakdown"),
        ("sessions", {"limit": 0}, "limit"),
        ("sessions", {"limit": "ten"}, "limit"),
        ("sessions", {"offset": -1}, "offset"),
        ("runs", {"limit": 100_000}, "limit"),
    ],
)
def test_bad_query_values_are_422(
    client: TestClient, path: str, params: dict[str, Any], field: str
) -> None:
    assert_error(client.get(f"{API}/{path}", params=params), 422, field)


def test_capabilities(client: TestClient) -> None:
    body = client.get(f"{API}/capabilities").json()
    assert body["api_version"] == 1 and body["max_batch_events"] == MAX_BATCH_EVENTS
    assert {"runs", "sessions", "events", "summary"} <= set(body["features"])
    assert body["auth_required"] is False


# -- errors, docs -------------------------------------------------------------------------


def test_unknown_paths_and_methods_get_the_error_body(client: TestClient) -> None:
    assert assert_error(client.get("/api/v1/nothing"), 404)["code"] == "not_found"
    assert assert_error(client.delete(f"{API}/runs"), 405)["code"] == "method_not_allowed"


def test_docs_are_served_without_a_cdn(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200 and "/api/v1/events" in page.text
    assert "<script" not in page.text and "cdn" not in page.text.lower()
    assert client.get("/redoc").status_code == 404
    schema = client.get("/openapi.json").json()
    assert f"{API}/events" in schema["paths"]


def test_every_route_documents_a_typed_response(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    # CSV tables, and OTLP's protobuf-or-JSON answers fixed by the OTLP specification
    not_json = {"/api/v1/export/{what}.csv", "/v1/logs", "/v1/metrics", "/v1/traces"}
    for path, methods in schema["paths"].items():
        if path in not_json:
            continue
        for method, op in methods.items():
            ok = next(c for c in op["responses"] if c.startswith("2"))
            content = op["responses"][ok]["content"]["application/json"]["schema"]
            assert "$ref" in content, (method, path)
            assert "422" in op["responses"] and "401" in op["responses"], (method, path)


# -- auth -----------------------------------------------------------------------------------


def test_a_token_is_needed_for_every_request(ledger: Ledger) -> None:
    with TestClient(create_app(ledger, token="s3cret")) as client:
        for method, path in (
            ("GET", f"{API}/summary"),
            ("POST", f"{API}/events"),
            ("GET", "/openapi.json"),
            ("GET", "/docs"),
        ):
            missing = client.request(method, path, json={"events": []})
            assert assert_error(missing, 401)["code"] == "unauthorized"
            assert missing.headers["WWW-Authenticate"] == "Bearer"
            for wrong in ("Bearer s3cre", "Bearer s3cret2", "Basic s3cret", "s3cret", "Bearer"):
                response = client.request(
                    method, path, json={"events": []}, headers={"Authorization": wrong}
                )
                assert response.status_code == 401, wrong
        good = {"Authorization": "Bearer s3cret"}
        assert client.get(f"{API}/summary", headers=good).status_code == 200
        assert client.get(f"{API}/summary", headers={"Authorization": "bearer s3cret"}).is_success
        written = client.post(f"{API}/events", json={"events": [event("e")]}, headers=good)
        assert written.json()["results"][0]["status"] == "created"
        caps = client.get(f"{API}/capabilities", headers=good).json()
        assert caps["auth_required"] is True


def test_a_browser_opens_the_dashboard_once_with_the_token(ledger: Ledger) -> None:
    with TestClient(create_app(ledger, token="s3cret"), follow_redirects=False) as client:
        assert client.get("/").status_code == 401
        assert client.get("/?token=wrong").status_code == 401
        opened = client.get("/sessions?range=7d&token=s3cret")
        assert opened.status_code == 303
        assert opened.headers["location"] == "/sessions?range=7d"  # the token leaves the URL
        cookie = opened.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie
        # the client now holds the cookie: pages and the read API work, writes still do not
        assert client.get("/sessions?range=7d").status_code == 200
        assert client.get(f"{API}/overview").status_code == 200
        refused = client.post(f"{API}/events", json={"events": [event("e")]})
        assert refused.status_code == 401
        assert "?token=" in refused.json()["error"]["message"]
        client.cookies.clear()
        client.cookies.set("tokentrail_token", "s3cret2")
        assert client.get("/").status_code == 401


def test_the_served_app_has_the_dashboard_and_the_otlp_receiver(ledger: Ledger) -> None:
    with TestClient(create_app(ledger, token=None)) as client:
        assert "<html" in client.get("/").text.lower()
        assert client.get("/static/vendor/echarts/echarts.min.js").status_code == 200
        features = client.get(f"{API}/capabilities").json()["features"]
        assert {"dashboard", "overview", "otlp.logs", "reconciliation"} <= set(features)
        empty_logs = client.post(
            "/v1/logs", content=b"{}", headers={"Content-Type": "application/json"}
        )
        assert empty_logs.status_code == 200


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("localhost", True),
        ("::1", True),
        ("[::1]", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.5", False),
        ("example.com", False),
        ("", False),
    ],
)
def test_loopback_detection(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_binding_off_loopback_needs_a_token() -> None:
    check_bind("127.0.0.1", None)
    check_bind("0.0.0.0", "t0ken")
    with pytest.raises(ConfigError) as refused:
        check_bind("0.0.0.0", None)
    assert "--token" in str(refused.value) and "TOKENTRAIL_TOKEN" in str(refused.value)


def test_serve_refuses_a_public_host_without_a_token(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TOKENTRAIL_TOKEN", raising=False)
    result = CliRunner().invoke(cli, ["serve", "--host", "0.0.0.0", "-d", str(db_path)])
    assert result.exit_code != 0
    assert "--token" in result.output and "TOKENTRAIL_TOKEN" in result.output
    assert not db_path.exists()  # refused before opening anything


@pytest.mark.parametrize(
    "token", ["a", " " * 40, "short-token-15c", "a b c d e f g h i j k l m n o"]
)
def test_serve_refuses_a_token_too_short_to_protect_anything(
    db_path: Path, monkeypatch: pytest.MonkeyPatch, token: str
) -> None:
    monkeypatch.delenv("TOKENTRAIL_TOKEN", raising=False)
    result = CliRunner().invoke(cli, ["serve", "--token", token, "-d", str(db_path)])
    assert result.exit_code == 2, result.output
    assert "16 non-blank characters" in result.output
    assert not db_path.exists()
    monkeypatch.setenv("TOKENTRAIL_TOKEN", token)
    from_env = CliRunner().invoke(cli, ["serve", "-d", str(db_path)])
    assert from_env.exit_code == 2 and "TOKENTRAIL_TOKEN" in from_env.output


def test_a_long_enough_token_is_accepted() -> None:
    assert token_problem("0123456789abcdef") is None
    assert token_problem("0123456789abcde") is not None


# -- what a web page may do: Content-Type, Origin, Host ----------------------------------------

OPUS = "claude-opus-4-1"
_FORGED = orjson.dumps({"events": [event("forged", input_tokens=5_000_000, model=OPUS)]})


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "text/json",
    ],
)
def test_writes_must_be_sent_as_json(client: TestClient, content_type: str | None) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    for method, path in (
        ("POST", f"{API}/events"),
        ("POST", f"{API}/runs"),
        ("PUT", f"{API}/sessions/s"),
        ("PATCH", f"{API}/runs/r"),
    ):
        body = _FORGED if path.endswith("events") else b'{"app": "a"}'
        response = client.request(method, path, content=body, headers=headers)
        error = assert_error(response, 415)
        assert error["code"] == "unsupported_media_type"
        assert "Content-Type: application/json" in error["message"]
    assert lifetime_requests(client) == 0
    charset = client.post(
        f"{API}/events",
        content=_FORGED,
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert charset.json()["results"][0]["status"] == "created"


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://attacker.example"},
        {"Origin": "null"},
        {"Origin": "http://testserver.attacker.example"},
        {"Origin": "http://127.0.0.1:8787"},  # another origin than the one asked (testserver)
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
        {"Origin": "http://testserver", "Sec-Fetch-Site": "cross-site"},
    ],
)
def test_writes_from_another_sites_page_are_refused(
    client: TestClient, headers: dict[str, str]
) -> None:
    response = client.post(f"{API}/events", content=_FORGED, headers={**_JSON, **headers})
    assert assert_error(response, 403)["code"] == "forbidden"
    refused_run = client.post(f"{API}/runs", json={"app": "a"}, headers=headers)
    assert refused_run.status_code == 403
    assert lifetime_requests(client) == 0
    # reads are not writes: a page may not read them (no CORS), but they are not refused here
    assert client.get(f"{API}/summary", headers=headers).status_code == 200


def test_writes_from_the_servers_own_pages_and_programs_are_accepted(client: TestClient) -> None:
    for extra in (
        {},
        {"Origin": "http://testserver"},
        {"Sec-Fetch-Site": "same-origin"},
        {"Sec-Fetch-Site": "none"},
    ):
        response = client.post(
            f"{API}/events",
            content=orjson.dumps({"events": [event(str(extra))]}),
            headers={**_JSON, **extra},
        )
        assert response.json()["results"][0]["status"] == "created", extra
    assert lifetime_requests(client) == 4


def test_a_loopback_server_answers_only_to_loopback_names(ledger: Ledger) -> None:
    app = create_app(ledger, token=None, hosts=allowed_hosts("127.0.0.1"))
    with TestClient(app, base_url="http://127.0.0.1:8787") as client:
        for host in ("127.0.0.1:8787", "localhost:8787", "[::1]:8787", "LOCALHOST", "127.0.0.1"):
            assert client.get(f"{API}/summary", headers={"Host": host}).status_code == 200, host
        for host in (
            "attacker.example",
            "attacker.example:8787",
            "127.0.0.1.attacker.example",
            "",
            "[::2]:8787",
        ):
            read = client.get(f"{API}/summary", headers={"Host": host})
            error = assert_error(read, 421)
            assert error["code"] == "misdirected_request" and "127.0.0.1" in error["message"]
            write = client.post(f"{API}/events", content=_FORGED, headers={**_JSON, "Host": host})
            assert write.status_code == 421
            assert client.get("/", headers={"Host": host}).status_code == 421
        assert lifetime_requests(client) == 0


def test_the_host_rule_follows_the_bound_address() -> None:
    assert allowed_hosts("127.0.0.1") == {"127.0.0.1", "localhost", "::1"}
    assert "127.0.0.2" in (allowed_hosts("127.0.0.2") or ())
    assert "::1" in (allowed_hosts("[::1]") or ())
    # off loopback a token is required (a rebound page has none) and any name may reach us
    assert allowed_hosts("0.0.0.0") is None
    assert allowed_hosts("192.168.1.5") is None


def test_an_admin_retracts_a_forged_event_for_good(ledger: Ledger, db_path: Path) -> None:
    app = create_app(ledger, token=None)
    with TestClient(app) as client:
        forged = event("forged", input_tokens=5_000_000, model=OPUS)
        post_events(client, event("real"), forged)
        assert lifetime_requests(client) == 2
        runner = CliRunner()
        done = runner.invoke(
            cli, ["db", "retract", "sdk:forged", "--reason", "forged spend", "-d", str(db_path)]
        )
        assert done.exit_code == 0, done.output
        assert "Retracted sdk:forged" in done.output and "1 retracted events" in done.output
        assert lifetime_requests(client) == 1
        assert client.get(f"{API}/sessions/s1").json()["requests"] == 1
        # a resend is recognised, never counted again
        assert post_events(client, forged)[0]["status"] == "duplicate"
        assert lifetime_requests(client) == 1
        status = runner.invoke(cli, ["db", "status", "--json", "-d", str(db_path)])
        assert orjson.loads(status.output)["retracted_events"] == 1
        assert (
            "retracted events: 1" in runner.invoke(cli, ["db", "status", "-d", str(db_path)]).output
        )
        unknown = runner.invoke(
            cli, ["db", "retract", "sdk:forged", "--reason", "again", "-d", str(db_path)]
        )
        assert unknown.exit_code != 0 and "retracted already" in unknown.output
        no_reason = runner.invoke(cli, ["db", "retract", "sdk:real", "-d", str(db_path)])
        assert no_reason.exit_code == 2 and "--reason" in no_reason.output


def test_a_full_disk_is_507_with_retry_after(client: TestClient, ledger: Ledger) -> None:
    post_events(client, event("before"))
    conn = ledger.store._conn  # type: ignore[attr-defined]
    (pages,) = conn.execute("PRAGMA page_count").fetchone()
    conn.execute(f"PRAGMA max_page_count = {pages + 1}")  # SQLite's "database or disk is full"
    items = [event(f"e{i}", session_key=f"s{i}", project="p" * 500) for i in range(1000)]
    response = client.post(f"{API}/events", json={"events": items})
    error = assert_error(response, 507)
    assert error["code"] == "insufficient_storage" and "disk" in error["message"]
    assert int(response.headers["Retry-After"]) > 0
    otlp = client.post("/v1/logs", content=b"{}", headers=_JSON)
    assert otlp.status_code in (200, 507)  # an empty export writes nothing
    conn.execute("PRAGMA max_page_count = 1073741823")
    assert lifetime_requests(client) == 1
    assert {r["status"] for r in post_events(client, *items)} == {"created"}


def test_a_lone_surrogate_rejects_its_item_not_the_batch(client: TestClient) -> None:
    body = (
        b'{"events": [{"event_id": "ok", "input_tokens": 1},'
        b' {"event_id": "bad", "model": "x\\ud800", "input_tokens": 1},'
        b' {"event_id": "bad2\\udc00", "input_tokens": 1},'
        b' {"event_id": "bad3", "x\\ud800": 1}, {"event_id": "ok2", "input_tokens": 2}]}'
    )
    response = client.post(f"{API}/events", content=body, headers=_JSON)
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["status"] for r in results] == [
        "created",
        "rejected",
        "rejected",
        "rejected",
        "created",
    ]
    assert results[1]["error"]["field"] == "model" and "surrogate" in results[1]["error"]["message"]
    assert results[2]["event_id"] is None and results[2]["error"]["field"] == "event_id"
    assert lifetime_requests(client) == 2
