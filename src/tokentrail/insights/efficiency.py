"""Efficiency: lines changed, cost and tokens per changed line, and cache efficiency per
session, project or model (docs/insights.md). A score whose inputs are missing is None
("not reported"), never 0."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Annotated, Literal, NotRequired, TypedDict

from tokentrail.figures import UsageFigures
from tokentrail.reports.query import ReportQuery, in_range
from tokentrail.shape import Default, Doc
from tokentrail.store.base import SessionTotalsRow, Store, ToolCallRow, Totals

EfficiencyBy = Literal["session", "project", "model"]
EFFICIENCY_BY: tuple[EfficiencyBy, ...] = ("session", "project", "model")


# the JSON shapes (tokentrail.shape): a row's group key is the one it is grouped by


class _EfficiencyGroupJson(TypedDict, total=False):  # the keys of the row's group
    session: str | None
    title: str | None
    project: str | None
    model: str | None


class EfficiencyRowJson(TypedDict):
    session: NotRequired[Annotated[str | None, Doc("With by=session."), Default(None)]]
    title: NotRequired[Annotated[str | None, Doc("With by=session."), Default(None)]]
    project: NotRequired[Annotated[str | None, Doc("With by=project."), Default(None)]]
    model: NotRequired[Annotated[str | None, Doc("With by=model."), Default(None)]]
    requests: int
    total_tokens: int | None
    cost_usd: float | None
    edit_calls: int
    lines_added: Annotated[int | None, Doc("null: no edit data.")]
    lines_removed: int | None
    lines_changed: int | None
    cost_per_changed_line: float | None
    tokens_per_changed_line: float | None
    input_tokens: int | None
    cache_read_tokens: int | None
    cache_write_tokens: int | None
    cache_read_share: Annotated[
        float | None, Doc("cache_read / (input + cache_read + cache_write).")
    ]
    cache_savings_usd: Annotated[
        float | None, Doc("Cost of the cache reads at the input price, less their cost.")
    ]


class EfficiencyJson(TypedDict):
    by: EfficiencyBy
    rows: list[EfficiencyRowJson]
    totals: EfficiencyRowJson


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

    def as_dict(self, by: EfficiencyBy) -> EfficiencyRowJson:
        f = self.figures
        return {
            **self._group(by),
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

    def _group(self, by: EfficiencyBy) -> _EfficiencyGroupJson:
        """The row's group under the key it is grouped by (a session with its title)."""
        if by == "session":
            return {"session": self.group, "title": self.title}
        if by == "project":
            return {"project": self.group}
        return {"model": self.group}


@dataclass(frozen=True, slots=True)
class EfficiencyReport:
    by: EfficiencyBy
    rows: list[EfficiencyRow]
    totals: EfficiencyRow

    def as_dict(self) -> EfficiencyJson:
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


def efficiency_report(
    store: Store, query: ReportQuery, by: EfficiencyBy = "session"
) -> EfficiencyReport:
    """Lines changed, cost and tokens per changed line, and cache efficiency per session
    (subagents rolled up on their parent), project or model. Sessions count whole when their
    last request falls in the query's range."""
    if by not in EFFICIENCY_BY:
        raise ValueError(f"efficiency is reported by {', '.join(EFFICIENCY_BY)}, not {by!r}")
    filters = query.filters()
    whole_time = filters._replace(since_ms=None, until_ms=None)
    per_model = store.session_totals(whole_time, by_model=True)
    top = _top_keys(per_model)
    last_of: dict[str, int] = {}
    for r in per_model:
        key = top[r.session.key]
        if r.last_ms is not None:
            last_of[key] = max(last_of.get(key, r.last_ms), r.last_ms)
    wanted = {key for key in set(top.values()) if in_range(last_of.get(key), filters)}
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
            cache_savings_usd=usd_of_micro(savings.get(g)),
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
        cache_savings_usd=usd_of_micro(sum(saved)) if saved else None,
    )
    return EfficiencyReport(by, rows, grand)


def usd_of_micro(micro: int | None) -> float | None:
    return None if micro is None else round(micro / 1_000_000, 6)


def _saving(totals: Totals) -> int | None:
    """Micro-dollars cache reads saved (priced per request when it was recorded: see
    :attr:`tokentrail.usage.Cost.cache_saving_micro`); None when no request could say."""
    return totals.cache_saving_micro if totals.n_cache_saving else None
