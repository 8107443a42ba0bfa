"""5-hour blocks (tokentrail.blocks) on real ledgers: boundaries, gaps, midnight and DST,
active vs finished, unpriced models, and Codex's official rate limits read from a rollout."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

import pgtest
from builders import codex_file, codex_meta, codex_turn, write_jsonl
from tokentrail.blocks import BlocksQuery, active_block, blocks_report, build_blocks
from tokentrail.cli import cli
from tokentrail.ledger import Ledger
from tokentrail.server.app import create_app
from tokentrail.sync import sync
from tokentrail.usage import Tokens, UsageEvent

SONNET = "claude-sonnet-4-5-20250929"
UTC_QUERY = BlocksQuery(zone=UTC, zone_name="UTC", since_ms=0)


@pytest.fixture(params=pgtest.BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The engine a test's own ledger is on."""
    return str(request.param)


@pytest.fixture(params=pgtest.BACKENDS)
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Ledger]:
    with pgtest.ledger_on(request.param, tmp_path / "ledger.db") as opened:
        yield opened


def request(
    key: str, at: datetime, *, output: int = 1000, model: str = SONNET, source: str = "claude_code"
) -> UsageEvent:
    return UsageEvent(
        key=key,
        source=source,
        timestamp=at,
        model=model,
        provider="anthropic",
        tokens=Tokens(input=100, cache_read=2000, cache_write_5m=0, output=output),
        session_key="s1",
    )


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def starts(report: Any) -> list[str]:
    return [report.iso(row.start_ms) for row in report.rows]


def test_no_data_gives_no_blocks(ledger: Ledger) -> None:
    report = blocks_report(ledger.store, UTC_QUERY, now=at("2026-05-04T12:00:00+00:00"))
    assert report.rows == []
    assert report.as_dict()["rows"] == []
    assert report.as_dict()["totals"]["total_tokens"] is None  # nothing reported, not 0


def test_one_request_has_a_block_but_no_rate(ledger: Ledger) -> None:
    ledger.record_events([request("a", at("2026-05-04T09:47:12+00:00"))])
    report = blocks_report(ledger.store, UTC_QUERY, now=at("2026-05-04T10:00:00+00:00"))
    (row,) = report.as_dict()["rows"]
    assert row["start"] == "2026-05-04T09:00:00+00:00"  # floored to the hour
    assert row["end"] == "2026-05-04T14:00:00+00:00"
    assert row["active"] is True
    assert row["requests"] == 1
    assert row["total_tokens"] == 3100
    assert row["burn_rate"] is None  # one instant: no rate, shown as missing
    assert row["projection"] is None


def test_end_and_gap_start_new_blocks(ledger: Ledger) -> None:
    times = [
        "2026-05-04T09:10:00",  # block 09:00-14:00
        "2026-05-04T11:00:00",
        "2026-05-04T13:59:59",  # still inside
        "2026-05-04T14:00:00",  # at the end: new block 14:00-19:00
        "2026-05-05T02:30:00",  # after a gap of 12.5 h: new block at 02:00
    ]
    ledger.record_events([request(f"k{i}", at(t + "+00:00")) for i, t in enumerate(times)])
    report = blocks_report(ledger.store, UTC_QUERY, now=at("2026-05-06T00:00:00+00:00"))
    assert starts(report) == [
        "2026-05-04T09:00:00+00:00",
        "2026-05-04T14:00:00+00:00",
        "2026-05-05T02:00:00+00:00",
    ]
    assert [r.figures.requests for r in report.rows] == [3, 1, 1]
    assert not any(r.active for r in report.rows)
    assert report.rows[2].idle_before_ms == 12.5 * 3600 * 1000  # shown as a gap row
    assert report.rows[1].idle_before_ms is None
    first = report.rows[0]
    minutes = (first.last_ms - first.first_ms) / 60_000
    assert first.burn_rate is not None
    assert first.burn_rate.tokens_per_minute == pytest.approx(3 * 3100 / minutes)
    assert first.burn_rate.cost_usd_per_hour == pytest.approx(
        first.figures.cost_usd / minutes * 60  # type: ignore[operator]
    )


def test_gap_rule_on_raw_minutes() -> None:
    """A gap of exactly 5 hours starts a new block; requests a second apart share one."""
    from tokentrail.store.base import MinuteRow, Totals

    def minute(ms: int) -> MinuteRow:
        return MinuteRow(ms // 60_000, SONNET, ms, ms, Totals.zero())

    hour = 3_600_000
    blocks = build_blocks([minute(0), minute(5 * hour), minute(5 * hour + 1000)], now_ms=0)
    assert [b.start_ms for b in blocks] == [0, 5 * hour]


def test_block_crossing_midnight_and_dst_in_berlin(ledger: Ledger) -> None:
    berlin = ZoneInfo("Europe/Berlin")
    # 2026-03-29: clocks go from 02:00 to 03:00 local (01:00 UTC). A block from 23:00 UTC
    # (00:00 local, +01:00) runs to 04:00 UTC (06:00 local, +02:00): across midnight and DST.
    times = [
        datetime(2026, 3, 28, 23, 40, tzinfo=berlin),  # 22:40 UTC -> block starts 22:00 UTC
        datetime(2026, 3, 29, 1, 30, tzinfo=berlin),  # 00:30 UTC, before the change
        datetime(2026, 3, 29, 3, 30, tzinfo=berlin),  # 01:30 UTC, after the change
    ]
    ledger.record_events([request(f"d{i}", t) for i, t in enumerate(times)])
    query = BlocksQuery(zone=berlin, zone_name="Europe/Berlin", since_ms=0)
    report = blocks_report(ledger.store, query, now=at("2026-03-30T00:00:00+00:00"))
    (row,) = report.as_dict()["rows"]
    assert row["start"] == "2026-03-28T23:00:00+01:00"
    assert row["end"] == "2026-03-29T05:00:00+02:00"  # 5 real hours, 6 on the clock
    assert row["requests"] == 3
    assert report.as_dict()["timezone"] == "Europe/Berlin"


def test_half_hour_zone_blocks_start_on_utc_hours(ledger: Ledger) -> None:
    ledger.record_events([request("i", at("2026-05-04T09:47:00+00:00"))])
    kolkata = BlocksQuery(zone=ZoneInfo("Asia/Kolkata"), zone_name="Asia/Kolkata", since_ms=0)
    report = blocks_report(ledger.store, kolkata, now=at("2026-05-05T00:00:00+00:00"))
    assert starts(report) == ["2026-05-04T14:30:00+05:30"]


def test_active_block_projection(ledger: Ledger) -> None:
    ledger.record_events(
        [
            request("old", at("2026-05-04T01:00:00+00:00")),
            request("a", at("2026-05-04T10:05:00+00:00")),
            request("b", at("2026-05-04T10:35:00+00:00")),
        ]
    )
    now = at("2026-05-04T11:00:00+00:00")
    report = active_block(ledger.store, UTC_QUERY, now=now)
    (row,) = report.rows
    assert row.active
    assert row.figures.requests == 2  # the 01:00 block is not active
    assert row.burn_rate is not None and row.projection is not None
    assert row.burn_rate.tokens_per_minute == pytest.approx(6200 / 30)
    assert row.projection.remaining_minutes == 240  # 11:00 -> 15:00
    assert row.projection.total_tokens == round(6200 + 6200 / 30 * 240)
    cost = row.figures.cost_usd
    assert cost is not None and row.projection.cost_usd is not None
    assert row.projection.cost_usd == pytest.approx(cost + cost / 30 * 240)
    listed = blocks_report(ledger.store, UTC_QUERY, now=now)
    assert [r.active for r in listed.rows] == [False, True]
    assert listed.rows[0].projection is None  # finished blocks have no projection


def test_no_active_block_after_five_hours(ledger: Ledger) -> None:
    ledger.record_events([request("a", at("2026-05-04T10:05:00+00:00"))])
    report = active_block(ledger.store, UTC_QUERY, now=at("2026-05-04T15:00:00+00:00"))
    assert report.rows == []


def test_unpriced_model_is_counted_and_named(ledger: Ledger) -> None:
    ledger.record_events(
        [
            request("p", at("2026-05-04T10:00:00+00:00")),
            request("u", at("2026-05-04T10:20:00+00:00"), model="acme-secret-model-9"),
        ]
    )
    data = blocks_report(ledger.store, UTC_QUERY, now=at("2026-05-05T00:00:00+00:00")).as_dict()
    (row,) = data["rows"]
    assert row["unpriced_requests"] == 1
    assert row["unpriced_models"] == [
        {"model": "acme-secret-model-9", "requests": 1, "tokens": 3100}
    ]
    assert row["cost_usd"] is not None  # the priced part; the table marks it '+?'
    assert data["unpriced_models"][0]["model"] == "acme-secret-model-9"


def test_since_keeps_boundaries_anchored_by_earlier_usage(ledger: Ledger) -> None:
    # steady usage every 2 h from day 1 09:10 on: blocks at 09, 15 (first after 14:00), ...
    start = at("2026-05-01T09:10:00+00:00")
    events = [request(f"s{i}", start + timedelta(hours=2 * i)) for i in range(30)]
    ledger.record_events(events)
    now = at("2026-05-04T00:00:00+00:00")
    full = blocks_report(ledger.store, UTC_QUERY, now=now)
    since = int(at("2026-05-02T00:00:00+00:00").timestamp() * 1000)
    cut = blocks_report(ledger.store, BlocksQuery(UTC, "UTC", since_ms=since), now=now)
    assert starts(cut) == [s for s in starts(full) if s >= "2026-05-01T19"]
    assert cut.rows[0].end_ms > since


def test_token_limit_estimate(ledger: Ledger) -> None:
    ledger.record_events([request("a", at("2026-05-04T10:00:00+00:00"))])
    query = BlocksQuery(UTC, "UTC", since_ms=0, token_limit=31_000)
    data = blocks_report(ledger.store, query, now=at("2026-05-05T00:00:00+00:00")).as_dict()
    assert data["rows"][0]["limit_estimate"]["used_percent"] == 10.0
    assert data["rows"][0]["limit_estimate"]["kind"] == "estimate"


# -- Codex official rate limits --------------------------------------------------------------

SESSION = "019a9776-0a34-7842-8627-112b63d66e90"


def codex_count(
    ts: str, total: int, limits: dict[str, Any] | None, *, info: bool = True
) -> dict[str, Any]:
    if limits is not None and isinstance(limits.get("secondary"), dict):
        # older Codex: seconds until the reset, counting down as time passes (the weekly
        # window here resets at 2026-05-05T16:00Z)
        seconds = (at("2026-05-05T16:00:00+00:00") - at(ts.replace("Z", "+00:00"))).seconds
        limits = {**limits, "secondary": {**limits["secondary"], "resets_in_seconds": seconds}}
    usage = {
        "input_tokens": total - 100,
        "cached_input_tokens": 0,
        "output_tokens": 100,
        "reasoning_output_tokens": 20,
        "total_tokens": total,
    }
    payload: dict[str, Any] = {
        "type": "token_count",
        "info": {"total_token_usage": usage, "last_token_usage": usage} if info else None,
    }
    if limits is not None:
        payload["rate_limits"] = limits
    return {"timestamp": ts, "type": "event_msg", "payload": payload}


def limits(primary: float, secondary: float, **extra: Any) -> dict[str, Any]:
    return {
        "primary": {
            "used_percent": primary,
            "window_minutes": 300,
            "resets_at": 1778000000,  # 2026-05-05T16:53:20Z
        },
        "secondary": {
            "used_percent": secondary,
            "window_minutes": 10080,
            "resets_in_seconds": 3600,
        },
        **extra,
    }


def write_rollout(home: Path) -> Path:
    path = codex_file(home, "2026-05-05", SESSION)
    return write_jsonl(
        path,
        [
            codex_meta(SESSION, "2026-05-05T14:00:00.000Z"),
            codex_turn("2026-05-05T14:00:01.000Z"),
            # rate-limit-only event (info null) before the first request
            codex_count("2026-05-05T14:00:02.000Z", 0, limits(5.0, 60.0), info=False),
            codex_count("2026-05-05T14:01:00.000Z", 5000, limits(7.0, 61.0)),
            # same figures again (reset a second later): nothing new
            {**codex_count("2026-05-05T14:02:00.000Z", 5000, limits(7.0, 61.0))},
            codex_count("2026-05-05T14:03:00.000Z", 9000, limits(9.5, 61.0)),
            codex_count("2026-05-05T14:04:00.000Z", 12000, {"primary": "broken"}),
        ],
    )


def test_codex_rate_limits_are_parsed_stored_once_and_shown(
    backend: str, tmp_path: Path, isolated_home: Path
) -> None:
    rollout = write_rollout(isolated_home)
    with pgtest.ledger_on(backend, tmp_path / "ledger.db") as ledger:
        sync(ledger, workers=1)
        first = ledger.store.rate_limits(_all())
        sync(ledger, workers=1)  # nothing new
        # written again (as when a parser upgrade re-reads the file): still stored once
        with ledger.store.write() as tx:
            tx.put_rate_limits(first)
        again = ledger.store.rate_limits(_all())
        assert again == first
        primary = [s for s in first if s.window == "primary"]
        assert [s.used_percent for s in primary] == [5.0, 7.0, 9.5]
        assert primary[0].resets_at_ms == 1778000000 * 1000
        secondary = [s for s in first if s.window == "secondary"]
        assert [s.used_percent for s in secondary] == [60.0, 61.0]
        assert {s.resets_at_ms for s in secondary} == {
            int(at("2026-05-05T16:00:00+00:00").timestamp() * 1000)
        }
        assert all(s.machine == "test-machine" and s.session_key == SESSION for s in first)

        # the log grows: only the new figure is added
        write_jsonl(
            rollout,
            [codex_count("2026-05-05T14:30:00.000Z", 15000, limits(12.0, 62.0))],
            append=True,
        )
        sync(ledger, workers=1)
        grown = ledger.store.rate_limits(_all())
        assert len(grown) == len(first) + 2

        now = at("2026-05-05T15:00:00+00:00")
        data = blocks_report(ledger.store, UTC_QUERY, now=now).as_dict()
    (row,) = data["rows"]
    assert row["active"] is True
    official = {s["window"]: s for s in row["official_rate_limits"]}
    assert official["primary"]["used_percent"] == 12.0
    assert official["primary"]["kind"] == "official"
    assert official["primary"]["resets_at"] == "2026-05-05T16:53:20+00:00"
    assert row["projection"]["kind"] == "estimate"
    assert {s["window"] for s in data["rate_limits"]} == {"primary", "secondary"}


def _all() -> Any:
    from tokentrail.store.base import Filters

    return Filters()


def test_rate_limits_of_a_forked_rollout_replay_are_not_kept(
    backend: str, tmp_path: Path, isolated_home: Path
) -> None:
    child = "019a9800-0000-7000-8000-000000000001"
    path = codex_file(isolated_home, "2026-05-05", child)
    write_jsonl(
        path,
        [
            codex_meta(child, "2026-05-05T15:00:00.000Z", forked_from_id=SESSION),
            # the parent's history, copied at the fork instant: old figures
            codex_count("2026-05-05T15:00:00.100Z", 5000, limits(7.0, 61.0)),
            codex_count("2026-05-05T15:00:00.200Z", 9000, limits(9.5, 61.0)),
            codex_turn("2026-05-05T15:00:30.000Z"),
            codex_count("2026-05-05T15:01:00.000Z", 11000, limits(13.0, 63.0)),
        ],
    )
    with pgtest.ledger_on(backend, tmp_path / "ledger.db") as ledger:
        sync(ledger, workers=1)
        kept = ledger.store.rate_limits(_all())
    assert sorted(s.used_percent for s in kept) == [13.0, 63.0]


# -- faces -----------------------------------------------------------------------------------


def test_cli_blocks_json_csv_and_table(tmp_path: Path, isolated_home: Path) -> None:
    write_rollout(isolated_home)
    db = str(tmp_path / "ledger.db")
    runner = CliRunner()
    result = runner.invoke(cli, ["blocks", "-d", db, "--json", "--since", "2026-05-01"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert set(data) >= {"rows", "totals", "unpriced_models", "rate_limits", "timezone"}
    assert data["rows"][0]["requests"] == 3
    csv_out = runner.invoke(cli, ["blocks", "-d", db, "--csv", "--since", "2026-05-01"])
    assert csv_out.exit_code == 0
    header = csv_out.output.splitlines()[0]
    assert "official_codex_primary_used_percent" in header
    table = runner.invoke(cli, ["blocks", "-d", db, "--since", "2026-05-01", "--tz", "UTC"])
    assert table.exit_code == 0
    assert "5-hour blocks (UTC)" in table.output
    assert "Official (codex 5 h window" in table.output
    bad = runner.invoke(cli, ["blocks", "-d", db, "--token-limit", "lots"])
    assert bad.exit_code != 0 and "--token-limit" in bad.output


def test_api_blocks(ledger: Ledger) -> None:
    ledger.record_events([request("a", datetime.now(UTC) - timedelta(minutes=30))])
    ledger.record_events([request("b", datetime.now(UTC) - timedelta(minutes=5))])
    client = TestClient(create_app(ledger, token=None))
    response = client.get("/api/v1/blocks", params={"active": "true", "tz": "UTC"})
    assert response.status_code == 200, response.text
    (row,) = response.json()["rows"]
    assert row["active"] is True and row["requests"] == 2
    assert row["projection"]["kind"] == "estimate"
    assert client.get("/api/v1/blocks", params={"since": "nope"}).status_code == 422
    assert "blocks" in client.get("/api/v1/capabilities").json()["features"]


def blocks_table(db: str, *args: str, columns: int = 120) -> str:
    result = CliRunner().invoke(
        cli,
        ["blocks", "-d", db, "--no-sync", "--since", "2026-05-01", "--tz", "UTC", *args],
        env={"COLUMNS": str(columns)},
    )
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture
def busy_db(tmp_path: Path, isolated_home: Path) -> str:
    """Codex blocks with official figures and two long Claude blocks with a burn rate."""
    write_rollout(isolated_home)
    db = tmp_path / "ledger.db"
    with Ledger(db) as ledger:
        sync(ledger, workers=1)
        ledger.record_events(
            [
                request(f"r{i}", at("2026-05-04T08:00:00+00:00") + timedelta(minutes=7 * i))
                for i in range(40)
            ]
            + [request("late", at("2026-05-06T20:00:00+00:00"), output=900_000)]
        )
    return str(db)


def test_a_120_column_terminal_drops_columns_instead_of_squeezing(busy_db: str) -> None:
    wide = blocks_table(busy_db, columns=220)
    assert "Official limit" in wide and "Burn rate" in wide and "Not shown" not in wide
    table = blocks_table(busy_db)
    assert "…" not in table  # nothing cut into an ellipsis
    assert "Not shown to fit the terminal: Official limit" in " ".join(table.split())
    for header in ("Block start", "Status", "Tokens", "Cost"):
        assert header in table
    assert all(len(line) <= 120 for line in table.splitlines())


def test_token_limit_adds_a_share_column_and_marks_blocks_over_it(busy_db: str) -> None:
    plain = blocks_table(busy_db, columns=220)
    assert "% of limit" not in plain
    table = blocks_table(busy_db, "--token-limit", "100000", columns=220)
    assert "% of limit" in table
    lines = {" ".join(line.split()[:2]): line for line in table.splitlines() if "2026-" in line}
    assert "over" in lines["2026-05-04 08:00"]  # 40 requests of 3,100 tokens: 124%
    assert "124% over" in lines["2026-05-04 08:00"]
    assert "over" not in lines["2026-05-05 14:00"]  # the Codex block: 26,000 tokens
    assert " 26% " in lines["2026-05-05 14:00"]
    assert "902% over" in lines["2026-05-06 20:00"]
    assert "2 block(s) over it" in " ".join(table.split())


def test_until_lists_blocks_starting_on_or_before_that_day(busy_db: str) -> None:
    def starts_of(*args: str) -> list[str]:
        result = CliRunner().invoke(
            cli, ["blocks", "-d", busy_db, "--no-sync", "--tz", "UTC", "--json", *args]
        )
        assert result.exit_code == 0, result.output
        return [row["start"][:16] for row in json.loads(result.output)["rows"]]

    every = starts_of("--since", "2026-05-01")
    assert len(every) == 3
    until = starts_of("--since", "2026-05-01", "--until", "2026-05-05")
    assert until == [s for s in every if s < "2026-05-06"]
    assert starts_of("--since", "2026-05-05", "--until", "2026-05-05") == ["2026-05-05T14:00"]


class _MinutesOnly:
    """A store that reads the blocks from the minutes only (as PostgreSQL does): the
    reference the hourly rollups' answer must equal."""

    reads_hourly_rollups = False

    def __init__(self, store: Any) -> None:
        self._store = store

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def _quick(ledger: Ledger) -> Any:
    from tokentrail.store.quick import QuickReader

    if "://" in ledger.database:
        pytest.skip("the quick reader reads SQLite ledgers only (a team ledger: the full way)")
    return QuickReader(ledger.store.location)


@pytest.mark.parametrize("seed", range(3))
def test_the_active_block_from_the_rollups_is_the_one_the_minutes_give(
    ledger: Ledger, seed: int
) -> None:
    """The quick reader answers the active block from the hourly rollups (a few index lookups
    of the raw requests); at every moment it must be the block build_blocks makes of the
    minutes: gaps just under, at and over 5 hours, hours exactly 5 apart, blocks ending while
    usage goes on, two models and two sources."""
    import random

    if "://" in ledger.database:
        pytest.skip("the quick reader reads SQLite ledgers only (a team ledger: the full way)")
    rng = random.Random(seed)
    moment = at("2026-05-04T00:00:00+00:00")
    events: list[UsageEvent] = []
    for index in range(160):
        step = rng.choice(
            [
                timedelta(minutes=rng.randint(1, 50)),
                timedelta(hours=4, minutes=rng.randint(30, 59)),
                timedelta(hours=5),
                timedelta(hours=5, minutes=rng.randint(0, 59)),
                timedelta(hours=4, minutes=rng.randint(0, 59)),
                timedelta(hours=6, minutes=rng.randint(0, 59)),
            ]
            if rng.random() < 0.2
            else [timedelta(minutes=rng.randint(1, 40))]
        )
        moment += step
        model = SONNET if rng.random() < 0.7 else "claude-opus-4-1-20250805"
        source = "claude_code" if rng.random() < 0.8 else "codex"
        events.append(request(f"r{index}", moment, model=model, source=source))
    ledger.record_events(events)
    first, last = events[0].timestamp, events[-1].timestamp
    checked = 0
    with _quick(ledger) as reader:
        now = first - timedelta(minutes=30)
        while now < last + timedelta(hours=6):
            for sources in ((), ("claude_code",)):
                query = BlocksQuery(zone=UTC, zone_name="UTC", sources=sources)
                full = active_block(_MinutesOnly(ledger.store), query, now=now)
                quick = active_block(reader, query, now=now)
                store = active_block(ledger.store, query, now=now)
                assert quick.rows == full.rows == store.rows, (now, sources)
                checked += bool(full.rows)
            now += timedelta(minutes=rng.randint(7, 97))
    assert checked > 20


def test_the_active_block_without_a_pause_for_days_is_the_one_the_listing_shows(
    ledger: Ledger,
) -> None:
    """Usage every 40 minutes for three days leaves no 5-hour pause in the last day: the active
    block must still be anchored where the full listing anchors it (it looks back further)."""
    first = at("2026-05-04T00:10:00+00:00")
    ledger.record_events(
        [request(f"r{index}", first + timedelta(minutes=40 * index)) for index in range(108)]
    )
    readers: list[Any] = [ledger.store]
    if "://" not in ledger.database:
        from tokentrail.store.quick import QuickReader

        readers.append(QuickReader(ledger.store.location))
    for now in (at("2026-05-06T09:30:00+00:00"), at("2026-05-06T21:00:00+00:00")):
        listing = blocks_report(ledger.store, UTC_QUERY, now=now)
        (shown,) = [row for row in listing.rows if row.active]
        for reader in readers:
            (active,) = active_block(reader, BlocksQuery(zone=UTC, zone_name="UTC"), now=now).rows
            assert (active.start_ms, active.figures) == (shown.start_ms, shown.figures), now
    for reader in readers[1:]:
        reader.close()
