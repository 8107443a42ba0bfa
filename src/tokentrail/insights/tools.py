"""Tool usage: calls, failures, average and p95 duration per tool name (and per session),
from the tool calls read from the agents' logs (docs/insights.md)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, TypedDict

from tokentrail.shape import Doc
from tokentrail.store.base import Filters, Store, ToolCallRow


# a tool's row as the CLI's --json and the API give it (tokentrail.shape; no
# docstring: it would become the API model's description)
class ToolUsageRowJson(TypedDict):
    tool_name: str
    session_key: Annotated[str | None, Doc("Set when by_session=true.")]
    calls: int
    failures: Annotated[int, Doc("Calls whose result says they failed.")]
    with_outcome: Annotated[int, Doc("Calls whose outcome is known.")]
    timed_calls: Annotated[int, Doc("Calls whose duration is known.")]
    avg_duration_seconds: float | None
    p95_duration_seconds: Annotated[float | None, Doc("Nearest-rank 95th percentile.")]


class ToolUsageJson(TypedDict):
    rows: list[ToolUsageRowJson]
    totals: ToolUsageRowJson
    by_session: bool


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

    def as_dict(self) -> ToolUsageRowJson:
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

    def as_dict(self) -> ToolUsageJson:
        return {
            "rows": [row.as_dict() for row in self.rows],
            "totals": self.totals.as_dict(),
            "by_session": self.by_session,
        }


def tool_row(name: str, session: str | None, calls: Sequence[ToolCallRow]) -> ToolUsageRow:
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
    return ToolUsageReport(tool_rows(calls, by_session), tool_row("(all)", None, calls), by_session)


def tool_rows(calls: Sequence[ToolCallRow], by_session: bool) -> list[ToolUsageRow]:
    """One row per tool name (and session), most used first."""
    groups: dict[tuple[str, str | None], list[ToolCallRow]] = {}
    for call in calls:
        key = (call.tool_name, call.session_key if by_session else None)
        groups.setdefault(key, []).append(call)
    rows = [tool_row(name, session, group) for (name, session), group in groups.items()]
    rows.sort(key=lambda r: (r.session_key or "", -r.calls, r.tool_name))
    return rows
