"""Goose source: the usage ledger, per-session totals before it, read-only SQLite access."""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from tokentrail.agents.goose import reader as goose
from tokentrail.agents.goose.reader import GooseSource
from tokentrail.cli import cli
from tokentrail.ledger import Ledger
from tokentrail.sources.files import ParseResult, ParseState, SourceFile
from tokentrail.sync import sync
from tokentrail.usage import Tokens

DATA = Path(__file__).parent / "data" / "goose"
SOURCE = GooseSource()
MAIN, CHILD, BEFORE, IDLE = "20260310_1", "20260310_2", "20260301_1", "20260311_1"


def make_db(folder: Path, schema: str = "sessions-v15.sql") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "sessions.db"
    with closing(sqlite3.connect(path)) as connection:
        connection.executescript((DATA / schema).read_text())
        connection.execute("PRAGMA journal_mode = WAL")
        connection.commit()
    return path


def parse(path: Path, state: ParseState | None = None) -> ParseResult:
    return SOURCE.parse(SourceFile("goose", str(path), "database"), state or ParseState())


def execute(path: Path, sql: str, *arguments: object) -> None:
    with closing(sqlite3.connect(path)) as connection:
        connection.execute(sql, arguments)
        connection.commit()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return make_db(tmp_path / "goose" / "sessions")


# --- roots and discovery ---------------------------------------------------------------------


def test_default_roots_are_the_platform_data_dirs(tmp_path: Path) -> None:
    assert SOURCE.default_roots({}, tmp_path) == [
        tmp_path / ".local/share/goose/sessions",
        tmp_path / "Library/Application Support/Block/goose/sessions",
        tmp_path / "AppData/Roaming/Block/goose/data/sessions",
    ]
    roots = SOURCE.default_roots({"XDG_DATA_HOME": "/x", "APPDATA": "/w"}, tmp_path)
    assert roots[0] == Path("/x/goose/sessions") and roots[2] == Path(
        "/w/Block/goose/data/sessions"
    )


def test_goose_path_root_moves_everything(tmp_path: Path) -> None:
    assert SOURCE.default_roots({"GOOSE_PATH_ROOT": "/srv/goose"}, tmp_path) == [
        Path("/srv/goose/data/sessions")
    ]
    # goose ignores a relative root, and so does tokentrail
    assert SOURCE.default_roots({"GOOSE_PATH_ROOT": "rel"}, tmp_path)[0] == (
        tmp_path / ".local/share/goose/sessions"
    )


def test_the_database_is_found(isolated_home: Path) -> None:
    path = make_db(isolated_home / ".local" / "share" / "goose" / "sessions")

    found = list(SOURCE.discover(SOURCE.default_roots({}, isolated_home)))

    assert [(f.path, f.kind) for f in found] == [(str(path), "database")]
    assert list(SOURCE.discover([isolated_home / "nowhere"])) == []


# --- the counting rules ----------------------------------------------------------------------


def test_each_ledger_row_is_a_request_with_the_cache_taken_out_of_the_input(db: Path) -> None:
    result = parse(db)

    rows = {e.key.split(":")[2]: e for e in result.events if not e.key.endswith(":totals")}
    assert sorted(rows) == ["1", "2", "3", "4"]
    first = rows["1"]
    assert first.tokens == Tokens(input=1_000, cache_read=20_000, cache_write_5m=4_000, output=400)
    assert first.reported_cost_usd == pytest.approx(0.0213)
    assert (first.model, first.provider, first.project) == (
        "claude-sonnet-4-5",
        "anthropic",
        "/home/ana/src/api",
    )
    assert first.timestamp == datetime(2026, 3, 10, 9, 0, 30, tzinfo=UTC)
    raw = orjson.loads(first.raw_usage or b"")
    assert raw["cost_source"] == "provider_reported"


def test_a_row_without_a_model_takes_its_sessions(db: Path) -> None:
    compaction = next(e for e in parse(db).events if e.key.startswith(f"goose:{MAIN}:4:"))

    assert compaction.model == "claude-sonnet-4-5"
    assert orjson.loads(compaction.raw_usage or b"")["is_compaction"] == 1


def test_a_row_whose_cache_exceeds_its_input_is_a_counted_skip(db: Path) -> None:
    result = parse(db)

    assert [(s.reason, s.detail.split(":")[0]) for s in result.skips] == [
        ("invalid_count", "usage_ledger row 5")
    ]


def test_a_sub_agent_session_names_its_parent(db: Path) -> None:
    result = parse(db)

    child = next(s for s in result.sessions if s.key == f"goose:{CHILD}")
    assert (child.parent_key, child.relationship, child.title) == (
        f"goose:{MAIN}",
        "subagent",
        "explore the upload code",
    )
    [event] = [e for e in result.events if e.session_key == f"goose:{CHILD}"]
    assert (event.model, event.provider, event.reported_cost_usd) == ("gpt-5-mini", "openai", None)


def test_a_session_without_ledger_rows_is_one_request_of_its_totals(db: Path) -> None:
    result = parse(db)

    totals = [e for e in result.events if e.key.endswith(":totals")]
    assert [e.key for e in totals] == [f"goose:{BEFORE}:totals"]  # the idle one made none
    [event] = totals
    assert event.tokens == Tokens(
        input=120_000 - 90_000 - 12_000, cache_read=90_000, cache_write_5m=12_000, output=11_000
    )
    assert event.reported_cost_usd == pytest.approx(0.2817)
    assert event.timestamp == datetime(2026, 3, 1, 14, 0, tzinfo=UTC)
    raw = orjson.loads(event.raw_usage or b"")
    assert raw["kind"].startswith("session totals")


def test_totals_before_the_cache_split_keep_goose_s_input(tmp_path: Path) -> None:
    path = make_db(tmp_path / "old", "sessions-v9.sql")

    result = parse(path)

    [event] = result.events  # the other session has only its last request's counts
    assert event.tokens == Tokens(input=40_000, output=3_000)
    assert (event.model, event.project) == ("claude-sonnet-4-20250514", "/home/ana/src/cli")
    assert orjson.loads(event.raw_usage or b"")["cache_split"] is False


def test_new_ledger_rows_are_read_alone(db: Path) -> None:
    first = parse(db)
    execute(
        db,
        "INSERT INTO usage_ledger (session_id, created_timestamp, model, input_tokens,"
        " output_tokens, cache_read_tokens, cache_write_tokens, cost)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        MAIN,
        1773135000,
        "claude-sonnet-4-5",
        3_000,
        70,
        2_000,
        0,
        0.004,
    )

    second = parse(db, first.state)

    assert [e.key for e in second.events] == [f"goose:{MAIN}:6:1773135000"]
    assert [s.key for s in second.sessions] == [f"goose:{MAIN}"]


def test_grown_totals_are_read_again_under_the_same_key(db: Path) -> None:
    first = parse(db)
    execute(
        db,
        "UPDATE sessions SET accumulated_input_tokens = 150000, accumulated_output_tokens = 12000,"
        " updated_at = '2026-03-12 10:00:00' WHERE id = ?",
        BEFORE,
    )

    second = parse(db, first.state)

    [event] = second.events
    assert event.key == f"goose:{BEFORE}:totals"
    assert (event.tokens.input, event.tokens.output) == (150_000 - 102_000, 12_000)


def test_a_rebuilt_ledger_is_read_again_whole(db: Path, tmp_path: Path) -> None:
    first = parse(db)
    db.unlink()
    fresh = make_db(db.parent)
    execute(fresh, "DELETE FROM usage_ledger WHERE id = 5")  # the row read last is not there

    again = parse(fresh, first.state)

    assert sorted(e.key for e in again.events) == sorted(e.key for e in first.events)


# --- read-only, never in goose's way ---------------------------------------------------------


def test_reading_writes_nothing(db: Path) -> None:
    before = hashlib.sha256(db.read_bytes()).hexdigest()

    parse(db)

    assert hashlib.sha256(db.read_bytes()).hexdigest() == before
    wal = Path(f"{db}-wal")
    assert not wal.exists() or wal.stat().st_size == 0


def test_rows_in_the_wal_are_read_while_goose_writes(db: Path) -> None:
    with closing(sqlite3.connect(db, isolation_level=None)) as writer:
        writer.execute(
            "INSERT INTO usage_ledger (session_id, created_timestamp, model, input_tokens,"
            " output_tokens) VALUES (?, 1773135100, 'claude-sonnet-4-5', 10, 5)",
            (MAIN,),
        )
        writer.execute("BEGIN IMMEDIATE")  # goose is in the middle of its next write
        writer.execute("UPDATE sessions SET name = 'draft' WHERE id = ?", (MAIN,))

        result = parse(db)

        writer.execute("ROLLBACK")
    assert any(e.key == f"goose:{MAIN}:6:1773135100" for e in result.events)


@contextmanager
def exclusive_lock(path: Path) -> Iterator[None]:
    with closing(sqlite3.connect(path, isolation_level=None)) as holder:
        holder.execute("PRAGMA journal_mode = DELETE")
        holder.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            holder.execute("ROLLBACK")


def test_a_locked_database_is_reported_busy_and_read_later(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(goose, "BUSY_TIMEOUT_SECONDS", 0.05)
    state = ParseState(memory={"last_id": 0})

    with exclusive_lock(db):
        result = parse(db, state)

    assert (result.events, [s.reason for s in result.skips]) == ([], ["database_busy"])
    assert result.retry and result.state == state
    assert len(parse(db).events) == 5


def test_a_corrupt_or_foreign_database_is_reported_not_raised(tmp_path: Path) -> None:
    corrupt = tmp_path / "a" / "sessions.db"
    corrupt.parent.mkdir()
    corrupt.write_bytes(b"not a database at all " * 300)
    foreign = tmp_path / "b" / "sessions.db"
    foreign.parent.mkdir()
    with closing(sqlite3.connect(foreign)) as connection:
        connection.execute("CREATE TABLE notes (id INTEGER)")

    assert [s.reason for s in parse(corrupt).skips] == ["database_unreadable"]
    assert [s.reason for s in parse(foreign).skips] == ["unexpected_schema"]


def test_a_fifo_in_the_databases_place_is_not_opened(tmp_path: Path) -> None:
    fifo = tmp_path / "sessions.db"
    os.mkfifo(fifo)

    with pytest.raises(OSError, match="FIFO"):
        parse(fifo)


# --- through the ledger ----------------------------------------------------------------------


def test_sync_counts_the_database_once(isolated_home: Path, db_path: Path) -> None:
    path = make_db(isolated_home / ".local" / "share" / "goose" / "sessions")

    with Ledger(db_path) as ledger:
        first = sync(ledger, source_names=["goose"])
        again = sync(ledger, source_names=["goose"])
        execute(
            path,
            "UPDATE sessions SET accumulated_input_tokens = 150000,"
            " updated_at = '2026-03-12 10:00:00' WHERE id = ?",
            BEFORE,
        )
        grown = sync(ledger, source_names=["goose"])

    assert (first.new_events, again.files_read, again.new_events) == (5, 0, 0)
    assert grown.new_events == 0  # the same request, now larger: merged, never added
    with sqlite3.connect(db_path) as conn:
        (total_input,) = conn.execute("SELECT SUM(input) FROM events").fetchone()
    assert total_input == 1_000 + 2_000 + 500 + 5_000 + (150_000 - 102_000)


def test_the_report_keeps_goose_s_cost_beside_the_price(isolated_home: Path, db_path: Path) -> None:
    make_db(isolated_home / ".local" / "share" / "goose" / "sessions")

    result = CliRunner().invoke(
        cli, ["daily", "--source", "goose", "-d", str(db_path), "--json"], catch_exceptions=False
    )

    assert result.exit_code == 0, result.output
    report = orjson.loads(result.stdout)
    assert report["totals"]["requests"] == 5
    assert report["totals"]["unpriced_requests"] == 0
