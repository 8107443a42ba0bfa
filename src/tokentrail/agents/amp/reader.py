"""Amp (Sourcegraph's ampcode) threads: ``~/.local/share/amp/threads/T-<uuid>.json``.

Facts this parser relies on (what other usage tools and session viewers learned from real
threads; Amp's client is not open source):

* Amp keeps its data in ``$XDG_DATA_HOME/amp`` (``~/.local/share/amp`` when unset: the same
  path under the home on macOS, and ``%USERPROFILE%\\.local\\share\\amp`` on Windows, where
  Amp's manual puts the CLI's ``secrets.json`` beside the threads; not ``%APPDATA%``); each
  thread is one JSON document ``threads/T-<uuid>.json``,
  rewritten as the thread grows. It has ``id``, ``created`` (epoch ms), ``title``,
  ``env.initial.trees[]`` (the workspace folders: ``uri``, ``displayName``) and ``messages[]``.
* Newer threads carry ``usageLedger.events[]``: one entry per billed model call, with ``id``,
  ``timestamp``, ``model``, ``credits`` (Amp's own unit, not dollars), ``tokens`` (``input``,
  ``output``, ``total``, sometimes the cache counts) and ``toMessageId``, the assistant
  message whose ``usage`` holds the cache counts. Without a ledger, each assistant message's
  ``usage`` is one call: ``model``, ``timestamp``, ``inputTokens``, ``outputTokens``,
  ``cacheCreationInputTokens``, ``cacheReadInputTokens``, ``totalTokens``, ``credits``.
* Buckets follow Anthropic's meaning (input excludes both cache buckets), except for OpenAI
  models: there Amp reports ``inputTokens`` as 0 and puts the whole uncached prompt into
  ``cacheCreationInputTokens`` (OpenAI bills no cache writes), so for them that bucket is
  uncached input. Peers disagree on this; it is the reading that makes the prompt add up.

What is counted: the ledger's events when the thread has any (each event once, keyed by its
id), else the assistant messages' usage (keyed by the message id). A thread is re-read whole
whenever it changes; the keys make a re-read count nothing twice.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import unquote, urlparse

import orjson

from tokentrail.agents.amp import AGENT
from tokentrail.errors import BadRecord
from tokentrail.sources.discovery import find_files
from tokentrail.sources.files import FileKind, ParseResult, ParseState, SourceFile, read_regular
from tokentrail.sources.jsonl import digest, malformed_or_object
from tokentrail.sources.values import count_or_none, parse_timestamp, text_or_none
from tokentrail.usage import Session, Skip, Tokens, UsageEvent

SOURCE = AGENT.name
THREAD_GLOB = "T-*.json"

_OPENAI_MODEL = re.compile(r"^(openai/)?(gpt-|o\d)", re.IGNORECASE)
"""Models whose ``cacheCreationInputTokens`` is Amp's uncached input (see the module doc)."""


class AmpSource:
    """Amp threads: the usage ledger's events, else the assistant messages' usage."""

    name: ClassVar[str] = AGENT.name
    parser_version: ClassVar[int] = 1
    env_var: ClassVar[str] = AGENT.override

    def default_roots(self, env: Mapping[str, str], home: Path) -> list[Path]:
        """``$XDG_DATA_HOME/amp/threads``, else ``~/.local/share/amp/threads`` (on Linux, macOS
        and Windows alike: Amp uses the XDG layout under the home everywhere)."""
        data_home = env.get("XDG_DATA_HOME", "").strip()
        base = Path(data_home).expanduser() if data_home else home / ".local" / "share"
        return [base / "amp" / "threads"]

    def discover(self, roots: Sequence[Path]) -> Iterator[SourceFile]:
        """The ``T-*.json`` threads of each root (a thread may be named directly)."""
        files: dict[str, FileKind] = {THREAD_GLOB: "whole"}
        return find_files(SOURCE, roots, files, root_files={"*.json": "whole"})

    def parse(self, file: SourceFile, state: ParseState) -> ParseResult:
        # an unreadable file raises OSError: the sync reports it and keeps no cursor for it
        data = read_regular(file.path)
        kept = ParseState(len(data), 0, {})
        try:
            document = malformed_or_object(data)
        except BadRecord as bad:
            return ParseResult(skips=[Skip(bad.reason, file.path, None, bad.detail)], state=kept)
        reader = _ThreadReader(file.path, _Thread.of(file.path, document))
        reader.read(document)
        return reader.result(kept)


# --- the thread -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Thread:
    thread_id: str
    created: datetime | None
    title: str | None
    project: str | None

    @classmethod
    def of(cls, path: str, document: Mapping[str, Any]) -> _Thread:
        thread_id = text_or_none(document.get("id")) or Path(path).stem
        return cls(
            thread_id=thread_id,
            created=parse_timestamp(document.get("created")),
            title=text_or_none(document.get("title")),
            project=_project(document),
        )

    @property
    def key(self) -> str:
        return f"{SOURCE}:{self.thread_id}"


def _project(document: Mapping[str, Any]) -> str | None:
    """The first workspace folder of the thread: its path, else its display name."""
    env = document.get("env")
    initial = env.get("initial") if isinstance(env, dict) else None
    trees = initial.get("trees") if isinstance(initial, dict) else None
    first = trees[0] if isinstance(trees, list) and trees else None
    if not isinstance(first, dict):
        return None
    uri = text_or_none(first.get("uri"))
    if uri is not None and uri.startswith("file://"):
        return unquote(urlparse(uri).path) or None
    return text_or_none(first.get("displayName"))


@dataclass(slots=True)
class _ThreadReader:
    path: str
    thread: _Thread
    events: list[UsageEvent] = field(default_factory=list)
    skips: list[Skip] = field(default_factory=list)
    keys: set[str] = field(default_factory=set)
    duplicates: int = 0
    model: str | None = None
    last: datetime | None = None

    def read(self, document: Mapping[str, Any]) -> None:
        messages = _assistant_messages(document.get("messages"))
        ledger = document.get("usageLedger")
        entries = ledger.get("events") if isinstance(ledger, dict) else None
        if isinstance(entries, list) and entries:
            for index, entry in enumerate(entries):
                self._try(self._ledger_event, entry, index, messages)
        else:
            for index, message in enumerate(messages.values()):
                self._try(self._message_event, message, index, messages)

    def _try(
        self,
        make: Any,
        item: object,
        index: int,
        messages: Mapping[str, Mapping[str, Any]],
    ) -> None:
        try:
            event = make(item, index, messages)
        except BadRecord as bad:
            self.skips.append(Skip(bad.reason, self.path, None, f"#{index}: {bad.detail}"))
            return
        if event is None:
            return
        if event.key in self.keys:
            self.duplicates += 1
            return
        self.keys.add(event.key)
        self.events.append(event)
        self.model = self.model or event.model
        if self.last is None or event.timestamp > self.last:
            self.last = event.timestamp

    def _ledger_event(
        self, entry: object, index: int, messages: Mapping[str, Mapping[str, Any]]
    ) -> UsageEvent | None:
        if not isinstance(entry, dict):
            raise BadRecord("malformed_usage", "a ledger event that is not an object")
        tokens = entry.get("tokens")
        if not isinstance(tokens, dict):
            raise BadRecord("empty_usage", "a ledger event without tokens")
        model = text_or_none(entry.get("model"))
        message = messages.get(_message_id(entry.get("toMessageId")) or "", {})
        found = message.get("usage")
        usage: Mapping[str, Any] = found if isinstance(found, dict) else {}
        cache_read = _first(tokens, usage, "cacheReadInputTokens")
        cache_write = _first(tokens, usage, "cacheCreationInputTokens")
        counts = _tokens(
            model,
            count_or_none(tokens.get("input"), "tokens.input"),
            count_or_none(tokens.get("output"), "tokens.output"),
            cache_read,
            cache_write,
        )
        when = parse_timestamp(entry.get("timestamp"))
        if when is None:
            raise BadRecord("bad_timestamp", repr(entry.get("timestamp"))[:60])
        event_id = text_or_none(entry.get("id")) or _hash([entry.get("timestamp"), model, tokens])
        return self._event(f"ledger:{event_id}", when, model, counts, entry)

    def _message_event(
        self, message: Mapping[str, Any], index: int, messages: Mapping[str, Mapping[str, Any]]
    ) -> UsageEvent | None:
        usage = message.get("usage")
        if not isinstance(usage, dict):
            return None
        model = text_or_none(usage.get("model")) or text_or_none(message.get("model"))
        counts = _tokens(
            model,
            count_or_none(usage.get("inputTokens"), "inputTokens"),
            count_or_none(usage.get("outputTokens"), "outputTokens"),
            count_or_none(usage.get("cacheReadInputTokens"), "cacheReadInputTokens"),
            count_or_none(usage.get("cacheCreationInputTokens"), "cacheCreationInputTokens"),
        )
        # a message without its own time is dated when its thread started (a lower bound)
        when = (
            parse_timestamp(usage.get("timestamp"))
            or parse_timestamp(message.get("timestamp"))
            or self.thread.created
        )
        if when is None:
            raise BadRecord("bad_timestamp", repr(usage.get("timestamp"))[:60])
        message_id = _message_id(message.get("messageId")) or _hash([usage])
        return self._event(f"msg:{message_id}", when, model, counts, usage)

    def _event(
        self, suffix: str, when: datetime, model: str | None, tokens: Tokens, raw: object
    ) -> UsageEvent | None:
        if tokens.is_empty:
            raise BadRecord("empty_usage", "no token counts")
        if tokens.total == 0:
            return None  # a call that never reached the model: nothing billed
        return UsageEvent(
            key=f"{SOURCE}:{self.thread.thread_id}:{suffix}",
            source=SOURCE,
            timestamp=when,
            tokens=tokens,
            model=model,
            session_key=self.thread.key,
            project=self.thread.project,
            raw_usage=orjson.dumps(raw),
            rank="0|",
        )

    def result(self, state: ParseState) -> ParseResult:
        session = Session(
            key=self.thread.key,
            source=SOURCE,
            project=self.thread.project,
            title=self.thread.title,
            started_at=self.thread.created,
            ended_at=self.last,
            model=self.model,
        )
        return ParseResult(
            events=self.events,
            sessions=[session],
            skips=self.skips,
            state=state,
            duplicates=self.duplicates,
        )


def _assistant_messages(value: object) -> dict[str, Mapping[str, Any]]:
    """The assistant messages by id (their position when they have none)."""
    found: dict[str, Mapping[str, Any]] = {}
    for index, message in enumerate(value if isinstance(value, list) else ()):
        if isinstance(message, dict) and message.get("role") == "assistant":
            found[_message_id(message.get("messageId")) or f"#{index}"] = message
    return found


def _message_id(value: object) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    return text_or_none(value)


def _first(tokens: Mapping[str, Any], usage: Mapping[str, Any], name: str) -> int | None:
    own = count_or_none(tokens.get(name), f"tokens.{name}")
    return own if own is not None else count_or_none(usage.get(name), f"usage.{name}")


def _tokens(
    model: str | None,
    uncached: int | None,
    output: int | None,
    cache_read: int | None,
    cache_write: int | None,
) -> Tokens:
    """Amp's counts as the ledger's buckets (see the module doc for OpenAI models)."""
    if model is not None and _OPENAI_MODEL.match(model) and cache_write:
        uncached = (uncached or 0) + cache_write
        cache_write = 0
    return Tokens(input=uncached, cache_read=cache_read, cache_write_5m=cache_write, output=output)


def _hash(value: object) -> str:
    return "h" + digest(value)
