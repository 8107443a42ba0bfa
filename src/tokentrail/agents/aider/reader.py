"""Aider (Aider-AI/aider): its opt-in analytics log, ``--analytics-log FILE``.

Facts this parser relies on (Aider-AI/aider ``aider/analytics.py``, ``aider/args.py``,
``aider/coders/base_coder.py`` and the sample ``aider/website/assets/sample-analytics.jsonl``):

* Aider writes nothing about usage unless asked: ``--analytics-log FILE`` (also
  ``$AIDER_ANALYTICS_LOG``, or ``analytics-log:`` in ``.aider.conf.yml``) appends one JSON line
  per analytics event, ``{"event", "properties", "user_id", "time"}`` (``time`` in epoch
  seconds). Non-numeric property values are written as strings (``None`` becomes ``"None"``).
  The chat history's "Tokens: 1.2k sent" lines are rounded: never read.
* A billed exchange is a ``message_send`` event (``show_usage_report``, after each reply):
  ``prompt_tokens`` (everything sent: litellm's prompt count, plus cache writes where the
  provider reports them apart), ``completion_tokens``, ``total_tokens``, ``cost`` (Aider's own
  price of the exchange, USD; 0 when it knows no price) and ``total_cost`` (the process's
  running total: a repeat, not read), with ``main_model`` (``"<provider>/REDACTED"`` for a
  model Aider does not know, or ``"None"``).
* The cache is not told apart: ``prompt_tokens`` is recorded as input, and the cache buckets
  as not reported. For a provider that cached, our price is then an upper bound; Aider's own
  cost is kept as the reported cost.
* Repeats: the log has no ids. The key is a hash of the event itself (every field, so two
  different exchanges never share one) and its occurrence among identical lines: a copy of a
  log (rotated, or named twice) counts once, two identical exchanges in one second twice.
* Sessions: a ``launched`` event starts an Aider process; its ``message_send`` events that
  follow belong to it (``aider:<user_id>:<time>``). Aider logs no project path.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import orjson

from tokentrail.agents.aider import AGENT
from tokentrail.errors import BadRecord
from tokentrail.sources.discovery import find_files
from tokentrail.sources.files import ParseResult, ParseState, SourceFile
from tokentrail.sources.jsonl import digest, read_lines
from tokentrail.sources.lines import Line, LinesEnd
from tokentrail.sources.values import count_or_none, parse_timestamp, reported_cost, text_or_none
from tokentrail.usage import Session, Skip, Tokens, UsageEvent

SOURCE = AGENT.name
LOG_VARIABLE = "AIDER_ANALYTICS_LOG"
CONFIG_FILE = ".aider.conf.yml"
SUGGESTED_LOG = (".aider", "analytics.jsonl")
"""Where tokentrail's docs suggest pointing ``--analytics-log`` (beside Aider's own
``~/.aider/analytics.json``): read without further configuration."""
PREFILTER: tuple[bytes, ...] = (b'"message_send"', b'"launched"')
"""The billed exchanges and the process starts; the rest (commands, warnings) is not usage."""
REPEAT_WINDOW_SECONDS = 120
"""Identical lines are counted apart only within this many seconds of the newest line seen
(identical lines share their ``time``); older counts are forgotten to keep memory small."""

_CONFIG_LINE = re.compile(r"^analytics-log\s*:\s*(.+?)\s*$", re.MULTILINE)
_UNKNOWN_MODELS = {"", "None", "none", "null"}


class AiderSource:
    """Aider's analytics log files (named by config, environment or Aider's own config)."""

    name: ClassVar[str] = SOURCE
    parser_version: ClassVar[int] = 1
    env_var: ClassVar[str] = AGENT.override

    def default_roots(self, env: Mapping[str, str], home: Path) -> list[Path]:
        """``$AIDER_ANALYTICS_LOG``, else the ``analytics-log`` of ``~/.aider.conf.yml``, and
        ``~/.aider/analytics.jsonl`` (the place the docs suggest); ``[sources.aider] paths``
        in tokentrail's config names any others."""
        named = env.get(LOG_VARIABLE, "").strip()
        if named:
            return [Path(named).expanduser()]
        suggested = home.joinpath(*SUGGESTED_LOG)
        from_config = _configured_log(home / CONFIG_FILE)
        return [from_config, suggested] if from_config is not None else [suggested]

    def discover(self, roots: Sequence[Path]) -> Iterator[SourceFile]:
        """Each root that is a file; in a folder, its ``*.jsonl`` files."""
        yield from find_files(SOURCE, roots, {"*.jsonl": "append"}, root_files={"*": "append"})

    def parse(self, file: SourceFile, state: ParseState) -> ParseResult:
        parser = _LogParser(file.path, _Memory.load(state.memory))
        return read_lines(parser, file.path, state, PREFILTER)


def _configured_log(path: Path) -> Path | None:
    """``analytics-log: FILE`` in Aider's YAML config (a plain scalar, maybe quoted)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    match = _CONFIG_LINE.search(text)
    if match is None:
        return None
    value = match.group(1).split(" #", 1)[0].strip().strip("\"'")
    return Path(value).expanduser() if value else None


@dataclass(slots=True)
class _Memory:
    """What a later read of the file must know: the process the next lines belong to, and
    how often each recent line was seen (to tell an identical exchange from a copy)."""

    session: str | None = None
    started: int | None = None
    newest: int = 0
    seen: dict[str, list[int]] = field(default_factory=dict)
    """Line hash -> [time, times seen]."""

    @classmethod
    def load(cls, memory: Mapping[str, Any]) -> _Memory:
        loaded = cls()
        session, started, newest = (
            memory.get("session"),
            memory.get("started"),
            memory.get("newest"),
        )
        loaded.session = session if isinstance(session, str) else None
        loaded.started = started if isinstance(started, int) else None
        loaded.newest = newest if isinstance(newest, int) else 0
        seen = memory.get("seen")
        for key, value in seen.items() if isinstance(seen, dict) else ():
            if (
                isinstance(value, list)
                and len(value) == 2
                and all(isinstance(v, int) for v in value)
            ):
                loaded.seen[key] = list(value)
        return loaded

    def dump(self) -> dict[str, Any]:
        cutoff = self.newest - REPEAT_WINDOW_SECONDS
        return {
            "session": self.session,
            "started": self.started,
            "newest": self.newest,
            "seen": {k: v for k, v in self.seen.items() if v[0] >= cutoff},
        }

    def occurrence(self, digest: str, when: int) -> int:
        """How many identical lines came before this one (0 for the first)."""
        self.newest = max(self.newest, when)
        entry = self.seen.setdefault(digest, [when, 0])
        entry[1] += 1
        return entry[1] - 1


@dataclass(slots=True)
class _LogParser:
    path: str
    memory: _Memory
    events: list[UsageEvent] = field(default_factory=list)
    sessions: dict[str, Session] = field(default_factory=dict)
    skips: list[Skip] = field(default_factory=list)

    def handle(self, line: Line) -> None:
        try:
            record = orjson.loads(line.data)
        except orjson.JSONDecodeError as exc:
            self.skips.append(Skip("malformed_json", self.path, line.number, str(exc)))
            return
        if not isinstance(record, dict):
            return
        kind = record.get("event")
        if kind == "launched":
            self._launched(record)
        elif kind == "message_send":
            try:
                self._message(record)
            except BadRecord as bad:
                self.skips.append(Skip(bad.reason, self.path, line.number, bad.detail))

    def _launched(self, record: Mapping[str, Any]) -> None:
        when = record.get("time")
        if not isinstance(when, int) or parse_timestamp(when) is None:
            return
        user = text_or_none(record.get("user_id")) or "unknown"
        self.memory.session = f"{SOURCE}:{user}:{when}"
        self.memory.started = when

    def _message(self, record: Mapping[str, Any]) -> None:
        properties = record.get("properties")
        if not isinstance(properties, dict):
            raise BadRecord("empty_usage", "message_send without properties")
        when = record.get("time")
        timestamp = parse_timestamp(when)
        if timestamp is None or not isinstance(when, int | float):
            raise BadRecord("bad_timestamp", repr(when)[:60])
        tokens = Tokens(
            input=count_or_none(_number(properties.get("prompt_tokens")), "prompt_tokens"),
            output=count_or_none(_number(properties.get("completion_tokens")), "completion_tokens"),
        )
        if tokens.is_empty:
            raise BadRecord("empty_usage", "no prompt_tokens or completion_tokens")
        cost = reported_cost(_number(properties.get("cost")))
        if cost == 0 and tokens.total > 0:
            cost = None  # Aider writes 0 for a model it has no price for: unknown, not free
        model, provider = _model(properties.get("main_model"))
        line_hash = digest(record)
        occurrence = self.memory.occurrence(line_hash, int(when))
        session = self.memory.session
        self.events.append(
            UsageEvent(
                key=f"{SOURCE}:{line_hash}:{occurrence}",
                source=SOURCE,
                timestamp=timestamp,
                tokens=tokens,
                model=model,
                provider=provider,
                session_key=session,
                reported_cost_usd=cost,
                raw_usage=orjson.dumps(
                    {
                        name: properties[name]
                        for name in ("prompt_tokens", "completion_tokens", "cost", "edit_format")
                        if name in properties
                    }
                ),
                rank=f"0|{timestamp.isoformat()}|",
            )
        )
        if session is not None:
            self._see(session, timestamp, model)

    def _see(self, session: str, timestamp: Any, model: str | None) -> None:
        earlier = self.sessions.get(session)
        started = parse_timestamp(self.memory.started)
        if earlier is None:
            self.sessions[session] = Session(
                key=session, source=SOURCE, started_at=started, ended_at=timestamp, model=model
            )
            return
        ended = max(timestamp, earlier.ended_at) if earlier.ended_at else timestamp
        self.sessions[session] = Session(
            key=session,
            source=SOURCE,
            started_at=earlier.started_at,
            ended_at=ended,
            model=earlier.model if earlier.model == model else None,
        )

    def result(self, end: LinesEnd) -> ParseResult:
        end.state.memory = self.memory.dump()
        return ParseResult(
            events=self.events,
            sessions=list(self.sessions.values()),
            skips=self.skips,
            state=end.state,
            pending_partial_line=end.pending_partial_line,
        )


def _number(value: object) -> object:
    """A count or cost as Aider wrote it; a number written as a string (it strings every
    non-number) is read back as a number."""
    if isinstance(value, str):
        try:
            return float(value) if "." in value or "e" in value.lower() else int(value)
        except ValueError:
            return value
    return value


def _model(value: object) -> tuple[str | None, str | None]:
    """``main_model`` as (model, provider); a redacted or absent name is not recorded."""
    name = value.strip() if isinstance(value, str) else ""
    if name in _UNKNOWN_MODELS:
        return None, None
    provider, slash, rest = name.partition("/")
    if not slash:
        return name, None
    if rest == "REDACTED":
        return None, provider  # Aider hides names of models it does not know
    # litellm's "<provider>/<model>" (the model may hold a slash: openrouter/anthropic/...)
    return rest, provider
