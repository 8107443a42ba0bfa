"""Efficiency, tool usage, session summaries and per-session token timelines.

Computed from the ledger (usage, sessions and the tool calls read from the agents' logs),
never by re-reading logs. Every score is defined in docs/insights.md; a score whose inputs
are missing is None ("not reported"), never 0.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Literal

from tokentrail import formatting
from tokentrail.figures import UsageFigures
from tokentrail.reports.periods import Report, SessionRow
from tokentrail.reports.query import ReportQuery
from tokentrail.reports.sessions import SessionDetail, SessionListRow
from tokentrail.store.base import Filters, SessionTotalsRow, Store, ToolCallRow, Totals
from tokentrail.usage import utc_from_ms

EfficiencyBy = Literal["session", "project", "model"]
EFFICIENCY_BY: tuple[EfficiencyBy, ...] = ("session", "project", "model")


# -- tool usage ---------------------------------------------------------------------------------


def p95(values: Sequence[int]) -> int | None:
    """The 95th percentile by the nearest-rank method: the smallest value with at least 95%
    of the values at or below it (the maximum below 20 values). None when there are none."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(math.ceil(0.95 * len(ordered)) - 1, 0)]


@dataclass(frozen=True, slots=True)
class ToolUsageRow:
    tool_name: str
    session_key: str | None
    """The session (when the report is per session), else None."""
    calls: int
    failures: int
    """Calls whose result says they failed."""
    with_outcome: int
    """Calls whose result is known (the rest are still running, or their outcome unknown)."""
    timed_calls: int
    avg_duration_seconds: float | None
    p95_duration_seconds: float | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "tool_name": self.tool_name,
            "session_key": self.session_key,
            "calls": self.calls,
            "failures": self.failures,
            "with_outcome": self.with_outcome,
            "timed_calls": self.timed_calls,
            "avg_duration_seconds": self.avg_duration_seconds,
            "p95_duration_seconds": self.p95_duration_seconds,
        }


@dataclass(frozen=True, slots=True)
class ToolUsageReport:
    rows: list[ToolUsageRow]
    totals: ToolUsageRow
    by_session: bool

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows": [row.as_dict() for row in self.rows],
            "totals": self.totals.as_dict(),
            "by_session": self.by_session,
        }


def _tool_row(name: str, session: str | None, calls: Sequence[ToolCallRow]) -> ToolUsageRow:
    durations = [c.duration_ms for c in calls if c.duration_ms is not None]
    worst = p95(durations)
    return ToolUsageRow(
        tool_name=name,
        session_key=session,
        calls=len(calls),
        failures=sum(1 for c in calls if c.success is False),
        with_outcome=sum(1 for c in calls if c.success is not None),
        timed_calls=len(durations),
        avg_duration_seconds=round(sum(durations) / len(durations) / 1000, 3)
        if durations
        else None,
        p95_duration_seconds=round(worst / 1000, 3) if worst is not None else None,
    )


def tool_usage(
    store: Store,
    filters: Filters,
    *,
    session_keys: Sequence[str] = (),
    by_session: bool = False,
) -> ToolUsageReport:
    """Calls, failures, average and p95 duration per tool name (and per session when
    ``by_session``), most used first, with the totals over every tool."""
    calls = store.tool_call_rows(filters, session_keys)
    return ToolUsageReport(
        _tool_rows(calls, by_session), _tool_row("(all)", None, calls), by_session
    )


def _tool_rows(calls: Sequence[ToolCallRow], by_session: bool) -> list[ToolUsageRow]:
    """One row per tool name (and session), most used first."""
    groups: dict[tuple[str, str | None], list[ToolCallRow]] = {}
    for call in calls:
        key = (call.tool_name, call.session_key if by_session else None)
        groups.setdefault(key, []).append(call)
    rows = [_tool_row(name, session, group) for (name, session), group in groups.items()]
    rows.sort(key=lambda r: (r.session_key or "", -r.calls, r.tool_name))
    return rows


# -- efficiency ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EditFigures:
    """Lines the edit tool calls of a group changed. None = no edit call reported it."""

    edit_calls: int = 0
    lines_added: int | None = None
    lines_removed: int | None = None

    @property
    def lines_changed(self) -> int | None:
        if self.lines_added is None and self.lines_removed is None:
            return None
        return (self.lines_added or 0) + (self.lines_removed or 0)

    def add(self, call: ToolCallRow) -> EditFigures:
        if call.lines_added is None and call.lines_removed is None:
            return self
        return self + EditFigures(1, call.lines_added, call.lines_removed)

    def __add__(self, other: EditFigures) -> EditFigures:
        return EditFigures(
            self.edit_calls + other.edit_calls,
            _plus(self.lines_added, other.lines_added),
            _plus(self.lines_removed, other.lines_removed),
        )

    @classmethod
    def of(cls, calls: Iterable[ToolCallRow]) -> EditFigures:
        figures = cls()
        for call in calls:
            figures = figures.add(call)
        return figures


def _plus(a: int | None, b: int | None) -> int | None:
    return a if b is None else (b if a is None else a + b)


def cache_read_share(figures: UsageFigures) -> float | None:
    """cache_read / (input + cache_read + cache_write); None when no request reported cache
    reads, or there was no input at all."""
    if figures.cache_read_tokens is None:
        return None
    whole = (
        (figures.input_tokens or 0) + figures.cache_read_tokens + (figures.cache_write_tokens or 0)
    )
    return round(figures.cache_read_tokens / whole, 4) if whole else None


def _per_line(value: float | int | None, lines: int | None, digits: int) -> float | None:
    if value is None or not lines:
        return None
    return round(value / lines, digits)


@dataclass(frozen=True, slots=True)
class EfficiencyRow:
    group: str | None
    """The session key, project or model (None: requests that did not report one)."""
    figures: UsageFigures
    edits: EditFigures
    cache_savings_usd: float | None
    title: str | None = None

    @property
    def cost_per_changed_line(self) -> float | None:
        return _per_line(self.figures.cost_usd, self.edits.lines_changed, 6)

    @property
    def tokens_per_changed_line(self) -> float | None:
        return _per_line(self.figures.total_tokens, self.edits.lines_changed, 1)

    def as_dict(self, by: str) -> dict[str, Any]:
        f = self.figures
        row: dict[str, Any] = {by: self.group}
        if by == "session":
            row["title"] = self.title
        row.update(
            {
                "requests": f.requests,
                "total_tokens": f.total_tokens,
                "cost_usd": f.cost_usd,
                "edit_calls": self.edits.edit_calls,
                "lines_added": self.edits.lines_added,
                "lines_removed": self.edits.lines_removed,
                "lines_changed": self.edits.lines_changed,
                "cost_per_changed_line": self.cost_per_changed_line,
                "tokens_per_changed_line": self.tokens_per_changed_line,
                "input_tokens": f.input_tokens,
                "cache_read_tokens": f.cache_read_tokens,
                "cache_write_tokens": f.cache_write_tokens,
                "cache_read_share": cache_read_share(f),
                "cache_savings_usd": self.cache_savings_usd,
            }
        )
        return row


@dataclass(frozen=True, slots=True)
class EfficiencyReport:
    by: EfficiencyBy
    rows: list[EfficiencyRow]
    totals: EfficiencyRow

    def as_dict(self) -> dict[str, Any]:
        return {
            "by": self.by,
            "rows": [row.as_dict(self.by) for row in self.rows],
            "totals": self.totals.as_dict(self.by),
        }


def _top_keys(rows: Sequence[SessionTotalsRow]) -> dict[str, str]:
    """Each session's key -> the session its figures roll up on: a subagent's known parent,
    else itself (the rule of the session report)."""
    known = {r.session.key for r in rows}
    top: dict[str, str] = {}
    for r in rows:
        parent = r.session.parent_key
        is_child = r.session.relationship == "subagent" and parent in known
        top[r.session.key] = parent if is_child and parent is not None else r.session.key
    return top


def _in_range(last_ms: int | None, filters: Filters) -> bool:
    if filters.since_ms is None and filters.until_ms is None:
        return True
    if last_ms is None:
        return False
    if filters.since_ms is not None and last_ms < filters.since_ms:
        return False
    return filters.until_ms is None or last_ms < filters.until_ms


def efficiency_report(
    store: Store, query: ReportQuery, by: EfficiencyBy = "session"
) -> EfficiencyReport:
    """Lines changed, cost and tokens per changed line, and cache efficiency per session
    (subagents rolled up on their parent), project or model. Sessions count whole when their
    last request falls in the query's range."""
    if by not in EFFICIENCY_BY:
        raise ValueError(f"efficiency is reported by {', '.join(EFFICIENCY_BY)}, not {by!r}")
    filters = query.filters()
    whole_time = replace(filters, since_ms=None, until_ms=None)
    per_model = store.session_totals(whole_time, by_model=True)
    top = _top_keys(per_model)
    last_of: dict[str, int] = {}
    for r in per_model:
        key = top[r.session.key]
        if r.last_ms is not None:
            last_of[key] = max(last_of.get(key, r.last_ms), r.last_ms)
    wanted = {key for key in set(top.values()) if _in_range(last_of.get(key), filters)}
    sessions = {r.session.key: r.session for r in per_model}

    def group_of(session_key: str | None, model: str | None) -> str | None:
        if by == "model":
            return model
        if session_key is None:
            return None
        top_key = top.get(session_key, session_key)
        if by == "session":
            return top_key
        session = sessions.get(top_key) or sessions.get(session_key)
        return session.project if session is not None else None

    totals: dict[str | None, Totals] = {}
    for r in per_model:
        if top[r.session.key] not in wanted:
            continue
        group = group_of(r.session.key, r.model)
        totals[group] = totals.get(group, Totals.zero()) + r.totals
    edits: dict[str | None, EditFigures] = {}
    for call in store.tool_call_rows(whole_time):
        if call.session_key is None or top.get(call.session_key, call.session_key) not in wanted:
            continue
        group = group_of(call.session_key, call.model)
        edits[group] = edits.get(group, EditFigures()).add(call)
    savings = {group: _saving(t) for group, t in totals.items()}
    groups = sorted(set(totals) | set(edits), key=lambda g: (g is None, g or ""))
    rows = [
        EfficiencyRow(
            group=g,
            figures=UsageFigures.from_totals(totals.get(g, Totals.zero())),
            edits=edits.get(g, EditFigures()),
            cache_savings_usd=_usd(savings.get(g)),
            title=sessions[g].title if by == "session" and g in sessions else None,
        )
        for g in groups
    ]
    all_edits = sum(edits.values(), EditFigures())
    saved = [v for v in savings.values() if v is not None]
    grand = EfficiencyRow(
        group=None,
        figures=UsageFigures.from_totals(sum(totals.values(), Totals.zero())),
        edits=all_edits,
        cache_savings_usd=_usd(sum(saved)) if saved else None,
    )
    return EfficiencyReport(by, rows, grand)


def _usd(micro: int | None) -> float | None:
    return None if micro is None else round(micro / 1_000_000, 6)


SESSION_CHUNK = 500
"""Session keys per store query (SQLite limits the number of bound parameters)."""


def _saving(totals: Totals) -> int | None:
    """Micro-dollars cache reads saved (priced per request when it was recorded: see
    :attr:`tokentrail.usage.Cost.cache_saving_micro`); None when no request could say."""
    return totals.cache_saving_micro if totals.n_cache_saving else None


# -- session summary ----------------------------------------------------------------------------


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
        tools[key] = _tool_row("(all)", key, group)
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


# -- token timeline of a session ----------------------------------------------------------------


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


@dataclass(frozen=True, slots=True)
class SessionTimelinePoint:
    start_ms: int
    requests: int
    tokens: int | None
    cost_usd: float | None
    cumulative_tokens: int | None
    cumulative_cost_usd: float | None

    def as_dict(self) -> dict[str, Any]:
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

    def as_dict(self) -> dict[str, Any]:
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
                index * step, count, tokens_sum, _usd(micro), run_tokens, _usd(run_micro)
            )
        )
    return SessionTimeline(key, chosen, points)


def add_running_totals(timeline: list[dict[str, Any]]) -> None:
    """Give each request of a session detail's ``timeline`` its running totals, in place."""
    tokens: int | None = None
    micro: int | None = None
    for row in timeline:
        if row.get("total_tokens") is not None:
            tokens = (tokens or 0) + row["total_tokens"]
        if row.get("cost_usd") is not None:
            micro = (micro or 0) + round(row["cost_usd"] * 1_000_000)
        row["cumulative_tokens"] = tokens
        row["cumulative_cost_usd"] = _usd(micro)


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
        overall=_tool_row("(all)", key, calls) if calls else None,
        per_tool=_tool_rows(calls, by_session=False),
    )


def detail_dict(
    store: Store, detail: SessionDetail, tools: SessionTools | None = None
) -> dict[str, Any]:
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
    definitions of :func:`efficiency_report`; the cache savings summed from its requests (the
    sum :func:`_saving` takes from the rollups: None when none could say)."""
    savings = [r.cache_saving_micro for r in detail.requests if r.cache_saving_micro is not None]
    return EfficiencyRow(
        group=detail.session.session.key,
        figures=detail.session.figures,
        edits=tools.edits,
        cache_savings_usd=_usd(sum(savings)) if savings else None,
        title=detail.session.session.title,
    )
