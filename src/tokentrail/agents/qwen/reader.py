"""Qwen Code chat recordings: ``~/.qwen/projects/<project>/chats/<session id>.jsonl``.

Facts this parser relies on (qwen-code, ``packages/core/src/config/storage.ts`` and
``packages/core/src/services/chatRecordingService.ts``):

* Recordings live under the runtime base directory: ``$QWEN_RUNTIME_DIR`` when set, else the
  ``runtimeOutputDir`` setting, else ``~/.qwen`` (``%USERPROFILE%\\.qwen`` on Windows), in
  ``projects/<project>/chats/<session id>.jsonl``; ``<project>`` is the project root with
  every non-alphanumeric character replaced by ``-``.
* Each line is one record, appended and never rewritten: ``uuid``, ``parentUuid``,
  ``sessionId``, ``timestamp``, ``type`` (``user``, ``assistant``, ``tool_result``,
  ``system``), ``cwd``, ``gitBranch``. A model reply is ``type: "assistant"`` with ``model``
  and ``usageMetadata``: the API's usage in Gemini's shape (``promptTokenCount``,
  ``candidatesTokenCount``, ``cachedContentTokenCount``, ``thoughtsTokenCount``,
  ``totalTokenCount``), one record per request.
* ``promptTokenCount`` INCLUDES ``cachedContentTokenCount``. For OpenAI-compatible backends
  (most Qwen Code setups) the reasoning tokens are inside ``candidatesTokenCount`` and
  ``totalTokenCount`` = prompt + candidates: thoughts are counted once
  (:func:`tokentrail.agents.gemini.usage.tokens_from` holds that rule).
* ``system`` records with ``subtype: "ui_telemetry"`` repeat each response's counts for the
  UI: not counted. ``custom_title`` records name the session, ``parent_session`` records
  name the session that spawned it.
* ``/branch`` copies every record of a session verbatim into a new session file (same
  ``uuid``, new ``sessionId``, ``forkedFrom``): a request is keyed by its ``uuid`` alone, so
  the copy is the same request and stays with the original session.
* Records of a background subagent carry ``agentId`` (and ``isSidechain``); their requests
  are billed to the session and shown as a child session.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import orjson

from tokentrail.agents.gemini.usage import USAGE_METADATA, usage_tokens
from tokentrail.agents.qwen import AGENT
from tokentrail.errors import BadRecord
from tokentrail.sources.discovery import find_files
from tokentrail.sources.files import ParseResult, ParseState, SourceFile
from tokentrail.sources.jsonl import JsonLinesParser, RememberedText, invalid_or_object
from tokentrail.sources.lines import Line
from tokentrail.sources.values import parse_timestamp, text_or_none
from tokentrail.usage import Session, UsageEvent

SOURCE = AGENT.name

# Only these lines can carry usage or session facts; the rest is prompts and tool output.
PREFILTER: tuple[bytes, ...] = (b'"usageMetadata"', b'"custom_title"', b'"parent_session"')


class QwenSource:
    """Qwen Code (``@qwen-code/qwen-code``) chat recordings."""

    name: ClassVar[str] = SOURCE
    parser_version: ClassVar[int] = 1
    env_var: ClassVar[str] = AGENT.override

    def default_roots(self, env: Mapping[str, str], home: Path) -> list[Path]:
        roots: list[Path] = []
        runtime = env.get("QWEN_RUNTIME_DIR")
        if runtime:
            roots.append(Path(runtime).expanduser() / "projects")
        # the plain home is kept too: sessions recorded before the variable was set are
        # real spend all the same, and keys make overlaps harmless
        roots.append(home / ".qwen" / "projects")
        return list(dict.fromkeys(roots))

    def discover(self, roots: Sequence[Path]) -> Iterator[SourceFile]:
        return find_files(self.name, roots, {"*/chats/**/*.jsonl": "append"})

    def parse(self, file: SourceFile, state: ParseState) -> ParseResult:
        recording = _Recording(file.path, _Meta.from_memory(state.memory))
        return recording.read(state, PREFILTER)


@dataclass(slots=True)
class _Meta(RememberedText):
    """What the parser knows about the session a file records (kept in ``state.memory``)."""

    session_id: str | None = None
    cwd: str | None = None
    branch: str | None = None
    title: str | None = None
    parent_id: str | None = None
    forked_from: str | None = None
    started: str | None = None
    updated: str | None = None
    model: str | None = None

    def absorb(self, record: Mapping[str, Any]) -> None:
        """The session facts every record repeats, and the ones only some records state."""
        self.session_id = self.session_id or text_or_none(record.get("sessionId"))
        self.take(record, {"cwd": "cwd", "gitBranch": "branch"})
        stamp = text_or_none(record.get("timestamp"))
        if stamp is not None:
            self.started = self.started or stamp
            self.updated = stamp
        forked = record.get("forkedFrom")
        if isinstance(forked, dict):
            self.forked_from = self.forked_from or text_or_none(forked.get("sessionId"))
        payload = record.get("systemPayload")
        payload = payload if isinstance(payload, dict) else {}
        if record.get("subtype") == "custom_title":
            self.title = text_or_none(payload.get("customTitle")) or self.title
        elif record.get("subtype") == "parent_session":
            self.parent_id = text_or_none(payload.get("parentSessionId")) or self.parent_id

    def sessions(self, agents: set[str]) -> list[Session]:
        if self.session_id is None:
            return []
        key = f"{SOURCE}:{self.session_id}"
        parent, relationship = None, None
        if self.parent_id:
            parent, relationship = f"{SOURCE}:{self.parent_id}", "subagent"
        elif self.forked_from:
            parent, relationship = f"{SOURCE}:{self.forked_from}", "fork"
        found = [
            Session(
                key=key,
                source=SOURCE,
                parent_key=parent,
                relationship=relationship,
                project=self.cwd,
                title=self.title,
                started_at=parse_timestamp(self.started),
                ended_at=parse_timestamp(self.updated),
                model=self.model,
                git_branch=self.branch,
            )
        ]
        for agent_id in sorted(agents):
            found.append(
                Session(
                    key=f"{key}:agent:{agent_id}",
                    source=SOURCE,
                    parent_key=key,
                    relationship="subagent",
                    project=self.cwd,
                )
            )
        return found


@dataclass(slots=True)
class _Recording(JsonLinesParser):
    load = invalid_or_object
    meta: _Meta
    agents: set[str] = field(default_factory=set)
    """The background subagents whose requests were read (each a child session)."""

    def read_record(self, record: dict[str, Any], line: Line) -> None:
        self.meta.absorb(record)
        if record.get("type") != "assistant":
            return  # ui_telemetry and other system records repeat counts: not requests
        event = _reply_event(record, self.meta)
        if event is None:
            return
        self.keep_last(event)
        agent_id = text_or_none(record.get("agentId"))
        if agent_id is not None:
            self.agents.add(agent_id)
        self.meta.model = self.meta.model or event.model

    def sessions(self) -> list[Session]:
        return self.meta.sessions(self.agents)

    def memory(self) -> dict[str, Any]:
        return self.meta.to_memory()


def _reply_event(record: Mapping[str, Any], meta: _Meta) -> UsageEvent | None:
    """The usage event of an assistant record, ``None`` when it carries no usage."""
    usage = record.get("usageMetadata")
    if not isinstance(usage, dict):
        return None
    uuid = text_or_none(record.get("uuid"))
    if uuid is None:
        raise BadRecord("missing_id", "assistant record without a uuid")
    session_id = text_or_none(record.get("sessionId")) or meta.session_id
    if session_id is None:
        raise BadRecord("missing_session_id", f"record {uuid}")
    timestamp = parse_timestamp(record.get("timestamp"))
    if timestamp is None:
        raise BadRecord("invalid_timestamp", repr(record.get("timestamp")))
    agent_id = text_or_none(record.get("agentId"))
    session_key = f"{SOURCE}:{session_id}" + (f":agent:{agent_id}" if agent_id else "")
    # a /branch copy ranks behind the original, so the request stays with its first session
    copied = isinstance(record.get("forkedFrom"), dict)
    return UsageEvent(
        key=f"{SOURCE}:{uuid}",
        source=SOURCE,
        timestamp=timestamp,
        tokens=usage_tokens(usage, USAGE_METADATA),
        model=text_or_none(record.get("model")),
        session_key=session_key,
        project=text_or_none(record.get("cwd")) or meta.cwd,
        git_branch=text_or_none(record.get("gitBranch")),
        raw_usage=orjson.dumps(usage),
        rank=f"{int(copied)}|{timestamp.isoformat()}|",
    )
