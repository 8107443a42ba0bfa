"""The blocks table drawn without rich (``blocks --active --no-sync`` to a pipe): byte for byte
what rich prints on the same plain console, or nothing (then rich draws it)."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from rich.console import Console

from tokentrail.blocks import BlocksQuery, BlocksReport, blocks_report
from tokentrail.blocks_view import blocks_text, print_blocks
from tokentrail.config import Config
from tokentrail.ledger import Ledger
from tokentrail.output import Column
from tokentrail.plain_output import PLAIN_WIDTH, plain_table
from tokentrail.ratelimits import RateLimitSnapshot
from tokentrail.usage import Tokens, UsageEvent

NOW = datetime(2026, 5, 4, 12, 20, tzinfo=UTC)


def _request(key: str, at: datetime, model: str, output: int) -> UsageEvent:
    return UsageEvent(
        key=key,
        source="claude_code",
        timestamp=at,
        model=model,
        provider="anthropic",
        tokens=Tokens(input=100, cache_read=2000, cache_write_5m=0, output=output),
        session_key="s1",
    )


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    """Two days of blocks: a gap, a model without a price, an active block, Codex's limits."""
    events = [
        _request(f"r{i}", NOW - timedelta(minutes=37 * i), model, 1000 * (i % 7 + 1))
        for i, model in enumerate(
            ["claude-sonnet-4-5-20250929", "claude-opus-4-1-20250805", "mystery-model-9"] * 20
        )
    ]
    events.append(_request("early", NOW - timedelta(days=2), "claude-sonnet-4-5-20250929", 9))
    limits = [
        RateLimitSnapshot("codex", "primary", int((NOW - timedelta(hours=1)).timestamp() * 1000),
                          42.5, 300, int((NOW + timedelta(hours=2)).timestamp() * 1000)),
        RateLimitSnapshot("codex", "secondary", int((NOW - timedelta(hours=30)).timestamp() * 1000),
                          7.0, 10080, int((NOW - timedelta(hours=2)).timestamp() * 1000)),
    ]  # fmt: skip
    opened = Ledger(tmp_path / "ledger.db", config=Config())
    opened.record_batch(events, rate_limits=limits)
    return opened


def _rich(report: BlocksReport) -> str:
    """What ``print_blocks`` prints on :func:`tokentrail.output.new_console`'s plain console."""
    out = io.StringIO()
    print_blocks(report, console=Console(file=out, highlight=False, width=PLAIN_WIDTH))
    return out.getvalue()


@pytest.mark.parametrize("zone", ["UTC", "Asia/Kolkata", "America/New_York"])
@pytest.mark.parametrize(
    ("options", "plain"),
    [
        ({"active_only": True}, True),
        ({"since_ms": 0}, True),
        # the % of limit note is longer than the console: rich wraps it, so rich draws it
        ({"since_ms": 0, "token_limit": 25_000}, False),
        ({"since_ms": 0, "token_limit_max": True}, False),
        ({"since_ms": int((NOW + timedelta(days=1)).timestamp() * 1000)}, True),  # none listed
    ],
)
def test_drawn_without_rich_is_what_rich_prints(
    ledger: Ledger, zone: str, options: dict[str, object], plain: bool
) -> None:
    query = BlocksQuery(zone=ZoneInfo(zone), zone_name=zone, **options)  # type: ignore[arg-type]
    report = blocks_report(ledger.store, query, now=NOW)
    text = blocks_text(report, PLAIN_WIDTH)
    assert (text is not None) == plain
    if text is not None:
        assert text == _rich(report)


def test_the_active_block_from_the_quick_reader_is_drawn_the_same(ledger: Ledger) -> None:
    from tokentrail.store.quick import QuickReader

    query = BlocksQuery(zone=UTC, zone_name="UTC", active_only=True)
    with QuickReader(ledger.database) as reader:
        report = blocks_report(reader, query, now=NOW)
    assert report.rows and blocks_text(report, PLAIN_WIDTH) == _rich(report)


@pytest.mark.parametrize(
    "cell",
    ["[bold]x[/bold]", "a :smile: b", "wide 漢字", "tab\there", "x" * 200, "back\\slash"],
)
def test_what_rich_would_read_or_fit_is_left_to_rich(cell: str) -> None:
    columns = [Column("Name", [cell, "plain"], right=False), Column("N", ["1", "22"])]
    assert plain_table("Title", columns, PLAIN_WIDTH) is None


def test_a_narrow_console_is_left_to_rich() -> None:
    columns = [Column("A", ["x" * 60]), Column("B", ["y" * 60], drop_order=1)]
    assert plain_table("T", columns, 100) is None  # B would be left out: rich says so
    assert plain_table("T", columns, 160) is not None
