"""The vocabulary of the ledger: token buckets, usage events, sessions and skips.

Plain frozen dataclasses with no I/O. Every other module speaks these types.

Token buckets follow one convention everywhere, whatever the agent wrote:

* ``input`` is *uncached* input only;
* ``cache_read``, ``cache_write_5m`` and ``cache_write_1h`` are the cached parts of the prompt;
* ``output`` includes ``reasoning`` (reasoning is shown, never billed twice).

``None`` means "the agent did not report this bucket"; ``0`` means "reported as zero".
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from typing import Any

from tokentrail.figures import TOKEN_BUCKETS

EARLIEST_YEAR = 2000
LATEST_YEAR = 2100
"""The years a request may be dated in (UTC): anything else is a clock or unit mistake
(seconds read as milliseconds) and would stretch every report over centuries."""
MAX_COUNT = 10**9
"""Largest token count of one bucket of one request: a thousand times any model's context;
more is a typo, and would overflow the ledger's integer sums of micro-dollars."""


@dataclass(frozen=True, slots=True)
class Tokens:
    """Token counts of one request. ``None`` = not reported, ``0`` = reported as zero."""

    input: int | None = None
    cache_read: int | None = None
    cache_write_5m: int | None = None
    cache_write_1h: int | None = None
    output: int | None = None
    reasoning: int | None = None

    def __post_init__(self) -> None:
        # the usual case (plain ints or None) in one pass; anything else is looked at closely
        for value in self.as_tuple():
            if value is not None and (type(value) is not int or value < 0):
                self._check_closely()
                return

    def _check_closely(self) -> None:
        for name in TOKEN_BUCKETS:
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int):
                raise InvalidTokens(f"token bucket {name!r} must be an integer, got {value!r}")
            if value < 0:
                raise InvalidTokens(f"token bucket {name!r} must not be negative, got {value}")

    @property
    def cache_write(self) -> int | None:
        """Both cache-write buckets together, or ``None`` when neither was reported."""
        return _sum_reported(self.cache_write_5m, self.cache_write_1h)

    @property
    def prompt(self) -> int:
        """Every input-side token of the request: uncached input plus cache reads and writes."""
        return (
            (self.input or 0)
            + (self.cache_read or 0)
            + (self.cache_write_5m or 0)
            + (self.cache_write_1h or 0)
        )

    @property
    def total(self) -> int:
        """Input + cache read + cache write + output (reasoning is inside output)."""
        return self.prompt + (self.output or 0)

    @property
    def is_empty(self) -> bool:
        """True when no bucket was reported at all."""
        return self.as_tuple() == _NOTHING_REPORTED

    def snapshot_size(self) -> tuple[int, int]:
        """Ordering used to keep the largest of several streaming snapshots of one reply."""
        return (self.total, self.output or 0)

    def as_tuple(self) -> tuple[int | None, ...]:
        # spelled out, in TOKEN_BUCKETS order: this runs for every request a sync reads
        return (
            self.input,
            self.cache_read,
            self.cache_write_5m,
            self.cache_write_1h,
            self.output,
            self.reasoning,
        )

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # compact pickling: parsed events cross from worker processes by the hundred thousand
        return (_restore, (Tokens, TOKEN_BUCKETS, self.as_tuple()))

    @classmethod
    def from_tuple(cls, values: tuple[int | None, ...]) -> Tokens:
        return cls(*values)


_NOTHING_REPORTED: tuple[None, ...] = (None,) * len(TOKEN_BUCKETS)


class InvalidTokens(ValueError):
    """A token count is negative or not an integer."""


def _sum_reported(*values: int | None) -> int | None:
    reported = [v for v in values if v is not None]
    return sum(reported) if reported else None


@dataclass(frozen=True, slots=True)
class UsageEvent:
    """One billed model request (or one step), as read from a log or received from a client.

    ``key`` is deterministic from the source's own ids, so ingesting the same data twice
    changes nothing. ``rank`` orders copies of the same request for attribution: the copy
    with the lowest rank decides which session and project the request belongs to (sources
    put "main thread before sidechain, earliest writer first" into it).
    """

    key: str
    source: str
    timestamp: datetime
    tokens: Tokens
    model: str | None = None
    provider: str | None = None
    session_key: str | None = None
    project: str | None = None
    git_branch: str | None = None
    reported_cost_usd: float | None = None
    pricing_context: tuple[tuple[str, str], ...] = ()
    raw_usage: bytes | None = None
    rank: str = ""
    run_id: str | None = None
    machine: str | None = None
    web_searches: int | None = None
    """Server-side web searches the request made (Claude Code's
    ``usage.server_tool_use.web_search_requests``), billed per search on top of the tokens;
    None when not reported."""
    aliases: tuple[str, ...] = field(default=(), compare=False)
    """Other keys the same request may be recorded under by another channel (e.g. the
    ``claude_code:req:<requestId>`` an OpenTelemetry export uses for a transcript line keyed by
    its message id). Not stored with the event: the ledger keeps them in its alias index, see
    :mod:`tokentrail.correlate`."""
    timestamp_ms: int = field(init=False, repr=False, compare=False)
    """The timestamp as UTC epoch milliseconds, computed once."""

    def __post_init__(self) -> None:
        if self.timestamp.tzinfo is None:
            raise ValueError(f"event {self.key!r}: timestamp must carry a time zone")
        object.__setattr__(self, "timestamp_ms", int(self.timestamp.timestamp() * 1000))

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # compact pickling: parsed events cross from worker processes by the hundred thousand
        return (
            _restore,
            (UsageEvent, _STORED_FIELDS, tuple(getattr(self, n) for n in _STORED_FIELDS)),
        )

    def evolve(self, **changes: Any) -> UsageEvent:
        """A copy with some fields changed (several times faster than dataclasses.replace,
        which matters on the sync's hot path): the fields are copied as they are, and only
        a new timestamp is checked again."""
        new = object.__new__(UsageEvent)
        setter = object.__setattr__
        for name in _STORED_FIELDS:
            setter(new, name, getattr(self, name))
        for name, value in changes.items():
            if name not in _EVENT_FIELD_SET:
                raise TypeError(f"UsageEvent has no field {name!r} to change")
            setter(new, name, value)
        if "timestamp" in changes:
            new.__post_init__()
        return new


_EVENT_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(UsageEvent) if f.init)
_STORED_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(UsageEvent))
_EVENT_FIELD_SET = frozenset(_EVENT_FIELDS)


def _restore(cls: type[Any], names: tuple[str, ...], values: tuple[Any, ...]) -> Any:
    """Unpickle a frozen value without validating it again: it was validated when made."""
    obj = object.__new__(cls)
    for name, value in zip(names, values, strict=True):
        object.__setattr__(obj, name, value)
    return obj


def merge_events(a: UsageEvent, b: UsageEvent) -> UsageEvent:
    """Merge two records of the same request into one; the one rule for duplicates.

    The merge is commutative and associative, so the ledger ends the same whatever order
    files are read in, and a sync interrupted and resumed equals a clean one:

    * tokens (and model, raw usage, reported cost) come from the largest snapshot, because a
      streamed reply is written several times with its output growing;
    * the timestamp is the earliest, because the request happened when it was first written;
    * attribution (session, project, branch, run) comes from the copy with the lowest rank,
      so a main-thread copy beats a sidechain replay and the original session beats a resume.
    """
    if a.key != b.key:
        raise ValueError(f"cannot merge events with different keys: {a.key!r} and {b.key!r}")
    bigger = a if _snapshot_order(a) >= _snapshot_order(b) else b
    owner = a if (a.rank, a.session_key or "") <= (b.rank, b.session_key or "") else b
    earliest = min(a.timestamp, b.timestamp)
    aliases = a.aliases if a.aliases == b.aliases else tuple(sorted({*a.aliases, *b.aliases}))
    other = b if bigger is a else a
    # a copy recorded before searches were read has none: the other copy's count stands
    searches = bigger.web_searches if bigger.web_searches is not None else other.web_searches
    return bigger.evolve(
        web_searches=searches,
        aliases=aliases,
        timestamp=earliest,
        session_key=owner.session_key,
        project=owner.project,
        git_branch=owner.git_branch,
        run_id=owner.run_id,
        machine=owner.machine,
        rank=owner.rank,
    )


def _snapshot_order(event: UsageEvent) -> tuple[tuple[int, int], bytes]:
    # raw usage breaks ties between equal-sized snapshots so the merge stays deterministic
    return (event.tokens.snapshot_size(), event.raw_usage or b"")


@dataclass(frozen=True, slots=True)
class Session:
    """One agent conversation, or one orchestrator-launched agent session."""

    key: str
    source: str
    parent_key: str | None = None
    relationship: str | None = None  # "subagent" or "fork" when parent_key is set
    project: str | None = None
    title: str | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    model: str | None = None
    git_branch: str | None = None
    run_id: str | None = None
    issue_id: str | None = None
    identifier: str | None = None
    state: str | None = None
    """How the session ended (``completed``, ``failed``, ``cancelled``, …); None while open or
    when the agent's logs do not say."""
    turns: int | None = None

    @property
    def runtime_seconds(self) -> float | None:
        if self.started_at is None or self.ended_at is None:
            return None
        return max((self.ended_at - self.started_at).total_seconds(), 0.0)


SESSION_STATES = ("running", "completed", "failed", "cancelled", "timed_out", "crashed")
"""``crashed``: the session's run crashed while it was open (closed by the next run)."""


def merge_sessions(a: Session, b: Session) -> Session:
    """Combine two partial views of one session (e.g. two chunks of the same file)."""
    if a.key != b.key:
        raise ValueError(f"cannot merge sessions with different keys: {a.key!r} and {b.key!r}")
    values: dict[str, Any] = {}
    for f in fields(Session):
        left, right = getattr(a, f.name), getattr(b, f.name)
        if f.name == "started_at":
            values[f.name] = _min_time(left, right)
        elif f.name == "ended_at":
            values[f.name] = _max_time(left, right)
        else:
            values[f.name] = left if left is not None else right
    return Session(**values)


def newer_session(old: Session, new: Session) -> Session:
    """A session as a later read shows it: ``new`` fills the gaps of ``old`` as in
    :func:`merge_sessions`, and its title, when it has one, replaces the old (a thread or
    session renamed later: the newest title wins). A reader names a session only from what it
    read in this pass, so an incremental sync that read no title leaves the stored one."""
    merged = merge_sessions(old, new)
    if new.title is not None and new.title != merged.title:
        merged = replace(merged, title=new.title)
    return merged


def _min_time(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None or b is None:
        return a or b
    return min(a, b)


def _max_time(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None or b is None:
        return a or b
    return max(a, b)


RUN_STATES = ("running", "stopped", "crashed", "failed")


@dataclass(frozen=True, slots=True)
class Run:
    """One boot of an orchestrator (or of a long-running tokentrail process that records)."""

    run_id: str
    app: str
    started_at: datetime
    stopped_at: datetime | None = None
    state: str = "running"
    """``running`` until stopped; ``stopped`` on a clean exit, ``failed`` when the run's block
    raised, ``crashed`` when found still running by the next run of the same app."""
    reason: str | None = None
    """Why this run started (e.g. ``deploy``, ``restart after crash``)."""
    peak_concurrency: int = 0
    sessions_launched: int = 0
    machine: str | None = None

    @property
    def runtime_seconds(self) -> float | None:
        if self.stopped_at is None:
            return None
        return max((self.stopped_at - self.started_at).total_seconds(), 0.0)


@dataclass(frozen=True, slots=True)
class Skip:
    """A line or record that was not ingested, with the reason and where it was."""

    reason: str
    path: str
    line: int | None = None
    detail: str = ""

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}" if self.line is not None else self.path


@dataclass(slots=True)
class SkipSummary:
    """Counts of skipped lines by reason, with the first few places for each."""

    counts: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)
    max_examples: int = 3

    def add(self, skip: Skip) -> None:
        self.counts[skip.reason] = self.counts.get(skip.reason, 0) + 1
        places = self.examples.setdefault(skip.reason, [])
        if len(places) < self.max_examples:
            places.append(skip.where + (f" ({skip.detail})" if skip.detail else ""))

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def absorb(self, other: SkipSummary) -> None:
        for reason, count in other.counts.items():
            self.counts[reason] = self.counts.get(reason, 0) + count
            places = self.examples.setdefault(reason, [])
            room = self.max_examples - len(places)
            places.extend(other.examples.get(reason, [])[:room])


def utc_from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)


@dataclass(frozen=True, slots=True)
class Cost:
    """The computed cost of one event: ``priced`` with integer micro-dollars and the price
    source it came from, or ``unpriced`` (no known price: unknown, never zero)."""

    status: str
    micro_usd: int | None = None
    version: str | None = None
    cache_saving_micro: int | None = None
    """What the request's cache reads saved, in micro-dollars: its cost had those tokens been
    plain input, less its cost (at the same price and tier: moving tokens between input and
    cache leaves the prompt's size as it was). None when it reported no cache reads, is
    unpriced, or was priced before tokentrail kept this (``tokentrail reprice`` fills it)."""


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One tool call an agent reported (name, outcome, duration: never its input or output)."""

    key: str
    source: str
    tool_name: str
    timestamp_ms: int
    session_key: str | None = None
    duration_ms: int | None = None
    success: bool | None = None
    machine: str | None = None
    lines_added: int | None = None
    """Lines an edit tool call added, counted from its arguments (None: not an edit, or not
    known). Only log files carry these; see tokentrail.sources.edits
    and each agent's ``edits`` module."""
    lines_removed: int | None = None
    model: str | None = None
    """The model of the request that made the call (log files only)."""
    from_log: bool = False
    """Read from an agent's log file (True) or reported through OpenTelemetry (False)."""


def tool_duration_ms(call_ms: int, result_ms: int) -> int | None:
    """A call's duration from its result's time; None when the result is not later (an agent
    that logs a call once, when it ends, stamps both alike: no duration, rather than 0). The
    stores' read-time join spells the same rule in SQL (store/tool_sql.py)."""
    return result_ms - call_ms if result_ms > call_ms else None


@dataclass(frozen=True, slots=True)
class ToolResult:
    """The outcome of a tool call read from a log file, which may arrive in a later sync than
    the call itself: stored apart under the call's key and joined to it when read."""

    key: str
    source: str
    timestamp_ms: int
    success: bool | None = None
    session_key: str | None = None
    machine: str | None = None
