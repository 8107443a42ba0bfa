"""The overview's trend answers (tokentrail.trends) on a real SQLite ledger."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from tokentrail.ingest import UsageReport, event_from_report
from tokentrail.ledger import Ledger
from tokentrail.reports.query import ReportQuery
from tokentrail.trends import overview_trends

NOW = datetime(2026, 5, 20, 12, tzinfo=UTC)
SONNET = "claude-sonnet-4-5-20250929"


def record(ledger: Ledger, at: datetime, index: int, output: int = 1_000) -> None:
    report = UsageReport(
        event_id=f"e{index}",
        session_key="s",
        source="sdk",
        model=SONNET,
        timestamp=at,
        input_tokens=1_000,
        output_tokens=output,
    )
    ledger.record_events([event_from_report(report)])


def test_each_scope_against_the_same_length_before_and_the_months(tmp_path: Path) -> None:
    utc = ZoneInfo("UTC")
    with Ledger(tmp_path / "l.db") as ledger:
        record(ledger, NOW - timedelta(days=1), 1, output=2_000)  # this week
        record(ledger, NOW - timedelta(days=8), 2)  # the week before
        record(ledger, datetime(2026, 4, 10, tzinfo=UTC), 3)  # April
        record(ledger, datetime(2025, 1, 10, tzinfo=UTC), 4)  # over a year ago
        query = ReportQuery(utc, "UTC", since=NOW.date() - timedelta(days=6), until=NOW.date())
        with ledger.reading() as store:
            trend = overview_trends(store, query, now=NOW)
    assert trend.selected is not None
    change = trend.selected.cost_change
    assert change is not None and change > 0  # twice the output tokens this week
    assert trend.selected.previous.requests == 1
    # today so far (12 hours, nothing) against the 12 hours before (yesterday noon's request)
    assert trend.today.current.requests == 0 and trend.today.cost_change == -1
    assert trend.days is not None and (trend.days.active_days, trend.days.days) == (1, 7)
    assert trend.days.peak_day == (NOW - timedelta(days=1)).date()
    assert [m.month for m in trend.months] == ["2026-05", "2026-04"]  # newest first
    may, april = trend.months
    assert may.figures.requests == 2 and april.cost_change is None  # March had nothing
    assert may.cost_change is None  # May is still going: not against a whole April
    assert trend.projection is not None and trend.projection.projected_usd > 0
