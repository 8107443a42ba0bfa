"""mux (coder/mux, renamed xum) workspaces: ``<mux home>/sessions/<workspaceId>/``.

Facts this parser relies on (coder/mux, ``src/common/constants/paths.ts``,
``src/node/services/historyService.ts``, ``sessionUsageService.ts``, ``workspaceService.ts``,
``src/common/types/message.ts`` and ``src/common/utils/tokens/displayUsage.ts``):

* The home is ``$XUM_ROOT`` (or the legacy ``$MUX_ROOT``) when set, else the first healthy of
  ``~/.xum``, ``~/.mux`` and ``~/.cmux`` (``os.homedir()``: the same names on macOS and
  Windows). Each workspace has a folder ``sessions/<workspaceId>/``; ``config.json`` in the home
  lists every project's workspaces (``id``, ``title``, ``parentWorkspaceId`` for sub-agents).
* Per-message history: ``chat.jsonl`` (the active epoch; rewritten atomically when a message
  changes, appended otherwise) and ``chat-archive.jsonl`` (older epochs, append-only); together
  the full history. An assistant message (``role: "assistant"``) carries the AI SDK usage of
  its whole turn in ``metadata.usage`` (``inputTokens`` includes cache reads and writes;
  ``outputTokens`` includes reasoning), the cache writes in
  ``metadata.providerMetadata.anthropic.cacheCreationInputTokens`` (or
  ``usage.inputTokenDetails.cacheWriteTokens``), and the usage of models that tools called in
  ``metadata.toolModelUsages[]``. ``metadata.historicalUsage`` sums messages a legacy
  compaction replaced: a repeat, not read. Headless calls (status, memory) append one line each
  to ``headless-usage.jsonl`` (``timestamp``, ``model``, ``usage``, ``providerMetadata``).
* A fork copies the history with its message ids (the key is the message id, so a copy is
  counted once) and starts with an empty ``session-usage.json``.
* ``session-usage.json`` is a cumulative snapshot, rewritten atomically after every request:
  ``byModel["provider:model"]`` = ``{input, cached, cacheCreate, output, reasoning}``, each
  ``{tokens, cost_usd?}`` (``input`` uncached, ``output`` without reasoning), plus
  ``lastRequest``. When a sub-agent workspace is deleted its totals are added to the parent's
  ``byModel`` and recorded in ``rolledUpFrom[childId]``. mux rebuilds the file from history
  when it is missing or corrupt.

What is read: a workspace with history (``chat.jsonl`` or ``chat-archive.jsonl``) is counted
per message; a workspace without is counted from the growth of its ``session-usage.json``
between two reads (see :func:`_parse_snapshot`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

import orjson

from tokentrail.agents.mux import AGENT
from tokentrail.errors import BadRecord
from tokentrail.sources import snapshots
from tokentrail.sources.discovery import find_files
from tokentrail.sources.files import FileKind, ParseResult, ParseState, SourceFile
from tokentrail.sources.jsonl import JsonLinesParser, digest, side_object
from tokentrail.sources.lines import Line
from tokentrail.sources.values import count_or_none, parse_timestamp, reported_cost, text_or_none
from tokentrail.usage import Session, Skip, Tokens, UsageEvent

SOURCE = AGENT.name
HOME_VARIABLES = ("XUM_ROOT", "MUX_ROOT")
HOME_NAMES = (".xum", ".mux", ".cmux")
CHAT = "chat.jsonl"
ARCHIVE = "chat-archive.jsonl"
HEADLESS = "headless-usage.jsonl"
SNAPSHOT = "session-usage.json"
WORKSPACE_FILES: dict[str, FileKind] = {
    f"*/{ARCHIVE}": "append",
    f"*/{CHAT}": "append",
    f"*/{HEADLESS}": "append",
    f"*/{SNAPSHOT}": "whole",
}
CONFIG = "config.json"

PREFILTER: tuple[bytes, ...] = (b'"usage"',)
"""Only lines with a usage object can hold a billed request; the rest is conversation."""

SNAPSHOT_BUCKETS: tuple[str, ...] = ("input", "cached", "cacheCreate", "output", "reasoning")
"""The buckets of a ``session-usage.json`` model entry, in the order kept in parser memory."""

_MEM_CHILDREN = "rolled_up"


class MuxSource:
    """mux workspaces: per-message history, else the cumulative usage snapshot."""

    name: ClassVar[str] = SOURCE
    parser_version: ClassVar[int] = 1
    env_var: ClassVar[str] = AGENT.override

    def default_roots(self, env: Mapping[str, str], home: Path) -> list[Path]:
        """``$XUM_ROOT/sessions`` (or ``$MUX_ROOT``), else the ``sessions`` folder of every
        home mux has used: which one is active depends on what exists, and a move between
        them keeps message ids, so reading all of them counts nothing twice."""
        for variable in HOME_VARIABLES:
            value = env.get(variable, "").strip()
            if value:
                return [Path(value).expanduser() / "sessions"]
        return [home / name / "sessions" for name in HOME_NAMES]

    def discover(self, roots: Sequence[Path]) -> Iterator[SourceFile]:
        """In each ``<root>/<workspaceId>/``: the histories, the headless log, and the
        snapshot (read even beside a history, to keep its baseline current: see
        ``_parse_snapshot``)."""
        return find_files(SOURCE, roots, WORKSPACE_FILES)

    def parse(self, file: SourceFile, state: ParseState) -> ParseResult:
        if file.kind == "whole":
            return _parse_snapshot(file.path, state)
        return _parse_history(file.path, state)


# --- the workspace ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Workspace:
    """What ``config.json`` says about a workspace (all optional: the file may be gone)."""

    workspace_id: str
    project: str | None = None
    title: str | None = None
    parent_id: str | None = None
    created: datetime | None = None

    @property
    def session_key(self) -> str:
        return f"{SOURCE}:{self.workspace_id}"

    @property
    def rank(self) -> str:
        # Lower wins attribution of a request found in several workspaces: a fork copies its
        # source's messages, and the workspace created first wrote them.
        if self.created is None:
            return "1|"
        return f"0|{self.created.isoformat(timespec='microseconds')}|"

    def session(self, started: datetime | None, ended: datetime | None) -> Session:
        parent = f"{SOURCE}:{self.parent_id}" if self.parent_id else None
        return Session(
            key=self.session_key,
            source=SOURCE,
            parent_key=parent,
            relationship="subagent" if parent else None,
            project=self.project,
            title=self.title,
            started_at=self.created or started,
            ended_at=ended,
        )


def _workspace_of(path: str) -> _Workspace:
    folder = Path(path).parent
    workspace_id = folder.name
    config = folder.parent.parent / CONFIG
    document = side_object(str(config))
    projects = document.get("projects") if document is not None else None
    if not isinstance(projects, list):
        return _Workspace(workspace_id)
    for entry in projects:
        # a serialised Map: [projectPath, {"workspaces": [...]}]
        if not (isinstance(entry, list) and len(entry) == 2 and isinstance(entry[1], dict)):
            continue
        workspaces = entry[1].get("workspaces")
        for item in workspaces if isinstance(workspaces, list) else ():
            if isinstance(item, dict) and item.get("id") == workspace_id:
                return _Workspace(
                    workspace_id,
                    project=text_or_none(entry[0]),
                    title=text_or_none(item.get("title")) or text_or_none(item.get("name")),
                    parent_id=text_or_none(item.get("parentWorkspaceId")),
                    created=parse_timestamp(item.get("createdAt")),
                )
    return _Workspace(workspace_id)


def _split_model(value: object) -> tuple[str | None, str | None]:
    """``"anthropic:claude-sonnet-4-5"`` → (``"anthropic"``, ``"claude-sonnet-4-5"``)."""
    text = text_or_none(value)
    if text is None:
        return None, None
    provider, separator, model = text.partition(":")
    if separator and provider and model:
        return provider, model
    return None, text


# --- per-message history ----------------------------------------------------------------------


@dataclass(slots=True)
class _HistoryParser(JsonLinesParser):
    workspace: _Workspace
    headless: bool

    def read_record(self, record: dict[str, Any], line: Line) -> None:
        if self.headless:
            self._headless(record)
        else:
            self._message(record)

    def _message(self, record: dict[str, Any]) -> None:
        metadata = record.get("metadata")
        if record.get("role") != "assistant" or not isinstance(metadata, dict):
            return
        message_id = text_or_none(record.get("id"))
        if message_id is None:
            raise BadRecord("missing_id", "assistant message without an id")
        when = parse_timestamp(metadata.get("timestamp"))
        if metadata.get("usage") is not None:
            if when is None:
                raise BadRecord("bad_timestamp", repr(metadata.get("timestamp"))[:60])
            self._add(
                f"{SOURCE}:{message_id}",
                when,
                metadata.get("model"),
                metadata.get("usage"),
                metadata.get("providerMetadata"),
            )
        tool_usages = metadata.get("toolModelUsages")
        for index, item in enumerate(tool_usages if isinstance(tool_usages, list) else ()):
            if not isinstance(item, dict):
                continue
            call = text_or_none(item.get("toolCallId")) or str(index)
            at = parse_timestamp(item.get("timestamp")) or when
            if at is None:
                raise BadRecord("bad_timestamp", f"tool usage {call} of {message_id}")
            key = f"{SOURCE}:{message_id}:tool:{call}"
            self._add(key, at, item.get("model"), item.get("usage"), item.get("providerMetadata"))

    def _headless(self, record: dict[str, Any]) -> None:
        """One headless call; the line has no id, so its key hashes what it says."""
        when = parse_timestamp(record.get("timestamp"))
        if when is None:
            raise BadRecord("bad_timestamp", repr(record.get("timestamp"))[:60])
        basis = [
            self.workspace.workspace_id,
            record.get("timestamp"),
            record.get("model"),
            record.get("usage"),
        ]
        key = f"{SOURCE}:headless:{digest(basis)}"
        self._add(
            key, when, record.get("model"), record.get("usage"), record.get("providerMetadata")
        )

    def _add(
        self, key: str, when: datetime, model: object, usage: object, provider_metadata: object
    ) -> None:
        if not isinstance(usage, dict):
            raise BadRecord("empty_usage", f"usage is a {type(usage).__name__}, not an object")
        tokens = _sdk_tokens(usage, provider_metadata)
        if tokens.is_empty:
            raise BadRecord("empty_usage", "no token counts")
        provider, name = _split_model(model)
        self.keep(
            UsageEvent(
                key=key,
                source=SOURCE,
                timestamp=when,
                tokens=tokens,
                model=name,
                provider=provider,
                session_key=self.workspace.session_key,
                project=self.workspace.project,
                raw_usage=orjson.dumps(usage),
                rank=self.workspace.rank,
            )
        )

    def sessions(self) -> list[Session]:
        return [self.workspace.session(self.first_seen, self.last_seen)]


def _parse_history(path: str, state: ParseState) -> ParseResult:
    parser = _HistoryParser(path, _workspace_of(path), headless=Path(path).name == HEADLESS)
    return parser.read(state, PREFILTER)


def _sdk_tokens(usage: Mapping[str, Any], provider_metadata: object) -> Tokens:
    """An AI SDK usage object in the ledger's buckets, by mux's own rule (createDisplayUsage):
    cache reads and writes are inside ``inputTokens``, reasoning inside ``outputTokens``."""
    input_details = _object(usage.get("inputTokenDetails"))
    output_details = _object(usage.get("outputTokenDetails"))
    metadata = _object(provider_metadata)
    cached = _first_count(
        ("cachedInputTokens", usage), ("inputTokenDetails.cacheReadTokens", input_details)
    )
    writes = _first_count(
        ("anthropic.cacheCreationInputTokens", _object(metadata.get("anthropic"))),
        ("inputTokenDetails.cacheWriteTokens", input_details),
    )
    prompt = count_or_none(usage.get("inputTokens"), "inputTokens")
    reasoning = _first_count(
        ("reasoningTokens", usage),
        ("outputTokenDetails.reasoningTokens", output_details),
        ("openai.reasoningTokens", _object(metadata.get("openai"))),
    )
    output = count_or_none(usage.get("outputTokens"), "outputTokens")
    uncached = None
    if prompt is not None:
        # mux clamps at zero too: some providers report the prompt without its cached part
        uncached = max(prompt - (cached or 0) - (writes or 0), 0)
    if output is not None and reasoning is not None and reasoning > output:
        output += reasoning  # reported apart from the output, as mux reads it
    return Tokens(
        input=uncached, cache_read=cached, cache_write_5m=writes, output=output, reasoning=reasoning
    )


def _object(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _first_count(*candidates: tuple[str, Mapping[str, Any]]) -> int | None:
    for name, holder in candidates:
        value = count_or_none(holder.get(name.rpartition(".")[2]), name)
        if value is not None:
            return value
    return None


# --- the cumulative snapshot ------------------------------------------------------------------


def _parse_snapshot(path: str, state: ParseState) -> ParseResult:
    """The growth of ``session-usage.json`` since the last read, as one event per model.

    The parser memory (kept in the file's cursor, carried across re-reads of a whole file)
    holds the totals last counted, per model. A read records, per model, the difference to
    them, dated at the file's modification time (the snapshot says how much, not when: the
    time is approximate, the totals exact) and marked as derived from a snapshot in its raw
    usage. Keys are deterministic: workspace, generation, model and the model's total before
    the growth, so reading the same snapshot again from the same memory (a kill before the
    commit, two syncs at once) yields the same keys, and the ledger's merge keeps one.

    * Totals only grow. A bucket that shrank, or a model that vanished, means mux rebuilt the
      file (from history, after corruption): the new totals become the baseline of a new
      generation, nothing is counted, and a ``snapshot_rebuilt`` skip says so.
    * Sub-agent totals rolled into the parent (``rolledUpFrom``) were counted from the
      sub-agent's own workspace: they are taken off the growth of their model. A legacy
      roll-up without totals withholds that read's growth (reported as a skip).
    * A malformed file changes nothing: the memory stays, and the next good read counts from
      the last good totals.
    * While the workspace has a history, the history counts its requests: a read only moves
      the baseline. So when mux deletes the history (clearing it removes ``chat.jsonl``), only
      the growth after that is counted from the snapshot, not the totals the history counted.
    """
    # an unreadable file raises OSError: the sync reports it and keeps no cursor for it
    data, seen_at = snapshots.read_document(path)
    kept = ParseState(len(data), 0, dict(state.memory))
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        return ParseResult(skips=[Skip("malformed_json", path, None, str(exc))], state=kept)
    by_model = document.get("byModel") if isinstance(document, dict) else None
    if not isinstance(by_model, dict):
        skip = Skip("malformed_json", path, None, "no byModel object")
        return ParseResult(skips=[skip], state=kept)
    workspace = _workspace_of(path)
    result = ParseResult(state=kept)
    totals: dict[str, snapshots.Totals] = {}
    previous = snapshots.remembered(state.memory, len(SNAPSHOT_BUCKETS))
    for model, entry in by_model.items():
        try:
            totals[model] = _model_totals(entry, model)
        except BadRecord as bad:
            result.skips.append(Skip(bad.reason, path, None, bad.detail))
            if model in previous:
                totals[model] = previous[model]  # unread: as last counted, until it reads again
    compared = snapshots.step(state.memory, totals, SNAPSHOT_BUCKETS)
    children = _rolled_up(document)
    known_children = set(_strings(state.memory.get(_MEM_CHILDREN)))
    new_children = {
        child: entry for child, entry in children.items() if child not in known_children
    }
    from_history = _has_history(Path(path).parent)
    if compared.rebuilt is not None:
        if not from_history:
            result.skips.append(Skip("snapshot_rebuilt", path, None, compared.rebuilt))
    elif not from_history:
        growth = compared.growth
        withheld = _take_off_rollups(growth, new_children, path, result.skips)
        if not withheld:
            for model, (tokens, cost) in sorted(growth.items()):
                result.events.append(
                    _snapshot_event(
                        workspace,
                        compared.generation,
                        model,
                        compared.start(model),
                        tokens,
                        cost,
                        seen_at,
                        path,
                    )
                )
    # what was counted (or deliberately not) becomes the baseline; a model that failed to read
    # kept its old totals above, so its growth is counted once it reads again
    result.state.memory = {
        **snapshots.remember(compared.generation, totals),
        _MEM_CHILDREN: sorted(known_children | set(children)),
    }
    if not from_history:
        result.sessions.append(workspace.session(None, seen_at))
    return result


def _has_history(workspace: Path) -> bool:
    return any((workspace / name).is_file() for name in (CHAT, ARCHIVE))


def _model_totals(entry: object, model: str) -> snapshots.Totals:
    if not isinstance(entry, dict):
        raise BadRecord("malformed_usage", f"byModel[{model!r}] is not an object")
    counts: list[int] = []
    cost: float | None = 0.0
    for bucket in SNAPSHOT_BUCKETS:
        item = entry.get(bucket)
        if not isinstance(item, dict):
            raise BadRecord("malformed_usage", f"byModel[{model!r}].{bucket} is missing")
        count = count_or_none(item.get("tokens"), f"byModel[{model!r}].{bucket}.tokens")
        if count is None:
            raise BadRecord("malformed_usage", f"byModel[{model!r}].{bucket}.tokens is missing")
        counts.append(count)
        bucket_cost = reported_cost(item.get("cost_usd"))
        cost = None if cost is None or bucket_cost is None else cost + bucket_cost
    return snapshots.Totals(tuple(counts), None if cost is None else round(cost, 9))


def _strings(value: object) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


_ROLLUP_FIELDS = (
    "inputTokens",
    "cachedTokens",
    "cacheCreateTokens",
    "outputTokens",
    "reasoningTokens",
)


def _rolled_up(document: Mapping[str, Any]) -> dict[str, object]:
    value = document.get("rolledUpFrom")
    return {k: v for k, v in value.items() if isinstance(k, str)} if isinstance(value, dict) else {}


def _take_off_rollups(
    growth: snapshots.Growth, children: Mapping[str, object], path: str, skips: list[Skip]
) -> bool:
    """Subtract newly rolled-up sub-agents from the growth; True when that cannot be done
    and the read's growth is withheld instead."""
    for child, entry in sorted(children.items()):
        if isinstance(entry, dict) and _rollup_is_empty(entry):
            continue
        model = text_or_none(entry.get("model")) if isinstance(entry, dict) else None
        if not isinstance(entry, dict) or model not in growth:
            skips.append(Skip("rolled_up_subagent", path, None, f"{child}: totals not by model"))
            return True
        delta, cost = growth[model]
        for index, name in enumerate(_ROLLUP_FIELDS):
            try:
                part = count_or_none(entry.get(name), f"rolledUpFrom[{child!r}].{name}") or 0
            except BadRecord as bad:
                skips.append(Skip(bad.reason, path, None, bad.detail))
                return True
            delta[index] = max(delta[index] - part, 0)
        child_cost = reported_cost(entry.get("totalCostUsd"))
        if cost is not None:
            cost = None if child_cost is None else max(round(cost - child_cost, 9), 0.0)
        growth[model] = (delta, cost)
    for model in [m for m, (delta, _) in growth.items() if not any(delta)]:
        del growth[model]
    return False


def _rollup_is_empty(entry: Mapping[str, Any]) -> bool:
    total = entry.get("totalTokens")
    return isinstance(total, int) and not isinstance(total, bool) and total == 0


def _snapshot_event(
    workspace: _Workspace,
    generation: int,
    model: str,
    start: int,
    delta: Sequence[int],
    cost: float | None,
    seen_at: datetime,
    path: str,
) -> UsageEvent:
    provider, name = _split_model(model)
    return UsageEvent(
        key=f"{SOURCE}:snapshot:{workspace.workspace_id}:{generation}:{model}:{start}",
        source=SOURCE,
        timestamp=seen_at,
        tokens=snapshots.growth_tokens(delta),
        model=name if model != "historical" else None,
        provider=provider,
        session_key=workspace.session_key,
        project=workspace.project,
        reported_cost_usd=cost,
        raw_usage=orjson.dumps(
            {
                "derived_from": Path(path).name,
                "time": "approximate: when the snapshot was written",
                "model_total_before": start,
                "growth": dict(zip(SNAPSHOT_BUCKETS, delta, strict=True)),
            }
        ),
        rank=workspace.rank,
    )
