"""Gemini's one counting rule: how the API's ``usageMetadata`` counts map onto the ledger's
buckets. The Gemini reader, the Qwen Code reader (which records ``usageMetadata`` as is) and
Gemini's OpenTelemetry mapping all use it; each only says where the counts sit.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from tokentrail.errors import BadRecord
from tokentrail.sources.values import count_or_none
from tokentrail.usage import Tokens

Count = Callable[[str], int | None]
"""Reads one count by name: ``None`` when absent, :class:`BadRecord` when not a count."""


@dataclass(frozen=True, slots=True)
class UsageFields:
    """Where the counts of Gemini's ``usageMetadata`` sit in one agent's record."""

    prompt: str
    cached: str
    candidates: str
    thoughts: str
    tool: str
    total: str


CLI_TOKENS = UsageFields("input", "cached", "output", "thoughts", "tool", "total")
"""gemini-cli's ``tokens`` object (its own names for the API's counts)."""

USAGE_METADATA = UsageFields(
    "promptTokenCount",
    "cachedContentTokenCount",
    "candidatesTokenCount",
    "thoughtsTokenCount",
    "toolUsePromptTokenCount",
    "totalTokenCount",
)
"""The API's ``usageMetadata`` as received (Qwen Code records it as is)."""


OTLP_FIELDS = UsageFields(
    "input_token_count",
    "cached_content_token_count",
    "output_token_count",
    "thoughts_token_count",
    "tool_token_count",
    "total_token_count",
)
"""The attributes of a ``gemini_cli.api_response`` OpenTelemetry event."""


def usage_tokens(raw: Mapping[str, Any], names: UsageFields = CLI_TOKENS) -> Tokens:
    """The tokens of a record's usage object, counts read with
    :func:`~tokentrail.sources.values.count_or_none`."""
    return tokens_from(lambda name: count_or_none(raw.get(name), name), names)


def tokens_from(count: Count, names: UsageFields, *, use_total: bool = True) -> Tokens:
    """Map Gemini-shaped counts onto the ledger's buckets (input uncached, output incl.
    thoughts); the one place for this rule, whichever agent or channel recorded the counts.

    The prompt count includes the cached tokens: uncached = prompt − cached (+ the built-in
    tools' prompt tokens, reported apart). Gemini reports thoughts apart from candidates and
    bills them as output; OpenAI-style backends (Qwen Code's) put reasoning inside the
    completion count, which the total then shows (total = prompt + candidates): never bill
    a thought twice. ``use_total=False`` ignores the total (the OpenTelemetry mapping, which
    has always taken Gemini's own counts as they are).
    """
    prompt = count(names.prompt)
    cached = count(names.cached)
    candidates = count(names.candidates)
    thoughts = count(names.thoughts)
    tool = count(names.tool)
    total = count(names.total) if use_total else None
    if cached is not None and cached > (prompt or 0):
        raise BadRecord("invalid_count", f"{names.cached}={cached} > {names.prompt}={prompt}")
    if tool and total == (prompt or 0) + (candidates or 0) + (thoughts or 0):
        tool = None  # the record's own total says its input holds them already
    uncached = None
    if prompt is not None or tool is not None:
        uncached = (prompt or 0) - (cached or 0) + (tool or 0)
    output = None
    if candidates is not None or thoughts is not None:
        output = (candidates or 0) + (thoughts or 0)
        if thoughts and total == (prompt or 0) + (tool or 0) + (candidates or 0):
            output = candidates or 0  # the thoughts are inside the candidates already
    return Tokens(input=uncached, cache_read=cached, output=output, reasoning=thoughts)
