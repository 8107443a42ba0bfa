"""What an OpenCode message counts: its usage events (one per billed step) and its session row,
the same whether read from the database or the legacy JSON tree
(:mod:`tokentrail.agents.opencode.reader`).

Facts this mapping relies on (opencode ``packages/opencode/src``):

* An assistant message has ``modelID``, ``providerID``, ``time.created`` (epoch ms), ``cost``
  (USD, summed over its steps) and ``tokens {total?, input, output, reasoning, cache {read,
  write}}`` (``session/message-v2.ts``), computed by ``Session.getUsage``: ``input`` is the
  prompt minus cache reads and writes (UNCACHED input); ``cache.write`` is the prompt-cache
  write (opencode marks cache breakpoints ``ephemeral``, the 5-minute TTL).
* ``tokens`` holds the LAST step's usage (the processor assigns it at every ``finish-step``
  while it adds up ``cost``); every step also writes a ``step-finish`` part with its own
  ``tokens`` and ``cost``. Versions that ran many tool steps in one assistant message would be
  undercounted by the message alone, so each step-finish part is one request here.
* Whether ``output`` includes ``reasoning`` changed over time: opencode PR #21047 stores
  ``output = outputTokens - reasoningTokens`` (reasoning billed on top); older versions stored
  the SDK's ``outputTokens``, which includes reasoning for OpenAI-style APIs but not for
  Google's (``candidatesTokenCount`` excludes thoughts). See :func:`_reasoning_outside_output`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from tokentrail.errors import BadRecord
from tokentrail.sources.values import count_or_none, parse_timestamp, reported_cost, text_or_none
from tokentrail.usage import Session, Skip, Tokens, UsageEvent

GOOGLE_PROVIDERS: tuple[str, ...] = ("google", "google-vertex")


@dataclass(frozen=True, slots=True)
class _Step:
    """One billed request: a ``step-finish`` part, or the message itself."""

    key: str
    tokens: Mapping[str, Any]
    cost: object


@dataclass(slots=True)
class Found:
    events: list[UsageEvent] = field(default_factory=list)
    skips: list[Skip] = field(default_factory=list)


def message_usage(
    message_id: str,
    session_id: str | None,
    info: Mapping[str, Any],
    steps: Sequence[tuple[str, Mapping[str, Any]]],
    where: tuple[str, int | None],
    source: str,
) -> Found:
    """The usage events of one message (none unless it is an assistant reply with tokens).

    ``steps`` are the message's ``step-finish`` parts as ``(part id, data)``, in id order.
    With two or more, each is its own request; the last one keeps the message's key (its
    tokens are the message's tokens), so a copy of the message read without its parts
    merges with it instead of adding to it.
    """
    found = Found()
    if info.get("role") != "assistant" or not isinstance(info.get("tokens"), dict):
        return found
    path, line = where
    try:
        timestamp = parse_timestamp(nested(info, "time", "created"))
        if timestamp is None:
            raise BadRecord("invalid_timestamp", repr(nested(info, "time", "created")))
    except BadRecord as bad:
        found.skips.append(Skip(bad.reason, path, line, f"message {message_id}: {bad.detail}"))
        return found
    for step in _billed_steps(message_id, info, steps, source):
        try:
            tokens = _tokens(step.tokens, text_or_none(info.get("providerID")))
        except BadRecord as bad:
            found.skips.append(Skip(bad.reason, path, line, f"{step.key}: {bad.detail}"))
            continue
        if tokens.total == 0 and not tokens.reasoning:
            continue  # written when the reply started; usage arrives in a later update
        found.events.append(
            UsageEvent(
                key=step.key,
                source=source,
                timestamp=timestamp,
                tokens=tokens,
                model=text_or_none(info.get("modelID")),
                provider=text_or_none(info.get("providerID")),
                session_key=f"{source}:{session_id}" if session_id else None,
                project=text_or_none(nested(info, "path", "cwd")),
                reported_cost_usd=reported_cost(step.cost),
                raw_usage=orjson.dumps(dict(step.tokens)),
                rank=f"0|{timestamp.isoformat()}|",
            )
        )
    return found


def _billed_steps(
    message_id: str,
    info: Mapping[str, Any],
    steps: Sequence[tuple[str, Mapping[str, Any]]],
    source: str,
) -> list[_Step]:
    message_key = f"{source}:{message_id}"
    usable = [(part_id, part) for part_id, part in steps if isinstance(part.get("tokens"), dict)]
    if len(usable) < 2:
        tokens = info["tokens"]
        return [_Step(message_key, tokens, info.get("cost"))]
    last = len(usable) - 1
    return [
        _Step(
            message_key if index == last else f"{message_key}:{part_id}",
            part["tokens"],
            part.get("cost"),
        )
        for index, (part_id, part) in enumerate(usable)
    ]


def _tokens(raw: Mapping[str, Any], provider: str | None) -> Tokens:
    """Map OpenCode's counts onto the ledger's buckets (input uncached, output incl. reasoning)."""
    uncached = count_or_none(raw.get("input"), "input")
    output = count_or_none(raw.get("output"), "output")
    reasoning = count_or_none(raw.get("reasoning"), "reasoning")
    cache = raw.get("cache")
    cache = cache if isinstance(cache, dict) else {}
    cache_read = count_or_none(cache.get("read"), "cache.read")
    cache_write = count_or_none(cache.get("write"), "cache.write")
    if reasoning and _reasoning_outside_output(
        raw, uncached, output, reasoning, cache_read, cache_write, provider
    ):
        output = (output or 0) + reasoning
    return Tokens(
        input=uncached,
        cache_read=cache_read,
        cache_write_5m=cache_write,
        output=output,
        reasoning=reasoning,
    )


def _reasoning_outside_output(
    raw: Mapping[str, Any],
    uncached: int | None,
    output: int | None,
    reasoning: int,
    cache_read: int | None,
    cache_write: int | None,
    provider: str | None,
) -> bool:
    """Whether ``output`` excludes ``reasoning`` (so reasoning must be added to it).

    1. ``total`` (the SDK's total, when stored) says so exactly: it equals prompt + output +
       reasoning when reasoning is apart, prompt + output when it is inside.
    2. Reasoning larger than output cannot be inside it.
    3. Google's API reports thoughts apart from candidates, and the AI SDK's Google provider
       passed candidates on as output.
    4. Otherwise (OpenAI-style completion tokens) it is inside: never bill a token twice.
    """
    prompt = (uncached or 0) + (cache_read or 0) + (cache_write or 0)
    total = raw.get("total")
    if isinstance(total, int) and not isinstance(total, bool):
        if total == prompt + (output or 0) + reasoning:
            return True
        if total == prompt + (output or 0):
            return False
    if reasoning > (output or 0):
        return True
    return provider in GOOGLE_PROVIDERS


def nested(mapping: Mapping[str, Any], *keys: str) -> object:
    value: object = mapping
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def session_row(
    session_id: str,
    parent_id: object,
    directory: object,
    title: object,
    created: object,
    updated: object,
    source: str,
) -> Session:
    parent = text_or_none(parent_id)
    return Session(
        key=f"{source}:{session_id}",
        source=source,
        parent_key=f"{source}:{parent}" if parent else None,
        relationship="subagent" if parent else None,
        project=text_or_none(directory),
        title=text_or_none(title),
        started_at=parse_timestamp(created),
        ended_at=parse_timestamp(updated),
    )
