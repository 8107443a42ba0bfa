"""Reconciliation: what the ledger counts beside what log files, OpenTelemetry events and
the agents' metrics each saw, per source and local day, with the differences explained."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Annotated, Any, TypedDict

from tokentrail.periods import DAY_MS, day_label, day_to_date, offset_segments
from tokentrail.reports.query import ReportQuery
from tokentrail.shape import Doc
from tokentrail.store.base import Store, Totals

RECONCILE_DEFAULT_DAYS = 7
"""Days a reconciliation covers when no ``since`` is given (today and the 6 before)."""


# -- the JSON shapes (tokentrail.shape): the CLI's --json and the API's models -----------


class ChannelFiguresJson(TypedDict):
    """What one channel saw of a source in a period (null: the channel reported nothing)."""

    requests: int | None
    tokens: int | None
    cost_usd: Annotated[float | None, Doc("tokentrail's cost of those requests.")]
    reported_cost_usd: Annotated[float | None, Doc("The cost the agent reported.")]


class MetricFiguresJson(ChannelFiguresJson):
    tokens_by_type: Annotated[dict[str, float], Doc("By the agent's own token type.")]


class ReconciliationRowJson(TypedDict):
    """One local day and source: the ledger's count, and what each channel saw."""

    period: str
    source: str
    ledger: Annotated[ChannelFiguresJson, Doc("Every request once, whichever channel saw it.")]
    logs: ChannelFiguresJson
    otlp: ChannelFiguresJson
    metrics: Annotated[MetricFiguresJson, Doc("Kept to compare, never added to totals.")]
    both: Annotated[int, Doc("Requests seen both through OpenTelemetry and a log file.")]
    only_otlp: int
    only_logs: int | None
    notes: Annotated[list[str], Doc("The differences, explained.")]


class ToolStatJson(TypedDict):
    source: str
    tool_name: str
    calls: int
    failures: int
    duration_seconds: float


class ReconciliationJson(TypedDict):
    since: str
    until: str
    timezone: str
    rows: list[ReconciliationRowJson]
    tools: list[ToolStatJson]


# -- the report -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChannelFigures:
    """What one channel saw of a source in a period. ``None`` = that channel reported nothing."""

    requests: int | None
    tokens: int | None
    cost_usd: float | None
    """tokentrail's own cost of those requests (computed from prices)."""
    reported_cost_usd: float | None = None
    """The cost the agent itself reported, where it does."""

    def as_dict(self) -> ChannelFiguresJson:
        return {
            "requests": self.requests,
            "tokens": self.tokens,
            "cost_usd": self.cost_usd,
            "reported_cost_usd": self.reported_cost_usd,
        }


@dataclass(frozen=True, slots=True)
class ReconciliationRow:
    """One local day and source: the ledger's count, and what each channel saw."""

    period: str
    source: str
    ledger: ChannelFigures
    """What tokentrail counts: every request once, whichever channels saw it."""
    logs: ChannelFigures
    """Requests read from log files (or recorded by other clients): the ledger less the
    requests that came only through OpenTelemetry."""
    otlp: ChannelFigures
    """Requests received through OpenTelemetry, as the agent reported them."""
    metrics: ChannelFigures
    """The agent's usage metrics (kept to compare, never added to totals)."""
    metric_tokens: dict[str, float]
    """Metric tokens by the agent's own token type (``input``, ``cacheRead`` …)."""
    both: int
    """Requests seen both through OpenTelemetry and in a log file (counted once)."""
    only_otlp: int
    only_logs: int | None
    """Requests only in log files, when OpenTelemetry saw any of this source that day."""
    notes: list[str]

    def as_dict(self) -> ReconciliationRowJson:
        return {
            "period": self.period,
            "source": self.source,
            "ledger": self.ledger.as_dict(),
            "logs": self.logs.as_dict(),
            "otlp": self.otlp.as_dict(),
            "metrics": {**self.metrics.as_dict(), "tokens_by_type": dict(self.metric_tokens)},
            "both": self.both,
            "only_otlp": self.only_otlp,
            "only_logs": self.only_logs,
            "notes": list(self.notes),
        }


@dataclass(frozen=True, slots=True)
class ToolStat:
    source: str
    tool_name: str
    calls: int
    failures: int
    duration_seconds: float

    def as_dict(self) -> ToolStatJson:
        return {
            "source": self.source,
            "tool_name": self.tool_name,
            "calls": self.calls,
            "failures": self.failures,
            "duration_seconds": self.duration_seconds,
        }


@dataclass(frozen=True, slots=True)
class Reconciliation:
    rows: list[ReconciliationRow]
    tools: list[ToolStat]
    since: date
    until: date
    timezone: str

    def as_dict(self) -> ReconciliationJson:
        return {
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "timezone": self.timezone,
            "rows": [row.as_dict() for row in self.rows],
            "tools": [tool.as_dict() for tool in self.tools],
        }


def _metric_kinds() -> tuple[dict[str, tuple[str, ...]], frozenset[str]]:
    """Metric -> the token types that count as tokens (the rest, like Codex's "total" and
    "cached_input", are parts or sums of these), and the cost metrics: the agents' from the
    registry, plus the OpenTelemetry GenAI metric."""
    from tokentrail.agents import telemetry_agents

    tokens: dict[str, tuple[str, ...]] = {"gen_ai.client.token.usage": ("input", "output")}
    costs: set[str] = set()
    for _, telemetry in telemetry_agents():
        for metric in telemetry.metrics:
            if metric.cost:
                costs.add(metric.name)
            else:
                tokens[metric.name] = metric.token_kinds
    return tokens, frozenset(costs)


def reconciliation_report(store: Store, query: ReportQuery) -> Reconciliation:
    """For each source and local day: tokens and cost the ledger counts, and what log files,
    OpenTelemetry events and the agents' metrics each saw, with the differences explained."""
    today = datetime.now(query.zone).date()
    until = query.until or today
    since = query.since or (until - timedelta(days=RECONCILE_DEFAULT_DAYS - 1))
    scoped = ReportQuery(
        zone=query.zone,
        zone_name=query.zone_name,
        since=since,
        until=until,
        sources=query.sources,
    )
    filters = scoped.filters()
    assert filters.since_ms is not None and filters.until_ms is not None
    segments = offset_segments(query.zone, filters.since_ms - DAY_MS, filters.until_ms + DAY_MS)
    ledger_rows = {(r.day, r.source): r.totals for r in store.source_day_totals(filters, segments)}
    otlp_rows = {(r.day, r.source): r for r in store.otlp_day_totals(filters, segments)}
    metric_tokens: dict[tuple[int, str], dict[str, float]] = {}
    metric_cost: dict[tuple[int, str], float] = {}
    token_kinds, cost_metrics = _metric_kinds()
    for m in store.metric_day_totals(filters, segments):
        if m.name in cost_metrics:
            metric_cost[(m.day, m.source)] = metric_cost.get((m.day, m.source), 0.0) + m.value
        elif m.kind in token_kinds.get(m.name, ()):
            kinds = metric_tokens.setdefault((m.day, m.source), {})
            kinds[m.kind] = kinds.get(m.kind, 0.0) + m.value
    keys = sorted({*ledger_rows, *otlp_rows, *metric_tokens, *metric_cost})
    rows = [
        _reconcile(
            day_label(day_to_date(day)),
            source,
            ledger_rows.get((day, source)),
            otlp_rows.get((day, source)),
            metric_tokens.get((day, source)),
            metric_cost.get((day, source)),
        )
        for day, source in keys
    ]
    tools = [
        ToolStat(t.source, t.tool_name, t.calls, t.failures, round(t.duration_ms / 1000, 3))
        for t in store.tool_call_stats(filters)
    ]
    return Reconciliation(rows, tools, since, until, query.zone_name)


def _usd(micro: int) -> float:
    return round(micro / 1_000_000, 6)


def _reconcile(
    period: str,
    source: str,
    totals: Totals | None,
    otlp: Any,
    metric_kinds: dict[str, float] | None,
    metric_cost: float | None,
) -> ReconciliationRow:
    t = totals or Totals.zero()
    ledger_tokens = t.input + t.cache_read + t.cache_write_5m + t.cache_write_1h + t.output
    ledger = ChannelFigures(
        t.requests,
        ledger_tokens,
        _usd(t.cost_micro),
        _usd(t.reported_cost_micro) if t.n_reported_cost else None,
    )
    notes: list[str] = []
    if otlp is None:
        otlp_fig = ChannelFigures(None, None, None)
        both = only_otlp = 0
        only_otlp_tokens = only_otlp_cost = 0
        only_logs: int | None = None
        notes.append("nothing received through OpenTelemetry for this source on this day")
    else:
        both = otlp.matched
        only_otlp = otlp.requests - otlp.matched
        only_otlp_tokens = otlp.tokens - otlp.matched_tokens
        only_otlp_cost = otlp.only_otlp_cost_micro
        otlp_fig = ChannelFigures(
            otlp.requests,
            otlp.tokens,
            _usd(otlp.matched_ledger_cost_micro + otlp.only_otlp_cost_micro),
            _usd(otlp.reported_cost_micro) if otlp.n_reported_cost else None,
        )
        only_logs = max(t.requests - only_otlp - both, 0)
    logs = ChannelFigures(
        t.requests - only_otlp,
        ledger_tokens - only_otlp_tokens,
        _usd(t.cost_micro - only_otlp_cost),
    )
    metric_total = sum(metric_kinds.values()) if metric_kinds else None
    metrics = ChannelFigures(
        None,
        round(metric_total) if metric_total is not None else None,
        round(metric_cost, 6) if metric_cost is not None else None,
    )
    if otlp is not None:
        if only_otlp:
            notes.append(
                f"{only_otlp} request(s) came only through OpenTelemetry: their log files were "
                "not read here (another machine or container, or not synced yet)"
            )
        if only_logs:
            notes.append(
                f"{only_logs} request(s) are only in log files: sent while telemetry was off, "
                "dropped by the exporter, or from an agent version whose events carry no id "
                "that matches its log (see docs/opentelemetry.md)"
            )
        if both:
            notes.append(f"{both} request(s) were seen both ways and are counted once")
        if both and otlp.matched_ledger_tokens != otlp.matched_tokens:
            diff = otlp.matched_ledger_tokens - otlp.matched_tokens
            notes.append(
                f"for those, the ledger keeps {otlp.matched_ledger_tokens:,} tokens where "
                f"OpenTelemetry reported {otlp.matched_tokens:,} ({diff:+,}): the log file's "
                "buckets are kept, with the larger output count of the two"
            )
        reported = otlp_fig.reported_cost_usd
        if reported is not None and otlp_fig.cost_usd is not None:
            gap = round(otlp_fig.cost_usd - reported, 6)
            if abs(gap) >= 0.01:
                notes.append(
                    f"the agent reported ${reported:,.4f} for the OpenTelemetry requests; "
                    f"tokentrail prices them at ${otlp_fig.cost_usd:,.4f} ({gap:+,.4f})"
                )
    if metric_total is not None:
        compare = otlp_fig.tokens if otlp_fig.tokens is not None else ledger_tokens
        label = "OpenTelemetry events" if otlp_fig.tokens is not None else "the ledger"
        gap_tokens = round(metric_total - compare)
        if gap_tokens:
            notes.append(
                f"metrics add up to {round(metric_total):,} tokens, {label} to {compare:,} "
                f"({gap_tokens:+,}): metrics are exported on an interval (the newest may not "
                "have arrived), are not per request, and are never added to totals"
            )
        else:
            notes.append(f"metrics agree with {label} on tokens")
    return ReconciliationRow(
        period=period,
        source=source,
        ledger=ledger,
        logs=logs,
        otlp=otlp_fig,
        metrics=metrics,
        metric_tokens=dict(metric_kinds or {}),
        both=both,
        only_otlp=only_otlp,
        only_logs=only_logs,
        notes=notes,
    )
