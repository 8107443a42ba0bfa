"""Gemini CLI chat recordings: ``~/.gemini/tmp/<project>/chats/session-*.json[l]``.

Facts this parser relies on (gemini-cli, ``packages/core/src/services/chatRecordingService.ts``
and ``chatRecordingTypes.ts``):

* The home directory is ``$GEMINI_CLI_HOME`` when set, else the user's home
  (``packages/core/src/utils/paths.ts`` ``homedir()``); recordings live under
  ``<home>/.gemini/tmp/<project>/chats/``. ``<project>`` is a short slug today (older versions
  used a SHA-256 of the project root); the slug directory holds a ``.project_root`` file with
  the project's absolute path (``config/projectRegistry.ts``).
* Older versions rewrite one JSON document per session (``session-*.json``: ``sessionId``,
  ``projectHash``, ``startTime``, ``lastUpdated``, ``summary``, ``messages[]``). Newer versions
  append JSONL (``session-*.jsonl``): a metadata line, then every message record again whenever
  it changes (the last record per ``id`` wins), ``{"$set": {...}}`` metadata updates and
  ``{"$rewindTo": id}`` markers. Resuming a ``.json`` session copies all its messages into a
  ``.jsonl`` next to it, so the same message ids appear in both files: keys are built from
  ``sessionId`` and message ``id`` so the copy is counted once.
* Subagents record into ``chats/<parent session id>/<session id>.jsonl`` with ``kind:
  "subagent"``; their requests are not in the parent's file.
* A rewind hides messages from the conversation, but they were billed: they stay counted.
* Replies are ``type: "gemini"`` with ``model`` and ``tokens {input, output, cached, thoughts,
  tool, total}`` copied from the API's ``usageMetadata``: ``input`` = ``promptTokenCount``
  (INCLUDES ``cachedContentTokenCount`` = ``cached``), ``output`` = ``candidatesTokenCount``,
  ``thoughts`` = ``thoughtsTokenCount`` (billed as output, not inside ``output``), ``tool`` =
  ``toolUsePromptTokenCount`` (prompt tokens of built-in tools, billed as input). The Gemini
  API defines ``totalTokenCount`` as the sum of prompt, candidates, tool-use prompt and
  thoughts counts, so ``tool`` is NOT inside ``input``: it is added to input, once. Should a
  record's ``total`` show it already inside ``input`` (total = input + output + thoughts), it
  is not added again.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

import orjson

from tokentrail.agents.gemini import AGENT, edits
from tokentrail.agents.gemini.usage import usage_tokens
from tokentrail.errors import BadRecord
from tokentrail.sources.discovery import find_files
from tokentrail.sources.files import FileKind, ParseResult, ParseState, SourceFile, read_regular
from tokentrail.sources.jsonl import JsonLinesParser, RememberedText, invalid_or_object
from tokentrail.sources.lines import Line
from tokentrail.sources.values import parse_timestamp
from tokentrail.usage import Session, Skip, ToolCall, ToolResult, UsageEvent

SOURCE = AGENT.name
PROVIDER = "google"
PROJECT_ROOT_MARKER = ".project_root"
CHAT_FILES: dict[str, FileKind] = {
    "*/chats/session-*.json": "whole",  # the legacy format: one document, rewritten
    "*/chats/session-*.jsonl": "append",
    "*/chats/*/*.jsonl": "append",  # a subagent's, in a folder named after its parent
}

# Only these lines can carry usage or session metadata; everything else is prompt text.
JSONL_PREFILTER: tuple[bytes, ...] = (b'"tokens"', b'"sessionId"', b'"$set"', b'"toolCalls"')

SESSION_FIELDS: dict[str, str] = {
    "sessionId": "session_id",
    "projectHash": "project_hash",
    "startTime": "start",
    "lastUpdated": "updated",
    "summary": "summary",
    "kind": "kind",
}
"""The session fields of a metadata record (or a ``$set`` update), by the name kept here."""


@dataclass(slots=True)
class _SessionMeta(RememberedText):
    """What the parser knows about the session a file records (kept in ``state.memory``)."""

    session_id: str | None = None
    project_hash: str | None = None
    project: str | None = None
    start: str | None = None
    updated: str | None = None
    summary: str | None = None
    kind: str | None = None
    parent_id: str | None = None
    model: str | None = None

    def absorb(self, record: Mapping[str, Any]) -> None:
        """Take the session fields of a metadata record (or of a ``$set`` update)."""
        self.take(record, SESSION_FIELDS)

    @property
    def session_key(self) -> str | None:
        return f"{SOURCE}:{self.session_id}" if self.session_id else None

    @property
    def started_at(self) -> datetime | None:
        return parse_timestamp(self.start)

    @property
    def rank(self) -> str:
        started = self.started_at
        return f"0|{started.isoformat() if started else ''}|"

    def session(self) -> Session | None:
        key = self.session_key
        if key is None:
            return None
        is_subagent = self.kind == "subagent" and self.parent_id is not None
        return Session(
            key=key,
            source=SOURCE,
            parent_key=f"{SOURCE}:{self.parent_id}" if is_subagent else None,
            relationship="subagent" if is_subagent else None,
            project=self.project or self.project_hash,
            title=self.summary,
            started_at=self.started_at,
            ended_at=parse_timestamp(self.updated),
            model=self.model,
        )


@dataclass(slots=True)
class _Recording(JsonLinesParser):
    """The events of one parse, collapsed per key: the last record of a message wins."""

    load = invalid_or_object
    meta: _SessionMeta

    def add_message(self, message: object, line: int | None) -> None:
        self.tool_calls.extend(_tool_calls(message, self.meta))
        try:
            event = _reply_event(message, self.meta)
        except BadRecord as bad:
            self.skip(bad.reason, line, bad.detail)
            return
        if event is None:
            return
        self.keep_last(event)
        if self.meta.model is None:
            self.meta.model = event.model

    def read_record(self, record: dict[str, Any], line: Line) -> None:
        """One JSONL record: metadata, a ``$set`` update, a rewind marker or a message."""
        if isinstance(record.get("$rewindTo"), str):
            return  # rewound replies were billed all the same: keep them
        if isinstance(record.get("id"), str):
            self.add_message(record, line.number)
            return
        update = record.get("$set")
        if isinstance(update, dict):
            self.meta.absorb(update)
            # gemini-cli may store the whole message list in a $set and then prefers it over
            # the individual records; those are the same messages under the same keys.
            messages = update.get("messages")
            if isinstance(messages, list):
                for message in messages:
                    self.add_message(message, line.number)
            return
        self.meta.absorb(record)

    def sessions(self) -> list[Session]:
        session = self.meta.session()
        return [session] if session is not None else []

    def memory(self) -> dict[str, Any]:
        return self.meta.to_memory()


class GeminiSource:
    """Gemini CLI (``@google/gemini-cli``) chat recordings."""

    name: ClassVar[str] = SOURCE
    parser_version: ClassVar[int] = 2  # 2: tool calls
    env_var: ClassVar[str] = AGENT.override

    def default_roots(self, env: Mapping[str, str], home: Path) -> list[Path]:
        roots: list[Path] = []
        cli_home = env.get("GEMINI_CLI_HOME")
        if cli_home:
            roots.append(Path(cli_home).expanduser() / ".gemini" / "tmp")
        # The plain home is kept too: sessions recorded before GEMINI_CLI_HOME was set (or
        # by another profile) are still real spend, and keys make overlaps harmless.
        roots.append(home / ".gemini" / "tmp")
        return _unique(roots)

    def discover(self, roots: Sequence[Path]) -> Iterator[SourceFile]:
        """``<root>/<project>/chats/session-*.json[l]`` and subagent ``chats/<parent>/*.jsonl``."""
        return find_files(self.name, roots, CHAT_FILES)

    def parse(self, file: SourceFile, state: ParseState) -> ParseResult:
        if file.path.endswith(".jsonl"):
            return _parse_jsonl(file.path, state)
        return _parse_whole_json(file.path)


def _unique(paths: Sequence[Path]) -> list[Path]:
    unique: list[Path] = []
    for path in paths:
        if path not in unique:
            unique.append(path)
    return unique


def _parse_whole_json(path: str) -> ParseResult:
    """A legacy ``session-*.json``: one document, re-read from the start whenever it changes."""
    data = read_regular(path)  # unreadable: OSError, reported by the sync, read next time
    state = ParseState(offset=len(data))
    try:
        document = invalid_or_object(data)
    except BadRecord as bad:
        return ParseResult(skips=[Skip(bad.reason, path, None, bad.detail)], state=state)
    meta = _SessionMeta()
    meta.absorb(document)
    _locate(meta, path)
    if meta.session_id is None:
        return ParseResult(skips=[Skip("missing_session_id", path, None)], state=state)
    recording = _Recording(path, meta)
    messages = document.get("messages")
    for message in messages if isinstance(messages, list) else ():
        recording.add_message(message, None)
    return recording.finish(state)


def _parse_jsonl(path: str, state: ParseState) -> ParseResult:
    """A ``.jsonl`` recording, read from ``state.offset`` on."""
    meta = _SessionMeta.from_memory(state.memory)
    _locate(meta, path)
    return _Recording(path, meta).read(state, JSONL_PREFILTER)


def _locate(meta: _SessionMeta, path: str) -> None:
    """Project root and subagent parent from where the file sits."""
    chat_path = Path(path)
    chats_dir = chat_path.parent
    if chats_dir.name != "chats" and chats_dir.parent.name == "chats":
        # chats/<parent session id>/<session id>.jsonl is a subagent's recording
        meta.parent_id = meta.parent_id or chats_dir.name
        chats_dir = chats_dir.parent
    if meta.project is None:
        meta.project = _project_root(chats_dir.parent)


def _project_root(project_dir: Path) -> str | None:
    try:
        text = read_regular(str(project_dir / PROJECT_ROOT_MARKER)).decode("utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return text or None


def _reply_event(message: object, meta: _SessionMeta) -> UsageEvent | None:
    """The usage event of a ``gemini`` reply, ``None`` for anything that is not usage."""
    if not isinstance(message, dict) or message.get("type") != "gemini":
        return None
    raw_tokens = message.get("tokens")
    if not isinstance(raw_tokens, dict):
        return None  # tokens arrive in a later rewrite of the same message
    message_id = message.get("id")
    if not isinstance(message_id, str) or not message_id:
        raise BadRecord("missing_id", "gemini reply without an id")
    if meta.session_id is None:
        raise BadRecord("missing_session_id", f"message {message_id}")
    timestamp = parse_timestamp(message.get("timestamp"))
    if timestamp is None:
        raise BadRecord("invalid_timestamp", repr(message.get("timestamp")))
    model = message.get("model")
    return UsageEvent(
        key=f"{SOURCE}:{meta.session_id}:{message_id}",
        source=SOURCE,
        timestamp=timestamp,
        tokens=usage_tokens(raw_tokens),
        model=model if isinstance(model, str) and model else None,
        provider=PROVIDER,
        session_key=meta.session_key,
        project=meta.project or meta.project_hash,
        raw_usage=orjson.dumps(raw_tokens),
        rank=meta.rank,
    )


_FINAL_STATUS = {"success": True, "error": False, "cancelled": False}
"""A recorded tool call's final status and whether it succeeded; other statuses (scheduled,
executing, …) are not final yet: the message is recorded again when it changes."""


def _tool_calls(message: object, meta: _SessionMeta) -> list[ToolCall | ToolResult]:
    """The ``toolCalls`` of a reply: name, time, final status and the lines an edit changes
    (never arguments or results). The call carries no start time, so no duration."""
    if not isinstance(message, dict) or meta.session_id is None:
        return []
    calls = message.get("toolCalls")
    if not isinstance(calls, list):
        return []
    found: list[ToolCall | ToolResult] = []
    model = message.get("model")
    for call in calls:
        if not isinstance(call, dict):
            continue
        call_id, name = call.get("id"), call.get("name")
        when = parse_timestamp(call.get("timestamp")) or parse_timestamp(message.get("timestamp"))
        if not isinstance(call_id, str) or not isinstance(name, str) or not name or not when:
            continue
        key = f"{SOURCE}:call:{meta.session_id}:{call_id}"
        at_ms = int(when.timestamp() * 1000)
        added, removed = edits.count_lines(name, call.get("args"))
        found.append(
            ToolCall(
                key=key,
                source=SOURCE,
                tool_name=name,
                timestamp_ms=at_ms,
                session_key=meta.session_key,
                lines_added=added,
                lines_removed=removed,
                model=model if isinstance(model, str) and model else None,
                from_log=True,
            )
        )
        status = call.get("status")
        if isinstance(status, str) and status in _FINAL_STATUS:
            found.append(ToolResult(key, SOURCE, at_ms, _FINAL_STATUS[status], meta.session_key))
    return found
