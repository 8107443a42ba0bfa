"""The CLI's formatting rules (tokentrail.output)."""

from __future__ import annotations

import io
from datetime import UTC, datetime

from pytest import MonkeyPatch
from rich.console import Console

from tokentrail import output
from tokentrail.figures import UsageFigures
from tokentrail.output import format_field, render_csv
from tokentrail.reports.periods import Report, SessionRow
from tokentrail.store.base import Totals


def test_insight_fields_read_as_shares_dollars_and_quantities() -> None:
    assert format_field("cache_read_share", 0.7973) == "80%"
    assert format_field("cache_savings_usd", 551.373955) == "$551.37"
    assert format_field("cost_per_changed_line", 0.000396) == "$0.0004"
    assert format_field("tokens_per_changed_line", 20832.1) == "20,832.1"
    assert format_field("tokens_per_changed_line", 3.14159) == "3.14"
    assert format_field("avg_duration_seconds", 1.234) == "1.2s"
    assert format_field("lines_added", 1234) == "1,234"
    assert format_field("cache_read_share", None) == "—"  # unknown stays unknown
    assert format_field("model", "Total") == "Total"


def test_a_subagent_key_keeps_what_tells_it_from_its_parent() -> None:
    parent = "0b7c5e2a-1111-4222-8333-444455556666"
    assert format_field("session_key", parent) == "0b7c5e2a…"
    assert format_field("session_key", f"{parent}:agent-a1b2c3d4") == "0b7c5e2a…:agent-a1b2c3d4"
    assert format_field("session_key", "c-1") == "c-1"


def test_an_empty_table_is_its_header() -> None:
    assert render_csv([], blank={"period": None, "own": {"cost_usd": 1}}) == "period,own_cost_usd\n"
    assert render_csv([{"a": 1}], blank={"b": None}) == "a\n1\n"  # rows decide when present


def _session_report(count: int) -> Report:
    figures = UsageFigures.from_totals(Totals.zero())
    at = datetime(2026, 1, 2, tzinfo=UTC)
    rows = [
        SessionRow(
            f"session-{n:05d}",
            "claude_code",
            None,
            "/code/app",
            None,
            at,
            at,
            figures,
            figures,
            None,
            0,
            ("claude-sonnet-4-5",),
            name=f"[fix] bug {n}",
        )
        for n in range(count)
    ]
    return Report("session", rows, figures, [], "UTC")


def test_a_table_of_many_sessions_escapes_each_cell_once(monkeypatch: MonkeyPatch) -> None:
    """A table's work grows with its cells: each cell is escaped once, however many rows (it
    once escaped every cell of a column for each row, and 8,000 sessions took minutes)."""
    calls = 0
    escape = output._escape

    def counting(text: str) -> str:
        nonlocal calls
        calls += 1
        return escape(text)

    monkeypatch.setattr(output, "_escape", counting)
    for count in (50, 400):
        calls = 0
        console = Console(file=io.StringIO(), width=300, color_system=None)
        output.print_report(_session_report(count), console=console)
        text = console.file.getvalue()  # type: ignore[attr-defined]
        columns = len(output._report_columns(_session_report(1)))
        assert calls <= count * columns + 10
        assert "session-" in text and f"bug {count - 1}" in text and "[fix]" in text
