"""5-hour blocks: the session windows that plan limits are counted in, as ccusage shows them.

A block starts at the hour of its first request (floored to the whole UTC hour, as ccusage
does: in a zone like India's, +05:30, blocks start at half past local hours) and lasts 5
hours. A request at or after the block's end, or 5 hours or more after the previous request,
starts a new block (at its own hour). The block holding "now" is the active one.

Burn rate (per block): total tokens (input + cache reads + cache writes + output; reasoning is
inside output) divided by the minutes from the block's first to its last request, and the
computed cost over the same span, per hour. Under one minute of activity there is no rate
(missing, not 0). Projection (active block only): what the block reaches at its end if the
burn rate holds for the minutes left: ``tokens + rate x minutes left``, same for cost.

The figures come from the raw requests of a bounded time range (:meth:`Store.minute_totals`),
grouped per minute: a block boundary is always a whole hour and a gap is 5 hours, so requests
of one minute always share a block, and the first/last time of each minute keeps the gap rule
exact. Blocks depend on the requests before them; the range read starts a day (or, for usage
without a 5-hour pause, 30 days) before the first block shown, early enough to find a pause
that anchors the block boundaries.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING, Any, NamedTuple

from tokentrail.figures import UsageFigures, unpriced_dicts
from tokentrail.periods import DAY_MS, local_moment
from tokentrail.store.figures import NO_MODEL, Filters, MinuteRow, Totals, UnpricedModel

if TYPE_CHECKING:  # the protocols are for the type checker: creating them costs imports
    from collections.abc import Sequence
    from typing import Protocol

    from tokentrail.ratelimits import RateLimitSnapshot

    class BlocksReader(Protocol):
        """What the blocks read of a ledger: any store, or the fast reader of
        :mod:`tokentrail.store.quick` (``blocks --active`` and the status line import no
        more)."""

        def minute_totals(self, filters: Filters) -> list[MinuteRow]: ...

        def rate_limits(self, filters: Filters) -> list[RateLimitSnapshot]: ...

    class RollupReader(BlocksReader, Protocol):
        """A reader that answers the active block from its hourly rollups (the quick reader
        of :mod:`tokentrail.store.quick`): the hours holding usage, per-model sums over
        whole hours and the first and last request of a range."""

        def usage_hours(self, filters: Filters) -> list[int]: ...

        def model_totals(self, filters: Filters) -> list[tuple[str | None, Totals]]: ...

        def request_span(self, filters: Filters) -> tuple[int, int] | None: ...


def rollup_reader(store: BlocksReader) -> RollupReader | None:
    """``store`` when it reads the active block from hourly rollups (it says
    ``reads_hourly_rollups``: the quick reader, a SQLite ledger), else None. A duck-typed
    check: a runtime-checkable protocol would make every answer import :mod:`typing`'s
    protocol machinery."""
    return store if getattr(store, "reads_hourly_rollups", False) else None  # type: ignore[return-value]


HOUR_MS = 3_600_000
BLOCK_MS = 5 * HOUR_MS
DEFAULT_LIST_MS = 7 * DAY_MS
"""How far back ``blocks`` lists by default (and ``--active`` looks only 6 hours back)."""
LOOKBACKS_MS: tuple[int, ...] = (DAY_MS, 30 * DAY_MS)
MIN_RATE_SPAN_MS = 60_000
"""Below a minute between first and last request, a rate would be noise: none is given."""
RATE_LIMIT_LOOKBACK_MS = 8 * DAY_MS
"""How far back the latest official rate-limit figures are looked for (Codex's longest
window is a week)."""


# The query and the row types are NamedTuples, not frozen dataclasses: a dataclass costs about
# a millisecond to create when the module is imported, a NamedTuple a tenth of that, and
# `blocks --active` and the status line import this module on every call.


class BlocksQuery(NamedTuple):
    zone: tzinfo
    zone_name: str
    since_ms: int | None = None
    """Blocks ending after this instant are listed (default: 7 days before now)."""
    until_ms: int | None = None
    """Only blocks starting before this instant are listed (default: every one)."""
    active_only: bool = False
    sources: tuple[str, ...] = ()
    project: str | None = None
    machines: tuple[str, ...] = ()
    users: tuple[str, ...] = ()
    token_limit: int | None = None
    """Tokens a block may use, for the estimated share used (``--token-limit``)."""
    token_limit_max: bool = False
    """Take the token limit from the largest finished block listed (``--token-limit max``)."""

    def filters(self) -> Filters:
        return Filters(
            sources=self.sources,
            project=self.project,
            machines=self.machines,
            users=self.users,
        )


class BurnRate(NamedTuple):
    tokens_per_minute: float
    cost_usd_per_hour: float | None


class Projection(NamedTuple):
    remaining_minutes: float
    total_tokens: int
    cost_usd: float | None


class LimitEstimate(NamedTuple):
    """The share of a token limit a block used: an estimate from our own counts."""

    token_limit: int
    used_percent: float
    projected_percent: float | None


class BlockRow(NamedTuple):
    start_ms: int
    end_ms: int
    first_ms: int
    last_ms: int
    active: bool
    totals: Totals
    models: tuple[str, ...]
    unpriced_models: tuple[UnpricedModel, ...]
    burn_rate: BurnRate | None
    projection: Projection | None
    official: tuple[RateLimitSnapshot, ...] = ()
    """The latest official figures of each window observed during the block."""
    estimate: LimitEstimate | None = None
    idle_before_ms: int | None = None
    """Time without requests before this block, when 5 hours or more (a gap)."""

    @property
    def figures(self) -> UsageFigures:
        return UsageFigures.from_totals(self.totals)


class BlocksReport(NamedTuple):
    rows: list[BlockRow]
    zone: tzinfo
    timezone: str
    now_ms: int
    since_ms: int
    rate_limits: Sequence[RateLimitSnapshot] = ()
    """The latest official figures per source and window."""

    def as_dict(self) -> dict[str, Any]:
        total = sum((r.totals for r in self.rows), Totals.zero())
        unpriced: dict[str, list[int]] = {}
        for row in self.rows:
            for m in row.unpriced_models:
                counts = unpriced.setdefault(m.model, [0, 0])
                counts[0] += m.requests
                counts[1] += m.tokens
        return {
            "rows": [self.row_dict(r) for r in self.rows],
            "totals": UsageFigures.from_totals(total).as_dict(),
            "unpriced_models": [
                {"model": name, "requests": c[0], "tokens": c[1]}
                for name, c in sorted(unpriced.items())
            ],
            "rate_limits": [self.snapshot_dict(s) for s in self.rate_limits],
            "timezone": self.timezone,
            "since": self.iso(self.since_ms),
            "generated_at": self.iso(self.now_ms),
        }

    def csv_rows(self) -> list[dict[str, Any]]:
        """The JSON rows made flat for CSV: one column per figure, official figures as
        ``official_<source>_<window>_used_percent`` / ``_resets_at``."""
        flat: list[dict[str, Any]] = []
        for row in self.rows:
            data = self.row_dict(row)
            official = data.pop("official_rate_limits")
            rate, projection = data.pop("burn_rate") or {}, data.pop("projection") or {}
            estimate = data.pop("limit_estimate") or {}
            data["unpriced_models"] = [m["model"] for m in data["unpriced_models"]]
            data["burn_rate_tokens_per_minute"] = rate.get("tokens_per_minute")
            data["burn_rate_cost_usd_per_hour"] = rate.get("cost_usd_per_hour")
            data["projected_total_tokens"] = projection.get("total_tokens")
            data["projected_cost_usd"] = projection.get("cost_usd")
            data["estimated_used_percent"] = estimate.get("used_percent")
            for snapshot in official:
                prefix = f"official_{snapshot['source']}_{snapshot['window']}"
                data[f"{prefix}_used_percent"] = snapshot["used_percent"]
                data[f"{prefix}_resets_at"] = snapshot["resets_at"]
            flat.append(data)
        return flat

    def blank_csv_row(self) -> dict[str, Any]:
        """A row of the CSV's shape, for the header of an empty table."""
        blank = BlockRow(0, 0, 0, 0, False, Totals.zero(), (), (), None, None)
        return BlocksReport([blank], self.zone, self.timezone, self.now_ms, 0).csv_rows()[0]

    def iso(self, ms: int | None) -> str | None:
        if ms is None:
            return None
        return local_moment(ms, self.zone).isoformat()

    def row_dict(self, row: BlockRow) -> dict[str, Any]:
        rate = row.burn_rate
        projection = row.projection
        return {
            "start": self.iso(row.start_ms),
            "end": self.iso(row.end_ms),
            "first_activity": self.iso(row.first_ms),
            "last_activity": self.iso(row.last_ms),
            "active": row.active,
            **row.figures.as_dict(),
            "models": list(row.models),
            "unpriced_models": unpriced_dicts(row.unpriced_models),
            "burn_rate": None
            if rate is None
            else {
                "tokens_per_minute": round(rate.tokens_per_minute, 1),
                "cost_usd_per_hour": _round(rate.cost_usd_per_hour),
            },
            "projection": None
            if projection is None
            else {
                "remaining_minutes": round(projection.remaining_minutes, 1),
                "total_tokens": projection.total_tokens,
                "cost_usd": _round(projection.cost_usd),
                "kind": "estimate",
            },
            "official_rate_limits": [self.snapshot_dict(s) for s in row.official],
            "limit_estimate": None
            if row.estimate is None
            else {
                "token_limit": row.estimate.token_limit,
                "used_percent": round(row.estimate.used_percent, 1),
                "projected_percent": None
                if row.estimate.projected_percent is None
                else round(row.estimate.projected_percent, 1),
                "kind": "estimate",
            },
        }

    def snapshot_dict(self, s: RateLimitSnapshot) -> dict[str, Any]:
        return {
            "source": s.source,
            "window": s.window,
            "window_minutes": s.window_minutes,
            "used_percent": s.used_percent,
            "resets_at": self.iso(s.resets_at_ms),
            "observed_at": self.iso(s.observed_ms),
            "current": s.resets_at_ms is None or s.resets_at_ms > self.now_ms,
            "kind": "official",
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 6)


def blocks_report(
    store: BlocksReader, query: BlocksQuery, *, now: datetime | None = None
) -> BlocksReport:
    """The 5-hour blocks ending after ``query.since_ms`` (or only the active one)."""
    now_ms = int((now or datetime.now(UTC)).timestamp() * 1000)
    if query.active_only and not query.token_limit_max:
        since_ms = now_ms - BLOCK_MS - HOUR_MS
    else:
        since_ms = query.since_ms if query.since_ms is not None else now_ms - DEFAULT_LIST_MS
    # the live view and the dashboard ask for the active block every few seconds: a day of
    # lookback keeps that read small (15 ms on a 1M-request ledger of non-stop usage); a day
    # without a 5-hour pause reads further back, as the full listing does, so both agree
    rollups = rollup_reader(store)
    if query.active_only and not query.token_limit_max and rollups is not None:
        blocks = _active_from_rollups(rollups, query.filters(), since_ms, now_ms)
    else:
        minutes = _read_minutes(store, query.filters(), since_ms, LOOKBACKS_MS)
        blocks = build_blocks(minutes, now_ms)
    blocks = [
        b
        for b in blocks
        if b.end_ms > since_ms and (query.until_ms is None or b.start_ms < query.until_ms)
    ]
    snapshots = store.rate_limits(
        query.filters()._replace(
            since_ms=min(since_ms, now_ms - RATE_LIMIT_LOOKBACK_MS),
            project=None,
            users=(),
        )
    )
    blocks = [b._replace(official=_official_in(b, snapshots)) for b in blocks]
    limit = query.token_limit
    if query.token_limit_max:
        finished = [b.figures.total_tokens or 0 for b in blocks if not b.active]
        limit = max(finished, default=0) or None
    if limit:
        blocks = [b._replace(estimate=_estimate(b, limit)) for b in blocks]
    if query.active_only:
        blocks = [b for b in blocks if b.active]
    return BlocksReport(
        rows=blocks,
        zone=query.zone,
        timezone=query.zone_name,
        now_ms=now_ms,
        since_ms=since_ms,
        rate_limits=latest_per_window(snapshots),
    )


def _read_minutes(
    store: BlocksReader, base: Filters, since_ms: int, lookbacks: Sequence[int]
) -> list[MinuteRow]:
    """The minutes from far enough before ``since_ms`` that block boundaries are anchored."""
    rows: list[MinuteRow] = []
    for lookback in lookbacks:
        start = _hour(since_ms - lookback)  # whole hours: the rollups' chain starts there too
        rows = store.minute_totals(base._replace(since_ms=start, until_ms=None))
        if _anchored(rows, start, since_ms):
            break
    return rows


def _hour(ms: int) -> int:
    return ms - ms % HOUR_MS


def _usage_hours(reader: RollupReader, base: Filters, since_ms: int) -> list[int]:
    """The hours with usage from far enough before ``since_ms`` that block boundaries are
    anchored (the lookbacks of :func:`_read_minutes`, in whole hours)."""
    hours: list[int] = []
    for lookback in LOOKBACKS_MS:
        start = _hour(since_ms - lookback)
        hours = reader.usage_hours(base._replace(since_ms=start, until_ms=None))
        if _hours_anchored(hours, start, since_ms):
            break
    return hours


def _hours_anchored(hours: Sequence[int], start_ms: int, since_ms: int) -> bool:
    """True when, before ``since_ms``, hours with usage leave 5 hours certainly empty (a
    request may fall anywhere in its hour), as :func:`_anchored` asks of the minutes."""
    previous_end = start_ms
    for hour in hours:
        if hour >= since_ms:
            break
        if hour - previous_end >= BLOCK_MS:
            return True
        previous_end = hour + HOUR_MS
    return since_ms - previous_end >= BLOCK_MS


def _active_from_rollups(
    reader: RollupReader, base: Filters, since_ms: int, now_ms: int
) -> list[BlockRow]:
    """The block holding ``now`` (or none), from the hourly rollups: the same blocks
    :func:`build_blocks` makes of the minutes from the same whole hour, reading the raw
    requests only for a few index lookups.

    Only the first request of an hour can start a block (a block starts at a whole hour and
    lasts whole hours; a gap inside one hour is under 5 hours), and it starts one when its hour
    is 5 hours or more past the block's start, or 5 hours or more after the last request
    before it. Between hours 6 or more apart that gap is certain, between hours 4 or fewer
    apart impossible; hours exactly 5 apart ask the requests (:func:`_gap_between`)."""
    hours = _usage_hours(reader, base, since_ms)
    if not hours:
        return []
    # the chain of block starts (with the last hour of usage before each), up to the first
    # start after now: the block holding now ends there at the latest
    starts: list[tuple[int, int | None]] = [(hours[0], None)]
    previous = hours[0]
    for hour in hours[1:]:
        if starts[-1][0] > now_ms:
            break
        spacing = hour - previous
        gap = spacing > BLOCK_MS or (
            spacing == BLOCK_MS and (_gap_ms(reader, base, previous, hour) or 0) >= BLOCK_MS
        )
        if hour >= starts[-1][0] + BLOCK_MS or gap:
            starts.append((hour, previous))
        previous = hour
    current = [i for i, (start, _) in enumerate(starts) if start <= now_ms]
    if not current or starts[current[-1]][0] + BLOCK_MS <= now_ms:
        return []  # no usage yet, or the last block has ended: nothing is active
    start, before_start = starts[current[-1]]
    following = starts[current[-1] + 1][0] if current[-1] + 1 < len(starts) else None
    scope = base._replace(since_ms=start, until_ms=following)
    span = reader.request_span(scope)
    if span is None:  # pragma: no cover - the hour holds usage
        return []
    first_ms, last_ms = span
    idle_before = None
    if before_start is not None and start - before_start >= BLOCK_MS:
        idle = _gap_ms(reader, base, before_start, start)
        idle_before = idle if idle is not None and idle >= BLOCK_MS else None
    rows = [
        MinuteRow(minute=first_ms // 60_000, model=m, first_ms=first_ms, last_ms=last_ms, totals=t)
        for m, t in reader.model_totals(scope)
    ]
    return [_finish(rows, start, now_ms, idle_before)] if rows else []


def _gap_ms(reader: RollupReader, base: Filters, earlier: int, later: int) -> int | None:
    """The time from the last request of hour ``earlier`` to the first of hour ``later``."""
    before = reader.request_span(base._replace(since_ms=earlier, until_ms=earlier + HOUR_MS))
    after = reader.request_span(base._replace(since_ms=later, until_ms=later + HOUR_MS))
    return None if before is None or after is None else after[0] - before[1]


def _anchored(rows: Sequence[MinuteRow], start_ms: int, since_ms: int) -> bool:
    """True when, before ``since_ms``, there are 5 hours without requests: the first request
    after them starts a block whatever came earlier, so every later boundary is exact."""
    previous = start_ms
    for row in rows:
        if row.first_ms >= since_ms:
            break
        if row.first_ms - previous >= BLOCK_MS:
            return True
        previous = row.last_ms
    return since_ms - previous >= BLOCK_MS


def build_blocks(minutes: Sequence[MinuteRow], now_ms: int) -> list[BlockRow]:
    """Group per-minute usage (ordered by minute) into 5-hour blocks."""
    blocks: list[BlockRow] = []
    current: list[MinuteRow] = []
    start_ms = 0
    idle_before: int | None = None
    for row in minutes:
        if current:
            gap = row.first_ms - current[-1].last_ms
            if row.first_ms >= start_ms + BLOCK_MS or gap >= BLOCK_MS:
                blocks.append(_finish(current, start_ms, now_ms, idle_before))
                idle_before = gap if gap >= BLOCK_MS else None
                current = []
        if not current:
            start_ms = row.first_ms - row.first_ms % HOUR_MS
        current.append(row)
    if current:
        blocks.append(_finish(current, start_ms, now_ms, idle_before))
    return blocks


def _finish(
    rows: Sequence[MinuteRow], start_ms: int, now_ms: int, idle_before: int | None
) -> BlockRow:
    end_ms = start_ms + BLOCK_MS
    by_model: dict[str | None, Totals] = {}
    for row in rows:
        by_model[row.model] = by_model.get(row.model, Totals.zero()) + row.totals
    totals = sum(by_model.values(), Totals.zero())
    first_ms = min(r.first_ms for r in rows)
    last_ms = max(r.last_ms for r in rows)
    active = first_ms <= now_ms < end_ms
    rate = _burn_rate(totals, last_ms - first_ms)
    return BlockRow(
        start_ms=start_ms,
        end_ms=end_ms,
        first_ms=first_ms,
        last_ms=last_ms,
        active=active,
        totals=totals,
        models=tuple(sorted(m for m in by_model if m)),
        unpriced_models=tuple(
            UnpricedModel(model or NO_MODEL, t.unpriced_requests, t.unpriced_tokens)
            for model, t in sorted(by_model.items(), key=lambda i: i[0] or "")
            if t.unpriced_requests
        ),
        burn_rate=rate,
        projection=_project(totals, rate, end_ms - now_ms) if active else None,
        idle_before_ms=idle_before,
    )


def _burn_rate(totals: Totals, span_ms: int) -> BurnRate | None:
    figures = UsageFigures.from_totals(totals)
    if span_ms < MIN_RATE_SPAN_MS or figures.total_tokens is None:
        return None
    minutes = span_ms / 60_000
    cost = figures.cost_usd
    return BurnRate(
        tokens_per_minute=figures.total_tokens / minutes,
        cost_usd_per_hour=None if cost is None else cost / minutes * 60,
    )


def _project(totals: Totals, rate: BurnRate | None, remaining_ms: int) -> Projection | None:
    if rate is None:
        return None
    figures = UsageFigures.from_totals(totals)
    minutes = max(remaining_ms, 0) / 60_000
    cost = figures.cost_usd
    per_hour = rate.cost_usd_per_hour
    return Projection(
        remaining_minutes=minutes,
        total_tokens=round((figures.total_tokens or 0) + rate.tokens_per_minute * minutes),
        cost_usd=None if cost is None or per_hour is None else cost + per_hour * minutes / 60,
    )


def _estimate(block: BlockRow, limit: int) -> LimitEstimate:
    used = (block.figures.total_tokens or 0) / limit * 100
    projected = (
        block.projection.total_tokens / limit * 100 if block.projection is not None else None
    )
    return LimitEstimate(token_limit=limit, used_percent=used, projected_percent=projected)


def _official_in(
    block: BlockRow, snapshots: Sequence[RateLimitSnapshot]
) -> tuple[RateLimitSnapshot, ...]:
    inside = [s for s in snapshots if block.start_ms <= s.observed_ms < block.end_ms]
    return tuple(latest_per_window(inside))


def latest_per_window(snapshots: Sequence[RateLimitSnapshot]) -> list[RateLimitSnapshot]:
    """The newest snapshot of each (source, window), ordered by source and window."""
    latest: dict[tuple[str, str], RateLimitSnapshot] = {}
    for snapshot in snapshots:
        key = (snapshot.source, snapshot.window)
        known = latest.get(key)
        if known is None or snapshot.observed_ms >= known.observed_ms:
            latest[key] = snapshot
    return [latest[key] for key in sorted(latest)]


def active_block(
    store: BlocksReader, query: BlocksQuery, *, now: datetime | None = None
) -> BlocksReport:
    """Only the block holding ``now`` (reads the last 6 hours, plus the anchoring lookback)."""
    return blocks_report(store, query._replace(active_only=True), now=now)
