"""The dashboard's charts: the calendar heatmap, the token timeline and daily cost by
model."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Literal, TypedDict

from tokentrail.figures import FiguresJson, UnpricedModelJson, UsageFigures, unpriced_dicts
from tokentrail.model_names import model_alias
from tokentrail.periods import (
    DAY_MS,
    date_to_day,
    day_to_date,
    next_period_start,
    offset_ms,
    offset_segments,
    period_start,
)
from tokentrail.reports.query import PERIOD_LABELS, ReportQuery
from tokentrail.reports.spend import priced_cost, unpriced_models_of
from tokentrail.shape import Default, Doc
from tokentrail.store.base import BUCKET_MS, Store, Totals, UnpricedModel

HeatmapMetric = Literal["cost", "tokens", "output_tokens", "sessions"]
HEATMAP_METRICS: tuple[HeatmapMetric, ...] = ("cost", "tokens", "output_tokens", "sessions")
TimelineInterval = Literal["hour", "day", "week", "month"]
TIMELINE_INTERVALS: tuple[TimelineInterval, ...] = ("hour", "day", "week", "month")
HOUR_MS = 3_600_000
MAX_TIMELINE_POINTS = 2_000
"""A timeline longer than this is refused: choose a coarser interval or a shorter range."""
HEATMAP_DAYS = 365
"""Days a heatmap covers when the query has no ``since``: a year up to ``until`` (or today)."""


# the JSON shapes (tokentrail.shape), their fields in the API's order; a shape
# without a docstring has no description in the API


class HeatmapDayJson(TypedDict):
    date: str
    value: Annotated[float | None, Doc("The chosen metric; null: not reported/priced.")]
    requests: int
    cost_usd: float | None
    total_tokens: int | None
    output_tokens: int | None
    sessions: int
    unpriced_requests: int


class HeatmapJson(TypedDict):
    metric: str
    since: str
    until: str
    timezone: str
    max: float | None
    total: float | None
    days: Annotated[list[HeatmapDayJson], Doc("Only days with usage or sessions.")]


class TimelinePointJson(FiguresJson):
    start: Annotated[str, Doc("The interval's first local moment, ISO 8601.")]
    label: str
    cumulative_tokens: int | None
    cumulative_cost_usd: float | None


class TimelineJson(TypedDict):
    interval: str
    timezone: str
    totals: FiguresJson
    points: list[TimelinePointJson]


class ModelSeriesJson(TypedDict):
    model: str | None
    values: Annotated[list[float | None], Doc("Cost per day; null: usage without price.")]
    unpriced_requests: list[int]
    totals: FiguresJson


class DailyByModelJson(TypedDict):
    interval: Annotated[
        Literal["day", "week", "month"],
        Doc("What each of `days` starts: a day, an ISO week or a month"),
        Default("day"),
    ]
    days: list[str]
    series: list[ModelSeriesJson]
    unpriced_models: list[UnpricedModelJson]
    timezone: str


@dataclass(frozen=True, slots=True)
class HeatmapDay:
    day: date
    requests: int
    cost_usd: float | None
    total_tokens: int | None
    output_tokens: int | None
    sessions: int
    unpriced_requests: int

    def value(self, metric: HeatmapMetric) -> float | int | None:
        if metric == "cost":
            return self.cost_usd
        if metric == "tokens":
            return self.total_tokens
        if metric == "output_tokens":
            return self.output_tokens
        return self.sessions

    def as_dict(self, metric: HeatmapMetric) -> HeatmapDayJson:
        return {
            "date": self.day.isoformat(),
            "value": self.value(metric),
            "requests": self.requests,
            "cost_usd": self.cost_usd,
            "total_tokens": self.total_tokens,
            "output_tokens": self.output_tokens,
            "sessions": self.sessions,
            "unpriced_requests": self.unpriced_requests,
        }


@dataclass(frozen=True, slots=True)
class Heatmap:
    """One figure per local day. Days absent from ``days`` had no usage and no session."""

    metric: HeatmapMetric
    since: date
    until: date
    days: list[HeatmapDay]
    timezone: str

    def as_dict(self) -> HeatmapJson:
        values = [v for d in self.days if (v := d.value(self.metric)) is not None]
        return {
            "metric": self.metric,
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "timezone": self.timezone,
            "max": max(values, default=None),
            "total": sum(values) if values else None,
            "days": [d.as_dict(self.metric) for d in self.days],
        }


def heatmap_report(
    store: Store,
    query: ReportQuery,
    metric: HeatmapMetric = "cost",
    *,
    models: Sequence[str] = (),
    now: datetime | None = None,
) -> Heatmap:
    """Cost, tokens, output tokens and sessions started per local day, for a calendar.

    Covers ``since``..``until`` of the query; without ``since``, the year up to ``until`` (or
    today). Every metric is in each day; ``metric`` picks the one called ``value``."""
    if metric not in HEATMAP_METRICS:
        raise ValueError(f"unknown heatmap metric {metric!r}")
    today = (now or datetime.now(UTC)).astimezone(query.zone).date()
    until = query.until or today
    since = query.since or (until - timedelta(days=HEATMAP_DAYS - 1))
    scoped = replace(query, since=since, until=until)
    filters = scoped.filters()
    assert filters.since_ms is not None and filters.until_ms is not None
    segments = offset_segments(query.zone, filters.since_ms - DAY_MS, filters.until_ms + DAY_MS)
    usage = {
        r.index: r.totals
        for r in store.interval_totals(filters, segments, DAY_MS, by_model=False, models=models)
    }
    sessions = dict(store.session_day_counts(filters, segments, models))
    days: list[HeatmapDay] = []
    for index in sorted(set(usage) | set(sessions)):
        figures = UsageFigures.from_totals(usage.get(index, Totals.zero()))
        days.append(
            HeatmapDay(
                day=day_to_date(index),
                requests=figures.requests,
                cost_usd=figures.cost_usd,
                total_tokens=figures.total_tokens,
                output_tokens=figures.output_tokens,
                sessions=sessions.get(index, 0),
                unpriced_requests=figures.unpriced_requests,
            )
        )
    return Heatmap(metric, since, until, days, query.zone_name)


@dataclass(frozen=True, slots=True)
class TimelinePoint:
    start: datetime
    """The interval's first local moment (aware, in the query's zone)."""
    label: str
    figures: UsageFigures
    cumulative_tokens: int | None
    cumulative_cost_usd: float | None

    def as_dict(self) -> TimelinePointJson:
        return {
            "start": self.start.isoformat(),
            "label": self.label,
            **self.figures.as_dict(),
            "cumulative_tokens": self.cumulative_tokens,
            "cumulative_cost_usd": self.cumulative_cost_usd,
        }


@dataclass(frozen=True, slots=True)
class Timeline:
    """Usage per interval with running totals; intervals without usage have 0 requests."""

    interval: TimelineInterval
    points: list[TimelinePoint]
    totals: UsageFigures
    timezone: str

    def as_dict(self) -> TimelineJson:
        return {
            "interval": self.interval,
            "timezone": self.timezone,
            "totals": self.totals.as_dict(),
            "points": [p.as_dict() for p in self.points],
        }


def auto_interval(days: float) -> TimelineInterval:
    """The interval that gives a readable number of points for a span of ``days``."""
    if days <= 3:
        return "hour"
    if days <= 180:
        return "day"
    if days <= 3 * 366:
        return "week"
    return "month"


def _local_naive(ms: int) -> datetime:
    return datetime(1970, 1, 1) + timedelta(milliseconds=ms)


def token_timeline(
    store: Store,
    query: ReportQuery,
    *,
    interval: TimelineInterval | Literal["auto"] = "auto",
    models: Sequence[str] = (),
    now: datetime | None = None,
) -> Timeline:
    """Tokens and cost per hour, day, ISO week or month (``auto`` picks one for the span),
    from the query's ``since`` (else the first usage) to its ``until`` (else the last usage,
    or now when ``since`` is given), every interval present, with cumulative totals."""
    filters = query.filters()
    zone = query.zone
    span = store.time_range(filters)
    now_ms = int((now or datetime.now(UTC)).timestamp() * 1000)
    if filters.since_ms is not None:
        start_ms = filters.since_ms
    elif span is not None:
        start_ms = span[0]
    else:
        start_ms = now_ms
    if filters.until_ms is not None:
        end_ms = filters.until_ms
    elif filters.since_ms is not None:
        end_ms = max(now_ms, span[1] + BUCKET_MS if span else now_ms)
    else:
        end_ms = span[1] + BUCKET_MS if span else now_ms
    end_ms = max(end_ms, start_ms + 1)
    chosen: TimelineInterval = (
        auto_interval((end_ms - start_ms) / DAY_MS) if interval == "auto" else interval
    )
    if chosen not in TIMELINE_INTERVALS:
        raise ValueError(f"unknown timeline interval {chosen!r}")
    segments = offset_segments(zone, start_ms - DAY_MS, end_ms + DAY_MS)
    step = HOUR_MS if chosen == "hour" else DAY_MS
    rows = store.interval_totals(filters, segments, step, by_model=False, models=models)
    first_local = start_ms + offset_ms(zone, start_ms)
    last_local = end_ms - 1 + offset_ms(zone, end_ms - 1)
    keys: list[tuple[str, datetime]] = []
    grouped: dict[str, Totals] = {}
    if chosen == "hour":
        first, last = first_local // HOUR_MS, last_local // HOUR_MS
        if last - first + 1 > MAX_TIMELINE_POINTS:
            raise ValueError(_too_many(chosen, last - first + 1))
        for index in range(first, last + 1):
            moment = _local_naive(index * HOUR_MS)
            keys.append((moment.strftime("%Y-%m-%d %H:00"), moment))
        for r in rows:
            label = _local_naive(r.index * HOUR_MS).strftime("%Y-%m-%d %H:00")
            grouped[label] = grouped.get(label, Totals.zero()) + r.totals
    else:
        label_of: Callable[[date], str] = PERIOD_LABELS[
            {"day": "daily", "week": "weekly", "month": "monthly"}[chosen]
        ]
        first_day = day_to_date(first_local // DAY_MS)
        last_day = day_to_date(last_local // DAY_MS)
        day = _period_start(first_day, chosen)
        while day <= last_day:
            keys.append((label_of(day), datetime(day.year, day.month, day.day)))
            if len(keys) > MAX_TIMELINE_POINTS:
                raise ValueError(_too_many(chosen, len(keys)))
            day = _next_period(day, chosen)
        for r in rows:
            label = label_of(day_to_date(r.index))
            grouped[label] = grouped.get(label, Totals.zero()) + r.totals
    points: list[TimelinePoint] = []
    running_tokens: int | None = None
    running_cost: float | None = None
    whole = Totals.zero()
    for label, moment in keys:
        totals = grouped.get(label, Totals.zero())
        whole = whole + totals
        figures = UsageFigures.from_totals(totals)
        if figures.total_tokens is not None:
            running_tokens = (running_tokens or 0) + figures.total_tokens
        if figures.cost_usd is not None:
            running_cost = round((running_cost or 0.0) + figures.cost_usd, 6)
        points.append(
            TimelinePoint(
                start=moment.replace(tzinfo=zone),
                label=label,
                figures=figures,
                cumulative_tokens=running_tokens,
                cumulative_cost_usd=running_cost,
            )
        )
    return Timeline(chosen, points, UsageFigures.from_totals(whole), query.zone_name)


def _too_many(interval: str, count: int) -> str:
    return (
        f"a timeline per {interval} of this range has {count:,} points (at most "
        f"{MAX_TIMELINE_POINTS:,}); choose a coarser interval or a shorter range"
    )


def _period_start(day: date, interval: TimelineInterval) -> date:
    return period_start(day, interval)


def _next_period(day: date, interval: TimelineInterval) -> date:
    return next_period_start(day, interval)


@dataclass(frozen=True, slots=True)
class ModelSeries:
    model: str | None
    """None for usage without a model; ``"(other)"`` for the models past the top ones."""
    values: list[float | None]
    """Cost per day: None where the model had usage but no price; 0.0 where it had none."""
    unpriced_requests: list[int]
    figures: UsageFigures

    def as_dict(self) -> ModelSeriesJson:
        return {
            "model": self.model,
            "values": list(self.values),
            "unpriced_requests": list(self.unpriced_requests),
            "totals": self.figures.as_dict(),
        }


@dataclass(frozen=True, slots=True)
class DailyByModel:
    days: list[date]
    """The first day of each bar: days, or the Mondays of ISO weeks, or months' first days."""
    series: list[ModelSeries]
    unpriced_models: list[UnpricedModel]
    timezone: str
    interval: Literal["day", "week", "month"] = "day"

    def as_dict(self) -> DailyByModelJson:
        return {
            "interval": self.interval,
            "days": [d.isoformat() for d in self.days],
            "series": [s.as_dict() for s in self.series],
            "unpriced_models": unpriced_dicts(self.unpriced_models),
            "timezone": self.timezone,
        }


def daily_cost_by_model(
    store: Store,
    query: ReportQuery,
    *,
    models: Sequence[str] = (),
    top: int = 8,
    max_days: int = 3 * 366,
    interval: Literal["day", "week", "month", "auto"] = "day",
) -> DailyByModel:
    """Cost per local day and model (for a stacked chart), the ``top`` costliest models apart
    and the others summed; every day from ``since`` (else the first usage) to ``until`` (else
    the last usage), at most ``max_days`` of them (the newest). With ``interval`` ``week`` or
    ``month`` the days are summed per ISO week or month; ``auto`` picks by the span as the
    token timeline does (days up to 180 days, then weeks, months past three years)."""
    filters = query.filters()
    span = store.time_range(filters)
    if span is None and (filters.since_ms is None or filters.until_ms is None):
        return DailyByModel([], [], [], query.zone_name)
    start_ms = filters.since_ms if filters.since_ms is not None else span[0]  # type: ignore[index]
    end_ms = filters.until_ms if filters.until_ms is not None else span[1] + BUCKET_MS  # type: ignore[index]
    segments = offset_segments(query.zone, start_ms - DAY_MS, end_ms + DAY_MS)
    first = day_to_date((start_ms + offset_ms(query.zone, start_ms)) // DAY_MS)
    last = day_to_date((end_ms - 1 + offset_ms(query.zone, end_ms - 1)) // DAY_MS)
    first = max(first, last - timedelta(days=max_days - 1))
    chosen = interval
    if chosen == "auto":
        picked = auto_interval((last - first).days + 1)
        chosen = "day" if picked == "hour" else picked
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    if chosen != "day":  # one bar per week or month: each day counts in its period's bar
        starts = sorted({_period_start(d, chosen) for d in days})
        at_start = {d: i for i, d in enumerate(starts)}
        position = {d: at_start[_period_start(d, chosen)] for d in days}
        days = starts
    else:
        position = {d: i for i, d in enumerate(days)}
    # a year of days by model is thousands of rows: each bar's rows gathered, then summed once
    # (integers: the same sums in any order), each model's alias looked up once
    bar_of = {date_to_day(d): at for d, at in position.items()}
    aliases: dict[str | None, str | None] = {}
    gathered: dict[tuple[str | None, int], list[tuple[int, ...]]] = {}
    for r in store.interval_totals(filters, segments, DAY_MS, by_model=True, models=models):
        at = bar_of.get(r.index)
        if at is not None:
            if r.model not in aliases:
                aliases[r.model] = model_alias(r.model) if r.model is not None else None
            gathered.setdefault((aliases[r.model], at), []).append(r.totals.values)
    per_model: dict[str | None, dict[int, Totals]] = {}
    for (alias, at), rows in gathered.items():
        summed = rows[0] if len(rows) == 1 else tuple(map(sum, zip(*rows, strict=True)))
        per_model.setdefault(alias, {})[at] = Totals(summed)
    whole = {m: sum(cells.values(), Totals.zero()) for m, cells in per_model.items()}
    ranked = sorted(
        per_model,
        key=lambda m: (
            -priced_cost(UsageFigures.from_totals(whole[m])),
            -whole[m].requests,
            m is None,
            m or "",
        ),
    )
    kept, rest = ranked[:top], ranked[top:]
    groups: list[tuple[str | None, dict[int, Totals]]] = [(m, per_model[m]) for m in kept]
    if rest:
        merged: dict[int, Totals] = {}
        for m in rest:
            for at, totals in per_model[m].items():
                merged[at] = merged.get(at, Totals.zero()) + totals
        groups.append(("(other)", merged))
    series: list[ModelSeries] = []
    for model, cells in groups:
        values: list[float | None] = []
        unpriced: list[int] = []
        for at in range(len(days)):
            cell = cells.get(at)
            if cell is None:
                values.append(0.0)
                unpriced.append(0)
                continue
            day_figures = UsageFigures.from_totals(cell)
            values.append(day_figures.cost_usd)
            unpriced.append(day_figures.unpriced_requests)
        whole_figures = UsageFigures.from_totals(sum(cells.values(), Totals.zero()))
        series.append(ModelSeries(model, values, unpriced, whole_figures))
    return DailyByModel(
        days, series, unpriced_models_of(store, filters, models), query.zone_name, chosen
    )
