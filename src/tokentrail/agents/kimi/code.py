"""Kimi Code (the TypeScript CLI that followed the Python Kimi CLI): each agent's wire log,
``<home>/sessions/<workspace>/<session>/agents/<agent>/wire.jsonl``, one request per
``usage.record`` line.

Facts this parser relies on (Kimi Code's own tests of its usage recorder and wire records, and
the public parsers of tokscale, ccusage and others, which agree on the shape):

* The home is ``$KIMI_CODE_HOME``, else ``~/.kimi-code`` (``%USERPROFILE%\\.kimi-code`` on
  Windows); the Kimi desktop app bundles a Kimi Code whose home, laid out the same, is
  ``kimi-desktop/daimon-share/daimon/runtime/kimi-code/home`` in the application data folder
  (``~/Library/Application Support``, ``%APPDATA%``). Sessions live in
  ``sessions/<workspace slug>/<session id>/``, each agent of a session (``main``, and one
  folder per sub-agent) writing its own ``agents/<agent>/wire.jsonl``. ``workspaces.json``
  maps each slug to its folder (``{"version": 1, "workspaces": {"<slug>": {"root",
  "name"}}}``); ``session_index.jsonl`` has ``{"sessionId", "sessionDir", "workDir"}`` per
  session.
* The wire log is append-only, one ``{"type", "time" (epoch ms), …}`` record a line. After every
  LLM call Kimi Code writes ``{"type": "usage.record", "model", "usage": {"inputOther",
  "output", "inputCacheRead", "inputCacheCreation"}, "usageScope", "turnId", "agentId",
  "time"}``: the call's own usage (disjoint buckets, as in the Python CLI), not a running
  total; Kimi Code itself adds every record into the session's totals. ``usageScope`` is
  ``"turn"`` for a call made inside a user's turn and ``"session"`` for one made outside it
  (Kimi Code's requester sends a compaction as an ``operation``, not a turn): both are billed
  calls. The ``step.end`` loop events that follow repeat a turn call's usage: not read.
* ``model`` in a ``usage.record`` is the configured alias (``kimi-code/k3``: a key of the
  config's ``[models]``), or a symbolic reference such as ``__kimi_env_model__``. The
  ``llm.request`` record written before each call names the model actually sent (``model``)
  and its alias (``modelAlias``).

What is counted: each ``usage.record`` with a token count, once. It carries no id, so the key
is a hash of what it says (time, agent, turn, scope, model and counts): a record read again,
or copied verbatim into another log, is one request. Its model is the concrete model of the
last ``llm.request`` when the record names that request's alias or a symbolic one, else the
record's own (the ``kimi-code/`` prefix of Kimi's managed provider taken off), else "not
recorded". A sub-agent's log is a child session of its session.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from tokentrail.agents.kimi import AGENT
from tokentrail.errors import BadRecord
from tokentrail.sources.files import read_regular
from tokentrail.sources.jsonl import JsonLinesParser, json_object, side_object
from tokentrail.sources.lines import Line
from tokentrail.sources.values import count_or_none, parse_timestamp, text_or_none
from tokentrail.usage import Session, Tokens, UsageEvent

SOURCE = AGENT.name
AGENTS_FOLDER = "agents"
MAIN_AGENT = "main"
WORKSPACES = "workspaces.json"
SESSION_INDEX = "session_index.jsonl"
MANAGED_PREFIX = "kimi-code/"
"""How Kimi Code names the models of its own managed provider (``kimi-code/kimi-for-coding``)."""

PREFILTER: tuple[bytes, ...] = (b'"usage.record"', b'"llm.request"')
"""A call's usage, and the request before it that names the model sent; the rest is the
conversation."""

MEM_MODEL = "request_model"
MEM_ALIAS = "request_alias"
"""Parser memory: the last ``llm.request``'s model and alias, for a usage record read later."""

CODE_BUCKETS = ("inputOther", "inputCacheRead", "inputCacheCreation", "output")
"""Kimi Code's names of the four buckets :func:`usage_tokens` reads."""

INDEX_LIMIT = 16 * 1024 * 1024
"""The most of ``workspaces.json`` or ``session_index.jsonl`` read for a project's folder."""


def usage_tokens(usage: Mapping[str, Any], names: tuple[str, str, str, str]) -> Tokens:
    """Kimi's four disjoint buckets, as both its CLIs write them (under ``names``: uncached
    input, cache reads, cache writes, output); ``empty_usage`` when none is counted."""
    uncached, read, write, output = names
    tokens = Tokens(
        input=count_or_none(usage.get(uncached), uncached),
        cache_read=count_or_none(usage.get(read), read),
        cache_write_5m=count_or_none(usage.get(write), write),
        output=count_or_none(usage.get(output), output),
    )
    if tokens.is_empty:
        raise BadRecord("empty_usage", "no token counts")
    return tokens


def is_code_log(path: str) -> bool:
    """A Kimi Code log sits in ``agents/<agent>/``; the Python CLI's never does."""
    return Path(path).parent.parent.name == AGENTS_FOLDER


# --- where a log sits -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CodePlace:
    session_id: str
    agent_id: str
    project: str | None

    @classmethod
    def of(cls, path: str) -> CodePlace:
        agent = Path(path).parent
        session = agent.parent.parent
        home = session.parent.parent.parent
        project = _workspaces(home).get(session.parent.name) or _indexed(home).get(session.name)
        return cls(session.name, agent.name, project)

    @property
    def parent_key(self) -> str:
        return f"{SOURCE}:{self.session_id}"

    @property
    def session_key(self) -> str:
        if self.agent_id == MAIN_AGENT:
            return self.parent_key
        return f"{self.parent_key}:agent:{self.agent_id}"

    def session(self, started: datetime | None, ended: datetime | None) -> Session:
        child = self.agent_id != MAIN_AGENT
        return Session(
            key=self.session_key,
            source=SOURCE,
            parent_key=self.parent_key if child else None,
            relationship="subagent" if child else None,
            project=self.project,
            started_at=started,
            ended_at=ended,
        )


def _workspaces(home: Path) -> dict[str, str]:
    """``workspaces.json``: each workspace slug's folder."""
    document = side_object(str(home / WORKSPACES), limit=INDEX_LIMIT)
    entries = document.get("workspaces") if document is not None else None
    folders: dict[str, str] = {}
    for slug, entry in entries.items() if isinstance(entries, dict) else ():
        root = text_or_none(entry.get("root")) if isinstance(entry, dict) else None
        if root is not None:
            folders[slug] = root
    return folders


def _indexed(home: Path) -> dict[str, str]:
    """``session_index.jsonl``: each session's work dir, by its id and its folder's name."""
    try:
        data = read_regular(str(home / SESSION_INDEX))[:INDEX_LIMIT]
    except OSError:
        return {}
    folders: dict[str, str] = {}
    for line in data.splitlines():
        entry, _ = json_object(line)
        work_dir = text_or_none(entry.get("workDir")) if entry else None
        if entry is None or work_dir is None:
            continue
        for name in (text_or_none(entry.get("sessionId")), _folder_name(entry.get("sessionDir"))):
            if name is not None:
                folders[name] = work_dir
    return folders


def _folder_name(value: object) -> str | None:
    text = text_or_none(value)
    return Path(text).name or None if text is not None else None


# --- the records ------------------------------------------------------------------------------


@dataclass(slots=True)
class CodeWireParser(JsonLinesParser):
    place: CodePlace
    last_request: dict[str, Any]
    """The last ``llm.request`` seen (see :data:`MEM_MODEL`), carried across reads."""

    def read_record(self, record: dict[str, Any], line: Line) -> None:
        kind = record.get("type")
        if kind == "llm.request":
            self.last_request = {
                MEM_MODEL: text_or_none(record.get("model")),
                MEM_ALIAS: text_or_none(record.get("modelAlias")),
            }
            return
        if kind != "usage.record":
            return
        event = self._event(record)
        if event is not None:
            self.keep(event)

    def _event(self, record: Mapping[str, Any]) -> UsageEvent | None:
        usage = record.get("usage")
        if not isinstance(usage, dict):
            raise BadRecord("empty_usage", f"usage is a {type(usage).__name__}")
        tokens = usage_tokens(usage, CODE_BUCKETS)
        if tokens.total == 0:
            return None  # a call that billed nothing (cancelled before the provider answered)
        when = parse_timestamp(record.get("time"))
        if when is None:
            raise BadRecord("bad_timestamp", repr(record.get("time"))[:60])
        return UsageEvent(
            key=_record_key(record, usage),
            source=SOURCE,
            timestamp=when,
            tokens=tokens,
            model=self._model(text_or_none(record.get("model"))),
            session_key=self.place.session_key,
            project=self.place.project,
            raw_usage=_dumps({name: record.get(name) for name in ("usage", "usageScope", "model")}),
            rank="0|",
        )

    def _model(self, named: str | None) -> str | None:
        """The model sent: the last request's when this record names its alias (or only a
        symbolic reference), else the record's own, else not recorded."""
        sent, alias = self.last_request.get(MEM_MODEL), self.last_request.get(MEM_ALIAS)
        concrete = _concrete(named)
        if isinstance(sent, str) and _concrete(sent) and (concrete is None or named == alias):
            return _concrete(sent)
        return concrete

    def memory(self) -> dict[str, Any]:
        return self.last_request

    def sessions(self) -> list[Session]:
        return [self.place.session(self.first_seen, self.last_seen)]


def _concrete(model: str | None) -> str | None:
    """A model's name without the managed provider's prefix; None for a symbolic reference
    (``__kimi_env_model__``) or a blank."""
    if model is None:
        return None
    name = model.strip().removeprefix(MANAGED_PREFIX).strip()
    if not name or (len(name) >= 4 and name.startswith("__") and name.endswith("__")):
        return None
    return name


def _record_key(record: Mapping[str, Any], usage: Mapping[str, Any]) -> str:
    """What the record says, hashed: the same in every read and every verbatim copy."""
    fields = ("time", "agentId", "turnId", "usageScope", "model")
    basis = _dumps([*(record.get(name) for name in fields), usage])
    return f"{SOURCE}:code:{hashlib.sha256(basis).hexdigest()[:32]}"


def _dumps(value: object) -> bytes:
    """JSON with sorted keys; ``repr`` for what JSON cannot hold (an integer past 64 bits)."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except TypeError:
        return repr(value).encode()
