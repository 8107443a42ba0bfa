"""The one façade everyone writes and reads through.

The ledger decides what is new: it merges repeated records of one request (the rule lives in
:func:`tokentrail.usage.merge_events`), prices what changed, and hands the store one
transaction per batch, cursors included, so a kill leaves the ledger as it was before it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from tokentrail import correlate
from tokentrail.config import Config, load_config, machine_name, resolve_database
from tokentrail.errors import InvalidUsage, StoreError
from tokentrail.errors import UnknownRun as UnknownRun  # its home before errors.py
from tokentrail.pricing import Pricer
from tokentrail.ratelimits import RateLimitSnapshot
from tokentrail.store.base import (
    NO_MODEL,
    Cursor,
    Entry,
    Store,
    WriteTransaction,
)
from tokentrail.usage import (
    RUN_STATES,
    SESSION_STATES,
    Cost,
    Run,
    Session,
    ToolCall,
    ToolResult,
    UsageEvent,
    merge_events,
    newer_session,
    tool_duration_ms,
    utc_from_ms,
)

if TYPE_CHECKING:
    from tokentrail.sdk import RunRecorder, SessionRecorder

_SESSION_FIELDS = {f.name for f in fields(Session)} - {"key"}


@dataclass(slots=True)
class BatchOutcome:
    """What one batch changed: new requests, requests that grew, and repeats dropped."""

    created: int = 0
    updated: int = 0
    duplicates: int = 0
    created_by_source: dict[str, int] = field(default_factory=dict)
    created_keys: set[str] = field(default_factory=set)


@dataclass(frozen=True, slots=True)
class RepriceChange:
    model: str
    requests: int
    old_micro: int
    new_micro: int
    old_unpriced: int
    new_unpriced: int


def open_store(
    location: str, *, machine: str | None = None, busy_timeout_s: float | None = None
) -> Store:
    """Open the store behind a location: a file path (SQLite) or a ``postgresql://`` URL (a
    team ledger; ``machine`` scopes its file cursors, default: this machine's name).
    ``busy_timeout_s``: how long a SQLite write waits for another writer (default: the
    store's own, long enough for any sync)."""
    if location.startswith(("postgresql://", "postgres://")):
        from tokentrail.store.postgres import PostgresStore

        return PostgresStore(location, machine=machine)
    if "://" in location:
        raise StoreError(
            f"{location.split('://')[0]}:// ledgers are not supported; use a file path or a "
            "postgresql:// URL for -d/--database or TOKENTRAIL_DB"
        )
    from tokentrail.store.sqlite import SQLiteStore

    path = Path(location) if location != ":memory:" else location
    if busy_timeout_s is not None:
        return SQLiteStore(path, busy_timeout_s=busy_timeout_s)
    return SQLiteStore(path)


class Ledger:
    """A persistent, truthful record of usage. Use as a context manager or call :meth:`close`."""

    def __init__(
        self,
        database: str | Path | None = None,
        *,
        config: Config | None = None,
        machine: str | None = None,
        busy_timeout_s: float | None = None,
    ) -> None:
        """``busy_timeout_s``: how long a write waits for another process's write (see
        :func:`open_store`); a write that waits longer raises :class:`LedgerBusy`."""
        self.config = config if config is not None else load_config()
        self.database = resolve_database(
            str(database) if database is not None else None, self.config
        )
        """Where the ledger is: a path or a URL, with any password in it (never print it)."""
        self.machine = machine or machine_name(self.config)
        self.store: Store = open_store(
            self.database, machine=self.machine, busy_timeout_s=busy_timeout_s
        )
        self.location = self.store.location
        """Where the ledger is, fit to show: a path, or a URL without its password."""
        self.pricer = Pricer(self.config.prices)
        # one connection shared by the threads of an orchestrator: they take turns
        self._lock = threading.RLock()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            self.store.close()

    @contextmanager
    def reading(self) -> Iterator[Store]:
        """The store, for reports, while no other thread of this process uses it."""
        with self._lock:
            yield self.store

    # -- orchestrators ---------------------------------------------------------------------

    def run(self, app: str, *, reason: str | None = None, run_id: str | None = None) -> RunRecorder:
        """A context manager for one boot of an orchestrator (see :mod:`tokentrail.sdk`)."""
        from tokentrail.sdk import RunRecorder

        return RunRecorder(self, app, reason=reason, run_id=run_id)

    def session(self, key: str, **details: Any) -> SessionRecorder:
        """A context manager for one agent session outside any run."""
        from tokentrail.sdk import SessionRecorder

        return SessionRecorder(self, key, run=None, **details)

    def record_events(self, events: Sequence[UsageEvent]) -> list[str]:
        """Record events in one transaction; ``created`` or ``duplicate`` for each, in order.

        A duplicate is an event whose key the ledger already had (or that came earlier in the
        same call): nothing new is counted for it.
        """
        outcome = self.record_batch(events)
        statuses: list[str] = []
        seen: set[str] = set()
        for event in events:
            created = event.key in outcome.created_keys and event.key not in seen
            statuses.append("created" if created else "duplicate")
            seen.add(event.key)
        return statuses

    def start_run(
        self,
        app: str,
        *,
        reason: str | None = None,
        run_id: str | None = None,
        started_at: datetime | None = None,
    ) -> Run:
        """Record the start of a run. Runs of the same app still marked running are closed as
        ``crashed``, stopped at their last recorded event (or their start, with none), and
        so are their sessions still open: state ``crashed``, completed at their own last
        request (or their start), never left ``running`` forever."""
        if not app:
            raise InvalidUsage("app", "must not be empty")
        run = Run(
            run_id=run_id or _new_run_id(),
            app=app,
            started_at=started_at or datetime.now(UTC),
            reason=reason,
            machine=self.machine,
        )
        with self._lock, self.store.write() as tx:
            if tx.get_runs([run.run_id]):
                raise InvalidUsage("run_id", f"a run with id {run.run_id!r} already exists")
            crashed = []
            closed: list[Session] = []
            for stale in tx.running_runs(app):
                last_ms = tx.last_event_ms(stale.run_id)
                stopped = utc_from_ms(last_ms) if last_ms is not None else stale.started_at
                crashed.append(replace(stale, state="crashed", stopped_at=stopped))
                closed.extend(_crashed_sessions(tx.open_sessions_of_run(stale.run_id), stopped))
            tx.put_runs([*crashed, run])
            tx.put_sessions(closed)
        return run

    def update_run(
        self,
        run_id: str,
        *,
        stopped_at: datetime | None = None,
        state: str | None = None,
        peak_concurrency: int | None = None,
        sessions_launched: int | None = None,
    ) -> Run:
        """Change what is known of a run; peak concurrency only ever grows."""
        if state is not None and state not in RUN_STATES:
            raise InvalidUsage("state", f"must be one of {', '.join(RUN_STATES)}, got {state!r}")
        with self._lock, self.store.write() as tx:
            found = tx.get_runs([run_id]).get(run_id)
            if found is None:
                raise UnknownRun(run_id)
            if stopped_at is not None and stopped_at < found.started_at:
                raise InvalidUsage(
                    "stopped_at",
                    f"{stopped_at.isoformat()} is before the run started "
                    f"({found.started_at.isoformat()}); send the time the run stopped",
                )
            updated = replace(
                found,
                stopped_at=stopped_at or found.stopped_at,
                state=state or found.state,
                peak_concurrency=max(found.peak_concurrency, peak_concurrency or 0),
                sessions_launched=max(found.sessions_launched, sessions_launched or 0),
            )
            tx.put_runs([updated])
        return updated

    def update_session(self, key: str, **changes: Any) -> Session:
        """Create or update a session: given fields replace what was known (the start time
        keeps the earliest). Unknown field names are an error."""
        unknown = set(changes) - _SESSION_FIELDS
        if unknown:
            raise InvalidUsage(sorted(unknown)[0], "is not a session field")
        if changes.get("state") is not None and changes["state"] not in SESSION_STATES:
            raise InvalidUsage(
                "state", f"must be one of {', '.join(SESSION_STATES)}, got {changes['state']!r}"
            )
        with self._lock, self.store.write() as tx:
            found = tx.get_sessions([key]).get(key)
            from tokentrail.ingest import DEFAULT_SOURCE

            base = found or Session(key=key, source=changes.get("source") or DEFAULT_SOURCE)
            given = {name: value for name, value in changes.items() if value is not None}
            if isinstance(given.get("title"), str) and len(given["title"]) > TITLE_MAX:
                given["title"] = given["title"][: TITLE_MAX - 1] + "…"
            if base.started_at is not None and "started_at" in given:
                given["started_at"] = min(base.started_at, given["started_at"])
            session = replace(base, **given)
            tx.put_sessions([session])
        return session

    # -- writing -------------------------------------------------------------------------

    def record_batch(
        self,
        events: Iterable[UsageEvent],
        sessions: Iterable[Session] = (),
        cursors: Sequence[Cursor] = (),
        *,
        also: Callable[[WriteTransaction], None] | None = None,
        rate_limits: Sequence[RateLimitSnapshot] = (),
        tool_calls: Sequence[ToolCall | ToolResult] = (),
    ) -> BatchOutcome:
        """Record events, sessions and the cursors they came from, in one transaction.

        ``also`` writes more in the same transaction (the OTLP receiver's receipts, metric
        samples and tool calls), so a batch is recorded whole or not at all."""
        outcome = BatchOutcome()
        incoming = self._collapse(events, outcome)
        session_updates = _collapse_sessions(sessions)
        with self._lock, self.store.write() as tx:
            _fold_channels(tx, incoming, outcome)
            _drop_retracted(tx, incoming, outcome)
            existing = tx.get_entries(list(incoming))
            inserts: list[Entry] = []
            changes: list[tuple[Entry, Entry]] = []
            for key, event in incoming.items():
                old = existing.get(key)
                if old is None:
                    inserts.append(Entry(event, self.pricer.price(event)))
                    continue
                if correlate.is_otlp(old.event) == correlate.is_otlp(event):
                    merged = merge_events(old.event, event)
                else:  # the same request from a log file and from OpenTelemetry
                    merged = correlate.combine(old.event, event, key)
                if merged == old.event:
                    outcome.duplicates += 1
                    continue
                changes.append((old, Entry(merged, self._cost_after_merge(old, merged))))
            tx.insert_entries(inserts)
            tx.replace_entries(changes)
            session_updates.update(_sessions_first_seen(tx, inserts, session_updates))
            if session_updates:
                known = tx.get_sessions(list(session_updates))
                tx.put_sessions(
                    [
                        newer_session(known[key], s) if key in known else s
                        for key, s in session_updates.items()
                    ]
                )
            if rate_limits:
                tx.put_rate_limits([s.with_machine(self.machine) for s in rate_limits])
            if tool_calls:
                _put_tool_calls(tx, tool_calls, self.machine)
            tx.put_cursors(cursors)
            if also is not None:
                also(tx)
        outcome.created += len(inserts)
        for entry in inserts:
            name = entry.event.source
            outcome.created_by_source[name] = outcome.created_by_source.get(name, 0) + 1
            outcome.created_keys.add(entry.event.key)
        outcome.updated += len(changes)
        return outcome

    def retract(self, keys: Sequence[str], reason: str) -> list[str]:
        """Take these events out of every total, in one transaction, keeping each in the
        ledger's retractions with ``reason``; the same key is never recorded again (a
        re-sync or a resent batch drops it). Returns the keys retracted; a key that is
        unknown or already retracted is not among them."""
        if not reason.strip():
            raise InvalidUsage("reason", "must say why the events are retracted")
        with self._lock, self.store.write() as tx:
            return tx.retract_entries(list(dict.fromkeys(keys)), reason.strip(), _now_ms())

    def _collapse(
        self, events: Iterable[UsageEvent], outcome: BatchOutcome
    ) -> dict[str, UsageEvent]:
        collapsed: dict[str, UsageEvent] = {}
        for event in events:
            if event.machine is None:
                event = event.evolve(machine=self.machine)
            previous = collapsed.get(event.key)
            if previous is None:
                collapsed[event.key] = event
            else:
                collapsed[event.key] = merge_events(previous, event)
                outcome.duplicates += 1
        return collapsed

    def _cost_after_merge(self, old: Entry, merged: UsageEvent) -> Cost:
        # attribution-only changes keep the stored cost; anything priced changes re-prices
        e = old.event
        if (e.tokens, e.model, e.provider, e.pricing_context, e.timestamp, e.web_searches) == (
            merged.tokens,
            merged.model,
            merged.provider,
            merged.pricing_context,
            merged.timestamp,
            merged.web_searches,
        ):
            return old.cost
        return self.pricer.price(merged)

    def reprice(self, *, dry_run: bool) -> list[RepriceChange]:
        """Recompute every stored cost with the current prices; write unless ``dry_run``.

        Returns per-model differences (only models whose cost or priced status changed).
        """
        summary: dict[str, list[int]] = {}
        for batch in self.store.iter_entries():
            changes: list[tuple[Entry, Entry]] = []
            for entry in batch:
                cost = self.pricer.price(entry.event)
                if cost == entry.cost:
                    continue
                changes.append((entry, Entry(entry.event, cost)))
                row = summary.setdefault(entry.event.model or NO_MODEL, [0, 0, 0, 0, 0])
                row[0] += 1
                row[1] += entry.cost.micro_usd or 0
                row[2] += cost.micro_usd or 0
                row[3] += int(entry.cost.micro_usd is None)
                row[4] += int(cost.micro_usd is None)
            if changes and not dry_run:
                self._write_costs([new.event.key for _, new in changes])
        return [RepriceChange(model, *values) for model, values in sorted(summary.items())]

    def _write_costs(self, keys: Sequence[str]) -> None:
        # re-read inside the transaction so a concurrent sync's merge is not undone
        with self.store.write() as tx:
            changes = []
            for entry in tx.get_entries(keys).values():
                cost = self.pricer.price(entry.event)
                if cost != entry.cost:
                    changes.append((entry, Entry(entry.event, cost)))
            tx.replace_entries(changes)


def _fold_channels(
    tx: WriteTransaction, incoming: dict[str, UsageEvent], outcome: BatchOutcome
) -> None:
    """Give every copy of a request the key the ledger already knows it by, in place.

    A request can arrive twice, from its log file and through OpenTelemetry, under two keys
    (see :mod:`tokentrail.correlate`). A copy whose key the alias index maps to another
    request takes that request's key; a log copy whose alias is already recorded as a request
    of its own (the OTLP copy came first) takes the alias as its key, and its own key becomes
    an alias. The record loop then combines the copies into one row.
    """
    targets = tx.alias_targets(list(incoming))
    for alias, key in targets.items():
        if alias != key and alias in incoming:
            _move(incoming, alias, key, outcome)
    owners: dict[str, str] = {}
    for key, event in incoming.items():
        for alias in correlate.aliases_of(event):
            owners.setdefault(alias, key)
    if not owners:
        return
    for alias, key in owners.items():
        if alias in incoming and key in incoming:  # both copies in this batch
            _move(incoming, alias, key, outcome)
    recorded = tx.get_entries([alias for alias in owners if alias not in incoming])
    renamed: list[tuple[str, str]] = []
    for alias in recorded:
        key = owners[alias]
        if key in incoming:
            _move(incoming, key, alias, outcome)
            renamed.append((key, alias))
    final = dict(renamed)
    horizon = int(time.time() * 1000) - correlate.ALIAS_HORIZON_MS
    pairs: list[tuple[str, str]] = []
    for alias, key in owners.items():
        target = final.get(key, key)
        copy = incoming.get(target)
        if alias in recorded or alias == target or copy is None:
            continue
        if copy.timestamp_ms >= horizon:
            pairs.append((alias, target))
    tx.put_aliases([*pairs, *renamed])


def _drop_retracted(
    tx: WriteTransaction, incoming: dict[str, UsageEvent], outcome: BatchOutcome
) -> None:
    """Drop, as duplicates, the copies of retracted events: under their own key or, for a
    request read from a log file and received through OpenTelemetry too, under its alias."""
    if not incoming or not tx.has_retractions():
        return  # the usual case: no key or alias of the batch is looked at
    names = {key: [key, *correlate.aliases_of(event)] for key, event in incoming.items()}
    retracted = tx.retracted_keys([name for group in names.values() for name in group])
    if not retracted:
        return
    for key, group in names.items():
        if any(name in retracted for name in group):
            del incoming[key]
            outcome.duplicates += 1


def _now_ms() -> int:
    return int(time.time() * 1000)


def _move(
    incoming: dict[str, UsageEvent], old_key: str, new_key: str, outcome: BatchOutcome
) -> None:
    """Re-key ``incoming[old_key]`` to ``new_key``, combining with a copy already there."""
    event = incoming.pop(old_key)
    present = incoming.get(new_key)
    if present is None:
        incoming[new_key] = event.evolve(key=new_key)
        return
    incoming[new_key] = correlate.combine(present, event, new_key)
    outcome.duplicates += 1


TITLE_MAX = 200
"""A session title is a label (the agent's own one-line summary), never the conversation: longer
text is cut, so no prompt or response can end up stored through it."""


def _put_tool_calls(
    tx: WriteTransaction, items: Sequence[ToolCall | ToolResult], machine: str
) -> None:
    """Tool calls and results read from log files, stamped with this machine. A result whose
    call is in the same batch (the usual case) is folded into the call's row: half the rows to
    write, which is most of what reading tool calls costs a sync."""
    calls: dict[str, ToolCall] = {}
    results: list[ToolResult] = []
    for item in items:
        if isinstance(item, ToolCall):
            calls.setdefault(item.key, item)  # a replay in the same batch: the first copy
        else:
            results.append(item)
    outcomes = {r.key: r for r in results if r.key in calls}
    tx.put_log_tool_calls(
        [_stamped(call, outcomes.get(key), machine) for key, call in calls.items()],
        [
            ToolResult(
                r.key, r.source, r.timestamp_ms, r.success, r.session_key, r.machine or machine
            )
            for r in results
            if r.key not in calls
        ],
    )


def _stamped(call: ToolCall, result: ToolResult | None, machine: str) -> ToolCall:
    """The call with this machine and, where its result came with it, its outcome (built
    directly: ``dataclasses.replace`` costs several times more, per call of every sync)."""
    success, duration_ms = call.success, call.duration_ms
    if result is not None:
        if success is None:
            success = result.success
        if duration_ms is None:
            duration_ms = tool_duration_ms(call.timestamp_ms, result.timestamp_ms)
    return ToolCall(
        call.key,
        call.source,
        call.tool_name,
        call.timestamp_ms,
        call.session_key,
        duration_ms,
        success,
        call.machine or machine,
        call.lines_added,
        call.lines_removed,
        call.model,
        call.from_log,
    )


def _sessions_first_seen(
    tx: WriteTransaction, inserts: Sequence[Entry], described: Mapping[str, Session]
) -> dict[str, Session]:
    """A session row for each session key that new requests name and the ledger has never
    seen described (e.g. usage posted before, or without, ``PUT /sessions``; OpenTelemetry from
    a machine whose logs we never read), so their usage shows in every session view. What
    is learned later fills the row in."""
    first: dict[str, UsageEvent] = {}
    for entry in inserts:
        event = entry.event
        key = event.session_key
        if key is None or key in described:
            continue
        if key not in first or event.timestamp < first[key].timestamp:
            first[key] = event
    if not first:
        return {}
    known = tx.get_sessions(list(first))
    return {
        key: Session(
            key=key,
            source=event.source,
            project=event.project,
            model=event.model,
            started_at=event.timestamp,
            run_id=event.run_id,
        )
        for key, event in first.items()
        if key not in known
    }


def _crashed_sessions(
    open_sessions: Sequence[tuple[Session, int | None]], run_stopped: datetime
) -> list[Session]:
    """The open sessions of a crashed run, closed: state ``crashed``, completed at their last
    request, else when they started, else when the run stopped."""
    closed = []
    for session, last_ms in open_sessions:
        ended = utc_from_ms(last_ms) if last_ms is not None else session.started_at or run_stopped
        if session.started_at is not None and ended < session.started_at:
            ended = session.started_at
        closed.append(replace(session, state="crashed", ended_at=ended))
    return closed


def _collapse_sessions(sessions: Iterable[Session]) -> dict[str, Session]:
    collapsed: dict[str, Session] = {}
    for session in sessions:
        if session.title is not None and len(session.title) > TITLE_MAX:
            session = replace(session, title=session.title[: TITLE_MAX - 1] + "…")
        previous = collapsed.get(session.key)
        collapsed[session.key] = newer_session(previous, session) if previous else session
    return collapsed


def _new_run_id() -> str:
    import uuid  # which imports platform: only a run started without an id pays for it

    return uuid.uuid4().hex
