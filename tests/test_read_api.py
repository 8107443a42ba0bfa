"""The read API behind the dashboard (tokentrail.server.read_api) and the analytics it serves
(the dashboard functions of tokentrail.reports, the dashboard queries of the stores)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

import pgtest
from dashboard_data import (
    SONNET,
    UNKNOWN_MODEL,
    XSS,
    Built,
    build_ledger,
    dashboard_app,
    isolated_home,
)
from tokentrail.export import TABLES
from tokentrail.ledger import Ledger
from tokentrail.model_names import model_alias
from tokentrail.periods import DAY_MS, offset_segments, resolve_timezone
from tokentrail.reports.charts import daily_cost_by_model, heatmap_report, token_timeline
from tokentrail.reports.overview import overview_report
from tokentrail.reports.periods import period_report
from tokentrail.reports.query import ReportQuery
from tokentrail.store.base import SESSION_SORTS, Filters, SessionPageQuery
from tokentrail.usage import Session, Tokens, UsageEvent

OPUS = "claude-opus-4-1-20250805"


@pytest.fixture(scope="module")
def realistic(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Built, Ledger]]:
    """The realistic ledger, built once for the module in an isolated home."""
    root = tmp_path_factory.mktemp("realistic")
    with isolated_home(root) as home:
        built = build_ledger(home, root / "ledger.db")
        with Ledger(root / "ledger.db") as ledger:
            yield built, ledger


@pytest.fixture(scope="module")
def client(realistic: tuple[Built, Ledger]) -> TestClient:
    return TestClient(dashboard_app(realistic[1]))


def event(
    key: str,
    at: datetime,
    *,
    session: str | None = None,
    model: str | None = SONNET,
    tokens: Tokens | None = None,
    source: str = "sdk",
    project: str | None = "/work/app",
) -> UsageEvent:
    return UsageEvent(
        key=key,
        source=source,
        timestamp=at,
        tokens=tokens or Tokens(input=1000, cache_read=0, cache_write_5m=0, output=500),
        model=model,
        session_key=session,
        project=project,
    )


def query(tz: str = "UTC", **kwargs: Any) -> ReportQuery:
    zone, name = resolve_timezone(tz)
    return ReportQuery(zone=zone, zone_name=name, **kwargs)


# -- the realistic ledger through the API ----------------------------------------------------


def test_overview_has_every_block_of_the_page(client: TestClient, realistic: Any) -> None:
    built: Built = realistic[0]
    body = client.get("/api/v1/overview").json()
    life = body["lifetime"]
    assert life["requests"] == 24  # every request of every agent and the SDK, all time
    # top-level sessions with requests: the Opus session's subagent rolls up on it, and the
    # idle SDK session made no request (the one session count, docs/counting.md)
    assert life["sessions"] == 7
    assert life["unpriced_requests"] == 2 and life["cost_usd"] > 0
    assert body["selected"]["label"] == "Selected range"  # the page's default: last 30 days
    assert body["selected"]["requests"] == 23  # the 60-day-old session is outside
    assert body["today"]["since"] == built.now.date().isoformat()
    assert body["current_run"]["run_id"] == built.run_id
    assert body["current_run"]["requests"] == 5 and body["current_run"]["sessions"] == 1
    assert body["current_run"]["sessions_without_usage"] == 1  # counted apart, labelled
    assert [u["model"] for u in body["unpriced_models"]] == [UNKNOWN_MODEL]
    assert len(body["recent_sessions"]["rows"]) == 6  # the idle session is counted apart
    assert body["top_sessions"]["rows"][0]["session_key"] == built.opus_session
    assert body["heatmap"]["metric"] == "cost"
    # a dated model id is grouped under its alias (tokentrail.model_names)
    series = {s["model"] for s in body["daily_cost_by_model"]["series"]}
    assert series >= {model_alias(OPUS), model_alias(SONNET)}
    everything = client.get("/api/v1/overview", params={"range": "all"}).json()
    assert everything["selected"] is None


def test_spend_by_model_source_and_project(client: TestClient) -> None:
    models = client.get("/api/v1/models").json()
    rows = {r["group"]: r for r in models["rows"]}
    assert models["rows"][0]["group"] == model_alias(OPUS)  # costliest first
    assert rows[UNKNOWN_MODEL]["cost_usd"] is None  # unknown, not $0
    assert rows[UNKNOWN_MODEL]["unpriced_requests"] == 2
    assert models["share_of"] == "cost"
    assert sum(r["share"] for r in models["rows"]) == pytest.approx(1.0, abs=1e-5)
    assert models["unpriced_models"][0]["model"] == UNKNOWN_MODEL

    sources = {r["group"]: r for r in client.get("/api/v1/sources").json()["rows"]}
    assert sources["claude_code"]["requests"] == 17
    assert sources["sdk"]["requests"] == 5 and sources["codex"]["requests"] == 2
    only_opus = client.get("/api/v1/sources", params={"model": OPUS}).json()["rows"]
    assert [(r["group"], r["requests"]) for r in only_opus] == [("claude_code", 4)]

    projects = client.get("/api/v1/projects", params={"limit": 2}).json()["rows"]
    assert len(projects) == 3 and projects[-1]["group"] == "(other)"
    assert any(
        r["group"] == f"/home/dev/code/{XSS}" for r in client.get("/api/v1/projects").json()["rows"]
    )


def test_session_list_sorts_pages_searches_and_rolls_up(client: TestClient, realistic: Any) -> None:
    built: Built = realistic[0]
    every = client.get("/api/v1/session-list", params={"range": "all"}).json()
    assert every["total"] == 7 and len(every["rows"]) == 7  # the idle session counted apart
    by_cost = client.get("/api/v1/session-list", params={"range": "all", "sort": "cost"}).json()
    top = by_cost["rows"][0]
    assert top["session_key"] == built.opus_session
    assert top["subagent_count"] == 1
    assert top["requests"] == 7 and top["own"]["requests"] == 4  # 3 from its subagent
    assert top["cost_usd"] > top["own"]["cost_usd"]
    # sessions of unknown cost (no usage, or nothing priced) come last in both orders
    unknown = {built.idle_session, built.unpriced_session}
    listed = {"range": "all", "sort": "cost", "without_usage": "true"}
    by_cost = client.get("/api/v1/session-list", params=listed).json()
    assert {r["session_key"] for r in by_cost["rows"][-2:]} == unknown
    ascending = client.get("/api/v1/session-list", params={**listed, "order": "asc"}).json()["rows"]
    assert {r["session_key"] for r in ascending[-2:]} == unknown
    assert ascending[0]["cost_usd"] is not None
    assert ascending[0]["cost_usd"] <= ascending[1]["cost_usd"]

    page = client.get(
        "/api/v1/session-list", params={"range": "all", "limit": 3, "offset": 3}
    ).json()
    assert page["total"] == 7 and [r["session_key"] for r in page["rows"]] == [
        r["session_key"] for r in every["rows"][3:6]
    ]
    found = client.get("/api/v1/session-list", params={"range": "all", "q": "LOGIN"}).json()
    assert [r["title"] for r in found["rows"]] == ["Fix the login redirect"]
    opus = client.get("/api/v1/session-list", params={"range": "all", "model": OPUS}).json()
    assert [r["session_key"] for r in opus["rows"]] == [built.opus_session]
    assert opus["rows"][0]["requests"] == 4  # only the Opus requests count
    for sort in SESSION_SORTS:
        assert client.get("/api/v1/session-list", params={"sort": sort}).status_code == 200
    bad = client.get("/api/v1/session-list", params={"sort": "nonsense"})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "sort"


def test_top_sessions_and_timeline_and_heatmap(client: TestClient, realistic: Any) -> None:
    built: Built = realistic[0]
    top = client.get("/api/v1/top-sessions", params={"limit": 2, "range": "7d"}).json()
    assert len(top["rows"]) == 2 and top["total"] == 6  # with requests in the last 7 days
    assert top["rows"][0]["session_key"] == built.opus_session
    by_tokens = client.get("/api/v1/top-sessions", params={"by": "tokens"}).json()["rows"]
    assert by_tokens[0]["total_tokens"] >= by_tokens[1]["total_tokens"]

    line = client.get("/api/v1/timeline", params={"range": "7d"}).json()
    assert line["interval"] == "day" and len(line["points"]) == 7
    assert line["points"][-1]["cumulative_tokens"] == line["totals"]["total_tokens"]
    heat = client.get("/api/v1/heatmap", params={"metric": "sessions"}).json()
    assert heat["until"] == built.now.date().isoformat()
    assert (date.fromisoformat(heat["until"]) - date.fromisoformat(heat["since"])).days == 364
    # every top-level session with a request started once (the idle one is counted apart)
    assert sum(d["value"] for d in heat["days"]) == 7
    unpriced_day = next(d for d in heat["days"] if d["unpriced_requests"])
    assert client.get("/api/v1/heatmap").json()["days"]  # cost by default
    cost_days = {d["date"]: d for d in client.get("/api/v1/heatmap").json()["days"]}
    assert cost_days[unpriced_day["date"]]["value"] is None  # only unpriced usage that day


def test_filters_are_checked_and_named(client: TestClient) -> None:
    for params, field in (
        ({"since": "yesterday"}, "since"),
        ({"until": "2026-13-01"}, "until"),
        ({"tz": "Mars/Olympus"}, "tz"),
        ({"range": "2w"}, "range"),
        ({"since": "2026-05-02", "until": "2026-05-01"}, "since"),
        ({"metric": "joy"}, "metric"),
    ):
        response = client.get("/api/v1/heatmap", params=params)
        assert response.status_code == 422, params
        assert response.json()["error"]["field"] == field
    too_fine = client.get("/api/v1/timeline", params={"interval": "hour", "range": "1y"})
    assert too_fine.status_code == 422 and too_fine.json()["error"]["field"] == "interval"


def test_version_is_cheap_and_changes_with_the_ledger(tmp_path: Path) -> None:
    with Ledger(tmp_path / "l.db") as ledger:
        client = TestClient(dashboard_app(ledger))
        first = client.get("/api/v1/version")
        marker = first.json()["version"]
        assert first.headers["etag"] == f'"{marker}"'
        same = client.get("/api/v1/version", headers={"If-None-Match": f'"{marker}"'})
        assert same.status_code == 304
        ledger.record_events([event("e1", datetime.now(UTC))])
        after_event = client.get("/api/v1/version").json()["version"]
        assert after_event != marker
        ledger.update_session("s1", title="renamed")
        after_session = client.get("/api/v1/version").json()["version"]
        assert after_session != after_event
        run = ledger.start_run("app")
        assert client.get("/api/v1/version").json()["version"] != after_session
        ledger.update_run(run.run_id, state="stopped")
        # a request that grows (a streamed reply's larger snapshot) changes it too
        before = client.get("/api/v1/version").json()["version"]
        ledger.record_events(
            [event("e1", datetime.now(UTC), tokens=Tokens(input=1000, output=900))]
        )
        assert client.get("/api/v1/version").json()["version"] != before


def test_every_table_exports_as_csv(client: TestClient, realistic: Any) -> None:
    built: Built = realistic[0]
    for what in TABLES:
        params = {"key": built.opus_session} if what == "requests" else {}
        response = client.get(f"/api/v1/export/{what}.csv", params={**params, "range": "all"})
        assert response.status_code == 200, what
        assert response.headers["content-type"].startswith("text/csv")
        assert f"tokentrail-{what}-" in response.headers["content-disposition"]
        rows = list(csv.DictReader(io.StringIO(response.text)))
        assert rows, what
    events = list(csv.DictReader(io.StringIO(client.get("/api/v1/export/events.csv").text)))
    assert len(events) == 24
    unknown = [r for r in events if r["model"] == UNKNOWN_MODEL]
    assert unknown and all(r["cost_usd"] == "" for r in unknown)  # empty: unknown, not 0
    assert all(r["cost_status"] != "priced" for r in unknown)
    sessions = client.get(
        "/api/v1/export/sessions.csv", params={"range": "all", "sort": "cost", "q": "login"}
    )
    assert [r["title"] for r in csv.DictReader(io.StringIO(sessions.text))] == [
        "Fix the login redirect"
    ]
    requests = client.get("/api/v1/export/requests.csv", params={"key": built.opus_session})
    assert len(list(csv.DictReader(io.StringIO(requests.text)))) == 7  # with its subagent's
    missing = client.get("/api/v1/export/requests.csv")
    assert missing.status_code == 422 and missing.json()["error"]["field"] == "key"
    assert client.get("/api/v1/export/requests.csv", params={"key": "nope"}).status_code == 422
    assert client.get("/api/v1/export/secrets.csv").status_code == 422


def test_endpoints_are_in_the_openapi_schema(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in (
        "/api/v1/overview",
        "/api/v1/heatmap",
        "/api/v1/timeline",
        "/api/v1/daily-cost-by-model",
        "/api/v1/top-sessions",
        "/api/v1/session-list",
        "/api/v1/models",
        "/api/v1/projects",
        "/api/v1/sources",
        "/api/v1/version",
        "/api/v1/export/{what}.csv",
    ):
        assert "get" in paths[path], path
    assert "/" not in paths and "/sessions" not in paths  # pages are not API


# -- the analytics on small, exact ledgers ------------------------------------------------------


def test_heatmap_days_follow_the_time_zone(tmp_path: Path) -> None:
    late = datetime(2026, 3, 10, 23, 30, tzinfo=UTC)  # 05:00 on the 11th in Kolkata
    with Ledger(tmp_path / "l.db") as ledger:
        ledger.record_batch(
            [event("e1", late, session="s1"), event("e2", late + timedelta(hours=1), session="s1")],
            [Session(key="s1", source="sdk", started_at=late)],
        )
        with ledger.reading() as store:
            utc = heatmap_report(store, query(until=date(2026, 3, 31)), "tokens")
            india = heatmap_report(
                store, query("Asia/Kolkata", until=date(2026, 3, 31)), "sessions"
            )
    assert [(d.day, d.total_tokens, d.sessions) for d in utc.days] == [
        (date(2026, 3, 10), 1500, 1),
        (date(2026, 3, 11), 1500, 0),
    ]
    assert [(d.day, d.requests, d.sessions) for d in india.days] == [(date(2026, 3, 11), 2, 1)]
    assert india.as_dict()["days"][0]["value"] == 1


def test_timeline_fills_gaps_and_accumulates(tmp_path: Path) -> None:
    day1 = datetime(2026, 4, 6, 10, tzinfo=UTC)  # a Monday
    with Ledger(tmp_path / "l.db") as ledger:
        ledger.record_events(
            [
                event("a", day1),
                event("b", day1 + timedelta(days=2)),
                event("c", day1 + timedelta(days=2, hours=3), model="no-such-model"),
            ]
        )
        with ledger.reading() as store:
            days = token_timeline(store, query(), interval="day")
            hours = token_timeline(
                store, query(since=date(2026, 4, 8), until=date(2026, 4, 8)), interval="auto"
            )
            weeks = token_timeline(store, query(), interval="week")
            months = token_timeline(store, query(), interval="month")
            with pytest.raises(ValueError, match="coarser"):
                token_timeline(
                    store, query(since=date(2020, 1, 1), until=date(2026, 1, 1)), interval="hour"
                )
    assert [p.label for p in days.points] == ["2026-04-06", "2026-04-07", "2026-04-08"]
    assert [p.figures.requests for p in days.points] == [1, 0, 2]
    assert days.points[1].figures.total_tokens is None  # nothing happened: 0 requests
    assert [p.cumulative_tokens for p in days.points] == [1500, 1500, 4500]
    assert days.points[2].figures.unpriced_requests == 1
    assert hours.interval == "hour" and len(hours.points) == 24
    assert hours.points[10].figures.requests == 1 and hours.points[13].figures.requests == 1
    assert [p.label for p in weeks.points] == ["2026-W15"]
    assert [p.label for p in months.points] == ["2026-04"]


def test_daily_cost_by_model_keeps_the_costliest_apart(tmp_path: Path) -> None:
    day = datetime(2026, 4, 6, 10, tzinfo=UTC)
    with Ledger(tmp_path / "l.db") as ledger:
        ledger.record_events(
            [
                event("a", day, model=OPUS),
                event("b", day, model=SONNET),
                event("c", day + timedelta(days=1), model="claude-3-5-haiku-20241022"),
                event("d", day + timedelta(days=1), model="no-such-model"),
            ]
        )
        with ledger.reading() as store:
            two = daily_cost_by_model(store, query(), top=2)
            only = daily_cost_by_model(store, query(), models=["no-such-model"])
    assert two.days == [date(2026, 4, 6), date(2026, 4, 7)]
    assert [s.model for s in two.series] == [model_alias(OPUS), model_alias(SONNET), "(other)"]
    assert two.series[0].values[1] == 0.0  # no Opus usage that day: a true zero
    assert two.series[2].values[1] is not None and two.series[2].unpriced_requests == [0, 1]
    assert [s.model for s in only.series] == ["no-such-model"]
    assert only.series[0].values == [0.0, None]  # usage without a price: unknown


def test_session_page_rolls_up_subagents_not_forks_or_orphans(tmp_path: Path) -> None:
    t = datetime(2026, 4, 6, 10, tzinfo=UTC)
    sessions = [
        Session(key="parent", source="claude_code", started_at=t),
        Session(key="kid", source="claude_code", parent_key="parent", relationship="subagent"),
        Session(key="grandkid", source="claude_code", parent_key="kid", relationship="subagent"),
        Session(key="fork", source="codex", parent_key="parent", relationship="fork"),
        Session(key="orphan", source="claude_code", parent_key="gone", relationship="subagent"),
        Session(key="idle", source="sdk", started_at=t - timedelta(days=9)),
    ]
    events = [
        event("p", t, session="parent"),
        event("k", t + timedelta(hours=1), session="kid"),
        event("g", t + timedelta(minutes=30), session="grandkid"),
        event("f", t + timedelta(hours=2), session="fork"),
        event("o", t + timedelta(hours=3), session="orphan", model=OPUS),
    ]
    with Ledger(tmp_path / "l.db") as ledger:
        ledger.record_batch(events, sessions)
        with ledger.reading() as store:
            page = store.session_page(SessionPageQuery(sort="requests", without_usage=True))
            counted = store.session_page(SessionPageQuery())
            in_range = store.session_page(
                SessionPageQuery(filters=Filters(since_ms=int(t.timestamp() * 1000)))
            )
            opus = store.session_page(SessionPageQuery(models=(OPUS,)))
            zone, _ = resolve_timezone("UTC")
            segments = offset_segments(
                zone, int(t.timestamp() * 1000) - 20 * DAY_MS, int(t.timestamp() * 1000) + DAY_MS
            )
            starts = store.session_day_counts(Filters(), segments)
    keys = [r.session.key for r in page.rows]
    assert (
        page.total == 4
        and keys[0] == "parent"
        and set(keys) == {"parent", "fork", "orphan", "idle"}
    )
    parent = page.rows[0]
    # its subagent and the subagent's own subagent roll up on it
    assert parent.totals.requests == 3 and parent.own.requests == 1 and parent.subagents == 2
    assert parent.last_ms == int((t + timedelta(hours=1)).timestamp() * 1000)
    assert page.rows[-1].session.key == "idle" and page.rows[-1].totals.requests == 0
    assert {r.session.key for r in in_range.rows} == {"parent", "fork", "orphan"}
    assert [r.session.key for r in opus.rows] == ["orphan"]
    day = int(t.timestamp() * 1000) // DAY_MS
    # fork and orphan start with their request; the idle session is counted apart
    assert dict(starts) == {day: 3}
    assert counted.total == 3 and "idle" not in {r.session.key for r in counted.rows}


def test_postgres_dashboard_queries_agree_with_sqlite(tmp_path: Path) -> None:
    """The PostgreSQL versions of the dashboard queries give the SQLite store's rows."""
    from tokentrail.store import postgres_dashboard as pg_queries

    url = pgtest.server_url()
    if url is None:
        pytest.skip(pgtest.SKIP_REASON)
    t = datetime(2026, 3, 28, 22, tzinfo=UTC)  # across Europe/Berlin's DST change
    sessions = [
        Session(
            key=f"s{i}",
            source=("claude_code", "codex")[i % 2],
            project=f"/p/{i % 3}",
            title=f"Task {i}",
            started_at=t + timedelta(hours=7 * i),
            ended_at=t + timedelta(hours=7 * i + 1),
        )
        for i in range(12)
    ] + [
        Session(key="sub", source="claude_code", parent_key="s1", relationship="subagent"),
        Session(key="subsub", source="claude_code", parent_key="sub", relationship="subagent"),
        Session(key="loop1", source="claude_code", parent_key="loop2", relationship="subagent"),
        Session(key="loop2", source="claude_code", parent_key="loop1", relationship="subagent"),
    ]
    events = [
        event(
            f"e{i}",
            t + timedelta(hours=7 * (i % 12) + i % 5),
            session=f"s{i % 12}",
            model=(OPUS, SONNET, "no-such-model")[i % 3],
            project=f"/p/{i % 3}",
        )
        for i in range(60)
    ] + [
        event("esub", t + timedelta(hours=8), session="sub"),
        event("esubsub", t + timedelta(hours=9), session="subsub", model=OPUS),
        event("eloop", t + timedelta(hours=9), session="loop1"),
    ]
    zone, _ = resolve_timezone("Europe/Berlin")
    with (
        pgtest.fresh_database() as pg_url,
        Ledger(tmp_path / "l.db") as lite,
        Ledger(pg_url) as team,
    ):
        for ledger in (lite, team):
            ledger.record_batch(events, sessions)
        ls, ps = lite.store, team.store
        rows = ps._rows  # type: ignore[attr-defined]
        span = ls.time_range(Filters())
        assert span is not None
        segments = offset_segments(zone, span[0] - DAY_MS, span[1] + DAY_MS)
        assert ls.change_marker() == pg_queries.change_marker(rows)
        for by in ("source", "model", "project", "machine"):
            assert ls.group_names(by) == pg_queries.group_names(rows, by)
        for by in ("source", "model", "project", "machine"):
            key = lambda r: r.group or ""  # noqa: E731
            assert sorted(ls.group_totals(Filters(), by), key=key) == sorted(
                pg_queries.group_totals(rows, Filters(), by, ()), key=key
            )
        for models in ((), (OPUS,)):
            combined = ("source", "model", "project")
            assert sorted(ls.group_totals_by(Filters(), combined, models), key=str) == sorted(
                pg_queries.group_totals_by(rows, Filters(), combined, models), key=str
            )
        for models in ((), (OPUS,)):
            for interval in (DAY_MS, 3_600_000):
                assert ls.interval_totals(Filters(), segments, interval, True, models) == (
                    pg_queries.interval_totals(rows, Filters(), segments, interval, True, models)
                )
            assert ls.session_day_counts(Filters(), segments, models) == (
                pg_queries.session_day_counts(rows, Filters(), segments, models)
            )
            for sort in SESSION_SORTS:
                for descending in (True, False):
                    q = SessionPageQuery(
                        filters=Filters(since_ms=span[0] + DAY_MS, sources=("claude_code",)),
                        models=models,
                        search="task",
                        sort=sort,
                        descending=descending,
                        limit=4,
                        offset=1,
                    )
                    assert ls.session_page(q) == pg_queries.session_page(rows, q), (
                        sort,
                        descending,
                    )


def test_read_once_answers_as_the_store(tmp_path: Path) -> None:
    """A page's store reads each answer once: the spend per source, model and project summed
    from one combined read (with a project filter), and the days without models from the
    per-model days, are the store's own answers, and the overview built on it is the same."""
    from tokentrail.read_once import read_once

    t = datetime(2026, 3, 28, 22, tzinfo=UTC)
    events = [
        event(
            f"e{i}",
            t + timedelta(hours=5 * i),
            session=f"s{i % 4}",
            model=(OPUS, SONNET, "no-such-model", None)[i % 4],
            project=(f"/p/{i % 3}", None)[i % 5 == 0],
            source=("claude_code", "codex", "sdk")[i % 3],
        )
        for i in range(50)
    ]
    zone, _ = resolve_timezone("Europe/Berlin")
    with Ledger(tmp_path / "l.db") as ledger:
        ledger.record_events(events)
        with ledger.reading() as store:
            once = read_once(store)
            span = store.time_range(Filters())
            assert span is not None and once.time_range(Filters()) == span
            segments = offset_segments(zone, span[0] - DAY_MS, span[1] + DAY_MS)
            for filters in (
                Filters(),
                Filters(since_ms=span[0] + DAY_MS, sources=("codex",)),
                Filters(project="/p/1"),
            ):
                for models in ((), (OPUS, SONNET)):
                    for by in ("source", "model", "project", "machine"):
                        key = lambda r: r.group or ""  # noqa: E731
                        assert sorted(once.group_totals(filters, by, models), key=key) == sorted(
                            store.group_totals(filters, by, models), key=key
                        )
                    for interval in (DAY_MS, 3_600_000):
                        for by_model in (True, False):
                            asked = (filters, segments, interval, by_model, models)
                            assert once.interval_totals(*asked) == store.interval_totals(*asked)
            query = ReportQuery(zone=zone, zone_name="Europe/Berlin")
            now = t + timedelta(days=20)
            assert (
                overview_report(read_once(store), query, now=now).as_dict()
                == overview_report(store, query, now=now).as_dict()
            )


def test_hourly_rollups_match_the_quarter_hour_ones(tmp_path: Path) -> None:
    """The hourly rollups (the dashboard's fast path) always hold the 15-minute ones' sums,
    through growing requests, moves between models and repricing."""
    from tokentrail.store.sqlite_dashboard import rollup_table

    t = datetime(2026, 3, 28, 23, 50, tzinfo=UTC)
    with Ledger(tmp_path / "l.db") as ledger:
        ledger.record_events([event(f"e{i}", t + timedelta(minutes=7 * i)) for i in range(40)])
        ledger.record_events(  # a grown snapshot that also names another model
            [event("e3", t + timedelta(minutes=21), model=OPUS, tokens=Tokens(input=5, output=9))]
        )
        ledger.reprice(dry_run=False)
        conn = ledger.store._conn  # type: ignore[attr-defined]
        sums = ", ".join(f"SUM({m})" for m in ("requests", "input", "output", "cost_micro"))
        hourly = conn.execute(
            f"SELECT bucket_ms, model, {sums} FROM rollups_hourly GROUP BY 1, 2 ORDER BY 1, 2"
        ).fetchall()
        quarter = conn.execute(
            f"SELECT bucket_ms - bucket_ms % 3600000, model, {sums} FROM rollups "
            "GROUP BY 1, 2 ORDER BY 1, 2"
        ).fetchall()
        assert hourly == quarter and len(hourly) > 5
        berlin, kolkata = resolve_timezone("Europe/Berlin")[0], resolve_timezone("Asia/Kolkata")[0]
        start, end = int(t.timestamp() * 1000) - DAY_MS, int(t.timestamp() * 1000) + 2 * DAY_MS
        assert rollup_table(Filters(), offset_segments(berlin, start, end)) == "rollups_hourly"
        assert rollup_table(Filters(), offset_segments(kolkata, start, end)) == "rollups"
        with ledger.reading() as store:
            for zone in ("Europe/Berlin", "Asia/Kolkata", "UTC"):
                fast = period_report(store, "daily", query(zone, breakdown=True))
                line = token_timeline(store, query(zone), interval="hour")
                assert sum(r.figures.requests for r in fast.rows) == 40
                assert sum(p.figures.requests for p in line.points) == 40


def test_group_names_list_what_the_ledger_has(realistic: Any) -> None:
    _, ledger = realistic
    with ledger.reading() as store:
        assert store.group_names("source") == ["claude_code", "codex", "sdk"]
        assert UNKNOWN_MODEL in store.group_names("model")
        assert f"/home/dev/code/{XSS}" in store.group_names("project")


def test_daily_cost_by_model_sums_weeks_and_months(client: TestClient) -> None:
    """Per ISO week (each bar starts on a Monday) or month, the same total as per day."""
    params = {"range": "all", "tz": "UTC"}
    daily = client.get("/api/v1/daily-cost-by-model", params=params).json()
    weekly = client.get("/api/v1/daily-cost-by-model", params={**params, "interval": "week"})
    monthly = client.get("/api/v1/daily-cost-by-model", params={**params, "interval": "month"})
    assert daily["interval"] == "day"
    assert weekly.json()["interval"] == "week" and monthly.json()["interval"] == "month"
    assert all(date.fromisoformat(d).weekday() == 0 for d in weekly.json()["days"])
    assert all(d.endswith("-01") for d in monthly.json()["days"])

    def total(body: dict[str, Any]) -> float:
        return round(sum(v or 0 for s in body["series"] for v in s["values"]), 6)

    assert total(daily) == total(weekly.json()) == total(monthly.json()) > 0
    assert len(weekly.json()["days"]) < len(daily["days"])


def test_trends_answer_as_the_overview_shows_them(client: TestClient) -> None:
    body = client.get("/api/v1/trends", params={"range": "7d", "tz": "UTC"}).json()
    assert body["selected"]["previous"]["requests"] >= 0
    assert body["days"]["days"] == 7 and 1 <= body["days"]["active_days"] <= 7
    assert body["month_end_estimate"]["projected_usd"] > 0
    assert body["months"] and body["months"][0]["requests"] > 0
    no_projection = client.get("/api/v1/trends", params={"model": "claude-opus-4-1"}).json()
    assert no_projection["month_end_estimate"] is None  # a model filter cannot be projected
    assert "reports.trends" in client.get("/api/v1/capabilities").json()["features"]
