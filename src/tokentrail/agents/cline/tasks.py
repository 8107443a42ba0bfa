"""The task folders Cline and its forks (Roo Code, Kilo Code) keep: ``tasks/<task id>/``.

One format, three agents; each agent's reader (:mod:`tokentrail.agents.cline.reader`,
:mod:`~tokentrail.agents.roo.reader`, :mod:`~tokentrail.agents.kilo.reader`) says where its
folders are and how its input count reads (a :class:`Dialect`). Facts this parser relies on
(cline/cline ``src/core/task``, ``src/shared/ExtensionMessage.ts``, ``getApiMetrics.ts``;
RooCodeInc/Roo-Code ``src/core/task/Task.ts``, ``src/shared/cost.ts``,
``packages/types/src/history.ts``):

* A VS Code extension keeps its data in ``<user dir>/globalStorage/<extension id>/`` (the user
  dir: ``~/.config/<host>/User`` on Linux, ``~/Library/Application Support/<host>/User`` on
  macOS, ``%APPDATA%\\<host>\\User`` on Windows; hosts ``Code``, ``Code - Insiders``,
  ``Cursor``, ``Windsurf``, ``VSCodium``; remote servers ``~/.vscode-server/data/User``).
  Each task has a folder ``tasks/<task id>/`` with ``ui_messages.json``: a JSON array of
  messages ``{ts (epoch ms), type: "say"|"ask", say, text}``, rewritten whole on every change.
* A billed request is a ``say: "api_req_started"`` message: its ``text`` is a JSON object that
  starts as ``{"request": ...}`` (or ``{"apiProtocol": ...}``) and is updated, when the reply
  has streamed, with ``tokensIn``, ``tokensOut``, ``cacheWrites``, ``cacheReads`` and ``cost``
  (the extension's own price, USD). A request the user cancelled keeps the tokens streamed so
  far (``cancelReason``): they were billed, so they count. A message without token counts yet
  (still streaming, or failed before any usage) is not a request yet; a re-read picks it up.
* The key is ``<agent>:<task id>:<ts>``: the message's ``ts`` never changes (the webview keys
  its list by it), so every rewrite of the file yields the same keys, and the ledger keeps one
  copy of each request, the largest.
* ``deleted_api_reqs`` (Cline) sums the requests the user deleted (checkpoint restore, message
  delete): they were counted from their own messages if an earlier sync saw them. So it is
  counted only on the first read of a file (nothing of the task was seen before); later ones
  are repeats. Requests made and deleted between two syncs are lost (documented).
* ``subagent_usage`` (Cline's SDK) sums the usage of the subagents a task ran; they have no
  task folder of their own: one request, cache buckets not reported, model not recorded.
* The model is not in the message: Cline's ``task_metadata.json`` lists ``model_usage[]``
  (``ts``, ``model_id``, ``model_provider_id``): the model of a request is the last one chosen
  at or before it. Roo and Kilo write ``<model>…</model>`` into the environment details of each
  prompt in ``api_conversation_history.json``; only that tag is read (never the prompt): the
  task's model when the task used one, else "not recorded".
* Project and parent: Roo and Kilo's ``history_item.json`` (``workspace``, ``parentTaskId``);
  Cline's ``state/taskHistory.json`` beside ``tasks/`` (``cwdOnTaskInitialization``,
  ``modelId``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import orjson

from tokentrail.errors import BadRecord
from tokentrail.sources.discovery import find_files
from tokentrail.sources.files import (
    FileKind,
    ParseResult,
    ParseState,
    SourceFile,
    open_regular,
    read_regular,
)
from tokentrail.sources.jsonl import json_object
from tokentrail.sources.values import count_or_none, parse_timestamp, reported_cost, text_or_none
from tokentrail.usage import Session, Skip, Tokens, UsageEvent

UI_MESSAGES = "ui_messages.json"
TASK_METADATA = "task_metadata.json"
HISTORY_ITEM = "history_item.json"
CONVERSATION = "api_conversation_history.json"
TASK_HISTORY = ("state", "taskHistory.json")

HOSTS: tuple[str, ...] = (
    "Code",
    "Code - Insiders",
    "Code - OSS",
    "Cursor",
    "Windsurf",
    "VSCodium",
    "Positron",
)
"""VS Code and the forks an extension runs in (their user-data folder names)."""
SERVER_HOMES: tuple[str, ...] = (".vscode-server", ".vscode-server-insiders", ".cursor-server")
"""Remote-server homes (``~/<home>/data/User``) where the extension runs on a remote host."""

MODEL_TAG = re.compile(rb"<model>([^<>\\\"]{1,200})</model>")
"""The model tag of an environment-details block; the rest of the prompt is never parsed."""
MAX_SIDE_FILE_BYTES = 256 * 1024 * 1024
"""Side files (history, metadata) bigger than this are not read for a model or a project."""

_READ_BEFORE = "read"


ANTHROPIC_STYLE_PROVIDERS = frozenset({"anthropic", "bedrock", "vertex", "claude-code"})
"""Cline providers whose Claude models report Anthropic's uncached input (the cache reads
and writes apart); the others (OpenAI, OpenRouter, Gemini, Cline's gateway...) report the
whole prompt, cached tokens inside."""


@dataclass(frozen=True, slots=True)
class Dialect:
    """How one agent of the family writes its task folders."""

    source: str
    extension_ids: tuple[str, ...]
    input_includes_cache_since: datetime | None = None
    """Roo's rule: from when ``tokensIn`` holds the whole prompt (cache reads and writes
    inside it) for every provider; before, only for OpenAI-style providers (``apiProtocol:
    "openai"``). None: Cline's rule, by provider (see :meth:`_Task._input_includes_cache`)."""


def vscode_roots(dialect: Dialect, env: Mapping[str, str], home: Path) -> list[Path]:
    """The extension's storage folder in every VS Code host, on Linux, macOS and Windows."""
    user_dirs: list[Path] = []
    config_home = env.get("XDG_CONFIG_HOME")
    linux = Path(config_home).expanduser() if config_home else home / ".config"
    mac = home / "Library" / "Application Support"
    bases = [linux, mac]
    appdata = env.get("APPDATA")
    if appdata:
        bases.append(Path(appdata))
    for base in bases:
        user_dirs.extend(base / host / "User" for host in HOSTS)
    user_dirs.extend(home / server / "data" / "User" for server in SERVER_HOMES)
    return [
        user_dir / "globalStorage" / extension
        for user_dir in user_dirs
        for extension in dialect.extension_ids
    ]


TASK_FILES: dict[str, FileKind] = {
    f"tasks/*/{UI_MESSAGES}": "whole",  # a root that is the extension's storage folder
    f"*/{UI_MESSAGES}": "whole",  # a root that is a tasks folder
    UI_MESSAGES: "whole",  # a root that is one task's folder
}


def discover_tasks(source: str, roots: Sequence[Path]) -> Iterator[SourceFile]:
    """``tasks/*/ui_messages.json`` under each root (a storage folder, a ``tasks`` folder, a
    task folder or the file itself), through the one discovery walk (a folder that cannot be
    listed and a special file named like a log are reported). A missing root is normal: the
    extension is not there."""
    return find_files(source, roots, TASK_FILES, root_files={UI_MESSAGES: "whole"})


class TaskFolderSource:
    """The reader of one agent of the family: its :class:`Dialect` says where its folders are
    and how its input count reads (an agent with other roots says so in ``default_roots``)."""

    dialect: ClassVar[Dialect]

    def default_roots(self, env: Mapping[str, str], home: Path) -> list[Path]:
        return vscode_roots(self.dialect, env, home)

    def discover(self, roots: Sequence[Path]) -> Iterator[SourceFile]:
        return discover_tasks(self.dialect.source, roots)

    def parse(self, file: SourceFile, state: ParseState) -> ParseResult:
        return parse_task(self.dialect, file, state)


def parse_task(dialect: Dialect, file: SourceFile, state: ParseState) -> ParseResult:
    """All requests of one task's ``ui_messages.json`` (a whole re-read; keys repeat)."""
    data = read_regular(file.path)  # unreadable: OSError, reported by the sync, read next time
    first_read = not state.memory.get(_READ_BEFORE)
    result = ParseResult(state=ParseState(len(data), 0, {_READ_BEFORE: True}))
    try:
        messages = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        # being rewritten, or truncated: nothing consumed, read again when it changes
        result.state.memory = dict(state.memory)
        result.skips.append(Skip("malformed_json", file.path, None, str(exc)))
        return result
    if not isinstance(messages, list):
        result.skips.append(Skip("malformed_json", file.path, None, "not a JSON array"))
        return result
    task = _Task.load(dialect, Path(file.path).parent)
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("type") != "say":
            continue
        kind = message.get("say")
        if kind not in ("api_req_started", "deleted_api_reqs", "subagent_usage"):
            continue
        if kind == "deleted_api_reqs" and not first_read:
            result.duplicates += 1  # counted from the requests themselves by an earlier read
            continue
        try:
            event = task.event(message, kind)
        except BadRecord as bad:
            result.skips.append(Skip(bad.reason, file.path, None, f"message {index}: {bad.detail}"))
            continue
        if event is not None:
            result.events.append(event)
    result.sessions.append(task.session(result.events))
    return result


@dataclass(slots=True)
class _Task:
    dialect: Dialect
    task_id: str
    project: str | None = None
    parent_id: str | None = None
    model: str | None = None
    """The one model the task's prompts name (Roo, Kilo, Cline's history), else None."""
    model_choices: list[tuple[int, str, str | None]] = field(default_factory=list)
    """Cline's ``model_usage``: (ts, model, provider), oldest first."""

    @classmethod
    def load(cls, dialect: Dialect, folder: Path) -> _Task:
        task = cls(dialect, folder.name)
        task._read_history_item(folder / HISTORY_ITEM)
        task._read_metadata(folder / TASK_METADATA)
        if not task.model_choices:
            task._read_model_tags(folder / CONVERSATION)
        task._read_task_history(folder.parent.parent.joinpath(*TASK_HISTORY))
        return task

    @property
    def session_key(self) -> str:
        return f"{self.dialect.source}:{self.task_id}"

    def event(self, message: Mapping[str, Any], kind: str) -> UsageEvent | None:
        info = _info(message.get("text"))
        if info is None:
            return None  # a placeholder without usage yet
        timestamp = parse_timestamp(message.get("ts"))
        if timestamp is None:
            raise BadRecord("bad_timestamp", repr(message.get("ts"))[:60])
        tokens = self._tokens(info, kind, timestamp)
        cost = reported_cost(info.get("cost"))
        if tokens is None or (tokens.total == 0 and not cost):
            return None  # nothing streamed yet, or cancelled before the provider answered
        model, provider = (None, None) if kind == "subagent_usage" else self._model_at(timestamp)
        return UsageEvent(
            key=f"{self.session_key}:{message.get('ts')}",
            source=self.dialect.source,
            timestamp=timestamp,
            tokens=tokens,
            model=model,
            provider=provider,
            session_key=self.session_key,
            project=self.project,
            reported_cost_usd=cost,
            raw_usage=orjson.dumps({"say": kind, **_usage_fields(info)}),
            rank=f"0|{timestamp.isoformat()}|",
        )

    def _tokens(self, info: Mapping[str, Any], kind: str, when: datetime) -> Tokens | None:
        tokens_in = count_or_none(info.get("tokensIn"), "tokensIn")
        tokens_out = count_or_none(info.get("tokensOut"), "tokensOut")
        if tokens_in is None and tokens_out is None:
            return None
        if kind == "subagent_usage":
            # the subagents' whole prompts, cache included but not told apart
            return Tokens(input=tokens_in, output=tokens_out)
        reads = count_or_none(info.get("cacheReads"), "cacheReads")
        writes = count_or_none(info.get("cacheWrites"), "cacheWrites")
        cached = (reads or 0) + (writes or 0)
        if tokens_in is not None and cached and self._input_includes_cache(info, when, tokens_in):
            tokens_in -= cached
        return Tokens(input=tokens_in, cache_read=reads, cache_write_5m=writes, output=tokens_out)

    def _input_includes_cache(
        self, info: Mapping[str, Any], when: datetime, tokens_in: int
    ) -> bool:
        """Whether ``tokensIn`` holds cache reads and writes (the whole prompt).

        A count smaller than the cached tokens cannot hold them. Otherwise:

        * Roo Code (and Kilo Code, which merges Roo) store the whole prompt since Roo's
          2025-10-31 change ("tokensIn now stores TOTAL input tokens"), and before it for
          OpenAI-style providers (``apiProtocol: "openai"``), whose count includes cached
          tokens; Anthropic-style providers' count did not.
        * Classic Cline stored each provider's own input count: uncached for Claude through
          Anthropic, Bedrock, Vertex or Claude Code, the whole prompt for OpenAI-style
          providers (``prompt_tokens``, cached tokens inside). Its messages carry the
          ``request`` field; the SDK-era extension writes disjoint buckets (uncached input)
          for every provider and no ``request``. A provider not known (no ``model_usage``)
          is read as disjoint, Cline's own convention."""
        cached = (count_or_none(info.get("cacheReads"), "cacheReads") or 0) + (
            count_or_none(info.get("cacheWrites"), "cacheWrites") or 0
        )
        if tokens_in < cached:
            return False
        since = self.dialect.input_includes_cache_since
        if since is not None:
            return when >= since or info.get("apiProtocol") == "openai"
        if "request" not in info:
            return False
        model, provider = self._model_at(when)
        if provider is None or provider == "anthropic":
            return False
        claude = model is not None and "claude" in model.lower()
        return not (claude and provider in ANTHROPIC_STYLE_PROVIDERS)

    def _model_at(self, when: datetime) -> tuple[str | None, str | None]:
        if self.model_choices:
            ms = int(when.timestamp() * 1000)
            chosen = self.model_choices[0]
            for choice in self.model_choices:
                if choice[0] <= ms:
                    chosen = choice
            return chosen[1], chosen[2]
        return self.model, None

    def session(self, events: Sequence[UsageEvent]) -> Session:
        times = [e.timestamp for e in events]
        models = {e.model for e in events if e.model}
        return Session(
            key=self.session_key,
            source=self.dialect.source,
            parent_key=f"{self.dialect.source}:{self.parent_id}" if self.parent_id else None,
            relationship="subagent" if self.parent_id else None,
            project=self.project,
            started_at=min(times) if times else None,
            ended_at=max(times) if times else None,
            model=models.pop() if len(models) == 1 else None,
        )

    # -- side files (each optional; a bad one only costs a model or a project) -------------

    def _read_history_item(self, path: Path) -> None:
        item = _load_side_object(path)
        if item is None:
            return
        self.project = text_or_none(item.get("workspace")) or self.project
        self.parent_id = text_or_none(item.get("parentTaskId"))

    def _read_metadata(self, path: Path) -> None:
        metadata = _load_side_object(path)
        usage = metadata.get("model_usage") if metadata else None
        if not isinstance(usage, list):
            return
        choices = []
        for entry in usage:
            if not isinstance(entry, dict):
                continue
            ts, model = entry.get("ts"), text_or_none(entry.get("model_id"))
            if isinstance(ts, int) and not isinstance(ts, bool) and model:
                choices.append((ts, model, text_or_none(entry.get("model_provider_id"))))
        self.model_choices = sorted(choices, key=lambda c: c[0])

    def _read_model_tags(self, path: Path) -> None:
        data = _read_side(path)
        if data is None:
            return
        models = {m.decode("utf-8", "replace").strip() for m in MODEL_TAG.findall(data)}
        models.discard("")
        if len(models) == 1:
            self.model = models.pop()

    def _read_task_history(self, path: Path) -> None:
        data = _read_side(path)
        if data is None or self.task_id.encode() not in data:
            return
        try:
            items = orjson.loads(data)
        except orjson.JSONDecodeError:
            return
        for item in items if isinstance(items, list) else ():
            if isinstance(item, dict) and item.get("id") == self.task_id:
                self.project = self.project or text_or_none(item.get("cwdOnTaskInitialization"))
                if not self.model_choices and self.model is None:
                    self.model = text_or_none(item.get("modelId"))
                return


def _info(text: object) -> dict[str, Any] | None:
    if not isinstance(text, str) or "tokens" not in text:
        return None
    try:
        info = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise BadRecord("malformed_json", f"text: {exc}") from exc
    return info if isinstance(info, dict) else None


_USAGE_FIELDS = ("tokensIn", "tokensOut", "cacheWrites", "cacheReads", "cost", "apiProtocol")


def _usage_fields(info: Mapping[str, Any]) -> dict[str, Any]:
    """The usage part of a message's text (never its ``request``: that is the prompt)."""
    kept = {name: info[name] for name in _USAGE_FIELDS if name in info}
    if info.get("cancelReason") is not None:
        kept["cancelReason"] = str(info["cancelReason"])[:40]
    return kept


def _read_side(path: Path) -> bytes | None:
    try:
        with open_regular(str(path)) as handle:
            data = handle.read(MAX_SIDE_FILE_BYTES + 1)
    except OSError:
        return None  # absent (older versions), unreadable or special: no model, no project
    return data if len(data) <= MAX_SIDE_FILE_BYTES else None


def _load_side_object(path: Path) -> dict[str, Any] | None:
    data = _read_side(path)
    return json_object(data)[0] if data is not None else None


ROO_TOTAL_INPUT_SINCE = datetime(2025, 10, 31, tzinfo=UTC)
"""Roo Code's "Fix cost and token tracking between provider styles" (#8954): from then on
``tokensIn`` is the whole prompt for every provider."""
