"""Reading one ``message.usage`` object of a Claude Code transcript, and the replies a chunk
of a transcript holds, merged as :func:`tokentrail.usage.merge_events` merges them."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from tokentrail.agents.claude_code import AGENT
from tokentrail.agents.claude_code.records import Message, Record
from tokentrail.errors import BadRecord
from tokentrail.sources.values import count_or_none, text_or_none
from tokentrail.usage import Tokens, UsageEvent

SOURCE_NAME = AGENT.name
ADVISOR_ITERATION = "advisor_message"
"""The ``usage.iterations[]`` entry type of an advisor call: its own billed request."""
_NO_SPEED_SURCHARGE = frozenset({"standard", "normal"})


def is_assistant(record: Record, message: Message) -> bool:
    """True for an assistant line's message, false for every other line's."""
    kind = record.type
    return kind == "assistant" or (kind is None and message.role == "assistant")


def tokens_of(usage: dict[str, Any]) -> Tokens:
    """The buckets of a ``message.usage`` object (or of one ``usage.iterations[]`` entry,
    which has the same shape). Only advisor entries of ``usage.iterations[]`` are read, as
    requests of their own (``advisor_replies``): the others repeat the top level."""
    output = count_or_none(usage.get("output_tokens"), "output_tokens")
    write_5m, write_1h = _cache_writes(usage)
    return Tokens(
        input=count_or_none(usage.get("input_tokens"), "input_tokens"),
        cache_read=count_or_none(usage.get("cache_read_input_tokens"), "cache_read_input_tokens"),
        cache_write_5m=write_5m,
        cache_write_1h=write_1h,
        output=output,
        reasoning=_reasoning(usage, output),
    )


def _cache_writes(usage: dict[str, Any]) -> tuple[int | None, int | None]:
    """(5-minute, 1-hour) cache writes: the ``cache_creation`` split when it reports either
    part, else the whole ``cache_creation_input_tokens`` as 5-minute writes (the only TTL
    before the split existed) with the 1-hour part unknown."""
    split = usage.get("cache_creation")
    if isinstance(split, dict):
        write_5m = count_or_none(
            split.get("ephemeral_5m_input_tokens"), "cache_creation.ephemeral_5m_input_tokens"
        )
        write_1h = count_or_none(
            split.get("ephemeral_1h_input_tokens"), "cache_creation.ephemeral_1h_input_tokens"
        )
        if write_5m is not None or write_1h is not None:
            return write_5m, write_1h
    total = count_or_none(usage.get("cache_creation_input_tokens"), "cache_creation_input_tokens")
    return total, None


def _reasoning(usage: dict[str, Any], output: int | None) -> int | None:
    """Thinking tokens, when the API reported them (``output_tokens_details.thinking_tokens``,
    a part of ``output_tokens``). Unreported or implausible (not an int, above the output)
    means unknown: a display-only bucket never costs a billed request its place."""
    details = usage.get("output_tokens_details")
    if not isinstance(details, dict):
        return None
    try:
        thinking = count_or_none(details.get("thinking_tokens"), "thinking_tokens")
    except BadRecord:
        return None
    if thinking is None or output is None or thinking > output:
        return None
    return thinking


def web_searches(usage: dict[str, Any]) -> int | None:
    """``server_tool_use.web_search_requests``: searches billed per search. Claude Code has
    been seen writing 0 where searches happened; what it reports is what is counted."""
    tools = usage.get("server_tool_use")
    if not isinstance(tools, dict):
        return None
    return count_or_none(tools.get("web_search_requests"), "server_tool_use.web_search_requests")


def pricing_context(usage: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """Usage flags that change the price: fast mode and non-standard service tiers."""
    context: list[tuple[str, str]] = []
    tier = text_or_none(usage.get("service_tier"))
    if tier is not None and tier != "standard":
        context.append(("service_tier", tier))
    speed = text_or_none(usage.get("speed"))
    if speed is not None and speed not in _NO_SPEED_SURCHARGE:
        context.append(("speed", speed))
    return tuple(context)


def event_key(record: Record, message: Message, usage: dict[str, Any], timestamp: datetime) -> str:
    message_id = text_or_none(message.id)
    if message_id is not None:
        return f"{SOURCE_NAME}:{message_id}"
    request_id = text_or_none(record.requestId)
    if request_id is not None:
        return f"{SOURCE_NAME}:req:{request_id}"
    basis = orjson.dumps(
        [text_or_none(record.sessionId), iso(timestamp), usage], option=orjson.OPT_SORT_KEYS
    )
    return f"{SOURCE_NAME}:hash:{hashlib.sha256(basis).hexdigest()[:32]}"


def aliases_of(record: Record, message: Message) -> tuple[str, ...]:
    """The key Claude Code's OpenTelemetry ``api_request`` event gives this request
    (``claude_code:req:<request_id>``, the line's ``requestId``), when the line's own key is
    its message id; see :mod:`tokentrail.correlate`."""
    request_id = text_or_none(record.requestId)
    if request_id is None or text_or_none(message.id) is None:
        return ()
    return (f"{SOURCE_NAME}:req:{request_id}",)


def iso(when: datetime) -> str:
    # Fixed width, so ranks built from it sort in time order.
    return when.isoformat(timespec="microseconds")


@dataclass(slots=True)
class Reply:
    """One request as read so far in a chunk of a transcript, as plain values.

    A reply is written several times while it streams (and again by resumed sessions), so a
    chunk holds about two usage lines per request. Each line is folded into its request's
    :class:`Reply` by :meth:`absorb`, with exactly the rule of
    :func:`tokentrail.usage.merge_events`; the :class:`UsageEvent` is built once per request
    when the chunk ends (:meth:`to_event`), not once per line and again per merge."""

    key: str
    tokens: Tokens
    raw_usage: bytes
    model: str | None
    provider: str | None
    reported_cost_usd: float | None
    pricing_context: tuple[tuple[str, str], ...]
    web_searches: int | None
    timestamp: datetime
    rank: str
    session_key: str
    project: str | None
    git_branch: str | None
    aliases: tuple[str, ...]

    def absorb(self, later: Reply) -> None:
        """Become ``merge_events(self, later)``: the largest snapshot's tokens (ties: self),
        the earliest timestamp, the attribution of the lowest rank (ties: self)."""
        bigger_later = (later.tokens.snapshot_size(), later.raw_usage) > (
            self.tokens.snapshot_size(),
            self.raw_usage,
        )
        if bigger_later:
            searches = later.web_searches if later.web_searches is not None else self.web_searches
            self.tokens, self.raw_usage = later.tokens, later.raw_usage
            self.model, self.provider = later.model, later.provider
            self.reported_cost_usd = later.reported_cost_usd
            self.pricing_context = later.pricing_context
        else:
            searches = self.web_searches if self.web_searches is not None else later.web_searches
        self.web_searches = searches
        if later.timestamp < self.timestamp:
            self.timestamp = later.timestamp
        if self.aliases != later.aliases:
            self.aliases = tuple(sorted({*self.aliases, *later.aliases}))
        if (later.rank, later.session_key) < (self.rank, self.session_key):
            self.rank, self.session_key = later.rank, later.session_key
            self.project, self.git_branch = later.project, later.git_branch

    def to_event(self, rank_suffix: str) -> UsageEvent:
        """The request as the ledger takes it, its rank ended with ``rank_suffix``."""
        return UsageEvent(
            key=self.key,
            source=SOURCE_NAME,
            timestamp=self.timestamp,
            tokens=self.tokens,
            model=self.model,
            provider=self.provider,
            session_key=self.session_key,
            project=self.project,
            git_branch=self.git_branch,
            reported_cost_usd=self.reported_cost_usd,
            pricing_context=self.pricing_context,
            raw_usage=self.raw_usage,
            rank=self.rank + rank_suffix,
            aliases=self.aliases,
            web_searches=self.web_searches,
        )


def provider_of(model: str | None) -> str | None:
    return "anthropic" if model is not None and model.startswith("claude") else None


def advisor_entries(usage: dict[str, Any]) -> Iterator[tuple[int, dict[str, Any]]]:
    """``usage.iterations[]`` entries of type ``advisor_message``, with their index.

    An advisor call is a separate billed request under its own model (e.g. Opus advising a
    Sonnet session) and is not in the top-level counters, so each is recorded as its own
    request, in the same session, keyed by the reply's key and the entry's index: a streamed
    partial line and a resumed copy name the same entries, and merge like the reply does.
    ``message`` entries repeat the top-level counters and a ``fallback_message`` entry is an
    attempt the top level already holds (or an unbilled failure): neither is counted."""
    iterations = usage.get("iterations")
    if not isinstance(iterations, list):
        return
    for index, entry in enumerate(iterations):
        if isinstance(entry, dict) and entry.get("type") == ADVISOR_ITERATION:
            yield index, entry


def advisor_reply(reply: Reply, index: int, entry: dict[str, Any], tokens: Tokens) -> Reply:
    """The advisor call of ``usage.iterations[index]`` of the line read as ``reply``: its own
    tokens, model and price, the line's time and attribution."""
    model = text_or_none(entry.get("model"))
    return Reply(
        key=f"{reply.key}:iteration:{index}",
        tokens=tokens,
        raw_usage=orjson.dumps(entry),
        model=model,
        provider=provider_of(model),
        reported_cost_usd=None,
        pricing_context=pricing_context(entry),
        web_searches=web_searches(entry),
        timestamp=reply.timestamp,
        rank=reply.rank,
        session_key=reply.session_key,
        project=reply.project,
        git_branch=reply.git_branch,
        aliases=(),
    )
