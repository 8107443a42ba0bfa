"""Token buckets from a provider's own response, so callers cannot double count cached input.

Each helper takes the response object of the provider's Python SDK, its ``usage`` object, or
the same as a plain dict (parsed JSON), and returns :class:`~tokentrail.usage.Tokens` in the
ledger's convention: ``input`` is uncached input, ``output`` includes reasoning.

* Anthropic: ``input_tokens`` already excludes cache reads and writes.
* OpenAI Chat Completions / Responses and Codex: cached input is INSIDE the input count,
  reasoning INSIDE the output count.
* Gemini: ``prompt_token_count`` includes cached tokens; thoughts are billed as output but
  reported apart from ``candidates_token_count``.
"""

from __future__ import annotations

from typing import Any

from tokentrail.ingest import InvalidUsage
from tokentrail.usage import Tokens

__all__ = ["anthropic_usage", "gemini_usage", "openai_usage"]


def anthropic_usage(response: Any) -> Tokens:
    """From an Anthropic Messages response (or its ``usage``)."""
    usage = _usage_of(response, "usage")
    write_5m = write_1h = None
    split = _get(usage, "cache_creation")
    if split is not None:
        write_5m = _count(split, "ephemeral_5m_input_tokens")
        write_1h = _count(split, "ephemeral_1h_input_tokens")
    if write_5m is None and write_1h is None:
        write_5m = _count(usage, "cache_creation_input_tokens")
    return Tokens(
        input=_count(usage, "input_tokens"),
        cache_read=_count(usage, "cache_read_input_tokens"),
        cache_write_5m=write_5m,
        cache_write_1h=write_1h,
        output=_count(usage, "output_tokens"),
    )


def openai_usage(response: Any) -> Tokens:
    """From an OpenAI Chat Completions or Responses result (or its ``usage``), or a Codex
    ``token_count`` usage object."""
    usage = _usage_of(response, "usage")
    if _get(usage, "prompt_tokens") is not None:  # Chat Completions
        prompt = _count(usage, "prompt_tokens")
        cached = _count(_get(usage, "prompt_tokens_details"), "cached_tokens")
        output = _count(usage, "completion_tokens")
        reasoning = _count(_get(usage, "completion_tokens_details"), "reasoning_tokens")
    else:  # Responses API, Codex
        prompt = _count(usage, "input_tokens")
        cached = _count(_get(usage, "input_tokens_details"), "cached_tokens")
        if cached is None:
            cached = _count(usage, "cached_input_tokens")
        output = _count(usage, "output_tokens")
        reasoning = _count(_get(usage, "output_tokens_details"), "reasoning_tokens")
        if reasoning is None:
            reasoning = _count(usage, "reasoning_output_tokens")
    return Tokens(
        input=_minus(prompt, cached, "cached input", "input"),
        cache_read=cached,
        output=output,
        reasoning=reasoning,
    )


def gemini_usage(response: Any) -> Tokens:
    """From a Gemini ``generate_content`` response (or its ``usage_metadata``)."""
    usage = _usage_of(response, "usage_metadata", "usageMetadata")
    prompt = _count(usage, "prompt_token_count", "promptTokenCount")
    cached = _count(usage, "cached_content_token_count", "cachedContentTokenCount")
    tool = _count(usage, "tool_use_prompt_token_count", "toolUsePromptTokenCount")
    candidates = _count(usage, "candidates_token_count", "candidatesTokenCount")
    thoughts = _count(usage, "thoughts_token_count", "thoughtsTokenCount")
    uncached = _minus(prompt, cached, "cached content", "prompt")
    if tool is not None:
        uncached = (uncached or 0) + tool
    output = (
        None if candidates is None and thoughts is None else (candidates or 0) + (thoughts or 0)
    )
    return Tokens(input=uncached, cache_read=cached, output=output, reasoning=thoughts)


def _usage_of(response: Any, *names: str) -> Any:
    for name in names:
        inner = _get(response, name)
        if inner is not None:
            return inner
    return response


def _get(obj: Any, name: str) -> Any:
    if obj is None:
        return None
    if isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None)


def _count(obj: Any, *names: str) -> int | None:
    for name in names:
        value = _get(obj, name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise InvalidUsage(name, f"must be a non-negative whole number, got {value!r}")
        return value
    return None


def _minus(total: int | None, part: int | None, part_name: str, total_name: str) -> int | None:
    if total is None:
        return None
    if part is not None and part > total:
        raise InvalidUsage(total_name, f"{part_name} ({part}) is more than {total_name} ({total})")
    return total - (part or 0)
