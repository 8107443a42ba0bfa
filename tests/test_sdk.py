"""The Python SDK on real ledgers: runs, sessions, attempts, crashes, threads, processes."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tokentrail import InvalidUsage, Ledger
from tokentrail.periods import resolve_timezone
from tokentrail.providers import anthropic_usage
from tokentrail.reports.query import ReportQuery
from tokentrail.reports.runs import runs_report, summary_report
from tokentrail.reports.sessions import recent_sessions


def query() -> ReportQuery:
    zone, name = resolve_timezone("UTC")
    return ReportQuery(zone=zone, zone_name=name)


def events(db: Path) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(db)
    rows = conn.execute(
        "SELECT event_key, session_key, run_id, input, cache_read, cache_write_5m, output, "
        "reasoning FROM events ORDER BY event_key"
    ).fetchall()
    conn.close()
    return rows


def test_a_run_with_sessions_records_everything(db_path: Path) -> None:
    with Ledger(db_path) as ledger:
        with (
            ledger.run(app="orch", reason="deploy") as run,
            run.session(
                "issue-1",
                issue_id="1",
                identifier="ENG-1",
                model="claude-sonnet-4-5",
                project="/srv/app",
            ) as session,
        ):
            assert session.record(event_id="r1", input_tokens=100, output_tokens=20) == "created"
            assert session.record(event_id="r1", input_tokens=100, output_tokens=20) == "duplicate"
            session.record(
                event_id="r2",
                usage=anthropic_usage(
                    {
                        "usage": {
                            "input_tokens": 3,
                            "cache_read_input_tokens": 5000,
                            "cache_creation_input_tokens": 200,
                            "output_tokens": 40,
                        }
                    }
                ),
            )
            session.finish(state="completed", turns=2)
        (row,) = runs_report(ledger.store)
        (listed,) = recent_sessions(ledger.store, query())
    assert (row.app, row.state, row.reason, row.sessions_launched, row.peak_concurrency) == (
        "orch",
        "stopped",
        "deploy",
        1,
        1,
    )
    assert row.stopped_at is not None and row.figures.requests == 2
    assert row.figures.cost_usd is not None and row.figures.cost_usd > 0
    session = listed.session
    assert (session.state, session.turns, session.issue_id, session.identifier) == (
        "completed",
        2,
        "1",
        "ENG-1",
    )
    assert session.run_id == row.run_id and session.runtime_seconds is not None
    assert events(db_path) == [
        ("sdk:r1", "issue-1", row.run_id, 100, None, None, 20, None),
        ("sdk:r2", "issue-1", row.run_id, 3, 5000, 200, 40, None),
    ]


def test_an_exception_marks_the_session_and_the_run_failed(db_path: Path) -> None:
    with Ledger(db_path) as ledger:
        with pytest.raises(RuntimeError), ledger.run(app="orch") as run, run.session("s1") as s:
            s.record(event_id="x", output_tokens=1)
            raise RuntimeError("agent crashed")
        (row,) = runs_report(ledger.store)
        (listed,) = recent_sessions(ledger.store, query())
    assert row.state == "failed"
    assert listed.session.state == "failed"
    assert row.figures.requests == 1  # what was recorded before the failure stays


def test_a_failed_attempt_leaves_nothing_behind(db_path: Path) -> None:
    with Ledger(db_path) as ledger, ledger.run(app="orch") as run, run.session("s1") as session:
        with pytest.raises(TimeoutError), session.attempt() as first:
            first.record(event_id="a1", model="claude-opus-4-1", input_tokens=10, output_tokens=1)
            first.record(event_id="a2", model="claude-opus-4-1", input_tokens=10, output_tokens=1)
            raise TimeoutError("primary model timed out; falling back")
        with session.attempt() as second:
            second.record(
                event_id="b1", model="claude-sonnet-4-5", input_tokens=10, output_tokens=5
            )
            second.record(
                event_id="b2", model="claude-sonnet-4-5", input_tokens=10, output_tokens=5
            )
    assert [row[0] for row in events(db_path)] == ["sdk:b1", "sdk:b2"]
    assert second.statuses == ["created", "created"]


def test_a_run_left_open_by_a_crash_is_closed_by_the_next_run(db_path: Path) -> None:
    started = datetime(2026, 5, 4, 9, tzinfo=UTC)
    with Ledger(db_path) as ledger:
        crashed = ledger.start_run("orch", started_at=started)
        ledger.update_session("s1", run_id=crashed.run_id, started_at=started)
        last = started + timedelta(minutes=7)
        ledger.record_events([_event("late", crashed.run_id, last)])
        other_app = ledger.start_run("another-orchestrator")
        fresh = ledger.start_run("orch", reason="restart after crash")
        rows = {r.run_id: r for r in runs_report(ledger.store)}
    assert rows[crashed.run_id].state == "crashed"
    assert rows[crashed.run_id].stopped_at == last
    assert rows[other_app.run_id].state == "running"  # another app's run is not touched
    assert rows[fresh.run_id].state == "running"


def _event(event_id: str, run_id: str, when: datetime):  # type: ignore[no-untyped-def]
    from tokentrail.ingest import UsageReport, event_from_report

    return event_from_report(
        UsageReport(
            event_id=event_id,
            run_id=run_id,
            session_key="s1",
            timestamp=when,
            input_tokens=1,
            output_tokens=1,
        )
    )


def test_summary_has_lifetime_today_and_the_current_run(db_path: Path) -> None:
    with Ledger(db_path) as ledger:
        with ledger.run(app="orch") as first, first.session("a") as session:
            session.record(event_id="1", model="gpt-5", input_tokens=1000, output_tokens=100)
        run = ledger.run(app="orch").__enter__()
        with run.session("b") as session:
            session.record(event_id="2", model="gpt-5", input_tokens=10, output_tokens=1)
        data = summary_report(ledger.store, query()).as_dict()
    assert data["lifetime"]["requests"] == 2 and data["lifetime"]["runs"] == 2
    assert data["lifetime"]["sessions"] == 2
    assert data["current_run"]["run_id"] == run.id
    assert data["current_run"]["requests"] == 1 and data["current_run"]["input_tokens"] == 10
    assert data["today"]["requests"] == 2


def test_peak_concurrency_counts_sessions_open_at_once(db_path: Path) -> None:
    barrier = threading.Barrier(4)
    with Ledger(db_path) as ledger:
        with ledger.run(app="orch") as run:

            def agent(n: int) -> None:
                with run.session(f"agent-{n}") as session:
                    barrier.wait(timeout=10)
                    for i in range(50):
                        session.record(event_id=f"{n}-{i}", input_tokens=1, output_tokens=1)

            threads = [threading.Thread(target=agent, args=(n,)) for n in range(4)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            with run.session("late") as session:
                session.record(event_id="late", input_tokens=1)
        (row,) = runs_report(ledger.store)
    assert (row.peak_concurrency, row.sessions_launched, row.figures.requests) == (4, 5, 201)


def test_bad_usage_is_refused_with_the_field_named(db_path: Path) -> None:
    with Ledger(db_path) as ledger, ledger.session("s") as session:
        with pytest.raises(InvalidUsage, match="input_tokens: must not be negative"):
            session.record(input_tokens=-1)
        with pytest.raises(InvalidUsage, match="output_tokens: must be a whole number"):
            session.record(output_tokens=1.5)
        with pytest.raises(InvalidUsage, match="timestamp: must carry a time zone"):
            session.record(input_tokens=1, timestamp=datetime(2026, 5, 4, 9))
        with pytest.raises(InvalidUsage, match="reasoning_tokens"):
            session.record(output_tokens=5, reasoning_tokens=9)
        with pytest.raises(InvalidUsage, match="at least one token count"):
            session.record(model="gpt-5")
        # implausible values are unit mistakes: refused, never stretched over the reports
        with pytest.raises(InvalidUsage, match=r"cost_usd: .*send dollars, not cents"):
            session.record(input_tokens=1, cost_usd=2_500_000)
        with pytest.raises(InvalidUsage, match=r"input_tokens: .*not a plausible token count"):
            session.record(input_tokens=10**10)
        with pytest.raises(InvalidUsage, match="timestamp: must be between 2000 and 2100"):
            session.record(input_tokens=1, timestamp=datetime(2526, 5, 4, 9, tzinfo=UTC))
        with pytest.raises(InvalidUsage, match="timestamp: must be between 2000 and 2100"):
            session.record(input_tokens=1, timestamp=datetime(1970, 1, 21, tzinfo=UTC))
        with pytest.raises(TypeError):
            session.record(input_tokens=1, prompt="no text is ever stored")
    assert events(db_path) == []


WRITER = """
import sys
from tokentrail import Ledger
db, worker = sys.argv[1], int(sys.argv[2])
with Ledger(db) as ledger, ledger.session(f"proc-{worker}") as session:
    for i in range(300):
        # ids overlap between workers on purpose: the same request reported twice counts once
        session.record(event_id=f"shared-{i}" if i % 3 == 0 else f"{worker}-{i}",
                       input_tokens=1, output_tokens=1)
"""


def test_several_processes_write_one_ledger_without_loss_or_doubles(db_path: Path) -> None:
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(db_path), str(n)], stderr=subprocess.PIPE
        )
        for n in range(3)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()
    shared = 100  # i % 3 == 0 for i in range(300)
    assert len(events(db_path)) == shared + 3 * 200
