"""The API's request and response bodies, as pydantic models.

They document the JSON contract in the OpenAPI schema (``/openapi.json``); the shapes of the
read side are the reports' own ``as_dict()`` shapes (the CLI's ``--json``), so every face shows
the same fields. The contract only grows: ``tests/test_openapi.py`` fails on any removed or
changed field.

The usage rules themselves (what a valid token count, cost or state is) live in
:mod:`tokentrail.ingest` and :mod:`tokentrail.ledger`; these models only parse types.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

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
from tokentrail.ingest import MAX_COUNT, MAX_ID_LENGTH
from tokentrail.reports.reconciliation import (
    ChannelFiguresJson,
    MetricFiguresJson,
    ReconciliationJson,
    ReconciliationRowJson,
    ToolStatJson,
)
from tokentrail.server.limits import MAX_NOTE_LENGTH
from tokentrail.server.shapes import response_model
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


class _RunCore(BaseModel):
    run_id: str
    app: str
    started_at: datetime
    stopped_at: datetime | None
    state: str
    reason: str | None
    peak_concurrency: int
    sessions_launched: int
    runtime_seconds: float | None


class RunOut(_RunCore):
    machine: str | None


class SessionWho(BaseModel):
    """Who a session is: the fields every session row starts with."""

    session_key: str
    source: str
    run_id: str | None
    issue_id: str | None
    identifier: str | None
    title: str | None
    project: str | None
    model: str | None
    state: str | None
    turns: int | None
    parent_key: str | None
    relationship: str | None


class SessionOut(SessionWho):
    started_at: datetime | None
    completed_at: datetime | None
    runtime_seconds: float | None


class Figures(BaseModel):
    """Usage of a group. null means not reported (or, for cost, that nothing could be
    priced) — never a silent zero."""

    requests: int = Field(description="Requests (usage events) counted.")
    input_tokens: int | None
    cache_read_tokens: int | None
    cache_write_tokens: int | None
    output_tokens: int | None
    reasoning_tokens: int | None
    total_tokens: int | None
    cost_usd: float | None
    unpriced_requests: int
    reported_cost_usd: float | None
    web_searches: int = Field(0, description="Server-side web searches (billed per search).")
    unpriced_web_searches: int = Field(
        0, description="Web searches with no known per-search price: cost_usd is a floor."
    )
    requests_without_tokens: int = Field(
        0,
        description="Requests whose agent reported a cost but no token counts (e.g. Crush "
        "sessions): the token figures leave them out, so they are a floor.",
    )


class SummaryBlockOut(Figures):
    runtime_seconds: float | None
    sessions: int = Field(description="Top-level sessions with at least one request.")
    subagent_sessions: int = Field(
        0, description="Subagent sessions with requests (rolled up on their parent)."
    )
    sessions_without_usage: int = Field(0, description="Sessions that made no request.")
    runs: int


class _RunFields(_RunCore):
    last_activity: datetime | None = Field(
        default=None, description="Its last recorded request, else its start."
    )
    no_heartbeat_since: datetime | None = Field(
        default=None,
        description="Set while the run is still marked running but has shown no sign of life "
        "for over 15 minutes: when it was last heard from (its process may have died).",
    )


class RunRowOut(Figures, _RunFields):
    """A run and the usage recorded under it."""


class CurrentRunOut(RunRowOut):
    sessions: int = Field(description="Top-level sessions with at least one request.")
    subagent_sessions: int = 0
    sessions_without_usage: int = 0
    runs: int


class SummaryOut(BaseModel):
    lifetime: SummaryBlockOut
    current_run: CurrentRunOut | None
    today: SummaryBlockOut
    timezone: str


class RunsOut(BaseModel):
    rows: list[RunRowOut]


class _SessionTimes(BaseModel):
    started_at: datetime | None
    completed_at: datetime | None
    last_activity: datetime | None


class SessionRuntime(BaseModel):
    """How long a session ran and what it is called: the fields after its times."""

    runtime_seconds: float | None = Field(description="Wall span (see runtime_basis).")
    name: str | None = Field(
        default=None,
        description="A readable name: the agent's title, else project · start (UTC) · first "
        "model; never prompt text.",
    )
    models: list[str] = Field(
        default_factory=list,
        description="The models that served the session's requests, most-used first.",
    )
    runtime_basis: str | None = Field(
        default=None,
        description="What runtime_seconds spans: 'recorded' (the start and end an orchestrator "
        "recorded) or 'requests' (first to last own request).",
    )
    active_seconds: float | None = Field(
        default=None,
        description="Sum of the gaps between consecutive requests up to 15 minutes (idle gaps "
        "left out).",
    )


class _SessionFields(SessionRuntime, _SessionTimes, SessionWho):
    """A session's fields. Pydantic puts the fields of the last base first and a class's own
    last, so bases are listed in the reverse of the order their fields show in."""


class SessionRowOut(Figures, _SessionFields):  # fields: the session's, then the figures
    """A session with its spend and its subagents' spend."""

    summary: str | None = Field(
        default=None,
        description="One generated sentence about the session; parts without data are left "
        "out (docs/insights.md, Session summary).",
    )


class SessionsOut(BaseModel):
    rows: list[SessionRowOut]


class RequestOut(BaseModel):
    timestamp: datetime
    model: str | None
    session_key: str | None
    input_tokens: int | None
    cache_read_tokens: int | None
    cache_write_tokens: int | None
    output_tokens: int | None
    reasoning_tokens: int | None
    total_tokens: int | None
    cost_usd: float | None
    cost_status: str
    reported_cost_usd: float | None
    cumulative_tokens: int | None = Field(
        default=None, description="Tokens of the session up to and including this request."
    )
    cumulative_cost_usd: float | None = Field(
        default=None, description="Cost of the session up to and including this request."
    )


class SessionToolOut(BaseModel):
    tool_name: str
    session_key: str | None
    calls: int
    failures: int
    with_outcome: int
    timed_calls: int
    avg_duration_seconds: float | None
    p95_duration_seconds: float | None


class SessionDetailOut(SessionRowOut):
    """A session with its spend and its subagents' (the figures here), its own spend, its
    subagents and every request."""

    own: Figures = Field(description="The session's own usage, without its subagents'.")
    subagents: list[SessionRowOut]
    timeline: list[RequestOut] = Field(description="Every request, oldest first.")
    lines_added: int | None = Field(
        default=None, description="Lines its edit tool calls added (null: no edit data)."
    )
    lines_removed: int | None = None
    cache_read_share: float | None = Field(
        default=None, description="cache_read / (input + cache_read + cache_write)."
    )
    tools: list[SessionToolOut] = Field(
        default_factory=list, description="Tool calls per tool (its subagents' included)."
    )


class _PeriodFields(BaseModel):
    period: str = Field(description="2026-05-04, 2026-W19 or 2026-05.")
    model: str | None = Field(default=None, description="Only with breakdown=true.")


class PeriodRowOut(Figures, _PeriodFields):
    """One period (and model, with breakdown=true)."""


class UnpricedModelOut(BaseModel):
    model: str
    requests: int
    tokens: int


class PeriodReportOut(BaseModel):
    rows: list[PeriodRowOut]
    totals: Figures
    unpriced_models: list[UnpricedModelOut]
    timezone: str


class Capabilities(BaseModel):
    api_version: int
    features: list[str]
    max_batch_events: int
    max_body_bytes: int
    auth_required: bool


# the reconciliation's models, from its rows' JSON shapes (declared once, in the report)
_RECONCILIATION_NAMES: dict[type, str] = {
    ChannelFiguresJson: "ChannelFiguresOut",
    MetricFiguresJson: "MetricFiguresOut",
    ReconciliationRowJson: "ReconciliationRowOut",
    ToolStatJson: "ToolStatOut",
    ReconciliationJson: "ReconciliationOut",
}
ReconciliationOut = response_model(ReconciliationJson, _RECONCILIATION_NAMES)
