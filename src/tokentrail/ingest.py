"""Usage reported by orchestrators (through the SDK or the HTTP API), turned into ledger events.

One place checks what a client sends: the SDK's ``record()`` and ``POST /api/v1/events`` use
the same field names and the same rules, so a request means the same whichever way it came.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

from tokentrail.errors import InvalidUsage as InvalidUsage  # its home before errors.py
from tokentrail.usage import EARLIEST_YEAR, LATEST_YEAR, Tokens, UsageEvent
from tokentrail.usage import MAX_COUNT as MAX_COUNT  # the bound every way in checks

DEFAULT_SOURCE = "sdk"
MAX_ID_LENGTH = 200
MAX_PROJECT_LENGTH = 2000
"""Longest project (a path, usually)."""
MAX_COST_USD = 1_000_000
"""Largest reported cost of one request, in US dollars: more is a unit mistake (cents,
micro-dollars) and would overflow the ledger's integer sums."""

TOKEN_FIELDS: tuple[str, ...] = (
    "input_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "cache_write_1h_tokens",
    "output_tokens",
    "reasoning_tokens",
)
"""The token fields a client may send, in :data:`~tokentrail.figures.TOKEN_BUCKETS` order:
``input_tokens`` is uncached input, the cache fields are the cached parts of the prompt
(``cache_write_tokens`` the 5-minute writes), and ``reasoning_tokens`` is the part of
``output_tokens`` spent reasoning."""


@dataclass(frozen=True, slots=True)
class UsageReport:
    """One request's usage as a client reports it (SDK ``record()`` / HTTP event item)."""

    event_id: str | None = None
    session_key: str | None = None
    run_id: str | None = None
    timestamp: datetime | None = None
    source: str = DEFAULT_SOURCE
    model: str | None = None
    provider: str | None = None
    input_tokens: int | None = None
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None
    cache_write_1h_tokens: int | None = None
    output_tokens: int | None = None
    reasoning_tokens: int | None = None
    cost_usd: float | None = None
    project: str | None = None


def event_from_report(report: UsageReport, *, now: datetime | None = None) -> UsageEvent:
    """Check a reported usage and turn it into a ledger event.

    The event key is ``<source>:<event_id>``, so sending the same ``event_id`` again is
    recognised as the same request; without an ``event_id`` a random one is used (and a resend
    would count twice: clients that retry must send ids).
    """
    for name in ("event_id", "session_key", "run_id", "source", "model", "provider"):
        _check_text(name, getattr(report, name))
    _check_text("project", report.project, MAX_PROJECT_LENGTH)
    if not report.source:
        raise InvalidUsage("source", "must not be empty")
    counts = {name: _check_count(name, getattr(report, name)) for name in TOKEN_FIELDS}
    if all(value is None for value in counts.values()):
        raise InvalidUsage("input_tokens", "at least one token count is required")
    output, reasoning = counts["output_tokens"], counts["reasoning_tokens"]
    if reasoning is not None and output is not None and reasoning > output:
        raise InvalidUsage(
            "reasoning_tokens",
            f"{reasoning} is more than output_tokens ({output}); reasoning is part of output",
        )
    timestamp = _check_timestamp(report.timestamp, now)
    cost = _check_cost(report.cost_usd)
    import uuid  # which imports platform: not for a sync, which imports this module

    event_id = report.event_id or uuid.uuid4().hex
    return UsageEvent(
        key=f"{report.source}:{event_id}",
        source=report.source,
        timestamp=timestamp,
        tokens=Tokens.from_tuple(tuple(counts.values())),
        model=report.model,
        provider=report.provider,
        session_key=report.session_key,
        project=report.project,
        reported_cost_usd=cost,
        run_id=report.run_id,
        rank="0|",
    )


def report_fields(tokens: Tokens) -> dict[str, int | None]:
    """A request's token counts as a client sends them (``input_tokens`` …)."""
    return dict(zip(TOKEN_FIELDS, tokens.as_tuple(), strict=True))


def _check_text(name: str, value: object, limit: int = MAX_ID_LENGTH) -> None:
    if value is None:
        return
    if not isinstance(value, str):
        raise InvalidUsage(name, f"must be a string, got {type(value).__name__}")
    if len(value) > limit:
        raise InvalidUsage(name, f"must be at most {limit} characters")


def _check_count(name: str, value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidUsage(name, f"must be a whole number of tokens, got {value!r}")
    if value < 0:
        raise InvalidUsage(name, f"must not be negative, got {value}")
    if value > MAX_COUNT:
        raise InvalidUsage(name, f"{value} is not a plausible token count")
    return value


def _check_cost(value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidUsage("cost_usd", f"must be a number of US dollars, got {value!r}")
    cost = float(value)
    if not math.isfinite(cost) or cost < 0:
        raise InvalidUsage("cost_usd", f"must be a finite, non-negative amount, got {value!r}")
    if cost > MAX_COST_USD:
        raise InvalidUsage(
            "cost_usd",
            f"{value!r} is not a plausible cost for one request (at most {MAX_COST_USD:,} "
            "US dollars); send dollars, not cents",
        )
    return cost


def _check_timestamp(value: datetime | None, now: datetime | None) -> datetime:
    if value is None:
        return now or datetime.now(UTC)
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidUsage(
            "timestamp", "must carry a time zone, e.g. 2026-05-04T09:30:00Z or +02:00"
        )
    return check_timestamp_range(value)


def check_timestamp_range(value: datetime) -> datetime:
    """A zoned timestamp in UTC, within the years the ledger can date and report."""
    try:
        utc = value.astimezone(UTC)
    except OverflowError:
        raise InvalidUsage("timestamp", "is out of range") from None
    if not EARLIEST_YEAR <= utc.year <= LATEST_YEAR:
        raise InvalidUsage(
            "timestamp", f"must be between {EARLIEST_YEAR} and {LATEST_YEAR}, got {utc.year}"
        )
    return utc
