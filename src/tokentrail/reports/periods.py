"""The ledger's reports: usage per local day, ISO week or month, and per agent session."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Literal, NotRequired, TypedDict

from tokentrail.figures import FiguresJson, UnpricedModelJson, UsageFigures, unpriced_dicts
from tokentrail.model_names import model_alias
from tokentrail.periods import DAY_MS, day_to_date, offset_segments
from tokentrail.reports.counting import (
    family_last_ms,
    models_served,
    rank_models,
    session_families,
    session_name,
)
from tokentrail.reports.query import PERIOD_LABELS, ReportQuery, from_ms, in_range, iso_time
from tokentrail.shape import Default, Doc, IsoTime
from tokentrail.store.base import Filters, Store, Totals, UnpricedModel

Period = Literal["daily", "weekly", "monthly"]


# the JSON shapes (tokentrail.shape), their fields in the API's order


class _PeriodJson(TypedDict):
    period: Annotated[str, Doc("2026-05-04, 2026-W19 or 2026-05.")]
    model: NotRequired[Annotated[str | None, Doc("Only with breakdown=true."), Default(None)]]


class PeriodRowJson(_PeriodJson, FiguresJson):
    """One period (and model, with breakdown=true)."""


class _ModelJson(TypedDict, total=False):  # a row's model: with breakdown only
    model: str | None


class _GroupJson(_ModelJson, total=False):  # the keys of a row's breakdown
    machine: str | None
    user: str | None


class TeamPeriodRowJson(PeriodRowJson, total=False):
    """A period of a report broken down by machine or user (the CLI's; not in the API)."""

    machine: str | None
    user: str | None


class SessionReportRowJson(PeriodRowJson):
    """A session of the session report (the CLI's ``session --json``): its key is its
    "period"."""

    session_key: str
    name: str | None
    source: str
    project: str | None
    title: str | None
    started_at: IsoTime | None
    last_activity: IsoTime | None
    models: list[str]
    subagent_count: int
    own: FiguresJson
    subagents: FiguresJson | None
    summary: str | None


class PeriodReportJson(TypedDict):
    rows: list[PeriodRowJson]
    totals: FiguresJson
    unpriced_models: list[UnpricedModelJson]
    timezone: str


@dataclass(frozen=True, slots=True)
class PeriodRow:
    period: str
    model: str | None
    figures: UsageFigures
    group_by: str | None = None
    """``machine`` or ``user`` when the report is broken down by one (``group`` is its value)."""
    group: str | None = None

    def as_dict(self, breakdown: bool) -> TeamPeriodRowJson:
        group: _GroupJson = {}
        if breakdown:
            group["model"] = self.model
        if self.group_by == "machine":
            group["machine"] = self.group
        elif self.group_by == "user":
            group["user"] = self.group
        return {"period": self.period, **group, **self.figures.as_dict()}


@dataclass(frozen=True, slots=True)
class SessionRow:
    """One agent session with its own spend and its subagents' spend rolled up on it."""

    key: str
    source: str
    model: str | None
    project: str | None
    title: str | None
    started_at: datetime | None
    last_activity: datetime | None
    figures: UsageFigures
    """Rolled up: the session's own usage plus its subagents'."""
    own: UsageFigures
    subagents: UsageFigures | None
    subagent_count: int
    models: tuple[str, ...]
    summary: str | None = None
    """One sentence about the session (tokentrail.insights.sessions.summary_text), when computed."""
    name: str | None = None
    """A readable name (see :func:`session_name`)."""

    @property
    def period(self) -> str:
        """A session's "period" is its key, as in the JSON contract."""
        return self.key

    def as_dict(self, breakdown: bool) -> SessionReportRowJson:
        group: _ModelJson = {"model": self.model} if breakdown else {}
        return {
            "period": self.key,
            "session_key": self.key,
            "name": self.name,
            **group,
            **self.figures.as_dict(),
            "source": self.source,
            "project": self.project,
            "title": self.title,
            "started_at": iso_time(self.started_at),
            "last_activity": iso_time(self.last_activity),
            "models": list(self.models),
            "subagent_count": self.subagent_count,
            "own": self.own.as_dict(),
            "subagents": self.subagents.as_dict() if self.subagents else None,
            "summary": self.summary,
        }


@dataclass(frozen=True, slots=True)
class Report:
    """A report's rows, totals, the unpriced models, and the zone it was computed in."""

    kind: str
    rows: Sequence[PeriodRow | SessionRow]
    totals: UsageFigures
    unpriced_models: Sequence[UnpricedModel]
    timezone: str
    breakdown: bool = False
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> PeriodReportJson:
        return {
            "rows": [row.as_dict(self.breakdown) for row in self.rows],
            "totals": self.totals.as_dict(),
            "unpriced_models": unpriced_dicts(self.unpriced_models),
            "timezone": self.timezone,
        }


def period_report(
    store: Store, kind: Period, query: ReportQuery, *, raw_models: bool = False
) -> Report:
    """Usage per local day, ISO week or month (optionally per model: a dated model id and
    its alias are one row, unless ``raw_models``, as exports keep the ids as logged)."""
    filters = query.filters()
    by = query.group_by
    span = store.time_range(filters)
    grouped: dict[tuple[str, str | None], Totals] = {}
    if span is not None:
        segments = offset_segments(query.zone, span[0] - DAY_MS, span[1] + DAY_MS)
        label = PERIOD_LABELS[kind]
        day_rows = (
            store.day_totals(filters, segments, by_model=by == "model")
            if by in (None, "model")
            else store.day_totals_by(filters, segments, by)
        )
        for row in day_rows:
            group = row.model if by in (None, "model") else row.group
            if by == "model" and group is not None and not raw_models:
                group = model_alias(group)  # a dated id and its alias: one row
            key = (label(day_to_date(row.day)), group)
            grouped[key] = grouped.get(key, Totals.zero()) + row.totals
    team_group = by if by in ("machine", "user") else None
    rows = [
        PeriodRow(
            period=period,
            model=None if team_group else group,
            figures=UsageFigures.from_totals(totals),
            group_by=team_group,
            group=group if team_group else None,
        )
        for (period, group), totals in sorted(
            grouped.items(), key=lambda i: (i[0][0], i[0][1] or "")
        )
    ]
    total = sum(grouped.values(), Totals.zero())
    return Report(
        kind=kind,
        rows=rows,
        totals=UsageFigures.from_totals(total),
        unpriced_models=store.unpriced_models(filters),
        timezone=query.zone_name,
        breakdown=by == "model",
    )


def session_report(store: Store, query: ReportQuery) -> Report:
    """One row per agent session; subagent spend is rolled up on its parent and shown apart."""
    if query.group_by not in (None, "model"):
        raise ValueError("the session report breaks down by model only")
    filters = query.filters()
    # subagents are fetched without the date filter so a parent's row stays whole
    unfiltered = Filters(
        sources=filters.sources,
        project=filters.project,
        machines=filters.machines,
        users=filters.users,
    )
    if query.group_by == "model":
        rows = store.session_totals(unfiltered, by_model=True)
        models_by_session = models_served(rows)
    else:
        # one row per session summed by the store, and only the (session, model) pairs the
        # model column needs: far fewer Python objects than every per-model sum
        rows = store.session_totals(unfiltered, by_model=False)
        models_by_session = rank_models(store.session_model_requests(unfiltered))
    parents, children = session_families(rows)
    out: list[SessionRow] = []
    grand = Totals.zero()
    for r in parents:
        kids = children.get((r.session.key, r.model), [])
        last_ms = family_last_ms(r, children)
        if not in_range(last_ms, filters):
            continue
        own = UsageFigures.from_totals(r.totals)
        if kids:
            kid_totals = sum((k.totals for k in kids), Totals.zero())
            combined = r.totals + kid_totals
            figures, subagents = (
                UsageFigures.from_totals(combined),
                UsageFigures.from_totals(kid_totals),
            )
        else:  # most sessions: their own figures are the whole row's
            combined, figures, subagents = r.totals, own, None
        grand = grand + combined
        out.append(
            SessionRow(
                key=r.session.key,
                source=r.session.source,
                model=r.model,
                project=r.session.project,
                title=r.session.title,
                started_at=r.session.started_at or from_ms(r.first_ms),
                last_activity=from_ms(last_ms),
                figures=figures,
                own=own,
                subagents=subagents,
                subagent_count=len({k.session.key for k in kids}),
                models=models_by_session.get(r.session.key, ()),
                name=session_name(r.session, models_by_session.get(r.session.key, ()), r.first_ms),
            )
        )
    out.sort(key=lambda s: (s.last_activity or datetime.min.replace(tzinfo=UTC), s.key))
    return Report(
        kind="session",
        rows=out,
        totals=UsageFigures.from_totals(grand),
        unpriced_models=store.unpriced_models(filters),
        timezone=query.zone_name,
        breakdown=query.group_by == "model",
    )
