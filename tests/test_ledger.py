"""The ledger's write path: merging repeated records, pricing, rollups kept in step."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tokentrail.ledger import Ledger
from tokentrail.store.base import MEASURES, Filters
from tokentrail.usage import Session, Tokens, UsageEvent

T0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)


def ev(
    key: str,
    output: int,
    *,
    at: datetime = T0,
    session: str = "s1",
    rank: str = "0|",
    model: str = "claude-sonnet-4-5-20250929",
    **kw: object,
) -> UsageEvent:
    return UsageEvent(
        key=key,
        source="claude_code",
        timestamp=at,
        model=model,
        provider="anthropic",
        tokens=Tokens(input=100, cache_read=1000, cache_write_5m=0, output=output),
        session_key=session,
        rank=rank,
        **kw,  # type: ignore[arg-type]
    )


def rollup_matches_events(db: Path) -> None:
    """Rollups and session totals must equal sums recomputed from the raw events."""
    conn = sqlite3.connect(db)
    rolled = conn.execute(
        "SELECT SUM(requests), SUM(input), SUM(output), SUM(cost_micro) FROM rollups"
    ).fetchone()
    raw = conn.execute(
        "SELECT COUNT(*), SUM(COALESCE(input,0)), SUM(COALESCE(output,0)), "
        "SUM(COALESCE(cost_micro,0)) FROM events"
    ).fetchone()
    per_session = conn.execute("SELECT SUM(requests), SUM(output) FROM session_totals").fetchone()
    conn.close()
    assert rolled == raw
    assert per_session == (raw[0], raw[2])


def test_recording_twice_changes_nothing(db_path: Path) -> None:
    with Ledger(db_path) as ledger:
        first = ledger.record_batch([ev("a", 10), ev("b", 20)])
        second = ledger.record_batch([ev("a", 10), ev("b", 20)])
    assert (first.created, first.duplicates) == (2, 0)
    assert (second.created, second.updated, second.duplicates) == (0, 0, 2)
    rollup_matches_events(db_path)


def test_a_growing_snapshot_replaces_the_smaller_one_and_keeps_first_timestamp(
    db_path: Path,
) -> None:
    with Ledger(db_path) as ledger:
        ledger.record_batch([ev("a", 1, at=T0)])
        outcome = ledger.record_batch([ev("a", 400, at=T0 + timedelta(seconds=9))])
        entries = ledger.store.iter_entries()
        (entry,) = next(entries)
    assert outcome.updated == 1
    assert entry.event.tokens.output == 400
    assert entry.event.timestamp == T0
    assert entry.cost.micro_usd is not None and entry.cost.micro_usd > 0
    rollup_matches_events(db_path)


def test_main_thread_copy_wins_attribution_in_either_order(tmp_path: Path) -> None:
    main = ev("m", 50, session="parent", rank="0|2026-05-04T09:00:00Z|")
    replay = ev("m", 50, session="parent:agent-1", rank="1|2026-05-04T09:10:00Z|")
    owners = []
    for order, name in (((main, replay), "one.db"), ((replay, main), "two.db")):
        with Ledger(tmp_path / name) as ledger:
            for item in order:
                ledger.record_batch([item])
            (entry,) = next(ledger.store.iter_entries())
            owners.append(entry.event.session_key)
        rollup_matches_events(tmp_path / name)
    assert owners == ["parent", "parent"]


def test_sessions_merge_their_partial_views(db_path: Path) -> None:
    with Ledger(db_path) as ledger:
        ledger.record_batch([], [Session("s1", "codex", started_at=T0, ended_at=T0)])
        ledger.record_batch(
            [], [Session("s1", "codex", title="Fix login", ended_at=T0 + timedelta(hours=1))]
        )
        with ledger.store.write() as tx:
            session = tx.get_sessions(["s1"])["s1"]
    assert session.title == "Fix login"
    assert (session.started_at, session.ended_at) == (T0, T0 + timedelta(hours=1))


def test_unknown_model_is_stored_unpriced_and_counted(db_path: Path) -> None:
    with Ledger(db_path) as ledger:
        ledger.record_batch([ev("x", 10, model="acme-coder-9000")])
        from tokentrail.store.base import Filters

        (unpriced,) = ledger.store.unpriced_models(Filters())
    assert unpriced.model == "acme-coder-9000"
    assert unpriced.requests == 1 and unpriced.tokens == 1110


def test_reprice_applies_a_new_override_and_reports_the_difference(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    db = tmp_path / "ledger.db"
    with Ledger(db) as ledger:
        ledger.record_batch([ev("x", 1_000_000, model="acme-coder-9000")])
    config.write_text('[[prices]]\nmodel = "acme-*"\ninput = 1\noutput = 2\n')
    from tokentrail.config import load_config

    with Ledger(db, config=load_config(config)) as ledger:
        preview = ledger.reprice(dry_run=True)
        assert next(ledger.store.iter_entries())[0].cost.micro_usd is None
        applied = ledger.reprice(dry_run=False)
        (entry,) = next(ledger.store.iter_entries())
        again = ledger.reprice(dry_run=False)
    assert preview == applied
    (change,) = applied
    assert (change.old_unpriced, change.new_unpriced) == (1, 0)
    # 1,100 input-side tokens at $1/M (no cache prices: charged as input) + 1M output at $2/M
    assert change.new_micro == entry.cost.micro_usd == 2_001_100
    assert again == []
    rollup_matches_events(db)


def test_reprice_fills_in_cache_savings_of_requests_priced_before_they_were_kept(
    db_path: Path,
) -> None:
    with Ledger(db_path) as ledger:
        ledger.record_batch([ev("a", 5)])  # 1,000 cache reads
    conn = sqlite3.connect(db_path)
    with conn:  # a request recorded by a tokentrail that did not keep savings yet
        conn.execute("UPDATE events SET cache_saving_micro = NULL")
        for table in (
            "rollups",
            "rollups_hourly",
            "rollups_daily",
            "lifetime_rollups",
            "session_totals",
            "run_totals",
        ):
            conn.execute(f"UPDATE {table} SET cache_saving_micro = 0, n_cache_saving = 0")
    conn.close()
    with Ledger(db_path) as ledger:
        assert ledger.store.totals(Filters()).n_cache_saving == 0
        ledger.reprice(dry_run=False)
        totals = ledger.store.totals(Filters())
    assert totals.n_cache_saving == 1 and totals.cache_saving_micro > 0
    rollup_matches_events(db_path)


def test_measures_cover_every_rollup_column(db_path: Path) -> None:
    with Ledger(db_path) as ledger:
        ledger.record_batch([ev("a", 5)])
    conn = sqlite3.connect(db_path)
    columns = [row[1] for row in conn.execute("PRAGMA table_info(rollups)")]
    conn.close()
    assert columns[5:] == list(MEASURES)


def test_a_long_title_is_cut_so_no_conversation_is_stored_through_it(db_path: Path) -> None:
    pasted = "Please refactor this: " + "x = compute(y)\n" * 500
    with Ledger(db_path) as ledger:
        ledger.record_batch([], [Session("s1", "claude_code", title=pasted)])
        ledger.update_session("s2", title=pasted)
        with ledger.store.write() as tx:
            titles = [s.title or "" for s in tx.get_sessions(["s1", "s2"]).values()]
    assert all(len(t) == 200 and t.endswith("…") for t in titles)


def test_web_searches_are_counted_and_priced_per_search(db_path: Path) -> None:
    with Ledger(db_path) as ledger:
        ledger.record_batch([ev("plain", 50)])
        # streamed: the first snapshot has not counted the searches yet
        ledger.record_batch([ev("search", 50, web_searches=0)])
        ledger.record_batch([ev("search", 60, web_searches=3)])
        with ledger.store.write() as tx:
            entries = tx.get_entries(["plain", "search"])
        totals = ledger.store.totals(Filters())
    plain, search = entries["plain"], entries["search"]
    assert search.event.web_searches == 3 and plain.event.web_searches is None
    tokens_only = ev("x", 60)  # same tokens as the final snapshot, no searches
    with Ledger(db_path) as ledger:
        token_cost = ledger.pricer.price(tokens_only).micro_usd
    assert token_cost is not None
    assert search.cost.micro_usd == token_cost + 3 * 10_000  # $10 per 1,000 searches
    assert (totals.web_searches, totals.unpriced_web_searches) == (3, 0)
    rollup_matches_events(db_path)


def test_web_searches_without_a_known_price_make_the_cost_a_floor(db_path: Path) -> None:
    from tokentrail.figures import UsageFigures

    gateway = UsageEvent(
        key="gw",
        source="claude_code",
        timestamp=T0,
        model="claude-sonnet-4-5-20250929",
        provider=None,  # a third-party gateway: its per-search price is unknown
        tokens=Tokens(input=100, output=10),
        session_key="s1",
        web_searches=2,
    )
    with Ledger(db_path) as ledger:
        ledger.record_batch([gateway, ev("anthropic", 10, web_searches=1)])
        figures = UsageFigures.from_totals(ledger.store.totals(Filters()))
    assert (figures.web_searches, figures.unpriced_web_searches) == (3, 2)
    assert figures.cost_usd is not None and figures.cost_is_floor
    assert figures.unpriced_requests == 0


def test_a_copy_read_again_fills_in_the_searches_an_older_read_did_not_keep(
    db_path: Path,
) -> None:
    with Ledger(db_path) as ledger:
        ledger.record_batch([ev("old", 50)])  # recorded before searches were read
        ledger.record_batch([ev("old", 50, web_searches=2)])  # the same line, read again
        assert ledger.store.totals(Filters()).web_searches == 2
    rollup_matches_events(db_path)
