"""Kimi CLI (Kimi Code CLI) sessions: ``~/.kimi/sessions/<work dir hash>/<session>/wire.jsonl``,
and the newer Kimi Code's ``~/.kimi-code/sessions/…/agents/<agent>/wire.jsonl`` (another format,
read by :mod:`tokentrail.agents.kimi.code`).

Facts this parser relies on (MoonshotAI/kimi-cli: ``src/kimi_cli/share.py``, ``metadata.py``,
``session.py``, ``wire/file.py``, ``wire/types.py``, ``soul/kimisoul.py``,
``subagents/store.py``, ``session_fork.py``, kosong's ``TokenUsage`` and
``docs/en/configuration/data-locations.md``):

* The share dir is ``$KIMI_SHARE_DIR`` when set, else ``~/.kimi`` (``Path.home()``: the same
  name on macOS and Windows). Sessions live in ``sessions/<md5 of the work dir>/<session
  id>/`` (``<kaos>_<md5>`` for a remote work dir); ``kimi.json`` lists the work dirs, so the
  hash names the project. Sub-agents write their own ``subagents/<agent id>/wire.jsonl`` in the
  session's folder; sessions imported with ``kimi vis`` sit in ``imported_sessions/<id>/``.
* ``wire.jsonl`` is append-only: a ``{"type": "metadata", "protocol_version"}`` header, then
  ``{"timestamp": <epoch seconds>, "message": {"type", "payload"}}`` records. After every LLM
  step Kimi writes a ``StatusUpdate`` whose payload has ``token_usage`` =
  ``{input_other, output, input_cache_read, input_cache_creation}`` (disjoint: ``input_other``
  excludes both cache buckets) and ``message_id`` (the provider's id of the reply). Other
  ``StatusUpdate`` records (context size, plan mode, MCP status) carry no ``token_usage``.
* No model is written in the wire log (it is in the config at the time, which may have changed
  since): the model of every request is "not recorded" (``None``, unpriced), never guessed.
* Repeats: ``/fork`` and undo copy the records of a session into a new one verbatim (titled
  ``Fork: …`` or ``Undo: …`` in its ``state.json``: the original owns the copies), and a
  sub-agent's events may be relayed into its parent's log inside a ``SubagentEvent``. So the
  key is the ``message_id`` (a repeated ``message_id`` is one request), or, without one, a hash
  of the record's timestamp and usage, the same in every copy. Relayed sub-agent events are
  not read: the sub-agent's own log counts them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

import orjson

from tokentrail.agents.kimi import AGENT
from tokentrail.agents.kimi import code as kimi_code
from tokentrail.errors import BadRecord
from tokentrail.sources.discovery import find_files
from tokentrail.sources.files import FileKind, ParseResult, ParseState, SourceFile
from tokentrail.sources.jsonl import JsonLinesParser, digest, side_object
from tokentrail.sources.lines import Line
from tokentrail.sources.values import parse_timestamp, text_or_none
from tokentrail.usage import Session, UsageEvent

SOURCE = AGENT.name
SHARE_DIR_VARIABLE = "KIMI_SHARE_DIR"
CODE_HOME_VARIABLE = "KIMI_CODE_HOME"
DESKTOP_CODE_HOME = ("kimi-desktop", "daimon-share", "daimon", "runtime", "kimi-code", "home")
"""Where the Kimi desktop app keeps the Kimi Code home it bundles, under the platform's
application data folder (macOS, Windows; the app has no Linux build)."""
WIRE = "wire.jsonl"
METADATA = "kimi.json"
STATE = "state.json"
COPY_TITLES = ("Fork: ", "Undo: ")
"""The title prefixes Kimi gives a session it made by copying another's records."""

BUCKETS = ("input_other", "input_cache_read", "input_cache_creation", "output")
"""The Python CLI's names of the four buckets of ``token_usage``."""

PREFILTER: tuple[bytes, ...] = (b'"token_usage"',)
"""Only a StatusUpdate with token usage is a billed request; the rest is conversation."""


class KimiSource:
    """Kimi CLI's wire logs: one request per ``StatusUpdate.token_usage``."""

    name: ClassVar[str] = AGENT.name
    parser_version: ClassVar[int] = 2  # 2: Kimi Code's logs (read as nothing before)
    env_var: ClassVar[str] = AGENT.override

    def default_roots(self, env: Mapping[str, str], home: Path) -> list[Path]:
        """``$KIMI_SHARE_DIR`` (or ``~/.kimi``): its ``sessions`` and ``imported_sessions``;
        Kimi Code's ``$KIMI_CODE_HOME/sessions`` (or ``~/.kimi-code/sessions``); and the
        sessions of the Kimi Code the desktop app bundles (macOS, and ``%APPDATA%``)."""
        share = env.get(SHARE_DIR_VARIABLE, "").strip()
        base = Path(share).expanduser() if share else home / ".kimi"
        code_home = env.get(CODE_HOME_VARIABLE, "").strip()
        code = Path(code_home).expanduser() if code_home else home / ".kimi-code"
        roots = [base / "sessions", base / "imported_sessions", code / "sessions"]
        desktop_bases = [home / "Library" / "Application Support"]
        app_data = env.get("APPDATA", "").strip()
        if app_data:
            desktop_bases.append(Path(app_data))
        roots += [Path(b, *DESKTOP_CODE_HOME, "sessions") for b in desktop_bases]
        return roots

    def discover(self, roots: Sequence[Path]) -> Iterator[SourceFile]:
        """Every ``wire.jsonl`` under the roots, recursively (sub-agents included, and Kimi
        Code's ``agents/<agent>/wire.jsonl``)."""
        files: dict[str, FileKind] = {f"**/{WIRE}": "append"}
        return find_files(SOURCE, roots, files, root_files={WIRE: "append"})

    def parse(self, file: SourceFile, state: ParseState) -> ParseResult:
        if kimi_code.is_code_log(file.path):
            parser = kimi_code.CodeWireParser(
                file.path, kimi_code.CodePlace.of(file.path), dict(state.memory)
            )
            return parser.read(state, kimi_code.PREFILTER)
        return _WireParser(file.path, _Place.of(file.path)).read(state, PREFILTER)


# --- where a log sits: its session, sub-agent and project ------------------------------------


@dataclass(frozen=True, slots=True)
class _Place:
    session_id: str
    agent_id: str | None
    project: str | None
    imported: bool
    title: str | None = None
    copy: bool = False
    """A ``/fork`` or undo of another session (its title says so): its first records are
    that session's, which owns them."""

    @classmethod
    def of(cls, path: str) -> _Place:
        folder = Path(path).parent
        agent_id = None
        if folder.parent.name == "subagents":
            agent_id = folder.name
            folder = folder.parent.parent
        imported = folder.parent.name == "imported_sessions"
        project = (
            None
            if imported
            else _work_dirs(str(folder.parent.parent.parent)).get(folder.parent.name)
        )
        title = None if agent_id else _custom_title(folder)
        copy = title is not None and title.startswith(COPY_TITLES)
        return cls(folder.name, agent_id, project, imported, title, copy)

    @property
    def parent_key(self) -> str:
        return f"{SOURCE}:{self.session_id}"

    @property
    def session_key(self) -> str:
        if self.agent_id:
            return f"{self.parent_key}:agent:{self.agent_id}"
        return self.parent_key

    @property
    def rank(self) -> str:
        # the copy in the session's own log owns a request; a sub-agent's own log is its
        # session; an imported copy counts only when nothing else has the request
        if self.imported:
            return "2|"
        return "1|" if self.copy else "0|"

    def session(self, started: datetime | None, ended: datetime | None) -> Session:
        return Session(
            key=self.session_key,
            source=SOURCE,
            parent_key=self.parent_key if self.agent_id else None,
            relationship="subagent" if self.agent_id else None,
            project=self.project,
            title=self.title,
            started_at=started,
            ended_at=ended,
        )


def _custom_title(folder: Path) -> str | None:
    """The session's title from its ``state.json`` (set by the user, or by a fork)."""
    document = side_object(str(folder / STATE), limit=1024 * 1024)
    return text_or_none(document.get("custom_title")) if document is not None else None


def _work_dirs(share_dir: str) -> dict[str, str]:
    """``kimi.json``'s work dirs by the folder name Kimi gives their sessions."""
    document = side_object(str(Path(share_dir) / METADATA))
    entries = document.get("work_dirs") if document is not None else None
    folders: dict[str, str] = {}
    for entry in entries if isinstance(entries, list) else ():
        path = text_or_none(entry.get("path")) if isinstance(entry, dict) else None
        if path is None:
            continue
        md5 = hashlib.md5(path.encode("utf-8"), usedforsecurity=False).hexdigest()
        kaos = text_or_none(entry.get("kaos")) or "local"
        folders[md5 if kaos == "local" else f"{kaos}_{md5}"] = path
    return folders


# --- the records ------------------------------------------------------------------------------


@dataclass(slots=True)
class _WireParser(JsonLinesParser):
    place: _Place

    def read_record(self, record: dict[str, Any], line: Line) -> None:
        message = record.get("message")
        if not isinstance(message, dict) or message.get("type") != "StatusUpdate":
            return  # SubagentEvent relays are counted from the sub-agent's own log
        payload = message.get("payload")
        if not isinstance(payload, dict) or payload.get("token_usage") is None:
            return
        self.keep(self._event(record, payload))

    def _event(self, record: Mapping[str, Any], payload: Mapping[str, Any]) -> UsageEvent:
        usage = payload.get("token_usage")
        if not isinstance(usage, dict):
            raise BadRecord("empty_usage", f"token_usage is a {type(usage).__name__}")
        when = parse_timestamp(record.get("timestamp"))
        if when is None:
            raise BadRecord("bad_timestamp", repr(record.get("timestamp"))[:60])
        tokens = kimi_code.usage_tokens(usage, BUCKETS)
        return UsageEvent(
            key=_event_key(record, payload, usage),
            source=SOURCE,
            timestamp=when,
            tokens=tokens,
            model=None,  # not recorded in the wire log: unpriced, never guessed
            session_key=self.place.session_key,
            project=self.place.project,
            raw_usage=orjson.dumps(usage),
            rank=self.place.rank,
        )

    def sessions(self) -> list[Session]:
        return [self.place.session(self.first_seen, self.last_seen)]


def _event_key(record: Mapping[str, Any], payload: Mapping[str, Any], usage: object) -> str:
    """The reply's id (the same in a fork's copy), else what the record says."""
    message_id = text_or_none(payload.get("message_id"))
    if message_id is not None:
        return f"{SOURCE}:{message_id}"
    return f"{SOURCE}:h:{digest([record.get('timestamp'), usage])}"
