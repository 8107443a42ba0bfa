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

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import msgspec
import orjson

from tokentrail.agents.claude_code import AGENT, edits
from tokentrail.sources.base import (
    BadRecord,
    Line,
    LinesEnd,
    ParseResult,
    ParseState,
    SourceFile,
    count_or_none,
    find_files,
    iter_complete_lines,
    parse_timestamp,
    reported_cost,
    text_or_none,
)
from tokentrail.usage import (
    EARLIEST_YEAR,
    LATEST_YEAR,
    Session,
    Skip,
    Tokens,
    ToolCall,
    ToolResult,
    UsageEvent,
    merge_events,
)

SOURCE_NAME = AGENT.name
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

ADVISOR_ITERATION = "advisor_message"
"""The ``usage.iterations[]`` entry type of an advisor call: its own billed request."""

_AGENT_FILE_PREFIX = "agent-"
_NO_SPEED_SURCHARGE = frozenset({"standard", "normal"})

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
            _expand_home(piece.strip(), home)
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
        parser = _FileParser(_FileContext.of(file.path), dict(state.memory))
        # an unreadable file raises OSError: the sync reports it and keeps no cursor for it
        lines = iter_complete_lines(file.path, state, prefilter=_SCAN_ORDER)
        for item in lines:
            if isinstance(item, LinesEnd):
                return parser.result(item)
            parser.handle(item)
        raise AssertionError("iter_complete_lines always ends with LinesEnd")  # pragma: no cover


# --- discovery ---------------------------------------------------------------------------------


def _expand_home(text: str, home: Path) -> Path:
    # Expand "~" against the given home (not the process's) so callers and tests control it.
    if text == "~":
        return home
    if text.startswith("~/"):
        return home / text[2:]
    return Path(text).expanduser()


# --- what the path tells ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _FileContext:
    """What a transcript's path says about its lines, for lines that do not say it themselves."""

    path: str
    stem: str
    fallback_session_id: str | None
    """The main session's id: the file name for a main transcript, the folder above
    ``subagents/`` for a subagent file, unknown for a 2.0-era ``<project>/agent-<id>.jsonl``."""
    agent_id: str | None
    """Set when the file is a subagent's own transcript (``agent-<id>.jsonl``)."""
    project_dir: str | None

    @classmethod
    def of(cls, path: str) -> _FileContext:
        file = Path(path)
        stem = file.stem
        agent_id: str | None = None
        fallback: str | None = stem
        subagents = None
        if stem.startswith(_AGENT_FILE_PREFIX) and len(stem) > len(_AGENT_FILE_PREFIX):
            agent_id = stem[len(_AGENT_FILE_PREFIX) :]
            subagents = _subagents_dir(file)
            fallback = subagents.parent.name if subagents is not None else None
        return cls(path, stem, fallback, agent_id, _project_dir_name(file, subagents))


def _subagents_dir(file: Path) -> Path | None:
    """The ``<sessionId>/subagents`` folder above a subagent file: its direct parent, or a few
    levels up for workflow agents (``subagents/workflows/<runId>/agent-<id>.jsonl``)."""
    for ancestor in list(file.parents)[:3]:
        if ancestor.name == "subagents":
            return ancestor
    return None


def _project_dir_name(file: Path, subagents: Path | None) -> str | None:
    """The folder right under ``projects/`` (Claude Code's dashed cwd), else the folder that
    holds the session's transcript."""
    parts = file.parts
    for index in range(len(parts) - 3, -1, -1):
        if parts[index] == "projects":
            return parts[index + 1]
    holder = subagents.parent.parent if subagents is not None else file.parent
    return holder.name or None


# --- decoding ---------------------------------------------------------------------------------


class _Block(msgspec.Struct):
    """One ``message.content[]`` block: what a tool call or result says, never its text."""

    type: Any = None
    id: Any = None
    name: Any = None
    input: msgspec.Raw = msgspec.Raw(b"")
    """Left undecoded: only an edit's arguments are read (``_EDIT_TOOLS``)."""
    tool_use_id: Any = None
    is_error: Any = None


class _Message(msgspec.Struct):
    id: Any = None
    model: Any = None
    role: Any = None
    usage: Any = None
    content: list[_Block] | str | None = None


class _Record(msgspec.Struct):
    """The fields of a transcript line this parser reads. Decoding into it skips the rest
    (prompts, tool output, thinking text: most of the bytes) without building objects. Field
    names are the transcript's own keys."""

    type: Any = None
    timestamp: Any = None
    sessionId: Any = None
    isSidechain: Any = None
    agentId: Any = None
    cwd: Any = None
    gitBranch: Any = None
    requestId: Any = None
    costUSD: Any = None
    summary: Any = None
    customTitle: Any = None
    message: _Message | None = None


_DECODER = msgspec.json.Decoder(_Record)


def _decode(data: bytes) -> _Record | dict[str, Any] | list[Any] | str | float | None:
    """The line as a :class:`_Record`, or, when the typed decoder cannot take it (a field of
    another shape than usual, e.g. a string ``message``), as orjson reads it, to be
    converted leniently. Raises ``orjson.JSONDecodeError`` for a line that is not JSON."""
    try:
        record = _DECODER.decode(data)
    except msgspec.DecodeError:
        return orjson.loads(data)  # type: ignore[no-any-return]
    # orjson refuses invalid UTF-8 anywhere in a line; msgspec only checks the strings it
    # keeps, so the rest is checked here, to read exactly the lines orjson reads
    if not data.isascii():
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return orjson.loads(data)  # type: ignore[no-any-return]
    return record


def _record_from_dict(raw: dict[str, Any]) -> _Record:
    """A line the typed decoder refused, read as the dict-based parser read it: a
    ``message`` that is not an object is no message, ``content`` that is not a list holds no
    blocks, and a block that is not an object is passed over."""
    message = raw.get("message")
    return _Record(
        type=raw.get("type"),
        timestamp=raw.get("timestamp"),
        sessionId=raw.get("sessionId"),
        isSidechain=raw.get("isSidechain"),
        agentId=raw.get("agentId"),
        cwd=raw.get("cwd"),
        gitBranch=raw.get("gitBranch"),
        requestId=raw.get("requestId"),
        costUSD=raw.get("costUSD"),
        summary=raw.get("summary"),
        customTitle=raw.get("customTitle"),
        message=_message_from_dict(message) if isinstance(message, dict) else None,
    )


def _message_from_dict(raw: dict[str, Any]) -> _Message:
    content = raw.get("content")
    blocks = (
        [_block_from_dict(block) for block in content if isinstance(block, dict)]
        if isinstance(content, list)
        else None
    )
    return _Message(
        id=raw.get("id"),
        model=raw.get("model"),
        role=raw.get("role"),
        usage=raw.get("usage"),
        content=blocks,
    )


def _block_from_dict(raw: dict[str, Any]) -> _Block:
    arguments = msgspec.Raw(orjson.dumps(raw["input"])) if "input" in raw else msgspec.Raw(b"")
    return _Block(
        type=raw.get("type"),
        id=raw.get("id"),
        name=raw.get("name"),
        input=arguments,
        tool_use_id=raw.get("tool_use_id"),
        is_error=raw.get("is_error"),
    )


def _timestamp(value: object) -> datetime | None:
    """:func:`parse_timestamp`, with the usual ``...Z`` string read in one call."""
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return parse_timestamp(value)
        if parsed.tzinfo is UTC and EARLIEST_YEAR <= parsed.year <= LATEST_YEAR:
            return parsed
    return parse_timestamp(value)


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

    context: _FileContext
    memory: dict[str, Any]
    events: dict[str, UsageEvent] = field(default_factory=dict)
    sessions: dict[str, _SessionDraft] = field(default_factory=dict)
    skips: list[Skip] = field(default_factory=list)
    duplicates: int = 0
    tool_calls: list[ToolCall | ToolResult] = field(default_factory=list)
    identities: dict[tuple[object, bool, object], _Identity] = field(default_factory=dict)
    last_seen: datetime | None = None
    """The latest timestamp of this chunk (memory keeps it as text, see result)."""

    def handle(self, line: Line) -> None:
        try:
            decoded = _decode(line.data)
        except orjson.JSONDecodeError as exc:
            if any(token in line.data for token in PREFILTER):
                self._skip("malformed_json", line, str(exc))
            # else a broken tool result line (e.g. cut-off tool output): no usage lost
            return
        if isinstance(decoded, _Record):
            record = decoded
        elif isinstance(decoded, dict):
            record = _record_from_dict(decoded)
        else:
            self._skip("malformed_json", line, f"a JSON {type(decoded).__name__}, not an object")
            return
        kind = record.type
        if kind == "summary":
            self._note_title(text_or_none(record.summary), None, custom=False)
            return
        identity = self._identify(record)
        timestamp = _timestamp(record.timestamp)
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
        if message is None or message.usage is None or not _is_assistant(record, message):
            return
        try:
            event = self._event(record, message, identity, timestamp)
        except BadRecord as bad:
            self._skip(bad.reason, line, bad.detail)
            return
        if draft.model is None:
            draft.model = event.model
        self._add_event(event)
        for advisor in self._advisor_events(event, message, line):
            self._add_event(advisor)

    def result(self, end: LinesEnd) -> ParseResult:
        if self.last_seen is not None:
            stamp = _iso(self.last_seen)
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
        message: _Message,
        content: list[_Block],
        identity: _Identity,
        timestamp: datetime,
    ) -> None:
        """``tool_use`` blocks of an assistant line (name, id, lines an edit changes) and
        ``tool_result`` blocks of a user line (``is_error``); never their text."""
        at_ms = int(timestamp.timestamp() * 1000)
        session = identity.session_key
        for block in content:
            kind = block.type
            if kind == "tool_use":
                call_id, name = text_or_none(block.id), text_or_none(block.name)
                if call_id is None or name is None:
                    continue
                edit = name in _EDIT_TOOLS and bool(block.input)
                arguments = msgspec.json.decode(block.input) if edit else None
                added, removed = edits.count_lines(name, arguments)
                model = text_or_none(message.model)
                self.tool_calls.append(
                    ToolCall(
                        key=f"{SOURCE_NAME}:call:{call_id}",
                        source=SOURCE_NAME,
                        tool_name=name,
                        timestamp_ms=at_ms,
                        session_key=session,
                        lines_added=added,
                        lines_removed=removed,
                        model=model if model != SYNTHETIC_MODEL else None,
                        from_log=True,
                    )
                )
            elif kind == "tool_result":
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

    def _identify(self, record: _Record) -> _Identity:
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
            return _Identity(f"{_AGENT_FILE_PREFIX}{agent_id}", None, True)
        return _Identity(f"{session_id}:{_AGENT_FILE_PREFIX}{agent_id}", session_id, True)

    def _note_line(
        self, identity: _Identity, record: _Record, timestamp: datetime | None
    ) -> _SessionDraft:
        draft = self._draft(identity.session_key, identity.parent_key)
        if draft.project is None:
            draft.project = self._project(record)
        if draft.git_branch is None:
            draft.git_branch = text_or_none(record.gitBranch)
        if timestamp is not None:
            draft.see_time(timestamp)
            if self.memory.get(_MEM_FIRST_TIMESTAMP) is None:
                self.memory[_MEM_FIRST_TIMESTAMP] = _iso(timestamp)
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

    def _project(self, record: _Record) -> str | None:
        return text_or_none(record.cwd) or self.context.project_dir

    # -- events --

    def _event(
        self,
        record: _Record,
        message: _Message,
        identity: _Identity,
        timestamp: datetime | None,
    ) -> UsageEvent:
        usage = message.usage
        if not isinstance(usage, dict):
            raise BadRecord("empty_usage", f"usage is a {type(usage).__name__}, not an object")
        model = text_or_none(message.model)
        if model == SYNTHETIC_MODEL:
            raise BadRecord("synthetic_model")
        if timestamp is None:
            raise BadRecord("bad_timestamp", repr(record.timestamp)[:60])
        tokens = _tokens(usage)
        if tokens.is_empty:
            raise BadRecord("empty_usage", "no token counts")
        return UsageEvent(
            key=_event_key(record, message, usage, timestamp),
            source=SOURCE_NAME,
            timestamp=timestamp,
            tokens=tokens,
            model=model,
            provider="anthropic" if model is not None and model.startswith("claude") else None,
            session_key=identity.session_key,
            project=self._project(record),
            git_branch=text_or_none(record.gitBranch),
            reported_cost_usd=reported_cost(record.costUSD),
            pricing_context=_pricing_context(usage),
            raw_usage=orjson.dumps(usage),
            rank=self._rank(identity),
            aliases=_aliases(record, message),
            web_searches=_web_searches(usage),
        )

    def _advisor_events(
        self, event: UsageEvent, message: _Message, line: Line
    ) -> Iterator[UsageEvent]:
        """Advisor calls: ``usage.iterations[]`` entries of type ``advisor_message``.

        An advisor call is a separate billed request under its own model (e.g. Opus advising
        a Sonnet session) and is not in the top-level counters, so each is recorded as its
        own request, in the same session, keyed by the reply's key and the entry's index: a
        streamed partial line and a resumed copy name the same entries, and merge like the
        reply does. ``message`` entries repeat the top-level counters and a
        ``fallback_message`` entry is an attempt the top level already holds (or an
        unbilled failure): neither is counted."""
        iterations = message.usage.get("iterations")
        if not isinstance(iterations, list):
            return
        for index, entry in enumerate(iterations):
            if not isinstance(entry, dict) or entry.get("type") != ADVISOR_ITERATION:
                continue
            try:
                tokens = _tokens(entry)
            except BadRecord as bad:
                self._skip(bad.reason, line, f"usage.iterations[{index}]: {bad.detail}")
                continue
            if tokens.is_empty:
                self._skip("empty_usage", line, f"usage.iterations[{index}]: no token counts")
                continue
            model = text_or_none(entry.get("model"))
            yield event.evolve(
                key=f"{event.key}:iteration:{index}",
                tokens=tokens,
                model=model,
                provider="anthropic" if model is not None and model.startswith("claude") else None,
                reported_cost_usd=None,
                pricing_context=_pricing_context(entry),
                raw_usage=orjson.dumps(entry),
                aliases=(),
                web_searches=_web_searches(entry),
            )

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
        return [event.evolve(rank=event.rank + suffix) for event in self.events.values()]

    def _add_event(self, event: UsageEvent) -> None:
        earlier = self.events.get(event.key)
        if earlier is None:
            self.events[event.key] = event
            return
        # A streaming snapshot (or a replay) of a reply already seen in this chunk.
        self.events[event.key] = merge_events(earlier, event)
        self.duplicates += 1

    def _skip(self, reason: str, line: Line, detail: str) -> None:
        self.skips.append(Skip(reason, self.context.path, line.number, detail))


# --- reading one usage object -----------------------------------------------------------------


def _is_assistant(record: _Record, message: _Message) -> bool:
    """True for an assistant line's message, false for every other line's."""
    kind = record.type
    return kind == "assistant" or (kind is None and message.role == "assistant")


def _tokens(usage: dict[str, Any]) -> Tokens:
    """The buckets of a ``message.usage`` object (or of one ``usage.iterations[]`` entry,
    which has the same shape). Only advisor entries of ``usage.iterations[]`` are read, as
    requests of their own (``_advisor_events``): the others repeat the top level."""
    output = count_or_none(usage.get("output_tokens"), "output_tokens")
    write_5m, write_1h = _cache_writes(usage)
    return Tokens(
        input=count_or_none(usage.get("input_tokens"), "input_tokens"),
        cache_read=count_or_none(usage.get("cache_read_input_tokens"), "cache_read_input_tokens"),
        cache_write_5m=write_5m,
        cache_write_1h=write_1h,
        output=output,
        reasoning=_reasoning(usage, output),
    )


def _cache_writes(usage: dict[str, Any]) -> tuple[int | None, int | None]:
    """(5-minute, 1-hour) cache writes: the ``cache_creation`` split when it reports either
    part, else the whole ``cache_creation_input_tokens`` as 5-minute writes (the only TTL
    before the split existed) with the 1-hour part unknown."""
    split = usage.get("cache_creation")
    if isinstance(split, dict):
        write_5m = count_or_none(
            split.get("ephemeral_5m_input_tokens"), "cache_creation.ephemeral_5m_input_tokens"
        )
        write_1h = count_or_none(
            split.get("ephemeral_1h_input_tokens"), "cache_creation.ephemeral_1h_input_tokens"
        )
        if write_5m is not None or write_1h is not None:
            return write_5m, write_1h
    total = count_or_none(usage.get("cache_creation_input_tokens"), "cache_creation_input_tokens")
    return total, None


def _reasoning(usage: dict[str, Any], output: int | None) -> int | None:
    """Thinking tokens, when the API reported them (``output_tokens_details.thinking_tokens``,
    a part of ``output_tokens``). Unreported or implausible (not an int, above the output)
    means unknown: a display-only bucket never costs a billed request its place."""
    details = usage.get("output_tokens_details")
    if not isinstance(details, dict):
        return None
    try:
        thinking = count_or_none(details.get("thinking_tokens"), "thinking_tokens")
    except BadRecord:
        return None
    if thinking is None or output is None or thinking > output:
        return None
    return thinking


def _web_searches(usage: dict[str, Any]) -> int | None:
    """``server_tool_use.web_search_requests``: searches billed per search. Claude Code has
    been seen writing 0 where searches happened; what it reports is what is counted."""
    tools = usage.get("server_tool_use")
    if not isinstance(tools, dict):
        return None
    return count_or_none(tools.get("web_search_requests"), "server_tool_use.web_search_requests")


def _pricing_context(usage: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """Usage flags that change the price: fast mode and non-standard service tiers."""
    context: list[tuple[str, str]] = []
    tier = text_or_none(usage.get("service_tier"))
    if tier is not None and tier != "standard":
        context.append(("service_tier", tier))
    speed = text_or_none(usage.get("speed"))
    if speed is not None and speed not in _NO_SPEED_SURCHARGE:
        context.append(("speed", speed))
    return tuple(context)


def _event_key(
    record: _Record, message: _Message, usage: dict[str, Any], timestamp: datetime
) -> str:
    message_id = text_or_none(message.id)
    if message_id is not None:
        return f"{SOURCE_NAME}:{message_id}"
    request_id = text_or_none(record.requestId)
    if request_id is not None:
        return f"{SOURCE_NAME}:req:{request_id}"
    basis = orjson.dumps(
        [text_or_none(record.sessionId), _iso(timestamp), usage], option=orjson.OPT_SORT_KEYS
    )
    return f"{SOURCE_NAME}:hash:{hashlib.sha256(basis).hexdigest()[:32]}"


def _aliases(record: _Record, message: _Message) -> tuple[str, ...]:
    """The key Claude Code's OpenTelemetry ``api_request`` event gives this request
    (``claude_code:req:<request_id>``, the line's ``requestId``), when the line's own key is
    its message id; see :mod:`tokentrail.correlate`."""
    request_id = text_or_none(record.requestId)
    if request_id is None or text_or_none(message.id) is None:
        return ()
    return (f"{SOURCE_NAME}:req:{request_id}",)


def _iso(when: datetime) -> str:
    # Fixed width, so ranks built from it sort in time order.
    return when.isoformat(timespec="microseconds")
