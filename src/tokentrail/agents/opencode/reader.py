"""OpenCode (sst/opencode, now anomalyco/opencode): its SQLite database and legacy JSON tree.

Facts this parser relies on (opencode ``packages/opencode/src``):

* Data lives in ``Global.Path.data`` = ``$XDG_DATA_HOME/opencode`` (``xdg-basedir``, default
  ``~/.local/share/opencode``). The database is ``opencode.db`` (``opencode-<channel>.db`` for
  other release channels); ``$OPENCODE_DB`` moves it (absolute, or relative to the data dir).
* Tables (``session/session.sql.ts``): ``session(id, parent_id, directory, title, version,
  time_created, time_updated, ...)``, ``message(id, session_id, time_created, time_updated,
  data)`` and ``part(id, message_id, session_id, time_created, time_updated, data)``; ``data``
  is the JSON of the message or part without its ids. Upserts bump ``time_updated``.
* Before the database (and still readable by its migration, ``storage/json-migration.ts``):
  ``storage/session/<projectID>/<sessionID>.json``, ``storage/message/<sessionID>/<msgID>.json``
  and ``storage/part/<msgID>/<partID>.json``; ids come from the file names.

What a message counts, read either way, is :mod:`tokentrail.agents.opencode.messages`'.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

from tokentrail.agents.opencode import AGENT
from tokentrail.agents.opencode.messages import message_usage, nested, session_row
from tokentrail.errors import BadRecord
from tokentrail.sources.discovery import find_files
from tokentrail.sources.files import (
    FileKind,
    NotRegularFile,
    ParseResult,
    ParseState,
    SourceFile,
    open_regular,
    read_regular,
)
from tokentrail.sources.jsonl import invalid_or_object
from tokentrail.sources.sqlite import (
    SchemaError,
    optional_columns,
    read_database,
    rows_for_ids,
    table_columns,
)
from tokentrail.usage import Skip

SOURCE = AGENT.name
FILES: dict[str, FileKind] = {
    "opencode.db": "database",
    "opencode-*.db": "database",  # another channel's (opencode-dev.db)
    "storage/session/*/*.json": "whole",  # the legacy JSON tree
    "storage/message/*/*.json": "whole",
}
BUSY_TIMEOUT_SECONDS = 5.0
"""How long to wait for a writer holding the database before reporting it busy."""
LATE_COMMIT_MARGIN_MS = 10 * 60 * 1000
"""Rows are looked at again from this long before the newest ``time_updated`` seen: a
transaction that stamped its rows earlier may commit after our read. The rows of that margin
already read (their ids and ``time_updated``, kept in the cursor) are not read again."""
STEP_PART_MAX_BYTES = 64 * 1024
"""A step-finish part is a few hundred bytes; bigger part files are text or tool output."""


class OpenCodeSource:
    """OpenCode's own SQLite database and its legacy JSON storage tree."""

    name: ClassVar[str] = SOURCE
    parser_version: ClassVar[int] = 1
    env_var: ClassVar[str] = AGENT.override

    def default_roots(self, env: Mapping[str, str], home: Path) -> list[Path]:
        data_dir = xdg_data_home(env, home) / "opencode"
        roots = [data_dir]
        database = env.get("OPENCODE_DB")
        if database and database != ":memory:":
            path = Path(database).expanduser()
            roots.append(path if path.is_absolute() else data_dir / path)
        return roots

    def discover(self, roots: Sequence[Path]) -> Iterator[SourceFile]:
        return discover_opencode_shaped(self.name, roots, FILES)

    def parse(self, file: SourceFile, state: ParseState) -> ParseResult:
        return parse_opencode_shaped(self.name, file, state)


# --- shared with the agents built on OpenCode (Kilo Code's CLI: agents/kilo/reader.py) -----


def xdg_data_home(env: Mapping[str, str], home: Path) -> Path:
    """``$XDG_DATA_HOME`` (``xdg-basedir``'s rule), else ``~/.local/share``."""
    data_home = env.get("XDG_DATA_HOME")
    return Path(data_home).expanduser() if data_home else home / ".local" / "share"


def discover_opencode_shaped(
    source: str, roots: Sequence[Path], files: Mapping[str, FileKind]
) -> Iterator[SourceFile]:
    """The databases and legacy JSON files (``files``: OpenCode's :data:`FILES` under the
    agent's own names) under ``roots`` of an agent that keeps OpenCode's storage."""
    return find_files(source, roots, files, root_files={"*.db": "database"})


def parse_opencode_shaped(source: str, file: SourceFile, state: ParseState) -> ParseResult:
    """Parse one file of OpenCode's storage; events and sessions are keyed ``<source>:<id>``."""
    if file.kind == "database":
        return _parse_database(file.path, state, source)
    path = Path(file.path)
    if path.parent.parent.name == "session":
        return _parse_session_file(path, source)
    return _parse_message_file(path, source)


# --- the legacy JSON tree ------------------------------------------------------------------


def _legacy_file(path: Path) -> tuple[ParseResult, dict[str, Any] | None]:
    """A file of the legacy tree, read whole: the result to fill (its cursor at the file's
    end) and the file's object, None once it is skipped as not one."""
    data = read_regular(str(path))  # unreadable: OSError, reported by the sync, read next time
    result = ParseResult(state=ParseState(offset=len(data)))
    try:
        return result, invalid_or_object(data)
    except BadRecord as bad:
        result.skips.append(Skip(bad.reason, str(path), None, bad.detail))
        return result, None


def _parse_message_file(path: Path, source: str) -> ParseResult:
    """``storage/message/<sessionID>/<msgID>.json`` plus its ``storage/part/<msgID>/`` steps."""
    result, info = _legacy_file(path)
    if info is None:
        return result
    # like opencode's own migration, ids come from the file layout
    message_id, session_id = path.stem, path.parent.name
    steps: list[tuple[str, Mapping[str, Any]]] = []
    if info.get("role") == "assistant":
        steps = _legacy_steps(path.parents[2] / "part" / message_id, result.skips)
    found = message_usage(message_id, session_id, info, steps, (str(path), None), source)
    result.events.extend(found.events)
    result.skips.extend(found.skips)
    return result


def _legacy_steps(part_dir: Path, skips: list[Skip]) -> list[tuple[str, Mapping[str, Any]]]:
    steps: list[tuple[str, Mapping[str, Any]]] = []
    if not part_dir.is_dir():
        return steps
    for part_path in sorted(part_dir.glob("*.json")):
        try:
            with open_regular(str(part_path)) as handle:
                data = handle.read(STEP_PART_MAX_BYTES + 1)
            if len(data) > STEP_PART_MAX_BYTES:
                continue
        except NotRegularFile as exc:
            skips.append(Skip("not_a_regular_file", str(part_path), None, exc.kind))
            continue
        except OSError:
            continue  # removed while we read; the message file still has the last step
        if b"step-finish" not in data:
            continue  # text, tool output, ...: not usage
        try:
            part = invalid_or_object(data)
        except BadRecord as bad:
            skips.append(Skip(bad.reason, str(part_path), None, bad.detail))
            continue
        if part.get("type") == "step-finish":
            steps.append((part_path.stem, part))
    return steps


def _parse_session_file(path: Path, source: str) -> ParseResult:
    """``storage/session/<projectID>/<sessionID>.json``: titles, directory and parent."""
    result, info = _legacy_file(path)
    if info is None:
        return result
    result.sessions.append(
        session_row(
            path.stem,
            info.get("parentID"),
            info.get("directory"),
            info.get("title"),
            nested(info, "time", "created"),
            nested(info, "time", "updated"),
            source,
        )
    )
    return result


# --- the SQLite database -------------------------------------------------------------------


def _parse_database(path: str, state: ParseState, source: str) -> ParseResult:
    """Read sessions and assistant messages changed since the last read.

    On any failure the incoming state is returned unchanged, so the next sync tries again.
    """
    # an unreadable or special file raises OSError: the sync reports it (or skips it with
    # its reason) and keeps no cursor for it
    size = Path(path).stat().st_size

    def read(connection: sqlite3.Connection) -> ParseResult:
        result = _read_database(connection, path, state, source)
        result.state.offset = size
        return result

    return read_database(path, state, BUSY_TIMEOUT_SECONDS, read)


def _read_database(
    connection: sqlite3.Connection, path: str, state: ParseState, source: str
) -> ParseResult:
    columns = table_columns(connection, ("session", "message", "part"))
    message_columns = columns.get("message", set())
    if not {"id", "session_id", "data"} <= message_columns:
        raise SchemaError("no message(id, session_id, data) table")
    memory = dict(state.memory)
    result = ParseResult(state=ParseState(memory=memory))
    if {"id", "directory", "title"} <= columns.get("session", set()):
        _read_sessions(connection, columns["session"], memory, result, source)
    _read_messages(connection, message_columns, columns.get("part"), path, memory, result, source)
    return result


def _since(memory: Mapping[str, Any], name: str) -> int | None:
    seen = memory.get(name)
    if isinstance(seen, int) and not isinstance(seen, bool):
        return seen - LATE_COMMIT_MARGIN_MS
    return None


def _changed_rows(
    connection: sqlite3.Connection,
    table: str,
    fields: str,
    table_columns: set[str],
    memory: dict[str, Any],
    watermark: str,
    extra_condition: str = "",
) -> list[tuple[Any, ...]]:
    """``SELECT id, time_updated, <fields>`` of the rows of ``table`` inserted or updated since
    the last read (all of them the first time).

    The cursor is ``memory[watermark]``, the newest ``time_updated`` seen, and
    ``memory[watermark + "_rows"]``, the ``time_updated`` of each row read in the late-commit
    margin before it: a row of the margin is read again only when its ``time_updated`` moved.
    A table without ``time_updated`` is read whole every time (the ledger merges by key).
    """
    timed = "time_updated" in table_columns
    select = f"SELECT id, {'time_updated' if timed else 'NULL'}, {fields} FROM {table}"
    conditions = [extra_condition] if extra_condition else []
    parameters: list[int] = []
    since = _since(memory, watermark)
    if since is not None and timed:
        conditions.append("time_updated >= ?")
        parameters.append(since)
    where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
    rows = connection.execute(select + where, parameters).fetchall()
    seen = memory.get(f"{watermark}_rows")
    read_before: Mapping[str, Any] = seen if isinstance(seen, dict) and since is not None else {}
    changed = [row for row in rows if not _read_unchanged(read_before, row[0], row[1])]
    newest = memory.get(watermark)
    for row in rows:
        newest = _newer(newest, row[1])
    if newest is not None:
        memory[watermark] = newest
    if timed and newest is not None:
        margin = newest - LATE_COMMIT_MARGIN_MS
        kept = {key: at for key, at in read_before.items() if _is_int(at) and at >= margin}
        kept.update(
            (row[0], row[1])
            for row in changed
            if isinstance(row[0], str) and _is_int(row[1]) and row[1] >= margin
        )
        memory[f"{watermark}_rows"] = kept
    return changed


def _read_unchanged(read_before: Mapping[str, Any], row_id: object, updated: object) -> bool:
    return isinstance(row_id, str) and _is_int(updated) and read_before.get(row_id) == updated


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _read_sessions(
    connection: sqlite3.Connection,
    columns: set[str],
    memory: dict[str, Any],
    result: ParseResult,
    source: str,
) -> None:
    fields = optional_columns(columns, ("parent_id", "directory", "title", "time_created"))
    for session_id, updated, parent, directory, title, created in _changed_rows(
        connection, "session", fields, columns, memory, "sessions_updated"
    ):
        if isinstance(session_id, str):
            result.sessions.append(
                session_row(session_id, parent, directory, title, created, updated, source)
            )


def _read_messages(
    connection: sqlite3.Connection,
    columns: set[str],
    part_columns: set[str] | None,
    path: str,
    memory: dict[str, Any],
    result: ParseResult,
    source: str,
) -> None:
    # a cheap byte test before JSON parsing: user messages are most rows (a row that is not
    # JSON at all is kept, to be reported)
    wanted = f"(instr(data, 'assistant') > 0{_not_json(connection)})"
    rows = _changed_rows(
        connection, "message", "session_id, data", columns, memory, "messages_updated", wanted
    )
    if part_columns is not None:
        read = {row[0] for row in rows}
        rows += _messages_of_new_steps(connection, columns, part_columns, memory, read)
    infos: dict[str, tuple[str | None, dict[str, Any]]] = {}
    for message_id, _updated, session_id, data in rows:
        if not isinstance(message_id, str) or not isinstance(data, str | bytes):
            continue
        try:
            info = invalid_or_object(data)
        except BadRecord as bad:
            result.skips.append(Skip(bad.reason, path, None, f"message {message_id}: {bad.detail}"))
            continue
        if info.get("role") == "assistant":
            infos[message_id] = (session_id if isinstance(session_id, str) else None, info)
    steps = (
        _database_steps(connection, list(infos), path, result) if part_columns is not None else {}
    )
    for message_id, (session_id, info) in infos.items():
        found = message_usage(
            message_id, session_id, info, steps.get(message_id, []), (path, None), source
        )
        result.events.extend(found.events)
        result.skips.extend(found.skips)


def _messages_of_new_steps(
    connection: sqlite3.Connection,
    message_columns: set[str],
    part_columns: set[str],
    memory: dict[str, Any],
    read: set[Any],
) -> list[tuple[Any, ...]]:
    """The message rows (as :func:`_changed_rows` gives them) of step-finish parts written
    since the last read whose message row did not change: opencode writes a step's part just
    after updating its message, so a read between the two finds the step only this way."""
    if "message_id" not in part_columns:
        return []
    if "parts_updated" not in memory and "messages_updated" in memory:
        # a cursor from before parts had their own: they were read up to the messages' time
        memory["parts_updated"] = memory["messages_updated"]
    steps = _changed_rows(
        connection,
        "part",
        "message_id",
        part_columns,
        memory,
        "parts_updated",
        "instr(data, 'step-finish') > 0",
    )
    late = sorted({row[2] for row in steps if isinstance(row[2], str)} - read)
    updated = optional_columns(message_columns, ("time_updated",))
    query = f"SELECT id, {updated}, session_id, data FROM message WHERE id IN ({{marks}})"
    return list(rows_for_ids(connection, query, late))


def _not_json(connection: sqlite3.Connection) -> str:
    """`` OR NOT json_valid(data)`` where SQLite has JSON functions (built in since 3.38)."""
    try:
        connection.execute("SELECT json_valid('{}')").fetchone()
    except sqlite3.OperationalError:
        return ""
    return " OR NOT json_valid(data)"


def _database_steps(
    connection: sqlite3.Connection, message_ids: list[str], path: str, result: ParseResult
) -> dict[str, list[tuple[str, Mapping[str, Any]]]]:
    steps: dict[str, list[tuple[str, Mapping[str, Any]]]] = {}
    query = (
        "SELECT id, message_id, data FROM part WHERE message_id IN ({marks}) "
        "AND instr(data, 'step-finish') > 0 ORDER BY message_id, id"
    )
    for part_id, message_id, data in rows_for_ids(connection, query, message_ids):
        if not isinstance(part_id, str) or not isinstance(data, str | bytes):
            continue
        try:
            part = invalid_or_object(data)
        except BadRecord as bad:
            detail = f"part {part_id}: {bad.detail}"
            result.skips.append(Skip(bad.reason, path, None, detail))
            continue
        if part.get("type") == "step-finish":
            steps.setdefault(message_id, []).append((part_id, part))
    return steps


def _newer(current: object, candidate: object) -> int | None:
    known = current if isinstance(current, int) and not isinstance(current, bool) else None
    if isinstance(candidate, int) and not isinstance(candidate, bool):
        return candidate if known is None else max(known, candidate)
    return known
