"""Reports kept per ledger generation (tokentrail.store.report_cache, tokentrail.cached_reports):
a kept answer is exactly what computing the report again prints, and is served only while
nothing the report reads has changed."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from tokentrail.cached_reports import cached_answer
from tokentrail.cli import cli
from tokentrail.config import Config
from tokentrail.ledger import Ledger
from tokentrail.usage import Session, Tokens, ToolCall, UsageEvent

REPORTS = (
    ("daily", "--json"),
    ("weekly", "--csv"),
    ("monthly",),
    ("daily", "--breakdown"),
    ("monthly", "--by", "machine"),
    ("session", "--json"),
    ("session",),
)
_START = datetime(2026, 3, 1, 9, tzinfo=UTC)


def _event(n: int, session: str = "s-1", model: str = "claude-sonnet-4-5") -> UsageEvent:
    return UsageEvent(
        key=f"sdk:e-{n}",
        source="sdk",
        timestamp=_START + timedelta(hours=7 * n),
        tokens=Tokens(input=100 + n, output=20, cache_read=1000),
        model=model,
        session_key=session,
        project="/code/app",
    )


def _printed(db: Path, *args: str) -> str:
    result = CliRunner().invoke(cli, [*args, "--no-sync", "-d", str(db)])
    assert result.exit_code == 0, result.output
    return result.output


def _computed(db: Path, *args: str) -> str:
    """The report computed now, whatever the ledger keeps."""
    with sqlite3.connect(db) as conn:
        conn.execute("DELETE FROM report_cache")
    return _printed(db, *args)


def _kept(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        (count,) = conn.execute("SELECT COUNT(*) FROM report_cache").fetchone()
    return int(count)


@pytest.fixture
def ledger_db(db_path: Path) -> Path:
    with Ledger(db_path, config=Config()) as ledger:
        ledger.record_batch(
            [_event(n, f"s-{n % 3}") for n in range(12)],
            [Session(f"s-{n}", "sdk", project="/code/app") for n in range(3)],
        )
    return db_path


def _record_event(ledger: Ledger) -> None:
    ledger.record_batch([_event(40, "s-2", "gpt-5")])


def _grow_event(ledger: Ledger) -> None:
    ledger.record_batch(
        [replace(_event(3, "s-0"), tokens=Tokens(input=103, output=90, cache_read=1000))]
    )


def _write_session(ledger: Ledger) -> None:
    ledger.record_batch([], [Session("s-1", "sdk", project="/code/app", title="Renamed")])


def _record_tool_call(ledger: Ledger) -> None:
    call = ToolCall("sdk:call-1", "sdk", "Bash", int(_START.timestamp() * 1000), "s-1", 1200, False)
    ledger.record_batch([], tool_calls=[call])


def _retract(ledger: Ledger) -> None:
    ledger.retract(["sdk:e-5"], "a test")


@pytest.mark.parametrize(
    "change",
    [_record_event, _grow_event, _write_session, _record_tool_call, _retract],
    ids=["new request", "grown request", "session", "tool call", "retraction"],
)
def test_a_kept_answer_is_what_computing_again_prints(
    ledger_db: Path, change: Callable[[Ledger], None]
) -> None:
    first = {args: _printed(ledger_db, *args) for args in REPORTS}
    assert _kept(ledger_db) == len(REPORTS)
    again = {args: _printed(ledger_db, *args) for args in REPORTS}
    assert again == first
    with Ledger(ledger_db, config=Config()) as ledger:
        change(ledger)
    after = {args: _printed(ledger_db, *args) for args in REPORTS}
    assert _kept(ledger_db) == len(REPORTS)  # answers of the older generation are dropped
    assert after == {args: _computed(ledger_db, *args) for args in REPORTS}
    assert after != first  # every change above shows in at least one report


def test_the_short_way_finds_the_kept_answer_only_of_this_generation(ledger_db: Path) -> None:
    options = {
        "database": str(ledger_db),
        "as_json": True,
        "as_csv": False,
        "no_sync": True,
        "tz": "UTC",
    }
    assert cached_answer("daily", options) is None  # nothing kept yet
    printed = _printed(ledger_db, "daily", "--json", "--tz", "UTC")
    assert cached_answer("daily", options) == printed
    assert cached_answer("daily", {**options, "tz": "Asia/Kolkata"}) is None
    assert cached_answer("monthly", options) is None
    with Ledger(ledger_db, config=Config()) as ledger:
        _record_event(ledger)
    assert cached_answer("daily", options) is None
    assert cached_answer("daily", {**options, "database": str(ledger_db.parent / "x.db")}) is None
    assert not (ledger_db.parent / "x.db").exists()  # looking never creates a ledger


def test_a_report_asked_again_imports_neither_the_reports_nor_the_store(ledger_db: Path) -> None:
    """What makes the answer fast: the second run prints the kept answer before tokentrail's
    reports, store and pricing modules are imported."""
    script = (
        "import json, sys\n"
        "from tokentrail.cli import main\n"
        "sys.argv = ['tokentrail', *sys.argv[1:]]\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "sys.stderr.write(json.dumps(sorted(sys.modules)))\n"
    )
    command = [sys.executable, "-c", script, "daily", "--no-sync", "--json", "-d", str(ledger_db)]
    first = subprocess.run(command, capture_output=True, check=True)
    second = subprocess.run(command, capture_output=True, check=True)
    assert second.stdout == first.stdout
    modules = set(orjson.loads(second.stderr))
    heavy = {"tokentrail.reports", "tokentrail.store.base", "tokentrail.ledger", "rich"}
    assert modules & heavy == set()
    assert "tokentrail.reports" in set(orjson.loads(first.stderr))


def test_dropping_older_answers_leaves_the_connections_secure_delete_as_it_was(
    ledger_db: Path,
) -> None:
    """Kept answers of an older generation are dropped without zeroing their pages (SQLite
    built with SECURE_DELETE wrote megabytes of zeros for an old list of every session), and
    the connection's own setting is left as it was for every other delete."""
    from tokentrail.store.report_cache import sqlite_marker, sqlite_put

    conn = sqlite3.connect(ledger_db, isolation_level=None)
    try:
        conn.execute("PRAGMA secure_delete = 1")
        marker = sqlite_marker(conn)
        assert sqlite_put(conn, "old", "an older generation", "x" * 100_000) is False
        conn.execute("INSERT INTO report_cache (key, marker, body) VALUES ('old', 'gone', 'x')")
        assert sqlite_put(conn, "new", marker, "y" * 100_000)
        assert conn.execute("SELECT key FROM report_cache").fetchall() == [("new",)]
        assert conn.execute("PRAGMA secure_delete").fetchone() == (1,)
    finally:
        conn.close()
