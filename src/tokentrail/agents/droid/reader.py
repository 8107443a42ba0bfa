"""Factory Droid sessions: ``~/.factory/sessions/<cwd-slug>/<session id>.settings.json``.

Facts this parser relies on (Factory's CLI docs, and what other usage tools and session
viewers learned from real homes; Droid is not open source):

* Droid keeps everything in ``~/.factory`` (``%USERPROFILE%\\.factory`` on Windows, the same
  name on macOS: Factory's settings docs put ``settings.json`` there on each platform);
  sessions live in ``sessions/``, one folder per working directory (its path with ``/`` turned
  into ``-``), and older builds wrote them straight into ``sessions/``. Each session is a pair:
  ``<id>.jsonl`` (the conversation; its first line is
  ``{"type": "session_start", "id", "title", "sessionTitle", "cwd", …}``) and
  ``<id>.settings.json``.
* ``<id>.settings.json`` is rewritten as the session goes on. ``tokenUsage`` holds the
  session's *running totals*: ``inputTokens`` (uncached), ``cacheReadTokens``,
  ``cacheCreationTokens``, ``outputTokens`` and ``thinkingTokens`` (reported apart from the
  output: billed as output on top of it). ``model`` is the model in use (``custom:…`` for a
  model the user brought), ``providerLock`` its provider, ``providerLockTimestamp`` when the
  session's provider was fixed. No per-request usage and no cost is written anywhere.

What is counted: the growth of ``tokenUsage`` since the last read, as one request-like event
dated when the file was written (approximate time, exact totals), marked as derived from a
snapshot, through the rules of :mod:`tokentrail.sources.snapshots` (never negative, never
twice, a rebuilt total starts a new generation). The same session id can be found in two
files (a session written by an older build at the top of ``sessions/`` and again in its
project folder): they are one session. The growth of one copy is keyed by the session and the
total before it, so the same stretch read from either copy is one request; and a copy read for
the first time starts from the largest other copy that is not ahead of it (see
:func:`_first_baseline`), so what that copy counted is not counted again.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

import orjson

from tokentrail.agents.droid import AGENT
from tokentrail.errors import BadRecord
from tokentrail.sources import snapshots
from tokentrail.sources.discovery import find_files
from tokentrail.sources.files import FileKind, ParseResult, ParseState, SourceFile, open_regular
from tokentrail.sources.jsonl import json_object, malformed_or_object
from tokentrail.sources.values import count_or_none, parse_timestamp, text_or_none
from tokentrail.usage import Session, Skip, UsageEvent

SOURCE = AGENT.name
SETTINGS_SUFFIX = ".settings.json"
HISTORY_SUFFIX = ".jsonl"

BUCKETS: tuple[str, ...] = (
    "inputTokens",
    "cacheReadTokens",
    "cacheCreationTokens",
    "outputTokens",
    "thinkingTokens",
)
"""``tokenUsage``'s counters, in the order the parser memory keeps them."""

ENTRY = "session"
"""The one entry of a Droid snapshot: its totals are the session's, whatever the model."""

HEADER_BYTES = 64 * 1024
"""How much of ``<id>.jsonl`` is read for its ``session_start`` line (the folder and title)."""


class DroidSource:
    """Factory Droid: the growth of each session's ``tokenUsage``."""

    name: ClassVar[str] = AGENT.name
    parser_version: ClassVar[int] = 1
    env_var: ClassVar[str] = AGENT.override

    def default_roots(self, env: Mapping[str, str], home: Path) -> list[Path]:
        """``~/.factory/sessions`` (the same under the home on Linux, macOS and Windows)."""
        return [home / ".factory" / "sessions"]

    def discover(self, roots: Sequence[Path]) -> Iterator[SourceFile]:
        """Every ``*.settings.json`` under the roots, recursively."""
        files: dict[str, FileKind] = {f"**/*{SETTINGS_SUFFIX}": "whole"}
        return find_files(SOURCE, roots, files, root_files={f"*{SETTINGS_SUFFIX}": "whole"})

    def parse(self, file: SourceFile, state: ParseState) -> ParseResult:
        # an unreadable file raises OSError: the sync reports it and keeps no cursor for it
        data, seen_at = snapshots.read_document(file.path)
        kept = ParseState(len(data), 0, dict(state.memory))
        try:
            settings = malformed_or_object(data)
            totals = _totals(settings)
        except BadRecord as bad:
            # nothing changes: the next good read counts from the last good totals
            return ParseResult(skips=[Skip(bad.reason, file.path, None, bad.detail)], state=kept)
        session = _SessionFacts.of(file.path, settings)
        result = ParseResult(state=kept, sessions=[session.session(seen_at)])
        if totals is None:
            return result  # no request yet
        memory = state.memory
        if snapshots.MEM_TOTALS not in memory:
            memory = _first_baseline(file.path, session.session_id, totals)
        compared = snapshots.step(memory, {ENTRY: totals}, BUCKETS)
        if compared.rebuilt is not None:
            result.skips.append(Skip("snapshot_rebuilt", file.path, None, compared.rebuilt))
        for delta, _ in compared.growth.values():
            result.events.append(
                session.event(compared.generation, compared.start(ENTRY), delta, seen_at)
            )
        result.state.memory = snapshots.remember(compared.generation, {ENTRY: totals})
        return result


def _session_id(path: str) -> str:
    return Path(path).name.removesuffix(SETTINGS_SUFFIX)


# --- one settings file ------------------------------------------------------------------------


def _totals(settings: Mapping[str, Any]) -> snapshots.Totals | None:
    """``tokenUsage`` as counts in :data:`BUCKETS` order; None before the first request."""
    usage = settings.get("tokenUsage")
    if usage is None:
        return None
    if not isinstance(usage, dict):
        raise BadRecord("malformed_usage", f"tokenUsage is a {type(usage).__name__}")
    counts = tuple(count_or_none(usage.get(name), f"tokenUsage.{name}") or 0 for name in BUCKETS)
    if not any(counts):
        return None
    return snapshots.Totals(counts)


def _first_baseline(path: str, session_id: str, totals: snapshots.Totals) -> dict[str, Any]:
    """The memory a copy read for the first time starts from: the largest other copy of the
    session that is not ahead of it in any counter (ties go to the path that sorts first),
    because that copy counts (or counted) that stretch itself; no such copy, nothing."""
    best: snapshots.Totals | None = None
    for other in _copies(path, session_id):
        try:
            theirs = _totals(malformed_or_object(_read_small(other)))
        except (OSError, BadRecord):
            continue
        if theirs is None or any(t > o for t, o in zip(theirs.tokens, totals.tokens, strict=True)):
            continue
        if theirs.tokens == totals.tokens and other > path:
            continue  # equal copies: the first path counts them
        if best is None or theirs.total > best.total:
            best = theirs
    return snapshots.remember(0, {ENTRY: best}) if best is not None else {}


def _copies(path: str, session_id: str) -> list[str]:
    """Other files of the same session in the same sessions folder (top level and project
    folders)."""
    name = f"{session_id}{SETTINGS_SUFFIX}"
    here = Path(path)
    found: set[str] = set()
    for base in (here.parent, here.parent.parent):
        for candidate in (base / name, *base.glob(f"*/{name}")):
            if candidate.is_file():
                found.add(str(candidate))
    found.discard(str(here))
    return sorted(found)


def _read_small(path: str, limit: int = 16 * 1024 * 1024) -> bytes:
    with open_regular(path) as handle:
        return handle.read(limit)


# --- the session ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _SessionFacts:
    session_id: str
    model: str | None
    provider: str | None
    started: datetime | None
    project: str | None
    title: str | None

    @classmethod
    def of(cls, path: str, settings: Mapping[str, Any]) -> _SessionFacts:
        session_id = _session_id(path)
        header = _history_header(Path(path).with_name(f"{session_id}{HISTORY_SUFFIX}"))
        return cls(
            session_id=session_id,
            model=text_or_none(settings.get("model")),
            provider=text_or_none(settings.get("providerLock")),
            started=parse_timestamp(settings.get("providerLockTimestamp")),
            project=text_or_none(header.get("cwd")),
            title=text_or_none(header.get("sessionTitle")) or text_or_none(header.get("title")),
        )

    @property
    def key(self) -> str:
        return f"{SOURCE}:{self.session_id}"

    def session(self, seen_at: datetime) -> Session:
        return Session(
            key=self.key,
            source=SOURCE,
            project=self.project,
            title=self.title,
            started_at=self.started,
            ended_at=seen_at,
            model=self.model,
        )

    def event(
        self, generation: int, start: int, delta: Sequence[int], seen_at: datetime
    ) -> UsageEvent:
        return UsageEvent(
            key=f"{SOURCE}:{self.session_id}:{generation}:{start}",
            source=SOURCE,
            timestamp=seen_at,
            tokens=snapshots.growth_tokens(delta),
            model=self.model,
            provider=self.provider,
            session_key=self.key,
            project=self.project,
            raw_usage=orjson.dumps(
                {
                    "derived_from": "tokenUsage",
                    "time": "approximate: when the settings file was written",
                    "total_before": start,
                    "growth": dict(zip(BUCKETS, delta, strict=True)),
                }
            ),
            rank="0|",
        )


def _history_header(path: Path) -> dict[str, Any]:
    """The ``session_start`` line of the conversation file, or nothing."""
    try:
        with open_regular(str(path)) as handle:
            head = handle.read(HEADER_BYTES)
    except OSError:
        return {}
    record, _ = json_object(head.split(b"\n", 1)[0])
    return record if record is not None and record.get("type") == "session_start" else {}
