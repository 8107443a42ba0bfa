"""Push: copy a local ledger into a team ledger, incrementally, idempotently, resumably.

A push reads the local ledger in four streams and writes each batch into the team ledger in
one transaction together with the watermark that says how far it got:

* new requests, by their local id;
* requests changed after they were recorded (a streamed reply that grew, a reprice), by their
  change sequence;
* sessions, runs, tool calls (read from logs or reported through OpenTelemetry), tool
  results and rate-limit snapshots, by the change sequence every write gives them.

The watermark is kept in the team ledger per machine and local ledger (a random id the local
ledger gets on its first push, so a ledger deleted and started again is pushed from its
start). It only advances in the transaction that wrote the batch it covers: a push killed at
any moment leaves the team ledger as it was before that batch, and the next push resumes
there. Requests keep their keys and are merged exactly as the ledger merges repeated records
(:func:`tokentrail.usage.merge_events`), so pushing the same data twice — ``--full``, two
pushes at once, a resumed push — changes nothing. Every request keeps the machine it was
recorded on; ``user`` attributes what this push writes to a person.

Tool calls, results and rate-limit snapshots are written with the same statements a sync
uses, so the team ledger keeps them exactly as a ledger does: a call or result read from a log
keeps its first row, a call OpenTelemetry sent again replaces its row, a snapshot already
there is kept. A row without a machine (an OpenTelemetry export that named no host) is
attributed to the machine pushing it, as a request is when it is recorded. What an
OpenTelemetry receiver keeps only to reconcile against log files (receipts, metric samples,
the alias index) stays local: see docs/team.md.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from tokentrail.errors import ConfigError
from tokentrail.ledger import Ledger
from tokentrail.pricing import Pricer
from tokentrail.ratelimits import RateLimitSnapshot
from tokentrail.store.base import (
    Entry,
    PushWatermark,
    Store,
)
from tokentrail.store.transaction import WriteTransaction
from tokentrail.usage import Run, Session, ToolCall, ToolResult, merge_events, merge_sessions

BATCH = 10_000
"""Requests per team transaction: large enough for COPY to pay off, small enough that a
killed push loses little work."""

POSTGRES_SCHEMES = ("postgresql://", "postgres://")

T = TypeVar("T")


@dataclass(slots=True)
class PushSummary:
    """What one push did."""

    target: str
    machine: str
    user: str | None
    full: bool
    read: int = 0
    """Requests read from the local ledger (new and changed)."""
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    """New local requests the team ledger already held as they are (pushed before, e.g. by a
    ledger started over, or a --full push)."""
    sessions: int = 0
    runs: int = 0
    tool_calls: int = 0
    """Tool calls sent (a call the team ledger already had is sent and kept as it was)."""
    tool_results: int = 0
    rate_limits: int = 0
    batches: int = 0
    elapsed_s: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "machine": self.machine,
            "user": self.user,
            "full": self.full,
            "requests_read": self.read,
            "requests_created": self.created,
            "requests_updated": self.updated,
            "requests_unchanged": self.unchanged,
            "sessions_written": self.sessions,
            "runs_written": self.runs,
            "tool_calls_sent": self.tool_calls,
            "tool_results_sent": self.tool_results,
            "rate_limits_sent": self.rate_limits,
            "batches": self.batches,
            "elapsed_s": round(self.elapsed_s, 3),
        }


def check_target(url: str, local_location: str) -> None:
    """A push goes to a PostgreSQL team ledger other than the local one."""
    if not url.startswith(POSTGRES_SCHEMES):
        raise ConfigError(
            "--to must be a PostgreSQL URL such as postgresql://pusher@db.example.com/tokentrail "
            "(a team ledger); see docs/team.md"
        )
    if url == local_location:
        raise ConfigError("--to is the ledger being pushed (-d/--database); choose the team one")


def push(
    ledger: Ledger,
    team: Store,
    *,
    user: str | None = None,
    full: bool = False,
    batch_size: int = BATCH,
    progress: Callable[[PushSummary], None] | None = None,
) -> PushSummary:
    """Copy what ``ledger`` recorded since its last push into ``team``; everything if ``full``.

    ``progress`` is called after every committed batch.
    """
    started = time.perf_counter()
    with ledger.reading() as local:
        ledger_id = local.ledger_id()
    summary = PushSummary(team.location, ledger.machine, user, full)
    stored = team.push_watermark(ledger.machine, ledger_id)
    # --full reads from the start; the stored watermark never moves back (the store keeps
    # the larger value), so a full push running next to an incremental one is harmless
    mark = PushWatermark(ledger.machine, ledger_id) if full else stored
    mark = replace(mark, user=user)
    copier = _Copier(ledger, team, summary, progress)
    mark = copier.stream(
        mark,
        "event_id",
        lambda store, after: store.entries_after(after, batch_size),
        lambda tx, entries: _write_entries(tx, entries, user, ledger.pricer, summary),
    )
    mark = copier.stream(
        mark,
        "event_change",
        lambda store, after: store.entries_changed_after(after, batch_size),
        # a request changed locally is read again here even when the pass above just sent
        # its latest state (always so on a first push): that is no request "already there"
        lambda tx, entries: _write_entries(
            tx, entries, user, ledger.pricer, summary, count_unchanged=False
        ),
    )
    mark = copier.stream(
        mark,
        "session_change",
        lambda store, after: store.sessions_changed_after(after, batch_size),
        lambda tx, sessions: _write_sessions(tx, sessions, summary),
    )
    mark = copier.stream(
        mark,
        "run_change",
        lambda store, after: store.runs_changed_after(after, batch_size),
        lambda tx, runs: _write_runs(tx, runs, summary),
    )
    machine = ledger.machine
    mark = copier.stream(
        mark,
        "tool_call_change",
        lambda store, after: store.tool_calls_changed_after(after, batch_size),
        lambda tx, calls: _write_tool_calls(tx, calls, machine, summary),
    )
    mark = copier.stream(
        mark,
        "tool_result_change",
        lambda store, after: store.tool_results_changed_after(after, batch_size),
        lambda tx, results: _write_tool_results(tx, results, machine, summary),
    )
    copier.stream(
        mark,
        "rate_limit_change",
        lambda store, after: store.rate_limits_changed_after(after, batch_size),
        lambda tx, snapshots: _write_rate_limits(tx, snapshots, machine, summary),
    )
    summary.elapsed_s = time.perf_counter() - started
    return summary


@dataclass(slots=True)
class _Copier:
    ledger: Ledger
    team: Store
    summary: PushSummary
    progress: Callable[[PushSummary], None] | None

    def stream(
        self,
        mark: PushWatermark,
        field: str,
        fetch: Callable[[Store, int], list[tuple[int, T]]],
        write: Callable[[WriteTransaction, list[T]], None],
    ) -> PushWatermark:
        """Copy one stream batch by batch, each batch committed with its watermark. The next
        batch is read from the local ledger while the team ledger writes this one."""

        def read(after: int) -> list[tuple[int, T]]:
            with self.ledger.reading() as local:
                return fetch(local, after)

        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="push-read") as reader:
            pending = reader.submit(read, getattr(mark, field))
            while True:
                batch = pending.result()
                if not batch:
                    return mark
                pending = reader.submit(read, batch[-1][0])
                changes: dict[str, Any] = {
                    field: batch[-1][0],
                    "pushed_ms": int(time.time() * 1000),
                }
                mark = replace(mark, **changes)
                with self.team.write() as tx:
                    write(tx, [item for _, item in batch])
                    tx.put_push_watermark(mark)
                self.summary.batches += 1
                if self.progress is not None:
                    self.progress(self.summary)


def _write_entries(
    tx: WriteTransaction,
    entries: Sequence[Entry],
    user: str | None,
    pricer: Pricer,
    summary: PushSummary,
    *,
    count_unchanged: bool = True,
) -> None:
    """Record local entries in the team ledger with the ledger's merge rule; an entry the
    team ledger already holds as it is counts as unchanged if ``count_unchanged``."""
    incoming = {e.event.key: Entry(e.event, e.cost, user or e.user) for e in entries}
    summary.read += len(incoming)
    for key in tx.retracted_keys(list(incoming)):  # retracted on the team ledger: stays out
        del incoming[key]
        summary.unchanged += 1
    existing = tx.get_entries(list(incoming))
    inserts: list[Entry] = []
    changes: list[tuple[Entry, Entry]] = []
    for key, new in incoming.items():
        old = existing.get(key)
        if old is None:
            inserts.append(new)
            continue
        merged = merge_events(old.event, new.event)
        if merged == new.event:
            cost = new.cost  # the local ledger's cost is the latest (e.g. after a reprice)
        elif merged == old.event:
            cost = old.cost
        else:  # two machines saw parts of one request: price the combination
            cost = pricer.price(merged)
        owner_is_new = merged.machine == new.event.machine
        who = (new.user or old.user) if owner_is_new else (old.user or new.user)
        result = Entry(merged, cost, who)
        if result == old:
            summary.unchanged += count_unchanged
            continue
        changes.append((old, result))
    tx.insert_entries(inserts)
    tx.replace_entries(changes)
    summary.created += len(inserts)
    summary.updated += len(changes)


def _write_sessions(
    tx: WriteTransaction, sessions: Sequence[Session], summary: PushSummary
) -> None:
    """The local view of a session wins where it knows a field; the team's fills gaps."""
    known = tx.get_sessions([s.key for s in sessions])
    changed = []
    for session in sessions:
        old = known.get(session.key)
        merged = merge_sessions(session, old) if old is not None else session
        if merged != old:
            changed.append(merged)
    tx.put_sessions(changed)
    summary.sessions += len(changed)


def _write_runs(tx: WriteTransaction, runs: Sequence[Run], summary: PushSummary) -> None:
    """A run is recorded by one machine: its local record is the truth."""
    known = tx.get_runs([r.run_id for r in runs])
    changed = [run for run in runs if known.get(run.run_id) != run]
    tx.put_runs(changed)
    summary.runs += len(changed)


def _write_tool_calls(
    tx: WriteTransaction, calls: Sequence[ToolCall], machine: str, summary: PushSummary
) -> None:
    """Calls go through the statement that first wrote them: read from a log, the first row
    of a call is kept; reported through OpenTelemetry, the latest replaces it."""
    owned = [c if c.machine else replace(c, machine=machine) for c in calls]
    tx.put_log_tool_calls([c for c in owned if c.from_log], [])
    tx.put_tool_calls([c for c in owned if not c.from_log])
    summary.tool_calls += len(owned)


def _write_tool_results(
    tx: WriteTransaction, results: Sequence[ToolResult], machine: str, summary: PushSummary
) -> None:
    """A result is joined to its call when read, so one pushed before or after its call (or
    its call's machine) ends up joined all the same."""
    owned = [r if r.machine else replace(r, machine=machine) for r in results]
    tx.put_log_tool_calls([], owned)
    summary.tool_results += len(owned)


def _write_rate_limits(
    tx: WriteTransaction,
    snapshots: Sequence[RateLimitSnapshot],
    machine: str,
    summary: PushSummary,
) -> None:
    tx.put_rate_limits([s.with_machine(machine) for s in snapshots])
    summary.rate_limits += len(snapshots)
