"""Is spend going up? The overview's trend answers, from the store's rollups.

Each scope (the selected range, this month, today) is compared with the period of the same
length just before it, up to the same moment (this month's first 6 days and 9 hours against
the 6 days and 9 hours before them); the selected range's days give the active days, the
average per active day and the peak day; the month's end is projected the way a budget's is
(:func:`tokentrail.budgets.budget_row`), an estimate; and the months of the last year are listed
with their change.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from tokentrail.budgets import BudgetRow, budget_row
from tokentrail.config import Budget
from tokentrail.figures import UsageFigures
from tokentrail.periods import local_midnight_ms
from tokentrail.reports.charts import Heatmap, HeatmapDay, heatmap_report
from tokentrail.reports.query import ReportQuery
from tokentrail.reports.spend import model_totals
from tokentrail.store.base import Store


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
        return _relative(_cost(self.current), _cost(self.previous))

    @property
    def tokens_change(self) -> float | None:
        current = 0 if self.current.requests == 0 else self.current.total_tokens
        return _relative(current, self.previous.total_tokens)

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
class MonthFigures:
    """A month's sums of its days: requests, tokens, priced cost and unpriced requests."""

    requests: int = 0
    total_tokens: int | None = None
    priced_usd: float = 0.0
    priced_days: int = 0
    unpriced_requests: int = 0

    @property
    def cost_usd(self) -> float | None:
        """None when nothing of the month could be priced (unknown, never $0)."""
        return round(self.priced_usd, 6) if self.priced_days else None

    def plus(self, day: HeatmapDay) -> MonthFigures:
        tokens = self.total_tokens
        if day.total_tokens is not None:
            tokens = (tokens or 0) + day.total_tokens
        return MonthFigures(
            requests=self.requests + day.requests,
            total_tokens=tokens,
            priced_usd=self.priced_usd + (day.cost_usd or 0.0),
            priced_days=self.priced_days + (day.cost_usd is not None),
            unpriced_requests=self.unpriced_requests + day.unpriced_requests,
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "total_tokens": self.total_tokens,
            "cost_usd": self.cost_usd,
            "unpriced_requests": self.unpriced_requests,
        }


@dataclass(frozen=True, slots=True)
class MonthRow:
    month: str
    figures: MonthFigures
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
    year: Heatmap | None = None,
) -> Trends:
    """The trend answers for the overview's range (``query``), this month and today.

    ``year`` is the overview's heatmap (the year of days up to the range's end, with the same
    filters), read again only when not given: the monthly view and the range's days come from
    it when it covers them."""
    now = now or datetime.now(UTC)
    zone = query.zone
    today = now.astimezone(zone).date()
    now_ms = int(now.timestamp() * 1000)
    if year is None:
        until = query.until or today
        year_query = replace(query, since=None, until=until)
        year = heatmap_report(store, year_query, "cost", models=models, now=now)
    selected = None
    days = None
    if query.since is not None:
        selected = _change(store, query, local_midnight_ms(query.since, zone), now_ms, models)
        days = _range_days(store, query, models, now, year)
    month_start = local_midnight_ms(today.replace(day=1), zone)
    return Trends(
        selected=selected,
        month=_change(store, query, month_start, now_ms, models),
        today=_change(store, query, local_midnight_ms(today, zone), now_ms, models),
        days=days,
        projection=_projection(store, query, models, now_ms),
        months=_months(year),
    )


def _change(
    store: Store, query: ReportQuery, start_ms: int, now_ms: int, models: Sequence[str]
) -> Change:
    end_ms = now_ms
    if query.until is not None:
        end_ms = min(end_ms, local_midnight_ms(query.until + timedelta(days=1), query.zone))
    length = max(end_ms - start_ms, 0)
    base = query.filters()
    current = base._replace(since_ms=start_ms, until_ms=end_ms)
    previous = base._replace(since_ms=start_ms - length, until_ms=start_ms)
    return Change(
        current=UsageFigures.from_totals(model_totals(store, current, models)),
        previous=UsageFigures.from_totals(model_totals(store, previous, models)),
        previous_since=_moment(start_ms - length, query),
        previous_until=_moment(start_ms, query),
    )


def _range_days(
    store: Store, query: ReportQuery, models: Sequence[str], now: datetime, year: Heatmap
) -> RangeDays:
    until = query.until or now.astimezone(query.zone).date()
    assert query.since is not None
    if year.since <= query.since and until <= year.until:  # inside the year already read
        heat_days = [d for d in year.days if query.since <= d.day <= until]
    else:
        heat_days = heatmap_report(store, query, "cost", models=models, now=now).days
    active = [d for d in heat_days if d.requests]
    priced = [d for d in active if d.cost_usd is not None]
    peak = max(priced, key=lambda d: d.cost_usd or 0.0, default=None)
    total = sum(d.cost_usd or 0.0 for d in priced)
    return RangeDays(
        days=(until - query.since).days + 1,
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


def _months(year: Heatmap) -> list[MonthRow]:
    """The months of the year read (the filters' own, models included), newest first, each
    against the one before; the first month is left out when the year starts inside it, and
    the last one still going is not compared (the month card compares it fairly)."""
    sums: dict[str, MonthFigures] = {}
    for d in year.days:
        month = f"{d.day:%Y-%m}"
        if d.day.replace(day=1) < year.since:
            continue  # a partial first month would read as a drop
        sums[month] = sums.get(month, MonthFigures()).plus(d)
    months = sorted(sums)
    # the year's last month, when it is still going, is not compared with a whole month
    partial = f"{year.until:%Y-%m}" if (year.until + timedelta(days=1)).day != 1 else None
    rows = []
    for i, month in enumerate(months):
        before = sums[months[i - 1]] if i and _follows(months[i - 1], month) else None
        change = _relative(sums[month].cost_usd, before.cost_usd if before else None)
        if month == partial:
            change = None
        rows.append(MonthRow(month, sums[month], change))
    return list(reversed(rows))


def _follows(earlier: str, later: str) -> bool:
    """True when month ``later`` (YYYY-MM) is the one right after ``earlier``."""
    year, month = int(earlier[:4]), int(earlier[5:7])
    year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return later == f"{year:04d}-{month:02d}"


def _cost(figures: UsageFigures) -> float | None:
    """The priced cost, $0 where nothing was used (but unknown where nothing was priced)."""
    return 0.0 if figures.requests == 0 else figures.cost_usd


def _relative(current: float | int | None, previous: float | int | None) -> float | None:
    if current is None or previous is None or previous == 0:
        return None
    return (current - previous) / previous


def _moment(ms: int, query: ReportQuery) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC).astimezone(query.zone)
