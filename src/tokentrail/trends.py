"""Is spend going up? The overview's trend answers, from the store's rollups.

Each scope (the selected range, this month, today) is compared with the period of the same
length just before it, up to the same moment (this month's first 6 days and 9 hours against
the 6 days and 9 hours before them); the selected range's days give the active days, the
average per active day and the peak day; the month's end is projected the way a budget's is
(:func:`tokentrail.budgets.budget_row`), an estimate; and the last twelve months are listed
with their change.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from tokentrail.budgets import BudgetRow, budget_row
from tokentrail.config import Budget
from tokentrail.periods import local_midnight_ms
from tokentrail.reports import (
    ReportQuery,
    UsageFigures,
    heatmap_report,
    model_totals,
    period_report,
)
from tokentrail.store.base import Store

MONTHS_SHOWN = 12


@dataclass(frozen=True, slots=True)
class Change:
    """A scope's figures against the period of the same length just before it."""

    current: UsageFigures
    previous: UsageFigures
    previous_since: datetime
    previous_until: datetime

    @property
    def cost_change(self) -> float | None:
        """The relative change of the priced cost (0.12 is +12%); None when either side is
        unknown (unpriced) or the previous period cost nothing (no base to compare with)."""
        return _relative(self.current.cost_usd, self.previous.cost_usd)

    @property
    def tokens_change(self) -> float | None:
        return _relative(self.current.total_tokens, self.previous.total_tokens)

    def as_dict(self) -> dict[str, Any]:
        return {
            "previous": self.previous.as_dict(),
            "previous_since": self.previous_since.isoformat(),
            "previous_until": self.previous_until.isoformat(),
            "cost_change": self.cost_change,
            "tokens_change": self.tokens_change,
        }


@dataclass(frozen=True, slots=True)
class RangeDays:
    """The selected range's days: how many had usage, their average cost and the peak."""

    days: int
    active_days: int
    average_cost_usd: float | None
    """Priced cost per active day (None: nothing priced)."""
    peak_day: date | None
    peak_cost_usd: float | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "days": self.days,
            "active_days": self.active_days,
            "average_cost_usd": self.average_cost_usd,
            "peak_day": self.peak_day.isoformat() if self.peak_day else None,
            "peak_cost_usd": self.peak_cost_usd,
        }


@dataclass(frozen=True, slots=True)
class MonthRow:
    month: str
    figures: UsageFigures
    cost_change: float | None
    """Against the month before (None: no base or unknown)."""


@dataclass(frozen=True, slots=True)
class Trends:
    selected: Change | None
    month: Change
    today: Change
    days: RangeDays | None
    projection: BudgetRow | None
    """This month's spend projected to its end (an estimate); None with a model filter or
    several agents chosen, which a projection cannot be scoped to."""
    months: list[MonthRow]

    def as_dict(self) -> dict[str, Any]:
        projection = self.projection
        return {
            "selected": self.selected.as_dict() if self.selected else None,
            "month": self.month.as_dict(),
            "today": self.today.as_dict(),
            "days": self.days.as_dict() if self.days else None,
            "month_end_estimate": None
            if projection is None
            else {
                "projected_usd": projection.projected_usd,
                "projected_low_usd": projection.projected_low_usd,
                "projected_high_usd": projection.projected_high_usd,
            },
            "months": [
                {"month": m.month, **m.figures.as_dict(), "cost_change": m.cost_change}
                for m in self.months
            ],
        }


def overview_trends(
    store: Store,
    query: ReportQuery,
    *,
    models: Sequence[str] = (),
    now: datetime | None = None,
) -> Trends:
    """The trend answers for the overview's range (``query``), this month and today."""
    now = now or datetime.now(UTC)
    zone = query.zone
    today = now.astimezone(zone).date()
    now_ms = int(now.timestamp() * 1000)
    selected = None
    days = None
    if query.since is not None:
        selected = _change(store, query, local_midnight_ms(query.since, zone), now_ms, models)
        days = _range_days(store, query, models, now)
    month_start = local_midnight_ms(today.replace(day=1), zone)
    return Trends(
        selected=selected,
        month=_change(store, query, month_start, now_ms, models),
        today=_change(store, query, local_midnight_ms(today, zone), now_ms, models),
        days=days,
        projection=_projection(store, query, models, now_ms),
        months=_months(store, query, today, models),
    )


def _change(
    store: Store, query: ReportQuery, start_ms: int, now_ms: int, models: Sequence[str]
) -> Change:
    end_ms = now_ms
    if query.until is not None:
        end_ms = min(end_ms, local_midnight_ms(query.until + timedelta(days=1), query.zone))
    length = max(end_ms - start_ms, 0)
    base = query.filters()
    current = replace(base, since_ms=start_ms, until_ms=end_ms)
    previous = replace(base, since_ms=start_ms - length, until_ms=start_ms)
    return Change(
        current=UsageFigures.from_totals(model_totals(store, current, models)),
        previous=UsageFigures.from_totals(model_totals(store, previous, models)),
        previous_since=_moment(start_ms - length, query),
        previous_until=_moment(start_ms, query),
    )


def _range_days(
    store: Store, query: ReportQuery, models: Sequence[str], now: datetime
) -> RangeDays:
    heat = heatmap_report(store, query, "cost", models=models, now=now)
    active = [d for d in heat.days if d.requests]
    priced = [d for d in active if d.cost_usd is not None]
    peak = max(priced, key=lambda d: d.cost_usd or 0.0, default=None)
    total = sum(d.cost_usd or 0.0 for d in priced)
    return RangeDays(
        days=(heat.until - heat.since).days + 1,
        active_days=len(active),
        average_cost_usd=total / len(active) if priced else None,
        peak_day=peak.day if peak else None,
        peak_cost_usd=peak.cost_usd if peak else None,
    )


def _projection(
    store: Store, query: ReportQuery, models: Sequence[str], now_ms: int
) -> BudgetRow | None:
    if models or len(query.sources) > 1:
        return None
    scope = Budget(
        "month end",
        "month",
        float("inf"),  # no limit: only the projection is read
        project=query.project,
        source=query.sources[0] if query.sources else None,
    )
    return budget_row(store, scope, query.zone, now_ms)


def _months(store: Store, query: ReportQuery, today: date, models: Sequence[str]) -> list[MonthRow]:
    """The last twelve months (this one so far), newest first, each against the one before.
    The model filter is not applied: the monthly report is per model or for all of them."""
    del models  # period_report has no model filter; the table says so
    first = today.replace(day=1)
    for _ in range(MONTHS_SHOWN):  # one month more, to compare the oldest shown
        first = (first - timedelta(days=1)).replace(day=1)
    report = period_report(store, "monthly", replace(query, since=first, until=today))
    rows = [(r.period, r.figures) for r in report.rows]
    result: list[MonthRow] = []
    for i, (month, figures) in enumerate(rows):
        before = rows[i - 1][1].cost_usd if i and _follows(rows[i - 1][0], month) else None
        result.append(MonthRow(month, figures, _relative(figures.cost_usd, before)))
    return list(reversed(result[-MONTHS_SHOWN:]))


def _follows(earlier: str, later: str) -> bool:
    """True when month ``later`` (YYYY-MM) is the one right after ``earlier``."""
    year, month = int(earlier[:4]), int(earlier[5:7])
    year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return later == f"{year:04d}-{month:02d}"


def _relative(current: float | int | None, previous: float | int | None) -> float | None:
    if current is None or previous is None or previous == 0:
        return None
    return (current - previous) / previous


def _moment(ms: int, query: ReportQuery) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC).astimezone(query.zone)
