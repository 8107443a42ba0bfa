"""Query parameters shared by every route that reads a report: local days and a report's
scope, each error naming its parameter (answered 422)."""

from __future__ import annotations

from datetime import date, tzinfo

from tokentrail.errors import ConfigError
from tokentrail.ingest import InvalidUsage
from tokentrail.periods import parse_day, resolve_timezone
from tokentrail.reports.query import ReportQuery

WITHOUT_USAGE = (
    "Also list the sessions that made no request (counted apart as sessions_without_usage; "
    "docs/counting.md)."
)
"""The description of a session list's ``without_usage`` parameter."""

FIRST_YEAR = 1970
LAST_YEAR = 9998
"""The years a day parameter may name (a day's local midnight must fit the ledger's clock)."""


def zone_param(tz: str | None) -> tuple[tzinfo, str]:
    """The ``tz`` parameter (empty: the server's local zone) and its name."""
    try:
        return resolve_timezone(tz or None)
    except ConfigError as exc:
        raise InvalidUsage("tz", str(exc)) from None


def day_param(value: str | None, name: str) -> date | None:
    """A ``YYYY-MM-DD`` parameter (None when absent or empty)."""
    if not value:
        return None
    try:
        day = parse_day(value, name)
    except ConfigError as exc:
        raise InvalidUsage(name, str(exc)) from None
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise InvalidUsage(name, f"{day} is out of range ({FIRST_YEAR} to {LAST_YEAR})")
    return day


def day_range(since: str | None, until: str | None) -> tuple[date | None, date | None]:
    """``since`` and ``until`` as days, in order."""
    since_day = day_param(since, "since")
    until_day = day_param(until, "until")
    if since_day and until_day and since_day > until_day:
        raise InvalidUsage("since", f"{since_day} is after until {until_day}; swap them")
    return since_day, until_day


def report_query(
    *,
    tz: str | None = None,
    since: str | None = None,
    until: str | None = None,
    sources: list[str] | None = None,
    project: str | None = None,
    breakdown: bool = False,
) -> ReportQuery:
    """A report's scope from query parameters."""
    zone, zone_name = zone_param(tz)
    since_day, until_day = day_range(since, until)
    return ReportQuery(
        zone=zone,
        zone_name=zone_name,
        since=since_day,
        until=until_day,
        sources=tuple(sources or ()),
        project=project,
        breakdown=breakdown,
    )
