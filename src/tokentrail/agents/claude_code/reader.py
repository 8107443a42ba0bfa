"""Claude Code transcripts: ``<config dir>/projects/<cwd-with-dashes>/<sessionId>.jsonl``.

Facts this parser relies on (DESIGN.md §3, checked against the format and peers' trackers):

* Usage is only ``message.usage`` of an assistant line (``type == "assistant"``, or, in older
  versions, no ``type`` but ``message.role == "assistant"``). User lines carry a subagent's
  ``toolUseResult.usage`` (already counted from the subagent's own file): not a new request.
  Newer versions write ``usage.iterations[]``: its ``advisor_message`` entries are advisor
  calls, billed apart under their own model, each a request of its own; the other entries
  repeat the top level.
* ``input_tokens`` excludes cache reads and writes; ``cache_creation`` splits the cache writes
  into 5-minute and 1-hour parts when present.
* One reply is written several times while it streams (same ``message.id``, output growing),
  and the same reply reappears in resumed sessions and sidechain replays. Every copy gets the
  same event key; :func:`tokentrail.usage.merge_events` keeps the largest snapshot, dated by the
  first, attributed to the copy with the lowest rank (main thread first, then the file whose
  history starts earliest).
* Subagents write their own files (``<project>/<sessionId>/subagents/agent-<id>.jsonl``,
  workflow agents one level deeper under ``subagents/workflows/<runId>/``, and 2.0-era versions
  ``<project>/agent-<id>.jsonl``) whose lines carry the parent's ``sessionId``,
  ``isSidechain: true`` and an ``agentId``.

Event keys, most specific first: ``claude_code:<message.id>``; ``claude_code:req:<requestId>``
when the message has no id; otherwise ``claude_code:hash:<sha256>`` of the line's session id,
normalised timestamp and usage object (sorted keys). The hash is stable across re-reads, but two
copies of an id-less request in differently named sessions stay two events: with no id there is
nothing else to tell a copy from a second request.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

import msgspec
import orjson

from tokentrail.agents.claude_code import AGENT, edits
from tokentrail.agents.claude_code.paths import AGENT_FILE_PREFIX, FileContext, expand_home
from tokentrail.agents.claude_code.records import Block, Message, Record, decode, record_from_dict
from tokentrail.agents.claude_code.records import timestamp as read_timestamp
from tokentrail.agents.claude_code.replies import (
    SOURCE_NAME,
    Reply,
    advisor_entries,
    advisor_reply,
    aliases_of,
    event_key,
    is_assistant,
    iso,
    pricing_context,
    provider_of,
    tokens_of,
    web_searches,
)
from tokentrail.errors import BadRecord
from tokentrail.sources.discovery import find_files
from tokentrail.sources.files import ParseResult, ParseState, SourceFile
from tokentrail.sources.lines import Line, LinesEnd, iter_complete_lines
from tokentrail.sources.values import reported_cost, text_or_none
from tokentrail.usage import Session, Skip, ToolCall, ToolResult, UsageEvent

SYNTHETIC_MODEL = "<synthetic>"
"""Claude Code's model name for locally generated replies (API errors, interrupts): no billing."""

PREFILTER: tuple[bytes, ...] = (b'"usage"', b'"type":"summary"', b'"type":"custom-title"')
"""Only lines holding one of these bytes are JSON-parsed. Claude Code writes compact JSON, and
most of a transcript's bytes are prompts and tool output without them."""

_USAGE = PREFILTER[0]
TOOL_PREFILTER: tuple[bytes, ...] = (b'"tool_result"',)
"""User lines holding a tool's result (its outcome is read, never its output). Tool calls sit
on assistant lines, which the usage pre-filter already lets through."""

_SCAN_ORDER: tuple[bytes, ...] = (_USAGE, *TOOL_PREFILTER, *PREFILTER[1:])
"""The pre-filter's tokens in the order the line reader looks for them: ``"usage"`` first, so
``Line.token == 0`` tells a line holds it (and any other value that it does not) without a
second scan, then the tool results, which hold most of the bytes, then the rare ones in
what is left."""
_USAGE_TOKEN = 0

_EDIT_TOOLS = frozenset({"Edit", "MultiEdit", "Write"})
"""The tools whose arguments are read (see tokentrail.sources.edits); others' are skipped."""

# Keys of ParseState.memory (kept JSON-serialisable: str or None values only).
_MEM_FIRST_TIMESTAMP = "first_timestamp"
_MEM_LAST_TIMESTAMP = "last_timestamp"
_MEM_FILE_SESSION = "file_session"
_MEM_FILE_SESSION_PARENT = "file_session_parent"
_MEM_PENDING_TITLE = "pending_title"
_MEM_CUSTOM_TITLE = "custom_title"
"""True once the file held a custom title (the user's /rename): a summary line never
replaces it."""


class ClaudeCodeSource:
    """Claude Code's JSONL transcripts, main sessions and subagents."""

    name: ClassVar[str] = SOURCE_NAME
    parser_version: ClassVar[int] = 3
    """2: tool calls and results. 3: ranks end with the file's latest timestamp and advisor
    calls are requests: files are read again once (see the 0012 migration)."""
    env_var: ClassVar[str] = AGENT.override

    def default_roots(self, env: Mapping[str, str], home: Path) -> list[Path]:
        """``<dir>/projects`` for each dir of ``CLAUDE_CONFIG_DIR`` (comma list), else both
        locations Claude Code has used: ``~/.config/claude`` and ``~/.claude``."""
        config_dirs = [
            expand_home(piece.strip(), home)
            for piece in env.get("CLAUDE_CONFIG_DIR", "").split(",")
            if piece.strip()
        ]
        if not config_dirs:
            config_dirs = [home / ".config" / "claude", home / ".claude"]
        return [directory / "projects" for directory in config_dirs]

    def discover(self, roots: Sequence[Path]) -> Iterator[SourceFile]:
        """Every ``*.jsonl`` under ``roots`` (recursively: subagents live in subfolders), once
        per real file even when reached through two roots or a symlink, in sorted order."""
        return find_files(
            SOURCE_NAME,
            roots,
            {"**/*.jsonl": "append"},
            root_files={"*.jsonl": "append"},
            real_paths=True,
        )

    def parse(self, file: SourceFile, state: ParseState) -> ParseResult:
        parser = _FileParser(FileContext.of(file.path), dict(state.memory))
        # an unreadable file raises OSError: the sync reports it and keeps no cursor for it
        lines = iter_complete_lines(file.path, state, prefilter=_SCAN_ORDER)
        for item in lines:
            if isinstance(item, LinesEnd):
                return parser.result(item)
            parser.handle(item)
        raise AssertionError("iter_complete_lines always ends with LinesEnd")  # pragma: no cover


# --- parsing ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Identity:
    """Which session a line belongs to."""

    session_key: str
    parent_key: str | None
    sidechain: bool


@dataclass(slots=True)
class _SessionDraft:
    key: str
    parent_key: str | None
    project: str | None = None
    git_branch: str | None = None
    model: str | None = None
    title: str | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None

    def see_time(self, when: datetime) -> None:
        if self.started_at is None or when < self.started_at:
            self.started_at = when
        if self.ended_at is None or when > self.ended_at:
            self.ended_at = when

    def to_session(self) -> Session:
        return Session(
            key=self.key,
            source=SOURCE_NAME,
            parent_key=self.parent_key,
            relationship="subagent" if self.parent_key is not None else None,
            project=self.project,
            title=self.title,
            started_at=self.started_at,
            ended_at=self.ended_at,
            model=self.model,
            git_branch=self.git_branch,
        )


@dataclass(slots=True)
class _FileParser:
    """Turns the pre-filtered lines of one chunk of one transcript into a :class:`ParseResult`."""

    context: FileContext
    memory: dict[str, Any]
    replies: dict[str, Reply] = field(default_factory=dict)
    sessions: dict[str, _SessionDraft] = field(default_factory=dict)
    skips: list[Skip] = field(default_factory=list)
    duplicates: int = 0
    tool_calls: list[ToolCall | ToolResult] = field(default_factory=list)
    identities: dict[tuple[object, bool, object], _Identity] = field(default_factory=dict)
    last_seen: datetime | None = None
    """The latest timestamp of this chunk (memory keeps it as text, see result)."""

    def handle(self, line: Line) -> None:
        try:
            decoded = decode(line.data)
        except orjson.JSONDecodeError as exc:
            if any(token in line.data for token in PREFILTER):
                self._skip("malformed_json", line, str(exc))
            # else a broken tool result line (e.g. cut-off tool output): no usage lost
            return
        if isinstance(decoded, Record):
            record = decoded
        elif isinstance(decoded, dict):
            record = record_from_dict(decoded)
        else:
            self._skip("malformed_json", line, f"a JSON {type(decoded).__name__}, not an object")
            return
        kind = record.type
        if kind == "summary":
            self._note_title(text_or_none(record.summary), None, custom=False)
            return
        identity = self._identify(record)
        timestamp = read_timestamp(record.timestamp)
        message = record.message
        if message is not None and timestamp is not None and isinstance(message.content, list):
            self._note_tools(message, message.content, identity, timestamp)
        if kind != "custom-title" and line.token != _USAGE_TOKEN:
            # a tool result line only: it says nothing about usage or the session (the line
            # reader found it holds no "usage": tool result lines are the biggest there are)
            return
        draft = self._note_line(identity, record, timestamp)
        if kind == "custom-title":
            self._note_title(text_or_none(record.customTitle), draft, custom=True)
            return
        if message is None or message.usage is None or not is_assistant(record, message):
            return
        try:
            reply = self._reply(record, message, identity, timestamp)
        except BadRecord as bad:
            self._skip(bad.reason, line, bad.detail)
            return
        if draft.model is None:
            draft.model = reply.model
        self._add_reply(reply)
        for advisor in self._advisor_replies(reply, message.usage, line):
            self._add_reply(advisor)

    def result(self, end: LinesEnd) -> ParseResult:
        if self.last_seen is not None:
            stamp = iso(self.last_seen)
            last = self.memory.get(_MEM_LAST_TIMESTAMP)
            if not isinstance(last, str) or stamp > last:
                self.memory[_MEM_LAST_TIMESTAMP] = stamp
        end.state.memory = self.memory
        return ParseResult(
            events=self._ranked_events(),
            sessions=[draft.to_session() for draft in self.sessions.values()],
            skips=self.skips,
            state=end.state,
            duplicates=self.duplicates,
            pending_partial_line=end.pending_partial_line,
            tool_calls=self.tool_calls,
        )

    # -- tool calls --

    def _note_tools(
        self,
        message: Message,
        content: list[Block],
        identity: _Identity,
        timestamp: datetime,
    ) -> None:
        """``tool_use`` blocks of an assistant line (name, id, lines an edit changes) and
        ``tool_result`` blocks of a user line (``is_error``); never their text."""
        at_ms: int | None = None  # worked out at the first tool block: most lines hold none
        session = identity.session_key
        model: str | None = None
        for block in content:
            kind = block.type
            if kind != "tool_use" and kind != "tool_result":
                continue
            if at_ms is None:
                at_ms = int(timestamp.timestamp() * 1000)
                model = text_or_none(message.model)
                if model == SYNTHETIC_MODEL:
                    model = None
            if kind == "tool_use":
                call_id, name = text_or_none(block.id), text_or_none(block.name)
                if call_id is None or name is None:
                    continue
                edit = name in _EDIT_TOOLS and bool(block.input)
                arguments = msgspec.json.decode(block.input) if edit else None
                added, removed = edits.count_lines(name, arguments)
                self.tool_calls.append(
                    ToolCall(
                        key=f"{SOURCE_NAME}:call:{call_id}",
                        source=SOURCE_NAME,
                        tool_name=name,
                        timestamp_ms=at_ms,
                        session_key=session,
                        lines_added=added,
                        lines_removed=removed,
                        model=model,
                        from_log=True,
                    )
                )
            else:
                call_id = text_or_none(block.tool_use_id)
                if call_id is None:
                    continue
                self.tool_calls.append(
                    ToolResult(
                        key=f"{SOURCE_NAME}:call:{call_id}",
                        source=SOURCE_NAME,
                        timestamp_ms=at_ms,
                        # Claude Code marks failures only: a result without the flag succeeded
                        success=block.is_error is not True,
                        session_key=session,
                    )
                )

    # -- sessions --

    def _identify(self, record: Record) -> _Identity:
        marked_sidechain = record.isSidechain is True
        line_agent = record.agentId if marked_sidechain else None
        known = (record.sessionId, marked_sidechain, line_agent)
        try:
            return self.identities[known]  # a file names one or a few sessions, line after line
        except (KeyError, TypeError):  # TypeError: an id of an odd type, not hashable
            pass
        identity = self._new_identity(record.sessionId, marked_sidechain, line_agent)
        if all(isinstance(part, str | bool | None) for part in known):
            self.identities[known] = identity
        return identity

    def _new_identity(self, session: object, marked_sidechain: bool, agent: object) -> _Identity:
        context = self.context
        session_id = text_or_none(session) or context.fallback_session_id
        agent_id = text_or_none(agent) or context.agent_id
        if agent_id is None:
            # Old versions wrote sidechains into the main file without an agentId: they stay
            # in the main session, but rank behind main-thread copies.
            return _Identity(session_id or context.stem, None, marked_sidechain)
        if session_id is None:
            return _Identity(f"{AGENT_FILE_PREFIX}{agent_id}", None, True)
        return _Identity(f"{session_id}:{AGENT_FILE_PREFIX}{agent_id}", session_id, True)

    def _note_line(
        self, identity: _Identity, record: Record, timestamp: datetime | None
    ) -> _SessionDraft:
        draft = self._draft(identity.session_key, identity.parent_key)
        if draft.project is None:
            draft.project = self._project(record)
        if draft.git_branch is None:
            draft.git_branch = text_or_none(record.gitBranch)
        if timestamp is not None:
            draft.see_time(timestamp)
            if self.memory.get(_MEM_FIRST_TIMESTAMP) is None:
                self.memory[_MEM_FIRST_TIMESTAMP] = iso(timestamp)
            # the latest goes into memory as text once, when the chunk ends (result)
            if self.last_seen is None or timestamp > self.last_seen:
                self.last_seen = timestamp
        if self.memory.get(_MEM_FILE_SESSION) is None:
            self._adopt_file_session(draft)
        return draft

    def _adopt_file_session(self, draft: _SessionDraft) -> None:
        # Summary lines carry no sessionId: they belong to the file's session, which is the
        # session of its first line that names one. A title read before that waits in memory.
        self.memory[_MEM_FILE_SESSION] = draft.key
        self.memory[_MEM_FILE_SESSION_PARENT] = draft.parent_key
        pending = self.memory.pop(_MEM_PENDING_TITLE, None)
        if draft.title is None and isinstance(pending, str):
            draft.title = pending

    def _note_title(self, title: str | None, draft: _SessionDraft | None, *, custom: bool) -> None:
        # The latest title wins (a session renamed later, in one chunk as across chunks: the
        # ledger keeps the newest, tokentrail.usage.newer_session), but a summary line never
        # replaces the user's own custom title.
        if title is None or (not custom and self.memory.get(_MEM_CUSTOM_TITLE)):
            return
        if custom:
            self.memory[_MEM_CUSTOM_TITLE] = True
        if draft is None:
            key = self.memory.get(_MEM_FILE_SESSION)
            if not isinstance(key, str):
                self.memory[_MEM_PENDING_TITLE] = title
                return
            parent = self.memory.get(_MEM_FILE_SESSION_PARENT)
            draft = self._draft(key, parent if isinstance(parent, str) else None)
        draft.title = title

    def _draft(self, key: str, parent_key: str | None) -> _SessionDraft:
        draft = self.sessions.get(key)
        if draft is None:
            draft = self.sessions[key] = _SessionDraft(key, parent_key)
        return draft

    def _project(self, record: Record) -> str | None:
        return text_or_none(record.cwd) or self.context.project_dir

    # -- events --

    def _reply(
        self,
        record: Record,
        message: Message,
        identity: _Identity,
        timestamp: datetime | None,
    ) -> Reply:
        usage = message.usage
        if not isinstance(usage, dict):
            raise BadRecord("empty_usage", f"usage is a {type(usage).__name__}, not an object")
        model = text_or_none(message.model)
        if model == SYNTHETIC_MODEL:
            raise BadRecord("synthetic_model")
        if timestamp is None:
            raise BadRecord("bad_timestamp", repr(record.timestamp)[:60])
        tokens = tokens_of(usage)
        if tokens.is_empty:
            raise BadRecord("empty_usage", "no token counts")
        return Reply(
            key=event_key(record, message, usage, timestamp),
            tokens=tokens,
            raw_usage=orjson.dumps(usage),
            model=model,
            provider=provider_of(model),
            reported_cost_usd=reported_cost(record.costUSD),
            pricing_context=pricing_context(usage),
            web_searches=web_searches(usage),
            timestamp=timestamp,
            rank=self._rank(identity),
            session_key=identity.session_key,
            project=self._project(record),
            git_branch=text_or_none(record.gitBranch),
            aliases=aliases_of(record, message),
        )

    def _advisor_replies(self, reply: Reply, usage: dict[str, Any], line: Line) -> Iterator[Reply]:
        """The advisor calls of the line read as ``reply`` (see
        :func:`~tokentrail.agents.claude_code.replies.advisor_entries`), each a request."""
        for index, entry in advisor_entries(usage):
            try:
                tokens = tokens_of(entry)
            except BadRecord as bad:
                self._skip(bad.reason, line, f"usage.iterations[{index}]: {bad.detail}")
                continue
            if tokens.is_empty:
                self._skip("empty_usage", line, f"usage.iterations[{index}]: no token counts")
                continue
            yield advisor_reply(reply, index, entry, tokens)

    def _rank(self, identity: _Identity) -> str:
        # Lower wins attribution in merge_events: a main-thread copy beats a sidechain replay,
        # then the file whose history starts earliest beats one that starts later. The file's
        # first timestamp is kept in memory so every chunk of the file ranks the same. The
        # last part, the file's latest timestamp, is added when the chunk ends
        # (_ranked_events).
        first = self.memory.get(_MEM_FIRST_TIMESTAMP) or ""
        return f"{1 if identity.sidechain else 0}|{first}|"

    def _ranked_events(self) -> list[UsageEvent]:
        """The chunk's events, their rank ending with the file's latest timestamp so far.

        A resumed (or backgrounded) session starts its new file with verbatim copies of the
        earlier session's lines under its own sessionId: same first timestamp, same lines, so
        nothing in a copy tells it from the original. What differs is the rest of the file:
        the original had stopped when it was copied, the continuation goes on after it. So of
        two files holding the same reply and starting at the same moment, the one whose
        history ends first wrote it. The rank only grows as a file grows, so a reply read
        from the original in an earlier sync keeps it, whatever order files are read in, and
        the ledger keeps the stored rank when the original file is deleted."""
        last = self.memory.get(_MEM_LAST_TIMESTAMP)
        suffix = last if isinstance(last, str) else ""
        return [reply.to_event(suffix) for reply in self.replies.values()]

    def _add_reply(self, reply: Reply) -> None:
        earlier = self.replies.get(reply.key)
        if earlier is None:
            self.replies[reply.key] = reply
            return
        # A streaming snapshot (or a replay) of a reply already seen in this chunk.
        earlier.absorb(reply)
        self.duplicates += 1

    def _skip(self, reason: str, line: Line, detail: str) -> None:
        self.skips.append(Skip(reason, self.context.path, line.number, detail))
