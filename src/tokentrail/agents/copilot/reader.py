"""GitHub Copilot CLI: its session store (SQLite) and, where that holds no usage, the per-session
event logs.

Facts this parser relies on (GitHub's "Copilot CLI configuration directory" reference, and
what other usage tools learned from real stores and logs; Copilot CLI is not open source):

* Everything lives in the Copilot home: ``$COPILOT_HOME`` (or ``--config-dir``) when set,
  else ``~/.copilot`` on Linux, macOS and Windows (``%USERPROFILE%\\.copilot``). Versions up to
  0.0.421 honoured ``$XDG_CONFIG_HOME/.copilot``.
* ``session-store.db`` (SQLite, WAL mode: recent rows sit in ``session-store.db-wal``) has
  ``assistant_usage_events``: one row per model call, with an autoincrement ``id``,
  ``session_id``, ``model`` (the model that ran), ``copilot_usage_model`` (a billing model,
  usually NULL), ``input_tokens`` (INCLUDES ``cache_read_tokens`` and ``cache_write_tokens``),
  ``output_tokens`` (includes ``reasoning_tokens``), ``total_nano_aiu`` (this call's charge;
  10^9 nano-AIU = 1 AI credit = $0.01, so 10^11 = $1 under usage-based billing), ``agent_id``
  and ``parent_tool_call_id`` for a subagent's calls, and ``created_at``. The rows of a session
  add up to its shutdown totals, nano-AIU included: each row is its own charge.
* ``session-state/<session id>/events.jsonl`` is an append-only event log
  (``{type, data, id, timestamp, parentId}``). Per-call usage there is ephemeral (not
  written); ``session.shutdown`` carries ``modelMetrics`` per model (``requests``, ``usage
  {inputTokens, outputTokens, cacheReadTokens, cacheWriteTokens, reasoningTokens}``,
  ``totalNanoAiu``). A resumed session writes one shutdown per process. Older builds wrote
  each process's own figures (they add up); builds that write ``eventsFileSizeBytes`` restore
  the previous totals on resume, so each shutdown is cumulative and the process's share is
  the difference from the shutdown before it (the first cumulative shutdown after an older
  one includes just that one).
* A session whose calls are in the store is counted from the store; its shutdowns would
  count the same calls again. A shutdown is only read for a stretch of a session the store
  has no rows for (older versions, or a store that was deleted).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

import orjson

from tokentrail.agents.copilot import AGENT
from tokentrail.errors import BadRecord
from tokentrail.sources.counts import cache_inside_input
from tokentrail.sources.discovery import find_files
from tokentrail.sources.files import FileKind, ParseResult, ParseState, SourceFile
from tokentrail.sources.jsonl import RememberedText, invalid_or_object
from tokentrail.sources.lines import Line, iter_complete_lines
from tokentrail.sources.sqlite import (
    RowCursor,
    SchemaError,
    open_sqlite_read_only,
    optional_columns,
    read_database,
    rows_for_ids,
    table_columns,
)
from tokentrail.sources.values import count_or_none, parse_timestamp, reported_cost, text_or_none
from tokentrail.usage import Session, Skip, UsageEvent

SOURCE = AGENT.name
STORE_NAME = "session-store.db"
EVENTS_NAME = "events.jsonl"
EVENT_LOGS = f"session-state/*/{EVENTS_NAME}"
NANO_AIU_PER_USD = 10**11
BUSY_TIMEOUT_SECONDS = 2.0
"""How long to wait for Copilot holding its store before reporting it busy (and retrying
at the next sync); a read-only reader never blocks Copilot's own writes in WAL mode."""

# Only these lines of an event log carry session facts or usage; the rest is conversation.
EVENTS_PREFILTER: tuple[bytes, ...] = (
    b'"session.start"',
    b'"session.resume"',
    b'"session.shutdown"',
)


class _UsageRow(NamedTuple):
    """The columns of ``assistant_usage_events`` this parser reads, in query order."""

    id: object
    session_id: object
    input_tokens: object
    output_tokens: object
    model: object
    copilot_usage_model: object
    cache_read_tokens: object
    cache_write_tokens: object
    reasoning_tokens: object
    total_nano_aiu: object
    agent_id: object
    created_at: object


_USAGE_REQUIRED = frozenset(_UsageRow._fields[:4])
"""Without these a row is not usage; the others may be missing in older stores (NULL)."""


class CopilotSource:
    """GitHub Copilot CLI: ``session-store.db`` and ``session-state/*/events.jsonl``."""

    name: ClassVar[str] = SOURCE
    parser_version: ClassVar[int] = 1
    env_var: ClassVar[str] = AGENT.override

    def default_roots(self, env: Mapping[str, str], home: Path) -> list[Path]:
        roots: list[Path] = []
        copilot_home = env.get("COPILOT_HOME")
        if copilot_home:
            roots.append(Path(copilot_home).expanduser())
        config_home = env.get("XDG_CONFIG_HOME")
        if config_home:
            roots.append(Path(config_home).expanduser() / ".copilot")
        roots.append(home / ".copilot")
        return list(dict.fromkeys(roots))

    def discover(self, roots: Sequence[Path]) -> Iterator[SourceFile]:
        """The store and the event logs of a Copilot home (or a store named directly)."""
        files: dict[str, FileKind] = {STORE_NAME: "database", EVENT_LOGS: "append"}
        return find_files(self.name, roots, files, root_files={"*.db": "database"})

    def parse(self, file: SourceFile, state: ParseState) -> ParseResult:
        if file.kind == "database":
            return _parse_store(file.path, state)
        return _parse_events(file.path, state)


# --- Copilot's charge and keys -----------------------------------------------------------------


def _cost_usd(nano_aiu: object) -> float | None:
    """Copilot's own charge in dollars (10^11 nano-AIU = $1); None when not reported."""
    nano = reported_cost(nano_aiu)
    return None if nano is None else nano / NANO_AIU_PER_USD


def _session_key(session_id: str, agent_id: str | None = None) -> str:
    return f"{SOURCE}:{session_id}:agent:{agent_id}" if agent_id else f"{SOURCE}:{session_id}"


# --- the session store ------------------------------------------------------------------------


def _parse_store(path: str, state: ParseState) -> ParseResult:
    """Read the usage rows added since the last read (``id`` above the highest seen: a
    :class:`RowCursor`). On any failure the incoming state comes back unchanged, so the next
    sync tries again."""
    return read_database(
        path, state, BUSY_TIMEOUT_SECONDS, lambda connection: _read_store(connection, path, state)
    )


def _read_store(connection: sqlite3.Connection, path: str, state: ParseState) -> ParseResult:
    columns = table_columns(connection, ("assistant_usage_events", "sessions"))
    usage_columns = columns.get("assistant_usage_events", set())
    if not usage_columns >= _USAGE_REQUIRED:
        raise SchemaError(f"no assistant_usage_events({', '.join(sorted(_USAGE_REQUIRED))})")
    created = optional_columns(usage_columns, ("created_at",))
    cursor = RowCursor.resume(
        connection,
        f"SELECT session_id, {created} FROM assistant_usage_events WHERE id = ?",
        state.memory,
    )
    picked = optional_columns(usage_columns, _UsageRow._fields)
    rows = connection.execute(
        f"SELECT {picked} FROM assistant_usage_events WHERE id > ? ORDER BY id", (cursor.last_id,)
    )
    result = ParseResult()
    agents: dict[str, set[str]] = {}
    for row in map(_UsageRow._make, rows):
        cursor.advance(row.id, row.session_id, row.created_at)
        try:
            event = _row_event(row)
        except BadRecord as bad:
            result.skips.append(Skip(bad.reason, path, None, f"row {row.id}: {bad.detail}"))
            continue
        result.events.append(event)
        calls_of = agents.setdefault(str(row.session_id), set())
        if isinstance(row.agent_id, str) and row.agent_id:
            calls_of.add(row.agent_id)
    result.state = ParseState(offset=0, memory=cursor.to_memory())
    if "sessions" in columns and agents:
        result.sessions.extend(_store_sessions(connection, columns["sessions"], list(agents)))
    result.sessions.extend(_subagent_sessions(agents))
    return result


def _row_event(row: _UsageRow) -> UsageEvent:
    session_id = text_or_none(row.session_id)
    if session_id is None:
        raise BadRecord("missing_session_id", "usage row without a session")
    timestamp = parse_timestamp(row.created_at)
    if timestamp is None:
        raise BadRecord("invalid_timestamp", repr(row.created_at))
    counts = (
        row.input_tokens,
        row.output_tokens,
        row.cache_read_tokens,
        row.cache_write_tokens,
        row.reasoning_tokens,
    )
    raw = {
        name: value
        for name, value in row._asdict().items()
        if value is not None and (name.endswith("_tokens") or name == "total_nano_aiu")
    }
    return UsageEvent(
        key=f"{SOURCE}:{session_id}:{row.id}",
        source=SOURCE,
        timestamp=timestamp,
        tokens=cache_inside_input(*counts),
        # the model that ran is the one whose tokens these are; the billing model is a label
        model=text_or_none(row.model) or text_or_none(row.copilot_usage_model),
        session_key=_session_key(session_id, text_or_none(row.agent_id)),
        reported_cost_usd=_cost_usd(row.total_nano_aiu),
        raw_usage=orjson.dumps(raw),
        rank=f"0|{timestamp.isoformat()}|",
    )


def _store_sessions(
    connection: sqlite3.Connection, columns: set[str], ids: Sequence[str]
) -> Iterable[Session]:
    """The sessions of the rows just read: folder, summary, branch and times."""
    if "id" not in columns:
        return
    picked = optional_columns(columns, ("cwd", "summary", "branch", "created_at", "updated_at"))
    query = f"SELECT id, {picked} FROM sessions WHERE id IN ({{marks}})"
    for session_id, cwd, summary, branch, created, updated in rows_for_ids(connection, query, ids):
        if isinstance(session_id, str):
            yield Session(
                key=_session_key(session_id),
                source=SOURCE,
                project=text_or_none(cwd),
                title=text_or_none(summary),
                git_branch=text_or_none(branch),
                started_at=parse_timestamp(created),
                ended_at=parse_timestamp(updated),
            )


def _subagent_sessions(agents: Mapping[str, set[str]]) -> Iterator[Session]:
    """A child session per subagent run: its calls are billed to the session, shown apart."""
    for session_id, agent_ids in agents.items():
        for agent_id in sorted(agent_ids):
            yield Session(
                key=_session_key(session_id, agent_id),
                source=SOURCE,
                parent_key=_session_key(session_id),
                relationship="subagent",
            )


# --- the per-session event logs ---------------------------------------------------------------


@dataclass(slots=True)
class _LogState(RememberedText):
    """What an event log's reader remembers between reads (kept in ``state.memory``)."""

    session_id: str | None = None
    cwd: str | None = None
    branch: str | None = None
    started: str | None = None
    last_shutdown_at: str | None = None
    previous: dict[str, Any] = field(default_factory=dict)
    """The model metrics of the last shutdown, to take a cumulative one's difference."""
    _store_rows: list[str] | None = None
    """When the store's rows of this session were made (read once per parse, not kept)."""

    @classmethod
    def load(cls, memory: Mapping[str, Any]) -> _LogState:
        log = cls.from_memory(memory)
        previous = memory.get("previous")
        if isinstance(previous, dict):
            log.previous = previous
        return log

    def store_covers(self, events_path: str, since: datetime | None, until: datetime) -> bool:
        """Whether the session store next to this log holds calls of the session made between
        the previous shutdown and this one (then they are counted from the store)."""
        if self._store_rows is None:
            self._store_rows = _store_row_times(events_path, self.session_id or "")
        for text in self._store_rows:
            made = parse_timestamp(text)
            if made is not None and (since is None or made > since) and made <= until:
                return True
        return False


class _StoreUnreadable(Exception):
    """The session store exists but could not be read now (busy, corrupt)."""


def _parse_events(path: str, state: ParseState) -> ParseResult:
    """``session-state/<id>/events.jsonl``, read from ``state.offset`` on."""
    log = _LogState.load(state.memory)
    log.session_id = log.session_id or Path(path).parent.name
    result = ParseResult()
    # an unreadable file raises OSError: the sync reports it and keeps no cursor for it
    try:
        for item in iter_complete_lines(path, state, prefilter=EVENTS_PREFILTER):
            if isinstance(item, Line):
                _read_event(item, path, log, result)
            else:
                result.state = item.state
                result.pending_partial_line = item.pending_partial_line
    except _StoreUnreadable as error:
        # whether the store already counts this session cannot be told now: read it later
        return ParseResult(
            state=state, skips=[Skip("database_busy", path, None, str(error))], retry=True
        )
    result.state.memory = log.to_memory()
    result.sessions.append(
        Session(
            key=_session_key(log.session_id),
            source=SOURCE,
            project=log.cwd,
            git_branch=log.branch,
            started_at=parse_timestamp(log.started),
            ended_at=parse_timestamp(log.last_shutdown_at),
        )
    )
    return result


def _read_event(line: Line, path: str, log: _LogState, result: ParseResult) -> None:
    try:
        record = invalid_or_object(line.data)
    except BadRecord as bad:
        result.skips.append(Skip(bad.reason, path, line.number, bad.detail))
        return
    kind, data = record.get("type"), record.get("data")
    if not isinstance(data, dict):
        return
    if kind == "session.start":
        log.session_id = text_or_none(data.get("sessionId")) or log.session_id
        log.started = text_or_none(data.get("startTime")) or text_or_none(record.get("timestamp"))
    if kind in ("session.start", "session.resume"):
        context = data.get("context")
        if isinstance(context, dict):
            log.cwd = text_or_none(context.get("cwd")) or log.cwd
            log.branch = text_or_none(context.get("branch")) or log.branch
    elif kind == "session.shutdown":
        _read_shutdown(record, data, line, path, log, result)


def _read_shutdown(
    record: Mapping[str, Any],
    data: Mapping[str, Any],
    line: Line,
    path: str,
    log: _LogState,
    result: ParseResult,
) -> None:
    """One process's usage per model: the shutdown's own figures, or for a cumulative
    shutdown its growth since the shutdown before it."""
    when = parse_timestamp(record.get("timestamp"))
    if when is None:
        detail = repr(record.get("timestamp"))
        result.skips.append(Skip("invalid_timestamp", path, line.number, detail))
        return
    metrics = data.get("modelMetrics")
    metrics = metrics if isinstance(metrics, dict) else {}
    cumulative = "eventsFileSizeBytes" in data and bool(log.previous)
    since = parse_timestamp(log.last_shutdown_at)
    covered = log.store_covers(path, since, when)
    shutdown_id = text_or_none(record.get("id")) or f"line{line.number}"
    for model, figures in metrics.items():
        if not isinstance(figures, dict):
            continue
        own = _growth(figures, log.previous.get(model)) if cumulative else figures
        if covered:
            result.duplicates += 1  # the store's rows of this stretch are these calls
            continue
        try:
            event = _shutdown_event(log, shutdown_id, model, own, when)
        except BadRecord as bad:
            result.skips.append(Skip(bad.reason, path, line.number, f"{model}: {bad.detail}"))
            continue
        if event is not None:
            result.events.append(event)
    log.previous = metrics
    log.last_shutdown_at = when.isoformat()


_METRIC_PATHS: tuple[tuple[str, ...], ...] = (
    ("usage", "inputTokens"),
    ("usage", "outputTokens"),
    ("usage", "cacheReadTokens"),
    ("usage", "cacheWriteTokens"),
    ("usage", "reasoningTokens"),
    ("requests", "count"),
    ("totalNanoAiu",),
)


def _figure(figures: object, keys: tuple[str, ...]) -> object:
    value = figures
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _growth(current: Mapping[str, Any], previous: object) -> dict[str, Any]:
    """A cumulative shutdown's figures minus the previous shutdown's, per figure.

    A figure that went down means the running totals started again (a session rebuilt
    without its history): then the new figures are all this process's own, never negative."""
    pairs = {keys: (_number(current, keys), _number(previous, keys)) for keys in _METRIC_PATHS}
    if any(now is not None and old is not None and now < old for now, old in pairs.values()):
        return dict(current)
    grown: dict[str, Any] = {}
    for keys, (now, old) in pairs.items():
        target = grown
        for key in keys[:-1]:
            target = target.setdefault(key, {})
        target[keys[-1]] = (
            now - old if now is not None and old is not None else _figure(current, keys)
        )
    return grown


def _number(figures: object, keys: tuple[str, ...]) -> int | float | None:
    value = _figure(figures, keys)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value


def _shutdown_event(
    log: _LogState, shutdown_id: str, model: str, figures: Mapping[str, Any], when: datetime
) -> UsageEvent | None:
    usage = figures.get("usage")
    usage = usage if isinstance(usage, dict) else {}
    tokens = cache_inside_input(
        usage.get("inputTokens"),
        usage.get("outputTokens"),
        usage.get("cacheReadTokens"),
        usage.get("cacheWriteTokens"),
        usage.get("reasoningTokens"),
    )
    requests = count_or_none(_figure(figures, ("requests", "count")), "requests.count")
    if tokens.total == 0 and not requests:
        return None  # the model was not used in this process
    assert log.session_id is not None
    return UsageEvent(
        key=f"{SOURCE}:{log.session_id}:shutdown:{shutdown_id}:{model}",
        source=SOURCE,
        timestamp=when,
        tokens=tokens,
        model=model,
        session_key=_session_key(log.session_id),
        project=log.cwd,
        git_branch=log.branch,
        reported_cost_usd=_cost_usd(figures.get("totalNanoAiu")),
        raw_usage=orjson.dumps(dict(figures)),
        rank=f"0|{when.isoformat()}|",
    )


def _store_row_times(events_path: str, session_id: str) -> list[str]:
    """When the store's usage rows of a session were made; none when there is no store."""
    store = Path(events_path).parent.parent.parent / STORE_NAME
    if not store.is_file():
        return []
    try:
        connection = open_sqlite_read_only(str(store), BUSY_TIMEOUT_SECONDS)
    except (OSError, sqlite3.Error) as error:  # the store itself is reported on its own
        raise _StoreUnreadable(f"{store}: {error}") from error
    try:
        if "created_at" not in table_columns(connection, ("assistant_usage_events",)).get(
            "assistant_usage_events", set()
        ):
            return []
        rows = connection.execute(
            "SELECT created_at FROM assistant_usage_events WHERE session_id = ?", (session_id,)
        )
        return [text for (text,) in rows if isinstance(text, str)]
    except sqlite3.Error as error:
        raise _StoreUnreadable(f"{store}: {error}") from error
    finally:
        connection.close()
