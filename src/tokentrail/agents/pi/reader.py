"""pi coding agent sessions: ``<agent dir>/sessions/--<cwd-with-dashes>--/<time>_<uuid>.jsonl``.

Facts this parser relies on (badlogic/pi-mono, ``packages/coding-agent/src/config.ts``,
``src/core/session-manager.ts``, ``docs/session.md`` and ``packages/ai/src/types.ts``):

* The agent dir is ``$PI_CODING_AGENT_DIR`` when set (``~`` expanded), else ``~/.pi/agent``
  (``os.homedir()``, so ``%USERPROFILE%\\.pi\\agent`` on Windows); sessions live in its
  ``sessions/`` folder, one folder per working directory (``/``, ``\\`` and ``:`` replaced by
  ``-``, wrapped in ``--``), one file per session: ``<ISO time>_<session uuid>.jsonl``.
* The first line is a header ``{"type": "session", "id", "timestamp", "cwd",
  "parentSession"?}``; every other line is an entry with an 8-hex ``id`` unique within its
  file only. ``session_info`` entries carry the session's ``name``.
* A billed request is a ``message`` entry whose ``message.role`` is ``assistant``:
  ``message.usage`` = ``{input, output, cacheRead, cacheWrite, totalTokens, cost: {…, total}}``
  with disjoint buckets (``input`` excludes both cache buckets; ``totalTokens`` is their sum),
  ``message.provider``, ``message.model`` and ``message.timestamp`` (epoch ms, set when the
  request started). ``cost.total`` is pi's own price, kept as the reported cost.
* Repeats: ``/fork`` (``forkFrom``) and ``/tree`` branches (``createBranchedSession``) write a
  new file, with a new session id and ``parentSession`` naming the parent file, that copies the
  parent's entries verbatim; subagent extensions write files (e.g. under
  ``subagent-artifacts/``) that may start with the parent's history; loading a version-1 file
  rewrites it with freshly generated entry ids. So neither the file nor the entry id tells a
  copy from a new request; the copied message itself does: the key is a hash of the assistant
  message's start time, provider, model and usage object, identical in every copy and in any
  read order. The copy in the session that started first (the original) owns the request.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

import orjson

from tokentrail.agents.pi import AGENT
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
    json_object,
    parse_timestamp,
    reported_cost,
    text_or_none,
)
from tokentrail.usage import Session, Skip, Tokens, UsageEvent, merge_events

SOURCE = AGENT.name
AGENT_DIR_VARIABLE = "PI_CODING_AGENT_DIR"

PREFILTER: tuple[bytes, ...] = (b'"usage"', b'"type":"session')
"""Lines worth parsing: assistant messages (``usage``), the header (``session``) and the
session name (``session_info``). pi writes compact JSON (``JSON.stringify``)."""

_SUBAGENT_FOLDER_MARK = "subagent"
"""A folder whose name contains this (``subagent-artifacts/``) holds subagents' sessions."""


class PiSource:
    """The pi coding agent's session files (main sessions, forks, branches and subagents)."""

    name: ClassVar[str] = SOURCE
    parser_version: ClassVar[int] = 1
    env_var: ClassVar[str] = AGENT.override

    def default_roots(self, env: Mapping[str, str], home: Path) -> list[Path]:
        """``$PI_CODING_AGENT_DIR/sessions``, else ``~/.pi/agent/sessions``."""
        agent_dir = env.get(AGENT_DIR_VARIABLE, "").strip()
        if agent_dir:
            return [_expand_home(agent_dir, home) / "sessions"]
        return [home / ".pi" / "agent" / "sessions"]

    def discover(self, roots: Sequence[Path]) -> Iterator[SourceFile]:
        """Every ``*.jsonl`` under ``roots``, recursively (subagent folders included)."""
        return find_files(SOURCE, roots, {"**/*.jsonl": "append"}, root_files={"*.jsonl": "append"})

    def parse(self, file: SourceFile, state: ParseState) -> ParseResult:
        parser = _FileParser(file.path, _Header.from_memory(state.memory, file.path))
        # an unreadable file raises OSError: the sync reports it and keeps no cursor for it
        for item in iter_complete_lines(file.path, state, prefilter=PREFILTER):
            if isinstance(item, LinesEnd):
                return parser.result(item)
            parser.handle(item)
        raise AssertionError("iter_complete_lines always ends with LinesEnd")  # pragma: no cover


def _expand_home(text: str, home: Path) -> Path:
    # pi expands "~" itself; expand it against the given home so callers and tests control it
    if text == "~":
        return home
    if text.startswith("~/"):
        return home / text[2:]
    return Path(text)


# --- what the file says about its session ---------------------------------------------------


@dataclass(slots=True)
class _Header:
    """The session a file records, from its header line and path (kept in ``state.memory``:
    later reads of the file only see new lines)."""

    session_id: str | None = None
    cwd: str | None = None
    started: str | None = None
    parent_file: str | None = None
    title: str | None = None
    model: str | None = None
    subagent: str | None = None
    """``"yes"`` when the file sits in a subagent folder (a string: memory holds strings)."""

    @classmethod
    def from_memory(cls, memory: Mapping[str, Any], path: str) -> _Header:
        header = cls()
        for item in fields(cls):
            value = memory.get(item.name)
            if isinstance(value, str):
                setattr(header, item.name, value)
        if header.session_id is None:
            header.session_id = _uuid_of(Path(path))
        folder = Path(path).parent.name
        # project folders are "--<cwd>--" (a cwd may well contain the word); subagent folders
        # sit inside them
        if _SUBAGENT_FOLDER_MARK in folder and not folder.startswith("--"):
            header.subagent = "yes"
        return header

    def to_memory(self) -> dict[str, Any]:
        return {item.name: getattr(self, item.name) for item in fields(self)}

    def absorb(self, record: Mapping[str, Any]) -> None:
        """Take the fields of the ``session`` header line."""
        self.session_id = text_or_none(record.get("id")) or self.session_id
        self.cwd = text_or_none(record.get("cwd")) or self.cwd
        started = parse_timestamp(record.get("timestamp"))
        if started is not None:
            self.started = started.isoformat(timespec="microseconds")
        self.parent_file = text_or_none(record.get("parentSession")) or self.parent_file

    @property
    def session_key(self) -> str | None:
        return f"{SOURCE}:{self.session_id}" if self.session_id else None

    @property
    def rank(self) -> str:
        # Lower wins attribution: the session that started first wrote the request; forks,
        # branches and subagents that copied it started later. Fixed width ISO times sort.
        return f"{1 if self.subagent else 0}|{self.started or ''}|"

    def session(self) -> Session | None:
        key = self.session_key
        if key is None:
            return None
        parent_id = _uuid_of(Path(self.parent_file)) if self.parent_file else None
        relationship = None
        if parent_id is not None:
            relationship = "subagent" if self.subagent else "fork"
        return Session(
            key=key,
            source=SOURCE,
            parent_key=f"{SOURCE}:{parent_id}" if parent_id else None,
            relationship=relationship,
            project=self.cwd,
            title=self.title,
            started_at=parse_timestamp(self.started),
            model=self.model,
        )


def _uuid_of(path: Path) -> str | None:
    """The session id in a session file's name, ``<ISO time>_<uuid>.jsonl``."""
    _, separator, tail = path.stem.rpartition("_")
    return tail if separator and tail else None


# --- parsing ----------------------------------------------------------------------------------


@dataclass(slots=True)
class _FileParser:
    path: str
    header: _Header
    events: dict[str, UsageEvent] = field(default_factory=dict)
    skips: list[Skip] = field(default_factory=list)
    duplicates: int = 0
    first_seen: datetime | None = None
    last_seen: datetime | None = None

    def handle(self, line: Line) -> None:
        record, problem = json_object(line.data)
        if record is None:
            self._skip("malformed_json", line, problem)
            return
        kind = record.get("type")
        if kind == "session":
            self.header.absorb(record)
        elif kind == "session_info":
            name = text_or_none(record.get("name"))
            if name is not None:
                self.header.title = name
        elif kind == "message":
            self._message(record, line)

    def _message(self, record: dict[str, Any], line: Line) -> None:
        message = record.get("message")
        if not isinstance(message, dict) or message.get("role") != "assistant":
            return
        if "usage" not in message:
            return
        try:
            event = self._event(record, message)
        except BadRecord as bad:
            self._skip(bad.reason, line, bad.detail)
            return
        if self.header.model is None:
            self.header.model = event.model
        self._see(event.timestamp)
        earlier = self.events.get(event.key)
        if earlier is not None:
            self.duplicates += 1
            event = merge_events(earlier, event)
        self.events[event.key] = event

    def _event(self, record: dict[str, Any], message: dict[str, Any]) -> UsageEvent:
        usage = message.get("usage")
        if not isinstance(usage, dict):
            raise BadRecord("empty_usage", f"usage is a {type(usage).__name__}, not an object")
        timestamp = parse_timestamp(message.get("timestamp")) or parse_timestamp(
            record.get("timestamp")
        )
        if timestamp is None:
            raise BadRecord("bad_timestamp", repr(message.get("timestamp"))[:60])
        tokens = _tokens(usage)
        if tokens.is_empty:
            raise BadRecord("empty_usage", "no token counts")
        if tokens.total == 0:
            # an error or abort before the provider answered: pi records zeros, nothing billed
            raise BadRecord("empty_usage", f"stopReason={message.get('stopReason')!r}")
        return UsageEvent(
            key=_event_key(message, usage, timestamp),
            source=SOURCE,
            timestamp=timestamp,
            tokens=tokens,
            model=text_or_none(message.get("model")),
            provider=text_or_none(message.get("provider")),
            session_key=self.header.session_key,
            project=self.header.cwd,
            reported_cost_usd=_reported_cost(usage, tokens),
            raw_usage=orjson.dumps(usage),
            rank=self.header.rank,
        )

    def _see(self, when: datetime) -> None:
        if self.first_seen is None or when < self.first_seen:
            self.first_seen = when
        if self.last_seen is None or when > self.last_seen:
            self.last_seen = when

    def _skip(self, reason: str, line: Line, detail: str) -> None:
        self.skips.append(Skip(reason, self.path, line.number, detail))

    def result(self, end: LinesEnd) -> ParseResult:
        end.state.memory = self.header.to_memory()
        sessions = []
        session = self.header.session()
        if session is not None:
            started = session.started_at or self.first_seen
            sessions.append(replace(session, started_at=started, ended_at=self.last_seen))
        return ParseResult(
            events=list(self.events.values()),
            sessions=sessions,
            skips=self.skips,
            state=end.state,
            duplicates=self.duplicates,
            pending_partial_line=end.pending_partial_line,
        )


def _tokens(usage: Mapping[str, Any]) -> Tokens:
    """pi's buckets are disjoint already: ``input`` is uncached, ``cacheWrite`` has no TTL split
    (counted as 5-minute writes, the default lifetime), reasoning is not reported apart."""
    return Tokens(
        input=count_or_none(usage.get("input"), "input"),
        cache_read=count_or_none(usage.get("cacheRead"), "cacheRead"),
        cache_write_5m=count_or_none(usage.get("cacheWrite"), "cacheWrite"),
        output=count_or_none(usage.get("output"), "output"),
    )


def _reported_cost(usage: Mapping[str, Any], tokens: Tokens) -> float | None:
    """pi's own price (``cost.total``). pi writes 0 for a model it has no price for, so a zero
    for a request that used tokens is "not known", not "free"."""
    cost = usage.get("cost")
    total = reported_cost(cost.get("total")) if isinstance(cost, dict) else None
    return None if total == 0 and tokens.total > 0 else total


def _event_key(message: Mapping[str, Any], usage: Mapping[str, Any], when: datetime) -> str:
    """The same for every verbatim copy of a request (fork, branch, subagent, migration)."""
    basis = orjson.dumps(
        [
            when.isoformat(timespec="microseconds"),
            text_or_none(message.get("provider")),
            text_or_none(message.get("model")),
            usage,
        ],
        option=orjson.OPT_SORT_KEYS,
    )
    return f"{SOURCE}:{hashlib.sha256(basis).hexdigest()[:32]}"
