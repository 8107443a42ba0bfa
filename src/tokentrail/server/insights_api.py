"""The insights API: budgets (and the other insights' routes, added next to it).

    app.include_router(insights_api.router)

Routes find the ledger at ``request.app.state.ledger`` and read through
:meth:`tokentrail.ledger.Ledger.reading`, like :mod:`tokentrail.server.read_api`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, TypedDict

from fastapi import APIRouter, Depends, Query

from tokentrail.figures import FiguresJson, UnpricedModelJson
from tokentrail.insights.efficiency import EfficiencyJson
from tokentrail.insights.sessions import SessionTimelineJson
from tokentrail.insights.tools import ToolUsageJson
from tokentrail.reports.query import ReportQuery
from tokentrail.server.limits import API_PREFIX
from tokentrail.server.params import day_param, report_query, zone_param
from tokentrail.server.shapes import response_model
from tokentrail.server.view import LedgerDep
from tokentrail.shape import Doc

FEATURES = (
    "budget",
    "blocks",
    "blocks.rate_limits",
    "tools",
    "efficiency",
    "session_summary",
    "session_timeline",
)
"""Names for ``GET /api/v1/capabilities``: what this router adds."""

router = APIRouter(prefix=API_PREFIX, tags=["insights"])

ZoneParam = Annotated[
    str | None, Query(max_length=64, description="IANA time zone of the periods (default: local)")
]


# The models are built from the JSON shapes (tokentrail.server.shapes). The budgets' and
# blocks' shapes are declared here until tokentrail.budgets' and tokentrail.blocks' as_dict()
# methods return them.

# -- budgets ---------------------------------------------------------------------------------


class BudgetJson(TypedDict):
    name: str
    period: Literal["day", "week", "month"]
    label: Annotated[str, Doc("The current period: 2026-05-04, 2026-W19 or 2026-05.")]
    start: Annotated[str, Doc("The period's first local moment, ISO 8601.")]
    end: Annotated[str, Doc("The first local moment after the period, ISO 8601.")]
    source: str | None
    project: Annotated[str | None, Doc("Text in the project path the budget covers.")]
    amount_usd: Annotated[float, Doc("The hard level.")]
    soft_usd: float
    soft_level: Annotated[float, Doc("The soft level as a fraction of the amount.")]
    spent_usd: Annotated[float, Doc("Priced spend so far (a lower bound if not complete).")]
    spent_share: float
    complete: Annotated[bool, Doc("False when some requests of the period have no price.")]
    requests: int
    unpriced_requests: int
    unpriced_models: list[UnpricedModelJson]
    elapsed_hours: float
    remaining_hours: float
    burn_usd_per_hour: Annotated[float, Doc("Spend over the elapsed part (at least 1 h).")]
    burn_usd_per_day: float
    projected_usd: Annotated[float, Doc("Spend at the end of the period at the burn rate.")]
    projected_low_usd: Annotated[float | None, Doc("null: under 2 days of history.")]
    projected_high_usd: float | None
    projected_share: float
    history_days: int
    daily_spread_usd: float | None
    runs_out_at: Annotated[str | None, Doc("When the amount is reached at the burn rate.")]
    reached_on: Annotated[
        str | None, Doc("The local day spend reached the amount (YYYY-MM-DD); null while under it.")
    ]
    status: Literal["ok", "soft", "hard"]
    projected_status: Literal["ok", "soft", "hard"]


class BudgetReportJson(TypedDict):
    rows: Annotated[list[BudgetJson], Doc("One per [[budgets]] of the server's config file.")]
    status: Annotated[Literal["ok", "soft", "hard"], Doc("The worst level of any budget.")]
    timezone: str
    at: str
    history_days: Annotated[int, Doc("Days of daily spend the projection's range uses.")]


BudgetReportOut = response_model(BudgetReportJson)


@router.get("/budget", response_model=BudgetReportOut)
def budget(ledger: LedgerDep, tz: ZoneParam = None) -> Any:
    """Each budget of the config file: spend so far in its current period, the burn rate,
    the projected end-of-period spend with a range, when it runs out, and its level
    (definitions: docs/insights.md)."""
    from tokentrail.budgets import budget_report

    zone, zone_name = zone_param(tz)
    with ledger.reading() as store:
        return budget_report(store, ledger.config.budgets, zone, zone_name).as_dict()


# -- 5-hour blocks ---------------------------------------------------------------------------


class BurnRateJson(TypedDict):
    tokens_per_minute: Annotated[
        float, Doc("Total tokens over the minutes from the block's first to its last request.")
    ]
    cost_usd_per_hour: float | None


class ProjectionJson(TypedDict):
    remaining_minutes: float
    total_tokens: Annotated[int, Doc("Tokens at the block's end if the burn rate holds.")]
    cost_usd: float | None
    kind: Literal["estimate"]


class RateLimitJson(TypedDict):
    source: str
    window: Annotated[str, Doc("primary (Codex: 5 hours) or secondary (weekly).")]
    window_minutes: int | None
    used_percent: Annotated[float, Doc("As the provider reported it, 0-100.")]
    resets_at: str | None
    observed_at: str
    current: Annotated[bool, Doc("False once the reported reset time has passed.")]
    kind: Literal["official"]


class LimitEstimateJson(TypedDict):
    token_limit: int
    used_percent: float
    projected_percent: float | None
    kind: Literal["estimate"]


class BlockJson(FiguresJson):
    start: Annotated[str, Doc("The block's first moment (a whole UTC hour), ISO 8601.")]
    end: Annotated[str, Doc("start + 5 hours.")]
    first_activity: str
    last_activity: str
    active: bool
    models: list[str]
    unpriced_models: list[UnpricedModelJson]
    burn_rate: Annotated[BurnRateJson | None, Doc("null: under a minute of activity.")]
    projection: Annotated[ProjectionJson | None, Doc("Active block only.")]
    official_rate_limits: Annotated[
        list[RateLimitJson],
        Doc("The latest official figures of each window logged during the block."),
    ]
    limit_estimate: LimitEstimateJson | None


class BlocksJson(TypedDict):
    rows: list[BlockJson]
    totals: FiguresJson
    unpriced_models: list[UnpricedModelJson]
    rate_limits: Annotated[
        list[RateLimitJson], Doc("The latest official figures per source and window.")
    ]
    timezone: str
    since: str | None
    generated_at: str | None


BlocksOut = response_model(BlocksJson)


@router.get("/blocks", response_model=BlocksOut)
def blocks(
    ledger: LedgerDep,
    tz: ZoneParam = None,
    since: Annotated[
        str | None, Query(max_length=10, description="YYYY-MM-DD (default: 7 days ago)")
    ] = None,
    active: Annotated[bool, Query(description="Only the block in progress.")] = False,
    source: Annotated[list[str] | None, Query(max_length=64)] = None,
    project: Annotated[str | None, Query(max_length=1000)] = None,
    token_limit: Annotated[int | None, Query(gt=0, description="For the estimate.")] = None,
) -> Any:
    """5-hour blocks with tokens, cost, burn rate and the active block's projection, and
    the official rate-limit figures agents logged (definitions: docs/insights.md)."""
    from tokentrail.blocks import BlocksQuery, blocks_report
    from tokentrail.periods import local_midnight_ms

    zone, zone_name = zone_param(tz)
    since_day = day_param(since, "since")
    since_ms = local_midnight_ms(since_day, zone) if since_day else None
    query = BlocksQuery(
        zone=zone,
        zone_name=zone_name,
        since_ms=since_ms,
        active_only=active,
        sources=tuple(s for s in (source or ()) if s),
        project=project or None,
        token_limit=token_limit,
    )
    with ledger.reading() as store:
        return blocks_report(store, query).as_dict()


# -- tool usage, efficiency, session timeline -------------------------------------------------


ToolUsageOut = response_model(ToolUsageJson)


DayParam = Annotated[str | None, Query(max_length=20, description="YYYY-MM-DD")]
SourceParam = Annotated[list[str] | None, Query(max_length=64)]
ProjectParam = Annotated[str | None, Query(max_length=1000)]


def scope_query(
    since: DayParam = None,
    until: DayParam = None,
    tz: ZoneParam = None,
    source: SourceParam = None,
    project: ProjectParam = None,
) -> ReportQuery:
    """The report query of the parameters that scope an insight (local days, zone, sources,
    project)."""
    return report_query(tz=tz, since=since, until=until, sources=source, project=project)


ScopeQuery = Annotated[ReportQuery, Depends(scope_query)]


@router.get("/tools", response_model=ToolUsageOut)
def tools(
    ledger: LedgerDep,
    query: ScopeQuery,
    session: Annotated[str | None, Query(max_length=1000, description="Only this session.")] = None,
    by_session: bool = False,
) -> Any:
    """Tool calls per tool name: calls, failures, average and p95 duration, overall or per
    session (the CLI's `tokentrail tools --json`; definitions: docs/insights.md)."""
    from tokentrail.insights.tools import tool_usage

    with ledger.reading() as store:
        return tool_usage(
            store,
            query.filters(),
            session_keys=(session,) if session else (),
            by_session=by_session,
        ).as_dict()


EfficiencyOut = response_model(EfficiencyJson)


@router.get("/efficiency", response_model=EfficiencyOut, response_model_exclude_unset=True)
def efficiency(
    ledger: LedgerDep,
    query: ScopeQuery,
    by: Literal["session", "project", "model"] = "session",
) -> Any:
    """Lines changed, cost and tokens per changed line, and cache efficiency per session,
    project or model (the CLI's `tokentrail efficiency --json`; docs/insights.md)."""
    from tokentrail.insights.efficiency import efficiency_report

    with ledger.reading() as store:
        return efficiency_report(store, query, by).as_dict()


SessionTimelineOut = response_model(SessionTimelineJson)


@router.get("/session-timeline", response_model=SessionTimelineOut)
def session_timeline(
    ledger: LedgerDep,
    key: Annotated[str, Query(min_length=1, max_length=1000, description="The session.")],
    interval: Literal["auto", "minute", "5min", "15min", "hour", "day"] = "auto",
) -> Any:
    """Tokens and cost of one session (its subagents included) per interval, with running
    totals (docs/insights.md, Token timeline). The overview's timeline is /timeline."""
    from tokentrail.insights.sessions import session_timeline as timeline_of
    from tokentrail.insights.sessions import subagents_of
    from tokentrail.server.errors import ApiError

    with ledger.reading() as store:
        if not store.sessions_by_key([key]):
            raise ApiError(404, "not_found", f"no session with key {key!r}", "key")
        kids = subagents_of(store, [key]).get(key, [])
        return timeline_of(store, key, kids, interval).as_dict()
