"""Crush (charmbracelet/crush): one SQLite database per project, listed in its projects file.

Facts this parser relies on (charmbracelet/crush ``internal/config/load.go``,
``internal/projects/projects.go``, ``internal/db/migrations/``, ``internal/agent/agent.go``
and ``coordinator.go``):

* Crush's global data dir is ``$CRUSH_GLOBAL_DATA``, else ``$XDG_DATA_HOME/crush``, else
  ``%LOCALAPPDATA%\\crush`` on Windows, else ``~/.local/share/crush``. Its ``projects.json``
  lists every project Crush ran in: ``{"projects": [{"path", "data_dir", "last_accessed"}]}``;
  each ``data_dir`` (by default ``<project>/.crush``) holds that project's ``crush.db``.
* ``sessions(id, parent_session_id, title, message_count, prompt_tokens, completion_tokens,
  cost, created_at, updated_at)``; times are epoch seconds (the insert uses
  ``strftime('%s', 'now')``) or milliseconds (older rows). ``messages`` has a ``model`` and a
  ``provider`` per message, and no token counts.
* ``cost`` adds up every request of the session (``session.Cost += cost``, Crush's own price
  or the provider's, e.g. OpenRouter's). The token columns do not: each request overwrites
  them with its own prompt and completion (the context window shown in the UI), and a
  summary resets them. So the tokens of a session are unknown: recorded as not reported
  (``None``), never as zeros, and our price is unknown (unpriced); Crush's cost is kept as the
  reported cost.
* A sub-agent (task) or title session has a ``parent_session_id``; when it ends its cost is
  added to its parent's (``updateParentSessionCost``). So only root sessions' cost is counted;
  child sessions are recorded as sessions (with their parent), without usage.

What is recorded: one usage record per root session with a cost, keyed ``crush:<session id>``,
dated when the session started, holding the session's cost so far. A later read of a grown
session updates that record in place (the ledger keeps the larger snapshot: see
:func:`_raw_usage`), so a session is never counted twice and never partly.
"""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import ClassVar

import orjson

from tokentrail import sync_walk
from tokentrail.agents.crush import AGENT
from tokentrail.sources.files import (
    ParseResult,
    ParseState,
    SourceFile,
    open_regular,
    unlisted_folder,
)
from tokentrail.sources.jsonl import side_object
from tokentrail.sources.sqlite import SchemaError, optional_columns, read_database, table_columns
from tokentrail.sources.values import parse_timestamp, reported_cost, text_or_none
from tokentrail.usage import Session, Skip, Tokens, UsageEvent

SOURCE = AGENT.name
DATABASE = "crush.db"
PROJECTS = "projects.json"
DEFAULT_DATA_DIR = ".crush"
BUSY_TIMEOUT_SECONDS = 5.0
MAX_COST_MICRO = 10**15
"""Above a billion dollars a session cost is a corrupt value, not a cost."""


class CrushSource:
    """Crush's per-project ``crush.db`` files, found through its projects file."""

    name: ClassVar[str] = SOURCE
    parser_version: ClassVar[int] = 1
    env_var: ClassVar[str] = AGENT.override

    def default_roots(self, env: Mapping[str, str], home: Path) -> list[Path]:
        """Crush's global data dir (where ``projects.json`` is)."""
        if env.get("CRUSH_GLOBAL_DATA"):
            return [Path(env["CRUSH_GLOBAL_DATA"]).expanduser()]
        if env.get("XDG_DATA_HOME"):
            return [Path(env["XDG_DATA_HOME"]).expanduser() / "crush"]
        roots = [home / ".local" / "share" / "crush"]
        if env.get("LOCALAPPDATA"):
            roots.append(Path(env["LOCALAPPDATA"]) / "crush")
        return roots

    def discover(self, roots: Sequence[Path]) -> Iterator[SourceFile]:
        """Each project's ``crush.db`` named in a root's ``projects.json``; a root may also be
        a ``crush.db``, or a folder holding one (a project's data dir)."""
        found: set[str] = set()
        for root in roots:
            for item in _databases(Path(root)):
                if isinstance(item, OSError):
                    yield unlisted_folder(SOURCE, str(item.filename), item)
                else:
                    found.add(item)
        for path in sorted(found):
            yield SourceFile(SOURCE, path, "database")

    def parse(self, file: SourceFile, state: ParseState) -> ParseResult:
        # a FIFO or a device is refused (NotRegularFile), a file we may not read raises: the
        # sync reports either, before SQLite could block on it or call it corrupt
        with open_regular(file.path) as handle:
            size = os.fstat(handle.fileno()).st_size

        def read(connection: sqlite3.Connection) -> ParseResult:
            result = _read(connection, file.path)
            result.state = ParseState(offset=size)
            return result

        return read_database(file.path, state, BUSY_TIMEOUT_SECONDS, read)


def _databases(root: Path) -> Iterator[str | OSError]:
    if root.name == DATABASE:
        yield from _database_at(root)
        return
    try:
        info = sync_walk.look(str(root))
    except OSError:
        return
    if info is None or not stat.S_ISDIR(info.st_mode):
        return
    yield from _database_at(root / DATABASE)
    for data_dir in _project_data_dirs(root / PROJECTS):
        yield from _database_at(data_dir / DATABASE)


def _database_at(path: Path) -> Iterator[str | OSError]:
    """The database if it is there (any file but a folder: a special file is refused with a
    reason when read); the folder's error when it cannot be searched."""
    try:
        info = sync_walk.look(str(path))
    except OSError as error:
        error.filename = str(path.parent)
        yield error
        return
    if info is not None and not stat.S_ISDIR(info.st_mode):
        yield str(path)


def _project_data_dirs(path: Path) -> list[Path]:
    """The ``data_dir`` of every project in Crush's projects file (none if it is unreadable:
    Crush not installed, or the file being rewritten; the next sync reads it again)."""
    try:
        sync_walk.look(str(path))  # before reading it: a rewrite after shows
    except OSError:
        return []
    document = side_object(str(path))
    projects = document.get("projects") if document is not None else None
    dirs: list[Path] = []
    for project in projects if isinstance(projects, list) else ():
        if not isinstance(project, dict):
            continue
        data_dir = text_or_none(project.get("data_dir"))
        work_dir = text_or_none(project.get("path"))
        if data_dir:
            folder = Path(data_dir).expanduser()
            if not folder.is_absolute() and work_dir:
                folder = Path(work_dir) / folder
            dirs.append(folder)
        elif work_dir:
            dirs.append(Path(work_dir) / DEFAULT_DATA_DIR)
    return dirs


def _read(connection: sqlite3.Connection, path: str) -> ParseResult:
    columns = table_columns(connection, ("sessions",)).get("sessions", set())
    needed = {"id", "parent_session_id", "cost", "created_at"}
    if not needed <= columns:
        raise SchemaError(f"no sessions({', '.join(sorted(needed))}) table")
    models = _models(connection)
    project = _project_of(path)
    result = ParseResult()
    picked = optional_columns(
        columns, ("id", "parent_session_id", "title", "cost", "created_at", "updated_at")
    )
    query = f"SELECT {picked} FROM sessions"
    for session_id, parent, name, cost, created, changed in connection.execute(query):
        if not isinstance(session_id, str) or not session_id:
            continue
        parent_id = text_or_none(parent)
        session_models = models.get(session_id, set())
        result.sessions.append(
            Session(
                key=f"{SOURCE}:{session_id}",
                source=SOURCE,
                parent_key=f"{SOURCE}:{parent_id}" if parent_id else None,
                relationship="subagent" if parent_id else None,
                project=project,
                title=text_or_none(name),
                started_at=parse_timestamp(created),
                ended_at=parse_timestamp(changed),
                model=next(iter(session_models))[0] if len(session_models) == 1 else None,
            )
        )
        if parent_id is not None:
            continue  # its cost is added to its parent's when it ends: counted there
        event = _session_event(session_id, cost, created, project, session_models, path, result)
        if event is not None:
            result.events.append(event)
    return result


def _session_event(
    session_id: str,
    raw_cost: object,
    created: object,
    project: str | None,
    models: set[tuple[str, str | None]],
    path: str,
    result: ParseResult,
) -> UsageEvent | None:
    cost = reported_cost(raw_cost)
    if cost is None or cost * 1_000_000 > MAX_COST_MICRO:
        result.skips.append(Skip("invalid_cost", path, None, f"session {session_id}: {raw_cost!r}"))
        return None
    if cost == 0:
        return None  # nothing billed (yet), or a flat-rate or local model Crush does not price
    started = parse_timestamp(created)
    if started is None:
        result.skips.append(Skip("bad_timestamp", path, None, f"session {session_id}"))
        return None
    model, provider = next(iter(models)) if len(models) == 1 else (None, None)
    return UsageEvent(
        key=f"{SOURCE}:{session_id}",
        source=SOURCE,
        timestamp=started,
        tokens=Tokens(),  # not reported: see the module's docstring
        model=model,
        provider=provider,
        session_key=f"{SOURCE}:{session_id}",
        project=project,
        reported_cost_usd=cost,
        raw_usage=_raw_usage(cost, models),
        rank=f"0|{started.isoformat()}|",
    )


def _raw_usage(cost: float, models: set[tuple[str, str | None]]) -> bytes:
    """What the record was derived from. Its first field is the session's cost so far in
    zero-padded micro-dollars: the ledger keeps, of two copies of a record with equal token
    counts, the one whose raw usage sorts last (``merge_events``), so a session re-read after
    it grew replaces its smaller copy, and a stale read never replaces a newer one."""
    micro = round(cost * 1_000_000)
    return orjson.dumps(
        {
            "session_cost_micro_usd": f"{micro:016d}",
            "derived_from": "sessions.cost: the session's cost so far; tokens not reported",
            "models": sorted(f"{p}:{m}" if p else m for m, p in models),
        }
    )


def _models(connection: sqlite3.Connection) -> dict[str, set[tuple[str, str | None]]]:
    """The models (and providers) that answered each session, from its messages' columns."""
    columns = table_columns(connection, ("messages",)).get("messages", set())
    if not {"session_id", "model"} <= columns:
        return {}
    provider = optional_columns(columns, ("provider",))
    role = "role = 'assistant' AND " if "role" in columns else ""
    query = (
        f"SELECT DISTINCT session_id, model, {provider} FROM messages "
        f"WHERE {role}model IS NOT NULL AND model != ''"
    )
    found: dict[str, set[tuple[str, str | None]]] = {}
    for session_id, model, provider_name in connection.execute(query):
        if isinstance(session_id, str) and isinstance(model, str):
            found.setdefault(session_id, set()).add((model, text_or_none(provider_name)))
    return found


def _project_of(path: str) -> str | None:
    """The project a database belongs to: the folder holding Crush's default data dir
    (``<project>/.crush/crush.db``); unknown for a data dir configured elsewhere."""
    data_dir = Path(path).parent
    return str(data_dir.parent) if data_dir.name == DEFAULT_DATA_DIR else None
