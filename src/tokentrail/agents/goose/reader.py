"""Goose (block/goose, now aaif-goose/goose): its session database ``sessions.db``.

Facts this parser relies on (goose's ``crates/goose/src/config/paths.rs``,
``session/session_manager.rs``, ``session/migrations.rs``, pull requests #9752 and #10172, and
the Goose docs' "session records"):

* The data dir is ``$GOOSE_PATH_ROOT/data`` when that is set (an absolute path), else the
  platform's: ``$XDG_DATA_HOME/goose`` or ``~/.local/share/goose`` on Linux and macOS (goose
  uses the XDG layout there; builds that used the Apple one wrote to ``~/Library/Application
  Support/Block/goose``), ``%APPDATA%\\Block\\goose\\data`` on Windows. The database is
  ``<data dir>/sessions/sessions.db`` (SQLite, WAL mode), since goose 1.10.
* ``sessions`` has a row per session: ``id`` (``YYYYMMDD_<n>``), ``working_dir``, ``name``,
  ``session_type``, ``created_at``/``updated_at`` (``YYYY-MM-DD HH:MM:SS``, UTC),
  ``provider_name``, ``model_config_json`` (``model_name``), and running totals
  ``accumulated_input_tokens``, ``accumulated_output_tokens``, ``accumulated_total_tokens``;
  schema 13 added ``accumulated_cost`` (goose's own estimate or the provider's figure), 14 the
  cache columns ``accumulated_cache_read_tokens`` and ``accumulated_cache_write_tokens``, 15
  ``parent_session_id`` for sub-agent sessions.
* Schema 15 added ``usage_ledger``, append-only, one row per provider call: ``id``,
  ``session_id``, ``created_timestamp`` (epoch seconds), ``model``, ``input_tokens``,
  ``output_tokens``, ``total_tokens``, ``cache_read_tokens``, ``cache_write_tokens``, ``cost``,
  ``cost_source`` (``provider_reported``, ``estimated``, …) and ``is_compaction``.
* Since #9752 goose's ``input_tokens`` INCLUDES the cache reads and writes (its Anthropic
  provider always added them in): uncached input = input − cache read − cache write. One
  peer reads it as uncached already, and counts the cached prompt twice.

What is counted: each ledger row once (key: session, row id and time); a session with no
ledger row (written before schema 15) as one request holding its running totals, marked as
totals and dated when the session started; re-reading the totals keeps the largest, so a
session that grows is never counted twice. Before schema 14 the totals have no cache split:
the input is recorded as goose wrote it (cache included, when there was any).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

import orjson

from tokentrail.agents.goose import AGENT
from tokentrail.errors import BadRecord
from tokentrail.sources.counts import cache_inside_input
from tokentrail.sources.discovery import find_files
from tokentrail.sources.files import FileKind, ParseResult, ParseState, SourceFile
from tokentrail.sources.jsonl import json_object
from tokentrail.sources.sqlite import (
    RowCursor,
    SchemaError,
    optional_columns,
    read_database,
    rows_for_ids,
    table_columns,
)
from tokentrail.sources.values import count_or_none, parse_timestamp, reported_cost, text_or_none
from tokentrail.usage import Session, Skip, Tokens, UsageEvent

SOURCE = AGENT.name
DB_NAME = "sessions.db"
ROOT_VARIABLE = "GOOSE_PATH_ROOT"
BUSY_TIMEOUT_SECONDS = 2.0
"""How long to wait for goose holding its database before reporting it busy (and retrying at
the next sync); a read-only reader never blocks goose's own writes in WAL mode."""


class _LedgerRow(NamedTuple):
    """The columns of ``usage_ledger`` this parser reads, in query order."""

    id: object
    session_id: object
    created_timestamp: object
    model: object
    input_tokens: object
    output_tokens: object
    cache_read_tokens: object
    cache_write_tokens: object
    cost: object
    cost_source: object
    is_compaction: object
    total_tokens: object


_LEDGER_REQUIRED = frozenset(("id", "session_id", "created_timestamp"))

_SESSION_COLUMNS: tuple[str, ...] = (
    "id",
    "working_dir",
    "name",
    "description",
    "session_type",
    "created_at",
    "updated_at",
    "provider_name",
    "model_config_json",
    "parent_session_id",
    "accumulated_input_tokens",
    "accumulated_output_tokens",
    "accumulated_total_tokens",
    "accumulated_cache_read_tokens",
    "accumulated_cache_write_tokens",
    "accumulated_cost",
)


class GooseSource:
    """goose's ``sessions.db``: the usage ledger, else each session's running totals."""

    name: ClassVar[str] = AGENT.name
    parser_version: ClassVar[int] = 1
    env_var: ClassVar[str] = AGENT.override

    def default_roots(self, env: Mapping[str, str], home: Path) -> list[Path]:
        root = env.get(ROOT_VARIABLE, "").strip()
        if root and Path(root).is_absolute():
            return [Path(root) / "data" / "sessions"]
        data_home = env.get("XDG_DATA_HOME", "").strip()
        roots = [(Path(data_home) if data_home else home / ".local" / "share") / "goose"]
        roots.append(home / "Library" / "Application Support" / "Block" / "goose")
        app_data = env.get("APPDATA", "").strip()
        roaming = Path(app_data) if app_data else home / "AppData" / "Roaming"
        roots.append(roaming / "Block" / "goose" / "data")
        return list(dict.fromkeys(path / "sessions" for path in roots))

    def discover(self, roots: Sequence[Path]) -> Iterator[SourceFile]:
        """The sessions database of each root (a database may be named directly)."""
        files: dict[str, FileKind] = {DB_NAME: "database"}
        return find_files(SOURCE, roots, files, root_files={"*.db": "database"})

    def parse(self, file: SourceFile, state: ParseState) -> ParseResult:
        # a FIFO put in the database's place raises NotRegularFile (which the sync reports)
        # before SQLite could block on it
        return read_database(
            file.path,
            state,
            BUSY_TIMEOUT_SECONDS,
            lambda connection: _read(connection, file.path, state),
        )


def _read(connection: sqlite3.Connection, path: str, state: ParseState) -> ParseResult:
    columns = table_columns(connection, ("sessions", "usage_ledger"))
    session_columns = columns.get("sessions", set())
    if "id" not in session_columns:
        raise SchemaError("no sessions(id) table")
    ledger_columns = columns.get("usage_ledger", set())
    has_ledger = ledger_columns >= _LEDGER_REQUIRED
    result = ParseResult()
    memory: dict[str, Any] = {}
    since = state.memory
    if has_ledger:
        cursor = RowCursor.resume(
            connection,
            "SELECT session_id, created_timestamp FROM usage_ledger WHERE id = ?",
            state.memory,
        )
        if cursor.last_id == 0 and state.memory.get("last_id"):
            since = {}  # another database now (rebuilt, replaced): its sessions are new too
        _read_ledger(connection, ledger_columns, path, cursor, result)
        memory.update(cursor.to_memory())
    memory["sessions_until"] = _read_totals(
        connection, session_columns, has_ledger, path, since, result
    )
    owners = sorted({e.session_key for e in result.events if e.session_key})
    found = {
        session.key: (session, provider)
        for session, provider in _sessions(connection, session_columns, owners)
    }
    result.sessions.extend(session for session, _ in found.values())
    result.events = [_with_session(event, found) for event in result.events]
    result.state = ParseState(offset=0, memory=memory)
    return result


def _with_session(
    event: UsageEvent, sessions: Mapping[str, tuple[Session, str | None]]
) -> UsageEvent:
    """A ledger row with its session's folder, provider and (when the row names none) model."""
    known = sessions.get(event.session_key or "")
    if known is None or event.project is not None:
        return event
    session, provider = known
    return event.evolve(
        project=session.project, provider=provider, model=event.model or session.model
    )


# --- the usage ledger -------------------------------------------------------------------------


def _read_ledger(
    connection: sqlite3.Connection,
    columns: set[str],
    path: str,
    cursor: RowCursor,
    result: ParseResult,
) -> None:
    """The ledger rows after the ``cursor`` (all of them for a ledger rebuilt from scratch:
    the ledger's merge keeps one of each row)."""
    picked = optional_columns(columns, _LedgerRow._fields)
    rows = connection.execute(
        f"SELECT {picked} FROM usage_ledger WHERE id > ? ORDER BY id", (cursor.last_id,)
    )
    for row in map(_LedgerRow._make, rows):
        cursor.advance(row.id, row.session_id, row.created_timestamp)
        try:
            result.events.append(_ledger_event(row))
        except BadRecord as bad:
            result.skips.append(
                Skip(bad.reason, path, None, f"usage_ledger row {row.id}: {bad.detail}")
            )


def _ledger_event(row: _LedgerRow) -> UsageEvent:
    session_id = text_or_none(row.session_id)
    if session_id is None:
        raise BadRecord("missing_session_id", "a usage row without a session")
    when = parse_timestamp(row.created_timestamp)
    if when is None:
        raise BadRecord("bad_timestamp", repr(row.created_timestamp)[:60])
    tokens = cache_inside_input(
        row.input_tokens, row.output_tokens, row.cache_read_tokens, row.cache_write_tokens
    )
    if tokens.is_empty:
        raise BadRecord("empty_usage", "no token counts")
    raw = {
        name: value
        for name, value in row._asdict().items()
        if value is not None and name not in ("id", "session_id")
    }
    return UsageEvent(
        key=f"{SOURCE}:{session_id}:{row.id}:{row.created_timestamp}",
        source=SOURCE,
        timestamp=when,
        tokens=tokens,
        model=text_or_none(row.model),
        session_key=f"{SOURCE}:{session_id}",
        reported_cost_usd=reported_cost(row.cost),
        raw_usage=orjson.dumps(raw),
        rank="0|",
    )


# --- sessions without ledger rows: their running totals ----------------------------------------


def _read_totals(
    connection: sqlite3.Connection,
    columns: set[str],
    has_ledger: bool,
    path: str,
    memory: Mapping[str, Any],
    result: ParseResult,
) -> str | None:
    """One request per session that has no ledger row, holding its running totals; only the
    sessions updated since the last read are looked at. Returns the new watermark."""
    if "accumulated_input_tokens" not in columns:
        return None  # no running totals in this schema (the last request's counts are not)
    since = memory.get("sessions_until")
    picked = optional_columns(columns, _SESSION_COLUMNS, prefix="s.")
    where = []
    arguments: list[object] = []
    if has_ledger:
        where.append("NOT EXISTS (SELECT 1 FROM usage_ledger u WHERE u.session_id = s.id)")
    if isinstance(since, str) and "updated_at" in columns:
        # the same second again: a session updated twice in it is read again, never missed
        where.append("s.updated_at >= ?")
        arguments.append(since)
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    until = since if isinstance(since, str) else None
    for values in connection.execute(f"SELECT {picked} FROM sessions s{clause}", arguments):
        row = dict(zip(_SESSION_COLUMNS, values, strict=True))
        updated = row.get("updated_at")
        if isinstance(updated, str) and (until is None or updated > until):
            until = updated
        try:
            event = _totals_event(row, columns)
        except BadRecord as bad:
            result.skips.append(Skip(bad.reason, path, None, f"session {row['id']}: {bad.detail}"))
            continue
        if event is not None:
            result.events.append(event)
    return until


def _totals_event(row: Mapping[str, Any], columns: set[str]) -> UsageEvent | None:
    """A session's running totals as one request (``input_tokens`` and ``output_tokens``
    without ``accumulated_`` are the last request's, the context size: not usage)."""
    session_id = text_or_none(row["id"])
    if session_id is None:
        raise BadRecord("missing_session_id", "a session without an id")
    split = "accumulated_cache_read_tokens" in columns
    if split:
        tokens = cache_inside_input(
            row["accumulated_input_tokens"],
            row["accumulated_output_tokens"],
            row["accumulated_cache_read_tokens"],
            row["accumulated_cache_write_tokens"],
        )
    else:
        # no cache split was written: the input as goose wrote it (cache included)
        tokens = Tokens(
            input=count_or_none(row["accumulated_input_tokens"], "accumulated_input_tokens"),
            output=count_or_none(row["accumulated_output_tokens"], "accumulated_output_tokens"),
        )
    if tokens.is_empty or tokens.total == 0:
        return None  # a session that made no request
    when = parse_timestamp(row["created_at"]) or parse_timestamp(row["updated_at"])
    if when is None:
        raise BadRecord("bad_timestamp", repr(row["created_at"])[:60])
    raw = {
        "derived_from": "sessions totals",
        "kind": "session totals: one request per session",
        "time": "when the session started",
        "cache_split": split,
        **{
            name: row[name]
            for name in _SESSION_COLUMNS
            if name.startswith("accumulated_") and row[name] is not None
        },
    }
    return UsageEvent(
        key=f"{SOURCE}:{session_id}:totals",
        source=SOURCE,
        timestamp=when,
        tokens=tokens,
        model=_model_name(row["model_config_json"]),
        provider=text_or_none(row["provider_name"]),
        session_key=f"{SOURCE}:{session_id}",
        project=text_or_none(row["working_dir"]),
        reported_cost_usd=reported_cost(row["accumulated_cost"]),
        raw_usage=orjson.dumps(raw),
        rank="0|",
    )


def _model_name(config: object) -> str | None:
    text = text_or_none(config)
    document = json_object(text)[0] if text is not None else None
    return text_or_none(document.get("model_name")) if document is not None else None


# --- sessions ---------------------------------------------------------------------------------


def _sessions(
    connection: sqlite3.Connection, columns: set[str], keys: Sequence[str]
) -> Iterator[tuple[Session, str | None]]:
    """The sessions the rows just read belong to: folder, name, times, parent, model."""
    picked = optional_columns(columns, _SESSION_COLUMNS)
    ids = [key.removeprefix(f"{SOURCE}:") for key in keys]
    query = f"SELECT {picked} FROM sessions WHERE id IN ({{marks}})"
    for values in rows_for_ids(connection, query, ids):
        row = dict(zip(_SESSION_COLUMNS, values, strict=True))
        session_id = text_or_none(row["id"])
        if session_id is None:
            continue
        parent = text_or_none(row["parent_session_id"])
        yield (
            Session(
                key=f"{SOURCE}:{session_id}",
                source=SOURCE,
                parent_key=f"{SOURCE}:{parent}" if parent else None,
                relationship="subagent" if parent else None,
                project=text_or_none(row["working_dir"]),
                title=text_or_none(row["name"]) or text_or_none(row["description"]),
                started_at=parse_timestamp(row["created_at"]),
                ended_at=parse_timestamp(row["updated_at"]),
                model=_model_name(row["model_config_json"]),
            ),
            text_or_none(row["provider_name"]),
        )
