"""What the ledger tells about one session beyond its usage: its one-sentence summary, its
token timeline, and the tool usage, edits and efficiency its page and API detail show
(docs/insights.md)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Annotated, Any, TypedDict

from tokentrail import formatting
from tokentrail.figures import UsageFigures
from tokentrail.insights.efficiency import (
    EditFigures,
    EfficiencyRow,
    cache_read_share,
    usd_of_micro,
)
from tokentrail.insights.tools import ToolUsageRow, tool_row, tool_rows
from tokentrail.reports.periods import Report, SessionRow
from tokentrail.reports.sessions import (
    RequestJson,
    SessionDetail,
    SessionDetailJson,
    SessionListRow,
)
from tokentrail.shape import Doc
from tokentrail.store.base import Filters, Store, ToolCallRow
from tokentrail.usage import utc_from_ms

SESSION_CHUNK = 500
"""Session keys per store query (SQLite limits the number of bound parameters)."""


def _plural(count: int, one: str, many: str) -> str:
    return f"{count:,} {one if count == 1 else many}"


def summary_text(
    figures: UsageFigures,
    models: Sequence[str],
    started: datetime | None,
    ended: datetime | None,
    edits: EditFigures | None,
    tools: ToolUsageRow | None,
) -> str:
    """One sentence about a session; a part whose inputs are missing is left out.

    "42 requests to claude-sonnet-4-5 over 1h 12m, $3.10, 61% of input from cache,
    180 lines changed, 2 failed tool calls"
    """
    head = _plural(figures.requests, "request", "requests")
    if len(models) == 1:
        head += f" to {models[0]}"
    elif len(models) > 1:
        head += f" to {len(models)} models"
    if started is not None and ended is not None and ended > started:
        head += f" over {formatting.duration((ended - started).total_seconds())}"
    parts = [head]
    if figures.cost_usd is not None:
        parts.append(formatting.usd(figures.cost_usd))
    share = cache_read_share(figures)
    if share is not None:
        parts.append(f"{formatting.share(share)} of input from cache")
    if edits is not None and edits.lines_changed is not None:
        parts.append(f"{_plural(edits.lines_changed, 'line', 'lines')} changed")
    if tools is not None and tools.calls:
        if tools.failures:
            parts.append(_plural(tools.failures, "failed tool call", "failed tool calls"))
        elif tools.with_outcome:
            parts.append("no failed tool calls")
    return ", ".join(parts)


@dataclass(frozen=True, slots=True)
class SessionExtras:
    """What tool calls tell about a set of sessions (subagents' calls on their parents)."""

    edits: Mapping[str, EditFigures]
    tools: Mapping[str, ToolUsageRow]


def session_extras(
    store: Store, session_keys: Sequence[str], children: Mapping[str, Sequence[str]]
) -> SessionExtras:
    """Edits and tool figures of ``session_keys``; ``children`` maps a session to the
    subagent sessions rolled up on it."""
    owner = {key: key for key in session_keys}
    for parent, kids in children.items():
        for kid in kids:
            owner[kid] = parent
    calls: dict[str, list[ToolCallRow]] = {}
    keys = list(owner)
    for start in range(0, len(keys), SESSION_CHUNK):
        for call in store.tool_call_rows(Filters(), keys[start : start + SESSION_CHUNK]):
            if call.session_key in owner:
                calls.setdefault(owner[call.session_key], []).append(call)
    edits: dict[str, EditFigures] = {}
    tools: dict[str, ToolUsageRow] = {}
    for key, group in calls.items():
        edits[key] = EditFigures.of(group)
        tools[key] = tool_row("(all)", key, group)
    return SessionExtras(edits, tools)


def with_summaries(store: Store, report: Report) -> Report:
    """The session report with each row's ``summary``."""
    rows = [r for r in report.rows if isinstance(r, SessionRow)]
    if not rows:
        return report
    keys = [r.key for r in rows]
    extras = session_extras(store, keys, subagents_of(store, keys))
    summarised = [
        replace(
            r,
            summary=summary_text(
                r.figures,
                r.models if r.model is None else (r.model,),
                r.started_at,
                r.last_activity,
                extras.edits.get(r.key),
                extras.tools.get(r.key),
            ),
        )
        for r in rows
    ]
    return replace(report, rows=summarised)


SESSION_INTERVALS: dict[str, int] = {
    "minute": 60_000,
    "5min": 300_000,
    "15min": 900_000,
    "hour": 3_600_000,
    "day": 86_400_000,
}


def auto_session_interval(span_ms: int) -> str:
    """About 10 to 200 points for a session's span."""
    for name in ("minute", "5min", "15min", "hour"):
        if span_ms <= SESSION_INTERVALS[name] * 200:
            return name
    return "day"


# a point of a session's timeline as the API gives it (tokentrail.shape; no
# docstring: it would become the API model's description)
class SessionTimelinePointJson(TypedDict):
    start: Annotated[str, Doc("The interval's first moment (UTC), ISO 8601.")]
    requests: int
    tokens: int | None
    cost_usd: float | None
    cumulative_tokens: int | None
    cumulative_cost_usd: float | None


class SessionTimelineJson(TypedDict):
    session_key: str
    interval: str
    rows: list[SessionTimelinePointJson]


@dataclass(frozen=True, slots=True)
class SessionTimelinePoint:
    start_ms: int
    requests: int
    tokens: int | None
    cost_usd: float | None
    cumulative_tokens: int | None
    cumulative_cost_usd: float | None

    def as_dict(self) -> SessionTimelinePointJson:
        return {
            "start": utc_from_ms(self.start_ms).isoformat(),
            "requests": self.requests,
            "tokens": self.tokens,
            "cost_usd": self.cost_usd,
            "cumulative_tokens": self.cumulative_tokens,
            "cumulative_cost_usd": self.cumulative_cost_usd,
        }


@dataclass(frozen=True, slots=True)
class SessionTimeline:
    session_key: str
    interval: str
    points: list[SessionTimelinePoint]

    def as_dict(self) -> SessionTimelineJson:
        return {
            "session_key": self.session_key,
            "interval": self.interval,
            "rows": [p.as_dict() for p in self.points],
        }


def session_timeline(
    store: Store, key: str, children: Iterable[str] = (), interval: str = "auto"
) -> SessionTimeline:
    """Tokens and cost of a session (and its subagents) per UTC interval, every interval from
    the first request to the last present, with running totals. Tokens or cost of an interval
    are None when none of its requests reported them."""
    entries = store.session_entries([key, *children])
    if not entries:
        return SessionTimeline(key, "minute" if interval == "auto" else interval, [])
    first = min(e.event.timestamp_ms for e in entries)
    last = max(e.event.timestamp_ms for e in entries)
    chosen = auto_session_interval(last - first) if interval == "auto" else interval
    if chosen not in SESSION_INTERVALS:
        raise ValueError(
            f"unknown session timeline interval {chosen!r}; use auto or "
            + ", ".join(SESSION_INTERVALS)
        )
    step = SESSION_INTERVALS[chosen]
    buckets: dict[int, list[Any]] = {}
    for entry in entries:
        tokens = entry.event.tokens
        slot = buckets.setdefault(entry.event.timestamp_ms // step, [0, None, None])
        slot[0] += 1
        if not tokens.is_empty:
            slot[1] = (slot[1] or 0) + tokens.total
        if entry.cost.micro_usd is not None:
            slot[2] = (slot[2] or 0) + entry.cost.micro_usd
    points: list[SessionTimelinePoint] = []
    run_tokens: int | None = None
    run_micro: int | None = None
    for index in range(first // step, last // step + 1):
        count, tokens_sum, micro = buckets.get(index, [0, None, None])
        if tokens_sum is not None:
            run_tokens = (run_tokens or 0) + tokens_sum
        if micro is not None:
            run_micro = (run_micro or 0) + micro
        points.append(
            SessionTimelinePoint(
                index * step,
                count,
                tokens_sum,
                usd_of_micro(micro),
                run_tokens,
                usd_of_micro(run_micro),
            )
        )
    return SessionTimeline(key, chosen, points)


def add_running_totals(timeline: list[RequestJson]) -> None:
    """Give each request of a session detail's ``timeline`` its running totals, in place."""
    tokens: int | None = None
    micro: int | None = None
    for row in timeline:
        row_tokens, cost = row["total_tokens"], row["cost_usd"]
        if row_tokens is not None:
            tokens = (tokens or 0) + row_tokens
        if cost is not None:
            micro = (micro or 0) + round(cost * 1_000_000)
        row["cumulative_tokens"] = tokens
        row["cumulative_cost_usd"] = usd_of_micro(micro)


def subagents_of(store: Store, keys: Sequence[str]) -> dict[str, list[str]]:
    """The subagent sessions rolled up on each of ``keys`` (the rule of the session report)."""
    return store.subagents_of(keys)


def list_summaries(store: Store, rows: Sequence[SessionListRow]) -> dict[str, str]:
    """The summary of each session of a list (the API's session rows)."""
    keys = [r.session.key for r in rows]
    extras = session_extras(store, keys, subagents_of(store, keys))
    return {
        r.session.key: summary_text(
            r.figures,
            [r.session.model] if r.session.model else [],
            r.session.started_at,
            r.last_activity or r.session.ended_at,
            extras.edits.get(r.session.key),
            extras.tools.get(r.session.key),
        )
        for r in rows
    }


@dataclass(frozen=True, slots=True)
class SessionTools:
    """What one session's tool calls (its subagents' and forks' included) tell: read once for
    everything its page and its API detail show."""

    edits: EditFigures
    overall: ToolUsageRow | None
    """Every call together (None: no calls)."""
    per_tool: list[ToolUsageRow]


def session_tools(store: Store, detail: SessionDetail) -> SessionTools:
    key = detail.session.session.key
    calls = store.tool_call_rows(Filters(), [key, *(s.session.key for s in detail.subagents)])
    return SessionTools(
        edits=EditFigures.of(calls),
        overall=tool_row("(all)", key, calls) if calls else None,
        per_tool=tool_rows(calls, by_session=False),
    )


def detail_dict(
    store: Store, detail: SessionDetail, tools: SessionTools | None = None
) -> SessionDetailJson:
    """A session detail as the API and the session page show it: with its ``summary``, the
    requests' running totals, its tool usage and edits."""
    tools = tools if tools is not None else session_tools(store, detail)
    data = detail.as_dict()
    models = sorted({r.model for r in detail.requests if r.model})
    first = detail.requests[0].timestamp if detail.requests else detail.session.session.started_at
    data["summary"] = summary_text(
        detail.session.figures,
        models,
        detail.session.session.started_at or first,
        detail.session.last_activity,
        tools.edits if tools.overall is not None else None,
        tools.overall,
    )
    add_running_totals(data["timeline"])
    data["lines_added"] = tools.edits.lines_added
    data["lines_removed"] = tools.edits.lines_removed
    data["cache_read_share"] = cache_read_share(detail.session.figures)
    data["tools"] = [row.as_dict() for row in tools.per_tool]
    return data


def session_efficiency(detail: SessionDetail, tools: SessionTools) -> EfficiencyRow:
    """One session's efficiency figures as its dashboard page shows them: its usage and edits
    with those of the sessions rolled up on it there (``detail.subagents``), by the
    definitions of :func:`~tokentrail.insights.efficiency.efficiency_report`; the cache
    savings summed from its requests (the sum that report takes from the rollups: None when
    none could say)."""
    savings = [r.cache_saving_micro for r in detail.requests if r.cache_saving_micro is not None]
    return EfficiencyRow(
        group=detail.session.session.key,
        figures=detail.session.figures,
        edits=tools.edits,
        cache_savings_usd=usd_of_micro(sum(savings)) if savings else None,
        title=detail.session.session.title,
    )
