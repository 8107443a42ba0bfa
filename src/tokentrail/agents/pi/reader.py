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

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

import orjson

from tokentrail.agents.pi import AGENT
from tokentrail.errors import BadRecord
from tokentrail.sources.discovery import find_files
from tokentrail.sources.files import ParseResult, ParseState, SourceFile
from tokentrail.sources.jsonl import JsonLinesParser, RememberedText, digest
from tokentrail.sources.lines import Line
from tokentrail.sources.values import count_or_none, parse_timestamp, reported_cost, text_or_none
from tokentrail.usage import Session, Tokens, UsageEvent

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
        header = _Header.of(state.memory, file.path)
        return _FileParser(file.path, header).read(state, PREFILTER)


def _expand_home(text: str, home: Path) -> Path:
    # pi expands "~" itself; expand it against the given home so callers and tests control it
    if text == "~":
        return home
    if text.startswith("~/"):
        return home / text[2:]
    return Path(text)


# --- what the file says about its session ---------------------------------------------------


@dataclass(slots=True)
class _Header(RememberedText):
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
    def of(cls, memory: Mapping[str, Any], path: str) -> _Header:
        """What earlier reads of the file at ``path`` learnt, and what its path says."""
        header = cls.from_memory(memory)
        if header.session_id is None:
            header.session_id = _uuid_of(Path(path))
        folder = Path(path).parent.name
        # project folders are "--<cwd>--" (a cwd may well contain the word); subagent folders
        # sit inside them
        if _SUBAGENT_FOLDER_MARK in folder and not folder.startswith("--"):
            header.subagent = "yes"
        return header

    def absorb(self, record: Mapping[str, Any]) -> None:
        """Take the fields of the ``session`` header line."""
        self.take(record, {"id": "session_id", "cwd": "cwd", "parentSession": "parent_file"})
        started = parse_timestamp(record.get("timestamp"))
        if started is not None:
            self.started = started.isoformat(timespec="microseconds")

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
class _FileParser(JsonLinesParser):
    header: _Header

    def read_record(self, record: dict[str, Any], line: Line) -> None:
        kind = record.get("type")
        if kind == "session":
            self.header.absorb(record)
        elif kind == "session_info":
            name = text_or_none(record.get("name"))
            if name is not None:
                self.header.title = name
        elif kind == "message":
            self._message(record)

    def _message(self, record: dict[str, Any]) -> None:
        message = record.get("message")
        if not isinstance(message, dict) or message.get("role") != "assistant":
            return
        if "usage" not in message:
            return
        event = self._event(record, message)
        if self.header.model is None:
            self.header.model = event.model
        self.keep(event)

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

    def memory(self) -> dict[str, Any]:
        return self.header.to_memory()

    def sessions(self) -> list[Session]:
        session = self.header.session()
        if session is None:
            return []
        started = session.started_at or self.first_seen
        return [replace(session, started_at=started, ended_at=self.last_seen)]


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
    basis = [
        when.isoformat(timespec="microseconds"),
        text_or_none(message.get("provider")),
        text_or_none(message.get("model")),
        usage,
    ]
    return f"{SOURCE}:{digest(basis)}"
