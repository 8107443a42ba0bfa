"""One rule per quantity for every face: the CLI's tables and the dashboard's pages
(tokentrail.formatting)."""

from __future__ import annotations

from tokentrail import formatting
from tokentrail.output import format_duration, format_tokens, format_usd
from tokentrail.server.rendering import _ENV


def test_number_formats() -> None:
    assert [formatting.usd(v) for v in (0, 0.004217, 0.00001, 0.42, 12.345, 1234.5, None)] == [
        "$0.00",
        "$0.0042",
        "<$0.0001",
        "$0.42",
        "$12.35",
        "$1,234",
        "",
    ]
    assert [
        formatting.tokens(v)
        for v in (0, 950, 1_390, 9_999, 10_000, 12_345, 123_456, 4_560_000, 1.2e9)
    ] == [
        "0",
        "950",
        "1,390",
        "9,999",
        "10k",
        "12.3k",
        "123k",
        "4.56M",
        "1.2B",
    ]
    assert [formatting.duration(s) for s in (45, 750, 3 * 3600 + 300, 52 * 3600)] == [
        "45s",
        "12m 30s",
        "3h 05m",
        "2d 4h",
    ]
    assert [formatting.share(v) for v in (0.0004, 0.05, 0.5)] == ["<0.1%", "5.0%", "50%"]
    assert formatting.usd_exact(0.004217) == "$0.004217" and formatting.usd_exact(None) == ""


def test_durations_read_at_a_glance_from_seconds_to_months() -> None:
    cases = (12, 245, 4320, 47 * 3600 + 60, 2373 * 3600 + 16 * 60)
    assert [formatting.duration(s) for s in cases] == [
        "12s",
        "4m 05s",
        "1h 12m",
        "47h 01m",
        "98d 21h",
    ]


def test_a_status_bar_reads_compact_forms() -> None:
    """The status line's narrow forms (tokentrail.statusline shows them)."""
    assert [formatting.usd_compact(v) for v in (0, 0.012, 0.5, 0.996, 1234.5)] == [
        "$0.00",
        "$0.012",
        "$0.5",
        "$1.00",
        "$1,234.50",
    ]
    assert [formatting.tokens_compact(v) for v in (950, 1_390, 64_500, 347_000_000, 2 * 10**9)] == [
        "950",
        "1.4k",
        "64.5k",
        "347.0M",
        "2.0B",
    ]
    assert [formatting.duration_compact(s) for s in (-5, 59.9, 45 * 60, 3 * 3600 + 305)] == [
        "0m",
        "0m",
        "45m",
        "3h05m",
    ]


def test_the_cli_and_the_dashboard_say_the_same() -> None:
    for seconds in (12, 4320, 2373 * 3600):
        assert format_duration(seconds) == _ENV.filters["duration"](seconds)
    for value in (0.00001, 12.345, 1234.5):
        assert format_usd(value) == _ENV.filters["usd"](value)
    for count in (950, 1_390, 12_345, 1_200_000_000):
        assert format_tokens(count) == _ENV.filters["tokens"](count)
    assert format_usd(None) == "—" and _ENV.filters["usd"](None) == ""  # unknown, each its way


def test_a_count_takes_its_noun_in_the_right_number() -> None:
    assert formatting.counted(1, "request") == "1 request"
    assert formatting.counted(0, "request") == "0 requests"
    assert formatting.counted(2_100, "request") == "2,100 requests"
