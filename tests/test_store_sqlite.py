"""The SQLite store: migrations on open, upgrade of a real old ledger, WAL, backup."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from tokentrail.cli import cli
from tokentrail.errors import LedgerDamaged, LedgerFull, LedgerTooNew, StoreError
from tokentrail.ledger import Ledger
from tokentrail.store.base import Filters, OffsetSegment
from tokentrail.store.migrations import SQLITE_MIGRATIONS
from tokentrail.store.sqlite import SQLiteStore
from tokentrail.usage import Tokens, UsageEvent

DATA = Path(__file__).parent / "data"


def test_a_new_ledger_gets_every_migration_and_wal(db_path: Path) -> None:
    store = SQLiteStore(db_path)
    try:
        assert store.applied_migrations() == [name for name, _ in SQLITE_MIGRATIONS]
        status = store.status()
        assert status.schema_version == len(SQLITE_MIGRATIONS)
        assert status.events == 0 and status.first_event is None
    finally:
        store.close()
    conn = sqlite3.connect(db_path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


def test_bulk_writes_checkpoint_the_log_in_larger_steps_on_that_connection_only(
    db_path: Path,
) -> None:
    bulk, other = SQLiteStore(db_path), SQLiteStore(db_path)
    try:
        bulk.expect_bulk_writes()
        assert bulk._conn.execute("PRAGMA wal_autocheckpoint").fetchone() == (10_000,)
        assert other._conn.execute("PRAGMA wal_autocheckpoint").fetchone() == (1_000,)
    finally:
        bulk.close()
        other.close()


def test_an_old_ledger_is_upgraded_on_open_and_keeps_its_history(db_path: Path) -> None:
    conn = sqlite3.connect(db_path)
    conn.executescript((DATA / "ledger_schema1.sql").read_text())
    conn.close()
    with Ledger(db_path) as ledger:
        migrations = ledger.store.status().migrations
        days = ledger.store.day_totals(Filters(), [OffsetSegment(0, 0)], by_model=False)
        # the upgraded ledger takes new writes next to the old ones
        ledger.record_batch(
            [
                UsageEvent(
                    key="claude_code:new",
                    source="claude_code",
                    timestamp=datetime(2026, 5, 4, 10, tzinfo=UTC),
                    tokens=Tokens(input=1, output=1),
                    model="claude-sonnet-4-5-20250929",
                    session_key="sess-old",
                )
            ]
        )
        after = ledger.store.day_totals(Filters(), [OffsetSegment(0, 0)], by_model=False)
    assert migrations == tuple(name for name, _ in SQLITE_MIGRATIONS)
    (day,) = days
    assert (day.totals.requests, day.totals.output, day.totals.cost_micro) == (1, 50, 1350)
    assert after[0].totals.requests == 2
    conn = sqlite3.connect(db_path)
    assert conn.execute("SELECT COUNT(*) FROM meta").fetchone() == (0,)
    conn.close()


def test_opening_twice_applies_nothing_again(db_path: Path) -> None:
    SQLiteStore(db_path).close()
    store = SQLiteStore(db_path)
    conn = sqlite3.connect(db_path)
    count = conn.execute("SELECT COUNT(*) FROM _migrations").fetchone()[0]
    conn.close()
    store.close()
    assert count == len(SQLITE_MIGRATIONS)


def test_deleting_the_file_resets_history_and_breaks_nothing(db_path: Path) -> None:
    with Ledger(db_path) as ledger:
        ledger.record_batch(
            [
                UsageEvent(
                    key="k",
                    source="codex",
                    timestamp=datetime(2026, 1, 1, tzinfo=UTC),
                    tokens=Tokens(input=5, output=5),
                    model="gpt-5-codex",
                )
            ]
        )
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    with Ledger(db_path) as ledger:
        assert ledger.store.status().events == 0


def test_not_a_ledger_is_a_clear_error(tmp_path: Path) -> None:
    bogus = tmp_path / "notes.db"
    bogus.write_text("these are my notes, not a database" * 100)
    with pytest.raises(StoreError, match=r"notes\.db.*-d/--database"):
        SQLiteStore(bogus)


def test_backup_is_a_usable_copy(tmp_path: Path, db_path: Path) -> None:
    with Ledger(db_path) as ledger:
        ledger.record_batch(
            [
                UsageEvent(
                    key="k",
                    source="codex",
                    timestamp=datetime(2026, 1, 1, tzinfo=UTC),
                    tokens=Tokens(input=5, output=5),
                    model="gpt-5-codex",
                )
            ]
        )
        ledger.store.backup(tmp_path / "copy.db")
        with pytest.raises(StoreError, match="already exists"):
            ledger.store.backup(tmp_path / "copy.db")
    copy = SQLiteStore(tmp_path / "copy.db")
    try:
        assert copy.status().events == 1
    finally:
        copy.close()


def test_a_write_held_up_by_another_process_is_a_clear_retryable_error(db_path: Path) -> None:
    from tokentrail.errors import LedgerBusy

    store = SQLiteStore(db_path, busy_timeout_s=0.2)
    other = sqlite3.connect(db_path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process in the middle of a write
    try:
        with pytest.raises(LedgerBusy, match="stayed locked by another writer"), store.write():
            pass
    finally:
        other.execute("ROLLBACK")
        other.close()
    with store.write() as tx:  # once it is done, the same store writes again
        tx.put_sessions([])
    store.close()


def test_tool_rows_and_rate_limits_written_before_push_tracking_are_pushed(
    db_path: Path,
) -> None:
    """A ledger at 0008 has tool calls, results and rate limits: 0009_push_tool_rows numbers
    them (rate limits in time order) so the next push finds them, then new rows follow."""
    names = [name for name, _ in SQLITE_MIGRATIONS]
    conn = sqlite3.connect(db_path)
    conn.execute("CREATE TABLE _migrations (name TEXT PRIMARY KEY, applied_at TEXT)")
    for name, sql in SQLITE_MIGRATIONS[: names.index("0009_push_tool_rows")]:
        conn.executescript(sql)
        conn.execute("INSERT INTO _migrations (name) VALUES (?)", (name,))
    conn.executescript(
        """
        INSERT INTO tool_calls (call_key, source, tool_name, ts_ms, machine, origin)
            VALUES ('c1', 'claude_code', 'Edit', 10, 'm', 'log'),
                   ('c2', 'claude_code', 'Bash', 5, 'm', 'log');
        INSERT INTO tool_results (call_key, source, ts_ms, success, machine)
            VALUES ('c1', 'claude_code', 11, 1, 'm');
        INSERT INTO rate_limits (source, machine, limit_window, observed_ms, used_percent)
            VALUES ('codex', 'm', 'secondary', 200, 61.0), ('codex', 'm', 'primary', 100, 7.0);
        """
    )
    conn.commit()
    conn.close()
    with Ledger(db_path) as ledger:
        store = ledger.store
        assert [(s, c.key) for s, c in store.tool_calls_changed_after(0, 10)] == [
            (1, "c1"),
            (2, "c2"),
        ]
        assert [(s, r.key) for s, r in store.tool_results_changed_after(0, 10)] == [(1, "c1")]
        limits = store.rate_limits_changed_after(0, 10)
        assert [(s, r.window, r.observed_ms) for s, r in limits] == [
            (1, "primary", 100),
            (2, "secondary", 200),
        ]
        ledger.record_batch([], rate_limits=[replace(limits[0][1], observed_ms=300)])
        assert [s for s, _ in store.rate_limits_changed_after(2, 10)] == [3]


def _events(count: int, prefix: str = "k") -> list[UsageEvent]:
    return [
        UsageEvent(
            key=f"sdk:{prefix}{i}",
            source="sdk",
            timestamp=datetime(2026, 5, 4, 10, tzinfo=UTC),
            model="claude-sonnet-4-5",
            tokens=Tokens(input=i + 1, output=1),
            session_key=f"s{i % 40}",
        )
        for i in range(count)
    ]


def test_a_full_disk_is_said_and_leaves_the_ledger_as_it_was(db_path: Path) -> None:
    with Ledger(db_path) as ledger:
        ledger.record_batch(_events(10, "before"))
        before = ledger.store.totals(Filters())
        # SQLite answers "database or disk is full" (SQLITE_FULL) when the file may not grow
        # past max_page_count: a full disk, on a real file, without filling one
        conn = ledger.store._conn  # type: ignore[attr-defined]
        (pages,) = conn.execute("PRAGMA page_count").fetchone()
        conn.execute(f"PRAGMA max_page_count = {pages + 2}")
        with pytest.raises(LedgerFull) as full:
            ledger.record_batch(_events(3000))
        message = str(full.value)
        assert "full" in message and str(db_path) in message and "free some space" in message
        assert "rollback" not in message
        assert ledger.store.totals(Filters()) == before
        assert ledger.store.status().events == 10
        # once there is room again, the same batch is written whole
        conn.execute("PRAGMA max_page_count = 1073741823")
        assert ledger.record_batch(_events(3000)).created == 3000
        assert ledger.store.status().events == 3010
    assert SQLiteStore(db_path).check() == []


def test_a_ledger_from_a_newer_tokentrail_is_read_never_written(db_path: Path) -> None:
    with Ledger(db_path) as ledger:
        ledger.record_batch(_events(3))
    conn = sqlite3.connect(db_path)
    conn.execute("INSERT INTO _migrations (name) VALUES ('9999_from_the_future')")
    conn.commit()
    conn.close()
    ours = len(SQLITE_MIGRATIONS)
    with Ledger(db_path) as ledger:
        assert ledger.store.status().events == 3  # reads still work
        with pytest.raises(LedgerTooNew) as refused:
            ledger.record_batch(_events(1, "new"))
        assert f"newer tokentrail (schema {ours + 1} > {ours}); upgrade" in str(refused.value)
        with pytest.raises(LedgerTooNew):
            ledger.retract(["sdk:k0"], "no")
        assert ledger.store.status().events == 3
    # a newer version also raises user_version, even without a migration name we can see
    conn = sqlite3.connect(db_path)
    conn.execute("DELETE FROM _migrations WHERE name = '9999_from_the_future'")
    assert conn.execute("PRAGMA user_version").fetchone() == (ours,)
    conn.execute(f"PRAGMA user_version = {ours + 3}")
    conn.commit()
    conn.close()
    with Ledger(db_path) as ledger, pytest.raises(LedgerTooNew) as refused:
        ledger.record_batch(_events(1, "new"))
    assert f"schema {ours + 3} > {ours}" in str(refused.value)


def _corrupt(path: Path, pages: range) -> None:
    """Overwrite these pages of a real ledger file with garbage, past their headers."""
    with path.open("r+b") as f:
        for page in pages:
            f.seek(page * 4096 + 8)
            f.write(b"\xde\xad\xbe\xef" * 200)


def _damaged_ledger(db_path: Path) -> None:
    with Ledger(db_path) as ledger:
        ledger.record_batch(_events(3000))
    conn = sqlite3.connect(db_path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    (pages,) = conn.execute("PRAGMA page_count").fetchone()
    (root,) = conn.execute("SELECT MAX(rootpage) FROM sqlite_master").fetchone()
    conn.close()
    assert pages > root + 40
    _corrupt(db_path, range(root + 10, pages - 5))  # data pages; the schema stays readable


def test_a_damaged_ledger_is_said_with_the_way_out(db_path: Path, tmp_path: Path) -> None:
    _damaged_ledger(db_path)
    runner = CliRunner()
    checked = runner.invoke(cli, ["db", "check", "-d", str(db_path)])
    assert checked.exit_code == 1
    assert "out of range" in checked.output or "malformed" in checked.output
    assert "db backup" in checked.output and "tokentrail sync" in checked.output
    # a report over the damaged pages: the message, never a traceback
    exported = runner.invoke(cli, ["export", "--no-sync", "-d", str(db_path)])
    assert exported.exit_code == 1 and "Traceback" not in exported.output
    assert "is damaged (database disk image is malformed)" in exported.output
    assert "tokentrail db check" in exported.output
    # what is readable is saved
    saved = runner.invoke(cli, ["db", "backup", "-d", str(db_path), str(tmp_path / "c.db")])
    assert saved.exit_code == 0, saved.output


def test_a_ledger_too_damaged_to_open_is_still_checked_and_copied(
    db_path: Path, tmp_path: Path
) -> None:
    with Ledger(db_path) as ledger:
        ledger.record_batch(_events(3000))
    conn = sqlite3.connect(db_path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    _corrupt(db_path, range(1, 60))  # the schema's own tables
    with pytest.raises(LedgerDamaged) as damaged:
        Ledger(db_path)
    assert "db backup" in str(damaged.value) and "db check" in str(damaged.value)
    runner = CliRunner()
    checked = runner.invoke(cli, ["db", "check", "-d", str(db_path)])
    assert checked.exit_code == 1 and "is damaged" in checked.output
    saved = runner.invoke(cli, ["db", "backup", "-d", str(db_path), str(tmp_path / "c.db")])
    assert saved.exit_code == 0 and (tmp_path / "c.db").exists()


def test_a_sound_ledger_checks_ok(db_path: Path) -> None:
    with Ledger(db_path) as ledger:
        ledger.record_batch(_events(20))
    checked = CliRunner().invoke(cli, ["db", "check", "-d", str(db_path)])
    assert checked.exit_code == 0 and "ok: no damage found" in checked.output


def test_migration_statements_end_where_sqlite_says_they_do() -> None:
    from tokentrail.store.sqlite import split_statements

    script = """
        CREATE TABLE notes (body TEXT DEFAULT 'a;b');
        CREATE TRIGGER stamp AFTER INSERT ON notes BEGIN
            UPDATE notes SET body = body || ';' WHERE rowid = new.rowid;
        END;
        -- a comment; with a semicolon
        INSERT INTO notes (body) VALUES ('x')
    """
    statements = split_statements(script)
    assert len(statements) == 3
    conn = sqlite3.connect(":memory:")
    for statement in statements:
        conn.execute(statement)
    assert conn.execute("SELECT body FROM notes").fetchall() == [("x;",)]


def test_a_failed_read_is_a_store_error_not_a_sqlite_one(db_path: Path) -> None:
    store = SQLiteStore(db_path)
    try:
        other = sqlite3.connect(db_path)
        other.execute("DROP TABLE run_totals")
        other.close()
        with pytest.raises(StoreError, match="no such table: run_totals"):
            store.run_totals("some-run")
    finally:
        store.close()


def test_a_zone_is_kept_only_when_the_ledger_is_free_and_answers_the_same_either_way(
    db_path: Path,
) -> None:
    """A report in a zone whose days are not kept yet never waits for a writer: while one
    holds the ledger it sums the hourly rollups; the next report keeps the zone's days and
    reads them, with the same figures."""
    from tokentrail.periods import resolve_timezone
    from tokentrail.reports.periods import period_report
    from tokentrail.reports.query import ReportQuery

    start = datetime(2026, 3, 1, tzinfo=UTC)
    events = [
        UsageEvent(
            key=f"e{i}",
            source="codex",
            timestamp=start.replace(hour=i % 24, day=1 + i // 24),
            model="gpt-5",
            tokens=Tokens(input=100 + i, output=7),
            session_key="s",
        )
        for i in range(24 * 20)
    ]
    zone, name = resolve_timezone("Asia/Kolkata")
    query = ReportQuery(zone=zone, zone_name=name)
    with Ledger(db_path) as ledger:
        ledger.record_batch(events)
        writer = sqlite3.connect(db_path, isolation_level=None)
        writer.execute("BEGIN IMMEDIATE")
        try:
            held = period_report(ledger.store, "daily", query).as_dict()
            offsets = {row[0] for row in writer.execute("SELECT offset_ms FROM day_offsets")}
            assert offsets == {0}
        finally:
            writer.execute("ROLLBACK")
            writer.close()
        free = period_report(ledger.store, "daily", query).as_dict()
    conn = sqlite3.connect(db_path)
    offsets = {row[0] for row in conn.execute("SELECT offset_ms FROM day_offsets")}
    conn.close()
    assert offsets == {0, 19_800_000}
    assert held == free and len(held["rows"]) == 21  # 20 UTC days span 21 days in +05:30
