"""Budgets: spend so far in the current day, week or month against a configured amount, the
burn rate, the projected end-of-period spend with a range, when the budget runs out, and the
webhook ``tokentrail budget --check`` posts to. Definitions: docs/insights.md, "Budgets".

Reads the ledger through the store's rollup queries (``day_totals``; ``unpriced_models`` when
some spend has no price), never raw events; period boundaries come from
:mod:`tokentrail.periods`.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any, Literal
from urllib.parse import urlsplit

from tokentrail import formatting
from tokentrail.config import Budget
from tokentrail.figures import unpriced_dicts
from tokentrail.periods import (
    DAY_MS,
    date_to_day,
    day_label,
    day_to_date,
    local_midnight_ms,
    local_moment,
    month_label,
    offset_segments,
    period_bounds_ms,
    week_label,
)
from tokentrail.store.base import BUCKET_MS, Filters, Store, Totals, UnpricedModel

Level = Literal["ok", "soft", "hard"]
LEVELS: tuple[Level, ...] = ("ok", "soft", "hard")

HOUR_MS = 3_600_000
HISTORY_DAYS = 14
"""Complete local days before today whose daily spend sets the projection's range."""
MIN_ELAPSED_MS = HOUR_MS
"""The burn rate divides by at least one hour, so a request in the first minutes of a period
is not extrapolated as if it were the rate of a whole hour many times over."""
WEBHOOK_TIMEOUT_S = 10.0

_LABELS = {"day": day_label, "week": week_label, "month": month_label}


@dataclass(frozen=True, slots=True)
class BudgetRow:
    """Where one budget stands at one moment."""

    budget: Budget
    label: str
    """The period: ``2026-05-04``, ``2026-W19`` or ``2026-05``."""
    start: datetime
    end: datetime
    """First moment after the period (local midnight), in the report's zone."""
    spent_usd: float
    """Priced spend so far; with unpriced requests it is a lower bound (``complete`` false)."""
    requests: int
    unpriced_requests: int
    unpriced_models: tuple[UnpricedModel, ...]
    elapsed_hours: float
    remaining_hours: float
    burn_usd_per_hour: float
    projected_usd: float
    projected_low_usd: float | None
    projected_high_usd: float | None
    """None when fewer than two days of history exist to measure the spread."""
    history_days: int
    daily_spread_usd: float | None
    """Standard deviation of daily spend over the history days."""
    runs_out_at: datetime | None
    """When spend reaches the amount at the current burn rate, if within this period."""
    status: Level
    projected_status: Level
    reached_on: date | None = None
    """The local day spend reached the amount, when it has this period (status ``hard``)."""

    @property
    def complete(self) -> bool:
        return self.unpriced_requests == 0

    @property
    def burn_usd_per_day(self) -> float:
        return self.burn_usd_per_hour * 24

    @property
    def spent_share(self) -> float:
        return self.spent_usd / self.budget.amount

    @property
    def projected_share(self) -> float:
        return self.projected_usd / self.budget.amount

    @property
    def over_usd(self) -> float:
        """How far spend is past the amount (0 while under it)."""
        return max(self.spent_usd - self.budget.amount, 0.0)

    def as_dict(self) -> dict[str, Any]:
        b = self.budget
        return {
            "name": b.name,
            "period": b.period,
            "label": self.label,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "source": b.source,
            "project": b.project,
            "amount_usd": b.amount,
            "soft_usd": _round(b.soft_amount),
            "soft_level": b.soft,
            "spent_usd": _round(self.spent_usd),
            "spent_share": _round(self.spent_share),
            "complete": self.complete,
            "requests": self.requests,
            "unpriced_requests": self.unpriced_requests,
            "unpriced_models": unpriced_dicts(self.unpriced_models),
            "elapsed_hours": round(self.elapsed_hours, 3),
            "remaining_hours": round(self.remaining_hours, 3),
            "burn_usd_per_hour": _round(self.burn_usd_per_hour),
            "burn_usd_per_day": _round(self.burn_usd_per_day),
            "projected_usd": _round(self.projected_usd),
            "projected_low_usd": _maybe_round(self.projected_low_usd),
            "projected_high_usd": _maybe_round(self.projected_high_usd),
            "projected_share": _round(self.projected_share),
            "history_days": self.history_days,
            "daily_spread_usd": _maybe_round(self.daily_spread_usd),
            "runs_out_at": self.runs_out_at.isoformat() if self.runs_out_at else None,
            "reached_on": self.reached_on.isoformat() if self.reached_on else None,
            "status": self.status,
            "projected_status": self.projected_status,
        }

    def message(self) -> str:
        """One line for a person (stderr of ``--check``, the webhook's ``text``)."""
        at_least = "" if self.complete else "at least "
        state = {
            "ok": "is under its soft level",
            "soft": "is past its soft level",
            "hard": "is past its hard level",
        }[self.status]
        usd = formatting.usd
        text = (
            f"tokentrail: budget {self.budget.name!r} ({self.label}) {state}: "
            f"{at_least}{usd(self.spent_usd)} of {usd(self.budget.amount)} "
            f"({self.spent_share:.0%}); projected {usd(self.projected_usd)} by "
            f"{self.end.strftime('%Y-%m-%d %H:%M')}"
        )
        if self.status == "hard":
            since = f" since {self.reached_on.isoformat()}" if self.reached_on else ""
            text += f"; {usd(self.over_usd)} over{since}"
        if not self.complete:
            names = ", ".join(m.model for m in self.unpriced_models) or "unknown models"
            text += f"; {self.unpriced_requests:,} requests have no price ({names})"
        return text


@dataclass(frozen=True, slots=True)
class BudgetReport:
    rows: list[BudgetRow]
    timezone: str
    at: datetime

    @property
    def status(self) -> Level:
        """The worst level any budget is past."""
        return max((r.status for r in self.rows), key=LEVELS.index, default="ok")

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": [row.as_dict() for row in self.rows],
            "status": self.status,
            "timezone": self.timezone,
            "at": self.at.isoformat(),
            "history_days": HISTORY_DAYS,
        }


def budget_report(
    store: Store,
    budgets: Sequence[Budget],
    zone: tzinfo,
    zone_name: str,
    *,
    now: datetime | None = None,
) -> BudgetReport:
    """Where each budget stands at ``now`` (default: the current moment) in ``zone``."""
    moment = now or datetime.now(UTC)
    if moment.tzinfo is None:
        raise ValueError("now must carry a time zone")
    now_ms = int(moment.timestamp() * 1000)
    rows = [budget_row(store, budget, zone, now_ms) for budget in budgets]
    return BudgetReport(rows=rows, timezone=zone_name, at=moment.astimezone(zone))


def budget_row(store: Store, budget: Budget, zone: tzinfo, now_ms: int) -> BudgetRow:
    start_ms, end_ms = period_bounds_ms(now_ms, zone, budget.period)
    scope = Filters(sources=(budget.source,) if budget.source else (), project=budget.project)
    today = _date_at(now_ms, zone)
    history_from = today - timedelta(days=HISTORY_DAYS)
    query_from = min(start_ms, local_midnight_ms(history_from, zone))
    # the bucket holding "now" is summed whole: what is in the ledger is what was spent
    until_ms = min(end_ms, now_ms - now_ms % BUCKET_MS + BUCKET_MS)
    filters = scope._replace(since_ms=query_from, until_ms=until_ms)
    segments = offset_segments(zone, query_from - DAY_MS, until_ms + DAY_MS)
    by_day = {row.day: row.totals for row in store.day_totals(filters, segments, by_model=False)}

    first_day = date_to_day(_date_at(start_ms, zone))
    spent = sum((t for d, t in by_day.items() if d >= first_day), Totals.zero())
    spent_usd = spent.cost_micro / 1_000_000
    unpriced: tuple[UnpricedModel, ...] = ()
    if spent.unpriced_requests:
        period = scope._replace(since_ms=start_ms, until_ms=until_ms)
        unpriced = tuple(store.unpriced_models(period))

    history = _history(by_day, history_from, today)
    spread = statistics.stdev(history) if len(history) >= 2 else None

    elapsed_ms = max(now_ms - start_ms, 0)
    remaining_ms = max(end_ms - now_ms, 0)
    per_hour = spent_usd / (max(elapsed_ms, MIN_ELAPSED_MS) / HOUR_MS)
    projected = spent_usd + per_hour * remaining_ms / HOUR_MS
    low = high = None
    if spread is not None:
        # the spend of R more days, each varying like recent days, varies by spread * sqrt(R)
        half = spread * math.sqrt(remaining_ms / DAY_MS)
        low, high = max(spent_usd, projected - half), projected + half
    runs_out = None
    if per_hour > 0 and spent_usd < budget.amount:
        out_ms = now_ms + (budget.amount - spent_usd) / per_hour * HOUR_MS
        if out_ms < end_ms:
            runs_out = local_moment(int(out_ms), zone)
    return BudgetRow(
        reached_on=_reached_on(budget, by_day, first_day),
        budget=budget,
        label=_LABELS[budget.period](_date_at(start_ms, zone)),
        start=local_moment(start_ms, zone),
        end=local_moment(end_ms, zone),
        spent_usd=spent_usd,
        requests=spent.requests,
        unpriced_requests=spent.unpriced_requests,
        unpriced_models=unpriced,
        elapsed_hours=elapsed_ms / HOUR_MS,
        remaining_hours=remaining_ms / HOUR_MS,
        burn_usd_per_hour=per_hour,
        projected_usd=projected,
        projected_low_usd=low,
        projected_high_usd=high,
        history_days=len(history),
        daily_spread_usd=spread,
        runs_out_at=runs_out,
        status=level(budget, spent_usd),
        projected_status=level(budget, projected),
    )


def _reached_on(budget: Budget, by_day: dict[int, Totals], first_day: int) -> date | None:
    """The first local day of the period by whose end spend had reached the amount."""
    spent_micro = 0
    for day in sorted(d for d in by_day if d >= first_day):
        spent_micro += by_day[day].cost_micro
        if level(budget, spent_micro / 1_000_000) == "hard":
            return day_to_date(day)
    return None


def level(budget: Budget, usd: float) -> Level:
    """``hard`` at or past the amount, ``soft`` at or past the soft level, else ``ok``."""
    value = round(usd, 6)  # micro-dollars: the ledger's own precision
    if value >= round(budget.amount, 6):
        return "hard"
    if value >= round(budget.soft_amount, 6):
        return "soft"
    return "ok"


def _history(by_day: dict[int, Totals], history_from: date, today: date) -> list[float]:
    """Priced spend of each complete local day of the history window, from the window's first
    day with usage in the scope on: days before it are no data (a new ledger, project or
    agent), not $0; a day without usage after it is $0. Read from the rows already fetched,
    so the range costs no query of its own."""
    window = range(date_to_day(history_from), date_to_day(today))
    used = [day for day in window if day in by_day and by_day[day].requests]
    if not used:
        return []
    return [
        by_day.get(day, Totals.zero()).cost_micro / 1_000_000 for day in range(used[0], window.stop)
    ]


def _date_at(ms: int, zone: tzinfo) -> date:
    return local_moment(ms, zone).date()


def _round(value: float) -> float:
    return round(value, 6)


def _maybe_round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


# -- webhooks ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Delivery:
    """One webhook post: to where (scheme and host only: the path is often a secret)."""

    budget: str
    target: str
    ok: bool
    error: str | None = None


def webhook_payload(row: BudgetRow, report: BudgetReport) -> dict[str, Any]:
    """What is posted: a ``text`` line (Slack and similar tools show it as is) and the row."""
    return {
        "event": "tokentrail.budget",
        "text": row.message(),
        "status": row.status,
        "budget": row.as_dict(),
        "timezone": report.timezone,
        "at": report.at.isoformat(),
    }


def notify(report: BudgetReport, override: str | None = None) -> list[Delivery]:
    """Post each budget past a level to its webhook (``override``, the ``--webhook`` option,
    wins over each budget's own). Failures are returned, never raised."""
    import httpx

    deliveries: list[Delivery] = []
    with httpx.Client(timeout=WEBHOOK_TIMEOUT_S, follow_redirects=False) as client:
        for row in report.rows:
            url = override or row.budget.webhook
            if row.status == "ok" or not url:
                continue
            target = redact_webhook(url)
            try:
                response = client.post(url, json=webhook_payload(row, report))
            except (httpx.HTTPError, httpx.InvalidURL) as exc:
                error = f"{type(exc).__name__}: {exc}".replace(url, target)
                deliveries.append(Delivery(row.budget.name, target, False, error))
                continue
            if response.is_success:
                deliveries.append(Delivery(row.budget.name, target, True))
            else:
                error = f"the server answered {response.status_code} {response.reason_phrase}"
                deliveries.append(Delivery(row.budget.name, target, False, error))
    return deliveries


def redact_webhook(url: str) -> str:
    """``https://hooks.example.com/…``: webhook paths and queries often carry a secret."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ""
    return f"{parts.scheme}://{host}{port}/…"
