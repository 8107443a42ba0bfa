"""The values of a record as a reader takes them: a time, a token count, a cost, a string;
what is not one is ``None`` or a :class:`~tokentrail.errors.BadRecord`, never a guess."""

from __future__ import annotations

import math
from datetime import UTC, datetime

from tokentrail.errors import BadRecord
from tokentrail.usage import EARLIEST_YEAR, LATEST_YEAR, MAX_COUNT


def parse_timestamp(value: object) -> datetime | None:
    """Parse an ISO 8601 string or epoch number (seconds or milliseconds) into aware UTC;
    None when it is not one, or is dated outside the years a request can be from."""
    parsed = _parse_timestamp(value)
    if parsed is None or not EARLIEST_YEAR <= parsed.year <= LATEST_YEAR:
        return None
    return parsed


def _parse_timestamp(value: object) -> datetime | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        seconds = value / 1000 if value > 10_000_000_000 else value
        try:
            return datetime.fromtimestamp(seconds, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        # Agents write UTC; a naive stamp is read as UTC rather than as local time.
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def count_or_none(value: object, name: str) -> int | None:
    """A token count as an int, ``None`` when absent.

    Raises :class:`BadRecord` (reason ``invalid_count``) for negative, fractional or
    non-numeric values, and for counts above :data:`tokentrail.usage.MAX_COUNT` (the bound
    HTTP and OTLP input have too: ``1e+20`` is a corrupt line, and would overflow the
    ledger's integers): a bad count is reported, never silently read as zero.
    """
    if value is None:
        return None
    if type(value) is int and 0 <= value <= MAX_COUNT:
        return value  # the usual case, checked in one go
    if isinstance(value, bool):
        raise BadRecord("invalid_count", f"{name}={value!r}")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or value < 0:
        raise BadRecord("invalid_count", f"{name}={value!r}")
    if value > MAX_COUNT:
        raise BadRecord("invalid_count", f"{name}={value} is not a plausible token count")
    return value


def reported_cost(value: object) -> float | None:
    """A cost the agent wrote itself, in USD; ``None`` when absent or not a finite number >= 0."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    cost = float(value)
    return cost if math.isfinite(cost) and cost >= 0 else None


def text_or_none(value: object) -> str | None:
    """A non-empty string, else ``None`` (absent, ``null``, empty or another type)."""
    if type(value) is str:
        return value or None
    return value if isinstance(value, str) and value else None
