"""Reports from a real ledger: local days in any zone, null means not reported, sessions."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

import pgtest
from tokentrail.ledger import Ledger
from tokentrail.periods import resolve_timezone
from tokentrail.reports.periods import period_report, session_report
from tokentrail.reports.query import ReportQuery
from tokentrail.usage import Session, Tokens, UsageEvent


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def claude(
    key: str,
    when: datetime,
    session: str = "s1",
    output: int = 10,
    model: str = "claude-sonnet-4-5-20250929",
    **kw: Any,
) -> UsageEvent:
    return UsageEvent(
        key=key,
        source="claude_code",
        timestamp=when,
        model=model,
        provider="anthropic",
        tokens=Tokens(input=100, cache_read=200, cache_write_5m=300, output=output),
        session_key=session,
        project="/home/dev/webapp",
        **kw,
    )


def codex(key: str, when: datetime, session: str = "c1") -> UsageEvent:
    return UsageEvent(
        key=key,
        source="codex",
        timestamp=when,
        model="gpt-5-codex",
        provider="openai",
        tokens=Tokens(input=1000, cache_read=500, output=200, reasoning=150),
        session_key=session,
        project="/home/dev/api",
    )


def query(tz: str = "UTC", **kw: Any) -> ReportQuery:
    zone, name = resolve_timezone(tz)
    return ReportQuery(zone=zone, zone_name=name, **kw)


@pytest.fixture(params=pgtest.BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The engine a test's own ledger is on."""
    return str(request.param)


@pytest.fixture(params=pgtest.BACKENDS)
def ledger(request: pytest.FixtureRequest, db_path: Path) -> Iterator[Ledger]:
    with pgtest.ledger_on(request.param, db_path) as opened:
        yield opened


def periods(report: Any) -> list[tuple[str, int]]:
    return [(row.period, row.figures.requests) for row in report.rows]


def test_india_half_hour_offset_moves_late_requests_to_the_next_day(ledger: Ledger) -> None:
    ledger.record_batch(
        [
            claude("a", at(2026, 5, 4, 18, 15)),  # 23:45 IST
            claude("b", at(2026, 5, 4, 18, 45)),  # 00:15 IST the next day
        ]
    )
    assert periods(period_report(ledger.store, "daily", query("UTC"))) == [("2026-05-04", 2)]
    assert periods(period_report(ledger.store, "daily", query("Asia/Kolkata"))) == [
        ("2026-05-04", 1),
        ("2026-05-05", 1),
    ]


def test_days_are_right_on_both_sides_of_dst_changes(ledger: Ledger) -> None:
    ledger.record_batch(
        [
            claude("a", at(2026, 3, 8, 4, 30)),  # 23:30 EST, Mar 7
            claude("b", at(2026, 3, 9, 3, 30)),  # 23:30 EDT, Mar 8 (a 23-hour day)
            claude("c", at(2026, 3, 9, 4, 30)),  # 00:30 EDT, Mar 9
            claude("d", at(2026, 11, 1, 4, 30)),  # 00:30 EDT, Nov 1 (a 25-hour day)
            claude("e", at(2026, 11, 2, 4, 30)),  # 23:30 EST, Nov 1
        ]
    )
    report = period_report(ledger.store, "daily", query("America/New_York"))
    assert periods(report) == [
        ("2026-03-07", 1),
        ("2026-03-08", 1),
        ("2026-03-09", 1),
        ("2026-11-01", 2),
    ]


def test_since_until_are_inclusive_local_days(ledger: Ledger) -> None:
    ledger.record_batch([claude(f"k{d}", at(2026, 5, d, 12)) for d in range(1, 8)])
    report = period_report(
        ledger.store, "daily", query("UTC", since=date(2026, 5, 3), until=date(2026, 5, 5))
    )
    assert [p for p, _ in periods(report)] == ["2026-05-03", "2026-05-04", "2026-05-05"]
    assert report.totals.requests == 3


def test_weekly_and_monthly_labels(ledger: Ledger) -> None:
    ledger.record_batch(
        [
            claude("a", at(2026, 5, 3, 12)),
            claude("b", at(2026, 5, 4, 12)),
            claude("c", at(2026, 6, 1, 12)),
        ]
    )
    assert periods(period_report(ledger.store, "weekly", query())) == [
        ("2026-W18", 1),
        ("2026-W19", 1),
        ("2026-W23", 1),
    ]
    assert periods(period_report(ledger.store, "monthly", query())) == [
        ("2026-05", 2),
        ("2026-06", 1),
    ]


def test_buckets_never_reported_are_null_not_zero(ledger: Ledger) -> None:
    ledger.record_batch([codex("x", at(2026, 5, 4, 12))])
    data = period_report(ledger.store, "daily", query()).as_dict()
    row = data["rows"][0]
    assert row["cache_write_tokens"] is None  # Codex logs never report cache writes
    assert row["input_tokens"] == 1000 and row["reasoning_tokens"] == 150
    assert row["total_tokens"] == 1000 + 500 + 200
    assert data["totals"]["cache_write_tokens"] is None
    assert set(data) == {"rows", "totals", "unpriced_models", "timezone"}
    ledger.record_batch([claude("y", at(2026, 5, 4, 13))])
    row = period_report(ledger.store, "daily", query()).as_dict()["rows"][0]
    assert row["cache_write_tokens"] == 300  # now one request reported it


def test_unpriced_usage_is_named_and_cost_is_null_when_nothing_is_priced(ledger: Ledger) -> None:
    ledger.record_batch([claude("u", at(2026, 5, 4, 12), model="acme-coder-9000")])
    data = period_report(ledger.store, "daily", query()).as_dict()
    assert data["rows"][0]["cost_usd"] is None
    assert data["rows"][0]["unpriced_requests"] == 1
    assert data["unpriced_models"] == [{"model": "acme-coder-9000", "requests": 1, "tokens": 610}]
    ledger.record_batch([claude("p", at(2026, 5, 4, 13))])
    row = period_report(ledger.store, "daily", query()).as_dict()["rows"][0]
    assert row["cost_usd"] is not None and row["cost_usd"] > 0
    assert row["unpriced_requests"] == 1


def test_breakdown_and_filters(ledger: Ledger) -> None:
    ledger.record_batch(
        [
            claude("a", at(2026, 5, 4, 12)),
            codex("b", at(2026, 5, 4, 13)),
            claude("c", at(2026, 5, 4, 14), model="claude-opus-4-5"),
        ]
    )
    report = period_report(ledger.store, "daily", query(breakdown=True))
    assert [(r.period, r.model) for r in report.rows] == [
        ("2026-05-04", "claude-opus-4-5"),
        ("2026-05-04", "claude-sonnet-4-5"),  # the dated id, under its alias
        ("2026-05-04", "gpt-5-codex"),
    ]
    assert report.as_dict()["rows"][0]["model"] == "claude-opus-4-5"
    only_codex = period_report(ledger.store, "daily", query(sources=("codex",)))
    assert only_codex.totals.requests == 1
    only_api = period_report(ledger.store, "daily", query(project="dev/api"))
    assert only_api.totals.requests == 1


def test_sessions_roll_subagents_up_and_show_them_apart(ledger: Ledger) -> None:
    ledger.record_batch(
        [
            claude("p1", at(2026, 5, 4, 9), session="main", output=100),
            claude("k1", at(2026, 5, 4, 9, 5), session="main:agent-a", output=40),
            claude("k2", at(2026, 5, 4, 9, 6), session="main:agent-b", output=2),
            codex("c1", at(2026, 5, 5, 9)),
        ],
        [
            Session("main", "claude_code", title="Fix login", project="/home/dev/webapp"),
            Session("main:agent-a", "claude_code", parent_key="main", relationship="subagent"),
            Session("main:agent-b", "claude_code", parent_key="main", relationship="subagent"),
            Session("c1", "codex"),
        ],
    )
    report = session_report(ledger.store, query())
    rows = {row.key: row for row in report.rows}
    assert set(rows) == {"main", "c1"}
    main = rows["main"]
    assert main.figures.output_tokens == 142
    assert main.own.output_tokens == 100
    assert main.subagents is not None and main.subagents.output_tokens == 42
    assert main.subagent_count == 2
    assert main.title == "Fix login"
    assert report.totals.requests == 4
    data = report.as_dict()
    assert data["rows"][0]["period"] == "main"  # oldest activity first
    limited = session_report(ledger.store, query(since=date(2026, 5, 5)))
    assert [r.key for r in limited.rows] == ["c1"]


def test_a_sessions_models_are_those_that_served_it_most_used_first(
    backend: str, db_path: Path
) -> None:
    opus = "claude-opus-4-1-20250805"
    with pgtest.ledger_on(backend, db_path) as ledger:
        ledger.record_batch(
            [
                claude("a1", at(2026, 5, 4, 9), session="adv"),
                claude("a2", at(2026, 5, 4, 10), session="adv"),
                claude("a3", at(2026, 5, 4, 11), session="adv"),
                claude("a1:iteration:1", at(2026, 5, 4, 9), session="adv", model=opus),
            ],
            [Session(key="adv", source="claude_code", model=opus)],  # declared, not served
        )
        report = session_report(ledger.store, query())
    [row] = report.rows
    assert row.models == ("claude-sonnet-4-5-20250929", opus)


def test_one_session_count_for_every_face(backend: str, db_path: Path) -> None:
    from tokentrail.reports.counting import session_counts
    from tokentrail.reports.runs import summary_report
    from tokentrail.store.base import Filters

    when = at(2026, 5, 4, 9)
    with pgtest.ledger_on(backend, db_path) as ledger:
        ledger.record_batch(
            [
                claude("p1", when, session="p"),
                claude("p2", when, session="p"),
                claude("k1", when, session="p:agent-1"),
                claude("o1", when, session="lost:agent-2"),
                claude("q1", when, session="q"),
            ],
            [
                Session(key="p", source="claude_code", started_at=when),
                Session(
                    key="p:agent-1",
                    source="claude_code",
                    parent_key="p",
                    relationship="subagent",
                    started_at=when,
                ),
                # an orphan subagent (its parent never seen) is shown as a session of its own
                Session(
                    key="lost:agent-2",
                    source="claude_code",
                    parent_key="lost",
                    relationship="subagent",
                    started_at=when,
                ),
                Session(key="idle", source="sdk", started_at=when),  # made no request
            ],
        )
        counts = session_counts(ledger.store, Filters())
        report = session_report(ledger.store, query())
        summary = summary_report(ledger.store, query(), now=when)
        status = ledger.store.status()
    assert (counts.sessions, counts.subagent_sessions, counts.sessions_without_usage) == (3, 1, 1)
    assert len(report.rows) == counts.sessions
    assert summary.lifetime.sessions == counts.sessions
    assert status.sessions == 5  # session records: what `db status` shows as session_records


def test_runtime_is_a_labelled_span_and_active_time_and_sessions_have_names(
    backend: str, db_path: Path
) -> None:
    from tokentrail.reports.counting import IDLE_GAP_SECONDS
    from tokentrail.reports.sessions import recent_sessions, session_detail

    copied_from = at(2026, 5, 1, 9)  # a resumed file starts with copies of its parent's lines
    own = [at(2026, 5, 3, 10), at(2026, 5, 3, 10, 5), at(2026, 5, 3, 16), at(2026, 5, 3, 16, 2)]
    with pgtest.ledger_on(backend, db_path) as ledger:
        ledger.record_batch(
            [claude(f"r{n}", when, session="resumer") for n, when in enumerate(own)],
            [
                Session(
                    key="resumer",
                    source="claude_code",
                    project="/home/dev/webapp",
                    started_at=copied_from,
                    ended_at=own[-1],
                ),
                Session(
                    key="orch-7",
                    source="sdk",
                    title="Fix flaky checkout test",
                    state="completed",
                    started_at=at(2026, 5, 3, 9),
                    ended_at=at(2026, 5, 3, 9, 30),
                ),
            ],
        )
        listed = recent_sessions(ledger.store, query(), without_usage=True)
        rows = {r.session.key: r.as_dict() for r in listed}
        # the one session count: the orchestrator's session made no request
        assert [r.session.key for r in recent_sessions(ledger.store, query())] == ["resumer"]
        detail = session_detail(ledger.store, "resumer")
    assert detail is not None
    resumed = rows["resumer"]
    # 4 requests over 6 h 2 min of its own, not the 2d 7h since the copied lines
    assert resumed["runtime_seconds"] == 6 * 3600 + 120
    assert resumed["runtime_basis"] == "requests"
    assert resumed["active_seconds"] == 5 * 60 + 2 * 60  # the 5 h 55 min gap is idle
    assert IDLE_GAP_SECONDS < 5 * 3600 + 55 * 60
    assert resumed["name"] == "webapp · 2026-05-03 10:00 · claude-sonnet-4-5-20250929"
    assert resumed["model"] == "claude-sonnet-4-5-20250929"
    assert detail.as_dict()["runtime_seconds"] == resumed["runtime_seconds"]
    orchestrated = rows["orch-7"]
    assert (orchestrated["runtime_seconds"], orchestrated["runtime_basis"]) == (1800, "recorded")
    assert orchestrated["name"] == "Fix flaky checkout test"
    assert orchestrated["active_seconds"] is None  # it made no request
