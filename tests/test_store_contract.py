"""The store contract: every test here runs on the SQLite store and on the PostgreSQL store.

The PostgreSQL runs need a server (``TOKENTRAIL_TEST_POSTGRES_URL``, see ``pgtest.py``) and are
skipped without one; each gets a database of its own.
"""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, cast

import pytest
from click.testing import CliRunner

import pgtest
from tokentrail.cli import cli
from tokentrail.errors import LedgerTooNew, StoreError
from tokentrail.ingest import InvalidUsage
from tokentrail.ledger import Ledger, open_store
from tokentrail.periods import DAY_MS, day_to_date, offset_segments, resolve_timezone
from tokentrail.reports.periods import period_report, session_report
from tokentrail.reports.query import ReportQuery
from tokentrail.store.base import (
    MEASURE_SQL,
    MEASURES,
    Cursor,
    Entry,
    Filters,
    OffsetSegment,
    PushWatermark,
    SessionPageQuery,
    Totals,
)
from tokentrail.store.sql_reads import SQLReads
from tokentrail.usage import Cost, Session, Tokens, UsageEvent

T0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
SONNET = "claude-sonnet-4-5-20250929"


@dataclass(frozen=True)
class Backend:
    kind: str
    location: str

    def rows(self, sql: str) -> list[tuple[Any, ...]]:
        if self.kind == "postgres":
            return pgtest.query(self.location, sql)
        conn = sqlite3.connect(self.location)
        try:
            return conn.execute(sql).fetchall()
        finally:
            conn.close()

    def measures(self) -> str:
        """The measure definitions of this backend, as plain integers."""
        if self.kind == "postgres":
            from tokentrail.store.postgres import _PG_MEASURE_SQL

            return ", ".join(f"CAST({_PG_MEASURE_SQL[m]} AS BIGINT)" for m in MEASURES)
        return ", ".join(MEASURE_SQL[m] for m in MEASURES)

    def sums(self, prefix: str = "") -> str:
        cast = "CAST(SUM({}) AS BIGINT)" if self.kind == "postgres" else "SUM({})"
        return ", ".join(cast.format(prefix + m) for m in MEASURES)


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "sqlite":
        yield Backend("sqlite", str(tmp_path / "ledger.db"))
        return
    with pgtest.fresh_database() as url:
        yield Backend("postgres", url)


@pytest.fixture
def ledger(backend: Backend) -> Iterator[Ledger]:
    with Ledger(backend.location) as opened:
        yield opened


def ev(
    key: str,
    output: int = 10,
    *,
    at: datetime = T0,
    session: str | None = "s1",
    model: str | None = SONNET,
    source: str = "claude_code",
    rank: str = "0|",
    **kw: Any,
) -> UsageEvent:
    return UsageEvent(
        key=key,
        source=source,
        timestamp=at,
        model=model,
        provider="anthropic",
        tokens=Tokens(input=100, cache_read=1000, cache_write_5m=20, output=output),
        session_key=session,
        rank=rank,
        **kw,
    )


def assert_totals_match_events(backend: Backend) -> None:
    """Rollups (of quarter hours, local days and all time), session totals and run totals
    equal sums recomputed from the raw events."""
    keys = "bucket_ms, source, model, project, machine"
    raw_keys = "ts_ms - ts_ms % 900000, source, COALESCE(model, ''), COALESCE(project, ''), machine"
    if backend.kind == "postgres":
        keys += ", user_name"
        raw_keys += ", COALESCE(user_name, '')"
    n = len(keys.split(","))
    positions = ", ".join(str(i) for i in range(1, n + 1))
    rolled = backend.rows(f"SELECT {keys}, {_columns()} FROM rollups ORDER BY {positions}")
    raw = backend.rows(
        f"SELECT {raw_keys}, {backend.measures()} FROM events "
        f"GROUP BY {positions} ORDER BY {positions}"
    )
    assert rolled == raw
    per_session = backend.rows(
        f"SELECT session_key, model, {backend.sums()} FROM session_totals "
        "GROUP BY 1, 2 ORDER BY 1, 2"
    )
    raw_sessions = backend.rows(
        f"SELECT session_key, COALESCE(model, ''), {backend.measures()} FROM events "
        "WHERE session_key IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2"
    )
    assert per_session == raw_sessions
    per_run = backend.rows(f"SELECT run_id, {_columns()} FROM run_totals ORDER BY 1")
    raw_runs = backend.rows(
        f"SELECT run_id, {backend.measures()} FROM events WHERE run_id IS NOT NULL "
        "GROUP BY 1 ORDER BY 1"
    )
    # a run whose every event moved away keeps a row of zeros, as on SQLite
    assert [r for r in per_run if r[1] != 0] == raw_runs
    assert_days_match_events(backend)
    # all time per source, model, project, machine (and user): the rollups without a time
    lifetime_keys = ", ".join(k.strip() for k in keys.split(",")[1:])
    lifetime_raw = ", ".join(k.strip() for k in raw_keys.split(",")[1:])
    at = ", ".join(str(i) for i in range(1, n))
    lifetime = backend.rows(
        f"SELECT {lifetime_keys}, {_columns()} FROM lifetime_rollups ORDER BY {at}"
    )
    raw_lifetime = backend.rows(
        f"SELECT {lifetime_raw}, {backend.measures()} FROM events GROUP BY {at} ORDER BY {at}"
    )
    assert lifetime == raw_lifetime


def assert_days_match_events(backend: Backend) -> None:
    """The local days kept for each offset equal sums recomputed from the raw events."""
    user = ", user_name" if backend.kind == "postgres" else ""
    raw_user = ", COALESCE(user_name, '')" if user else ""
    positions = "1, 2, 3, 4" + (", 5" if user else "")
    for (offset,) in backend.rows("SELECT offset_ms FROM day_offsets"):
        kept = backend.rows(
            f"SELECT day, source, model, machine{user}, {_columns()} FROM rollups_daily "
            f"WHERE offset_ms = {offset} ORDER BY {positions}"
        )
        raw = backend.rows(
            f"SELECT (ts_ms + {offset}) / {DAY_MS}, source, COALESCE(model, ''), machine"
            f"{raw_user}, {backend.measures()} FROM events GROUP BY {positions} "
            f"ORDER BY {positions}"
        )
        assert kept == raw, offset


ZONES = ("UTC", "Asia/Kolkata", "America/New_York", "Asia/Kathmandu", "Australia/Lord_Howe")


def test_kept_days_follow_every_write_and_answer_as_the_hourly_rollups(
    backend: Backend, ledger: Ledger
) -> None:
    """Days kept for the zones reports asked for are kept by every later write (new,
    grown, moved and retracted requests), and every day, week and month read from them equals
    the same figures summed from the fine rollups alone."""
    from tokentrail.store import day_reads

    hours = [0, 5, 13, 19, 23, 29, 47, 24 * 20 + 3, 24 * 190 + 22]  # across DST changes
    ledger.record_batch(
        [ev(f"a{h}", at=T0 + timedelta(hours=h, minutes=10 * (h % 6))) for h in hours]
        + [ev("c1", source="codex", model="gpt-5", session="c", at=T0 - timedelta(days=40))]
    )
    for tz in ZONES:  # each zone's offsets are kept from the first report in it
        period_report(ledger.store, "daily", query(tz))
    kept = {row[0] for row in backend.rows("SELECT offset_ms FROM day_offsets")}
    assert {0, 19_800_000, -18_000_000, -14_400_000, 20_700_000, 37_800_000} <= kept
    ledger.record_batch(
        [
            ev("a5", 500, at=T0 + timedelta(hours=5)),  # grown
            ev("a13", session="moved", rank="0|", at=T0 + timedelta(hours=13)),
            ev("late", at=T0 + timedelta(days=3, hours=23, minutes=50), model="claude-opus-4-1"),
        ]
    )
    ledger.retract(["a19"], "test")
    assert_days_match_events(backend)
    store = cast(SQLReads, ledger.store)
    for tz in ZONES:
        zone, _ = resolve_timezone(tz)
        segments = offset_segments(zone, int(T0.timestamp() * 1000) - 60 * DAY_MS, 1 << 42)
        for filters in (
            Filters(),
            Filters(sources=("claude_code",)),
            Filters(since_ms=int(T0.timestamp() * 1000) + 3_600_000),
            Filters(until_ms=int(T0.timestamp() * 1000) + 20 * DAY_MS + 900_000),
        ):
            for group in (None, "model", "machine", "source"):
                answers = []
                for offsets in (frozenset(), frozenset(kept)):
                    union, params = day_reads.day_union(
                        store.dialect, filters, segments, offsets, group
                    )
                    sums = store.dialect.measure_sums()
                    answers.append(
                        store._rows(
                            f"SELECT day, g, {sums} FROM ({union}) u GROUP BY 1, 2 ORDER BY 1, 2",
                            params,
                        )
                    )
                assert answers[0] == answers[1], (tz, filters, group)
                assert answers[0], (tz, filters, group)


def test_figures_over_all_time_answer_as_the_quarter_hour_rollups(
    backend: Backend, ledger: Ledger
) -> None:
    """Totals, spend per group and unpriced models over all time (the lifetime rollups) equal
    the same figures summed from the 15-minute rollups, after new, grown, moved and retracted
    requests, in every scope a dashboard can choose."""
    ledger.record_batch(
        [ev(f"a{h}", at=T0 + timedelta(hours=h), project=f"/p/{h % 3}") for h in range(9)]
        + [ev("c1", source="codex", model="gpt-5", session="c", at=T0 - timedelta(days=400))]
        + [ev("u1", model="no-such-model", session="u", project="/p/1")]
    )
    ledger.record_batch(
        [
            ev("a5", 500, at=T0 + timedelta(hours=5), project="/p/2"),  # grown
            ev("a7", session="moved", rank="0|", at=T0 + timedelta(hours=7), project="/q"),
        ]
    )
    ledger.retract(["a3"], "test")
    store = cast(SQLReads, ledger.store)
    d = store.dialect
    for filters in (
        Filters(),
        Filters(sources=("claude_code",)),
        Filters(project="/p/1"),
        Filters(machines=("nowhere",)),
    ):
        where, params = d.rollup_where(filters)
        (row,) = store._rows(f"SELECT {d.measure_sums()} FROM rollups {where}", params)
        assert store.totals(filters) == Totals(tuple(v or 0 for v in row)), filters
        for by in ("source", "model", "project", "machine"):
            fine = store._rows(
                f"SELECT {by}, {d.measure_sums()} FROM rollups {where} GROUP BY 1", params
            )
            found = {(r.group or ""): r.totals for r in store.group_totals(filters, by)}
            assert found == {r[0]: Totals(tuple(r[1:])) for r in fine}, (filters, by)
        unpriced = [(m.model, m.requests) for m in store.unpriced_models(filters)]
        assert unpriced == ([("no-such-model", 1)] if filters.machines == () else []), filters


def test_day_plan_covers_the_range_once() -> None:
    """Kept days and fine ranges together cover the asked range exactly once."""
    from tokentrail.store.day_reads import plan
    from tokentrail.store.day_rollups import DAY_MS as DAY

    hour = 3_600_000
    segments = [
        OffsetSegment(0, -5 * hour),
        OffsetSegment(100 * DAY + 7 * hour, -4 * hour),
        OffsetSegment(300 * DAY + 6 * hour, -5 * hour),
    ]
    for since, until in ((None, None), (50 * DAY + 5 * hour, 120 * DAY), (99 * DAY, 101 * DAY)):
        found = plan(Filters(since_ms=since, until_ms=until), segments, frozenset({-5 * hour}))
        pieces = [(f * DAY - o, None if e is None else e * DAY - o) for o, f, e in found.days]
        pieces += list(found.fine)
        low, high = -(1 << 50), 1 << 50
        spans = sorted((low if a is None else a, high if b is None else b) for a, b in pieces)
        assert spans[0][0] == (low if since is None else since)
        assert spans[-1][1] == (high if until is None else until)
        assert all(a[1] == b[0] for a, b in itertools.pairwise(spans)), spans


def _columns() -> str:
    return ", ".join(MEASURES)


def query(tz: str = "UTC", **kw: Any) -> ReportQuery:
    zone, name = resolve_timezone(tz)
    return ReportQuery(zone=zone, zone_name=name, **kw)


def days(ledger: Ledger, tz: str, **kw: Any) -> list[tuple[str, int]]:
    report = period_report(ledger.store, "daily", query(tz, **kw))
    return [(row.period, row.figures.requests) for row in report.rows]


# -- recording and merging ------------------------------------------------------------------


def test_a_new_store_is_migrated_and_empty(backend: Backend, ledger: Ledger) -> None:
    status = ledger.store.status()
    assert status.events == 0 and status.sessions == 0 and status.files == 0
    assert status.first_event is None and status.schema_version == len(status.migrations) > 0
    assert ledger.store.time_range(Filters()) is None
    assert ledger.store.totals(Filters()).requests == 0
    # opening again applies nothing twice
    again = open_store(backend.location)
    try:
        assert again.status().migrations == status.migrations
    finally:
        again.close()


def test_recording_twice_changes_nothing(backend: Backend, ledger: Ledger) -> None:
    first = ledger.record_batch([ev("a", 10), ev("b", 20)])
    second = ledger.record_batch([ev("a", 10), ev("b", 20)])
    assert (first.created, first.duplicates) == (2, 0)
    assert (second.created, second.updated, second.duplicates) == (0, 0, 2)
    assert ledger.store.status().events == 2
    assert_totals_match_events(backend)


def test_bulk_writes_record_as_any_write(backend: Backend, ledger: Ledger) -> None:
    ledger.store.expect_bulk_writes()
    outcome = ledger.record_batch([ev(str(i), 10 + i) for i in range(50)])
    assert outcome.created == 50 and ledger.store.status().events == 50
    assert_totals_match_events(backend)


def test_a_growing_snapshot_replaces_the_smaller_one(backend: Backend, ledger: Ledger) -> None:
    ledger.record_batch([ev("a", 1, at=T0)])
    outcome = ledger.record_batch([ev("a", 400, at=T0 + timedelta(seconds=9))])
    ((entry,),) = list(ledger.store.iter_entries())
    assert outcome.updated == 1
    assert entry.event.tokens.output == 400 and entry.event.timestamp == T0
    assert entry.cost.micro_usd is not None and entry.cost.micro_usd > 0
    assert ledger.store.totals(Filters()).output == 400
    assert_totals_match_events(backend)


def test_attribution_moves_to_the_main_thread_copy(backend: Backend, ledger: Ledger) -> None:
    ledger.record_batch(
        [ev("m", 50, session="parent:agent-1", rank="1|", at=T0 + timedelta(hours=2))]
    )
    ledger.record_batch([ev("m", 50, session="parent", rank="0|", model="claude-opus-4-5")])
    ((entry,),) = list(ledger.store.iter_entries())
    assert entry.event.session_key == "parent" and entry.event.timestamp == T0
    # the request left its first session, bucket and model: no empty rows remain
    rows = backend.rows("SELECT COUNT(*) FROM rollups WHERE requests = 0")
    assert rows == [(0,)]
    assert backend.rows("SELECT COUNT(*) FROM session_totals") == [(1,)]
    assert_totals_match_events(backend)


def test_sessions_merge_their_partial_views(ledger: Ledger) -> None:
    ledger.record_batch([], [Session("s1", "codex", started_at=T0, ended_at=T0)])
    ledger.record_batch(
        [], [Session("s1", "codex", title="Fix login", ended_at=T0 + timedelta(hours=1))]
    )
    with ledger.store.write() as tx:
        session = tx.get_sessions(["s1"])["s1"]
    assert session.title == "Fix login"
    assert (session.started_at, session.ended_at) == (T0, T0 + timedelta(hours=1))
    assert ledger.store.sessions_by_key(["s1", "nope"]) == {"s1": session}
    changed = ledger.update_session("s1", state="completed", turns=3)
    assert ledger.store.sessions_by_key(["s1"])["s1"] == changed
    assert changed.state == "completed" and changed.turns == 3


def test_unknown_model_is_unpriced_and_named(backend: Backend, ledger: Ledger) -> None:
    ledger.record_batch([ev("x", 10, model="acme-coder-9000"), ev("y", 10, model=None)])
    unpriced = ledger.store.unpriced_models(Filters())
    assert [(u.model, u.requests, u.tokens) for u in unpriced] == [
        ("(no model)", 1, 1130),
        ("acme-coder-9000", 1, 1130),
    ]
    totals = ledger.store.totals(Filters())
    assert (totals.requests, totals.unpriced_requests, totals.cost_micro) == (2, 2, 0)
    assert_totals_match_events(backend)


def test_null_buckets_and_reported_costs_survive(backend: Backend, ledger: Ledger) -> None:
    event = UsageEvent(
        key="codex:1",
        source="codex",
        timestamp=T0,
        tokens=Tokens(input=1000, cache_read=500, output=200, reasoning=150),
        model="gpt-5-codex",
        reported_cost_usd=0.0000125,  # 12.5 micro-dollars: rounds away from zero on both
        pricing_context=(("service_tier", "standard"),),
        raw_usage=b'{"input_tokens": 1500}',
    )
    ledger.record_batch([event])
    ((entry,),) = list(ledger.store.iter_entries())
    assert entry.event == event.evolve(machine="test-machine")
    totals = ledger.store.totals(Filters())
    assert (totals.n_cache_write, totals.reported_cost_micro, totals.n_reported_cost) == (0, 13, 1)
    assert_totals_match_events(backend)


def test_reprice_writes_new_costs_and_keeps_totals_right(backend: Backend, tmp_path: Path) -> None:
    from tokentrail.config import load_config

    with Ledger(backend.location) as ledger:
        ledger.record_batch([ev("x", 1_000_000, model="acme-coder-9000")])
    config = tmp_path / "config.toml"
    config.write_text('[[prices]]\nmodel = "acme-*"\ninput = 1\noutput = 2\n')
    with Ledger(backend.location, config=load_config(config)) as ledger:
        (change,) = ledger.reprice(dry_run=False)
        assert ledger.reprice(dry_run=False) == []
        assert ledger.store.totals(Filters()).cost_micro == change.new_micro == 2_001_120
    assert_totals_match_events(backend)


# -- runs -----------------------------------------------------------------------------------


def test_runs_start_crash_close_and_update(backend: Backend, ledger: Ledger) -> None:
    first = ledger.start_run("orch", run_id="r1", started_at=T0)
    ledger.record_batch([ev("a", 5, run_id="r1", at=T0 + timedelta(minutes=30))])
    second = ledger.start_run("orch", run_id="r2", started_at=T0 + timedelta(hours=1))
    crashed = ledger.store.runs_by_id(["r1"])["r1"]
    assert crashed.state == "crashed"
    assert crashed.stopped_at == T0 + timedelta(minutes=30)  # its last recorded event
    ledger.update_run("r2", peak_concurrency=4, sessions_launched=2)
    updated = ledger.update_run(
        "r2", peak_concurrency=1, state="stopped", stopped_at=T0 + timedelta(hours=2)
    )
    assert updated.peak_concurrency == 4 and updated.state == "stopped"
    runs = ledger.store.list_runs()
    assert [r.run.run_id for r in runs] == ["r2", "r1"]
    assert runs[1].totals.requests == 1 and runs[0].totals.requests == 0
    assert (
        runs[1].first_ms == runs[1].last_ms == int((T0 + timedelta(minutes=30)).timestamp() * 1000)
    )
    assert [r.run.run_id for r in ledger.store.list_runs(limit=1)] == ["r2"]
    assert ledger.store.list_runs(app="other") == []
    assert ledger.store.count_runs() == 2
    assert ledger.store.run_totals("r1").output == 5
    assert ledger.store.run_totals("nope").requests == 0
    assert first.machine == second.machine == "test-machine"
    assert_totals_match_events(backend)


def test_sessions_of_a_run_and_their_runtime(ledger: Ledger) -> None:
    ledger.start_run("orch", run_id="r1", started_at=T0)
    ledger.update_session(
        "s1", source="sdk", run_id="r1", started_at=T0, ended_at=T0 + timedelta(seconds=90)
    )
    ledger.update_session("s2", source="sdk", run_id="r1", started_at=T0)
    ledger.update_session("s3", source="sdk", started_at=T0 + timedelta(days=3))
    assert ledger.store.session_stats(Filters(), run_id="r1") == (2, 90.0)
    assert ledger.store.session_stats(Filters(), run_id="none") == (0, None)
    later = Filters(since_ms=int((T0 + timedelta(days=1)).timestamp() * 1000))
    assert ledger.store.session_stats(later) == (1, None)
    assert ledger.store.count_sessions(Filters(sources=("sdk",))) == 3
    assert ledger.store.count_sessions(Filters(sources=("codex",))) == 0


# -- cursors --------------------------------------------------------------------------------


def test_cursors_round_trip_with_the_events_they_cover(ledger: Ledger) -> None:
    cursor = Cursor(
        path="/home/dev/.claude/projects/x/a.jsonl",
        source="claude_code",
        device=2049,
        inode=2**40 + 7,
        size=123_456,
        mtime_ns=1_777_000_000_123_456_789,
        offset=120_000,
        line_no=77,
        parser_version=3,
        head_hash="abc",
        memory={"seen": ["m1", "m2"], "n": 2},
    )
    ledger.record_batch([ev("a")], [], [cursor])
    assert ledger.store.cursors() == {cursor.path: cursor}
    moved = replace(cursor, offset=123_456, line_no=80, memory={})
    ledger.record_batch([], [], [moved])
    assert ledger.store.cursors() == {cursor.path: moved}
    assert ledger.store.status().files == 1


def test_cursors_of_some_paths_only(ledger: Ledger) -> None:
    """A statusline reads the cursors of one session's files, not every file's."""
    cursors = [
        Cursor(f"/logs/{n}.jsonl", "claude_code", 1, n, 3, 4, 5, 6, 7, "h") for n in range(5)
    ]
    ledger.record_batch([ev("a")], [], cursors)
    wanted = ["/logs/1.jsonl", "/logs/3.jsonl", "/logs/never-read.jsonl"]
    assert ledger.store.cursors(wanted) == {c.path: c for c in (cursors[1], cursors[3])}
    assert ledger.store.cursors([]) == {}
    assert len(ledger.store.cursors()) == 5


def test_a_failed_batch_leaves_the_ledger_as_it_was(ledger: Ledger) -> None:
    cursor = Cursor("/f", "codex", 1, 2, 3, 4, 5, 6, 7, "h")
    with pytest.raises(RuntimeError), ledger.store.write() as tx:
        tx.insert_entries([Entry(ev("a"), Cost("priced", 5, "v"))])
        tx.put_cursors([cursor])
        raise RuntimeError("killed")
    assert ledger.store.status().events == 0 and ledger.store.cursors() == {}
    assert ledger.store.totals(Filters()).requests == 0


# -- days in time zones ---------------------------------------------------------------------


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_days_in_several_zones(ledger: Ledger) -> None:
    ledger.record_batch(
        [
            ev("a", at=at(2026, 3, 8, 4, 30)),  # 23:30 EST Mar 7; 10:00 IST Mar 8
            ev("b", at=at(2026, 3, 9, 3, 30)),  # 23:30 EDT Mar 8 (a 23-hour day)
            ev("c", at=at(2026, 3, 9, 4, 30)),  # 00:30 EDT Mar 9
            ev("d", at=at(2026, 11, 1, 4, 30)),  # 00:30 EDT Nov 1 (a 25-hour day)
            ev("e", at=at(2026, 11, 2, 4, 30)),  # 23:30 EST Nov 1
            ev("f", at=at(2026, 5, 4, 18, 15)),  # 23:45 IST May 4; 00:00 NPT May 5
            ev("g", at=at(2026, 5, 4, 18, 44)),  # 00:14 IST May 5
        ]
    )
    assert days(ledger, "America/New_York") == [
        ("2026-03-07", 1),
        ("2026-03-08", 1),
        ("2026-03-09", 1),
        ("2026-05-04", 2),
        ("2026-11-01", 2),
    ]
    assert days(ledger, "Asia/Kolkata") == [
        ("2026-03-08", 1),
        ("2026-03-09", 2),
        ("2026-05-04", 1),
        ("2026-05-05", 1),
        ("2026-11-01", 1),
        ("2026-11-02", 1),
    ]
    assert days(ledger, "Asia/Kathmandu") == [  # +05:45
        ("2026-03-08", 1),
        ("2026-03-09", 2),
        ("2026-05-05", 2),
        ("2026-11-01", 1),
        ("2026-11-02", 1),
    ]
    assert days(ledger, "UTC")[2] == ("2026-05-04", 2)
    weekly = period_report(ledger.store, "weekly", query("Europe/Berlin"))
    assert [(r.period, r.figures.requests) for r in weekly.rows] == [
        ("2026-W10", 1),
        ("2026-W11", 2),
        ("2026-W19", 2),
        ("2026-W44", 1),
        ("2026-W45", 1),
    ]


def test_day_totals_turn_offset_segments_into_local_days(ledger: Ledger) -> None:
    ledger.record_batch([ev("a", at=at(2026, 5, 4, 18, 15)), ev("b", at=at(2026, 5, 4, 18, 45))])
    ist = [OffsetSegment(0, 19_800_000)]
    rows = ledger.store.day_totals(Filters(), ist, by_model=False)
    assert [(day_to_date(r.day).isoformat(), r.totals.requests) for r in rows] == [
        ("2026-05-04", 1),
        ("2026-05-05", 1),
    ]
    # a change of offset in the middle of the day moves the second request back a day
    change = int(at(2026, 5, 4, 18, 30).timestamp() * 1000)
    moved = ledger.store.day_totals(
        Filters(), [OffsetSegment(0, 19_800_000), OffsetSegment(change, 0)], by_model=True
    )
    assert [(r.day, r.model, r.totals.requests) for r in moved] == [(moved[0].day, SONNET, 2)]
    zone, _ = resolve_timezone("America/New_York")
    span = ledger.store.time_range(Filters())
    assert span is not None
    segments = offset_segments(zone, span[0] - DAY_MS, span[1] + DAY_MS)
    assert sum(r.totals.requests for r in ledger.store.day_totals(Filters(), segments, False)) == 2
    with pytest.raises(ValueError):
        ledger.store.day_totals(Filters(), [], by_model=False)


def test_filters_and_since_until(ledger: Ledger) -> None:
    ledger.record_batch(
        [ev(f"k{d}", at=at(2026, 5, d, 12), project="/home/dev/webapp") for d in range(1, 8)]
        + [ev("codex", source="codex", model="gpt-5-codex", project="/home/dev/api")]
    )
    assert days(ledger, "UTC", since=date(2026, 5, 3), until=date(2026, 5, 5)) == [
        ("2026-05-03", 1),
        ("2026-05-04", 2),
        ("2026-05-05", 1),
    ]
    assert ledger.store.totals(Filters(sources=("codex",))).requests == 1
    assert ledger.store.totals(Filters(project="dev/web")).requests == 7
    assert ledger.store.totals(Filters(machines=("test-machine",))).requests == 8
    assert ledger.store.totals(Filters(machines=("elsewhere",))).requests == 0
    first, last = ledger.store.time_range(Filters(sources=("codex",))) or (0, 0)
    assert first == last == int(T0.timestamp() * 1000)


# -- sessions -------------------------------------------------------------------------------


def test_session_totals_and_the_session_report(backend: Backend, ledger: Ledger) -> None:
    ledger.record_batch(
        [
            ev("p1", 100, session="main"),
            ev("p2", 7, session="main", model="claude-opus-4-5", at=T0 + timedelta(minutes=1)),
            ev("k1", 40, session="main:agent-a", at=T0 + timedelta(minutes=5)),
            ev("k2", 2, session="main:agent-b", at=T0 + timedelta(minutes=6)),
            ev("c1", source="codex", session="c1", at=T0 + timedelta(days=1)),
        ],
        [
            Session("main", "claude_code", title="Fix login", project="/home/dev/webapp"),
            Session("main:agent-a", "claude_code", parent_key="main", relationship="subagent"),
            Session("main:agent-b", "claude_code", parent_key="main", relationship="subagent"),
            Session("c1", "codex"),
        ],
    )
    per_model = ledger.store.session_totals(Filters(), by_model=True)
    assert sorted((r.session.key, r.model, r.totals.output) for r in per_model) == [
        ("c1", SONNET, 10),
        ("main", "claude-opus-4-5", 7),
        ("main", SONNET, 100),
        ("main:agent-a", SONNET, 40),
        ("main:agent-b", SONNET, 2),
    ]
    family = ledger.store.session_totals(Filters(), by_model=False, family=["main"])
    assert sorted(r.session.key for r in family) == ["main", "main:agent-a", "main:agent-b"]
    assert ledger.store.session_totals(Filters(), by_model=False, family=["nope"]) == []
    both = ledger.store.session_totals(Filters(), by_model=False, family=["c1", "main:agent-a"])
    assert sorted(r.session.key for r in both) == ["c1", "main:agent-a"]
    whole = {r.session.key: r for r in ledger.store.session_totals(Filters(), by_model=False)}
    assert whole["main"].totals.output == 107 and whole["main"].model is None
    assert whole["main"].first_ms == int(T0.timestamp() * 1000)
    assert whole["main"].last_ms == int((T0 + timedelta(minutes=1)).timestamp() * 1000)
    only_codex = ledger.store.session_totals(Filters(sources=("codex",)), by_model=False)
    assert [r.session.key for r in only_codex] == ["c1"]
    # the model column's pairs: a request's model once per session, with its request count
    assert sorted(ledger.store.session_model_requests(Filters())) == [
        ("c1", SONNET, 1),
        ("main", "claude-opus-4-5", 1),
        ("main", SONNET, 1),
        ("main:agent-a", SONNET, 1),
        ("main:agent-b", SONNET, 1),
    ]
    assert ledger.store.session_model_requests(Filters(sources=("codex",))) == [("c1", SONNET, 1)]
    report = session_report(ledger.store, query())
    rows = {row.key: row for row in report.rows}
    assert set(rows) == {"main", "c1"}
    assert rows["main"].figures.output_tokens == 149 and rows["main"].subagent_count == 2
    recent = ledger.store.recent_sessions(Filters(), limit=10)
    assert [r.session.key for r in recent] == ["c1", "main"]
    assert [r.session.key for r in ledger.store.recent_sessions(Filters(), 1, 1)] == ["main"]
    timeline = ledger.store.session_entries(["main", "main:agent-a"])
    assert [e.event.key for e in timeline] == ["p1", "p2", "k1"]
    assert_totals_match_events(backend)


def test_session_totals_by_machine(ledger: Ledger) -> None:
    ledger.record_batch(
        [ev("a", 5, machine="laptop"), ev("b", 7, machine="buildbox"), ev("c", 1, session="s2")]
    )
    rows = ledger.store.session_totals(Filters(machines=("laptop",)), by_model=False)
    # the requests' session keys get rows of their own, filled in when more is known
    assert [(r.session.key, r.totals.output) for r in rows] == [("s1", 5)]
    assert rows[0].session.title is None and rows[0].session.started_at is not None
    ledger.record_batch([], [Session("s1", "claude_code", title="Fix the parser")])
    rows = ledger.store.session_totals(Filters(machines=("laptop",)), by_model=False)
    assert [(r.session.key, r.totals.output) for r in rows] == [("s1", 5)]
    assert rows[0].session.title == "Fix the parser"
    both = ledger.store.session_totals(Filters(machines=("laptop", "buildbox")), by_model=True)
    assert [(r.session.key, r.totals.output) for r in both] == [("s1", 12)]
    assert ledger.store.session_totals(Filters(users=("alice",)), by_model=False) == []
    laptop = ledger.store.session_model_requests(Filters(machines=("laptop",)))
    assert laptop == [("s1", SONNET, 1)]
    ledger.record_batch([ev("d", 3, machine="laptop", model=None), ev("e", 2, machine="laptop")])
    # a request with no model names none; the machine's two Sonnet requests are counted
    assert ledger.store.session_model_requests(Filters(machines=("laptop",))) == [("s1", SONNET, 2)]


# -- team-mode additions --------------------------------------------------------------------


def test_day_totals_by_machine(ledger: Ledger) -> None:
    ledger.record_batch([ev("a", machine="laptop"), ev("b", machine="buildbox"), ev("c")])
    segments = [OffsetSegment(0, 0)]
    rows = ledger.store.day_totals_by(Filters(), segments, "machine")
    assert [(r.group, r.totals.requests) for r in rows] == [
        ("buildbox", 1),
        ("laptop", 1),
        ("test-machine", 1),
    ]
    by_model = ledger.store.day_totals_by(Filters(machines=("laptop",)), segments, "model")
    assert [(r.group, r.model, r.totals.requests) for r in by_model] == [(SONNET, SONNET, 1)]
    report = period_report(ledger.store, "daily", query(breakdown_by="machine"))
    assert [row.as_dict(False)["machine"] for row in report.rows] == [
        "buildbox",
        "laptop",
        "test-machine",
    ]
    assert report.totals.requests == 3


def test_change_tracking_for_push(ledger: Ledger) -> None:
    store = ledger.store
    ledger_id = store.ledger_id()
    assert store.ledger_id() == ledger_id and len(ledger_id) == 32
    ledger.record_batch([ev("a", 1), ev("b", 2)], [Session("s1", "claude_code")])
    new = store.entries_after(0, 10)
    assert [e.event.key for _, e in new] == ["a", "b"]
    assert store.entries_after(new[0][0], 10)[0][1].event.key == "b"
    assert store.entries_after(new[-1][0], 10) == []
    assert store.entries_changed_after(0, 10) == []
    ledger.record_batch([ev("a", 50)])
    changed = store.entries_changed_after(0, 10)
    assert [(e.event.key, e.event.tokens.output) for _, e in changed] == [("a", 50)]
    assert store.entries_changed_after(changed[0][0], 10) == []
    ledger.record_batch([ev("b", 60)])
    assert [e.event.key for _, e in store.entries_changed_after(changed[0][0], 10)] == ["b"]
    sessions = store.sessions_changed_after(0, 10)
    assert [s.key for _, s in sessions] == ["s1"]
    ledger.update_session("s1", title="Renamed")
    again = store.sessions_changed_after(sessions[0][0], 10)
    assert [(s.key, s.title) for _, s in again] == [("s1", "Renamed")]
    ledger.start_run("orch", run_id="r1", started_at=T0)
    runs = store.runs_changed_after(0, 10)
    ledger.update_run("r1", state="stopped", stopped_at=T0)
    later = store.runs_changed_after(runs[-1][0], 10)
    assert [(r.run_id, r.state) for _, r in later] == [("r1", "stopped")]


def test_push_watermarks_never_move_back(ledger: Ledger) -> None:
    store = ledger.store
    assert store.push_watermark("m", "L") == PushWatermark("m", "L")
    with store.write() as tx:
        tx.put_push_watermark(PushWatermark("m", "L", 10, 3, 2, 1, "alice", 1000))
    with store.write() as tx:
        tx.put_push_watermark(PushWatermark("m", "L", 5, 4, 0, 0, "bob", 2000))
        assert tx.get_push_watermark("m", "L") == PushWatermark("m", "L", 10, 4, 2, 1, "bob", 2000)
    assert store.push_watermarks() == [PushWatermark("m", "L", 10, 4, 2, 1, "bob", 2000)]


def test_users_are_a_team_ledger_attribution(backend: Backend, ledger: Ledger) -> None:
    entry = Entry(ev("a"), Cost("priced", 5, "v"), user="alice")
    if backend.kind == "sqlite":
        with pytest.raises(StoreError, match="keeps no users"), ledger.store.write() as tx:
            tx.insert_entries([entry])
        assert ledger.store.totals(Filters(users=("alice",))).requests == 0
        return
    with ledger.store.write() as tx:
        tx.insert_entries([entry, Entry(ev("b"), Cost("priced", 7, "v"))])
    assert ledger.store.totals(Filters(users=("alice",))).cost_micro == 5
    rows = ledger.store.day_totals_by(Filters(), [OffsetSegment(0, 0)], "user")
    assert [(r.group, r.totals.cost_micro) for r in rows] == [(None, 7), ("alice", 5)]
    with ledger.store.write() as tx:
        old = tx.get_entries(["a"])["a"]
        assert old.user == "alice"
        tx.replace_entries([(old, replace(old, user="bob"))])
    assert ledger.store.totals(Filters(users=("bob",))).cost_micro == 5
    assert ledger.store.totals(Filters(users=("alice",))).requests == 0
    assert_totals_match_events(backend)


# -- PostgreSQL only --------------------------------------------------------------------------


def test_postgres_errors_never_show_the_password() -> None:
    from tokentrail.store.postgres import redact_url

    url = "postgresql://pusher:s3cr%40t@127.0.0.1:1/team?sslmode=disable&password=other"
    assert "s3cr" not in redact_url(url) and "other" not in redact_url(url)
    assert redact_url(url).startswith("postgresql://pusher:***@127.0.0.1:1/team")
    with pytest.raises(StoreError) as caught:
        open_store(url)
    assert "s3cr" not in str(caught.value) and "other" not in str(caught.value)
    assert "pusher:***@127.0.0.1:1/team" in str(caught.value)


def test_postgres_backup_points_at_pg_dump(tmp_path: Path) -> None:
    with pgtest.fresh_database() as url, Ledger(url) as ledger:
        with pytest.raises(StoreError, match="pg_dump"):
            ledger.store.backup(tmp_path / "copy.dump")
        assert ledger.store.status().size_bytes


def test_postgres_cursors_are_kept_per_machine() -> None:
    with pgtest.fresh_database() as url:
        cursor = Cursor("/home/dev/a.jsonl", "claude_code", 1, 2, 3, 4, 5, 6, 7, "h")
        laptop_store = open_store(url, machine="laptop")
        other_store = open_store(url, machine="buildbox")
        try:
            with laptop_store.write() as tx:
                tx.put_cursors([cursor])
            assert laptop_store.cursors() == {cursor.path: cursor}
            assert other_store.cursors() == {}
        finally:
            laptop_store.close()
            other_store.close()


def test_nul_characters_are_kept_apart_not_fatal(backend: Backend, ledger: Ledger) -> None:
    """PostgreSQL text cannot hold NUL (SQLite's can): a request, session or run with one is
    still recorded, merged and found under its own key on both backends."""
    key = "claude_code:msg\x00odd"
    ledger.record_batch(
        [ev(key, 1, session="s\x00x", project="/home/\x00dev")],
        [Session("s\x00x", "claude_code", title="a\x00b")],
    )
    again = ledger.record_batch([ev(key, 9, session="s\x00x", project="/home/\x00dev")])
    assert (again.created, again.updated) == (0, 1)
    with ledger.store.write() as tx:
        (entry,) = tx.get_entries([key]).values()
        assert entry.event.key == key and entry.event.tokens.output == 9
        assert set(tx.get_sessions(["s\x00x"])) == {"s\x00x"}
    ledger.start_run("orch\x00", run_id="r\x001", started_at=T0)
    assert set(ledger.store.runs_by_id(["r\x001"])) == {"r\x001"}
    assert ledger.store.totals(Filters(project="\x00dev")).requests == 1
    assert_totals_match_events(backend)


def test_the_sdk_records_runs_sessions_and_attempts(backend: Backend, ledger: Ledger) -> None:
    with (
        ledger.run("orch", reason="deploy") as run,
        run.session("issue-42", issue_id="42", model="gpt-5") as session,
    ):
        assert session.record(event_id="r1", input_tokens=100, output_tokens=20) == "created"
        assert session.record(event_id="r1", input_tokens=100, output_tokens=20) == "duplicate"
        with pytest.raises(RuntimeError), session.attempt() as attempt:
            attempt.record(event_id="lost", input_tokens=1, output_tokens=1)
            raise RuntimeError("the attempt failed")
        with session.attempt() as attempt:
            attempt.record(event_id="kept", input_tokens=5, output_tokens=5)
        session.finish(state="completed", turns=2)
    (row,) = ledger.store.list_runs()
    assert (row.run.state, row.run.reason, row.totals.requests) == ("stopped", "deploy", 2)
    stored = ledger.store.sessions_by_key(["issue-42"])["issue-42"]
    assert (stored.state, stored.turns, stored.run_id) == ("completed", 2, row.run.run_id)
    assert_totals_match_events(backend)


def test_concurrent_writers_never_lose_a_merge(backend: Backend, tmp_path: Path) -> None:
    """Two ledgers (two connections) record overlapping, growing copies of the same requests
    at once; the result is what recording them one after the other gives."""
    import random
    import threading

    rng = random.Random(3)
    batches = [
        [ev(f"k{rng.randrange(60)}", rng.randrange(1, 5000)) for _ in range(40)] for _ in range(30)
    ]
    errors: list[BaseException] = []

    def writer(part: list[list[UsageEvent]]) -> None:
        try:
            with Ledger(backend.location) as mine:
                for batch in part:
                    mine.record_batch(batch)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(batches[i::2],)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with Ledger(tmp_path / "sequential.db") as sequential:
        for batch in batches:
            sequential.record_batch(batch)
        want = {e.event.key: e for b in sequential.store.iter_entries() for e in b}
    with Ledger(backend.location) as ledger:
        got = {e.event.key: e for b in ledger.store.iter_entries() for e in b}
    assert got == want
    assert_totals_match_events(backend)


# -- 5-hour blocks: per-minute usage and official rate limits ---------------------------------


def test_minute_totals_per_minute_and_model_in_a_bounded_range(
    ledger: Ledger, backend: Backend
) -> None:
    from tokentrail.blocks import BlocksQuery, blocks_report

    ledger.record_events(
        [
            ev("m1", 10, at=T0 + timedelta(seconds=5)),
            ev("m2", 20, at=T0 + timedelta(seconds=50)),
            ev("m3", 30, at=T0 + timedelta(seconds=55), model="gpt-5-codex", source="codex"),
            ev("m4", 40, at=T0 + timedelta(minutes=3)),
            ev("old", 50, at=T0 - timedelta(days=3)),
        ]
    )
    since = int(T0.timestamp() * 1000)
    rows = ledger.store.minute_totals(Filters(since_ms=since))
    assert [r.minute for r in rows] == sorted(r.minute for r in rows)
    first = next(r for r in rows if r.model == SONNET)
    assert (first.first_ms, first.last_ms) == (since + 5_000, since + 50_000)
    assert {(r.minute - since // 60_000, r.model, r.totals.requests) for r in rows} == {
        (0, SONNET, 2),
        (0, "gpt-5-codex", 1),
        (3, SONNET, 1),
    }
    only_codex = ledger.store.minute_totals(Filters(since_ms=since, sources=("codex",)))
    assert [r.model for r in only_codex] == ["gpt-5-codex"]
    assert ledger.store.minute_totals(Filters(since_ms=since, until_ms=since)) == []
    report = blocks_report(
        ledger.store,
        BlocksQuery(zone=UTC, zone_name="UTC", since_ms=0),
        now=T0 + timedelta(days=1),
    )
    assert [r.figures.requests for r in report.rows] == [1, 4]


def test_rate_limits_are_stored_once_and_read_by_time(ledger: Ledger, backend: Backend) -> None:
    from tokentrail.ratelimits import RateLimitSnapshot

    t = int(T0.timestamp() * 1000)
    snapshots = [
        RateLimitSnapshot("codex", "primary", t, 7.0, 300, t + 3_600_000, "s1"),
        RateLimitSnapshot("codex", "secondary", t, 61.5, 10080, None, "s1"),
        RateLimitSnapshot("codex", "primary", t + 60_000, 9.0, 300, t + 3_600_000, "s1"),
    ]
    ledger.record_batch([], rate_limits=snapshots)
    ledger.record_batch([], rate_limits=snapshots)  # again: nothing new
    stored = ledger.store.rate_limits(Filters())
    assert [(s.window, s.used_percent) for s in stored] == [
        ("primary", 7.0),
        ("secondary", 61.5),
        ("primary", 9.0),
    ]
    assert stored[0].machine == ledger.machine
    assert stored[1].resets_at_ms is None and stored[1].window_minutes == 10080
    later = ledger.store.rate_limits(Filters(since_ms=t + 1))
    assert [s.used_percent for s in later] == [9.0]
    assert ledger.store.rate_limits(Filters(sources=("claude_code",))) == []


def test_tool_calls_from_logs_join_their_results(backend: Backend, ledger: Ledger) -> None:
    from tokentrail.store.base import Filters
    from tokentrail.usage import ToolCall, ToolResult

    t0 = int(datetime(2026, 5, 4, 10, tzinfo=UTC).timestamp() * 1000)
    ledger.record_batch(
        [ev("k1", session="s1")],
        [Session(key="s1", source="claude_code", project="/home/dev/webapp")],
        tool_calls=[
            ToolCall("cc:call:1", "claude_code", "Edit", t0, "s1", lines_added=3, from_log=True),
            ToolCall("cc:call:2", "claude_code", "Bash", t0 + 10, "s1", from_log=True),
        ],
    )
    # the results arrive with a later batch (the next sync of a growing file)
    ledger.record_batch(
        [],
        tool_calls=[
            ToolResult("cc:call:1", "claude_code", t0 + 1500, True, "s1"),
            ToolResult("cc:call:2", "claude_code", t0 + 4010, False, "s1"),
            # a replay of the call (a resumed session) changes nothing
            ToolCall("cc:call:1", "claude_code", "Edit", t0 + 99, "s2", from_log=True),
        ],
    )
    # an OpenTelemetry copy of a call of the same session is not counted twice
    with ledger.store.write() as tx:
        tx.put_tool_calls([ToolCall("cc:tool:x", "claude_code", "Edit", t0, "s1", 5, True)])
    rows = ledger.store.tool_call_rows(Filters())
    assert [
        (r.tool_name, r.session_key, r.duration_ms, r.success, r.lines_added) for r in rows
    ] == [
        ("Edit", "s1", 1500, True, 3),
        ("Bash", "s1", 4000, False, None),
    ]
    assert ledger.store.tool_call_rows(Filters(project="webapp"), ["s1"])[0].tool_name == "Edit"
    assert ledger.store.tool_call_rows(Filters(project="elsewhere")) == []
    assert ledger.store.tool_call_rows(Filters(since_ms=t0 + 5)) == rows[1:]
    # the OTLP reconciliation still sees only what OTLP reported
    assert [(t.tool_name, t.calls) for t in ledger.store.tool_call_stats(Filters())] == [
        ("Edit", 1)
    ]


def test_tool_rows_and_rate_limits_are_tracked_for_push(ledger: Ledger) -> None:
    from tokentrail.ratelimits import RateLimitSnapshot
    from tokentrail.usage import ToolCall, ToolResult

    store = ledger.store
    t = int(T0.timestamp() * 1000)
    edit = ToolCall("cc:1", "claude_code", "Edit", t, "s1", lines_added=2, lines_removed=1)
    edit = replace(edit, model=SONNET, from_log=True)
    bash = ToolCall("cc:2", "claude_code", "Bash", t + 10, "s1", from_log=True)
    limit = RateLimitSnapshot("codex", "primary", t, 7.0, 300, t + 3_600_000, "s2")
    ledger.record_batch([], tool_calls=[edit, bash], rate_limits=[limit])
    calls = store.tool_calls_changed_after(0, 10)
    mine = replace(edit, machine=ledger.machine)
    assert [c for _, c in calls] == [mine, replace(bash, machine=ledger.machine)]
    assert calls[0][0] < calls[1][0]
    assert store.tool_calls_changed_after(0, 1) == calls[:1]
    assert store.tool_calls_changed_after(calls[0][0], 10) == calls[1:]
    (limits,) = store.rate_limits_changed_after(0, 10)
    assert limits[1] == limit.with_machine(ledger.machine)
    assert store.tool_results_changed_after(0, 10) == []
    # read again from a log (a resumed session): nothing new to push
    ledger.record_batch([], tool_calls=[edit, bash], rate_limits=[limit])
    assert store.tool_calls_changed_after(calls[-1][0], 10) == []
    assert store.rate_limits_changed_after(limits[0], 10) == []
    # the result arrives with a later sync; an OpenTelemetry call sent twice is pushed twice
    failed = ToolResult("cc:2", "claude_code", t + 4010, False, "s1")
    ledger.record_batch([], tool_calls=[failed])
    (result,) = store.tool_results_changed_after(0, 10)
    assert result[1] == replace(failed, machine=ledger.machine)
    otlp = ToolCall("cc:tool:x", "claude_code", "Read", t, "s3", 5, True)
    with store.write() as tx:
        tx.put_tool_calls([otlp])
    with store.write() as tx:
        tx.put_tool_calls([replace(otlp, duration_ms=7)])
    later = store.tool_calls_changed_after(calls[-1][0], 10)
    assert [(c.key, c.duration_ms, c.from_log) for _, c in later] == [("cc:tool:x", 7, False)]


def test_push_watermarks_keep_tool_rows_and_rate_limits_apart(ledger: Ledger) -> None:
    store = ledger.store
    first = PushWatermark("m", "L", tool_call_change=5, tool_result_change=2, rate_limit_change=9)
    with store.write() as tx:
        tx.put_push_watermark(first)
    with store.write() as tx:
        tx.put_push_watermark(replace(first, tool_call_change=3, tool_result_change=4))
    assert store.push_watermark("m", "L") == replace(first, tool_result_change=4)


def test_postgres_tool_rows_written_before_push_tracking_are_numbered() -> None:
    import psycopg

    from tokentrail.store.postgres_migrations import POSTGRES_MIGRATIONS

    names = [name for name, _ in POSTGRES_MIGRATIONS]
    with pgtest.fresh_database() as url:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE TABLE _migrations (name TEXT PRIMARY KEY, applied_at TIMESTAMPTZ)")
            for name, sql in POSTGRES_MIGRATIONS[: names.index("0005_push_tool_rows")]:
                for statement in sql.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute("INSERT INTO _migrations (name) VALUES (%s)", (name,))
            conn.execute(
                "INSERT INTO tool_calls (call_key, source, tool_name, ts_ms, machine, origin) "
                "VALUES ('c1', 'claude_code', 'Edit', 10, 'm', 'log'), "
                "('c2', 'claude_code', 'Bash', 5, 'm', 'log')"
            )
            conn.execute(
                "INSERT INTO rate_limits (source, machine, limit_window, observed_ms, "
                "used_percent) VALUES ('codex', 'm', 'secondary', 200, 61.0), "
                "('codex', 'm', 'primary', 100, 7.0)"
            )
        store = open_store(url)
        try:
            calls = store.tool_calls_changed_after(0, 10)
            assert [(s, c.key) for s, c in calls] == [(1, "c2"), (2, "c1")]  # in time order
            limits = store.rate_limits_changed_after(0, 10)
            assert [(s, r.window) for s, r in limits] == [(1, "primary"), (2, "secondary")]
            assert store.tool_results_changed_after(0, 10) == []
        finally:
            store.close()


def test_a_retracted_event_leaves_every_total_and_never_comes_back(
    backend: Backend, ledger: Ledger
) -> None:
    forged = ev("sdk:forged", 5_000_000, source="sdk", run_id=None, session="s1")
    ledger.record_batch([ev("a", 10), ev("b", 20, session="s2"), forged])
    assert ledger.store.totals(Filters()).output == 5_000_030
    assert ledger.retract(["sdk:forged", "nothing:here"], "forged through the API") == [
        "sdk:forged"
    ]
    status = ledger.store.status()
    assert (status.events, status.retracted) == (2, 1)
    assert ledger.store.totals(Filters()).output == 30
    assert period_report(ledger.store, "daily", query()).totals.output_tokens == 30
    rows = {
        row.key: row.figures.output_tokens for row in session_report(ledger.store, query()).rows
    }
    assert rows == {"s1": 10, "s2": 20}
    assert_totals_match_events(backend)
    # the row is kept, with when and why, and is never recorded again: a resent batch or a
    # re-read log only counts a duplicate
    ((reason, kept),) = backend.rows("SELECT reason, event FROM retractions")
    assert reason == "forged through the API" and '"output":5000000' in kept
    again = ledger.record_batch([forged, ev("c", 1)])
    assert (again.created, again.duplicates) == (1, 1)
    assert ledger.record_events([forged]) == ["duplicate"]
    assert ledger.store.totals(Filters()).output == 31
    assert ledger.retract(["sdk:forged"], "twice") == []
    with pytest.raises(InvalidUsage):
        ledger.retract(["a"], "  ")
    assert_totals_match_events(backend)


def test_a_ledger_from_a_newer_tokentrail_is_never_written(backend: Backend) -> None:
    with Ledger(backend.location) as ledger:
        ledger.record_batch([ev("a", 10)])
        known = len(ledger.store.status().migrations)
    if backend.kind == "postgres":
        pgtest.query(
            backend.location, "INSERT INTO _migrations (name) VALUES ('9999_from_the_future')"
        )
    else:
        conn = sqlite3.connect(backend.location)
        conn.execute("INSERT INTO _migrations (name) VALUES ('9999_from_the_future')")
        conn.commit()
        conn.close()
    with Ledger(backend.location) as ledger:
        assert ledger.store.totals(Filters()).output == 10  # reads still work
        with pytest.raises(LedgerTooNew) as refused:
            ledger.record_batch([ev("b", 20)])
        assert f"newer tokentrail (schema {known + 1} > {known}); upgrade" in str(refused.value)
        with pytest.raises(LedgerTooNew):
            ledger.start_run("app")
        assert ledger.store.totals(Filters()).output == 10


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://pusher:s3cr3t@[::1/team",  # an IPv6 host left open: urlsplit refuses it
        "postgresql://pusher:s3cr3t@[::1/team?password=0th3r",
        "postgresql://pusher:s3cr3t@127.0.0.1:notaport/team",
        "postgresql://pusher:s3cr3t@127.0.0.1:1/team?x&password=0th3r",
    ],
)
def test_a_malformed_postgres_url_never_shows_its_password(url: str) -> None:
    from tokentrail.store.postgres import redact_url

    shown = redact_url(url)
    assert "s3cr3t" not in shown and "0th3r" not in shown and "pusher:***@" in shown
    with pytest.raises(StoreError) as caught:
        open_store(url)
    assert "s3cr3t" not in str(caught.value) and "0th3r" not in str(caught.value)
    result = CliRunner().invoke(cli, ["db", "status", "-d", url])
    assert result.exit_code != 0 and "pusher:***@" in result.output
    assert "s3cr3t" not in result.output and "0th3r" not in result.output


def test_sessions_of_a_crashed_run_are_closed_as_crashed(ledger: Ledger) -> None:
    crashed = ledger.start_run("orch", started_at=T0)
    ledger.update_session("busy", run_id=crashed.run_id, started_at=T0, state="running")
    ledger.update_session("idle", run_id=crashed.run_id, started_at=T0 + timedelta(minutes=1))
    ledger.update_session(
        "done", run_id=crashed.run_id, started_at=T0, state="completed", ended_at=T0
    )
    last = T0 + timedelta(minutes=9)
    ledger.record_batch(
        [ev("b1", session="busy", at=T0 + timedelta(minutes=2)), ev("b2", session="busy", at=last)]
    )
    ledger.start_run("orch", reason="restart after crash")
    with ledger.store.write() as tx:
        found = tx.get_sessions(["busy", "idle", "done"])
    assert (found["busy"].state, found["busy"].ended_at) == ("crashed", last)
    assert (found["idle"].state, found["idle"].ended_at) == ("crashed", T0 + timedelta(minutes=1))
    assert (found["done"].state, found["done"].ended_at) == ("completed", T0)  # untouched


def test_active_time_leaves_idle_gaps_out(ledger: Ledger) -> None:
    minutes = [0, 4, 10, 90, 91]  # the 80-minute gap is idle at a 15-minute threshold
    ledger.record_batch(
        [ev(f"a{m}", session="s1", at=T0 + timedelta(minutes=m)) for m in minutes]
        + [ev("b", session="s2")]
    )
    found = ledger.store.active_ms(["s1", "s2", "none"], 15 * 60_000)
    assert found == {"s1": (4 + 6 + 1) * 60_000, "s2": 0}


SCHEMA_DIFFERENCES: dict[str, tuple[set[str], set[str]]] = {
    # table: (columns only SQLite has, columns only PostgreSQL has)
    "events": (set(), {"user_name"}),
    "rollups": (set(), {"user_name"}),
    "rollups_daily": (set(), {"user_name"}),
    "lifetime_rollups": (set(), {"user_name"}),
    "session_totals": (set(), {"machine", "user_name"}),
    "sessions": (set(), {"change_seq"}),  # SQLite keeps it in session_changes
    "runs": (set(), {"change_seq"}),  # SQLite keeps it in run_changes
    "cursors": ({"offset"}, {"machine", "byte_offset"}),  # OFFSET is reserved in PostgreSQL
}
"""Where a team ledger's schema differs from a local one's on purpose (see dialect.py)."""
SQLITE_ONLY_TABLES = {
    "rollups_hourly",
    "session_changes",
    "run_changes",
    "report_cache",
    "sync_walk",
}
"""Tables a local ledger has alone: the hourly rollups, change sequences of their own, the
reports kept per generation (see tokentrail.store.report_cache), what the last full sync saw
(see tokentrail.sync_walk: the quick answer of a sync reads SQLite ledgers only)."""


def test_both_engines_migrate_to_the_same_schema(tmp_path: Path) -> None:
    """The two migration histories are kept in step: every table and column one engine has,
    the other has too, but for the differences a team ledger needs."""
    lite_db = tmp_path / "ledger.db"
    with Ledger(lite_db):
        pass
    conn = sqlite3.connect(lite_db)
    try:
        tables = [
            row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        ]
        lite = {t: {row[1] for row in conn.execute(f"PRAGMA table_info({t})")} for t in tables}
    finally:
        conn.close()
    with pgtest.fresh_database() as url:
        with Ledger(url):
            pass
        team: dict[str, set[str]] = {}
        for table, column in pgtest.query(
            url,
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = 'public'",
        ):
            team.setdefault(table, set()).add(column)
    assert set(lite) - SQLITE_ONLY_TABLES == set(team)
    for table, columns in team.items():
        only_lite, only_team = SCHEMA_DIFFERENCES.get(table, (set(), set()))
        assert (lite[table] - columns, columns - lite[table]) == (only_lite, only_team), table


def test_dashboard_session_views_agree_on_both_engines(backend: Backend, ledger: Ledger) -> None:
    from tokentrail.store.base import SessionPageQuery

    day = timedelta(days=1)
    ledger.record_batch(
        [
            ev("a1", at=T0, session="a"),
            ev("a2", at=T0 + timedelta(hours=1), session="a"),
            ev("sub1", at=T0, session="a:sub", model="claude-opus-4-1-20250805"),
            ev("b1", at=T0 + 2 * day, session="b", source="codex", model="gpt-5"),
        ],
        [
            Session(key="a", source="claude_code", title="Alpha", started_at=T0, ended_at=T0),
            Session(key="a:sub", source="claude_code", parent_key="a", relationship="subagent"),
            Session(key="b", source="codex", title="Beta", started_at=T0 + 2 * day),
            Session(key="idle", source="codex", started_at=T0 + 5 * day),
        ],
    )
    store = ledger.store
    start = int(T0.timestamp() * 1000)
    utc = [OffsetSegment(start_ms=0, offset_ms=0)]
    assert store.group_names("source") == ["claude_code", "codex"]
    page = store.session_page(
        SessionPageQuery(filters=Filters(until_ms=start + DAY_MS), sort="title", descending=False)
    )
    assert [(r.session.key, r.subagents, r.totals.requests, r.own.requests) for r in page.rows] == [
        ("a", 1, 3, 2)
    ]
    assert page.runtime_ms == 3_600_000  # first to last request, the subagent's with them
    opus = store.session_page(SessionPageQuery(models=("claude-opus-4-1-20250805",)))
    assert [r.session.key for r in opus.rows] == ["a"]
    first = start // DAY_MS
    assert store.session_day_counts(Filters(), utc) == [(first, 1), (first + 2, 1)]  # not idle
    window = Filters(since_ms=start + DAY_MS, until_ms=start + 3 * DAY_MS)
    assert store.session_day_counts(window, utc) == [(first + 2, 1)]
    with pytest.raises(ValueError, match="cannot sort sessions by"):
        store.session_page(SessionPageQuery(sort="colour"))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least one UTC offset segment"):
        store.session_day_counts(Filters(), [])
    assert store.check() == []
    if backend.kind == "postgres":
        with pytest.raises(StoreError, match="pg_dump"):
            store.backup(Path("copy.dump"))


def test_sessions_sort_by_the_runtime_their_rows_show(ledger: Ledger) -> None:
    """``sort="runtime"`` orders by the span a row shows (reports.counting.session_runtime): a
    session read from logs by its first to its last request, whatever start and end it carries;
    one an orchestrator closed by its recorded start and end. The page's runtime sums those
    spans."""
    from tokentrail.reports.sessions import session_page_report

    ledger.record_batch(
        [
            ev("a1", session="logs-long-record"),
            ev("a2", session="logs-long-record", at=T0 + timedelta(minutes=5)),
            ev("b1", session="logs-two-hours"),
            ev("b2", session="logs-two-hours", at=T0 + timedelta(hours=2)),
            ev("c1", session="closed-one-hour"),
            ev("c2", session="closed-one-hour", at=T0 + timedelta(minutes=3)),
        ],
        [
            # a log session whose start and end span 10 h (its file's first and last line)
            Session(
                key="logs-long-record",
                source="claude_code",
                started_at=T0 - timedelta(hours=9),
                ended_at=T0 + timedelta(hours=1),
            ),
            Session(key="logs-two-hours", source="claude_code"),
            Session(
                key="closed-one-hour",
                source="sdk",
                state="completed",
                started_at=T0,
                ended_at=T0 + timedelta(hours=1),
            ),
        ],
    )
    page = session_page_report(ledger.store, query(), sort="runtime", descending=True)
    shown = [(r.session.key, r.runtime.span_seconds if r.runtime else None) for r in page.rows]
    assert shown == [
        ("logs-two-hours", 7200.0),
        ("closed-one-hour", 3600.0),
        ("logs-long-record", 300.0),
    ]
    assert page.runtime_seconds == 7200 + 3600 + 300
    ascending = session_page_report(ledger.store, query(), sort="runtime", descending=False)
    assert [r.session.key for r in ascending.rows] == [k for k, _ in reversed(shown)]


def test_a_session_list_holds_the_sessions_of_the_one_count(ledger: Ledger) -> None:
    """The page of sessions (dashboard, export, API) lists what session_counts counts: a
    subagent of a parent that made no request is a session of its own, a session without a
    request is left out unless asked for, and a time range keeps a session by its last
    request."""
    from tokentrail.reports.counting import session_counts

    ledger.record_batch(
        [
            ev("k1", session="quiet:agent-1"),
            ev("k2", session="quiet:agent-2", at=T0 + timedelta(hours=1)),
            ev("m1", session="main", at=T0 - timedelta(days=2)),
            ev("m2", session="main", at=T0 + timedelta(days=1)),
            ev("m3", session="main:agent-1"),
        ],
        [
            Session(key="quiet", source="sdk", started_at=T0),  # its subagents did the work
            *(
                Session(key=k, source="sdk", parent_key=p, relationship="subagent")
                for k, p in (
                    ("quiet:agent-1", "quiet"),
                    ("quiet:agent-2", "quiet"),
                    ("main:agent-1", "main"),
                )
            ),
            Session(key="main", source="claude_code"),
            Session(key="idle", source="sdk", started_at=T0),
        ],
    )
    store = ledger.store
    ms = int(T0.timestamp() * 1000)
    for filters in (Filters(), Filters(since_ms=ms - DAY_MS, until_ms=ms + DAY_MS)):
        counts = session_counts(store, filters)
        page = store.session_page(SessionPageQuery(filters=filters))
        every = store.session_page(SessionPageQuery(filters=filters, without_usage=True))
        assert page.total == counts.sessions, filters
        assert every.total == counts.sessions + counts.sessions_without_usage, filters
    listed = store.session_page(SessionPageQuery(without_usage=True))
    assert {r.session.key for r in listed.rows} == {
        "quiet:agent-1",
        "quiet:agent-2",
        "main",
        "quiet",
        "idle",
    }
    main = next(r for r in listed.rows if r.session.key == "main")
    assert main.totals.requests == 3 and main.subagents == 1
    # "main" ran across the range (last request a day after it): left out of it, as counted
    ranged = store.session_page(
        SessionPageQuery(filters=Filters(since_ms=ms - DAY_MS, until_ms=ms + DAY_MS))
    )
    assert {r.session.key for r in ranged.rows} == {"quiet:agent-1", "quiet:agent-2"}


def test_subagents_of_lists_the_subagents_with_usage_rolled_up_on_each(ledger: Ledger) -> None:
    ledger.record_batch(
        [ev("p", session="p"), ev("k1", session="p:k1"), ev("k2", session="p:k2")],
        [
            Session("p", "claude_code"),
            Session("p:k1", "claude_code", parent_key="p", relationship="subagent"),
            Session("p:k2", "claude_code", parent_key="p", relationship="subagent"),
            Session("p:idle", "claude_code", parent_key="p", relationship="subagent"),
            Session("p:fork", "claude_code", parent_key="p", relationship="fork"),
        ],
    )
    assert ledger.store.subagents_of(["p", "other"]) == {"p": ["p:k1", "p:k2"]}
    assert ledger.store.subagents_of([]) == {}
