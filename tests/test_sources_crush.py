"""Crush: per-project databases found through the projects file; root sessions' cost only,
recorded with token buckets not reported (never zeros), updated in place as a session grows."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from tokentrail.agents.crush.reader import CrushSource
from tokentrail.cli import cli
from tokentrail.ledger import Ledger
from tokentrail.sources.files import ParseResult, ParseState, SourceFile
from tokentrail.store.base import Filters
from tokentrail.sync import sync
from tokentrail.usage import Tokens

DATA = Path(__file__).parent / "data" / "crush"
CRUSH = CrushSource()
ROOT = "3f1c2a9e-root-0001"
OLD = "9c8e7d6f-root-0004"


def project_db(project: Path) -> Path:
    """``<project>/.crush/crush.db`` built from the SQL sample."""
    path = project / ".crush" / "crush.db"
    path.parent.mkdir(parents=True)
    with closing(sqlite3.connect(path)) as db:
        db.executescript((DATA / "crush.sql").read_text())
        db.commit()
    return path


def crush_home(home: Path) -> Path:
    """Crush's data dir with a projects file naming one project's data dir."""
    project = home / "src" / "webapp"
    database = project_db(project)
    data = home / ".local/share/crush"
    data.mkdir(parents=True)
    listing = {
        "projects": [
            {
                "path": str(project),
                "data_dir": str(project / ".crush"),
                "last_accessed": "2026-03-02T10:00:00Z",
            }
        ]
    }
    (data / "projects.json").write_bytes(orjson.dumps(listing))
    return database


def parse(path: Path) -> ParseResult:
    return CRUSH.parse(SourceFile("crush", str(path), "database"), ParseState())


def set_cost(database: Path, session: str, cost: float) -> None:
    with closing(sqlite3.connect(database)) as db:
        db.execute("UPDATE sessions SET cost = ? WHERE id = ?", (cost, session))
        db.commit()


def test_roots_follow_crush_global_data_rules(tmp_path: Path) -> None:
    assert CRUSH.default_roots({}, tmp_path) == [tmp_path / ".local/share/crush"]
    assert CRUSH.default_roots({"XDG_DATA_HOME": "/x"}, tmp_path) == [Path("/x/crush")]
    env = {"CRUSH_GLOBAL_DATA": "/g", "XDG_DATA_HOME": "/x"}
    assert CRUSH.default_roots(env, tmp_path) == [Path("/g")]
    windows = CRUSH.default_roots({"LOCALAPPDATA": "C:/Users/ana/AppData/Local"}, tmp_path)
    assert Path("C:/Users/ana/AppData/Local/crush") in windows


def test_discover_follows_the_projects_file_to_each_database(isolated_home: Path) -> None:
    database = crush_home(isolated_home)
    found = list(CRUSH.discover(CRUSH.default_roots({}, isolated_home)))
    assert [(f.path, f.kind) for f in found] == [(str(database), "database")]


def test_a_missing_or_broken_projects_file_finds_nothing(tmp_path: Path) -> None:
    assert list(CRUSH.discover([tmp_path / "absent"])) == []
    (tmp_path / "projects.json").write_text("{not json")
    assert list(CRUSH.discover([tmp_path])) == []


def test_one_record_per_root_session_with_cost_and_tokens_not_reported(tmp_path: Path) -> None:
    result = parse(project_db(tmp_path / "webapp"))
    events = {e.key: e for e in result.events}
    assert set(events) == {f"crush:{ROOT}", f"crush:{OLD}"}  # children and $0 sessions: none
    root = events[f"crush:{ROOT}"]
    assert root.tokens == Tokens()  # unknown, never zeros
    assert root.tokens.is_empty
    assert root.reported_cost_usd == pytest.approx(0.1234)
    assert root.timestamp.isoformat() == "2026-03-02T10:00:00+00:00"
    assert (root.model, root.provider) == ("claude-sonnet-4-5", "anthropic")
    assert root.project == str(tmp_path / "webapp")


def test_a_session_of_two_models_has_none_and_millisecond_times_read(tmp_path: Path) -> None:
    result = parse(project_db(tmp_path / "webapp"))
    old = next(e for e in result.events if e.key == f"crush:{OLD}")
    assert old.model is None
    assert b"gpt-5" in (old.raw_usage or b"") and b"claude-opus-4-1" in (old.raw_usage or b"")
    assert old.timestamp.isoformat() == "2026-03-04T09:00:00+00:00"


def test_child_sessions_are_recorded_with_their_parent(tmp_path: Path) -> None:
    sessions = {s.key: s for s in parse(project_db(tmp_path / "webapp")).sessions}
    task = sessions["crush:3f1c2a9e-task-0002"]
    assert (task.parent_key, task.relationship) == (f"crush:{ROOT}", "subagent")
    assert sessions[f"crush:{ROOT}"].title == "Fix the login redirect"


def test_a_database_without_crush_tables_is_reported_and_read_again(tmp_path: Path) -> None:
    path = tmp_path / "crush.db"
    with closing(sqlite3.connect(path)) as db:
        db.execute("CREATE TABLE notes (id TEXT)")
        db.commit()
    result = parse(path)
    assert [s.reason for s in result.skips] == ["unexpected_schema"]
    assert result.retry


def test_not_a_database_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "crush.db"
    path.write_bytes(b"this is not sqlite" * 100)
    assert [s.reason for s in parse(path).skips] == ["database_unreadable"]


def test_a_growing_session_is_updated_in_place_never_counted_twice(
    isolated_home: Path, db_path: Path
) -> None:
    database = crush_home(isolated_home)
    with Ledger(db_path) as ledger:
        first = sync(ledger, source_names=["crush"])
        set_cost(database, ROOT, 0.2)
        grown = sync(ledger, source_names=["crush"])
        again = sync(ledger, source_names=["crush"])
        totals = ledger.store.totals(Filters(sources=("crush",)))
    assert first.new_events == 2
    assert (grown.new_events, grown.updated_events) == (0, 1)
    assert (again.new_events, again.updated_events) == (0, 0)
    assert totals.requests == 2
    assert totals.reported_cost_micro == 700_000
    assert (totals.n_input, totals.n_output, totals.n_cache_read) == (0, 0, 0)


def test_a_stale_read_never_shrinks_a_session(isolated_home: Path, db_path: Path) -> None:
    database = crush_home(isolated_home)
    set_cost(database, ROOT, 0.3)
    with Ledger(db_path) as ledger:
        sync(ledger, source_names=["crush"])
        set_cost(database, ROOT, 0.1)  # a restored backup, say
        sync(ledger, source_names=["crush"])
        totals = ledger.store.totals(Filters(sources=("crush",)))
    assert totals.reported_cost_micro == 800_000


def test_reports_show_crush_tokens_as_not_reported(isolated_home: Path, db_path: Path) -> None:
    crush_home(isolated_home)
    runner = CliRunner()
    result = runner.invoke(
        cli, ["daily", "--source", "crush", "-d", str(db_path), "--json"], catch_exceptions=False
    )
    report = orjson.loads(result.stdout)
    totals = report["totals"]
    assert totals["requests"] == 2
    assert totals["input_tokens"] is None and totals["output_tokens"] is None
    assert totals["total_tokens"] is None
    assert totals["cost_usd"] is None  # nothing we could price
    assert totals["reported_cost_usd"] == pytest.approx(0.6234)
    table = runner.invoke(
        cli, ["daily", "--source", "crush", "-d", str(db_path), "--no-sync"], catch_exceptions=False
    )
    assert "not reported" in table.output
    assert " 0 tokens" not in table.output


def test_cost_only_sessions_report_alike_on_sqlite_and_postgresql(tmp_path: Path) -> None:
    """Token buckets that were never reported stay NULL in a team ledger too: the same
    reports, to the byte, and a grown session updated in place on both."""
    import pgtest
    from tokentrail.periods import resolve_timezone
    from tokentrail.reports.periods import period_report, session_report
    from tokentrail.reports.query import ReportQuery

    database = project_db(tmp_path / "webapp")
    first = parse(database)
    set_cost(database, ROOT, 0.2)
    grown = parse(database)
    claude = SourceFile(
        "cline", str(DATA.parent / "cline/data/tasks/1772445600000/ui_messages.json"), "whole"
    )
    from tokentrail.agents.cline.reader import ClineSource  # an agent that reports tokens, mixed in

    others = ClineSource().parse(claude, ParseState())
    zone, name = resolve_timezone("UTC")
    query = ReportQuery(zone=zone, zone_name=name, breakdown=True)

    def reports(ledger: Ledger) -> bytes:
        ledger.record_batch(first.events, first.sessions)
        ledger.record_batch(grown.events, grown.sessions)
        ledger.record_batch(others.events, others.sessions)
        daily = period_report(ledger.store, "daily", query).as_dict()
        sessions = session_report(ledger.store, query).as_dict()
        return orjson.dumps([daily, sessions])

    with Ledger(tmp_path / "local.db") as local:
        expected = reports(local)
    with pgtest.fresh_database() as url, Ledger(url) as team:
        got = reports(team)
    assert got == expected
    daily = orjson.loads(expected)[0]
    # Crush's claude-sonnet-4-5 session and Cline's dated requests of it share a row: its
    # token figures are Cline's alone, and say one request left them out
    mixed = next(r for r in daily["rows"] if r["model"] == "claude-sonnet-4-5")
    assert mixed["requests"] == 5 and mixed["requests_without_tokens"] == 1
    assert mixed["input_tokens"] == 12 + 8 + 5 + 20
    only_crush = next(r for r in daily["rows"] if r["period"] == "2026-03-04")
    assert only_crush["input_tokens"] is None and only_crush["total_tokens"] is None
    assert only_crush["requests_without_tokens"] == 1
    assert daily["totals"]["requests_without_tokens"] == 2
