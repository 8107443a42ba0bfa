"""What a report covers (:class:`ReportQuery`), and the small rules every report shares:
period labels, time ranges, and timestamps as the JSON contract writes them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import overload

from tokentrail.periods import day_label, local_midnight_ms, month_label, week_label
from tokentrail.store.base import Filters, GroupBy


@dataclass(frozen=True, slots=True)
class ReportQuery:
    """What a report covers; ``since``/``until`` are inclusive local dates in ``zone``."""

    zone: tzinfo
    zone_name: str
    since: date | None = None
    until: date | None = None
    sources: tuple[str, ...] = ()
    project: str | None = None
    breakdown: bool = False
    machines: tuple[str, ...] = ()
    users: tuple[str, ...] = ()
    breakdown_by: GroupBy | None = None
    """One row per model, machine or user within each period (``breakdown`` is ``model``)."""

    @property
    def group_by(self) -> GroupBy | None:
        return self.breakdown_by or ("model" if self.breakdown else None)

    def filters(self) -> Filters:
        return Filters(
            since_ms=local_midnight_ms(self.since, self.zone) if self.since else None,
            until_ms=local_midnight_ms(self.until + timedelta(days=1), self.zone)
            if self.until
            else None,
            sources=self.sources,
            project=self.project,
            machines=self.machines,
            users=self.users,
        )


PERIOD_LABELS: dict[str, Callable[[date], str]] = {
    "daily": day_label,
    "weekly": week_label,
    "monthly": month_label,
}
"""A period report's kind -> the label of the period holding a local date."""


def in_range(ms: int | None, filters: Filters) -> bool:
    """Whether a moment (UTC epoch ms) falls in the filters' range; an unknown moment falls
    only in an unbounded one."""
    if ms is None:
        return filters.since_ms is None and filters.until_ms is None
    if filters.since_ms is not None and ms < filters.since_ms:
        return False
    return not (filters.until_ms is not None and ms >= filters.until_ms)


def from_ms(ms: int | None) -> datetime | None:
    """A UTC epoch millisecond as an aware UTC datetime."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC) if ms is not None else None


@overload
def iso_time(value: datetime) -> str: ...
@overload
def iso_time(value: datetime | None) -> str | None: ...
def iso_time(value: datetime | None) -> str | None:
    """A moment as the JSON contract writes it: ISO 8601, UTC as ``Z``."""
    return value.isoformat().replace("+00:00", "Z") if value else None
