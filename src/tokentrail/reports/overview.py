"""The dashboard's overview: every block and chart of its first page, computed in one pass."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import TypedDict

from tokentrail.figures import FiguresJson, UnpricedModelJson, UsageFigures, unpriced_dicts
from tokentrail.reports.charts import (
    DailyByModel,
    DailyByModelJson,
    Heatmap,
    HeatmapJson,
    HeatmapMetric,
    Timeline,
    TimelineJson,
    daily_cost_by_model,
    heatmap_report,
    token_timeline,
)
from tokentrail.reports.counting import SessionCounter
from tokentrail.reports.query import ReportQuery
from tokentrail.reports.runs import (
    CurrentRunJson,
    RunRow,
    SummaryBlock,
    current_run_dict,
    current_run_with_block,
)
from tokentrail.reports.sessions import (
    SessionPageJson,
    SessionPageReport,
    session_page_report,
    top_sessions,
)
from tokentrail.reports.spend import (
    SpendJson,
    SpendReport,
    model_totals,
    spend_by,
    unpriced_models_of,
)
from tokentrail.store.base import SessionPageQuery, Store, UnpricedModel

# the JSON shapes (tokentrail.shape), their fields in the API's order


class ScopeJson(FiguresJson):
    label: str
    since: str | None
    until: str | None
    sessions: int
    runtime_seconds: float | None


class OverviewJson(TypedDict):
    lifetime: ScopeJson
    selected: ScopeJson | None
    month: ScopeJson
    today: ScopeJson
    current_run: CurrentRunJson | None
    daily_cost_by_model: DailyByModelJson
    timeline: TimelineJson
    heatmap: HeatmapJson
    top_sessions: SessionPageJson
    recent_sessions: SessionPageJson
    by_source: SpendJson
    by_model: SpendJson
    by_project: SpendJson
    unpriced_models: list[UnpricedModelJson]
    timezone: str


@dataclass(frozen=True, slots=True)
class ScopeBlock:
    """Usage of one time scope (all time, the selected range, this month, today) with the
    number of top-level sessions active in it and their summed runtime."""

    label: str
    since: date | None
    until: date | None
    figures: UsageFigures
    sessions: int
    runtime_seconds: float | None

    def as_dict(self) -> ScopeJson:
        return {
            "label": self.label,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            **self.figures.as_dict(),
            "sessions": self.sessions,
            "runtime_seconds": self.runtime_seconds,
        }


def scope_block(
    store: Store,
    query: ReportQuery,
    label: str,
    *,
    models: Sequence[str] = (),
    counter: SessionCounter | None = None,
) -> ScopeBlock:
    filters = query.filters()
    if not models:  # the one session count
        counts = (counter or SessionCounter(store)).counts(filters)
        sessions, runtime = counts.sessions, counts.runtime_seconds
    else:
        # with a model filter: the sessions that used those models, which all made requests
        page = store.session_page(SessionPageQuery(filters=filters, models=tuple(models), limit=0))
        sessions = page.total
        runtime = page.runtime_ms / 1000 if page.runtime_ms is not None else None
    return ScopeBlock(
        label=label,
        since=query.since,
        until=query.until,
        figures=UsageFigures.from_totals(model_totals(store, filters, models)),
        sessions=sessions,
        runtime_seconds=runtime,
    )


@dataclass(frozen=True, slots=True)
class Overview:
    """Everything the dashboard's overview shows, computed in one pass."""

    lifetime: ScopeBlock
    selected: ScopeBlock | None
    month: ScopeBlock
    today: ScopeBlock
    current_run: RunRow | None
    current_run_block: SummaryBlock | None
    daily: DailyByModel
    timeline: Timeline
    heatmap: Heatmap
    top_sessions: SessionPageReport
    recent_sessions: SessionPageReport
    by_source: SpendReport
    by_model: SpendReport
    by_project: SpendReport
    unpriced_models: list[UnpricedModel]
    timezone: str

    def as_dict(self) -> OverviewJson:
        return {
            "lifetime": self.lifetime.as_dict(),
            "selected": self.selected.as_dict() if self.selected else None,
            "month": self.month.as_dict(),
            "today": self.today.as_dict(),
            "current_run": current_run_dict(self.current_run, self.current_run_block),
            "daily_cost_by_model": self.daily.as_dict(),
            "timeline": self.timeline.as_dict(),
            "heatmap": self.heatmap.as_dict(),
            "top_sessions": self.top_sessions.as_dict(),
            "recent_sessions": self.recent_sessions.as_dict(),
            "by_source": self.by_source.as_dict(),
            "by_model": self.by_model.as_dict(),
            "by_project": self.by_project.as_dict(),
            "unpriced_models": unpriced_dicts(self.unpriced_models),
            "timezone": self.timezone,
        }


def overview_report(
    store: Store,
    query: ReportQuery,
    *,
    models: Sequence[str] = (),
    heatmap_metric: HeatmapMetric = "cost",
    now: datetime | None = None,
    counter: SessionCounter | None = None,
) -> Overview:
    """The overview: lifetime, selected range, this month and today; the current run; daily
    cost by model, the token timeline and the heatmap; top and recent sessions; spend by
    source, model and project. Everything but the lifetime block covers the query's range.
    ``counter``: the session counter to use (one that keeps what it works out across pages)."""
    now = now or datetime.now(UTC)
    today = now.astimezone(query.zone).date()
    everything = replace(query, since=None, until=None)
    counter = counter or SessionCounter(store)  # each block's session count from one read
    lifetime = scope_block(store, everything, "All time", models=models, counter=counter)
    selected = (
        scope_block(store, query, "Selected range", models=models, counter=counter)
        if query.since or query.until
        else None
    )
    month = scope_block(
        store,
        replace(query, since=today.replace(day=1), until=today),
        "This month",
        models=models,
        counter=counter,
    )
    today_block = scope_block(
        store, replace(query, since=today, until=today), "Today", models=models, counter=counter
    )
    current_run, current_block = current_run_with_block(store, counter)
    heat_query = replace(everything, until=query.until or today)
    return Overview(
        lifetime=lifetime,
        selected=selected,
        month=month,
        today=today_block,
        current_run=current_run,
        current_run_block=current_block,
        # a readable chart at any range: weeks or months past 180 days, five models apart
        daily=daily_cost_by_model(store, query, models=models, top=5, interval="auto"),
        timeline=token_timeline(store, query, models=models, now=now),
        heatmap=heatmap_report(store, heat_query, heatmap_metric, models=models, now=now),
        top_sessions=top_sessions(store, query, models=models),
        recent_sessions=session_page_report(store, query, models=models, limit=20),
        by_source=spend_by(store, query, "source", models=models),
        by_model=spend_by(store, query, "model", models=models),
        by_project=spend_by(store, query, "project", models=models, limit=12),
        unpriced_models=unpriced_models_of(store, query.filters(), models),
        timezone=query.zone_name,
    )
