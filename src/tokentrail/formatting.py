"""How numbers, money, shares and durations read, on every face: the CLI's tables and messages
(:mod:`tokentrail.output`), the dashboard's pages (Jinja filters in
:mod:`tokentrail.server.rendering`), the session summaries both show, and the status line
(:mod:`tokentrail.statusline`, whose ``*_compact`` forms fit a status bar). One rule each.

Each function takes None (unknown) and answers ``""``; a face that shows unknown otherwise
(the CLI's tables write ``—``) says so itself. Pure standard library, cheap to import.
"""

from __future__ import annotations

from datetime import UTC, date, datetime


def usd(value: float | None) -> str:
    """Dollars with the precision that matters: $1,234 / $12.34 / $0.42 / $0.0042 / <$0.0001."""
    if value is None:
        return ""
    magnitude = abs(value)
    if magnitude >= 1000:
        return f"${value:,.0f}"
    if magnitude >= 0.01 or value == 0:
        return f"${value:,.2f}"
    if magnitude >= 0.0001:
        return f"${value:.4f}"
    return "<$0.0001"


def usd_exact(value: float | None) -> str:
    """Dollars to the micro-dollar, as the ledger keeps them (titles, for who wants it all):
    $0.004217."""
    return "" if value is None else f"${value:.6f}"


COMPACT_TOKENS_FROM = 10_000
"""Below this a token count reads exactly (9,999 rather than "10k"): a small count is read
digit by digit, a large one at a glance."""


def tokens(value: int | float | None) -> str:
    """Token counts: exact up to 9,999 (950 / 1,390), then compact with three figures at most
    (12.3k / 123k / 4.56M / 1.2B)."""
    if value is None:
        return ""
    n = float(value)
    magnitude = abs(n)
    if magnitude < COMPACT_TOKENS_FROM:
        return integer(n)
    limit, suffix = (
        (1e9, "B") if magnitude >= 1e9 else (1e6, "M") if magnitude >= 1e6 else (1e3, "k")
    )
    scaled = n / limit
    digits = 2 if abs(scaled) < 10 else 1 if abs(scaled) < 100 else 0
    text = f"{scaled:.{digits}f}".rstrip("0").rstrip(".") if digits else f"{scaled:.0f}"
    return text + suffix


def integer(value: int | float | None) -> str:
    """A count with thousands separators: 1,234."""
    return "" if value is None else f"{int(value):,}"


def counted(count: int, noun: str) -> str:
    """``1 request``, ``2,100 requests``: a count with its noun in the right number (nouns
    that take a plain ``s``)."""
    return f"{count:,} {noun}{'' if count == 1 else 's'}"


def number(value: float | None) -> str:
    """A measured quantity (not a count): 20,832.1 / 3.14 / 0.004."""
    if value is None:
        return ""
    if value == 0 or abs(value) >= 100:
        return f"{value:,.1f}"
    return f"{value:.3g}"


def duration(seconds: float | None) -> str:
    """45s / 12m 30s / 3h 05m / 2d 4h (days from 48 hours on)."""
    if seconds is None:
        return ""
    s = round(seconds)
    if s < 60:
        return f"{s}s"
    minutes, s = divmod(s, 60)
    if minutes < 60:
        return f"{minutes}m {s:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h {minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h"


def seconds(value: float | None) -> str:
    """Short durations with their fraction (tool calls): 0.42s / 4.2s, then as durations."""
    if value is None:
        return ""
    if value < 1:
        return f"{value:.2f}s"
    if value < 10:
        return f"{value:.1f}s"
    return duration(value)


def share(value: float | None) -> str:
    """A fraction of a whole (0 to 1) as a percentage: 0% / <0.1% / 5.0% / 50%."""
    if value is None:
        return ""
    if value == 0:
        return "0%"
    percent = value * 100
    if 0 < percent < 0.1:
        return "<0.1%"
    return f"{percent:.1f}%" if percent < 10 else f"{percent:.0f}%"


def percent(value: float | None) -> str:
    """A percentage as a provider reports it (0 to 100): 42% / 7.5%."""
    if value is None:
        return ""
    return f"{value:.0f}%" if float(value).is_integer() else f"{value:.1f}%"


def change(value: float | None) -> str:
    """A relative change: +12% / −8% / +0.4% / ×12 for more than ten-fold."""
    if value is None:
        return ""
    if value >= 10:
        return f"×{value + 1:.0f}"
    percent = value * 100
    digits = 1 if abs(percent) < 10 else 0
    sign = "+" if percent >= 0 else "−"
    return f"{sign}{abs(percent):.{digits}f}%"


def day(value: date | None) -> str:
    """A day: "Mar 3", with its year when not this year's."""
    if value is None:
        return ""
    this_year = datetime.now(UTC).year
    return f"{value:%b} {value.day}" + (f" {value.year}" if value.year != this_year else "")


# -- a status bar: one narrow line, read at a glance -----------------------------------------


def usd_compact(value: float) -> str:
    """Dollars in a status bar: cents from a dollar on ($12.34), three decimals at most below
    it ($0.012, $0.5)."""
    return f"${value:,.2f}" if value >= 0.995 or value == 0 else f"${value:.3f}".rstrip("0")


def tokens_compact(value: int) -> str:
    """A token count in a status bar: one decimal from a thousand on (950 / 1.4k / 347.0M)."""
    for size, suffix in ((1_000_000_000, "B"), (1_000_000, "M"), (1_000, "k")):
        if value >= size:
            return f"{value / size:.1f}{suffix}"
    return f"{value}"


def duration_compact(seconds: float) -> str:
    """Time left in a status bar, to the minute: 45m / 3h05m."""
    minutes = int(max(seconds, 0) // 60)
    return f"{minutes // 60}h{minutes % 60:02d}m" if minutes >= 60 else f"{minutes}m"
