"""The rows the OpenTelemetry, 5-hour-block and dashboard queries of a store answer with."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from tokentrail.store.figures import Filters, Totals
from tokentrail.store.figures import (
    MinuteRow as MinuteRow,  # re-exported: light, for the quick reader
)
from tokentrail.usage import Session, Tokens


@dataclass(frozen=True, slots=True)
class OtlpReceipt:
    """One request as an OpenTelemetry export reported it, under the key it arrived with."""

    key: str
    source: str
    timestamp_ms: int
    tokens: Tokens
    reported_cost_usd: float | None = None
    machine: str | None = None


@dataclass(frozen=True, slots=True)
class MetricSample:
    """One data point of an agent's usage metric (``claude_code.token.usage``, …). Kept to
    reconcile against the ledger, never added to its totals."""

    source: str
    name: str
    kind: str
    """The token type or other split the agent tags the point with (``input``, ``cacheRead``,
    ``USD`` for cost, …)."""
    model: str | None
    session: str | None
    series: str
    """Identity of the time series the point belongs to (a hash of its resource, metric,
    attributes and start time)."""
    time_ms: int
    value: float
    """The counter's value, or the histogram's sum."""
    cumulative: bool
    """True when ``value`` counts from ``start_ms`` (cumulative temporality), False when it
    counts since the previous export (delta)."""
    start_ms: int | None = None
    count: int | None = None
    """A histogram's count of observations (None for counters)."""
    machine: str | None = None


@dataclass(frozen=True, slots=True)
class ToolCallRow:
    """One tool call with its result joined: what tool statistics and efficiency read."""

    source: str
    session_key: str | None
    tool_name: str
    timestamp_ms: int
    duration_ms: int | None
    success: bool | None
    lines_added: int | None
    lines_removed: int | None
    model: str | None


@dataclass(frozen=True, slots=True)
class SourceDayRow:
    day: int
    source: str
    totals: Totals


@dataclass(frozen=True, slots=True)
class OtlpDayRow:
    """OTLP receipts of one local day and source."""

    day: int
    source: str
    requests: int
    tokens: int
    """Every token OTLP reported: input + cache read + cache write + output."""
    output: int
    reported_cost_micro: int
    n_reported_cost: int
    matched: int
    """Requests a log file also had (their two copies are one ledger row)."""
    matched_tokens: int
    """Tokens OTLP reported for the matched requests."""
    matched_ledger_tokens: int
    """Tokens the ledger keeps for the matched requests."""
    matched_ledger_cost_micro: int = 0
    """The ledger's computed cost of the matched requests."""
    only_otlp_cost_micro: int = 0
    """The ledger's computed cost of the requests no log file had."""


@dataclass(frozen=True, slots=True)
class MetricDayRow:
    day: int
    source: str
    name: str
    kind: str
    value: float
    samples: int


@dataclass(frozen=True, slots=True)
class ToolStatRow:
    source: str
    tool_name: str
    calls: int
    failures: int
    duration_ms: int


# -- dashboard ----------------------------------------------------------------------------------

GroupDimension = Literal["source", "model", "project", "machine"]
"""What usage can be grouped by from the rollups."""
GROUP_DIMENSIONS: tuple[GroupDimension, ...] = ("source", "model", "project", "machine")


@dataclass(frozen=True, slots=True)
class GroupTotalsRow:
    group: str | None
    """The source, model, project or machine; None when the requests did not report one."""
    totals: Totals


@dataclass(frozen=True, slots=True)
class GroupsTotalsRow:
    groups: tuple[str | None, ...]
    """One value per dimension asked (see :class:`GroupTotalsRow`)."""
    totals: Totals


@dataclass(frozen=True, slots=True)
class IntervalRow:
    index: int
    """Local time in milliseconds divided by the interval (days since 1970-01-01 for days)."""
    model: str | None
    totals: Totals


SessionSort = Literal[
    "last_activity", "started", "cost", "tokens", "requests", "runtime", "title", "source"
]
SESSION_SORTS: tuple[SessionSort, ...] = (
    "last_activity",
    "started",
    "cost",
    "tokens",
    "requests",
    "runtime",
    "title",
    "source",
)


@dataclass(frozen=True, slots=True)
class SessionPageQuery:
    """Which sessions a page lists, in which order.

    The sessions are those of the one session count (tokentrail.reports.session_counts,
    docs/counting.md): top-level sessions with at least one request, a subagent rolled up on
    a parent that made a request (else a session of its own). ``filters.since_ms``/``until_ms``
    keep the sessions whose last request (rolled up) falls in that time, a session without
    usage by its start; ``sources`` and ``project`` are the session's. A session's figures are
    always whole (not cut to the time range). Machines and users do not apply.
    """

    filters: Filters = field(default_factory=Filters)
    models: tuple[str, ...] = ()
    """Only usage of these models; sessions that used none of them are left out."""
    search: str | None = None
    """Case-insensitive text in the title, key, project or issue identifier."""
    sort: SessionSort = "last_activity"
    descending: bool = True
    limit: int = 50
    offset: int = 0
    without_usage: bool = False
    """Also list the top-level sessions that made no request (counted apart as
    ``sessions_without_usage``); never with ``models``."""


@dataclass(frozen=True, slots=True)
class SessionPageRow:
    session: Session
    totals: Totals
    """The session's usage with its subagents' rolled up."""
    own: Totals
    """The session's own usage."""
    first_ms: int | None
    last_ms: int | None
    subagents: int
    """How many subagent sessions roll up on this one."""


@dataclass(frozen=True, slots=True)
class SessionPage:
    rows: list[SessionPageRow]
    total: int
    """How many sessions match (on every page)."""
    runtime_ms: int | None
    """Summed wall span of every matching session that has one (None if none): the span a
    session's row shows (tokentrail.reports.session_runtime), which ``sort="runtime"`` orders
    by."""
