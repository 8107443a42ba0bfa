"""The API's request and response bodies, as pydantic models.

They document the JSON contract in the OpenAPI schema (``/openapi.json``). The requests' models
are written here; the responses' are built (:mod:`tokentrail.server.shapes`) from the JSON
shapes the reports' ``as_dict()`` return (the CLI's ``--json``), so every face shows the same
fields, declared once. The contract only grows: ``tests/test_openapi.py`` fails on any removed or
changed field.

The usage rules themselves (what a valid token count, cost or state is) live in
:mod:`tokentrail.ingest` and :mod:`tokentrail.ledger`; these models only parse types.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal, TypedDict

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
)

from tokentrail import ingest
from tokentrail.figures import FiguresJson
from tokentrail.ingest import MAX_COUNT, MAX_ID_LENGTH
from tokentrail.reports.charts import DailyByModelJson, HeatmapJson, TimelineJson
from tokentrail.reports.overview import OverviewJson
from tokentrail.reports.periods import PeriodReportJson
from tokentrail.reports.reconciliation import ReconciliationJson
from tokentrail.reports.runs import RunJson, RunsJson, SummaryJson
from tokentrail.reports.sessions import (
    SessionDetailJson,
    SessionJson,
    SessionPageJson,
    SessionsJson,
)
from tokentrail.reports.spend import SpendJson
from tokentrail.server.limits import MAX_NOTE_LENGTH
from tokentrail.server.shapes import response_model
from tokentrail.shape import Doc
from tokentrail.usage import EARLIEST_YEAR, LATEST_YEAR, RUN_STATES, SESSION_STATES


def parse_timestamp(value: object) -> datetime:
    """An ISO 8601 date-time string as a datetime (its zone is checked by the caller)."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise ValueError(
            f"must be an ISO 8601 date-time string with a zone, e.g. 2026-05-04T09:30:00Z, "
            f"got {type(value).__name__}"
        )
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            f"{value[:40]!r} is not an ISO 8601 date-time; use e.g. 2026-05-04T09:30:00Z"
        ) from None


def check_timestamp_range(value: datetime) -> datetime:
    """A zoned timestamp in UTC, within the years the ledger can date and report."""
    if value.tzinfo is None or value.utcoffset() is None:
        return value  # the zone rule is the ledger's (ingest.py) or AwareDatetime's
    try:
        return ingest.check_timestamp_range(value)
    except ingest.InvalidUsage as exc:
        raise ValueError(exc.message) from None


Timestamp = Annotated[
    AwareDatetime,
    BeforeValidator(parse_timestamp),
    AfterValidator(check_timestamp_range),
    Field(
        description="ISO 8601 with a zone, e.g. 2026-05-04T09:30:00Z or +02:00, "
        f"between the years {EARLIEST_YEAR} and {LATEST_YEAR}"
    ),
]
Id = Annotated[StrictStr, Field(min_length=1, max_length=MAX_ID_LENGTH)]
Note = Annotated[StrictStr, Field(max_length=MAX_NOTE_LENGTH)]
Count = Annotated[StrictInt, Field(ge=0, le=MAX_COUNT)]


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- requests ---------------------------------------------------------------------------


class RunStart(_Request):
    """``POST /api/v1/runs``: one boot of an orchestrator."""

    app: Id = Field(
        description="The orchestrator's name; its still-running runs are closed "
        "as crashed when it starts a new one."
    )
    reason: Note | None = Field(default=None, description="Why this run started, e.g. deploy.")
    run_id: Id | None = Field(
        default=None,
        description="Your id for the run (default: a new one). Sending the same id and app "
        "again returns the run already recorded (safe to retry).",
    )
    started_at: Timestamp | None = Field(default=None, description="Default: now.")


class RunUpdate(_Request):
    """``PATCH /api/v1/runs/{run_id}``: what changed; omitted fields stay as they were."""

    stopped_at: Timestamp | None = None
    state: StrictStr | None = Field(default=None, json_schema_extra={"enum": list(RUN_STATES)})
    peak_concurrency: Count | None = Field(default=None, description="Only ever grows.")
    sessions_launched: Count | None = Field(default=None, description="Only ever grows.")


class SessionPut(_Request):
    """``PUT /api/v1/sessions/{key}``: creates the session or updates the given fields;
    omitted (or null) fields keep what was known; the start time keeps the earliest."""

    source: Id | None = Field(default=None, description="Default for a new session: sdk.")
    run_id: Id | None = None
    issue_id: Id | None = None
    identifier: Id | None = None
    model: Id | None = None
    project: Note | None = None
    parent: Id | None = Field(
        default=None, description="The parent session's key (subagent, fork)."
    )
    relationship: Id | None = Field(
        default=None, description="subagent or fork, when parent is set."
    )
    title: Note | None = None
    started_at: Timestamp | None = None
    completed_at: Timestamp | None = None
    state: StrictStr | None = Field(default=None, json_schema_extra={"enum": list(SESSION_STATES)})
    turns: Count | None = None


class EventIn(BaseModel):
    """One request's usage, an item of ``POST /api/v1/events``. Documents the fields; items
    are checked one by one by :func:`tokentrail.ingest.event_from_report`, so one bad item
    never rejects its neighbours. Omitted token fields are stored as not reported (null),
    never as 0."""

    model_config = ConfigDict(extra="forbid")

    event_id: Id = Field(
        description="Your unique id for this request (e.g. the provider's response id). "
        "Required: a resend with the same id is recognised and counted once."
    )
    session_key: Id | None = None
    run_id: Id | None = None
    timestamp: Timestamp | None = Field(default=None, description="Default: when it is received.")
    source: Id | None = Field(default=None, description="Default: sdk.")
    model: Id | None = None
    provider: Id | None = None
    input_tokens: Count | None = Field(default=None, description="Uncached input.")
    cache_read_tokens: Count | None = None
    cache_write_tokens: Count | None = Field(default=None, description="5-minute cache writes.")
    cache_write_1h_tokens: Count | None = None
    output_tokens: Count | None = None
    reasoning_tokens: Count | None = Field(
        default=None, description="The part of output spent reasoning (not added to it)."
    )
    cost_usd: float | None = Field(
        default=None, ge=0, description="The cost the provider reported."
    )
    project: Note | None = None


class EventBatch(BaseModel):
    """``POST /api/v1/events``."""

    model_config = ConfigDict(extra="forbid")

    events: list[EventIn] = Field(
        description="At most max_batch_events items (see GET /api/v1/capabilities)."
    )


# -- responses --------------------------------------------------------------------------


class ErrorDetail(BaseModel):
    code: str = Field(description="A stable, machine-readable name, e.g. invalid_field.")
    message: str
    field: str | None = Field(default=None, description="The offending field or parameter.")


class ErrorBody(BaseModel):
    error: ErrorDetail


class EventResult(BaseModel):
    event_id: str | None
    status: Literal["created", "duplicate", "rejected"]
    error: ErrorDetail | None = Field(description="Why the item was rejected; else null.")


class EventResults(BaseModel):
    results: list[EventResult] = Field(description="One per item, in the order sent.")


class Capabilities(BaseModel):
    api_version: int
    features: list[str]
    max_batch_events: int
    max_body_bytes: int
    auth_required: bool


# -- the models built from the reports' JSON shapes (declared once, beside their rows) ----

# the trends' shapes are declared here until tokentrail.trends' as_dict() methods return them


class ChangeJson(TypedDict):
    previous: Annotated[FiguresJson, Doc("The period of the same length just before")]
    previous_since: str
    previous_until: str
    cost_change: Annotated[
        float | None,
        Doc("Relative change of the priced cost (0.12 is +12%); null without a base"),
    ]
    tokens_change: float | None


class RangeDaysJson(TypedDict):
    days: int
    active_days: int
    average_cost_usd: Annotated[float | None, Doc("Priced cost per active day")]
    peak_day: str | None
    peak_cost_usd: float | None


class MonthEndJson(TypedDict):
    projected_usd: Annotated[float, Doc("An estimate: spend so far plus the burn rate")]
    projected_low_usd: float | None
    projected_high_usd: float | None


class MonthJson(TypedDict):
    month: str
    requests: int
    total_tokens: int | None
    cost_usd: float | None
    unpriced_requests: int
    cost_change: Annotated[float | None, Doc("Against the month before; null if none")]


class TrendsJson(TypedDict):
    selected: Annotated[ChangeJson | None, Doc("null without a range start")]
    month: ChangeJson
    today: ChangeJson
    days: RangeDaysJson | None
    month_end_estimate: Annotated[
        MonthEndJson | None,
        Doc("null with a model filter or several agents (a projection cannot be scoped to them)"),
    ]
    months: Annotated[list[MonthJson], Doc("Months with usage in the year, newest first")]


RunOut = response_model(RunJson)
SessionOut = response_model(SessionJson)
SummaryOut = response_model(SummaryJson)
RunsOut = response_model(RunsJson)
SessionsOut = response_model(SessionsJson)
SessionDetailOut = response_model(SessionDetailJson)
PeriodReportOut = response_model(PeriodReportJson)
ReconciliationOut = response_model(ReconciliationJson)
SpendOut = response_model(SpendJson)
HeatmapOut = response_model(HeatmapJson)
TimelineOut = response_model(TimelineJson)
DailyByModelOut = response_model(DailyByModelJson)
SessionPageOut = response_model(SessionPageJson)
OverviewOut = response_model(OverviewJson)
TrendsOut = response_model(TrendsJson)


class VersionOut(BaseModel):  # built by its route
    version: str = Field(description="Changes whenever the ledger changes; compare, don't parse.")
