"""The interface every store implements, and the rules shared by all backends (the measures
and filters are in :mod:`tokentrail.store.figures`, the rows of the OpenTelemetry, block and
dashboard queries in :mod:`tokentrail.store.records`; both are named here too).

Only ``store/`` speaks SQL. Callers (the ledger, sync, reports) see these types and nothing
else, so a PostgreSQL store can follow without touching them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

import orjson

from tokentrail.errors import LedgerTooNew
from tokentrail.ratelimits import RateLimitSnapshot
from tokentrail.store.figures import (
    ACTIVE_MS_SQL as ACTIVE_MS_SQL,
)
from tokentrail.store.figures import (  # re-exported: the stores' vocabulary is here
    BUCKET_MS as BUCKET_MS,
)
from tokentrail.store.figures import (
    MEASURE_SQL as MEASURE_SQL,
)
from tokentrail.store.figures import (
    MEASURES as MEASURES,
)
from tokentrail.store.figures import (
    NO_MODEL as NO_MODEL,
)
from tokentrail.store.figures import (
    Filters as Filters,
)
from tokentrail.store.figures import (
    MinuteRow as MinuteRow,
)
from tokentrail.store.figures import (
    OffsetSegment as OffsetSegment,
)
from tokentrail.store.figures import (
    Totals as Totals,
)
from tokentrail.store.figures import (
    UnpricedModel as UnpricedModel,
)
from tokentrail.usage import (  # ToolCall and ToolResult: re-exported for the stores
    Cost,
    Run,
    Session,
    ToolCall,
    ToolResult,
    UsageEvent,
)

if TYPE_CHECKING:
    from tokentrail.store.transaction import WriteTransaction

if TYPE_CHECKING:  # the query rows (:func:`__getattr__`)
    from tokentrail.store.records import (
        GROUP_DIMENSIONS as GROUP_DIMENSIONS,
    )
    from tokentrail.store.records import (
        SESSION_SORTS as SESSION_SORTS,
    )
    from tokentrail.store.records import (
        GroupDimension as GroupDimension,
    )
    from tokentrail.store.records import (
        GroupsTotalsRow as GroupsTotalsRow,
    )
    from tokentrail.store.records import (
        GroupTotalsRow as GroupTotalsRow,
    )
    from tokentrail.store.records import (
        IntervalRow as IntervalRow,
    )
    from tokentrail.store.records import (
        MetricDayRow as MetricDayRow,
    )
    from tokentrail.store.records import (
        MetricSample as MetricSample,
    )
    from tokentrail.store.records import (
        OtlpDayRow as OtlpDayRow,
    )
    from tokentrail.store.records import (
        OtlpReceipt as OtlpReceipt,
    )
    from tokentrail.store.records import (
        SessionPage as SessionPage,
    )
    from tokentrail.store.records import (
        SessionPageQuery as SessionPageQuery,
    )
    from tokentrail.store.records import (
        SessionPageRow as SessionPageRow,
    )
    from tokentrail.store.records import (
        SessionSort as SessionSort,
    )
    from tokentrail.store.records import (
        SourceDayRow as SourceDayRow,
    )
    from tokentrail.store.records import (
        ToolCallRow as ToolCallRow,
    )
    from tokentrail.store.records import (
        ToolStatRow as ToolStatRow,
    )

_RECORDS = frozenset(
    {
        "GROUP_DIMENSIONS",
        "SESSION_SORTS",
        "GroupDimension",
        "GroupsTotalsRow",
        "GroupTotalsRow",
        "IntervalRow",
        "MetricDayRow",
        "MetricSample",
        "OtlpDayRow",
        "OtlpReceipt",
        "SessionPage",
        "SessionPageQuery",
        "SessionPageRow",
        "SessionSort",
        "SourceDayRow",
        "ToolCallRow",
        "ToolStatRow",
    }
)


def __getattr__(name: str) -> Any:
    # The rows of the report, dashboard, OTLP and tool queries are named here for the stores
    # and the reports, but created on first use: a sync or a status line needs none of them,
    # and a dozen dataclasses cost a status line a tenth of its time.
    if name in _RECORDS:
        from tokentrail.store import records

        return getattr(records, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass(frozen=True, slots=True)
class Entry:
    """A usage event with the cost computed for it, as kept in the ledger."""

    event: UsageEvent
    cost: Cost
    user: str | None = None
    """Who the usage is attributed to in a team ledger (``tokentrail push --user``). A local
    (SQLite) ledger belongs to one person and keeps no user: it is always None there."""


@dataclass(slots=True)
class Cursor:
    """How far one source file has been read. Written in the same transaction as its events."""

    path: str
    source: str
    device: int
    inode: int
    size: int
    mtime_ns: int
    offset: int
    line_no: int
    parser_version: int
    head_hash: str
    memory: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class DayRow:
    """Usage of one local day (days since 1970-01-01 in the query's zone), optionally per model."""

    day: int
    model: str | None
    totals: Totals
    group: str | None = None
    """The machine, user or model of this row when grouped by one (see ``day_totals_by``)."""


GroupBy = Literal["model", "machine", "user"]
"""What a report can be broken down by within each period."""
GROUP_BY: tuple[GroupBy, ...] = ("model", "machine", "user")


@dataclass(frozen=True, slots=True)
class PushWatermark:
    """How far one local ledger of one machine has been pushed into a team ledger.

    Local events are pushed in the order of their local id (new requests) and of their change
    sequence (requests that grew or were repriced after they were first recorded); sessions,
    runs, tool calls, tool results and rate-limit snapshots by their change sequence. Each
    value is the last one a committed push covered.
    """

    machine: str
    ledger_id: str
    event_id: int = 0
    event_change: int = 0
    session_change: int = 0
    run_change: int = 0
    user: str | None = None
    pushed_ms: int | None = None
    tool_call_change: int = 0
    tool_result_change: int = 0
    rate_limit_change: int = 0


@dataclass(frozen=True, slots=True)
class SessionTotalsRow:
    """Usage of one session (optionally per model) with what is known of the session."""

    session: Session
    model: str | None
    totals: Totals
    first_ms: int | None
    last_ms: int | None


@dataclass(frozen=True, slots=True)
class RunTotalsRow:
    """One orchestrator run with the usage recorded under it."""

    run: Run
    totals: Totals
    first_ms: int | None
    last_ms: int | None


@dataclass(frozen=True, slots=True)
class StoreStatus:
    location: str
    schema_version: int
    migrations: tuple[str, ...]
    events: int
    sessions: int
    files: int
    first_event: datetime | None
    last_event: datetime | None
    size_bytes: int | None
    retracted: int = 0
    """Events an administrator retracted (``tokentrail db retract``)."""


class Store(Protocol):
    """A ledger backend (SQLite embedded, PostgreSQL for a team)."""

    location: str

    def close(self) -> None: ...

    def check(self) -> list[str]:
        """What is wrong in the ledger's storage (``tokentrail db check``); empty: nothing."""
        ...

    def write(self) -> AbstractContextManager[WriteTransaction]: ...

    def expect_bulk_writes(self) -> None:
        """This connection is about to write a great deal in a row (a first sync's worker):
        let it write in larger steps, where the engine has such a setting."""
        ...

    def cursors(self, paths: Sequence[str] | None = None) -> dict[str, Cursor]:
        """Every file cursor, or only those of ``paths`` (a statusline reads one session's)."""
        ...

    def day_totals(
        self, filters: Filters, segments: Sequence[OffsetSegment], by_model: bool
    ) -> list[DayRow]: ...

    def session_totals(
        self, filters: Filters, by_model: bool, family: Sequence[str] | None = None
    ) -> list[SessionTotalsRow]:
        """Per-session sums; ``sources``, ``project``, ``machines`` and ``users`` of ``filters``
        apply (the last two to the usage summed: a session's requests of those machines).
        ``family``: only these sessions and the sessions whose parent is one of them."""
        ...

    def session_model_requests(self, filters: Filters) -> list[tuple[str, str, int]]:
        """``(session key, model, requests)`` of each model that served a session's requests
        (scoped as :meth:`session_totals`): what the session report's model column shows, read
        without every per-model sum."""
        ...

    def subagents_of(self, parent_keys: Sequence[str]) -> dict[str, list[str]]:
        """The subagent sessions with usage of each of ``parent_keys`` (what the session
        report rolls up on it)."""
        ...

    def unpriced_models(self, filters: Filters) -> list[UnpricedModel]: ...

    def time_range(self, filters: Filters) -> tuple[int, int] | None:
        """First and last rollup bucket (UTC ms) matching ``filters``, or None when empty."""
        ...

    def totals(self, filters: Filters) -> Totals: ...

    def sessions_by_key(self, keys: Sequence[str]) -> dict[str, Session]: ...

    def runs_by_id(self, run_ids: Sequence[str]) -> dict[str, Run]: ...

    def list_runs(self, limit: int | None = None, app: str | None = None) -> list[RunTotalsRow]:
        """Runs, newest first, with their usage."""
        ...

    def session_stats(
        self, filters: Filters, run_id: str | None = None
    ) -> tuple[int, float | None]: ...

    def run_totals(self, run_id: str) -> Totals: ...

    def count_runs(self) -> int: ...

    def count_sessions(self, filters: Filters) -> int: ...

    def recent_sessions(
        self, filters: Filters, limit: int, offset: int = 0
    ) -> list[SessionTotalsRow]: ...

    def session_entries(self, session_keys: Sequence[str]) -> list[Entry]: ...

    def active_ms(self, session_keys: Sequence[str], idle_gap_ms: int) -> dict[str, int]:
        """Each session's active time: the sum of the gaps between its consecutive requests
        that are at most ``idle_gap_ms`` (sessions without requests are left out)."""
        ...

    def iter_entries(self, batch_size: int = 5000) -> Iterator[list[Entry]]: ...

    def status(self) -> StoreStatus: ...

    def backup(self, destination: Path) -> None: ...

    # -- team mode ---------------------------------------------------------------------------

    def day_totals_by(
        self, filters: Filters, segments: Sequence[OffsetSegment], by: GroupBy
    ) -> list[DayRow]:
        """Like ``day_totals``, one row per local day and model, machine or user (in
        ``DayRow.group``; also in ``DayRow.model`` when grouped by model)."""
        ...

    def ledger_id(self) -> str:
        """A random id given to this ledger the first time it is asked for (it tells a team
        ledger which local ledger a push comes from)."""
        ...

    def entries_after(self, after_id: int, limit: int) -> list[tuple[int, Entry]]:
        """Entries with a local id above ``after_id``, in id order, with their ids."""
        ...

    def entries_changed_after(self, after_seq: int, limit: int) -> list[tuple[int, Entry]]:
        """Entries changed (grown, re-attributed, repriced) after they were first recorded,
        with a change sequence above ``after_seq``, in that order, with their sequence."""
        ...

    def sessions_changed_after(self, after_seq: int, limit: int) -> list[tuple[int, Session]]:
        """Sessions written with a change sequence above ``after_seq``, in that order."""
        ...

    def runs_changed_after(self, after_seq: int, limit: int) -> list[tuple[int, Run]]:
        """Runs written with a change sequence above ``after_seq``, in that order."""
        ...

    def tool_calls_changed_after(self, after_seq: int, limit: int) -> list[tuple[int, ToolCall]]:
        """Tool calls (read from logs or reported through OpenTelemetry) written with a change
        sequence above ``after_seq``, in that order, with their sequence."""
        ...

    def tool_results_changed_after(
        self, after_seq: int, limit: int
    ) -> list[tuple[int, ToolResult]]:
        """Tool results read from logs written with a change sequence above ``after_seq``."""
        ...

    def rate_limits_changed_after(
        self, after_seq: int, limit: int
    ) -> list[tuple[int, RateLimitSnapshot]]:
        """Rate-limit snapshots written with a change sequence above ``after_seq``."""
        ...

    def push_watermark(self, machine: str, ledger_id: str) -> PushWatermark:
        """The watermark of one local ledger in this (team) ledger; zeros when unknown."""
        ...

    def push_watermarks(self) -> list[PushWatermark]:
        """Every machine's watermark (who pushed here, and when)."""
        ...

    # -- OpenTelemetry -----------------------------------------------------------------------

    def source_day_totals(
        self, filters: Filters, segments: Sequence[OffsetSegment]
    ) -> list[SourceDayRow]:
        """Ledger totals per local day and source (what the ledger counts)."""
        ...

    def otlp_day_totals(
        self, filters: Filters, segments: Sequence[OffsetSegment]
    ) -> list[OtlpDayRow]:
        """What OTLP reported per local day and source, and how much of it a log file also
        had (``project`` of ``filters`` does not apply)."""
        ...

    def metric_day_totals(
        self, filters: Filters, segments: Sequence[OffsetSegment]
    ) -> list[MetricDayRow]:
        """Increase of each usage metric per local day, source, metric and kind."""
        ...

    def tool_call_stats(self, filters: Filters) -> list[ToolStatRow]:
        """Tool calls per source and tool: how many, how many failed, total duration."""
        ...

    # -- 5-hour blocks (see tokentrail.blocks) ----------------------------------------------

    def minute_totals(self, filters: Filters) -> list[MinuteRow]:
        """Usage per UTC minute and model, from the raw requests in ``filters``' time range
        (bound it: this reads events, not rollups), ordered by minute, with the exact first
        and last request time of each minute."""
        ...

    def rate_limits(self, filters: Filters) -> list[RateLimitSnapshot]:
        """Official rate-limit snapshots observed in ``filters``' time range (``sources`` and
        ``machines`` apply), oldest first."""
        ...

    def tool_call_rows(
        self, filters: Filters, session_keys: Sequence[str] = ()
    ) -> list[ToolCallRow]:
        """Every tool call matching ``filters`` (time, source, machine; ``project`` is the
        session's), or of ``session_keys`` when given, with its result joined: duration is the
        reported one, else result time minus call time. A session's calls read from its log
        file are used; calls OpenTelemetry reported count only for sessions without them, so
        a call seen both ways counts once."""
        ...

    # -- dashboard (SQL in tokentrail.store.sqlite_dashboard) ----------------------------------

    def change_marker(self) -> str:
        """A short text that changes whenever anything in the ledger changes (a request
        recorded or grown, a session or run written). Cheap: asked every few seconds by the
        dashboard to notice new usage."""
        ...

    def group_totals(
        self, filters: Filters, by: GroupDimension, models: Sequence[str] = ()
    ) -> list[GroupTotalsRow]:
        """Usage per source, model, project or machine (from the rollups); only usage of
        ``models`` when given. A request without a model or project is grouped under None."""
        ...

    def group_totals_by(
        self, filters: Filters, by: Sequence[GroupDimension], models: Sequence[str] = ()
    ) -> list[GroupsTotalsRow]:
        """Usage per combination of several dimensions, in one pass over the rollups (a page
        showing spend per source, model and project sums each from it): as
        :meth:`group_totals`, ``groups`` in the order of ``by``."""
        ...

    def interval_totals(
        self,
        filters: Filters,
        segments: Sequence[OffsetSegment],
        interval_ms: int,
        by_model: bool,
        models: Sequence[str] = (),
    ) -> list[IntervalRow]:
        """Usage per local interval: ``IntervalRow.index`` is local time (UTC shifted by the
        segments' offsets) divided by ``interval_ms`` (a multiple of 15 minutes that divides a
        day, or a day); optionally per model; only usage of ``models`` when given."""
        ...

    def session_day_counts(
        self, filters: Filters, segments: Sequence[OffsetSegment], models: Sequence[str] = ()
    ) -> list[tuple[int, int]]:
        """``(local day, sessions)``: top-level sessions (see :meth:`session_page`) started on
        each local day, a session without a start time counting from its first request;
        only sessions that used one of ``models`` when given."""
        ...

    def session_page(self, query: SessionPageQuery) -> SessionPage:
        """One page of top-level sessions, sorted, with the number and runtime of all that
        match. A subagent whose parent is known is rolled up on it (its spend, first and last
        request); forks and orphan subagents are sessions of their own."""
        ...

    def group_names(self, by: GroupDimension) -> list[str]:
        """Every source, model, project or machine the ledger has usage of, sorted (for
        filter menus); requests without one are not named."""
        ...

    # -- reports kept per generation (SQL in tokentrail.store.report_cache) ---------------

    def report_marker(self) -> str | None:
        """The generation of everything a report reads, or None where reports are not kept
        (a team ledger: see tokentrail.store.report_cache)."""
        ...

    def cached_report(self, key: str) -> str | None:
        """The answer kept under ``key``, if computed at the ledger's current generation."""
        ...

    def keep_report(self, key: str, marker: str, body: str) -> bool:
        """Keep ``body`` under ``key`` if the ledger is still at ``marker``, without waiting
        for another writer; whether it was kept."""
        ...

    # -- what the last full sync saw (tokentrail.sync_walk) --------------------------------

    def walk_record(self) -> bytes | None:
        """The record the last full sync kept, or None (none kept, or a team ledger)."""
        ...

    def keep_walk_record(self, record: bytes | None) -> None:
        """Keep ``record`` in place of the last one (None: forget it). A team ledger keeps
        none: the quick answer of a sync reads SQLite ledgers only."""
        ...


def retraction_json(columns: Sequence[str], row: Sequence[Any]) -> str:
    """A retracted event's row as JSON, column by column, kept for review."""
    kept = {
        name: value.decode("utf-8", "replace") if isinstance(value, bytes) else value
        for name, value in zip(columns, row, strict=True)
    }
    return orjson.dumps(kept).decode()


DAMAGED_ADVICE = (
    "save what is still readable with 'tokentrail db backup COPY.db', move the damaged file "
    "aside, and run 'tokentrail sync' to rebuild the ledger from the agents' logs (usage "
    "that reached it only through the API or OpenTelemetry is in the copy, not in the logs)"
)
"""The way out of a damaged ledger, said by every message about one."""


def newer_schema_error(location: str, theirs: int, ours: int) -> LedgerTooNew:
    """Why a ledger migrated by a newer tokentrail is not written."""
    return LedgerTooNew(
        f"this ledger ({location}) was written by a newer tokentrail (schema {theirs} > "
        f"{ours}); upgrade tokentrail (e.g. pip install -U tokentrail) to write to it; "
        "reports can still read it (with --no-sync)"
    )
