"""What the readers of JSON records share: decoding one record, the digest that keys a record
without an id, the parser of a JSON-lines log, and the session facts a parser keeps in its
file's cursor.

Two families of skip reasons exist for a record that is not a JSON object, and each reader
keeps its own (they are what its users have seen in their sync reports): ``malformed_json``
for both failures (:func:`json_object`, :func:`malformed_or_object`), or ``invalid_json`` and
``not_an_object`` apart (:func:`invalid_or_object`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import KW_ONLY, dataclass, field, fields
from datetime import datetime
from typing import Any, ClassVar, Protocol, Self

import orjson

from tokentrail.errors import BadRecord
from tokentrail.sources.files import ParseResult, ParseState, open_regular
from tokentrail.sources.lines import Line, LinesEnd, iter_complete_lines
from tokentrail.usage import Session, Skip, ToolCall, ToolResult, UsageEvent, merge_events

# -- one record -----------------------------------------------------------------------------


def json_object(data: bytes | str) -> tuple[dict[str, Any] | None, str]:
    """A JSON record decoded as an object, or None and why it is not one (the reason a reader
    gives with its ``malformed_json`` skip)."""
    try:
        record = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        return None, str(exc)
    if not isinstance(record, dict):
        return None, f"a JSON {type(record).__name__}, not an object"
    return record, ""


def side_object(path: str, limit: int = -1) -> dict[str, Any] | None:
    """The JSON object of a side file read for facts it may hold (a config, a title, a list
    of projects), reading ``limit`` bytes at most: None when it is absent, unreadable, not a
    regular file or not a JSON object. Those facts are then unknown, never an error."""
    try:
        with open_regular(path) as handle:
            data = handle.read(limit)
    except OSError:
        return None
    return json_object(data)[0]


def malformed_or_object(data: bytes | str) -> dict[str, Any]:
    """A JSON record decoded as an object; raises :class:`BadRecord` ``malformed_json``."""
    record, problem = json_object(data)
    if record is None:
        raise BadRecord("malformed_json", problem)
    return record


def invalid_or_object(data: bytes | str) -> dict[str, Any]:
    """A JSON record decoded as an object; raises :class:`BadRecord` ``invalid_json`` (not
    JSON) or ``not_an_object`` (its type's name), the reasons of the Gemini, Qwen, Copilot
    and OpenCode readers."""
    try:
        record = orjson.loads(data)
    except orjson.JSONDecodeError as error:
        raise BadRecord("invalid_json", str(error)) from error
    if not isinstance(record, dict):
        raise BadRecord("not_an_object", type(record).__name__)
    return record


def digest(value: object) -> str:
    """What a record says, as a short hash: the key of a request its log gives no id (the
    same for every verbatim copy of it, whatever the order of its object's keys)."""
    basis = orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(basis).hexdigest()[:32]


# -- a JSON-lines log -----------------------------------------------------------------------


class LineHandler(Protocol):
    """What :func:`read_lines` feeds: every line of a log, then where the read ended."""

    def handle(self, line: Line) -> None: ...

    def result(self, end: LinesEnd) -> ParseResult: ...


def read_lines(
    handler: LineHandler, path: str, state: ParseState, prefilter: Sequence[bytes]
) -> ParseResult:
    """The lines of ``path`` added after ``state``, each given to ``handler``, then its result.

    An unreadable file raises ``OSError``: the sync reports it and keeps no cursor for it.
    """
    for item in iter_complete_lines(path, state, prefilter=prefilter):
        if isinstance(item, LinesEnd):
            return handler.result(item)
        handler.handle(item)
    raise AssertionError("iter_complete_lines always ends with LinesEnd")  # pragma: no cover


@dataclass(slots=True)
class JsonLinesParser:
    """What a reader of one JSON-lines log gathers: its events by key, its skips, the repeats
    it dropped and the times it saw. A reader adds :meth:`read_record` (one record, which may
    raise :class:`BadRecord` to be skipped) and, as it needs them, :meth:`sessions` and
    :meth:`memory` (kept in the cursor for the next read)."""

    load: ClassVar[Callable[[bytes], dict[str, Any]]] = malformed_or_object
    """How a line becomes a record, with the skip reasons of its reader's family."""

    path: str
    _: KW_ONLY
    events: dict[str, UsageEvent] = field(default_factory=dict)
    skips: list[Skip] = field(default_factory=list)
    duplicates: int = 0
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    tool_calls: list[ToolCall | ToolResult] = field(default_factory=list)

    def read(self, state: ParseState, prefilter: Sequence[bytes]) -> ParseResult:
        """Parse the lines added to the file after ``state`` (see :func:`read_lines`)."""
        return read_lines(self, self.path, state, prefilter)

    def handle(self, line: Line) -> None:
        try:
            self.read_record(type(self).load(line.data), line)
        except BadRecord as bad:
            self.skip(bad.reason, line.number, bad.detail)

    def read_record(self, record: dict[str, Any], line: Line) -> None:
        raise NotImplementedError

    def sessions(self) -> list[Session]:
        return []

    def memory(self) -> dict[str, Any] | None:
        """What the next read of the file must know; None keeps the cursor's memory as is."""
        return None

    def skip(self, reason: str, line: int | None, detail: str = "") -> None:
        self.skips.append(Skip(reason, self.path, line, detail))

    def keep(self, event: UsageEvent) -> None:
        """Count ``event``; a repeat of a key merges with the copy already kept."""
        self.see(event.timestamp)
        earlier = self.events.get(event.key)
        if earlier is not None:
            self.duplicates += 1
            event = merge_events(earlier, event)
        self.events[event.key] = event

    def keep_last(self, event: UsageEvent) -> None:
        """Count ``event``; a repeat of a key (the same record written again as it changed)
        replaces the copy kept."""
        if event.key in self.events:
            self.duplicates += 1
        self.events[event.key] = event

    def see(self, when: datetime) -> None:
        if self.first_seen is None or when < self.first_seen:
            self.first_seen = when
        if self.last_seen is None or when > self.last_seen:
            self.last_seen = when

    def result(self, end: LinesEnd) -> ParseResult:
        """What this read found, and the cursor after it."""
        memory = self.memory()
        if memory is not None:
            end.state.memory = memory
        found = self.finish(end.state)
        found.pending_partial_line = end.pending_partial_line
        return found

    def finish(self, state: ParseState) -> ParseResult:
        """What was found, with ``state`` as the cursor (for a document read whole)."""
        return ParseResult(
            events=list(self.events.values()),
            sessions=self.sessions(),
            skips=self.skips,
            state=state,
            duplicates=self.duplicates,
            tool_calls=self.tool_calls,
        )


# -- session facts kept in the cursor -------------------------------------------------------


@dataclass(slots=True)
class RememberedText:
    """A dataclass of optional strings that the next read of a file must know: kept in its
    cursor's memory as they are, and read back from it (any other value is left out). A
    field whose name begins with ``_`` is the read's own: neither kept nor read back."""

    @classmethod
    def from_memory(cls, memory: Mapping[str, Any]) -> Self:
        loaded = cls()
        for item in fields(loaded):
            value = memory.get(item.name)
            if isinstance(value, str) and not item.name.startswith("_"):
                setattr(loaded, item.name, value)
        return loaded

    def to_memory(self) -> dict[str, Any]:
        kept = (item.name for item in fields(self) if not item.name.startswith("_"))
        return {name: getattr(self, name) for name in kept}

    def take(self, record: Mapping[str, Any], names: Mapping[str, str]) -> None:
        """For each ``record`` key of ``names``, its non-empty string replaces the field it
        names; an absent, empty or non-string value leaves the field as it was."""
        for key, name in names.items():
            value = record.get(key)
            if isinstance(value, str) and value:
                setattr(self, name, value)
