"""Row encoding of both stores: the columns of each table as the stores read and write them,
and the conversions between those rows and the model's objects."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

import orjson

from tokentrail.store.base import Cursor, Entry, PushWatermark
from tokentrail.usage import Cost, Run, Session, Tokens, UsageEvent, utc_from_ms

if TYPE_CHECKING:
    from tokentrail.store.dialect import Dialect, Rows

T = TypeVar("T")

SESSION_COLUMNS = (
    "session_key, source, parent_key, relationship, project, title, "
    "started_ms, ended_ms, model, git_branch, run_id, issue_id, identifier, state, turns"
)
SESSION_COLUMN_LIST = [c.strip() for c in SESSION_COLUMNS.split(",")]
RUN_COLUMNS = (
    "run_id, app, started_ms, stopped_ms, state, reason, peak_concurrency, sessions_launched, "
    "machine"
)
RUN_COLUMN_LIST = [c.strip() for c in RUN_COLUMNS.split(",")]
WATERMARK_COLUMNS = (
    "machine, ledger_id, event_id, event_change, session_change, run_change, user_name, "
    "pushed_ms, tool_call_change, tool_result_change, rate_limit_change"
)
OPEN_SESSION = "state = 'running' OR (state IS NULL AND ended_ms IS NULL)"
"""A session not yet ended: what a crashed run leaves behind (see Ledger.start_run)."""

NUL = "\x00"
NUL_STAND_IN = "\ufffd"


def prefixed(columns: Sequence[str], alias: str) -> str:
    return ", ".join(f"{alias}.{c}" for c in columns)


def no_nul(value: str) -> str:
    """PostgreSQL text cannot hold NUL characters (SQLite's can): each becomes U+FFFD. The
    same text always becomes the same text, so a key with a NUL still names one request."""
    return value.replace(NUL, NUL_STAND_IN) if NUL in value else value


def by_asked_key(
    asked: Sequence[str], found: dict[str, T], rekey: Callable[[T, str], T]
) -> dict[str, T]:
    """``found`` (keyed as stored) keyed by the keys asked for: where text cannot hold NUL, a
    key with a NUL character is stored with U+FFFD in its place (see :func:`no_nul`), and
    answers under the asked key."""
    if not any(NUL in key for key in asked):
        return found
    out: dict[str, T] = {}
    for key in asked:
        hit = found.get(no_nul(key))
        if hit is not None:
            out[key] = hit if no_nul(key) == key else rekey(hit, key)
    return out


def select_by_key(
    d: Dialect,
    rows: Rows,
    select: str,
    column: str,
    keys: Sequence[str],
    from_row: Callable[[tuple[Any, ...]], T],
    rekey: Callable[[T, str], T],
) -> dict[str, T]:
    """What ``select`` finds whose ``column`` (its first) is one of ``keys``, each under the key
    asked for (:func:`by_asked_key`)."""
    found = {row[0]: from_row(row) for row in d.select_in(rows, select, column, keys)}
    return found if d.text_keeps_nul else by_asked_key(keys, found, rekey)


def entry_to_row(entry: Entry) -> tuple[Any, ...]:
    """The columns of :data:`~tokentrail.store.dialect.EVENT_COLUMNS` (no user)."""
    e, cost = entry.event, entry.cost
    t = e.tokens
    return (
        e.key,
        e.source,
        e.machine or "",
        e.run_id,
        e.session_key,
        e.timestamp_ms,
        e.model,
        e.provider,
        t.input,
        t.cache_read,
        t.cache_write_5m,
        t.cache_write_1h,
        t.output,
        t.reasoning,
        cost.status,
        cost.micro_usd,
        cost.version,
        e.reported_cost_usd,
        orjson.dumps(e.pricing_context).decode() if e.pricing_context else None,
        e.project,
        e.git_branch,
        e.rank,
        e.raw_usage,
        cost.cache_saving_micro,
        e.web_searches,
    )


_EVENT_WIDTH = 25


def entry_from_row(row: Sequence[Any]) -> Entry:
    """An entry from the columns of ``Dialect.event_columns``: a team ledger's rows end with
    the user."""
    (
        key,
        source,
        machine,
        run_id,
        session_key,
        ts_ms,
        model,
        provider,
        t_in,
        t_cr,
        t_cw5,
        t_cw1,
        t_out,
        t_reason,
        status,
        micro,
        version,
        reported,
        context,
        project,
        branch,
        rank,
        raw,
        saving,
        web_searches,
    ) = row[:_EVENT_WIDTH]
    event = UsageEvent(
        key=key,
        source=source,
        timestamp=utc_from_ms(ts_ms),
        tokens=Tokens(t_in, t_cr, t_cw5, t_cw1, t_out, t_reason),
        model=model,
        provider=provider,
        session_key=session_key,
        project=project,
        git_branch=branch,
        reported_cost_usd=reported,
        pricing_context=tuple(tuple(pair) for pair in orjson.loads(context)) if context else (),
        raw_usage=raw,
        rank=rank,
        run_id=run_id,
        machine=machine or None,
        web_searches=web_searches,
    )
    cost = Cost(status=status, micro_usd=micro, version=version, cache_saving_micro=saving)
    user = row[_EVENT_WIDTH] if len(row) > _EVENT_WIDTH else None
    return Entry(event=event, cost=cost, user=user) if user is not None else Entry(event, cost)


def session_to_row(s: Session) -> tuple[Any, ...]:
    return (
        s.key,
        s.source,
        s.parent_key,
        s.relationship,
        s.project,
        s.title,
        ms(s.started_at) if s.started_at else None,
        ms(s.ended_at) if s.ended_at else None,
        s.model,
        s.git_branch,
        s.run_id,
        s.issue_id,
        s.identifier,
        s.state,
        s.turns,
    )


def session_from_row(row: Sequence[Any]) -> Session:
    (
        key,
        source,
        parent,
        relationship,
        project,
        title,
        started,
        ended,
        model,
        branch,
        run_id,
        issue_id,
        identifier,
        state,
        turns,
    ) = row
    return Session(
        key=key,
        source=source,
        parent_key=parent,
        relationship=relationship,
        project=project,
        title=title,
        started_at=utc_from_ms(started) if started is not None else None,
        ended_at=utc_from_ms(ended) if ended is not None else None,
        model=model,
        git_branch=branch,
        run_id=run_id,
        issue_id=issue_id,
        identifier=identifier,
        state=state,
        turns=turns,
    )


def run_to_row(run: Run) -> tuple[Any, ...]:
    return (
        run.run_id,
        run.app,
        ms(run.started_at),
        ms(run.stopped_at) if run.stopped_at else None,
        run.state,
        run.reason,
        run.peak_concurrency,
        run.sessions_launched,
        run.machine or "",
    )


def run_from_row(row: Sequence[Any]) -> Run:
    run_id, app, started, stopped, state, reason, peak, launched, machine = row
    return Run(
        run_id=run_id,
        app=app,
        started_at=utc_from_ms(started),
        stopped_at=utc_from_ms(stopped) if stopped is not None else None,
        state=state,
        reason=reason,
        peak_concurrency=peak,
        sessions_launched=launched,
        machine=machine or None,
    )


def ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


def cursor_to_row(c: Cursor) -> tuple[Any, ...]:
    return (
        c.path,
        c.source,
        c.device,
        c.inode,
        c.size,
        c.mtime_ns,
        c.offset,
        c.line_no,
        c.parser_version,
        c.head_hash,
        orjson.dumps(c.memory),
    )


def cursor_from_row(row: Sequence[Any]) -> Cursor:
    path, source, device, inode, size, mtime_ns, offset, line_no, version, head, memory = row
    return Cursor(
        path=path,
        source=source,
        device=device,
        inode=inode,
        size=size,
        mtime_ns=mtime_ns,
        offset=offset,
        line_no=line_no,
        parser_version=version,
        head_hash=head,
        memory=orjson.loads(memory) if memory else {},
    )


def watermark_to_row(mark: PushWatermark) -> tuple[Any, ...]:
    return (
        mark.machine,
        mark.ledger_id,
        mark.event_id,
        mark.event_change,
        mark.session_change,
        mark.run_change,
        mark.user,
        mark.pushed_ms,
        mark.tool_call_change,
        mark.tool_result_change,
        mark.rate_limit_change,
    )


def watermark_from_row(row: Sequence[Any]) -> PushWatermark:
    return PushWatermark(*row)
