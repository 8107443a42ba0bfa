"""The read API's response models (its OpenAPI contract): the dashboard's reports as JSON."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from tokentrail.server.models import (
    CurrentRunOut,
    Figures,
    SessionRuntime,
    SessionWho,
    UnpricedModelOut,
)


class SpendRowOut(Figures):
    group: str | None = Field(description="The source, model or project; null: not reported.")
    share: float | None = Field(description="Share of the priced cost (or of tokens).")


class SpendOut(BaseModel):
    by: str
    rows: list[SpendRowOut]
    totals: Figures
    share_of: Literal["cost", "tokens"]
    unpriced_models: list[UnpricedModelOut]
    timezone: str


class HeatmapDayOut(BaseModel):
    date: str
    value: float | None = Field(description="The chosen metric; null: not reported/priced.")
    requests: int
    cost_usd: float | None
    total_tokens: int | None
    output_tokens: int | None
    sessions: int
    unpriced_requests: int


class HeatmapOut(BaseModel):
    metric: str
    since: str
    until: str
    timezone: str
    max: float | None
    total: float | None
    days: list[HeatmapDayOut] = Field(description="Only days with usage or sessions.")


class TimelinePointOut(Figures):
    start: str = Field(description="The interval's first local moment, ISO 8601.")
    label: str
    cumulative_tokens: int | None
    cumulative_cost_usd: float | None


class TimelineOut(BaseModel):
    interval: str
    timezone: str
    totals: Figures
    points: list[TimelinePointOut]


class ModelSeriesOut(BaseModel):
    model: str | None
    values: list[float | None] = Field(description="Cost per day; null: usage without price.")
    unpriced_requests: list[int]
    totals: Figures


class DailyByModelOut(BaseModel):
    interval: Literal["day", "week", "month"] = Field(
        "day", description="What each of `days` starts: a day, an ISO week or a month"
    )
    days: list[str]
    series: list[ModelSeriesOut]
    unpriced_models: list[UnpricedModelOut]
    timezone: str


class _PageTimes(BaseModel):
    git_branch: str | None
    started_at: datetime | None
    completed_at: datetime | None
    first_activity: datetime | None
    last_activity: datetime | None


# pydantic puts the fields of the last base first: the figures, who the session is, its
# times, its runtime, then its own (no docstring: it would become the schema's description)
class SessionEntryOut(SessionRuntime, _PageTimes, SessionWho, Figures):
    own: Figures = Field(description="The session's own usage, without its subagents'.")
    subagent_count: int


class SessionPageOut(BaseModel):
    rows: list[SessionEntryOut]
    total: int = Field(description="Sessions matching the filters, on all pages.")
    runtime_seconds: float | None
    sort: str
    order: Literal["asc", "desc"]
    limit: int
    offset: int


class ScopeOut(Figures):
    label: str
    since: str | None
    until: str | None
    sessions: int
    runtime_seconds: float | None


class OverviewOut(BaseModel):
    lifetime: ScopeOut
    selected: ScopeOut | None
    month: ScopeOut
    today: ScopeOut
    current_run: CurrentRunOut | None
    daily_cost_by_model: DailyByModelOut
    timeline: TimelineOut
    heatmap: HeatmapOut
    top_sessions: SessionPageOut
    recent_sessions: SessionPageOut
    by_source: SpendOut
    by_model: SpendOut
    by_project: SpendOut
    unpriced_models: list[UnpricedModelOut]
    timezone: str


class ChangeOut(BaseModel):
    previous: Figures = Field(description="The period of the same length just before")
    previous_since: str
    previous_until: str
    cost_change: float | None = Field(
        description="Relative change of the priced cost (0.12 is +12%); null without a base"
    )
    tokens_change: float | None


class RangeDaysOut(BaseModel):
    days: int
    active_days: int
    average_cost_usd: float | None = Field(description="Priced cost per active day")
    peak_day: str | None
    peak_cost_usd: float | None


class MonthEndOut(BaseModel):
    projected_usd: float = Field(description="An estimate: spend so far plus the burn rate")
    projected_low_usd: float | None
    projected_high_usd: float | None


class MonthOut(BaseModel):
    month: str
    requests: int
    total_tokens: int | None
    cost_usd: float | None
    unpriced_requests: int
    cost_change: float | None = Field(description="Against the month before; null if none")


class TrendsOut(BaseModel):
    selected: ChangeOut | None = Field(description="null without a range start")
    month: ChangeOut
    today: ChangeOut
    days: RangeDaysOut | None
    month_end_estimate: MonthEndOut | None = Field(
        description="null with a model filter or several agents (a projection cannot be "
        "scoped to them)"
    )
    months: list[MonthOut] = Field(description="Months with usage in the year, newest first")


class VersionOut(BaseModel):
    version: str = Field(description="Changes whenever the ledger changes; compare, don't parse.")
